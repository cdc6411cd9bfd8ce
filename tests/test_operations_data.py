"""Generated operation questions (``metaqa-ops``): every answer recomputed by an independent oracle."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from kgqa.datasets.operations import METAQA_OPS, OPERATIONS, generate_ops, split_ops
from kgqa.kg import KnowledgeGraph


def movie_graph(seed: int = 0, films: int = 60) -> KnowledgeGraph:
    """A small graph with MetaQA's relations: films with directors, actors, writers and years."""
    rng = random.Random(seed)
    people = [f"person {i}" for i in range(60)]
    triples = []
    for f in range(films):
        film = f"film {f}"
        triples.append((film, "directed_by", rng.choice(people[:25])))
        triples += [(film, "starred_actors", p) for p in rng.sample(people[20:], 3)]
        triples.append((film, "written_by", rng.choice(people[15:40])))
        triples += [(film, "release_year", str(y)) for y in rng.sample(range(1990, 2000), rng.choice((1, 1, 2)))]
    return KnowledgeGraph.from_triples(triples, add_inverses=True)


def years(kg: KnowledgeGraph, film: str) -> list[int]:
    return [int(o) for s, r, o in kg.string_triples() if s == film and r == "release_year"]


def oracle(kg: KnowledgeGraph, ex) -> set[str] | int:
    """The answer recomputed from the string triples alone."""
    forward = {"directed_by^-1": "directed_by", "starred_actors^-1": "starred_actors", "written_by^-1": "written_by"}
    t = METAQA_OPS[ex.qtype]

    def films_of(topic: str, path: tuple[str, ...]) -> set[str]:
        return {s for s, r, o in kg.string_triples() if r == forward[path[0]] and o == topic} - set(ex.topics)

    # the template's branch order is the order its slots appear in; the example lists topics shuffled
    by_slot = {}
    for topic, (start, _) in zip(ex.topics, ex.mentions):
        by_slot[start] = topic
    text_order = [by_slot[k] for k in sorted(by_slot)]
    slot_order = [text_order[i] for i in _slot_positions(t)]
    sets = [films_of(topic, p) for topic, p in zip(slot_order, t.paths)]
    if t.operation == "count":
        return len(sets[0])
    if t.operation == "union":
        return sets[0] | sets[1]
    if t.operation == "difference":
        return sets[0] - sets[1]
    pick = max if t.operation == "argmax" else min
    vals = {f: pick(years(kg, f)) for f in sets[0] if years(kg, f)}
    return {f for f, v in vals.items() if v == pick(vals.values())}


def _slot_positions(t) -> list[int]:
    """For each slot in branch order, its rank among the slots by position in every phrasing."""
    phrasing = t.phrasings[0]
    at = sorted(t.slots, key=lambda s: phrasing.index("{" + s + "}"))
    return [at.index(s) for s in t.slots]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_generated_answer_equals_the_oracle(seed):
    kg = movie_graph(seed)
    exs = generate_ops(kg, per_template=6, seed=seed)
    assert {ex.operation for ex in exs} == set(OPERATIONS)
    for ex in exs:
        want = oracle(kg, ex)
        if ex.operation == "count":
            assert ex.answers == (str(want),) and 1 <= want <= 20
        else:
            assert set(ex.answers) == want and want, ex
        for topic, (s, e) in zip(ex.topics, ex.mentions):
            assert ex.question[s:e] == topic


def test_every_operation_is_needed():
    kg = movie_graph(3)
    for ex in generate_ops(kg, per_template=6, seed=3):
        t = METAQA_OPS[ex.qtype]
        if ex.operation == "argmax" or ex.operation == "argmin":
            # fewer answers than films with a year: the superlative chose
            assert len(ex.answers) < sum(1 for s, r, o in kg.string_triples() if r == "release_year" and
                                         o and s in _reached(kg, ex, t))
        if ex.operation == "union":
            assert len(ex.topics) == 2


def _reached(kg, ex, t):
    forward = t.paths[0][0].removesuffix("^-1")
    topic = [tp for tp, (s, _) in sorted(zip(ex.topics, ex.mentions), key=lambda p: p[1][0])][0]
    return {s for s, r, o in kg.string_triples() if r == forward and o == topic}


