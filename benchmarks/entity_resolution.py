"""Learned entity resolution (Rigel-E2E) against the given-entity baseline, side by side.

    python benchmarks/entity_resolution.py --datasets metaqa-1hop --variants given,span,text

Variants (``ModelConfig(entities=...)``): ``given`` — the annotated topic entity is given (the
baseline); ``span`` — the gold mention span is given, a learned resolver picks the entity (ER);
``text`` — spans and entities are learned from the question text alone (E2E). All are trained
from question–answer pairs only; the annotations are used to measure. Writes
``benchmarks/results/entity_resolution[-TAG].json`` and ``.md`` with QA Hits@1 and, for the
resolver variants, span accuracy, entity-resolution accuracy and candidate recall@K on the test
split. Needs ``KGQA_DATA`` for the real datasets.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kgqa.datasets import load_dataset
from kgqa.model import LOSSES, ModelConfig
from kgqa.resolve import ResolverConfig
from kgqa.train import TrainConfig, fit
from report import peak_rss_gib, run_meta, write_results



def run(name: str, variant: str, tc: TrainConfig, rc: ResolverConfig, runs: Path, fresh: bool,
        loss: str = ModelConfig.loss) -> dict:
    data = load_dataset(name)
    config = ModelConfig(entities=variant, loss=loss)
    result = fit(data, config, tc, run_dir=runs / f"{name}-{variant}", resume=not fresh,
                 progress=False, resolver_config=rc,
                 on_epoch=lambda row: print(f"  {name}/{variant} epoch {row['epoch']}: dev {row['dev_hits@1']:.2f} "
                                            f"({row['seconds']:.1f} s)", flush=True))
    t0 = time.perf_counter()
    test = result.system.evaluate(data.test)
    er = test.get("er", {})
    return {"dataset": name, "variant": variant, "loss": config.objective, "train": len(data.train), "test": test["n"],
            "hits@1": test["hits@1"], "span_accuracy": er.get("span_accuracy"),
            "entity_accuracy": er.get("entity_accuracy"), "candidate_recall": er.get("candidate_recall"),
            "best_epoch": result.best_epoch, "train_seconds": sum(row["seconds"] for row in result.history),
            "eval_seconds": time.perf_counter() - t0, "by_type": test["by_type"],
            "peak_rss_gib": peak_rss_gib()}  # so far in this process


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Learned entity resolution vs. given entities", "", f"Command: `{meta['command']}`  ",
             f"Encoder {meta['encoder']} (frozen), loss {meta['loss']}, resolver {meta['resolver']}, seed {meta['seed']}, "
             f"torch {meta['torch']}, {meta['machine']}", "",
             "| dataset | variant | test Hits@1 | span accuracy | ER accuracy | candidate recall@K | train time | peak RSS (process, so far) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['hits@1']:.2f} | {_fmt(r['span_accuracy'])} | "
                     f"{_fmt(r['entity_accuracy'])} | {_fmt(r['candidate_recall'])} | "
                     f"{r['train_seconds'] / 60:.1f} min | {r['peak_rss_gib']:.1f} GiB |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="toy,metaqa-1hop")
    ap.add_argument("--variants", default="given,span,text", help="comma-separated: given, span, text")
    ap.add_argument("--loss", default=ModelConfig.loss, choices=LOSSES)
    ap.add_argument("--max-words", type=int, default=ResolverConfig.max_words, help="ResolverConfig.max_words")
    ap.add_argument("--longest-match", action="store_true", help="ResolverConfig.longest_match")
    TrainConfig.add_arguments(ap, ("epochs", "seed", "max_train"))
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--runs", default="runs/bench-er", help="where checkpoints go")
    ap.add_argument("--fresh", action="store_true",
                    help="train anew even where the run folder holds a run of the same configuration "
                         "(by default an interrupted or finished run is resumed, then evaluated)")
    args = ap.parse_args()
    tc = TrainConfig.from_args(args)
    rc = ResolverConfig(max_words=args.max_words, longest_match=args.longest_match)
    rows = []
    start = time.perf_counter()
    for name in args.datasets.split(","):
        for variant in args.variants.split(","):
            print(f"== {name} / {variant}", flush=True)
            rows.append(run(name, variant, tc, rc, Path(args.runs), args.fresh, args.loss))
            r = rows[-1]
            print(f"   test Hits@1 {r['hits@1']:.2f}  ER {_fmt(r['entity_accuracy'])}  span {_fmt(r['span_accuracy'])}",
                  flush=True)
    meta = run_meta(encoder=tc.encoder, loss=args.loss, seed=tc.seed,
                    resolver=f"max_words={rc.max_words}, K={rc.candidates}, context={rc.use_context}"
                    + (", longest_match=True" if rc.longest_match else ""),
                    seconds=time.perf_counter() - start)
    write_results("entity_resolution", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
