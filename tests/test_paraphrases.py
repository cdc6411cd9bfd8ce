"""MetaQA questions in phrasings of the project's own: disjoint from MetaQA's templates and from each
other, same topics and answers, mentions where the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgqa.datasets import load_dataset
from kgqa.datasets.paraphrases import ASK, FILMS, PARAPHRASES, RETURNS, paraphrase, phrasings


def metaqa_templates(root: Path) -> set[str]:
    """Every MetaQA template (the question with its [topic] as X), from the 1-, 2- and 3-hop files."""
    out = set()
    for hops in (1, 2, 3):
        for split in ("dev", "test"):
            for line in (root / f"metaqa/{hops}-hop/qa_{split}.txt").read_text(encoding="utf-8").splitlines():
                out.add(re.sub(r"\[[^\]]*\]", "X", line.split("\t")[0]))
    return out


def metaqa_types(root: Path) -> set[str]:
    """The question types of MetaQA's 1-, 2- and 3-hop test files."""
    return {t for hops in (1, 2, 3) for t in (root / f"metaqa/{hops}-hop/qa_test_qtype.txt").read_text().split()}


def bank_text(ex) -> str:
    """The question with its mention as X: the phrasing it was written from."""
    s, e = ex.mentions[0]
    return ex.question[:s] + "X" + ex.question[e:]


def test_banks_are_disjoint_and_mark_the_topic_once(data_root: Path) -> None:
    types = metaqa_types(data_root)
    assert len(types) == 11 + 21 + 15
    for qtype in types:
        train, held = phrasings(qtype, "train"), phrasings(qtype, "held_out")
        assert not set(train) & set(held), qtype
        assert len(held) >= 3 and len(train) >= 3, qtype  # every type of the test files has both banks
        for p in train + held:
            assert len(re.findall(r"\bX\b", p)) == 1 and p.count("X") == 1 and p == p.lower().replace("x", "X"), p
    # the parts of a composed phrasing: a held-out phrasing is made of held-out parts only
    for parts in (FILMS, ASK, RETURNS):
        for key, banks in parts.items():
            assert set(banks) == {"train", "held_out"} and not set(banks["train"]) & set(banks["held_out"]), key
    assert phrasings("actor_to_movie_to_director", "held_out") == (
        "who helmed the movies X appeared in", "who helmed the films with X in the cast",
        "which filmmakers directed the movies X appeared in", "which filmmakers directed the films with X in the cast")
    assert phrasings("movie_to_imdbrating", "train") == ()


def test_no_phrasing_is_a_metaqa_template(data_root: Path) -> None:
    templates = metaqa_templates(data_root)
    ours = {p for t in metaqa_types(data_root) for bank in ("train", "held_out") for p in phrasings(t, bank)}
    assert len(ours) == 513 and not ours & templates


@pytest.mark.parametrize("hops", ["1hop", "all"])
def test_paraphrased_test_keeps_topics_answers_and_mentions(data_root: Path, hops: str) -> None:
    vanilla = load_dataset(f"metaqa-{hops}", data_root)
    para = load_dataset(f"metaqa-{hops}-para", data_root)
    assert para.train == vanilla.train and para.dev == vanilla.dev and len(para.test) == len(vanilla.test)
    assert para.name == f"metaqa-{hops}-para"
    changed = 0
    for a, b in zip(vanilla.test, para.test):
        assert (a.topics, a.answers, a.qtype, a.paths, a.hops) == (b.topics, b.answers, b.qtype, b.paths, b.hops)
        (s, e), (s2, e2) = a.mentions[0], b.mentions[0]
        assert a.question[s:e] == b.question[s2:e2]
        held = phrasings(a.qtype, "held_out")
        if held:
            changed += 1
            assert bank_text(b) in held
    assert changed == len(para.test)  # every test question type has held-out phrasings
    if hops == "all":
        assert {e.hops for e in para.test} == {1, 2, 3}
    again = load_dataset(f"metaqa-{hops}-para", data_root)
    assert again.test == para.test  # seeded


@pytest.mark.parametrize("hops", ["1hop", "all"])
def test_augmentation_adds_training_phrasings_only(data_root: Path, hops: str) -> None:
    aug = load_dataset(f"metaqa-{hops}-aug", data_root)
    vanilla = load_dataset(f"metaqa-{hops}", data_root)
    extra = aug.train[len(vanilla.train):]
    assert aug.train[: len(vanilla.train)] == vanilla.train and len(extra) == round(0.5 * len(vanilla.train))
    assert aug.dev == vanilla.dev and aug.test == load_dataset(f"metaqa-{hops}-para", data_root).test
    for ex in extra:
        assert bank_text(ex) in phrasings(ex.qtype, "train") or not phrasings(ex.qtype, "train")
    held = {p for t in metaqa_types(data_root) for p in phrasings(t, "held_out")}
    assert not any(bank_text(ex) in held for ex in aug.train)
    if hops == "all":
        assert {e.hops for e in extra} == {1, 2, 3}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="bank must be"):
        paraphrase([], "test")
    from kgqa.datasets import load_metaqa_paraphrased

    with pytest.raises(ValueError, match="augment must be a share"):
        load_metaqa_paraphrased(".", augment=2)
    with pytest.raises(ValueError, match="MetaQA has 1-, 2- and 3-hop"):
        load_metaqa_paraphrased(".", 4)
