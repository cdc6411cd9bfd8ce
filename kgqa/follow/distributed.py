"""The reified graph sharded over the processes of :mod:`torch.distributed`.

A hop sums over facts, eq. (1) of :mod:`kgqa.follow`: ``y[b, o] = Σ_t w_t · x[b, s_t] · r[b, k_t]``.
Split the facts into ``N`` disjoint parts, one per rank, and the sum splits with them::

    follow(x, r) = Σ_{n=1..N} follow_n(x, r)          follow_n: the same hop over part n's facts

so every rank follows its own facts (any kernel, :func:`kgqa.follow.follow` chooses as usual)
and one all-reduce of the ``(B, E)`` partial results gives every rank the whole answer. The
gradient runs the other way: ``∂L/∂y`` is the same on every rank, each rank's local backward gives
its part of ``∂L/∂x`` and ``∂L/∂r``, and those are summed over ranks. That is the tensor-parallel
pattern of Megatron-LM, two small autograd functions over :func:`torch.distributed.all_reduce`:

- :func:`sum_over_ranks` — forward: all-reduce (sum); backward: identity (the "reduce from" region);
- :func:`copy_to_ranks` — forward: identity; backward: all-reduce (the "copy to" region).

:class:`ShardedReifiedKG` holds one rank's part; :func:`kgqa.follow.follow` recognises it and runs
``sum_over_ranks(follow(local, copy_to_ranks(x), copy_to_ranks(r)))``, so model code does not
change. Every rank must make the same sequence of ``follow`` calls (same batch, same model):
each call is a collective.

**Parts by subject.** Facts are split by their *subject*, so all facts leaving an entity live on
one rank: :meth:`ShardedReifiedKG.relations_leaving` (the entity kinds) is then a sum over ranks
too, and per-subject fact weights (``random_walk_weights``) are the same computed on a part as on
the whole graph. ``by="subject"`` gives each rank a contiguous range of subjects holding about
``T / N`` facts; ``by="hash"`` scatters subjects by a multiplicative hash (:func:`shard_of_facts`,
:func:`balance` measures either).

**What moves per hop**: ``B × E`` floats all-reduced forward, and in backward ``B × E`` (for ``x``)
plus ``B × R`` (for ``r``) — independent of the number of facts. Once ``E`` itself is too large for
one process, the entity axis must be split as well; this module does not do that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
import torch.distributed as dist

from ..errors import KGQAError, ShapeError
from ..kg import KnowledgeGraph
from ..types import Tensor
from .checks import check_weights
from .reified import ReifiedKG

__all__ = ["ShardedReifiedKG", "copy_to_ranks", "sum_over_ranks", "shard_of_facts", "balance", "save_shards",
           "ShardError", "SHARD_BY"]

ShardBy = Literal["subject", "hash"]
SHARD_BY = ("subject", "hash")
_GOLDEN = 2654435761  # Knuth's multiplicative hash constant (2^32 / φ)


class ShardError(KGQAError, ValueError):
    """A sharded graph that does not fit the process group (parts, ranks, files)."""


def _group_size(group: dist.ProcessGroup | None) -> int:
    return dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1


def _group_rank(group: dist.ProcessGroup | None) -> int:
    return dist.get_rank(group) if _group_size(group) > 1 else 0


def _all_reduced(t: Tensor, group: dist.ProcessGroup | None) -> Tensor:
    """A copy of ``t`` summed over the ranks. Every rank must send the same layout (ranks differ in
    how their kernels lay a result out), so a matrix always travels as its contiguous transpose and
    comes back as a transposed view, stride ``(1, B)``: the layout a hop's result has when the next
    hop reads it fastest — one copy, often without reordering."""
    if t.dim() == 2:
        out = t.t().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, group=group)
        return out.t()
    out = t.clone(memory_format=torch.contiguous_format)
    dist.all_reduce(out, group=group)
    return out


class _SumOverRanks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y: Tensor, group: dist.ProcessGroup | None) -> Tensor:  # type: ignore[override]
        return _all_reduced(y, group)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return grad, None


class _CopyToRanks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, group: dist.ProcessGroup | None) -> Tensor:  # type: ignore[override]
        ctx.group = group
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return _all_reduced(grad, ctx.group), None


def sum_over_ranks(y: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """``Σ_ranks y``: all-reduce in the forward pass, identity in the backward pass (each rank's
    ``y`` was computed from its own facts; the gradient reaching the sum reaches every part)."""
    return _SumOverRanks.apply(y, group) if _group_size(group) > 1 else y


def copy_to_ranks(x: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """``x`` unchanged, whose gradient is summed over ranks in the backward pass (every rank uses
    the same ``x`` on different facts; its gradient is the sum of their parts)."""
    return _CopyToRanks.apply(x, group) if _group_size(group) > 1 else x


def shard_of_facts(subjects: Tensor, num_entities: int, parts: int, by: ShardBy = "subject") -> Tensor:
    """``(T,)`` int64: the part ``0..parts-1`` each fact goes to, decided by its subject.

    ``"subject"``: contiguous subject ranges, cut where the running fact count passes
    ``T·n/parts`` (an entity's facts are never split, so a hub can unbalance a small graph);
    ``"hash"``: ``(s · 2654435761 mod 2³²) mod parts``."""
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    s = subjects.to(torch.int64).contiguous()
    if parts == 1 or s.numel() == 0:
        return torch.zeros_like(s)
    if by == "hash":
        return ((s * _GOLDEN) & 0xFFFFFFFF) % parts
    if by != "subject":
        raise ValueError(f"by must be one of {SHARD_BY}, got {by!r}")
    ends = torch.cumsum(torch.bincount(s, minlength=num_entities), 0)  # facts up to each subject
    cuts = torch.arange(1, parts, dtype=torch.float64) * (s.numel() / parts)
    first = torch.searchsorted(ends.to(torch.float64), cuts, right=True)  # first subject of parts 1..N-1
    return torch.searchsorted(first, s, right=True)


def balance(part: Tensor, parts: int) -> float:
    """Largest part over the mean part (1.0: perfectly even) for :func:`shard_of_facts` output."""
    if part.numel() == 0:
        return 1.0
    sizes = torch.bincount(part, minlength=parts).to(torch.float64)
    return float(sizes.max() / sizes.mean())


class ShardedReifiedKG:
    """This rank's part of a reified graph (module docstring): pass it to
    :func:`kgqa.follow.follow` wherever a :class:`~kgqa.follow.ReifiedKG` goes.

    ``local`` is the :class:`ReifiedKG` of this rank's facts over all ``E`` entities and ``R``
    relations; ``fact_index (T_local,)`` their positions in the whole graph's fact order;
    ``num_triples`` the whole graph's ``T``. Build with :meth:`from_triples`, :meth:`from_kg` or
    :meth:`load` (a split written by :func:`save_shards`), inside an initialised process group.
    """

    def __init__(self, local: ReifiedKG, fact_index: Tensor, num_triples: int, *,
                 group: dist.ProcessGroup | None = None, by: ShardBy = "subject") -> None:
        self.local, self.fact_index, self.group, self.by = local, fact_index, group, by
        self.num_triples = int(num_triples)
        self.rank, self.world_size = _group_rank(group), _group_size(group)

    @classmethod
    def from_triples(cls, triples: Tensor, num_entities: int, num_relations: int, *,
                     group: dist.ProcessGroup | None = None, by: ShardBy = "subject",
                     fact_weights: Tensor | None = None, device: torch.device | str | None = None) -> ShardedReifiedKG:
        """Keep this rank's part of the whole graph's ``(T, 3)`` ``triples`` (every rank passes
        the same ones); ``fact_weights (T,)`` are sliced with them."""
        if not isinstance(triples, torch.Tensor) or triples.dim() != 2 or triples.shape[1] != 3:
            raise ShapeError(f"triples must be a (T, 3) integer tensor, got {getattr(triples, 'shape', type(triples))}")
        part = shard_of_facts(triples[:, 0], num_entities, _group_size(group), by)
        mine = torch.nonzero(part == _group_rank(group)).flatten()
        if fact_weights is not None:
            check_weights("fact_weights", fact_weights, (triples.shape[0],), f"(T,) = ({triples.shape[0]},)")
            fact_weights = fact_weights.index_select(0, mine.to(fact_weights.device))
        local = ReifiedKG(triples.index_select(0, mine.to(triples.device)), num_entities, num_relations,
                          fact_weights=fact_weights, device=device)
        return cls(local, mine, triples.shape[0], group=group, by=by)

    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, **kwargs) -> ShardedReifiedKG:  # type: ignore[no-untyped-def]
        """This rank's part of a :class:`~kgqa.kg.KnowledgeGraph` every rank has read."""
        return cls.from_triples(kg.triples, kg.num_entities, kg.num_relations, **kwargs)

    @classmethod
    def load(cls, folder: str | Path, *, group: dist.ProcessGroup | None = None,
             device: torch.device | str | None = None) -> ShardedReifiedKG:
        """This rank's part of a split written by :func:`save_shards` (only that part is read)."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "shards.json").read_text())
        except (OSError, ValueError) as err:
            raise ShardError(f"{folder}: not a sharded graph (shards.json: {err})") from None
        n, parts = _group_size(group), int(meta["parts"])
        if n != parts:
            raise ShardError(f"{folder}: split into {parts} parts, but the process group has {n} ranks: start "
                             f"{parts} processes (torchrun --nproc-per-node {parts}) or split again "
                             f"(kgqa shard --parts {n})")
        path = folder / f"part-{_group_rank(group):05d}-of-{parts:05d}.pt"
        try:
            part = torch.load(path, weights_only=True)
        except (OSError, RuntimeError, EOFError) as err:
            raise ShardError(f"{path}: cannot read this rank's part ({str(err).splitlines()[0]})") from None
        local = ReifiedKG(part["triples"], meta["num_entities"], meta["num_relations"],
                          fact_weights=part.get("fact_weights"), device=device)
        return cls(local, part["fact_index"], meta["num_triples"], group=group, by=meta["by"])

    # ------------------------------------------------------------------ what follow reads
    num_entities = property(lambda self: self.local.num_entities)
    num_relations = property(lambda self: self.local.num_relations)
    device = property(lambda self: self.local.device)

    def copy_in(self, t: Tensor) -> Tensor:
        """An input every rank shares, made dense, its gradient summed over ranks."""
        return copy_to_ranks(t.to_dense() if t.is_sparse else t, self.group)

    def sum_out(self, y: Tensor) -> Tensor:
        """This rank's partial result summed over ranks (dense)."""
        return sum_over_ranks(y.to_dense() if y.is_sparse else y, self.group)

    def local_weights(self, fact_weights: Tensor | None) -> Tensor | None:
        """This rank's slice of ``(T,)`` per-fact weights given in the whole graph's fact order."""
        if fact_weights is None:
            return None
        check_weights("fact_weights", fact_weights, (self.num_triples,), f"(T,) = ({self.num_triples},)",
                      device=self.device)
        return fact_weights.index_select(0, self.fact_index.to(fact_weights.device))

    def relations_leaving(self, x: Tensor) -> Tensor:
        """:meth:`ReifiedKG.relations_leaving` over the whole graph: a subject's facts all live on
        one rank, so the per-rank results add up."""
        return self.sum_out(self.local.relations_leaving(self.copy_in(x)))

    def to(self, device: torch.device | str) -> ShardedReifiedKG:
        """A copy on ``device`` (the local structures moved)."""
        return ShardedReifiedKG(self.local.to(device), self.fact_index, self.num_triples, group=self.group, by=self.by)

    def memory_bytes(self) -> int:
        """Bytes this rank holds for its part."""
        return self.local.memory_bytes() + self.fact_index.numel() * self.fact_index.element_size()

    def __repr__(self) -> str:
        return (f"ShardedReifiedKG(rank {self.rank} of {self.world_size}, {self.local.num_triples:,} of "
                f"{self.num_triples:,} facts by {self.by}, {self.num_entities:,} entities, "
                f"{self.memory_bytes() / 2**20:.1f} MiB on {self.device})")


def save_shards(triples: Tensor, num_entities: int, num_relations: int, folder: str | Path, parts: int, *,
                by: ShardBy = "subject", fact_weights: Tensor | None = None) -> dict[str, object]:
    """Split a graph once into ``parts`` files under ``folder`` (``part-NNNNN-of-NNNNN.pt``, each
    its facts, their positions and weights, and ``shards.json``), so that each rank of a later run
    reads only its part (:meth:`ShardedReifiedKG.load`). Files are written whole or not at all;
    returns the manifest (with the balance)."""
    from ..kg_io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    part = shard_of_facts(triples[:, 0], num_entities, parts, by)
    for n in range(parts):
        mine = torch.nonzero(part == n).flatten()
        data = {"triples": triples.index_select(0, mine).to(torch.int64).clone(), "fact_index": mine.clone()}
        if fact_weights is not None:
            data["fact_weights"] = fact_weights.index_select(0, mine).clone()
        path = folder / f"part-{n:05d}-of-{parts:05d}.pt"
        tmp = path.with_suffix(".pt.tmp")
        torch.save(data, tmp)
        tmp.replace(path)
    meta = {"parts": parts, "by": by, "num_entities": int(num_entities), "num_relations": int(num_relations),
            "num_triples": int(triples.shape[0]), "balance": round(balance(part, parts), 4),
            "facts_per_part": torch.bincount(part, minlength=parts).tolist()}
    atomic_write(folder / "shards.json", json.dumps(meta, indent=2) + "\n")
    return meta
