"""Operations beyond follow: the operation controller on metaqa-ops and wc-ops, and what it costs elsewhere.

    python benchmarks/operations.py                                   # metaqa-ops and wc-ops
    python benchmarks/operations.py --program-loss marginal,expected,mixed            # the three program losses
    python benchmarks/operations.py --datasets metaqa-ops --sigma 0.25,0.5,1.0 --tag sigma
    python benchmarks/operations.py --datasets metaqa-1hop,metaqa-multi --controller off,on --tag regression
    python benchmarks/operations.py --datasets metaqa-ops --entity-kinds on,off --tag kinds

Each row trains one model (frozen MiniLM, given entities, one branch per topic, entity kinds on
unless ``--entity-kinds off``) on a dataset, with
the operation controller on or off, its program loss (``marginal``: each program's answer scored on
its own, marginalised over the programs; ``expected``: the programs' losses weighted by π; ``mixed``: the
mixed answer scored) and the count
distribution's width ``--sigma``, and evaluates it
on the test split: Hits@1 overall and per operation (the gold operation each generated question
records), the share of questions whose likeliest program is their operation (measured only, never
trained on), and, per question type, the controller's mean program distribution (the heat map of
chapter 8). Writes ``benchmarks/results/operations[-TAG].json`` and ``.md``. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kgqa.datasets import load_dataset
from kgqa.model import ModelConfig
from kgqa.operations import PROGRAMS, program_means
from kgqa.train import TrainConfig, fit
from report import peak_rss_gib, run_meta, write_results

SIZED = ("metaqa-ops", "wc-ops", "metaqa-multi")  # generated datasets whose size --sizes sets


def run(name: str, controller: bool, sigma: float, program_loss: str, tc: TrainConfig, runs: Path,
        sizes: dict[str, int], kinds: bool = False) -> dict:
    data = load_dataset(name, **(sizes if name in SIZED else {}))
    tag = f"{name}/{program_loss if controller else 'plain'}/sigma{sigma}" + ("/kinds" if kinds else "")
    config = ModelConfig(intersection="min", operations=controller, count_sigma=sigma, program_loss=program_loss,
                         entity_kinds=kinds)
    folder = runs / tag.replace("/", "-")
    t0 = time.perf_counter()
    result = fit(data, config, tc, run_dir=folder, resume=False, overwrite=True, progress=False,
                 on_epoch=lambda row: print(f"  {tag} epoch {row['epoch']}: dev {row['dev_hits@1']:.2f} "
                                            f"({row['seconds']:.1f} s)", flush=True))
    wall = time.perf_counter() - t0
    test = result.system.evaluate(data.test)
    row = {"dataset": name, "controller": controller, "entity_kinds": kinds, "sigma": sigma, "program_loss": program_loss if controller else None,
           "train": len(data.train), "test": test["n"],
           "hits@1": test["hits@1"], "by_operation": test.get("by_operation"), "by_type": test["by_type"],
           "program_accuracy": test.get("program_accuracy"), "best_epoch": result.best_epoch,
           "train_seconds": result.seconds, "wall_seconds": wall, "peak_rss_gib": peak_rss_gib(),
           "run": str(folder)}
    if controller:
        row["programs"] = program_means(result.system, data.test)
    return row


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def markdown(rows: list[dict], meta: dict) -> str:
    ops = ["follow", "intersect", "union", "difference", "count", "argmax", "argmin"]
    lines = ["# Operations beyond follow", "", f"Command: `{meta['command']}`  ",
             f"Encoder {meta['encoder']} (frozen), given entities, seed {meta['seed']}, sizes {meta.get('sizes')}, "
             f"torch {meta['torch']}, {meta['machine']}", "",
             "| dataset | train | controller | entity kinds | program loss | σ | test Hits@1 | " + " | ".join(ops)
             + " | program right | train time | peak RSS |",
             "|---|---|---|---|---|---|---|" + "---|" * len(ops) + "---|---|---|"]
    for r in rows:
        by = r.get("by_operation") or {}
        cells = [_fmt(by[o]["hits@1"]) if o in by else "–" for o in ops]
        lines.append(f"| {r['dataset']} | {r['train']:,} | {'on' if r['controller'] else 'off'} | "
                     f"{'on' if r.get('entity_kinds') else 'off'} | "
                     f"{r.get('program_loss') or '–'} | "
                     f"{r['sigma'] if r['controller'] else '–'} | {r['hits@1']:.2f} | "
                     + " | ".join(cells) + f" | {_fmt(r.get('program_accuracy'))} | {r['train_seconds'] / 60:.1f} min "
                     f"(best epoch {r['best_epoch']}) | {r['peak_rss_gib']:.2f} GiB |")
    for r in rows:
        if not r.get("programs"):
            continue
        kinds = ", entity kinds" if r.get("entity_kinds") else ""
        lines += ["", f"Mean program probability per question type, {r['dataset']} test ({r.get('program_loss')} "
                  f"program loss, σ = {r['sigma']}{kinds}):", "",
                  "| question type | " + " | ".join(PROGRAMS) + " |", "|---|" + "---|" * len(PROGRAMS)]
        for qtype, probs in r["programs"].items():
            lines.append(f"| {qtype} | " + " | ".join(f"{probs[p]:.2f}" for p in PROGRAMS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="metaqa-ops,wc-ops")
    ap.add_argument("--controller", default="on", help="on, off or both (comma-separated)")
    ap.add_argument("--sigma", default="0.5", help="count distribution widths, comma-separated")
    ap.add_argument("--program-loss", default="marginal", help="marginal, expected, mixed (comma-separated)")
    ap.add_argument("--entity-kinds", default="on", help="on, off or both (comma-separated): a hop weighs only "
                                                          "relations that leave its entities")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--sizes", default="", help="n_train,n_dev,n_test of the generated datasets (per template "
                                               "for metaqa-ops and wc-ops; default: the dataset's own)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default="runs/operations")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    tc = TrainConfig(epochs=args.epochs, seed=args.seed)
    sizes = dict(zip(("n_train", "n_dev", "n_test"), map(int, args.sizes.split(",")))) if args.sizes else {}
    rows = []
    for name in args.datasets.split(","):
        for controller in (c.strip() == "on" for c in args.controller.split(",")):
            for loss in (args.program_loss.split(",") if controller else ["marginal"]):
                for sigma in (float(s) for s in args.sigma.split(",")) if controller else [0.5]:
                    for kinds in (k.strip() == "on" for k in args.entity_kinds.split(",")):
                        rows.append(run(name, controller, sigma, loss, tc, Path(args.runs), sizes, kinds))
                        print(rows[-1]["dataset"], rows[-1]["hits@1"], rows[-1].get("program_accuracy"), flush=True)
    write_results("operations", args.tag, run_meta(encoder=tc.encoder, seed=args.seed, sizes=sizes or "default"),
                  rows, markdown)


if __name__ == "__main__":
    main()
