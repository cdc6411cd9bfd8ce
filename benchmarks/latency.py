"""Answering speed of a trained model: single-question latency and batch answering throughput.

    python benchmarks/latency.py [--checkpoint runs/bench/metaqa-1hop] [--dataset metaqa-1hop]

- ``ask`` latency: one question at a time through ``QASystem.ask`` (encode + 3 hops + top-k),
  model loaded, after a warm-up; p50 / p90 / p99 over 200 test questions.
- batch answering, end to end: ``QASystem.evaluate`` over the whole test split from the question
  texts — encoding included (each distinct encoder text once, :func:`kgqa.inputs.encode_distinct`),
  ranking and scoring; the best of two passes.
- its parts: encoding every question in order (``encode_questions``, what training caches) and
  evaluation from those cached vectors.

Everything is measured at the default thread settings, idle and again beside one CPU-bound process
(a busy loop the script starts and stops). Writes ``benchmarks/results/latency.json`` and ``.md``.
Targets: p50 ≤ 50 ms; end to end ≥ 575 questions/s (5× the 114.7 questions/s of a public ReifKB port
measured in the same setting).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import kgqa  # noqa: F401  (before torch: kgqa chooses how OpenMP threads wait, see kgqa.threads)
import torch

from kgqa.datasets import load_dataset
from kgqa.inputs import encoder_input
from kgqa.qa import QASystem
from kgqa.train import encode_questions

OUT = Path(__file__).resolve().parent / "results"
TARGET_QPS = 575


def measure(system: QASystem, test: list, n_ask: int) -> dict:
    for ex in test[:10]:  # warm-up
        system.ask(ex.question, list(ex.topics))
    times = []
    for ex in test[:n_ask]:
        t0 = time.perf_counter()
        system.ask(ex.question, list(ex.topics))
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    end_to_end = []
    for _ in range(2):
        t0 = time.perf_counter()
        metrics = system.evaluate(test)
        end_to_end.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    q = encode_questions(system, test, progress=False)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached = system.evaluate(test, q)
    eval_s = time.perf_counter() - t0
    assert cached["hits@1"] == metrics["hits@1"], (cached["hits@1"], metrics["hits@1"])
    return {"ask_ms_p50": statistics.median(times), "ask_ms_p90": times[int(0.9 * len(times)) - 1],
            "ask_ms_p99": times[int(0.99 * len(times)) - 1],
            "end_to_end_questions_per_s": len(test) / min(end_to_end),
            "eval_questions_per_s": len(test) / eval_s, "encode_questions_per_s": len(test) / encode_s,
            "encode_then_eval_questions_per_s": len(test) / (encode_s + eval_s), "hits@1": metrics["hits@1"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="runs/bench/metaqa-1hop")
    ap.add_argument("--dataset", default="metaqa-1hop")
    ap.add_argument("--n-ask", type=int, default=200)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    system = QASystem.from_pretrained(args.checkpoint, kg=data.kg)
    test = data.test
    distinct = len({encoder_input(e, system.masks_mentions)[0] for e in test})
    rows = {"idle": measure(system, test, args.n_ask)}
    load = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        rows["beside one CPU-bound job"] = measure(system, test, args.n_ask)
    finally:
        load.kill()
        load.wait()
    row = {"dataset": args.dataset, "checkpoint": args.checkpoint, "n_ask": args.n_ask, "n_eval": len(test),
           "distinct_texts": distinct, "conditions": rows, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "machine": platform.machine(), "command": "python " + " ".join(sys.argv)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "latency.json").write_text(json.dumps(row, indent=2) + "\n")
    idle, busy = rows["idle"], rows["beside one CPU-bound job"]

    def both(key: str, fmt: str) -> str:
        return f"{format(idle[key], fmt)} | {format(busy[key], fmt)}"

    md = [f"# Answering speed ({args.dataset}, {len(test):,} test questions, {distinct} distinct encoder texts)", "",
          f"Command: `{row['command']}`  ",
          f"torch {row['torch']}, default threads ({row['threads']}), {row['machine']}", "",
          "| measure | idle | beside one CPU-bound job | target |", "|---|---|---|---|",
          f"| `ask` latency p50 / p90 / p99 (ms) | {idle['ask_ms_p50']:.1f} / {idle['ask_ms_p90']:.1f} / "
          f"{idle['ask_ms_p99']:.1f} | {busy['ask_ms_p50']:.1f} / {busy['ask_ms_p90']:.1f} / {busy['ask_ms_p99']:.1f} "
          f"| p50 ≤ 50 ms: {'PASS' if max(idle['ask_ms_p50'], busy['ask_ms_p50']) <= 50 else 'FAIL'} |",
          f"| **batch answering, end to end** (questions/s) | {both('end_to_end_questions_per_s', ',.0f')} "
          f"| ≥ {TARGET_QPS}: {'PASS' if idle['end_to_end_questions_per_s'] >= TARGET_QPS else 'FAIL'} (idle) |",
          f"| encoding every question in order (questions/s) | {both('encode_questions_per_s', ',.0f')} | – |",
          f"| evaluation from cached question vectors (questions/s) | {both('eval_questions_per_s', ',.0f')} | – |",
          f"| encoding every question, then evaluating (questions/s) | {both('encode_then_eval_questions_per_s', ',.0f')} | – |",
          f"| test Hits@1 (the same from either path) | {both('hits@1', '.2f')} | – |"]
    (OUT / "latency.md").write_text("\n".join(md) + "\n")
    from report import write_index

    write_index()
    print("\n".join(md))


if __name__ == "__main__":
    main()
