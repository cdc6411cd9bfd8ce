"""The reified knowledge graph: the index structure every ``follow`` kernel reads.

``T`` facts ``(s_t, k_t, o_t)`` over ``E`` entities and ``R`` relations are *reified* into three
sparse incidence matrices over facts, ``M_subj (T, E)``, ``M_rel (T, R)``, ``M_obj (T, E)``, with
one 1 in row ``t`` at ``s_t``, ``k_t``, ``o_t`` (:meth:`ReifiedKG.incidence`; eq. 1 of
:mod:`kgqa.follow`). The kernels never build them: they read two orderings of the facts.

**Pair order** (the dense frontier, eq. 2). Facts sharing a *pair* ``p = (k, o)`` get the same
relation weight, so a hop factorises through the ``P ≤ T`` distinct pairs. Pairs are numbered in
``(object, relation)`` order and facts in ``(object, relation, subject)`` order, so the facts that
reach one object are contiguous:

- ``obj_ptr (E + 1,)``: the pairs of object ``o`` are ``obj_ptr[o] : obj_ptr[o + 1]``;
- ``pair_rel (P,)``, ``pair_obj (P,)``: the relation and object of each pair;
- ``pair_ptr (P + 1,)``: the facts of pair ``p`` are positions ``pair_ptr[p] : pair_ptr[p + 1]``;
- ``pair_subj (T,)``: the subject of the fact at each position; ``pair_fact (T,)`` its index in
  the original order; ``pair_weights (T,)`` its weight (``None``: all 1).

**Subject order** (the sparse frontier, eq. 3, and the gradient with respect to ``x``):

- ``subj_ptr (E + 1,)``: the facts leaving entity ``e`` are positions ``subj_ptr[e] : subj_ptr[e + 1]``;
- ``subj_pair (T,)``: the pair of the fact at each position; ``subj_fact (T,)`` its original
  index; ``subj_weights (T,)`` its weight (``None``: all 1).

Indices are int32 when sizes allow. Kernels keep what they derive from these fields (NumPy views,
work-balanced chunk bounds, reusable buffers) in the caches this class declares, dropped by :meth:`to`.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
import torch

from ..errors import ShapeError
from ..kg import KnowledgeGraph
from ..runtime import cache_tensors
from ..types import Tensor
from .checks import check_weights

__all__ = ["ReifiedKG", "SCRATCH_LIMIT", "DENSE_LEAVING"]

SCRATCH_LIMIT = 256 * 2**20  # bytes: larger per-call buffers are allocated afresh, not kept
DENSE_LEAVING = 2**24  # cells: ReifiedKG.relations_leaving keeps a dense (E, R) matrix up to this size
Order = Literal["pair", "subject"]


def _offsets(index: Tensor, n: int) -> Tensor:
    """``(n + 1,)`` int64 start offsets of each value of a sorted ``index`` in ``[0, n)``."""
    off = torch.zeros(n + 1, dtype=torch.int64)
    off[1:] = torch.cumsum(torch.bincount(index, minlength=n), 0)
    return off


class ReifiedKG:
    """A knowledge graph as the index structure of :func:`kgqa.follow.follow` (module docstring).

    Build with :meth:`from_kg` or :meth:`from_tensors`. ``subj``, ``rel``, ``obj`` are ``(T,)``
    int64 views of the triples in their original order, ``fact_weights`` the optional ``(T,)``
    float weights (``None``: all 1). Not thread-safe to mutate; read-only use is fine.
    """

    INDEX = ("triples", "fact_weights", "pair_ptr", "pair_subj", "subj_ptr", "subj_pair", "obj_ptr",
             "pair_ids", "pair_rel", "pair_obj", "pair_fact", "subj_fact", "pair_weights", "subj_weights")
    """The tensors of the structure (moved together by :meth:`to`, counted by :meth:`memory_breakdown`)."""

    def __init__(self, triples: Tensor, num_entities: int, num_relations: int, *,
                 fact_weights: Tensor | None = None, device: torch.device | str | None = None) -> None:
        """Reify ``triples (T, 3)`` integer ``(subject, relation, object)`` indices. Duplicate facts
        are kept (and counted twice); isolated entities and relations without facts are fine."""
        if not isinstance(triples, torch.Tensor) or triples.dim() != 2 or triples.shape[1] != 3:
            raise ShapeError(f"triples must be a (T, 3) integer tensor, got {getattr(triples, 'shape', type(triples))}")
        if triples.is_floating_point() or triples.dtype == torch.bool:
            raise ShapeError(f"triples must hold integer indices, got dtype {triples.dtype}")
        E, R, T = int(num_entities), int(num_relations), int(triples.shape[0])
        if E < 0 or R < 0:
            raise ValueError(f"num_entities and num_relations must be >= 0, got {E} and {R}")
        t = triples.detach().to("cpu", torch.int64)
        for col, size, what in ((0, E, "subject"), (1, R, "relation"), (2, E, "object")):
            if T and (int(t[:, col].min()) < 0 or int(t[:, col].max()) >= size):
                raise ShapeError(f"triples: {what} index out of range [0, {size})")
        if fact_weights is not None:
            check_weights("fact_weights", fact_weights, (T,), f"(T,) = ({T},)")
        self.num_entities, self.num_relations, self.num_triples = E, R, T
        self.triples = t
        s, k, o = t[:, 0], t[:, 1], t[:, 2]
        pair_key = o * R + k  # (T,)
        if R * E * E < 2**62:  # facts sorted by (object, relation, subject)
            order = torch.argsort(pair_key * E + s, stable=True)
        else:  # lexicographic sort in two stable passes
            order = torch.argsort(s, stable=True)
            order = order[torch.argsort(pair_key[order], stable=True)]
        keys, counts = torch.unique_consecutive(pair_key[order], return_counts=True)
        P = int(keys.numel())
        self.num_pairs = P
        pair_of_fact = torch.repeat_interleave(torch.arange(P), counts, output_size=T)  # (T,)
        pair_subj = s[order]  # (T,) subject of each fact, pair order
        s_perm = torch.argsort(pair_subj, stable=True)  # pair-order positions, sorted by subject
        pair_obj = keys // R if R else keys
        pair_rel = keys % R if R else keys
        idx = torch.int32 if max(T, P, E) < 2**31 - 1 else torch.int64
        self.pair_ptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)]).to(idx)
        self.pair_subj = pair_subj.to(idx)
        self.subj_ptr = _offsets(pair_subj, E).to(idx)
        self.subj_pair = pair_of_fact[s_perm].to(idx)
        self.obj_ptr = _offsets(pair_obj, E).to(idx)
        self.pair_ids = torch.arange(P).to(idx)  # column indices of the (E, P) object matrix
        self.pair_rel = pair_rel.to(idx)
        self.pair_obj = pair_obj.to(idx)
        self.pair_fact = order.to(idx)
        self.subj_fact = order[s_perm].to(idx)
        self.fact_weights: Tensor | None = None
        self.pair_weights: Tensor | None = None
        self.subj_weights: Tensor | None = None
        self._reset_caches()
        if fact_weights is not None:
            self.set_fact_weights(fact_weights)
        if device is not None:
            self._move(torch.device(device))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, *, fact_weights: Tensor | None = None,
                device: torch.device | str | None = None) -> ReifiedKG:
        """Reify a :class:`~kgqa.kg.KnowledgeGraph` (its ``triples``, entities and relations)."""
        return cls(kg.triples, kg.num_entities, kg.num_relations, fact_weights=fact_weights, device=device)

    @classmethod
    def from_tensors(cls, triples: Tensor, num_entities: int, num_relations: int,
                     **kwargs: object) -> ReifiedKG:
        """Reify a raw ``(T, 3)`` index tensor (synthetic graphs, duplicate facts allowed); keyword
        arguments as for the constructor."""
        return cls(triples, num_entities, num_relations, **kwargs)  # type: ignore[arg-type]

    def set_fact_weights(self, weights: Tensor | None) -> None:
        """Store ``(T,)`` non-negative per-fact weights (original fact order), or ``None`` for 1s.
        :func:`~kgqa.follow.follow` uses them whenever it is not given ``fact_weights``."""
        if weights is None:
            self.fact_weights = self.pair_weights = self.subj_weights = None
            return
        check_weights("fact_weights", weights, (self.num_triples,), f"(T,) = ({self.num_triples},)")
        w = weights.detach().to(self.device)
        self.fact_weights = w
        self.pair_weights = w.index_select(0, self.pair_fact)
        self.subj_weights = w.index_select(0, self.subj_fact)

    def _reset_caches(self) -> None:
        """Declare (or empty) the caches kernels fill: ones per dtype, NumPy views, chunk bounds,
        reusable buffers per thread."""
        self._ones: dict[torch.dtype, Tensor] = {}
        self._numpy: dict[str, np.ndarray] = {}
        self._bounds: dict[tuple[str, int], np.ndarray] = {}
        self._pool: dict[tuple[int, torch.dtype], Tensor] = {}
        self._leaving: Tensor | None = None

    def _move(self, device: torch.device) -> None:
        for name in self.INDEX:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        self._reset_caches()

    def to(self, device: torch.device | str) -> ReifiedKG:
        """A copy on ``device`` (the structures are moved, not rebuilt); ``self`` if already there."""
        device = torch.device(device)
        if device == self.device or (device.index is None and device.type == self.device.type):
            return self
        new = object.__new__(ReifiedKG)
        new.__dict__.update(self.__dict__)
        new._move(device)
        return new

    # ------------------------------------------------------------------ views and sizes
    @property
    def device(self) -> torch.device:
        return self.pair_subj.device

    subj = property(lambda self: self.triples[:, 0], doc="``(T,)`` int64 subject of each fact.")
    rel = property(lambda self: self.triples[:, 1], doc="``(T,)`` int64 relation of each fact.")
    obj = property(lambda self: self.triples[:, 2], doc="``(T,)`` int64 object of each fact.")

    def incidence(self, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor]:
        """The three sparse COO incidence matrices ``M_subj (T, E)``, ``M_rel (T, R)``,
        ``M_obj (T, E)`` of eq. (1), 0/1 entries, facts in original order (fact weights are not
        applied): :func:`kgqa.follow.reference.incidence_matrices` of this graph, ``M_obj`` turned
        back from the transposed form the reference multiplies by."""
        from .reference import incidence_matrices

        m_subj, m_rel, m_obj_t = incidence_matrices(self.triples.to(self.device), self.num_entities,
                                                    self.num_relations, dtype)
        return m_subj, m_rel, m_obj_t.t().coalesce()

    def memory_breakdown(self) -> dict[str, int]:
        """Bytes held by each tensor of :attr:`INDEX` (``triples`` may be shared with the
        KnowledgeGraph)."""
        return {n: v.numel() * v.element_size() for n in self.INDEX if (v := getattr(self, n)) is not None}

    def memory_bytes(self) -> int:
        """Total bytes of the tensors this object holds (see :meth:`memory_breakdown`)."""
        return sum(self.memory_breakdown().values())

    def __repr__(self) -> str:
        w = ", weighted" if self.fact_weights is not None else ""
        return (f"ReifiedKG({self.num_entities:,} entities, {self.num_relations} relations, "
                f"{self.num_triples:,} facts, {self.num_pairs:,} (relation, object) pairs{w}, "
                f"{self.memory_bytes() / 2**20:.1f} MiB on {self.device})")

    # ------------------------------------------------------------------ what kernels derive
    def ones(self, n: int, dtype: torch.dtype) -> Tensor:
        """``(n,)`` ones of ``dtype`` on the device, ``n ≤ max(T, P)`` (values of unweighted matrices)."""
        if dtype not in self._ones:
            with cache_tensors():
                self._ones[dtype] = torch.ones(max(self.num_triples, self.num_pairs), dtype=dtype, device=self.device)
        return self._ones[dtype][:n]

    def weights_in(self, order: Order, fact_weights: Tensor | None, dtype: torch.dtype) -> Tensor:
        """``(T,)`` fact weights in pair or subject order: ``fact_weights`` (original order) when
        given, else the stored ones, else ones."""
        if fact_weights is not None:
            return fact_weights.to(dtype).index_select(0, self.pair_fact if order == "pair" else self.subj_fact)
        stored = self.pair_weights if order == "pair" else self.subj_weights
        return stored.to(dtype) if stored is not None else self.ones(self.num_triples, dtype)

    def numpy(self, *names: str) -> tuple[np.ndarray, ...]:
        """NumPy views of the named CPU index tensors, made once and kept."""
        views = self._numpy
        for name in names:
            if name not in views:
                views[name] = getattr(self, name).numpy()
        return tuple(views[n] for n in names)

    def chunk_bounds(self, order: Literal["o", "s"], chunks: int) -> np.ndarray:
        """Boundaries of ``chunks`` ranges of entities holding about equal numbers of facts — in
        object order (``"o"``: the facts reaching each object) or subject order (``"s"``: the facts
        leaving it); ``(chunks' + 1,)`` int64, first 0, last ``E``. Kept per (order, chunks)."""
        E = self.num_entities
        n = max(1, min(E, chunks))
        if (order, n) not in self._bounds:
            if order == "o":  # facts before each object's first pair
                off = self.pair_ptr.numpy().astype(np.int64)[self.obj_ptr.numpy()]
            else:
                off = self.subj_ptr.numpy().astype(np.int64)
            b = np.searchsorted(off, np.linspace(0, int(off[-1]), n + 1), side="left").astype(np.int64)
            b[0], b[-1] = 0, E
            self._bounds[(order, n)] = np.maximum.accumulate(np.clip(b, 0, E))
        return self._bounds[(order, n)]

    def relations_leaving(self, x: Tensor) -> Tensor:
        """``(N, R)``: for each row of ``x (N, E)``, the weight of its entities that have a fact of
        relation ``r`` leaving them, ``Σ_e x[e] · [∃ o: (e, r, o)]`` — what kind of entities ``x``
        holds, told by the relations they can follow (a painting has ``exhibited_at``, a museum
        ``located_in``). The 0/1 ``(E, R)`` matrix is built once and kept: dense up to
        ``DENSE_LEAVING`` cells (one matrix product), sparse beyond."""
        if self._leaving is None:
            with cache_tensors():
                self._leaving = self._leaving_matrix()
        m = self._leaving if x.dtype == torch.float32 else self._leaving.to(x.dtype)
        return x @ m if not m.is_sparse else torch.sparse.mm(m, x.t()).t()

    def _leaving_matrix(self) -> Tensor:
        """The 0/1 entity-relation matrix of :meth:`relations_leaving`: ``(E, R)`` dense or ``(R, E)`` sparse."""
        R, E = self.num_relations, self.num_entities
        key = torch.unique(self.triples[:, 0] * R + self.triples[:, 1]).to(self.device)  # (s, r) pairs
        if E * R <= DENSE_LEAVING:
            dense = torch.zeros(E * R, dtype=torch.float32, device=self.device)
            dense[key] = 1.0
            return dense.view(E, R)
        ones = torch.ones(key.numel(), dtype=torch.float32, device=self.device)
        return torch.sparse_coo_tensor(torch.stack([key % R, key // R]), ones, (R, E),
                                       check_invariants=False).coalesce()

    def scratch(self, rows: int, cols: int, dtype: torch.dtype) -> Tensor:
        """A reusable ``(rows, cols)`` buffer for values that die inside one call (per thread).

        Reusing memory that is already mapped avoids the page faults of a fresh allocation,
        which cost as much as the arithmetic of a hop; buffers above ``SCRATCH_LIMIT`` bytes are
        not kept."""
        n = rows * cols
        if n * torch.empty((), dtype=dtype).element_size() > SCRATCH_LIMIT:
            return torch.empty(rows, cols, dtype=dtype, device=self.device)
        key = (threading.get_ident(), dtype)
        buf = self._pool.get(key)
        if buf is None or buf.numel() < n:
            with cache_tensors():
                buf = self._pool[key] = torch.empty(n, dtype=dtype, device=self.device)
        return buf[:n].view(rows, cols)
