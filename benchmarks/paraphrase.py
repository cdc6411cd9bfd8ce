"""Robustness to phrasing: MetaQA models on the test questions and on the same questions asked in
held-out phrasings (``metaqa-1hop-para`` ... ``metaqa-all-para``: no MetaQA template, no training phrasing).

Run from the repository root, with run folders of models trained on the ``--dataset`` (default
``metaqa-1hop``) or on its ``-aug`` twin (their train and dev splits are the same; only the
training phrasings differ)::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/paraphrase.py --runs runs/bench/metaqa-1hop [--tag NAME]
    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/paraphrase.py --dataset metaqa-all --runs RUN ... --tag all

For each run: test Hits@1 on ``qa_test.txt`` as written and on its paraphrases, overall, per hop
count and per question type, and the gap. Writes ``benchmarks/results/paraphrase[-TAG].json`` and
``.md``. Targets (the experiment book's issue): on phrasings training never saw, at most 2 points
below the vanilla test; one model for every hop count at least 90% on a mixed-hop paraphrase set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from kgqa.datasets import load_dataset
from kgqa.qa import QASystem
from report import run_meta, write_results


def evaluate(run: Path, vanilla, para) -> dict:
    system = QASystem.from_pretrained(run / "best", kg=vanilla.kg)
    config = json.loads((run / "best" / "config.json").read_text(encoding="utf-8"))
    row = {"run": str(run), "trained_on": config.get("dataset"), "entities": system.model.config.entities}
    for name, data in (("vanilla", vanilla), ("paraphrased", para)):
        m = system.evaluate(data.test)
        row[name] = {"hits@1": m["hits@1"], "by_type": {t: r["hits@1"] for t, r in m["by_type"].items()},
                     "by_hops": {str(h): r["hits@1"] for h, r in m["by_hops"].items()}}
        if "er" in m:  # a text model: did the new words move the entity it starts from?
            row[name]["er"] = {k: m["er"][k] for k in ("span_accuracy", "entity_accuracy")}
    row["gap"] = row["vanilla"]["hits@1"] - row["paraphrased"]["hits@1"]
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    sets = {"metaqa-all": "1-, 2- and 3-hop"}.get(meta["dataset"], meta["dataset"].removeprefix("metaqa-").replace("hop", "-hop"))
    lines = [f"# Robustness to phrasing: MetaQA {sets} test, as written and in held-out phrasings", "",
             "| run | trained on | entities | vanilla | paraphrased | gap |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {Path(r['run']).name} | {r['trained_on']} | {r['entities']} | {r['vanilla']['hits@1']:.2f} | "
                     f"{r['paraphrased']['hits@1']:.2f} | {r['gap']:.2f} |")
    resolved = [r for r in rows if "er" in r["vanilla"]]
    if resolved:
        lines += ["", "Entity resolution of the text models (vanilla → paraphrased):", "",
                  "| run | span accuracy | entity accuracy |", "|---|---|---|"]
        for r in resolved:
            v, p = r["vanilla"]["er"], r["paraphrased"]["er"]
            lines.append(f"| {Path(r['run']).name} | {v['span_accuracy']:.2f} → {p['span_accuracy']:.2f} | "
                         f"{v['entity_accuracy']:.2f} → {p['entity_accuracy']:.2f} |")
    hops = sorted(rows[0]["vanilla"].get("by_hops", {})) if rows else []
    if len(hops) > 1:
        lines += ["", "Per hop count (vanilla → paraphrased):", "",
                  "| hops | " + " | ".join(Path(r["run"]).name for r in rows) + " |", "|---|" + "---|" * len(rows)]
        for h in hops:
            lines.append(f"| {h} | " + " | ".join(f"{r['vanilla']['by_hops'][h]:.2f} → {r['paraphrased']['by_hops'][h]:.2f}"
                                                   for r in rows) + " |")
    if rows:
        types = sorted(rows[0]["vanilla"]["by_type"])
        lines += ["", "Per question type (vanilla → paraphrased):", "",
                  "| type | " + " | ".join(Path(r["run"]).name for r in rows) + " |",
                  "|---|" + "---|" * len(rows)]
        for t in types:
            lines.append(f"| {t} | " + " | ".join(f"{r['vanilla']['by_type'][t]:.1f} → "
                                                  f"{r['paraphrased']['by_type'].get(t, float('nan')):.1f}"
                                                  for r in rows) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="metaqa-1hop", choices=("metaqa-1hop", "metaqa-2hop", "metaqa-3hop", "metaqa-all"),
                    help="the test set, as written and (its -para twin) in held-out phrasings")
    ap.add_argument("--runs", nargs="+", type=Path, required=True, help="run folders of models of that dataset")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    vanilla, para = load_dataset(args.dataset), load_dataset(f"{args.dataset}-para")
    rows = [evaluate(run, vanilla, para) for run in args.runs]
    write_results("paraphrase", args.tag, run_meta(dataset=args.dataset), rows, markdown)


if __name__ == "__main__":
    main()
