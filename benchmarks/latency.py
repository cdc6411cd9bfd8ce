"""Answering speed of a trained model: single-question latency and batch evaluation throughput.

    python benchmarks/latency.py [--checkpoint runs/bench/metaqa-1hop] [--dataset metaqa-1hop]

- ``ask`` latency: one question at a time through ``QASystem.ask`` (encode + 3 hops + top-k),
  model loaded, after a warm-up; p50 / p90 / p99 over 200 test questions.
- batch evaluation: ``QASystem.evaluate`` over the whole test split with the question vectors
  precomputed (the frozen-encoder cache), and the time to compute that cache, reported apart.

Writes ``benchmarks/results/latency.json`` and ``.md``. Targets: p50 ≤ 50 ms; ≥ 500 questions/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from kgqa.datasets import load_dataset
from kgqa.qa import QASystem
from kgqa.train import encode_questions

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="runs/bench/metaqa-1hop")
    ap.add_argument("--dataset", default="metaqa-1hop")
    ap.add_argument("--n-ask", type=int, default=200)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    system = QASystem.from_pretrained(args.checkpoint, kg=data.kg)
    test = data.test
    for ex in test[:10]:  # warm-up
        system.ask(ex.question, list(ex.topics))
    times = []
    for ex in test[: args.n_ask]:
        t0 = time.perf_counter()
        system.ask(ex.question, list(ex.topics))
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    t0 = time.perf_counter()
    q = encode_questions(system, test, progress=False)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = system.evaluate(test, q)
    eval_s = time.perf_counter() - t0
    row = {"dataset": args.dataset, "checkpoint": args.checkpoint, "n_ask": len(times),
           "ask_ms_p50": statistics.median(times), "ask_ms_p90": times[int(0.9 * len(times)) - 1],
           "ask_ms_p99": times[int(0.99 * len(times)) - 1], "n_eval": len(test),
           "eval_questions_per_s": len(test) / eval_s, "encode_questions_per_s": len(test) / encode_s,
           "hits@1": metrics["hits@1"], "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.machine(), "command": "python " + " ".join(sys.argv)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "latency.json").write_text(json.dumps(row, indent=2) + "\n")
    md = [f"# Answering speed ({args.dataset})", "", f"Command: `{row['command']}`  ",
          f"torch {row['torch']}, {row['threads']} threads, {row['machine']}", "",
          "| measure | value | target |", "|---|---|---|",
          f"| `ask` latency p50 / p90 / p99 | {row['ask_ms_p50']:.1f} / {row['ask_ms_p90']:.1f} / {row['ask_ms_p99']:.1f} ms "
          f"| p50 ≤ 50 ms: {'PASS' if row['ask_ms_p50'] <= 50 else 'FAIL'} |",
          f"| batch evaluation, cached question vectors | {row['eval_questions_per_s']:,.0f} questions/s "
          f"| ≥ 500: {'PASS' if row['eval_questions_per_s'] >= 500 else 'FAIL'} |",
          f"| encoding the questions (frozen MiniLM, once) | {row['encode_questions_per_s']:,.0f} questions/s | – |",
          f"| test Hits@1 (sanity) | {row['hits@1']:.2f} | – |"]
    (OUT / "latency.md").write_text("\n".join(md) + "\n")
    from report import write_index

    write_index()
    print("\n".join(md))


if __name__ == "__main__":
    main()
