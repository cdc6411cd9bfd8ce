"""Entity kinds (``ModelConfig(entity_kinds=True)``) against the plain model, over several seeds.

    python benchmarks/entity_kinds.py                                  # toy-full, 3 seeds (~2 min)
    python benchmarks/entity_kinds.py --datasets metaqa-1hop,metaqa-2hop --seeds 0 --epochs 4 --tag metaqa
    python benchmarks/entity_kinds.py --entities text --epochs 10 --tag text   # make demo's text model
    python benchmarks/entity_kinds.py --lr 0.001 --patience 10 --tag demo      # make demo's given-entity model
    python benchmarks/entity_kinds.py --entities text --epochs 10 --longest-match --tag text-longest

With the topic entities given and their mentions masked, "What city is something in?" is one hop
from a museum and two from a painting: the words no longer say which. Each row trains one model
(given entities, or ``--entities text``: read from the question as written, with ``make demo``'s
resolver) with and without ``entity_kinds`` and reports test Hits@1 — on ``toy-full`` per
source (generated questions in held-out phrasings, hand-written paraphrases) and whether the seed
question "What city is the Mona Lisa in?" comes out Paris — with the training time. The seeds are
reported one by one and averaged: on the toy world one seed moves a row by several points.
Writes ``benchmarks/results/entity_kinds[-TAG].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from kgqa.datasets import QADataset, load_dataset
from kgqa.model import LOSSES, ModelConfig
from kgqa.resolve import ResolverConfig
from kgqa.runtime import seed_everything
from kgqa.toy import by_source
from kgqa.train import TrainConfig, fit
from report import run_meta, write_results

MONA = "What city is the Mona Lisa in?"


def run(data: QADataset, name: str, mc: ModelConfig, tc: TrainConfig, max_test: int | None,
        longest_match: bool = False) -> dict:
    seed_everything(tc.seed)
    start = time.perf_counter()
    # the text model as make demo trains it: up to two entities, P(n) learning at full speed
    resolver = (ResolverConfig(max_entities=2, count_scale=1.0, longest_match=longest_match)
                if mc.entities == "text" else None)
    result = fit(data, mc, tc, progress=False, resolver_config=resolver)
    seconds = time.perf_counter() - start
    test = data.test if max_test is None else random.Random(0).sample(data.test, min(max_test, len(data.test)))
    system = result.system
    row = {"dataset": name, "entities": mc.entities, "entity_kinds": mc.entity_kinds, "loss": mc.objective, "intersection": mc.intersection,
           "seed": tc.seed, "test": len(test), "hits@1": system.evaluate(test)["hits@1"],
           "best_epoch": result.best_epoch, "train_seconds": seconds}
    if name.startswith("toy"):
        row["by_source"] = {src: system.evaluate(exs)["hits@1"] for src, exs in by_source(test).items()}
        mona = next(e for e in data.test if e.question == MONA)
        topics = list(mona.topics) if mc.entities == "given" else ()
        best = system.explain(MONA, topics, k=1).best
        row["mona_lisa"] = best.name if best else "(nothing)"
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# Entity kinds against the plain model ({meta.get('entities', 'given')} entities"
             + (", longest match)" if meta.get("longest_match") else ")"), "",
             f"Command: `{meta['command']}`  ", f"Loss: {meta['loss']}, intersection: {meta['intersection']}, "
             f"epochs ≤ {meta['epochs']}, learning rate {meta.get('lr', 3e-3):g}, patience {meta.get('patience', 5)}, "
             f"torch {meta['torch']}, {meta['machine']}", "",
             "| dataset | entity kinds | seed | test Hits@1 | generated / hand-written | 'What city is the Mona Lisa in?' | best epoch | train time |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        src = " / ".join(f"{v:.1f}" for v in r["by_source"].values()) if "by_source" in r else "–"
        lines.append(f"| {r['dataset']} | {r['entity_kinds']} | {r['seed']} | {r['hits@1']:.2f} | {src} | "
                     f"{r.get('mona_lisa', '–')} | {r['best_epoch']} | {r['train_seconds']:.0f} s |")
    lines += ["", "Mean over the seeds:", "", "| dataset | entity kinds | test Hits@1 | generated / hand-written | train time |",
              "|---|---|---|---|---|"]
    for (name, kinds) in dict.fromkeys((r["dataset"], r["entity_kinds"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["entity_kinds"]) == (name, kinds)]
        src = "–"
        if "by_source" in group[0]:
            src = " / ".join(f"{statistics.mean(r['by_source'][k] for r in group):.1f}" for k in group[0]["by_source"])
        lines.append(f"| {name} | {kinds} | {statistics.mean(r['hits@1'] for r in group):.2f} | {src} | "
                     f"{statistics.mean(r['train_seconds'] for r in group):.0f} s |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="toy-full")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--loss", default="softmax", choices=LOSSES)
    ap.add_argument("--intersection", default="min", choices=("none", "min", "product"))
    ap.add_argument("--entities", default="given", choices=("given", "text"))
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the package's)")
    ap.add_argument("--patience", type=int, default=TrainConfig.patience)
    ap.add_argument("--longest-match", action="store_true", help="text models: ResolverConfig.longest_match")
    ap.add_argument("--max-test", type=int, default=None, help="evaluate on N test questions drawn at random")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args()
    rows = []
    for name in args.datasets.split(","):
        data = load_dataset(name)
        for kinds in (False, True):
            for seed in (int(s) for s in args.seeds.split(",")):
                mc = ModelConfig(loss=args.loss, intersection=args.intersection, entity_kinds=kinds,
                                 entities=args.entities)
                tc = TrainConfig(epochs=args.epochs, seed=seed, patience=args.patience)
                rows.append(run(data, name, mc, tc if args.lr is None else tc.with_(lr=args.lr), args.max_test,
                                args.longest_match))
                print({k: v for k, v in rows[-1].items() if k != "by_source"}, flush=True)
    meta = run_meta(loss=args.loss, intersection=args.intersection, epochs=args.epochs, entities=args.entities,
                    lr=args.lr or TrainConfig.lr, patience=args.patience, longest_match=args.longest_match)
    write_results("entity_kinds", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
