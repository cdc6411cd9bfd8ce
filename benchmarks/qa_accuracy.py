"""Train and evaluate the end-to-end model on the real datasets; write a results table.

    python benchmarks/qa_accuracy.py                       # every dataset below
    python benchmarks/qa_accuracy.py --datasets metaqa-1hop,pq-2h
    python benchmarks/qa_accuracy.py --loss softmax --tag softmax   # the other loss, for comparison
    python benchmarks/qa_accuracy.py --entity-kinds --tag kinds     # ModelConfig(entity_kinds=True)
    python benchmarks/qa_accuracy.py --dense-kernel torch --tag torch   # follow without kgqa.follow.fused

Writes ``benchmarks/results/qa_accuracy[-TAG].json`` and ``.md``: Hits@1 on the test split,
the share of the dataset's Hits@1 ceiling where one is known, per question type, wall time,
encoder, seed and the command line. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kgqa.datasets import load_dataset, seen_in_train
from kgqa.model import LOSSES, ModelConfig
from kgqa.train import TrainConfig, fit
from kgqa.traverse import path_ceiling
from report import run_meta, write_results

DEFAULT = "metaqa-1hop,metaqa-2hop,metaqa-3hop,pq-2h,pq-3h,wc-p1,wc-p2"


def run(name: str, mc: ModelConfig, tc: TrainConfig, runs: Path, grouped: bool = False) -> dict:
    t0 = time.perf_counter()
    data = load_dataset(name, **({"grouped": True} if grouped and name.startswith("pq-") else {}))
    load_s = time.perf_counter() - t0
    result = fit(data, mc, tc, run_dir=runs / name, resume=False, overwrite=True, progress=False,
                 on_epoch=lambda row: print(f"  {name} epoch {row['epoch']}: dev {row['dev_hits@1']:.2f} "
                                            f"({row['seconds']:.1f} s)", flush=True))
    t1 = time.perf_counter()
    test = result.system.evaluate(data.test)
    eval_s = time.perf_counter() - t1
    # what following the gold path exactly can score (None without gold paths): a gold answer is
    # reached ("ceiling"), and the expected Hits@1 when ties among the reached are broken at random
    ceiling = path_ceiling(data.kg, data.test, exclude_topics=bool(result.system.model.config.mask_topics))
    row = {"dataset": name, "train": len(data.train), "dev": len(data.dev), "test": len(data.test),
           "hits@1": test["hits@1"], "hits@10": test["hits@10"], "f1": test["f1"],
           "ceiling": ceiling and ceiling["reachable"], "set_oracle": ceiling and ceiling["set_oracle"],
           "loss": result.system.model.config.objective, "best_epoch": result.best_epoch, "dev_hits@1": result.best_dev,
           "train_seconds": result.seconds, "load_seconds": load_s,
           "eval_questions_per_s": len(data.test) / eval_s, "by_type": test["by_type"],
           "test_fact_in_train": seen_in_train(data.train, data.test)}
    if row["ceiling"]:
        row["share_of_ceiling"] = 100 * row["hits@1"] / row["ceiling"]
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# End-to-end QA accuracy ({meta['setting']})", "",
             f"Command: `{meta['command']}`  ",
             f"Encoder: {meta['encoder']} (frozen: {meta['frozen']}), loss: {meta['loss']}, patience: {meta.get('patience', 5)}, hops: {meta['hops']}, "
             f"topic mentions masked: {meta['mask_mentions']}, entity kinds: {meta.get('entity_kinds', False)}, "
             f"seed: {meta['seed']}, dense follow kernel: {meta['dense_kernel']}, torch {meta['torch']}, "
             f"{meta['machine']}", "",
             "| dataset | train / dev / test | test Hits@1 | share of ceiling | set oracle | Hits@10 | F1 | train time | eval q/s | test facts in train |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        share = f"{r['share_of_ceiling']:.1f}% of {r['ceiling']:.1f}" if r.get("ceiling") else "–"
        oracle = f"{r['set_oracle']:.2f}" if r.get("set_oracle") is not None else "–"
        lines.append(f"| {r['dataset']} | {r['train']:,} / {r['dev']:,} / {r['test']:,} | {r['hits@1']:.2f} | {share} | {oracle} | "
                     f"{r['hits@10']:.2f} | {r['f1']:.2f} | {r['train_seconds'] / 60:.1f} min | {r['eval_questions_per_s']:,.0f} | "
                     f"{r.get('test_fact_in_train', '–')} |")
    lines += ["", "Ceiling: share of test questions where following the gold relation path reaches a gold "
              "answer. Set oracle: expected Hits@1 of following it exactly and breaking ties among the "
              "reached entities at random (below the ceiling where one entity stands for several things, "
              "such as MetaQA films that share a title). Test facts in train: test questions whose topics and "
              "answer set (their fact, in other words) some training question has too.", "", "Per question type (test Hits@1):", ""]
    for r in rows:
        if len(r["by_type"]) > 1:
            lines.append(f"- **{r['dataset']}**: " + "; ".join(f"{g} {v['hits@1']:.1f} (n={v['n']})"
                                                          for g, v in r["by_type"].items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=DEFAULT)
    ap.add_argument("--loss", default=ModelConfig.loss, choices=LOSSES)
    ap.add_argument("--hops", type=int, default=3)
    TrainConfig.add_arguments(ap, ("epochs", "patience", "seed"))
    ap.add_argument("--no-mask", action="store_true", help="encode topic mentions instead of masking them")
    ap.add_argument("--entity-kinds", action="store_true", help="ModelConfig(entity_kinds=True)")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--runs", default="runs/bench", help="where checkpoints go")
    ap.add_argument("--grouped", action="store_true",
                    help="PathQuestion: keep the paraphrases of one fact on one side of the split")
    ap.add_argument("--dense-kernel", default="auto", choices=("auto", "fused", "torch"),
                    help="how follow runs (kgqa.follow: the kernel argument)")
    args = ap.parse_args()
    mc = ModelConfig(hops=args.hops, loss=args.loss, mask_mentions=not args.no_mask, entity_kinds=args.entity_kinds)
    tc = TrainConfig.from_args(args, kernel=args.dense_kernel)
    rows = []
    for name in args.datasets.split(","):
        print(f"== {name}", flush=True)
        rows.append(run(name, mc, tc, Path(args.runs), args.grouped))
        print(f"   test Hits@1 {rows[-1]['hits@1']:.2f}", flush=True)
    meta = run_meta(encoder=tc.encoder, frozen=tc.freeze_encoder, loss=mc.objective, hops=args.hops, patience=tc.patience,
                    mask_mentions=not args.no_mask, entity_kinds=args.entity_kinds, seed=tc.seed, dense_kernel=args.dense_kernel,
                    setting="MetaQA dev-trained; PathQuestion/WorldCup2014 seeded 80/10/10"
                    + ("; PathQuestion split by fact (paraphrases kept together)" if args.grouped else ""))
    write_results("qa_accuracy", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