def test_splits_are_disjoint_held_out_and_shuffle_topic_order():
    kg = movie_graph(4, films=120)
    train, dev, test = split_ops(kg, n_train=4, n_dev=1, n_test=2, seed=4)
    key = lambda ex: (ex.qtype, frozenset(ex.topics))  # noqa: E731
    assert not {key(e) for e in train} & {key(e) for e in test}
    assert not {key(e) for e in dev} & {key(e) for e in test}
    for ex in test:
        held = METAQA_OPS[ex.qtype].held_out[0]
        assert ex.question.startswith(held.split("{")[0])
    firsts = Counter(ex.mentions[0] < ex.mentions[1] for ex in train + dev + test if len(ex.topics) == 2)
    assert firsts[True] and firsts[False]  # topic order says nothing about the roles


def test_bad_arguments_are_refused():
    kg = movie_graph(0)
    with pytest.raises(ValueError, match="per_template"):
        generate_ops(kg, per_template=0)
    with pytest.raises(ValueError, match="unknown template 'count_directors'"):
        generate_ops(kg, per_template=1, names=["count_directors"])
    bare = KnowledgeGraph.from_triples([("a", "r", "b")], add_inverses=True)
    with pytest.raises(ValueError, match="lacks"):
        generate_ops(bare, per_template=1)
    with pytest.raises(ValueError, match="only"):
        split_ops(kg, n_train=500, n_dev=0, n_test=0)


def test_metaqa_ops_on_the_real_kb(data_root):
    from kgqa.datasets import load_dataset

    ds = load_dataset("metaqa-ops", data_root, n_train=20, n_dev=4, n_test=8)
    ops = Counter(ex.operation for ex in ds.test)
    assert set(ops) == {"follow", "intersect", *OPERATIONS} and ops["count"] == 24 and ops["follow"] == 24
    idx = ds.kg.id_index
    for ex in ds.test:
        if ex.operation == "count":
            assert ex.answers[0].isdigit()
        else:
            assert all(a in idx for a in ex.answers), ex


def test_your_own_questions_may_name_their_operation(tmp_path):
    from kgqa.datasets.files import parse_bracketed
    from kgqa.errors import QAFormatError

    kg = movie_graph(0)
    f = tmp_path / "qa.txt"
    f.write_text("how many films did [person 3] direct\t4\tcount\n"
                 "which film is the latest by [person 3]\tfilm 1\targmax\n"
                 "who directed [film 1]\tperson 3\n", encoding="utf-8")
    exs = parse_bracketed(f, kg, unknown_answers="keep")
    assert [(e.operation, e.answers) for e in exs] == [("count", ("4",)), ("argmax", ("film 1",)), ("", ("person 3",))]
    for bad, message in (("[film 1]\tthree\tcount\n", "one whole number"), ("[film 1]\t2|3\tcount\n", "one whole number"),
                         ("[film 1]\tfilm 2\tcounting\n", "unknown operation 'counting'"),
                         ("[film 1]\tfilm 2\tcount\textra\n", "2-3 tab-separated fields")):
        f.write_text("who directed [film 1]\tperson 3\n" + bad, encoding="utf-8")
        with pytest.raises(QAFormatError, match=message) as err:
            parse_bracketed(f, kg)
        assert ":2" in str(err.value)  # the file and line


def test_wc_ops_on_the_real_kb(data_root):
    from kgqa.datasets import load_dataset
    from kgqa.datasets.operations import WC_OPS
    from kgqa.numeric import NumericValues

    ds = load_dataset("wc-ops", data_root)
    kg = ds.kg
    assert Counter(ex.operation for ex in ds.test) == Counter({op: 30 for op in ("follow", "intersect", *OPERATIONS)})
    values = NumericValues.from_kg(kg, ["is_aged", "wears_number"])
    for ex in ds.train + ds.dev + ds.test:
        t = WC_OPS.get(ex.qtype)
        if t is None or t.operation not in ("argmax", "argmin"):
            continue
        rel = t.paths[0][0].removesuffix("^-1")
        members = {s for s, r, o in kg.string_triples() if r == rel and o == ex.topics[0]}
        which = "max" if t.operation == "argmax" else "min"
        vals = {m: values.value(t.attribute, kg.entity_index(m), which) for m in members}
        best = (max if which == "max" else min)(v for v in vals.values() if v is not None)
        assert set(ex.answers) == {m for m, v in vals.items() if v == best}
