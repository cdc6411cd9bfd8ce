"""Sorting a model's misses (kgqa.misses): reachability against a breadth-first oracle, the miss
count against evaluate()'s Hits@1, and each kind on questions made to have it."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace

import pytest

from kgqa.inputs import example_indices
from kgqa.kg import KnowledgeGraph
from kgqa.misses import KINDS, classify_misses, reachable_within
from kgqa.traverse import walk_path


def bfs_within(kg: KnowledgeGraph, starts: list[int], hops: int) -> set[int]:
    """Entities at the end of a walk of 1..hops facts: walks may revisit, so track (entity, steps)."""
    out: dict[int, list[int]] = {}
    for s, _, o in kg.triples.tolist():
        out.setdefault(s, []).append(o)
    seen, found = set(), set()
    queue = deque((s, 0) for s in starts)
    while queue:
        e, d = queue.popleft()
        if d == hops or (e, d) in seen:
            continue
        seen.add((e, d))
        for o in out.get(e, []):
            found.add(o)
            queue.append((o, d + 1))
    return found


def test_reachable_counted_by_hand(tiny: KnowledgeGraph) -> None:
    ml = tiny.entity_index("mona_lisa")
    names = lambda row: {tiny.entities[i] for i in row.nonzero().flatten().tolist()}  # noqa: E731
    one, two = reachable_within(tiny, [[ml]], 1)[0], reachable_within(tiny, [[ml]], 2)[0]
    assert names(one) == {"louvre"}
    assert names(two) == {"louvre", "paris", "mona_lisa"}  # back along exhibited_at's inverse
    assert not reachable_within(tiny, [[]], 3).any()  # no start, nothing reached


@pytest.mark.parametrize("seed", range(5))
def test_reachable_matches_breadth_first_search(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(3, 25)
    facts = {(f"e{rng.randrange(n)}", f"r{rng.randrange(3)}", f"e{rng.randrange(n)}") for _ in range(rng.randint(1, 40))}
    kg = KnowledgeGraph.from_triples(sorted(facts), add_inverses=seed % 2 == 0)
    starts = [rng.sample(range(kg.num_entities), rng.randint(1, 2)) for _ in range(6)]
    for hops in (1, 2, 3):
        got = reachable_within(kg, starts, hops)
        for b, s in enumerate(starts):
            assert set(got[b].nonzero().flatten().tolist()) == bfs_within(kg, s, hops)


def test_miss_count_is_evaluates_hits_at_1(trained_toy, toy_data) -> None:
    system = trained_toy[0].system
    result = classify_misses(system, toy_data.test, per_kind=2)
    assert result["hits@1"] == pytest.approx(system.evaluate(toy_data.test)["hits@1"], abs=1e-9)
    assert sum(result["kinds"].values()) == result["misses"] > 0
    assert set(result["kinds"]) == set(KINDS) == set(result["examples"])
    assert sum(result["shares"].values()) == pytest.approx(100 * result["misses"] / len(toy_data.test))
    for kind, shown in result["examples"].items():
        assert len(shown) == min(2, result["kinds"][kind])
        assert all(m["kind"] == kind and m["question"] for m in shown)


def test_each_kind_on_questions_made_to_have_it(trained_toy, toy_data) -> None:
    system = trained_toy[0].system
    kg, hops = system.kg, system.model.config.hops
    ex = next(e for e in toy_data.test if len(e.topics) == 1)
    ((topic,),), _ = example_indices(kg, [ex])
    far = (~reachable_within(kg, [[topic]], hops)[0]).nonzero().flatten().tolist()
    assert far, "the toy world has entities beyond the model's hops"
    unreachable = replace(ex, answers=(kg.entities[far[0]],), hops=0)
    assert classify_misses(system, [unreachable])["kinds"]["unreachable"] == 1
    # a reachable answer the model does not rank first: a wrong relation, or a wrong hop count
    out, _ = system.forward([ex], None, [[topic]])
    scores = out.scores[0].detach()
    near = reachable_within(kg, [[topic]], hops)[0] & (scores < 0.99 * scores.max())  # not even a near-tie
    wrong = replace(ex, answers=(kg.entities[int(near.nonzero()[0])],), hops=0)
    assert classify_misses(system, [wrong])["kinds"]["relation"] == 1
    read = int(out.hop_attention[0].argmax()) + 1
    assert classify_misses(system, [replace(wrong, hops=read % hops + 1)])["kinds"]["hops"] == 1
    assert classify_misses(system, [replace(wrong, hops=read)])["kinds"]["relation"] == 1
    # another entity at the end of the model's likeliest path: a tie the graph cannot break
    for e in (e for e in toy_data.test if len(e.topics) == 1):
        ((t,),), _ = example_indices(kg, [e])
        o, _ = system.forward([e], None, [[t]])
        steps = int(o.hop_attention[0].argmax()) + 1
        ends = walk_path(kg, [t], o.relations[0].argmax(dim=1)[:steps].tolist())
        top = int(o.scores[0].topk(10).indices[0])
        if top in ends and len(ends) > 1:
            tied = replace(e, answers=(kg.entities[min(ends - {top})],), hops=0)
            assert classify_misses(system, [tied])["kinds"]["tie"] == 1
            break
    else:
        pytest.fail("no test question whose likeliest path reaches its answer and another entity")
