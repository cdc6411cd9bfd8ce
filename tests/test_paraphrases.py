"""MetaQA questions in phrasings of the project's own: disjoint from MetaQA's templates and from each
other, same topics and answers, mentions where the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgqa.datasets import load_dataset
from kgqa.datasets.paraphrases import ASK, BANKS, FILMS, PARAPHRASES, RETURNS, paraphrase, phrasings


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
        assert len(phrasings(qtype, "held_out_2")) >= 3 and set(train) <= set(phrasings(qtype, "train_2")), qtype
        for p in train + held + phrasings(qtype, "train_2") + phrasings(qtype, "held_out_2"):
            assert len(re.findall(r"\bX\b", p)) == 1 and p.count("X") == 1 and p == p.lower().replace("x", "X"), p
    # the parts of a composed phrasing: a held-out phrasing is made of held-out parts only
    for parts in (PARAPHRASES, FILMS, ASK, RETURNS):
        for key, banks in parts.items():
            assert {"train", "held_out", "held_out_2"} <= set(banks) <= {"train", "held_out", "train_2", "held_out_2"}
            seen = [p for bank in banks.values() for p in bank]
            assert len(seen) == len(set(seen)), key  # no phrasing, and no part, in two banks
    assert phrasings("actor_to_movie_to_director", "held_out") == (
        "who helmed the movies X appeared in", "who helmed the films with X in the cast",
        "which filmmakers directed the movies X appeared in", "which filmmakers directed the films with X in the cast")
    assert phrasings("movie_to_imdbrating", "train") == ()


def test_no_phrasing_is_a_metaqa_template(data_root: Path) -> None:
    templates = metaqa_templates(data_root)
    ours = {p for t in metaqa_types(data_root) for bank in ("train", "held_out") for p in phrasings(t, bank)}
    assert len(ours) == 513 and not ours & templates
    bank = {b: {p for t in metaqa_types(data_root) for p in phrasings(t, b)} for b in BANKS}
    assert bank["train"] < bank["train_2"] and (len(bank["train_2"]), len(bank["held_out_2"])) == (1052, 171)
    assert not (bank["train_2"] | bank["held_out_2"]) & templates
    # the second held-out bank repeats no phrasing of any other bank; the widened training bank none held out
    assert not bank["held_out_2"] & (bank["train_2"] | bank["held_out"]) and not bank["train_2"] & bank["held_out"]


@pytest.mark.parametrize(("hops", "bank"), [("1hop", "held_out"), ("all", "held_out"), ("all", "held_out_2")])
def test_paraphrased_test_keeps_topics_answers_and_mentions(data_root: Path, hops: str, bank: str) -> None:
    name = f"metaqa-{hops}-para" + ("2" if bank == "held_out_2" else "")
    vanilla = load_dataset(f"metaqa-{hops}", data_root)
    para = load_dataset(name, data_root)
    assert para.train == vanilla.train and para.dev == vanilla.dev and len(para.test) == len(vanilla.test)
    assert para.name == name
    changed = 0
    for a, b in zip(vanilla.test, para.test):
        assert (a.topics, a.answers, a.qtype, a.paths, a.hops) == (b.topics, b.answers, b.qtype, b.paths, b.hops)
        (s, e), (s2, e2) = a.mentions[0], b.mentions[0]
        assert a.question[s:e] == b.question[s2:e2]
        held = phrasings(a.qtype, bank)
        if held:
            changed += 1
            assert bank_text(b) in held
    assert changed == len(para.test)  # every test question type has held-out phrasings
    if hops == "all":
        assert {e.hops for e in para.test} == {1, 2, 3}
    again = load_dataset(name, data_root)
    assert again.test == para.test  # seeded


@pytest.mark.parametrize(("hops", "suffix"), [("1hop", ""), ("all", ""), ("all", "2")])
def test_augmentation_adds_training_phrasings_only(data_root: Path, hops: str, suffix: str) -> None:
    train_bank, held_bank = ("train_2", "held_out_2") if suffix else ("train", "held_out")
    aug = load_dataset(f"metaqa-{hops}-aug{suffix}", data_root)
    vanilla = load_dataset(f"metaqa-{hops}", data_root)
    extra = aug.train[len(vanilla.train):]
    assert aug.train[: len(vanilla.train)] == vanilla.train and len(extra) == round(0.5 * len(vanilla.train))
    assert aug.dev == vanilla.dev and aug.test == load_dataset(f"metaqa-{hops}-para{suffix}", data_root).test
    for ex in extra:
        assert bank_text(ex) in phrasings(ex.qtype, train_bank) or not phrasings(ex.qtype, train_bank)
    held = {p for t in metaqa_types(data_root) for b in ("held_out", "held_out_2") for p in phrasings(t, b)}
    assert not any(bank_text(ex) in held for ex in aug.train)
    if suffix:  # the additions are used: some questions are asked in them
        added = {bank_text(ex) for ex in extra} - {p for t in metaqa_types(data_root) for p in phrasings(t, "train")}
        assert len(added) > 500
    if hops == "all":
        assert {e.hops for e in extra} == {1, 2, 3}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="bank must be"):
        paraphrase([], "test")
    from kgqa.datasets import load_metaqa_paraphrased

    with pytest.raises(ValueError, match="augment must be a share"):
        load_metaqa_paraphrased(".", augment=2)
    with pytest.raises(ValueError, match="bank must be a held-out bank"):
        load_metaqa_paraphrased(".", bank="train_2")
    with pytest.raises(ValueError, match="bank must be one of"):
        phrasings("movie_to_actor", "held_out_3")
    with pytest.raises(ValueError, match="MetaQA has 1-, 2- and 3-hop"):
        load_metaqa_paraphrased(".", 4)


def test_per_phrasing_breakdown_matches_evaluate(toy_data, trained_toy, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/paraphrase.py's per-phrasing Hits@1 against evaluate() on each group, and its
    misses against the group's size, on toy questions rewritten in two made-up phrasings."""
    from dataclasses import replace
    from types import SimpleNamespace

    import torch

    from kgqa.qa import QASystem

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import paraphrase as bench

    system = QASystem.from_pretrained(trained_toy[1] / "best", kg=toy_data.kg)
    exs = []
    for i, ex in enumerate(e for e in toy_data.train + toy_data.test if len(e.topics) == 1 and e.mentions[0][0] >= 0):
        before, _, after = ("tell me about X please", "X: what do you know")[i % 2].partition("X")
        a, b = ex.mentions[0]
        mention = ex.question[a:b]
        exs.append(replace(ex, question=before + mention + after, mentions=((len(before), len(before) + len(mention)),),
                           source=ex.source + " (held_out paraphrase)"))
    assert bench.phrasing_of(exs[0]) == "tell me about X please" and bench.phrasing_of(exs[1]) == "X: what do you know"
    seen = next(e for e in toy_data.train if len(e.topics) == 1 and e.mentions[0][0] >= 0)  # a training phrasing
    exs.append(replace(seen, source=seen.source + " (held_out paraphrase)"))
    with torch.inference_mode():
        table = bench.by_phrasing(system, SimpleNamespace(test=exs), toy_data.train)
    own = table[seen.qtype][bench.phrasing_of(seen)]["nearest_training"]  # nearest to itself
    assert (own["phrasing"], own["type"]) == (bench.phrasing_of(seen), seen.qtype) and own["cosine"] == pytest.approx(1, abs=1e-3)
    assert sum(v["n"] for phs in table.values() for v in phs.values()) == len(exs)
    assert any(v["misses_follow"] for phs in table.values() for v in phs.values())  # the model misses some
    for qtype, phs in table.items():
        for phrasing, v in phs.items():
            group = [e for e in exs if e.qtype == qtype and bench.phrasing_of(e) == phrasing]
            assert v["n"] == len(group)
            assert v["hits@1"] == pytest.approx(system.evaluate(group)["hits@1"])
            misses = round(v["n"] * (1 - v["hits@1"] / 100))
            assert sum(c for _, c in v["misses_follow"]) <= misses
            if len(v["misses_follow"]) < 3:  # every distinct path listed: they add up to the misses
                assert sum(c for _, c in v["misses_follow"]) == misses
            assert -1.001 <= v["nearest_training"]["cosine"] <= 1.001
            assert 0 <= v["misses_on_nearest_path"] <= misses
            hops = group[0].hops
            assert v["gold"] == " → ".join(group[0].paths[0]) and v["gold"].count("→") == hops - 1
    monkeypatch.setattr(bench, "LOW", 101.0)  # every phrasing listed
    scored = {"hits@1": 0.0, "by_type": {}, "by_hops": {}}
    page = bench.markdown([{"run": "runs/toy", "trained_on": "toy", "entities": "given", "vanilla": scored,
                            "paraphrased": scored, "gap": 0.0, "by_phrasing": table}], {"dataset": "metaqa-1hop"})
    listed = sum(len(phs) for phs in table.values())
    assert f"answers below 101% Hits@1: {listed} of {listed}." in page
    assert all(f"| {t} | {ph} | {v['n']} |" in page for t, phs in table.items() for ph, v in phs.items())
    assert page.startswith("# Robustness to phrasing: MetaQA 1-hop test, as written and in held-out phrasings")
    second = bench.markdown([], {"dataset": "metaqa-all", "bank": "held_out_2"})
    assert second.startswith("# Robustness to phrasing: MetaQA 1-, 2- and 3-hop test, as written and in the second bank")


def test_every_held_out_bank_has_its_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark's --bank choices name registered datasets for every hop set."""
    from kgqa.datasets import DATASETS
    from kgqa.datasets.paraphrases import TRAIN_BANKS

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import paraphrase as bench

    assert set(bench.BANK_SUFFIX) == set(bench.BANK_NAME) == set(TRAIN_BANKS)
    for bank, suffix in bench.BANK_SUFFIX.items():
        for hops in ("1hop", "2hop", "3hop", "all"):
            assert f"metaqa-{hops}-para{suffix}" in DATASETS
    assert {"metaqa-all-aug", "metaqa-all-aug2"} <= set(DATASETS)
