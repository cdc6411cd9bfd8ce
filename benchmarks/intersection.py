"""Intersection vs. the sum baseline on questions with one and with several topic entities.

    python benchmarks/intersection.py                                  # toy, wc-all, metaqa-multi
    python benchmarks/intersection.py --datasets wc-all --combine none,min
    python benchmarks/intersection.py --datasets wc-all --combine none,min --entities given,text

For each dataset the same model is trained once per way of combining the topic entities —
``none`` (all topics summed into x_0, one walk: the baseline), ``min`` (one branch per entity,
element-wise minimum: Rigel-Intersect) and ``product`` — with the same seed and data, and
evaluated on the test split, split into single- and multi-entity questions. ``--entities``
also trains the models that find their entities in the text (``text``: spans, entities and their
number learned from the answers alone; ``span``: the gold mentions given, the entities learned);
their rows add the share of test questions whose likeliest reading names exactly the gold
entities. Writes ``benchmarks/results/intersection.json`` and ``.md``. Needs ``KGQA_DATA`` for
the real datasets.

``wc-all`` is WorldCup2014 P1 + P2 + C with duplicate lines removed (``dedupe=True``), so that
no test question is also a training question; its multi-entity test questions are WC-C's.
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

OPTIONS = {"wc-all": {"dedupe": True}, "wc-c": {"dedupe": True}}


def run(name: str, combine: str, entities: str, tc: TrainConfig, runs: Path, count_scale: float | None = None,
        loss: str = ModelConfig.loss, max_words: int | None = None) -> dict:
    data = load_dataset(name, **OPTIONS.get(name, {}))
    tag = f"{name}/{combine}/{entities}"
    folder = runs / (f"{name}-{combine}" + ("" if entities == "given" else f"-{entities}"))
    resolver = None
    if entities != "given":  # the defaults, but for what the command line sets
        overrides = {k: v for k, v in (("count_scale", count_scale), ("max_words", max_words)) if v is not None}
        resolver = ResolverConfig(max_entities=2 if combine != "none" else 1, **overrides)
    config = ModelConfig(intersection=combine, entities=entities, loss=loss)
    result = fit(data, config, tc, run_dir=folder, resume=False, overwrite=True,
                 resolver_config=resolver,
                 progress=False, on_epoch=lambda row: print(f"  {tag} epoch {row['epoch']}: dev "
                                                           f"{row['dev_hits@1']:.2f} ({row['seconds']:.1f} s)",
                                                           flush=True))
    test = result.system.evaluate(data.test)
    groups = test["by_topics"]
    multi = [v for k, v in groups.items() if k != "1 entity"]
    n_multi = sum(v["n"] for v in multi)

    def multi_mean(key: str) -> float | None:
        return sum(v[key] * v["n"] for v in multi) / n_multi if n_multi else None

    return {"dataset": name, "combine": combine, "entities": entities, "loss": config.objective, "count_scale": count_scale,
            "max_words": resolver.max_words if resolver is not None else None,
            "train": min(len(data.train), tc.max_train or len(data.train)), "test": test["n"],
            "hits@1": test["hits@1"], "single_n": groups.get("1 entity", {}).get("n", 0),
            "single_hits@1": groups.get("1 entity", {}).get("hits@1"),
            "multi_n": n_multi, "multi_hits@1": multi_mean("hits@1"), "multi_f1": multi_mean("f1"),
            "er": test.get("er"), "best_epoch": result.best_epoch, "train_seconds": result.seconds,
            "by_type": test["by_type"],
            "peak_rss_gib": peak_rss_gib()}  # so far in this process


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Intersection vs. the sum baseline", "", f"Command: `{meta['command']}`  ",
             f"Encoder {meta['encoder']} (frozen), loss {meta['loss']}, seed {meta['seed']}, torch {meta['torch']}, {meta['machine']}", "",
             "| dataset | combine | entities | test Hits@1 | single-entity (n) | multi-entity (n) | multi Δ vs none | "
             "single Δ vs none | multi F1 | reading right | train time | peak RSS (process, so far) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["dataset"], r.get("entities", "given")): r for r in rows if r["combine"] == "none"}
    for r in rows:
        entities = r.get("entities", "given")
        b = base.get((r["dataset"], entities))
        if r.get("count_scale") is not None and entities != "given":
            entities += f" (count_scale {r['count_scale']})"
        er = r.get("er") or {}
        reading = f"{er['entity_set_accuracy']:.2f}" if "entity_set_accuracy" in er else "–"

        def delta(key: str, r: dict = r, b: dict | None = b) -> str:
            if b is None or r is b or r[key] is None or b[key] is None:
                return "–"
            return f"{r[key] - b[key]:+.2f}"

        lines.append(f"| {r['dataset']} ({r['train']:,} train) | {r['combine']} | {entities} | {r['hits@1']:.2f} | {_fmt(r['single_hits@1'])} "
                     f"({r['single_n']}) | {_fmt(r['multi_hits@1'])} ({r['multi_n']}) | {delta('multi_hits@1')} | "
                     f"{delta('single_hits@1')} | {_fmt(r.get('multi_f1'))} | {reading} | "
                     f"{r['train_seconds'] / 60:.1f} min | {r['peak_rss_gib']:.1f} GiB |")
    lines += ["", "Δ: against the `none` row with the same entities. Multi F1: answer-set F1 on the multi-entity "
              "questions. Reading right: share of test questions whose likeliest reading names exactly the gold "
              "entities (models that find their entities in the text).", "", "Per question type (test Hits@1):", ""]
    for r in rows:
        lines.append(f"- **{r['dataset']} / {r['combine']} / {r.get('entities', 'given')}**: " + "; ".join(
            f"{g} {v['hits@1']:.1f} (n={v['n']})" for g, v in r["by_type"].items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="toy,wc-all,metaqa-multi")
    ap.add_argument("--combine", default="none,min,product", help="comma-separated: none, min, product")
    ap.add_argument("--entities", default="given", help="comma-separated: given, span, text")
    ap.add_argument("--count-scale", type=float, help="ResolverConfig.count_scale of the text models (default 0.1)")
    ap.add_argument("--max-words", type=int, help=f"ResolverConfig.max_words of the text models (default {ResolverConfig.max_words})")
    ap.add_argument("--loss", default=ModelConfig.loss, choices=LOSSES)
    TrainConfig.add_arguments(ap, ("epochs", "seed", "max_train"))
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--runs", default="runs/bench-intersection", help="where checkpoints go")
    args = ap.parse_args()
    tc = TrainConfig.from_args(args)
    rows = []
    start = time.perf_counter()
    for name in args.datasets.split(","):
        for entities in args.entities.split(","):
            for combine in args.combine.split(","):
                print(f"== {name} / {combine} / {entities}", flush=True)
                rows.append(run(name, combine, entities, tc, Path(args.runs), args.count_scale, args.loss, args.max_words))
                r = rows[-1]
                print(f"   test Hits@1 {r['hits@1']:.2f}  single {_fmt(r['single_hits@1'])}  "
                      f"multi {_fmt(r['multi_hits@1'])}  multi F1 {_fmt(r['multi_f1'])}", flush=True)
    meta = run_meta(encoder=tc.encoder, loss=args.loss, seed=tc.seed, seconds=time.perf_counter() - start)
    write_results("intersection", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
