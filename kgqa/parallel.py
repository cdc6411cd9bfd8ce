"""Training on several processes: the knowledge graph sharded, the questions split, or both.

``torchrun --nproc-per-node N -m kgqa train ...`` starts ``N`` processes; :meth:`Layout.from_env`
reads torchrun's ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR`` / ``MASTER_PORT``, starts
:mod:`torch.distributed` (gloo on the CPU, NCCL on CUDA) and arranges the ranks on a 2-D grid of
``replicas × shards``::

    rank = replica · shards + shard

- the ranks of one *replica* (same row) hold different parts of the graph and the same batch:
  their ``shard_group`` sums each hop (:class:`~kgqa.follow.ShardedReifiedKG`, ``--shard-kg``);
- the ranks of one *shard* (same column) hold the same part and different slices of each batch:
  their ``data_group`` averages gradients (:class:`~torch.nn.parallel.DistributedDataParallel`,
  ``--data-parallel``).

Every rank holds the same model; rank 0 alone writes checkpoints, so a run resumes with any number
of ranks. A rank that dies makes the others' next collective fail; :func:`collective_errors` turns
that into a :class:`DistributedError` saying so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .errors import KGQAError

__all__ = ["Layout", "DistributedError", "collective_errors"]


class DistributedError(KGQAError, RuntimeError):
    """A process group that cannot start, or a rank lost during training."""


@dataclass
class Layout:
    """Where this process stands on the grid (module docstring); ``Layout()`` is one process."""

    rank: int = 0
    world: int = 1
    shards: int = 1
    replicas: int = 1
    shard_group: Any = None
    data_group: Any = None
    device: str | None = None  # "cuda:LOCAL_RANK" under NCCL
    owned: bool = False  # this Layout started the process group and ends it in close()

    @property
    def shard(self) -> int:
        return self.rank % self.shards

    @property
    def replica(self) -> int:
        return self.rank // self.shards

    @property
    def writer(self) -> bool:
        """Whether this rank writes checkpoints and prints."""
        return self.rank == 0

    @classmethod
    def from_env(cls, *, shards: int | None = None, data_parallel: bool = False,
                 backend: str | None = None) -> Layout:
        """The layout of a process started by torchrun (one process: ``Layout()``).

        ``shards``: parts of the graph (``None``: not sharded; 0: one part per process); with
        ``data_parallel`` the rest of the ranks are replicas. Without either, several processes are
        refused: they would train the same model twice."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        if shards is None and not data_parallel:
            raise DistributedError(f"{world} processes would each train the same model: pass --shard-kg "
                                   "and/or --data-parallel")
        shards = 1 if shards is None else (shards or world)
        if shards < 1 or world % shards:
            raise DistributedError(f"{world} processes cannot hold {shards} parts of the graph each replica: "
                                   "the number of processes must be a multiple of the number of parts")
        if shards < world and not data_parallel:
            raise DistributedError(f"{world} processes, {shards} parts of the graph: the other "
                                   f"{world // shards} replicas need --data-parallel")
        missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
        if missing:
            raise DistributedError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: start with torchrun")
        rank = int(os.environ["RANK"])
        device = None
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        owned = not dist.is_initialized()
        if owned:
            try:
                dist.init_process_group(backend, rank=rank, world_size=world)
            except (RuntimeError, ValueError) as err:
                raise DistributedError(f"rank {rank}: cannot start the {backend} process group "
                                       f"({str(err).splitlines()[0]})") from None
        replicas = world // shards
        shard_group = data_group = None
        for rep in range(replicas):  # every rank creates every group, in the same order
            g = dist.new_group(list(range(rep * shards, (rep + 1) * shards)))
            if rep == rank // shards:
                shard_group = g
        for sh in range(shards):
            g = dist.new_group(list(range(sh, world, shards)))
            if sh == rank % shards:
                data_group = g
        return cls(rank, world, shards, replicas, shard_group if shards > 1 else None,
                   data_group if replicas > 1 else None, device, owned)

    def my_slice(self, idx: list[int]) -> list[int]:
        """This replica's share of a batch (consecutive, sizes differing by at most one)."""
        if self.replicas == 1:
            return idx
        n, k = len(idx), self.replicas
        lo = self.replica * n // k
        return idx[lo: (self.replica + 1) * n // k]

    def barrier(self) -> None:
        if self.world > 1:
            with collective_errors(self.rank):
                dist.barrier()

    def agree(self, ok: bool) -> bool:
        """Whether every rank reports ``ok`` (a collective: all ranks call it)."""
        if self.world == 1:
            return ok
        flag = torch.tensor([int(ok)], device=self.device)  # NCCL reduces tensors on the GPU only
        with collective_errors(self.rank):
            dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def broadcast(self, t: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``t`` on every rank (on ``t``'s device)."""
        if self.world > 1:
            moved = t.to(self.device) if self.device else t
            with collective_errors(self.rank):
                dist.broadcast(moved, src=0)
            t = moved.to(t.device)
        return t

    def mean_over_replicas(self, value: float) -> float:
        if self.replicas == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        with collective_errors(self.rank):
            dist.all_reduce(t, group=self.data_group)
        return float(t.item()) / self.replicas

    def close(self) -> None:
        if self.owned and dist.is_initialized():
            dist.destroy_process_group()
            self.owned = False


@contextlib.contextmanager
def collective_errors(rank: int) -> Iterator[None]:
    """Re-raise a failed collective (a peer that died or hung up) as a :class:`DistributedError`."""
    try:
        yield
    except DistributedError:
        raise
    except RuntimeError as err:
        text = str(err)
        lost = any(s in text for s in ("Connection reset", "Connection closed", "Broken pipe", "Timed out",
                                       "NCCL", "gloo", "Gloo"))
        if not lost:
            raise
        raise DistributedError(f"rank {rank}: another rank stopped or cannot be reached "
                               f"({text.splitlines()[0][:200]}); the run folder keeps the last complete "
                               "checkpoint — resume with the same command, with any number of processes") from None
