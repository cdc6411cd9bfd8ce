"""Resident memory of training a model that reads its entities from the text, epoch by epoch.

    python benchmarks/resolver_memory.py [--dataset metaqa-1hop] [--max-train 2000] [--epochs 3] [--release-every 10]

Trains ``ModelConfig(entities="text")`` (frozen encoder, default resolver) on a seeded subset and
records the process's resident set size after loading, and after each epoch (training plus the
validation pass). A resolver queries the candidate index once per new span text, so memory that
grows with the questions seen — not with the epochs — points at the candidate lookups; memory
that grows with the epochs, and falls back with ``--release-every`` > 0, is freed heap the C
library kept (:func:`kgqa.runtime.release_memory`). Writes
``benchmarks/results/resolver_memory[-TAG].json`` and ``.md``. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse

import kgqa.train
from kgqa.datasets import load_dataset
from kgqa.model import ModelConfig
from kgqa.train import TrainConfig, fit
from report import peak_rss_gib, rss_gib, run_meta, write_results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="metaqa-1hop")
    TrainConfig.add_arguments(ap, ("max_train", "max_eval", "epochs", "seed"))
    ap.add_argument("--release-every", type=int, default=kgqa.train.RELEASE_EVERY,
                    help="training steps between hand-backs of freed heap memory (0: never)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    kgqa.train.RELEASE_EVERY = args.release_every
    data = load_dataset(args.dataset)
    rows = [{"stage": "dataset loaded", "rss_gib": rss_gib()}]

    def on_epoch(row: dict) -> None:
        rows.append({"stage": f"epoch {row['epoch']}", "rss_gib": rss_gib(),
                     "seconds": row["seconds"]})
        print(f"  epoch {row['epoch']}: {rows[-1]['rss_gib']:.2f} GiB", flush=True)

    tc = TrainConfig.from_args(args, TrainConfig(max_train=2000, max_eval=500, epochs=3))
    tc = tc.with_(patience=tc.epochs)
    fit(data, ModelConfig(entities="text"), tc, progress=False, on_epoch=on_epoch)
    meta = run_meta(dataset=args.dataset, max_train=tc.max_train, max_eval=tc.max_eval, seed=tc.seed,
                    release_every=args.release_every, peak_rss_gib=peak_rss_gib())

    def markdown(rows: list[dict], meta: dict) -> str:
        lines = ["# Memory of training a text-reading model", "", f"Command: `{meta['command']}`  ",
                 f"{meta['dataset']}, {meta['max_train']:,} training and {meta['max_eval']:,} validation questions, "
                 f"seed {meta['seed']}, freed heap memory handed back every {meta['release_every']} steps "
                 f"(0: never), torch {meta['torch']}, {meta['machine']}", "",
                 "| after | resident memory |", "|---|---|"]
        lines += [f"| {r['stage']} | {r['rss_gib']:.2f} GiB |" for r in rows]
        lines += ["", f"Peak resident memory of the process: {meta['peak_rss_gib']:.2f} GiB."]
        return "\n".join(lines) + "\n"

    write_results("resolver_memory", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
