"""Choosing the toy world's learning rate without its test set: validation on held-out *training* phrasings.

    python benchmarks/toy_step_size.py                            # given entities, 3 rates x 3 seeds (~3 min)
    python benchmarks/toy_step_size.py --entities text --rates 0.003,0.001 --tag text   # (~9 min)
    python benchmarks/toy_step_size.py --intersection none --rates 0.003,0.001 --tag none  # chapter 4's model

The toy test asks in phrasings no training question uses. The dev slice ``toy-full`` validates on
is drawn from the training questions, so it shares their phrasings: it reaches 97–100% within a
few epochs and cannot tell a step size that memorises the phrasings from one that generalises.
Here the training phrasings themselves are split: in every question type with at least three
training phrasings, one phrasing (drawn with ``--split-seed``) is held out, its questions become
the validation set, and the model trains on the rest (its own dev slice for early stopping drawn
as ``toy-full`` draws it). The held-out phrasings play the test's part; the test split is never
read. Each row: learning rate, seed, Hits@1 on the held-out training phrasings, the dev slice's
Hits@1 (same phrasings), best epoch and time; for a text model, how it reads the two-entity seed
question (a test question, in no split here). ``make demo``'s models: given entities (softmax loss,
``intersection="min"``, entity kinds) and from text (``--entities text``, up to two entities);
``--intersection none``: chapter 4's given-entity model (one walk, softmax loss, entity kinds).
Writes ``benchmarks/results/toy_step_size[-TAG].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from kgqa.datasets import load_dataset, split_examples
from kgqa.model import ModelConfig
from kgqa.resolve import ResolverConfig
from kgqa.runtime import seed_everything
from kgqa.toy_templates import TEMPLATES, phrasing_pattern
from kgqa.train import TrainConfig, fit
from report import run_meta, write_results

PORTMAN = "Who did Natalie Portman play in Star Wars Episode II?"  # a test question: never trained on


def held_out_split(examples: list, seed: int) -> tuple[list, list, list[str]]:
    """``(train, validation, phrasings)``: one training phrasing of every question type with at least
    three is held out; the questions it phrases form the validation set."""
    rng = random.Random(seed)
    chosen = []
    for templates in TEMPLATES.values():
        trained = [t for t in templates if not t.startswith("~")]
        if len(trained) >= 3:
            chosen.append(rng.choice(trained))
    patterns = [phrasing_pattern(t) for t in chosen]
    kept, held = [], []
    for ex in examples:
        (held if any(p.fullmatch(ex.question) for p in patterns) else kept).append(ex)
    return kept, held, chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", default="given", choices=("given", "text"))
    ap.add_argument("--intersection", default="min", choices=("none", "min"),
                    help="min: make demo's models; none (given entities): chapter 4's single walk")
    ap.add_argument("--rates", default="0.003,0.001,0.0003", help="learning rates to compare")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--patience", type=int, default=TrainConfig.patience)
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--split-seed", type=int, default=0, help="which training phrasings are held out")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    data = load_dataset("toy-full")
    kept, held, phrasings = held_out_split(data.train + data.dev, args.split_seed)
    print(f"{len(phrasings)} phrasings held out: {len(held)} validation questions, {len(kept)} left to train on")
    mc = ModelConfig(intersection=args.intersection, entity_kinds=True,
                     **({"entities": "text"} if args.entities == "text" else {"loss": "softmax"}))
    resolver = ResolverConfig(max_entities=2, count_scale=1.0) if args.entities == "text" else None
    rows = []
    for lr in (float(r) for r in args.rates.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            train, dev, _ = split_examples(kept, (0.9, 0.1, 0.0), seed)
            sub = type(data)(data.name, data.kg, train, dev, held, data.notes)
            seed_everything(seed)
            start = time.perf_counter()
            tc = TrainConfig(lr=lr, seed=seed, patience=args.patience, epochs=args.epochs)
            result = fit(sub, mc, tc, progress=False, resolver_config=resolver)
            rows.append({"lr": lr, "seed": seed, "held_out_hits@1": result.system.evaluate(held)["hits@1"],
                         "dev_hits@1": result.best_dev, "best_epoch": result.best_epoch,
                         "epochs_run": len(result.history), "train_seconds": time.perf_counter() - start})
            if args.entities == "text":  # how the model reads the seed question with two entities
                trace = result.system.explain(PORTMAN, k=1)
                best = trace.readings[0]
                rows[-1]["portman_reading"] = {"mentions": [trace.mentions[i].text for i in best.slots],
                                               "weight": best.weight}
            print(rows[-1], flush=True)
    meta = run_meta(entities=args.entities, intersection=args.intersection, patience=args.patience, epochs=args.epochs,
                    split_seed=args.split_seed, held_out=len(held), trained_on=len(kept), phrasings=phrasings)
    write_results("toy_step_size", args.tag, meta, rows, markdown)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# The toy world's learning rate, chosen on held-out training phrasings ({meta['entities']} entities, "
             f"intersection {meta.get('intersection', 'min')})", "",
             f"Command: `{meta['command']}`  ",
             f"{len(meta['phrasings'])} training phrasings held out ({meta['held_out']} questions) from "
             f"{meta['held_out'] + meta['trained_on']}; epochs ≤ {meta['epochs']}, patience {meta['patience']}; "
             f"the test split is not read; torch {meta['torch']}, {meta['machine']}", "",
             "| learning rate | seed | held-out phrasings Hits@1 | dev slice Hits@1 | best epoch / run | train time |",
             "|---|---|---|---|---|---|"]
    text = any("portman_reading" in r for r in rows)
    if text:
        lines[-2:] = [lines[-2] + f" '{PORTMAN}' read as |", lines[-1] + "---|"]
    for r in rows:
        line = (f"| {r['lr']:g} | {r['seed']} | {r['held_out_hits@1']:.2f} | {r['dev_hits@1']:.2f} | "
                f"{r['best_epoch']} / {r['epochs_run']} | {r['train_seconds']:.0f} s |")
        if text:
            read = r["portman_reading"]
            line += f" {' + '.join(read['mentions'])} ({read['weight']:.2f}) |"
        lines.append(line)
    lines += ["", "| learning rate | held-out phrasings, mean ± std over the seeds | dev slice, mean |", "|---|---|---|"]
    for lr in dict.fromkeys(r["lr"] for r in rows):
        held = [r["held_out_hits@1"] for r in rows if r["lr"] == lr]
        dev = [r["dev_hits@1"] for r in rows if r["lr"] == lr]
        spread = statistics.stdev(held) if len(held) > 1 else 0.0
        lines.append(f"| {lr:g} | {statistics.mean(held):.2f} ± {spread:.2f} | {statistics.mean(dev):.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
