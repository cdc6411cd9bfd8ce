"""Symbolic traversal against hand counts and a brute-force oracle over string triples."""

from __future__ import annotations

import random

import pytest

from kgqa.errors import KGFormatError, UnknownRelationError
from kgqa.kg import KnowledgeGraph
from kgqa.traverse import Program, walk_path, follow_set, intersect_sets, path_ceiling, trace_path


def brute_follow(triples, start: set[str], path) -> set[str]:
    cur = set(start)
    for rel in path:
        cur = {o for s, r, o in triples if r == rel and s in cur}
    return cur


def test_hand_counted(tiny):
    ids = lambda s: {tiny.entities[i] for i in s}  # noqa: E731
    assert ids(follow_set(tiny, ["mona_lisa", "starry_night"], "exhibited_at")) == {"louvre", "moma"}
    assert ids(walk_path(tiny, ["mona_lisa"], ["exhibited_at", "located_in", "capital_of"])) == {"france"}
    assert ids(walk_path(tiny, ["paris", "new_york"], ["located_in^-1", "exhibited_at^-1"])) == {"mona_lisa", "starry_night"}
    assert walk_path(tiny, ["france"], ["capital_of"]) == set()
    assert walk_path(tiny, ["paris"], []) == {tiny.entity_index("paris")}


def test_intersect_sets():
    assert intersect_sets([{1, 2, 3}, {2, 3}, {3, 4}]) == {3}
    assert intersect_sets([]) == set()
    assert intersect_sets([{1}]) == {1}


@pytest.mark.parametrize("seed", range(5))
def test_random_graphs_match_brute_force(seed):
    rng = random.Random(seed)
    ents = [f"e{i}" for i in range(rng.randint(2, 12))]
    rels = [f"r{i}" for i in range(rng.randint(1, 4))]
    facts = {(rng.choice(ents), rng.choice(rels), rng.choice(ents)) for _ in range(rng.randint(1, 40))}
    kg = KnowledgeGraph.from_triples(sorted(facts), entities=ents, add_inverses=True)
    triples = kg.string_triples()
    for _ in range(20):
        start = set(rng.sample(ents, rng.randint(1, len(ents))))
        path = [rng.choice(kg.relations) for _ in range(rng.randint(1, 3))]
        got = {kg.entities[i] for i in walk_path(kg, start, path)}
        assert got == brute_follow(triples, start, path)


def test_trace_path_prunes_dead_ends(toy):
    answers = walk_path(toy, ["mona_lisa"], ["exhibited_at", "located_in"])
    hops = trace_path(toy, "mona_lisa", ["exhibited_at", "located_in"], keep=answers)
    assert [h.relation for h in hops] == ["exhibited_at", "located_in"]
    assert hops[-1].targets == answers
    assert hops[0].edges == ((toy.entity_index("mona_lisa"), toy.entity_index("louvre_museum")),)


def test_program_text_form_and_errors(toy):
    prog = Program.parse(["natalie_portman", "star_wars_episode_ii"], "played;appears_in^-1")
    assert str(prog) == "played;appears_in^-1" and prog.hops == 1
    assert prog.answer_ids(toy) == ["padme_amidala"]
    assert "∩" in prog.describe()
    with pytest.raises(KGFormatError, match="one non-empty path per topic"):
        Program.parse(["natalie_portman"], "played;appears_in^-1", where="q.tsv:3")
    with pytest.raises(UnknownRelationError, match="did you mean 'played'"):
        Program.parse(["natalie_portman"], "playd").execute(toy)



def test_path_ceiling_hand_counted(tiny):
    """Reachable vs the set oracle's expected Hits@1, counted by hand."""
    from kgqa.datasets import QAExample

    def ex(topic, path, answers):
        return QAExample(f"q {topic}", (topic,), ((0, 1),), tuple(answers), paths=(tuple(path),))

    exs = [ex("louvre", ["exhibited_at^-1"], ["mona_lisa"]),  # reaches {mona_lisa}: a hit
           ex("paris", ["located_in^-1", "located_in"], ["paris"]),  # reaches {paris}, the topic
           ex("mona_lisa", ["exhibited_at"], ["moma"])]  # reaches {louvre}: a miss
    assert path_ceiling(tiny, exs, exclude_topics=False) == {"reachable": 200 / 3, "set_oracle": 200 / 3}
    assert path_ceiling(tiny, exs, exclude_topics=True) == {"reachable": 100 / 3, "set_oracle": 100 / 3}
    # two films called Hamlet share one entity: "who directed Hamlet" reaches both directors
    films = KnowledgeGraph.from_triples([("hamlet", "directed_by", "olivier"), ("hamlet", "directed_by", "branagh"),
                                         ("henry_v", "directed_by", "branagh")], add_inverses=True)
    tie = [ex("hamlet", ["directed_by"], ["branagh"]),  # 1 gold of 2 reached: 1/2
           ex("branagh", ["directed_by^-1"], ["hamlet", "henry_v"])]  # both reached are gold: 1
    assert path_ceiling(films, tie, exclude_topics=True) == {"reachable": 100.0, "set_oracle": 75.0}
    assert path_ceiling(tiny, [QAExample("q", ("paris",), ((0, 1),), ("france",))], exclude_topics=False) is None
