"""MetaQA questions in phrasings of the project's own: disjoint from MetaQA's templates and from each
other, same topics and answers, mentions where the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgqa.datasets import load_dataset
from kgqa.datasets.paraphrases import PARAPHRASES, paraphrase


def metaqa_templates(root: Path) -> set[str]:
    """Every MetaQA template (the question with its [topic] as X), from the 1-, 2- and 3-hop files."""
    out = set()
    for hops in (1, 2, 3):
        for split in ("dev", "test"):
            for line in (root / f"metaqa/{hops}-hop/qa_{split}.txt").read_text(encoding="utf-8").splitlines():
                out.add(re.sub(r"\[[^\]]*\]", "X", line.split("\t")[0]))
    return out


def test_banks_are_disjoint_and_mark_the_topic_once() -> None:
    for qtype, banks in PARAPHRASES.items():
        assert set(banks) == {"train", "held_out"} and not set(banks["train"]) & set(banks["held_out"]), qtype
        assert len(banks["held_out"]) >= 3 and len(banks["train"]) >= 3
        for p in banks["train"] + banks["held_out"]:
            assert len(re.findall(r"\bX\b", p)) == 1 and p.count("X") == 1 and p == p.lower().replace("x", "X"), p


def test_no_phrasing_is_a_metaqa_template(data_root: Path) -> None:
    templates = metaqa_templates(data_root)
    ours = {p for banks in PARAPHRASES.values() for bank in banks.values() for p in bank}
    assert not ours & templates


def test_paraphrased_test_keeps_topics_answers_and_mentions(data_root: Path) -> None:
    vanilla = load_dataset("metaqa-1hop", data_root)
    para = load_dataset("metaqa-1hop-para", data_root)
    assert para.train == vanilla.train and para.dev == vanilla.dev and len(para.test) == len(vanilla.test)
    changed = 0
    held_out = {qt: b["held_out"] for qt, b in PARAPHRASES.items()}
    for a, b in zip(vanilla.test, para.test):
        assert (a.topics, a.answers, a.qtype, a.paths) == (b.topics, b.answers, b.qtype, b.paths)
        (s, e), (s2, e2) = a.mentions[0], b.mentions[0]
        assert a.question[s:e] == b.question[s2:e2]
        if a.qtype in held_out:
            changed += 1
            assert b.question[:s2] + "X" + b.question[e2:] in held_out[a.qtype]
    assert changed == len(para.test)  # every test question type has held-out phrasings
    again = load_dataset("metaqa-1hop-para", data_root)
    assert again.test == para.test  # seeded


def test_augmentation_adds_training_phrasings_only(data_root: Path) -> None:
    aug = load_dataset("metaqa-1hop-aug", data_root)
    vanilla = load_dataset("metaqa-1hop", data_root)
    extra = aug.train[len(vanilla.train):]
    assert aug.train[: len(vanilla.train)] == vanilla.train and len(extra) == round(0.5 * len(vanilla.train))
    trained = {qt: b["train"] for qt, b in PARAPHRASES.items()}
    for ex in extra:
        s, e = ex.mentions[0]
        if ex.qtype in trained:
            assert ex.question[:s] + "X" + ex.question[e:] in trained[ex.qtype]
    held = {p for b in PARAPHRASES.values() for p in b["held_out"]}
    assert not any(ex.question[: ex.mentions[0][0]] + "X" + ex.question[ex.mentions[0][1]:] in held for ex in aug.train)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="bank must be"):
        paraphrase([], "test")
    from kgqa.datasets import load_metaqa_paraphrased

    with pytest.raises(ValueError, match="augment must be a share"):
        load_metaqa_paraphrased(".", augment=2)
