"""What checking its inputs costs ``follow``: the value check against the hop it guards.

Run from the repository root::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/validation.py [--threads 1]

``follow(kb, x, r)`` checks by default that ``x`` and ``r`` are finite and non-negative
(:func:`kgqa.follow.checks.check_weights`, one ``aminmax`` over ``x``): a mistake caught there gets an error
that names the tensor instead of a wrong answer. The check reads all of ``x``, as a dense hop does,
so it must stay a small part of the hop. Timed round-robin in one process, on the MetaQA KB with
inverse relations (or a synthetic graph of 10^5 facts when ``KGQA_DATA`` is unset), for B = 1,
16, 64, 256 and three kinds of ``x``: one-hot rows in the entity-major layout that
:func:`kgqa.sets.one_hot` returns, the same rows in a plain row-major ``(B, E)`` tensor, and a
fully dense entity-major ``x`` (what a hop returns); ``r`` is a softmax over relations.

Measured per call: the hop without the check (``validate=False``), the hop with it, the check
alone, and as the baseline ``torch.aminmax`` over ``x`` as given — a transposed view read out of
memory order, which is what the check did before it reduced over ``x`` in storage order; and
``torch.zeros(B, E)``, the allocation every hop's dense result needs at least.
Results: ``benchmarks/results/validation.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from follow import load_graph, one_hot_rows, time_round_robin
from kgqa.follow import ReifiedKG, follow
from kgqa.follow.checks import check_weights
from report import run_meta, write_results

BATCHES = (1, 16, 64, 256)
KINDS = ("one-hot, entity-major", "one-hot, row-major", "dense, entity-major")


def make_x(kind: str, starts: torch.Tensor, E: int, g: torch.Generator) -> torch.Tensor:
    B = starts.numel()
    if kind == "one-hot, entity-major":
        return one_hot_rows(starts, E)
    if kind == "one-hot, row-major":
        x = torch.zeros(B, E)
        x[torch.arange(B), starts] = 1
        return x
    return (torch.rand(E, B, generator=g) + 0.01).t()


def measure(kb: ReifiedKG, budget: float, max_rounds: int) -> list[dict]:
    E, R = kb.num_entities, kb.num_relations
    rows = []
    for B in BATCHES:
        g = torch.Generator().manual_seed(B)
        starts = torch.randint(0, E, (B,), generator=g)
        r = torch.softmax(torch.randn(B, R, generator=g), 1)
        for kind in KINDS:
            x = make_x(kind, starts, E, g)
            fns = {"hop": lambda: follow(kb, x, r, validate=False),
                   "hop, checked": lambda: follow(kb, x, r),
                   "check": lambda: check_weights("x", x, (None, E), "(B, E)"),
                   "aminmax as given": lambda: torch.aminmax(x),
                   "zeros": lambda: torch.zeros(B, E)}
            times = time_round_robin(fns, budget, max_rounds)
            row = {"B": B, "x": kind, **{k: v[0] for k, v in times.items()}, "rounds": times["hop"][1]}
            rows.append(row)
            print(f"  B={B:<3} {kind:<22} " + "  ".join(f"{k}={v[0] * 1e3:.3f}ms" for k, v in times.items()),
                  flush=True)
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# What checking its inputs costs `follow`", "",
             f"Command: `{meta['command']}`  ", f"Graph {meta['graph']}; torch {meta['torch']}, {meta['machine']}, "
             f"{meta['seconds']:.0f} s", "",
             "Milliseconds a call (median over interleaved rounds). Check share: (hop, checked − hop) ÷ hop. "
             "Speed-up: `aminmax` over x as given ÷ the check. Zeros: `torch.zeros(B, E)`, what allocating a dense "
             "result costs at least.", "",
             "| B | x | hop | hop, checked | check share | check | aminmax as given | speed-up | zeros |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        share = (r["hop, checked"] - r["hop"]) / r["hop"]
        lines.append(f"| {r['B']} | {r['x']} | {r['hop'] * 1e3:.3f} | {r['hop, checked'] * 1e3:.3f} | {share:+.0%} | "
                     f"{r['check'] * 1e3:.3f} | {r['aminmax as given'] * 1e3:.3f} | "
                     f"{r['aminmax as given'] / r['check']:.1f}× | {r['zeros'] * 1e3:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per (B, x)")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    name = "metaqa" if os.environ.get("KGQA_DATA") else "syn1e5"
    if name != "metaqa":
        print("KGQA_DATA is not set: a synthetic graph of 1e5 facts instead of the MetaQA KB")
    start = time.perf_counter()
    triples, E, R = load_graph(name)
    kb = ReifiedKG.from_tensors(triples, E, R)
    rows = measure(kb, args.budget, max_rounds=30)
    graph = f"{name}: {kb.num_triples:,} facts, {E:,} entities, {R} relations"
    meta = run_meta(graph=graph, seconds=time.perf_counter() - start)
    write_results("validation", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
