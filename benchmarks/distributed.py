"""The reified graph sharded over processes: build time, memory per rank, hop throughput, all-reduce share.

    python benchmarks/distributed.py                                  # 10^7 and 5·10^7 facts over 1, 2, 4 processes
    python benchmarks/distributed.py --facts 1e6 --ranks 1,2 --tag small
    python benchmarks/distributed.py --device cuda --ranks 1,2 --tag cuda   # NCCL, one GPU per process

A synthetic graph of ``T`` facts over ``E = T / 10`` entities and 50 relations: every entity is the
subject of 10 facts with random relations and objects, generated in blocks of 10,000 subjects, each
block from its own seed — so every layout holds the same graph, and each rank generates only the
blocks of its contiguous range of subjects (as if it read its part of a split saved once, ``kgqa
shard``). Each process count runs as that many local processes (gloo over 127.0.0.1), each on
``cores / N`` threads (torchrun's own default is 1), measuring:

- ``build``: generating the rank's facts and reifying them (:class:`kgqa.follow.ShardedReifiedKG`);
- ``peak``: the rank's peak resident memory (``ru_maxrss``) after the timings below;
- ``dense hop``: one hop of B = 16 rows with every entity weighted (the dense frontier), forward
  and backward to ``x`` and ``r`` — the work that sharding divides;
- ``train step``: a 2-hop walk from B = 16 one-hot starts with learned relation weights, a loss
  against random targets, backward and an SGD step — a training step on the sharded graph, whose
  hops touch few facts: there the ``B × E`` all-reduces dominate;
- ``all-reduce``: one all-reduce of a ``(B, E)`` float32 tensor alone; its ``share`` is the time of
  the all-reduces a step makes (dense hop: 2 of ``(B, E)``; train step: 4) over the step's time.

Times are medians over ``--repeat`` repetitions after one warm-up. ``× 1 process`` compares each
throughput with one process's on the same graph in the same run. Writes
``benchmarks/results/distributed[-TAG].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from report import peak_rss_gib, run_meta, write_results

DEGREE, RELATIONS, BLOCK, B = 10, 50, 10_000, 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _block_facts(block: int, E: int) -> torch.Tensor:
    """The ``(n, 3)`` facts of subjects ``block·BLOCK ..``: DEGREE each, from the block's own seed."""
    lo, hi = block * BLOCK, min(E, (block + 1) * BLOCK)
    g = torch.Generator().manual_seed(1000 + block)
    n = (hi - lo) * DEGREE
    s = torch.arange(lo, hi).repeat_interleave(DEGREE)
    return torch.stack([s, torch.randint(RELATIONS, (n,), generator=g), torch.randint(E, (n,), generator=g)], 1)


