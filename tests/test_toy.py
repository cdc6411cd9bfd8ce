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


# ---------------------------------------------------------------------------- generated questions
def test_generated_file_is_what_the_generator_writes(toy):
    from importlib import resources

    from kgqa.toy_generate import GENERATED_FILE, generated_tsv

    committed = resources.files("kgqa").joinpath("data", GENERATED_FILE).read_text(encoding="utf-8")
    hand = [q.question for q in toy_questions()]
    assert committed == generated_tsv(toy, exclude=hand), "run: python -m kgqa.toy_generate"


def test_generated_answers_equal_their_programs(toy):
    generated = toy_questions(source="generated")
    assert len(generated) > 1000
    for q in generated:
        # the topics themselves are not answers ("films of the same year as X" are other films)
        assert q.program.answer_ids(toy) == sorted(set(q.answers) | ({*q.topics} & set(q.program.answer_ids(toy))))
        assert not set(q.answers) & set(q.topics) and q.answers, q.question


def test_held_out_phrasings_never_train():
    from kgqa.toy_templates import TEMPLATES, held_out_phrasing

    every = toy_questions(source="all")
    assert all(not held_out_phrasing(q.question) for q in every if q.split == "train")
    test = [q for q in every if q.split == "test"]
    assert set(SEED_QUESTIONS) <= {q.question for q in test}
    assert all(held_out_phrasing(s) for s in SEED_QUESTIONS)
    train_text = {q.question for q in every if q.split == "train"}
    assert not train_text & {q.question for q in test}  # (one hand-written test question is a training
    # question typed in lower case: "who directed forrest gump?")
    for group, templates in TEMPLATES.items():  # every question type has both kinds of phrasing
        held = [t for t in templates if t.startswith("~")]
        assert held and len(held) < len(templates), group


def test_every_kind_of_question_is_generated_and_located(toy):
    from kgqa.datasets import load_toy
    from kgqa.datasets.files import NO_SPAN
    from kgqa.toy import by_source

    data = load_toy(questions="all")
    parts = by_source(data.test)
    assert len(parts["generated"]) > 250 and len(parts["hand-written"]) >= 62
    for ex in data.train + data.dev + parts["generated"]:
        assert NO_SPAN not in ex.mentions, ex.question
    kinds = Counter(ex.qtype for ex in parts["generated"])
    assert {"1-hop", "2-hop", "3-hop", "conjunctive"} <= set(kinds) and min(kinds.values()) >= 20
    assert any(q.islower() for q in (ex.question for ex in data.train))  # typed in lower case too


def test_shared_names_are_bare_only_where_the_relations_decide(toy):
    hanks = {toy.entities[i] for i in toy.entities_named("Tom Hanks")}
    seen = Counter()
    for q in toy_questions(source="generated"):
        for topic, path in zip(q.topics, q.program.paths):
            if topic not in hanks:
                continue
            seen[topic] += 1
            text = q.question.lower()
            described = any(w in text for w in ("actor", "film star", "seismologist", "earthquake",
                                                 "theologian", "theology"))
            if not described:  # bare "Tom Hanks": no namesake has an answer along the path
                assert all(not walk_path(toy, [other], path) for other in hanks - {topic}), q.question
    assert min(seen.values()) >= 20 and len(seen) == 3  # every Tom Hanks, in many contexts
