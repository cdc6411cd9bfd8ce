"""SimpleQuestions-Wikidata: what bounds entity resolution from its text, and how trained models do.

Run from the repository root (the runs come from ``benchmarks/experiments.py --only sq-wikidata``)::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/sq_wikidata.py \\
        --runs runs/experiments/sq-wikidata.given.none.auto.s0 runs/experiments/sq-wikidata.text.none.auto.e8.s0

On the test split:

- **the bound**: the share of questions whose subject's English label is not written in them (case
  and accents ignored, whole words: the loader's mention finder), split into subjects with no label
  at all (shown by id: homonyms were collapsed upstream, one id per label) and labels the question
  spells otherwise ("the v" for "V (TV series)"). An exact match cannot find those subjects;
- **the reach** on those questions: the share whose subject is among the 8 candidates of some span
  of the question (``ResolverConfig.max_words`` words at most, the spans the resolver scores) — the
  fuzzy n-gram match finds a near spelling ("alix of france" for *Alice of France*); the rest, no
  candidate of any span names, and a model finds their answers only through another entity;
- **candidates**: recall@1/@8/@32 of the gold mention's candidates (the name index alone), and the
  end-to-end recall@8 through the resolver's spans (the gold mention is a span of at most
  ``ResolverConfig.max_words`` words and its subject among that span's 8 candidates), as a share of
  the questions whose mention is located;
- **each run**: test Hits@1 on all questions, on those whose mention is located and on the rest;
  for a model that resolves entities, its entity accuracy on both groups.

Writes ``benchmarks/results/sq_wikidata[-TAG].json`` and ``.md`` (``--tag bound`` without ``--runs``: the
bound, the reach and the candidates alone).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from candidates import coverage, gold_pairs, recall
from kgqa.datasets import NO_SPAN, load_dataset
from kgqa.inputs import build_encoder
from kgqa.qa import QASystem
from kgqa.resolve import ResolverConfig
from kgqa.resolve.candidates import CandidateIndex
from kgqa.resolve.spans import enumerate_spans
from report import run_meta, write_results


def has_label(kg, entity: str) -> bool:
    """Whether ``entity`` has an English label (one without is shown by its id)."""
    return kg.name_of(entity) != entity


def bound(data) -> dict:
    test = data.test
    kg = data.kg
    missing = [ex for ex in test if ex.mentions[0] == NO_SPAN]
    otherwise = [ex for ex in missing if has_label(kg, ex.topics[0])]  # has a label, not written
    return {"questions": len(test), "mention_located": 100 * (1 - len(missing) / len(test)),
            "label_not_in_text": 100 * len(missing) / len(test),
            "subject_without_label": 100 * (len(missing) - len(otherwise)) / len(test),
            "label_written_otherwise": 100 * len(otherwise) / len(test),
            "examples_written_otherwise": [(ex.question, kg.name_of(ex.topics[0])) for ex in otherwise[:5]]}


def reach(data, index: CandidateIndex, encoder, k: int = 8, batch: int = 256) -> dict:
    """Of the test questions whose subject's label is not written in them: how many have the
    subject among the ``k`` candidates of some span the resolver scores, split by whether the
    subject has a label; and the unreached ones as a share of all test questions."""
    missing = [ex for ex in data.test if ex.mentions[0] == NO_SPAN]
    found = {"labelled": [0, 0], "without_label": [0, 0]}  # [reached, of]
    for i in range(0, len(missing), batch):
        exs = missing[i:i + batch]
        texts = [ex.question for ex in exs]
        sb = enumerate_spans(encoder(texts), texts, ResolverConfig().max_words)
        for b, ex in enumerate(exs):
            spans = [t for t, ok in zip(sb.texts[b], sb.valid[b].tolist()) if ok]
            hit = bool(spans) and bool((index.query(spans, k=k).entity == data.kg.entity_index(ex.topics[0])).any())
            group = found["labelled" if has_label(data.kg, ex.topics[0]) else "without_label"]
            group[0] += hit
            group[1] += 1
    reached = sum(g[0] for g in found.values())
    return {"k": k, "not_written": len(missing), "reached": reached,
            "reached_labelled": found["labelled"], "reached_without_label": found["without_label"],
            "unreached_of_all": 100 * (len(missing) - reached) / len(data.test)}


def run_row(run: Path, data) -> dict:
    system = QASystem.from_pretrained(run / "best", kg=data.kg)
    located = [ex for ex in data.test if ex.mentions[0] != NO_SPAN]
    rest = [ex for ex in data.test if ex.mentions[0] == NO_SPAN]
    row = {"run": str(run), "entities": system.model.config.entities}
    for name, exs in (("all", data.test), ("located", located), ("not_located", rest)):
        m = system.evaluate(exs)
        row[name] = {"n": len(exs), "hits@1": m["hits@1"]}
        if "er" in m:
            row[name]["entity_accuracy"] = m["er"]["entity_accuracy"]
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    b, c, r = meta["bound"], meta["candidates"], meta.get("reach")
    lines = ["# SimpleQuestions-Wikidata: the entity-resolution bound" + (" and the trained models" if rows else ""), "",
             "Closed graph of the gold facts (every question answerable; far smaller and less ambiguous than the "
             "paper's Wikidata): not directly comparable with the paper's Hits@1.", "",
             f"Test questions: {b['questions']:,}. The subject's label is written in {b['mention_located']:.1f}% of them; "
             f"not in {b['label_not_in_text']:.1f}% ({b['subject_without_label']:.1f}% have no English label at all, "
             f"{b['label_written_otherwise']:.1f}% spell it otherwise).", "",
             *([] if r is None else [
             f"Of those {r['not_written']:,} the subject is among the {r['k']} candidates of some span for "
             f"{r['reached']:,} ({r['reached_labelled'][0]:,} of the {r['reached_labelled'][1]:,} with a label, "
             f"{r['reached_without_label'][0]:,} of the {r['reached_without_label'][1]:,} without); no candidate "
             f"names the subject of the other {r['not_written'] - r['reached']:,}, "
             f"{r['unreached_of_all']:.2f}% of all test questions.", ""]),
             f"Candidates of the gold mention: recall@1 {c['recall@1']:.2f}, @8 {c['recall@8']:.2f}, "
             f"@32 {c['recall@32']:.2f}; end to end through the resolver's spans (L = {c['default_L']} words) "
             f"recall@8 {c['recall@8_end_to_end']:.2f} of the located mentions.", "",
             ]
    if rows:
        lines += ["| run | entities | Hits@1 all | located | not located | entity acc. located | not located |",
                  "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = [r[g].get("entity_accuracy") for g in ("located", "not_located")]
        lines.append(f"| {Path(r['run']).name} | {r['entities']} | {r['all']['hits@1']:.2f} | "
                     f"{r['located']['hits@1']:.2f} | {r['not_located']['hits@1']:.2f} | "
                     + " | ".join("-" if a is None else f"{a:.2f}" for a in acc) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="*", type=Path, default=[], help="run folders of trained sq-wikidata models")
    ap.add_argument("--tag", default="", help="suffix of the result files (the bound alone: no --runs, --tag bound)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    data = load_dataset("sq-wikidata")
    index = CandidateIndex.build(data.kg)
    pairs = gold_pairs(data.test)
    cand = {f"recall@{k}": 100 * v for k, v in recall(index, pairs).items()}
    encoder = build_encoder("minilm")
    cov = coverage("sq-wikidata", encoder)
    cand["default_L"] = cov["default_L"]
    cand["recall@8_end_to_end"] = 100 * cov["recall@8_end_to_end"]
    cand["spans_per_question"] = cov["spans_per_question"]
    rows = [run_row(run, data) for run in args.runs]
    meta = run_meta(bound=bound(data), candidates=cand, reach=reach(data, index, encoder))
    write_results("sq_wikidata", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
