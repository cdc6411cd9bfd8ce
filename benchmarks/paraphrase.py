"""Robustness to phrasing: MetaQA 1-hop models on the test questions and on the same questions asked
in held-out phrasings (``metaqa-1hop-para``: no MetaQA template, no training phrasing).

Run from the repository root, with run folders of models trained on ``metaqa-1hop`` or
``metaqa-1hop-aug`` (their train and dev splits are the same; only the training phrasings differ)::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/paraphrase.py --runs runs/bench/metaqa-1hop [--tag NAME]

For each run: test Hits@1 on ``qa_test.txt`` as written and on its paraphrases, overall and per
question type, and the gap. Writes ``benchmarks/results/paraphrase[-TAG].json`` and ``.md``.
Target (the experiment book's issue): on phrasings training never saw, at most 2 points below the
vanilla test.
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
        row[name] = {"hits@1": m["hits@1"], "by_type": {t: r["hits@1"] for t, r in m["by_type"].items()}}
    row["gap"] = row["vanilla"]["hits@1"] - row["paraphrased"]["hits@1"]
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Robustness to phrasing: MetaQA 1-hop test, as written and in held-out phrasings", "",
             "| run | trained on | entities | vanilla | paraphrased | gap |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {Path(r['run']).name} | {r['trained_on']} | {r['entities']} | {r['vanilla']['hits@1']:.2f} | "
                     f"{r['paraphrased']['hits@1']:.2f} | {r['gap']:.2f} |")
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
    ap.add_argument("--runs", nargs="+", type=Path, required=True, help="run folders of MetaQA 1-hop models")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    vanilla, para = load_dataset("metaqa-1hop"), load_dataset("metaqa-1hop-para")
    rows = [evaluate(run, vanilla, para) for run in args.runs]
    write_results("paraphrase", args.tag, run_meta(), rows, markdown)


if __name__ == "__main__":
    main()
