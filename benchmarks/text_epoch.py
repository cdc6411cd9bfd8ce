"""Where the time of a text model's training epoch goes, stage by stage.

    python benchmarks/text_epoch.py [--dataset metaqa-3hop] [--epochs 2] [--max-train N] [--tag TAG]

Trains ``ModelConfig(entities="text")`` with the defaults (frozen encoder, default resolver) and
times every stage of every training step by wrapping the functions that do it: reading the cached
token vectors, span enumeration, the candidate lookup (and, inside it, the queries of the
candidate index for span texts not seen before), the rest of the resolver (span and entity
scoring, ``x_0``), ``follow``, the rest of the model (trunk, relation heads, hop attention), the
loss, ``backward`` and the optimizer step (with gradient clipping). Each stage reports its own
time, the stages it calls excluded, so the rows add up to the step. Encoding the questions once
before the first epoch and the validation pass after each epoch are timed as wholes.

The first epoch queries the index for every span text; the next ones find them in the
resolver's candidate cache: the difference between epoch 1 and 2 is that cost. Writes
``benchmarks/results/text_epoch[-TAG].json`` and ``.md``. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import defaultdict

import torch

import kgqa.model
import kgqa.train
from kgqa.datasets import load_dataset
from kgqa.encoders import EncoderCache
from kgqa.model import EndToEndQA, ModelConfig
from kgqa.resolve import EntityResolver
from kgqa.resolve import resolver as resolver_module
from kgqa.resolve.candidates import CandidateIndex
from kgqa.train import TrainConfig, fit
from report import peak_rss_gib, run_meta, write_results

STAGES = ("token vectors (cached)", "span enumeration", "candidate lookup", "index queries (new spans)",
          "resolver scoring", "follow", "model (trunk, heads, hop attention)", "loss", "backward",
          "optimizer step (with clipping)")


class Stopwatch:
    """Self time per stage: a stage's time less that of the stages it calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[float]] = []  # [start, time spent in callees]
        self.on = False  # only the training steps are split into stages

    def wrap(self, owner: object, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            if not self.on:
                return inner(*args, **kwargs)
            self.stack.append([time.perf_counter(), 0.0])
            try:
                return inner(*args, **kwargs)
            finally:
                start, nested = self.stack.pop()
                spent = time.perf_counter() - start
                self.seconds[stage] += spent - nested
                self.calls[stage] += 1
                if self.stack:
                    self.stack[-1][1] += spent

        setattr(owner, name, timed)


def instrument(watch: Stopwatch, epochs: list[dict]) -> None:
    """Wrap the stages, and the epoch and validation functions of :mod:`kgqa.train`."""
    watch.wrap(EncoderCache, "get", "token vectors (cached)")
    watch.wrap(resolver_module, "enumerate_spans", "span enumeration")
    watch.wrap(EntityResolver, "candidates", "candidate lookup")
    watch.wrap(CandidateIndex, "query", "index queries (new spans)")
    watch.wrap(EntityResolver, "forward", "resolver scoring")
    watch.wrap(kgqa.model, "follow", "follow")
    watch.wrap(EndToEndQA, "forward", "model (trunk, heads, hop attention)")
    watch.wrap(kgqa.train, "answer_loss", "loss")
    watch.wrap(torch.Tensor, "backward", "backward")
    watch.wrap(torch.optim.AdamW, "step", "optimizer step (with clipping)")
    watch.wrap(torch.nn.utils, "clip_grad_norm_", "optimizer step (with clipping)")
    train_epoch, validate = kgqa.train._train_epoch, kgqa.train._validate

    def timed_epoch(*args, **kwargs):
        watch.seconds.clear()
        watch.calls.clear()
        watch.on, start = True, time.perf_counter()
        try:
            return train_epoch(*args, **kwargs)
        finally:
            watch.on = False
            epochs.append({"epoch": len(epochs) + 1, "train_seconds": time.perf_counter() - start,
                           "stages": {s: watch.seconds.get(s, 0.0) for s in STAGES},
                           "index_queries": watch.calls.get("index queries (new spans)", 0),
                           "cached_spans": 0})

    def timed_validate(system, *args, **kwargs):
        start = time.perf_counter()
        row = validate(system, *args, **kwargs)
        epochs[-1]["validation_seconds"] = time.perf_counter() - start
        epochs[-1]["cached_spans"] = len(system.resolver.cache)
        return row

    kgqa.train._train_epoch, kgqa.train._validate = timed_epoch, timed_validate


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Where a text model's training epoch goes", "", f"Command: `{meta['command']}`  ",
             f"{meta['dataset']}, {meta['train']:,} training and {meta['dev']:,} validation questions, "
             f"batch {meta['batch']}, encoding them once {meta['encode_seconds']:.1f} s, peak resident memory "
             f"{meta['peak_rss_gib']:.2f} GiB, torch {meta['torch']}, {meta['machine']}", "",
             "| stage | " + " | ".join(f"epoch {r['epoch']}" for r in rows) + " |",
             "|---|" + "---|" * len(rows)]
    for stage in STAGES:
        cells = [f"{r['stages'][stage]:.1f} s ({100 * r['stages'][stage] / r['train_seconds']:.0f}%)" for r in rows]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    rest = [r["train_seconds"] - sum(r["stages"].values()) for r in rows]
    lines.append("| the rest of the step (batching, gold sets) | " + " | ".join(f"{x:.1f} s" for x in rest) + " |")
    lines.append("| **training, all steps** | " + " | ".join(f"**{r['train_seconds']:.1f} s**" for r in rows) + " |")
    lines.append("| validation pass | " + " | ".join(f"{r.get('validation_seconds', 0.0):.1f} s" for r in rows) + " |")
    lines.append("| index query calls / span texts cached after | " +
                 " | ".join(f"{r['index_queries']:,} / {r['cached_spans']:,}" for r in rows) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="metaqa-3hop")
    TrainConfig.add_arguments(ap, ("max_train", "epochs", "seed"))
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    tc = TrainConfig.from_args(args, TrainConfig(epochs=2))
    tc = tc.with_(patience=tc.epochs)
    watch, epochs = Stopwatch(), []
    instrument(watch, epochs)
    build, encode_seconds = EncoderCache.build, []

    def timed_build(*a, **kw):
        start = time.perf_counter()
        out = build(*a, **kw)
        encode_seconds.append(time.perf_counter() - start)
        return out

    EncoderCache.build = timed_build
    result = fit(data, ModelConfig(entities="text"), tc, progress=False)
    n_train = len(data.train) if tc.max_train is None else min(tc.max_train, len(data.train))
    meta = run_meta(dataset=args.dataset, train=n_train, dev=len(data.dev), batch=tc.steps_batch(n_train),
                    encode_seconds=sum(encode_seconds), best_dev=result.best_dev, peak_rss_gib=peak_rss_gib())
    write_results("text_epoch", args.tag, meta, epochs, markdown)


if __name__ == "__main__":
    main()