def _timed(fn, repeat: int, cuda: bool = False) -> float:
    def run() -> None:
        fn()
        if cuda:
            torch.cuda.synchronize()

    run()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(rank: int, world: int, port: int, T: int, repeat: int, out: str, device: str = "cpu") -> None:
    import torch.distributed as dist

    from kgqa.follow import ReifiedKG, ShardedReifiedKG, follow

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    group, cuda = None, device == "cuda"
    if cuda:
        torch.cuda.set_device(rank)
        device = f"cuda:{rank}"
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world)
    E = T // DEGREE
    blocks = -(-E // BLOCK)
    mine = range(blocks * rank // world, blocks * (rank + 1) // world)
    t0 = time.perf_counter()
    facts = torch.cat([_block_facts(b, E) for b in mine]) if len(mine) else torch.zeros(0, 3, dtype=torch.int64)
    offset = mine.start * BLOCK * DEGREE
    local = ReifiedKG(facts, E, RELATIONS, device=device)
    kb = ShardedReifiedKG(local, torch.arange(offset, offset + facts.shape[0]), T, group=group)
    del facts
    build = time.perf_counter() - t0
    g = torch.Generator().manual_seed(7)
    x = torch.rand(B, E, generator=g).to(device)
    r = torch.rand(B, RELATIONS, generator=g).to(device)
    up = torch.rand(B, E, generator=g).to(device)

    def dense_hop() -> None:
        xg, rg = x.clone().requires_grad_(True), r.clone().requires_grad_(True)
        (follow(kb, xg, rg, frontier="dense", validate=False) * up).sum().backward()

    logits = torch.zeros(2, RELATIONS, device=device, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=0.1)
    starts = torch.randint(E, (B,), generator=g)
    x0 = torch.zeros(B, E)
    x0[torch.arange(B), starts] = 1.0
    x0 = x0.to(device)
    target = (torch.rand(B, E, generator=g) < 1e-3).float().to(device)

    def train_step() -> None:
        y = x0
        for t in range(2):
            y = follow(kb, y, torch.softmax(logits[t], 0).expand(B, -1), validate=False)
        loss = ((y - target) ** 2).sum() / B
        opt.zero_grad()
        loss.backward()
        opt.step()

    row = {"rank": rank, "facts": kb.local.num_triples, "build_s": build, "index_gib": kb.memory_bytes() / 2**30,
           "dense_hop_s": _timed(dense_hop, repeat, cuda), "train_step_s": _timed(train_step, repeat, cuda)}
    if world > 1:
        buf = torch.rand(B, E, device=device)
        row["allreduce_s"] = _timed(lambda: dist.all_reduce(buf, group=group), repeat, cuda)
    row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else peak_rss_gib()
    Path(out).write_text(json.dumps(row))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def measure(T: int, world: int, repeat: int, device: str = "cpu") -> dict:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        outs = [str(Path(tmp) / f"rank{r}.json") for r in range(world)]
        # a fresh process even for one rank: its peak memory is this graph's alone
        mp.start_processes(_spawned, args=(world, _free_port(), T, repeat, outs, device), nprocs=world,
                           start_method="spawn")
        ranks = [json.loads(Path(o).read_text()) for o in outs]
    lead = ranks[0]
    row = {"facts": T, "entities": T // DEGREE, "processes": world,
           "facts_per_rank": [r["facts"] for r in ranks], "build_s": max(r["build_s"] for r in ranks),
           "peak_gib_per_rank": [round(r["peak_gib"], 3) for r in ranks],
           "index_gib_per_rank": [round(r["index_gib"], 3) for r in ranks],
           "dense_hop_s": lead["dense_hop_s"], "train_step_s": lead["train_step_s"]}
    if world > 1:
        ar = statistics.median(r["allreduce_s"] for r in ranks)
        row["allreduce_s"] = ar
        row["dense_hop_allreduce_share"] = min(1.0, 2 * ar / row["dense_hop_s"])
        row["train_step_allreduce_share"] = min(1.0, 4 * ar / row["train_step_s"])
    return row


def _spawned(rank: int, world: int, port: int, T: int, repeat: int, outs: list[str], device: str) -> None:
    worker(rank, world, port, T, repeat, outs[rank], device)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# The reified graph sharded over processes", "",
             f"`{meta['command']}` — {meta['machine']}; {meta['degree']} facts per subject, "
             f"{meta['relations']} relations, B = {meta['batch']}, "
             f"{'NCCL' if meta.get('device') == 'cuda' else 'gloo over 127.0.0.1'}, medians of "
             f"{meta['repeat']}", "",
             "| facts | processes | facts per rank (max) | build (s) | peak per rank (GiB, max) | index per rank (GiB) "
             "| dense hop fwd+bwd (s) | × 1 process | all-reduce share | train step (s) | × 1 process "
             "| all-reduce share |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    single = {r["facts"]: r for r in rows if r["processes"] == 1}
    for r in rows:
        one = single.get(r["facts"])
        hop_x = f"{one['dense_hop_s'] / r['dense_hop_s']:.2f}" if one else "-"
        step_x = f"{one['train_step_s'] / r['train_step_s']:.2f}" if one else "-"
        share = (lambda k: f"{100 * r[k]:.0f}%" if k in r else "-")
        lines.append(f"| {r['facts']:.0e} | {r['processes']} | {max(r['facts_per_rank']):,} | {r['build_s']:.1f} "
                     f"| {max(r['peak_gib_per_rank']):.2f} | {max(r['index_gib_per_rank']):.2f} "
                     f"| {r['dense_hop_s']:.3f} | {hop_x} | {share('dense_hop_allreduce_share')} "
                     f"| {r['train_step_s']:.4f} | {step_x} | {share('train_step_allreduce_share')} |")
    fit = meta.get("per_rank_fit")
    if fit:
        est = fit["est_1e8"]
        lines += ["", f"Peak memory per rank ≈ {fit['base_gib']:.2f} GiB + {fit['gib_per_1e7_batch_entities']:.2f} GiB "
                      f"per 10^7 (B × E) cells every rank holds whole + {fit['gib_per_1e7_facts']:.2f} GiB per 10^7 "
                      f"facts of its own (least squares over the rows). Estimated for 10^8 facts (E = 10^7): "
                      + " / ".join(f"{est[n]:.1f}" for n in (1, 2, 4, 8)) + " GiB per rank on 1 / 2 / 4 / 8 processes."]
    return "\n".join(lines) + "\n"


def memory_model(rows: list[dict]) -> dict:
    """Least squares of each row's largest per-rank peak on ``a + b·(B·E) + c·(facts held)``: what
    every rank holds anyway (interpreter, libraries), what grows with the ``(B, E)`` tensors every
    rank holds whole, and what grows with its part of the facts; and the 10^8-fact estimate."""
    X = torch.tensor([[1.0, B * r["entities"] / 1e7, max(r["facts_per_rank"]) / 1e7] for r in rows], dtype=torch.float64)
    y = torch.tensor([max(r["peak_gib_per_rank"]) for r in rows], dtype=torch.float64)
    a, b, c = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.flatten().tolist()
    est = {n: a + b * B * (10**8 // DEGREE) / 1e7 + c * 10 / n for n in (1, 2, 4, 8)}
    return {"base_gib": a, "gib_per_1e7_batch_entities": b, "gib_per_1e7_facts": c, "est_1e8": est}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--facts", default="1e7,5e7", help="graph sizes, comma-separated (default: 1e7,5e7)")
    p.add_argument("--ranks", default="1,2,4", help="process counts (default: 1,2,4)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: NCCL, one GPU per process; peak = the GPU's peak allocation (default: cpu)")
    p.add_argument("--tag", default="")
    args = p.parse_args()
    rows = []
    for T in (int(float(f)) for f in args.facts.split(",")):
        for world in (int(n) for n in args.ranks.split(",")):
            rows.append(measure(T, world, args.repeat, args.device))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    meta = run_meta(degree=DEGREE, relations=RELATIONS, batch=B, repeat=args.repeat, device=args.device)
    if len({r["entities"] for r in rows}) > 1 and len(rows) >= 3:
        meta["per_rank_fit"] = memory_model(rows)
    write_results("distributed", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
