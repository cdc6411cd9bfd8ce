"""Process-group helpers for tests/test_distributed.py: a bounded launcher of N local processes
(gloo over 127.0.0.1, no network) and the functions each rank runs. Not a test module itself."""

from __future__ import annotations

import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(fn, world: int, *args, timeout: float = 120.0) -> None:
    """Run ``fn(rank, world, port, *args)`` in ``world`` spawned processes; re-raise the first
    failure; kill them all past ``timeout`` seconds."""
    port = free_port()
    ctx = mp.start_processes(fn, args=(world, port, *args), nprocs=world, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=max(0.1, deadline - time.monotonic())):
        if time.monotonic() >= deadline:
            for p in ctx.processes:
                p.kill()
            raise TimeoutError(f"{world} processes did not finish in {timeout:.0f} s")


def init(rank: int, world: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)


def check_follow(rank: int, world: int, port: int, cases: list[dict], by: str) -> None:
    """Every case: sharded follow (forward, and the gradients of x and r) equals follow on the
    whole graph, computed by this same process."""
    from kgqa.follow import ReifiedKG, ShardedReifiedKG, follow

    init(rank, world, port)
    try:
        for n, case in enumerate(cases):
            t, E, R = case["triples"], case["E"], case["R"]
            w = case.get("weights")
            full = ReifiedKG(t, E, R, fact_weights=w)
            part = ShardedReifiedKG.from_triples(t, E, R, by=by, fact_weights=w)
            assert part.local.num_triples == int((case["part"] == rank).sum()), (n, "wrong slice")
            outs = []
            for kb in (full, part):
                x = case["x"].clone().requires_grad_(True)
                r = case["r"].clone().requires_grad_(True)
                y = follow(kb, x, r, frontier=case["frontier"])
                (y * case["g"]).sum().backward()
                outs.append((y.detach(), x.grad, r.grad))
            for a, b, what in zip(outs[0], outs[1], ("y", "x.grad", "r.grad")):
                if not torch.allclose(a, b, rtol=1e-5, atol=1e-5):
                    raise AssertionError(f"case {n}, rank {rank}: {what} differs by {(a - b).abs().max():.3g}")
            leaving = part.relations_leaving(case["x"])
            assert torch.allclose(leaving, full.relations_leaving(case["x"]), atol=1e-5), (n, "relations_leaving")
    finally:
        dist.destroy_process_group()


def train_toy(rank: int, world: int, port: int, mode: str, run_dir: str, epochs: int, out: str,
              dropout: float, resume: bool = False) -> None:
    """Train the toy model with ``mode`` ("shard", "data", "both") and write its history."""
    import json

    from kgqa.datasets import load_dataset
    from kgqa.model import ModelConfig
    from kgqa.parallel import Layout
    from kgqa.train import TrainConfig, fit

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    layout = Layout.from_env(shards={"shard": 0, "data": None, "both": 2}[mode], data_parallel=mode != "shard")
    try:
        tc = TrainConfig(epochs=epochs, batch_size=16, seed=3, encoder="tiny", max_train=96, max_eval=32)
        result = fit(load_dataset("toy"), ModelConfig(hops=2, dropout=dropout), tc, run_dir=run_dir, resume=resume,
                     progress=False, layout=layout)
        if rank == 0:
            with open(out, "w") as f:
                json.dump(result.history, f)
    finally:
        layout.close()
