"""Derived two-entity questions: hand-counted answers, and answers recomputed from raw triples."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from kgqa.datasets import DATASETS, QAExample, load_dataset
from kgqa.datasets.derived import TEMPLATES, generate_multi, multi_stats, split_multi
from kgqa.kg import KnowledgeGraph
from kgqa.traverse import Program

Triples = list[tuple[str, str, str]]

# Six films, hand-made. Branch results used below:
#   starred_actors^-1: Ann Lee -> F1 F2 F3 F6; Bo Hart -> F1 F4 F5; Cy Vance -> F2 F4 F6
#   directed_by^-1:    Dee Roy -> F1 F2 F4;   Ed Moss -> F3 F5;    Flo Tan -> F6
FILMS = {  # film: (actors, director, writer, year, language or None, genre)
    "F1": (("Ann Lee", "Bo Hart"), "Dee Roy", "Wes Ng", "2001", "English", "Drama"),
    "F2": (("Ann Lee", "Cy Vance"), "Dee Roy", "Wes Ng", "2001", "French", "Comedy"),
    "F3": (("Ann Lee",), "Ed Moss", "Val Orr", "2002", "English", "Drama"),
    "F4": (("Bo Hart", "Cy Vance"), "Dee Roy", "Val Orr", "2002", None, "Drama"),
    "F5": (("Bo Hart",), "Ed Moss", "Wes Ng", "2001", "French", "Comedy"),
    "F6": (("Cy Vance", "Ann Lee"), "Flo Tan", "Uma Ray", "2003", "English", "Drama"),
}


def film_triples(films: dict) -> Triples:
    out: Triples = []
    for f, (actors, director, writer, year, language, genre) in films.items():
        out += [(f, "starred_actors", a) for a in actors]
        out += [(f, "directed_by", director), (f, "written_by", writer), (f, "release_year", year),
                (f, "has_genre", genre)]
        out += [(f, "in_language", language)] if language else []
    return out


def random_films(seed: int, n: int = 90) -> dict:
    rng = random.Random(seed)
    actors = [f"Actor {i}" for i in range(30)]
    out = {}
    for i in range(n):
        out[f"Film {i}"] = (tuple(rng.sample(actors, rng.randint(1, 4))), f"Director {rng.randrange(12)}",
                            f"Writer {rng.randrange(15)}", str(2000 + rng.randrange(6)),
                            rng.choice(["English", "French", "German", None]), rng.choice(["Drama", "Comedy", "War"]))
    return out


def oracle(triples: Triples):
    """Plain dict/set traversal over the raw triples, inverses added by hand."""
    adj: dict[tuple[str, str], set[str]] = {}
    for s, r, o in triples:
        adj.setdefault((s, r), set()).add(o)
        adj.setdefault((o, r + "^-1"), set()).add(s)

    def follow(start: str, path: tuple[str, ...]) -> set[str]:
        frontier = {start}
        for r in path:
            frontier = {o for e in frontier for o in adj.get((e, r), ())}
        return frontier

    return follow


def phrasing_of(ex: QAExample) -> str:
    """The question with each mention put back as its template placeholder."""
    slots = TEMPLATES[ex.qtype].slots
    text = ex.question
    for (s, e), slot in sorted(zip(ex.mentions, slots), reverse=True):
        text = text[:s] + "{" + slot + "}" + text[e:]
    return text


def check_examples(exs: list[QAExample], triples: Triples, max_answers: int = 20) -> None:
    follow = oracle(triples)
    for ex in exs:
        t = TEMPLATES[ex.qtype]
        assert ex.paths == t.paths and len(ex.topics) == 2 and ex.topics[0] != ex.topics[1]
        assert ex.hops == max(len(p) for p in t.paths)
        assert re.fullmatch(rf"metaqa-multi:{ex.qtype}:\d+", ex.source)
        for topic, (s, e) in zip(ex.topics, ex.mentions):
            assert ex.question[s:e] == topic
        b1, b2 = (follow(topic, p) - set(ex.topics) for topic, p in zip(ex.topics, ex.paths))
        assert ex.answers == tuple(sorted(b1 & b2))
        assert 0 < len(ex.answers) <= max_answers and len(ex.answers) < min(len(b1), len(b2))
    keys = [(ex.qtype, frozenset(ex.topics)) for ex in exs]
    assert len(keys) == len(set(keys))


@pytest.fixture(scope="module")
def small() -> KnowledgeGraph:
    return KnowledgeGraph.from_triples(film_triples(FILMS), add_inverses=True)


@pytest.fixture(scope="module")
def rand_triples() -> Triples:
    return film_triples(random_films(11))


@pytest.fixture(scope="module")
def rand(rand_triples: Triples) -> KnowledgeGraph:
    return KnowledgeGraph.from_triples(rand_triples, add_inverses=True)


# ---------------------------------------------------------------------------- hand-counted answers
def test_actor_director_matches_hand_count(small: KnowledgeGraph) -> None:
    got = {(ex.topics, ex.answers) for ex in generate_multi(small, n=50, templates=["actor_director"])}
    # Ann Lee & Flo Tan -> {F6} is Flo Tan's whole filmography; Bo Hart & Flo Tan: nothing in common
    assert got == {(("Ann Lee", "Dee Roy"), ("F1", "F2")), (("Ann Lee", "Ed Moss"), ("F3",)),
                   (("Bo Hart", "Dee Roy"), ("F1", "F4")), (("Bo Hart", "Ed Moss"), ("F5",)),
                   (("Cy Vance", "Dee Roy"), ("F2", "F4"))}
    capped = {ex.topics for ex in generate_multi(small, n=50, templates=["actor_director"], max_answers=1)}
    assert capped == {("Ann Lee", "Ed Moss"), ("Bo Hart", "Ed Moss")}


def test_two_hop_branch_matches_hand_count(small: KnowledgeGraph) -> None:
    exs = generate_multi(small, n=100, templates=["actor_samedirector"])
    # same director: F1 F2 F4 (Dee Roy), F3 F5 (Ed Moss); F6 alone. (Ann Lee, F4) is left out: Dee Roy's
    # other films F1 F2 both star Ann Lee, so the film alone would answer it.
    assert {(ex.topics, ex.answers) for ex in exs} == {
        (("Ann Lee", "F1"), ("F2",)), (("Ann Lee", "F2"), ("F1",)), (("Bo Hart", "F1"), ("F4",)),
        (("Bo Hart", "F4"), ("F1",)), (("Cy Vance", "F2"), ("F4",)), (("Cy Vance", "F4"), ("F2",))}
    assert all(ex.hops == 2 and ex.paths[1] == ("directed_by", "directed_by^-1") for ex in exs)


def test_stats_count_by_template_and_split(small: KnowledgeGraph) -> None:
    exs = generate_multi(small, n=50, templates=["actor_director"])
    st = multi_stats(small, {"train": exs})["train"]["actor_director"]
    assert st.n == 5 and st.answers_max == 2 and st.answers_mean == pytest.approx(8 / 5)
    # branch sizes: Ann Lee 4, 4; Bo Hart 3, 3; Cy Vance 3; Dee Roy 3, 3, 3; Ed Moss 2, 2
    assert st.branch_mean == pytest.approx((17 / 5, 13 / 5))


# ---------------------------------------------------------------------------- properties
def test_every_answer_is_the_intersection_of_the_branches(rand: KnowledgeGraph, rand_triples: Triples) -> None:
    exs = generate_multi(rand, n=350, seed=3)
    assert len(exs) == 350 and {ex.qtype for ex in exs} == set(TEMPLATES)
    check_examples(exs, rand_triples)
    for ex in exs[:30]:  # the package's own traversal agrees too
        assert list(ex.answers) == sorted(set(Program(ex.topics, ex.paths).answer_ids(rand)) - set(ex.topics))
    small_cap = generate_multi(rand, n=100, seed=3, max_answers=2)
    check_examples(small_cap, rand_triples, max_answers=2)


def test_splits_are_disjoint_and_test_phrasings_are_held_out(rand: KnowledgeGraph, rand_triples: Triples) -> None:
    train, dev, test = split_multi(rand, n_train=200, n_dev=40, n_test=60, seed=5)
    assert (len(train), len(dev), len(test)) == (200, 40, 60)
    check_examples(train + dev + test, rand_triples)  # also: no (template, topic pair) twice overall
    pairs = [{(ex.qtype, frozenset(ex.topics)) for ex in part} for part in (train, dev, test)]
    assert pairs[0].isdisjoint(pairs[1]) and pairs[0].isdisjoint(pairs[2]) and pairs[1].isdisjoint(pairs[2])
    seen = {phrasing_of(ex) for ex in train + dev}
    held = {phrasing_of(ex) for ex in test}
    assert seen.isdisjoint(held)
    for ex in train + dev:
        assert phrasing_of(ex) in TEMPLATES[ex.qtype].phrasings
    for ex in test:
        assert phrasing_of(ex) in TEMPLATES[ex.qtype].held_out


def test_templates_have_varied_phrasings() -> None:
    for t in TEMPLATES.values():
        every = t.phrasings + t.held_out
        assert len(every) >= 4 and t.held_out and set(t.phrasings).isdisjoint(t.held_out)
        assert all(sorted(re.findall(r"\{(\w+)\}", p)) == sorted(t.slots) for p in every)
        assert any(p.index("{" + t.slots[1] + "}") < p.index("{" + t.slots[0] + "}") for p in every)


def test_seeded_determinism(rand: KnowledgeGraph) -> None:
    a = generate_multi(rand, n=80, seed=1)
    assert a == generate_multi(rand, n=80, seed=1)
    assert a != generate_multi(rand, n=80, seed=2)
    assert split_multi(rand, n_train=20, n_dev=5, n_test=5, seed=1) == split_multi(rand, n_train=20, n_dev=5,
                                                                                  n_test=5, seed=1)


def test_bad_input_says_what_is_wrong(small: KnowledgeGraph) -> None:
    for n in (0, -3):
        with pytest.raises(ValueError, match="n must be a positive"):
            generate_multi(small, n=n)
    with pytest.raises(ValueError, match="unknown template 'actor_directr'.*did you mean 'actor_director'"):
        generate_multi(small, n=5, templates=["actor_directr"])
    with pytest.raises(ValueError, match="max_answers must be at least 1"):
        generate_multi(small, n=5, max_answers=0)
    no_inverses = KnowledgeGraph.from_triples(film_triples(FILMS))
    with pytest.raises(ValueError, match="'starred_actors\\^-1', which the graph lacks.*add_inverses=True"):
        generate_multi(no_inverses, n=5)
    with pytest.raises(ValueError, match="only 5 distinct questions"):
        split_multi(small, n_train=5, n_dev=1, n_test=1, templates=["actor_director"])


# ---------------------------------------------------------------------------- real data
def test_registered() -> None:
    spec = DATASETS["metaqa-multi"]
    assert spec.origin == "metaqa" and "two-entity" in spec.description


def test_real_metaqa_multi(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGQA_DATA", str(data_root))
    ds = load_dataset("metaqa-multi", n_train=500, n_dev=100, n_test=200)
    assert ds.name == "metaqa-multi" and (len(ds.train), len(ds.dev), len(ds.test)) == (1000, 200, 400)
    kb = [tuple(x.strip() for x in ln.split("|")) for ln in (data_root / "metaqa/kb_partial.txt")
          .read_text(encoding="utf-8").splitlines() if ln.strip()]
    for split, exs, file in (("train", ds.train, "qa_dev.txt"), ("dev", ds.dev, "qa_dev.txt"),
                             ("test", ds.test, "qa_test.txt")):
        multi = [ex for ex in exs if ex.source.startswith("metaqa-multi:")]
        single = [ex for ex in exs if not ex.source.startswith("metaqa-multi:")]
        assert len(multi) == len(single) == len(exs) // 2, split
        assert all(ex.qtype not in TEMPLATES and ex.hops == 1 and f"1-hop/{file}:" in ex.source for ex in single)
        check_examples(multi, kb)  # type: ignore[arg-type]
        assert {ex.qtype for ex in multi} == set(TEMPLATES)
        pool = TEMPLATES if split != "test" else None
        for ex in multi:
            t = TEMPLATES[ex.qtype]
            assert phrasing_of(ex) in (t.phrasings if pool else t.held_out)
    assert all(s.mention_found == 1.0 for s in ds.stats().values())
    # the gold paths of the derived questions reach every answer (not always "exact": a topic film
    # may be reached too); the mixed-in 1-hop questions carry their paths as well, and some of their
    # answers are missing from kb_partial, so they are left out here
    derived = [ex for exs in ds.splits.values() for ex in exs if ex.source.startswith("metaqa-multi:")]
    assert all({ds.kg.entity_index(a) for a in ex.answers} <= ex.program.execute(ds.kg) for ex in derived)
    assert "seed 0" in ds.notes and "held-out" in ds.notes and "actor_director" in ds.notes
