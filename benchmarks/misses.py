"""What the misses of trained runs are: each wrong test answer sorted into one kind (kgqa.misses).

Run from the repository root on run folders of ``kgqa train`` (``benchmarks/experiments.py`` runs
it after every row of the grid)::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/misses.py \\
        --runs runs/experiments/metaqa-1hop.given.none.auto.s0 --out benchmarks/results/experiments/misses

Writes ``OUT/RUN.json`` per run (RUN: the run folder's name): the counts of each kind, their
share of the test questions, a few examples of each, the Hits@1 they add up to, the dataset and
the command. The dataset is the one the run was trained on (its ``metrics.json``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from kgqa.datasets import load_dataset
from kgqa.misses import KINDS, classify_misses
from kgqa.qa import QASystem

ROOT = Path(__file__).resolve().parent.parent


def _relative(path: Path) -> str:
    """``path`` as typed in the repository root where it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def analyse(run: Path, out: Path, *, per_kind: int = 3) -> dict:
    """Classify the test misses of the run in folder ``run`` (its best checkpoint); write and
    return the record."""
    metrics_file = run / "metrics.json"
    if not metrics_file.is_file():
        raise FileNotFoundError(f"{metrics_file}: no metrics.json, so {run} is not a finished kgqa train run")
    dataset = json.loads(metrics_file.read_text(encoding="utf-8"))["dataset"]
    data = load_dataset(dataset)
    system = QASystem.from_pretrained(run / "best", kg=data.kg)
    start = time.perf_counter()
    result = classify_misses(system, data.test, per_kind=per_kind)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = {"run": run.name, "dataset": dataset, "split": "test", **result, "kinds_meaning": KINDS,
              "seconds": round(time.perf_counter() - start, 1), "commit": commit or None,
              "command": f"python benchmarks/misses.py --runs {_relative(run)}"}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{run.name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders of kgqa train")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "experiments" / "misses")
    ap.add_argument("--per-kind", type=int, default=3, help="examples kept of each kind")
    args = ap.parse_args(argv)
    for run in args.runs:
        rec = analyse(run, args.out, per_kind=args.per_kind)
        kinds = ", ".join(f"{k} {v}" for k, v in rec["kinds"].items())
        print(f"{run.name}: {rec['misses']} of {rec['questions']} missed (Hits@1 {rec['hits@1']:.2f}): {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
