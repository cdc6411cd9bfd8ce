"""The toy world: size, the method's examples, and every question's answers re-derived."""

from __future__ import annotations

import time
from collections import Counter

from kgqa.toy import SEED_QUESTIONS, toy_kg, toy_questions
from kgqa.traverse import walk_path


def test_size(toy):
    base = toy_kg(add_inverses=False)
    assert toy.num_entities >= 60 and base.num_relations >= 12
    assert toy.num_triples == 2 * base.num_triples
    assert toy.stats().n_isolated == 0


def test_loads_quickly():
    toy_kg.cache_clear()
    start = time.perf_counter()
    toy_kg()
    assert time.perf_counter() - start < 5  # target is well under a second; generous for loaded CI


def test_three_tom_hanks_with_disjoint_neighbourhoods(toy):
    hanks = toy.entities_named("Tom Hanks")
    assert len(hanks) == 3
    assert {toy.types[i] for i in hanks} == {"person"}
    hoods = [{o for _, o in toy.neighbours(i)} for i in hanks]
    assert not (hoods[0] & hoods[1]) and not (hoods[0] & hoods[2]) and not (hoods[1] & hoods[2])


def test_method_examples_hold(toy):
    assert walk_path(toy, ["mona_lisa"], ["exhibited_at", "located_in"]) == {toy.entity_index("paris")}
    played = walk_path(toy, ["natalie_portman"], ["played"])
    in_film = walk_path(toy, ["star_wars_episode_ii"], ["appears_in^-1"])
    assert len(played) > 1 and len(in_film) > 1  # each branch alone is ambiguous
    assert played & in_film == {toy.entity_index("padme_amidala")}
    assert toy.name_of("padme_amidala") == "Padmé Amidala"


def test_every_answer_equals_its_program(toy):
    for q in toy_questions():
        assert q.program.answer_ids(toy) == sorted(q.answers), q.question
        assert q.hops == q.program.hops and q.multi_entity == (len(q.topics) > 1)


def test_question_set_coverage():
    qs = toy_questions()
    assert len(qs) >= 150
    assert {q.question for q in qs} >= set(SEED_QUESTIONS)
    by_split = Counter(q.split for q in qs)
    assert by_split["train"] > 2 * by_split["test"] > 0
    for split in ("train", "test"):
        part = toy_questions(split)
        assert {q.hops for q in part if not q.multi_entity} == {1, 2, 3}
        assert any(q.multi_entity for q in part)
        assert any("Tom Hanks" in q.question for q in part)
    train_programs = {str(q.program) for q in toy_questions("train")}
    assert all(str(q.program) in train_programs for q in toy_questions("test"))
