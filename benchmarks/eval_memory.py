"""Resident memory and time of evaluating a text model, by evaluation batch size, after training.

    python benchmarks/eval_memory.py --checkpoint RUN [--dataset metaqa-3hop] [--questions 1536]
        [--train-steps 30] [--batches 256,64,32]

A text model evaluated in a fresh process and the same model evaluated in the process that has
just trained it do not hold the same memory: training frees tensors of many sizes, glibc's
threshold for handing large blocks to ``mmap`` rises with them (up to 32 MiB), and blocks below
it then come from the heap, whose freed space the process keeps. This script loads ``RUN``,
evaluates ``--questions`` test questions at each batch size (the candidate cache emptied before
each, so every pass queries the index as a first evaluation does), runs ``--train-steps``
training steps (batch 128, forward and backward, learning rate 0: the weights stay), and
evaluates again. Each pass starts from freed heap handed back (:func:`kgqa.runtime.release_memory`)
and reports its peak resident memory above that start, sampled every 10 ms, and its time.
Writes ``benchmarks/results/eval_memory[-TAG].json`` and ``.md``. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse
import threading
import time

import torch

from kgqa.datasets import load_dataset
from kgqa.metrics import gold_mask
from kgqa.model import answer_loss
from kgqa.qa import QASystem
from kgqa.runtime import release_memory
from kgqa.train import _Batches
from report import rss_gib, run_meta, write_results


def measure(system: QASystem, questions: list, batch: int, after: str) -> dict:
    """One evaluation pass: peak resident memory above its start, and seconds."""
    release_memory()
    system.resolver.cache.clear()
    start_gib, peak, done = rss_gib(), [0.0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_gib())
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    hits = system.evaluate(questions, batch_size=batch)["hits@1"]
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    row = {"after": after, "batch": batch, "start_gib": start_gib, "peak_gib": peak[0],
           "growth_gib": peak[0] - start_gib, "seconds": seconds, "hits@1": hits}
    print(row, flush=True)
    return row


def train_steps(system: QASystem, data, steps: int) -> None:
    """``steps`` training steps of 128 questions (forward, loss, backward; no update)."""
    batches = _Batches.prepare(system, data.train[: steps * 128], [], True, False)
    system.model.train(), system.resolver.train()
    for s in range(steps):
        idx = list(range(s * 128, (s + 1) * 128))
        out, _ = system.forward([batches.train[i] for i in idx], batches.encoded(idx, system.device),
                                [batches.topics[i] for i in idx])
        gold = gold_mask([batches.answers[i] for i in idx], system.kg.num_entities)
        answer_loss(out.scores, gold, system.model.config.objective).backward()
        system.model.zero_grad(set_to_none=True), system.resolver.zero_grad(set_to_none=True)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Memory of evaluating a text model, by batch size", "", f"Command: `{meta['command']}`  ",
             f"{meta['dataset']}, {meta['questions']:,} test questions per pass, {meta['train_steps']} training "
             f"steps of 128 between the two groups, torch {meta['torch']}, {meta['machine']}", "",
             "| evaluated | batch | resident at start | peak | growth | time | Hits@1 |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['after']} | {r['batch']} | {r['start_gib']:.2f} GiB | {r['peak_gib']:.2f} GiB | "
                     f"+{r['growth_gib']:.2f} GiB | {r['seconds']:.1f} s | {r['hits@1']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="a text model's run folder or checkpoint")
    ap.add_argument("--dataset", default="metaqa-3hop")
    ap.add_argument("--questions", type=int, default=1536)
    ap.add_argument("--train-steps", type=int, default=30)
    ap.add_argument("--batches", default="256,64,32")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    system = QASystem.from_pretrained(args.checkpoint, kg=data.kg)
    if not system.resolves:
        raise SystemExit(f"{args.checkpoint}: not a text model (it has no entity resolver)")
    questions, sizes = data.test[: args.questions], [int(b) for b in args.batches.split(",")]
    system.evaluate(data.test[-256:])  # compiled kernels and lazily built caches, outside the passes
    rows = [measure(system, questions, b, "fresh process") for b in sizes]
    with torch.enable_grad():
        train_steps(system, data, args.train_steps)
    rows += [measure(system, questions, b, f"after {args.train_steps} training steps") for b in sizes]
    meta = run_meta(dataset=args.dataset, questions=len(questions), train_steps=args.train_steps)
    write_results("eval_memory", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
