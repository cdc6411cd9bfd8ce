"""The reified knowledge graph and the differentiable ``follow`` (Cohen et al., ICLR 2020, "ReifKB").

``T`` facts ``(s_t, k_t, o_t)`` over ``E`` entities and ``R`` relations are *reified* into three
sparse incidence matrices over facts, ``M_subj (T, E)``, ``M_rel (T, R)``, ``M_obj (T, E)``, with
one 1 in row ``t`` at ``s_t``, ``k_t``, ``o_t`` (times an optional fact weight ``w_t``). For
weighted entity sets ``x (B, E)`` and relation weights ``r (B, R)`` one hop is

    follow(x, r) = ((x M_subjᵀ) ⊙ (r M_relᵀ)) M_obj                                    (1)

i.e. ``y[b, o] = Σ_{t: o_t = o} w_t · x[b, s_t] · r[b, k_t]``: each fact hands the weight of its
subject to its object, scaled by the weight of its relation. Duplicate facts count twice.

**Dense frontier.** Facts sharing a *pair* ``p = (k, o)`` get the same relation weight, so (1)
factorises through the ``P ≤ T`` distinct pairs (MetaQA: 110k pairs for 257k facts):

    follow(x, r) = ((x A) ⊙ (r Kᵀ)) O                                                 (2)

with ``A (E, P) = M_subjᵀ G`` (``G (T, P)`` maps a fact to its pair, so ``A[s, p]`` sums the
weights of the facts ``s -k-> o``) and ``K (P, R)``, ``O (P, E)`` the 0/1 relation and object of
each pair. Pairs are numbered in ``(object, relation)`` order and facts in ``(object, relation,
subject)`` order, so the facts that reach one object are contiguous. On the CPU (float32/float64)
:mod:`kgqa.fused` computes (2) in one compiled pass that builds each row of ``y`` from the rows of
``x`` it needs, with no ``(P, B)`` intermediate; elsewhere it runs in the transposed ``(·, B)``
layout as two torch CSR × dense products and a row scaling (``DENSE_KERNEL`` chooses). No Python
loop over facts or batch rows either way.

**Sparse frontier.** When ``x`` has few non-zeros only the out-facts of its active entities are
touched (:mod:`kgqa.sparse_frontier`): facts are also kept sorted by subject with offsets ``(E + 1,)``, and the ranges of all
active ``(b, e)`` are expanded at once with ``repeat_interleave``:

    y[b, o] = Σ_{(b, e): x[b,e] ≠ 0}  Σ_{t: s_t = e, o_t = o}  w_t · x[b, e] · r[b, k_t]       (3)

(3) equals (1). It is differentiable in ``r``, the fact weights and the *non-zero* entries of
``x``; the gradient at entries where ``x`` is 0 is not computed (reads 0) — exact whenever those
zeros are structural, e.g. entities that no positive-weight path reaches; pass
``frontier="dense"`` to get it there too. ``x`` may be a sparse COO tensor: then there is no scan
for non-zeros and the result is sparse COO too, so a chain of hops stays sparse.

**``frontier="auto"``** takes the sparse frontier when the facts it would touch — the sum of the
out-degrees of the non-zeros of ``x`` — are at most ``AUTO_SPARSE_RATIO · T · B`` (or
``AUTO_SPARSE_RATIO_FUSED · T · B`` where the dense frontier runs fused), the dense
frontier's work scaled by the measured per-fact cost ratio. For a dense ``x`` on the CPU the
non-zeros and their out-degrees are counted in one compiled pass that stops (→ dense) as soon as
the budget is passed (:func:`kgqa.fused.active_entries`); elsewhere a blockwise min/max scan finds
them and gives up as soon as too many blocks are active.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Literal

import torch

from . import fused
from .errors import ShapeError
from .kg import KnowledgeGraph
from .sets import check_weights
from .sparse_frontier import entries, sparse_follow, touched
from .types import Tensor

__all__ = ["ReifiedKG", "follow", "follow_path", "Frontier", "AUTO_SPARSE_RATIO",
           "AUTO_SPARSE_RATIO_FUSED", "DENSE_KERNEL"]

Frontier = Literal["auto", "dense", "sparse"]

AUTO_SPARSE_RATIO = 1 / 32
"""Share of the dense frontier's ``T · B`` facts below which ``"auto"`` goes sparse when the dense
frontier runs as torch's CSR products (MetaQA, B=16, 1 thread: break-even near density 5% for a
dense ``x``, 2% for sparse COO)."""

AUTO_SPARSE_RATIO_FUSED = 1 / 400
"""The same share when the dense frontier runs fused (:mod:`kgqa.fused`), about 4× faster: MetaQA,
B=16, 1 thread, measured break-even at 0.2-0.4% of ``T · B`` facts touched (x density 0.1-0.3%)."""

DENSE_KERNEL = "auto"
"""How the dense frontier computes eq. (2): ``"fused"`` — one pass per direction, compiled
(:mod:`kgqa.fused`; CPU, float32/float64); ``"torch"`` — torch's sparse CSR products (any device
and dtype); ``"auto"`` — fused where it applies, else torch."""

_NATIVE_SPMM_MIN_COLS = 8  # from this batch size on, use torch's native CSR kernel (see _spmm)
SCRATCH_LIMIT = 256 * 2**20  # bytes: larger per-call buffers are allocated afresh, not kept


def _csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR matrix over existing index arrays (no copies, no invariant check)."""
    return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


with warnings.catch_warnings():  # torch warns once per process that CSR is "beta": spend it here
    warnings.simplefilter("ignore", UserWarning)
    _csr(torch.zeros(2, dtype=torch.int64), torch.zeros(1, dtype=torch.int64), torch.ones(1), (1, 1))


def _spmm(A: Tensor, dense: Tensor) -> Tensor:
    """CSR ``A`` @ ``dense``. On the CPU with ``B ≥ _NATIVE_SPMM_MIN_COLS`` columns torch's native
    row-parallel kernel (``torch.sparse.mm(..., reduce="sum")``) beats the MKL path, which zero-fills
    and copies its output (measured 3× faster at B = 64 on MetaQA); elsewhere ``A @ dense``."""
    if dense.device.type == "cpu" and dense.shape[1] >= _NATIVE_SPMM_MIN_COLS:
        return torch.sparse.mm(A, dense, reduce="sum")
    return A @ dense


def _offsets(index: Tensor, n: int) -> Tensor:
    """``(n + 1,)`` int64 start offsets of each value of a sorted ``index`` in ``[0, n)``."""
    off = torch.zeros(n + 1, dtype=torch.int64)
    off[1:] = torch.cumsum(torch.bincount(index, minlength=n), 0)
    return off


class ReifiedKG:
    """A knowledge graph as sparse structures for :func:`follow` (the module docstring's eqs. 1-3).

    Build with :meth:`from_kg` or :meth:`from_tensors`. Attributes ``subj``, ``rel``, ``obj``
    are ``(T,)`` int64 views of the triples in their original order, ``fact_weights`` the optional
    ``(T,)`` float weights (``None``: all 1). Internals (in pair order ``(o, k, s)`` and subject
    order) use int32 indices when sizes allow. Not thread-safe to mutate; read-only use is fine.
    """

    _TENSORS = ("triples", "fact_weights", "_c_crow", "_c_col", "_s_crow", "_s_col", "_o_crow",
                "_o_col", "_pair_rel", "_pair_obj", "_order", "_s_order", "_c_vals", "_s_vals")

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
        # pair order: facts sorted by (object, relation, subject), eq. (2)
        pair_key = o * R + k  # (T,)
        if R * E * E < 2**62:
            order = torch.argsort(pair_key * E + s, stable=True)
        else:  # lexicographic sort in two stable passes
            order = torch.argsort(s, stable=True)
            order = order[torch.argsort(pair_key[order], stable=True)]
        keys, counts = torch.unique_consecutive(pair_key[order], return_counts=True)
        P = int(keys.numel())
        self.num_pairs = P
        pair_of_fact = torch.repeat_interleave(torch.arange(P), counts, output_size=T)  # (T,)
        c_col = s[order]  # (T,) subject of each fact, pair order
        s_perm = torch.argsort(c_col, stable=True)  # pair-order positions, sorted by subject
        pair_obj = keys // R if R else keys
        pair_rel = keys % R if R else keys
        o_col = torch.arange(P)  # pair ids by object: already in order
        idx = torch.int32 if max(T, P, E) < 2**31 - 1 else torch.int64
        self._c_crow = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)]).to(idx)
        self._c_col = c_col.to(idx)
        self._s_crow = _offsets(c_col, E).to(idx)
        self._s_col = pair_of_fact[s_perm].to(idx)
        self._o_crow = _offsets(pair_obj, E).to(idx)
        self._o_col = o_col.to(idx)
        self._pair_rel = pair_rel.to(idx)
        self._pair_obj = pair_obj.to(idx)
        self._order = order.to(idx)  # original fact index of each pair-order position
        self._s_order = order[s_perm].to(idx)  # original fact index of each subject-order position
        self.fact_weights: Tensor | None = None
        self._c_vals: Tensor | None = None
        self._s_vals: Tensor | None = None
        if fact_weights is not None:
            self.set_fact_weights(fact_weights)
        self._ones: dict[torch.dtype, Tensor] = {}
        self._pool: dict[tuple[int, torch.dtype], Tensor] = {}
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
        They are used by :func:`follow` whenever it is not given ``fact_weights``."""
        if weights is None:
            self.fact_weights = self._c_vals = self._s_vals = None
            return
        check_weights("fact_weights", weights, (self.num_triples,), f"(T,) = ({self.num_triples},)")
        w = weights.detach().to(self.device)
        self.fact_weights = w
        self._c_vals = w.index_select(0, self._order)
        self._s_vals = w.index_select(0, self._s_order)

    def _move(self, device: torch.device) -> None:
        for name in self._TENSORS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        self._ones = {}
        self._pool = {}

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
        return self._c_col.device

    subj = property(lambda self: self.triples[:, 0], doc="``(T,)`` int64 subject of each fact.")
    rel = property(lambda self: self.triples[:, 1], doc="``(T,)`` int64 relation of each fact.")
    obj = property(lambda self: self.triples[:, 2], doc="``(T,)`` int64 object of each fact.")

    def out_degree(self) -> Tensor:
        """``(E,)`` int64 number of facts leaving each entity."""
        return (self._s_crow[1:] - self._s_crow[:-1]).to(torch.int64)

    def incidence(self, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor]:
        """The three sparse COO incidence matrices ``M_subj (T, E)``, ``M_rel (T, R)``,
        ``M_obj (T, E)`` of eq. (1), 0/1 entries, facts in original order (fact weights are not
        applied)."""
        T, dev = self.num_triples, self.device
        rows = torch.arange(T, device=dev)
        ones = torch.ones(T, dtype=dtype, device=dev)

        def coo(col: Tensor, n: int) -> Tensor:
            return torch.sparse_coo_tensor(torch.stack([rows, col.to(dev)]), ones, (T, n),
                                           is_coalesced=True, check_invariants=False)

        return coo(self.subj, self.num_entities), coo(self.rel, self.num_relations), coo(self.obj, self.num_entities)

    def memory_breakdown(self) -> dict[str, int]:
        """Bytes held by each tensor (``triples`` may be shared with the KnowledgeGraph)."""
        return {n.lstrip("_"): v.numel() * v.element_size() for n in self._TENSORS
                if (v := getattr(self, n)) is not None}

    def memory_bytes(self) -> int:
        """Total bytes of the tensors this object holds (see :meth:`memory_breakdown`)."""
        return sum(self.memory_breakdown().values())

    def __repr__(self) -> str:
        w = ", weighted" if self.fact_weights is not None else ""
        return (f"ReifiedKG({self.num_entities:,} entities, {self.num_relations} relations, "
                f"{self.num_triples:,} facts, {self.num_pairs:,} (relation, object) pairs{w}, "
                f"{self.memory_bytes() / 2**20:.1f} MiB on {self.device})")

    # ------------------------------------------------------------------ internals for follow
    def _unit(self, dtype: torch.dtype) -> Tensor:
        """``(max(T, P),)`` ones of ``dtype`` on the device (CSR values of unweighted matrices)."""
        if dtype not in self._ones:
            self._ones[dtype] = torch.ones(max(self.num_triples, self.num_pairs), dtype=dtype, device=self.device)
        return self._ones[dtype]

    def _weights_in(self, order: Literal["pair", "subject"], fact_weights: Tensor | None,
                    dtype: torch.dtype) -> Tensor:
        """``(T,)`` fact weights in pair or subject order: ``fact_weights`` (original order) when
        given, else the stored ones, else ones."""
        if fact_weights is not None:
            return fact_weights.to(dtype).index_select(0, self._order if order == "pair" else self._s_order)
        stored = self._c_vals if order == "pair" else self._s_vals
        return stored.to(dtype) if stored is not None else self._unit(dtype)[: self.num_triples]

    def _scratch(self, rows: int, cols: int, dtype: torch.dtype) -> Tensor:
        """A reusable ``(rows, cols)`` buffer for values that die inside one call (per thread).

        Reusing memory that is already mapped avoids the page faults of a fresh allocation,
        which cost as much as the arithmetic here; buffers above ``SCRATCH_LIMIT`` bytes are
        not kept."""
        n = rows * cols
        if n * torch.empty((), dtype=dtype).element_size() > SCRATCH_LIMIT:
            return torch.empty(rows, cols, dtype=dtype, device=self.device)
        key = (threading.get_ident(), dtype)
        buf = self._pool.get(key)
        if buf is None or buf.numel() < n:
            buf = self._pool[key] = torch.empty(n, dtype=dtype, device=self.device)
        return buf[:n].view(rows, cols)

    def clear_scratch(self) -> None:
        """Free the reusable buffers of :meth:`_scratch`."""
        self._pool = {}

    def _scale_rows(self, out: Tensor, src: Tensor, rT: Tensor) -> None:
        """``out[p] = src[p] · rT[k_p]`` for the ``(P, B)`` pair rows (``out`` may be ``src``)."""
        torch.mul(src, rT.index_select(0, self._pair_rel), out=out)

    def _grad_relations(self, gz: Tensor, z0: Tensor | None, rT: Tensor) -> Tensor | None:
        """``g_r = (gz ⊙ z0) K`` (``(R, B)``, when ``z0`` is given), then ``gz ← gz ⊙ (r Kᵀ)ᵀ`` in place."""
        g_r = None
        if z0 is not None:
            g_r = gz.new_zeros(self.num_relations, gz.shape[1]).index_add_(0, self._pair_rel, gz * z0)
        gz.mul_(rT.index_select(0, self._pair_rel))
        return g_r


class _DenseFollow(torch.autograd.Function):
    """Eq. (2) in the transposed layout: ``yᵀ = Oᵀ ((Aᵀ xᵀ) ⊙ (K rᵀ))``, with its exact backward."""

    @staticmethod
    def forward(ctx, xT: Tensor, rT: Tensor, c_vals: Tensor, s_vals: Tensor, kb: ReifiedKG) -> Tensor:
        E, P, B = kb.num_entities, kb.num_pairs, xT.shape[1]
        need_r, need_w = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        z0 = _spmm(_csr(kb._c_crow, kb._c_col, c_vals, (P, E)), xT)  # (P, B) = (x A)ᵀ
        z = kb._scratch(P, B, xT.dtype) if need_r else z0  # keep x A for the gradient of r
        kb._scale_rows(z, z0, rT)  # ⊙ (r Kᵀ)ᵀ
        yT = _spmm(_csr(kb._o_crow, kb._o_col, kb._unit(z.dtype)[:P], (E, P)), z)  # (E, B)
        z0 = z0 if need_r else None
        ctx.kb = kb
        ctx.save_for_backward(xT if need_w else None, rT, z0, s_vals)
        return yT

    @staticmethod
    def backward(ctx, gyT: Tensor):  # type: ignore[override]
        xT, rT, z0, s_vals = ctx.saved_tensors
        kb: ReifiedKG = ctx.kb
        need_x, need_r, need_w = ctx.needs_input_grad[:3]
        gz = kb._scratch(kb.num_pairs, gyT.shape[1], gyT.dtype)
        torch.index_select(gyT, 0, kb._pair_obj, out=gz)  # (P, B) = (gy Oᵀ)ᵀ; any strides
        g_r = kb._grad_relations(gz, z0 if need_r else None, rT)  # gz is now the gradient of x A
        g_x = _spmm(_csr(kb._s_crow, kb._s_col, s_vals, (kb.num_entities, kb.num_pairs)), gz) if need_x else None
        g_c = None
        if need_w:  # ∂/∂w_t = Σ_b x[b, s_t] · gz[p_t, b], facts in pair order
            counts = (kb._c_crow[1:] - kb._c_crow[:-1]).to(torch.int64)
            pair_of = torch.repeat_interleave(torch.arange(kb.num_pairs, device=gz.device), counts,
                                              output_size=kb.num_triples)
            g_c = (gz.index_select(0, pair_of) * xT.index_select(0, kb._c_col)).sum(1)  # (T,)
        return g_x, g_r, g_c, None, None


# ---------------------------------------------------------------------- follow
def _dense_follow(kb: ReifiedKG, x: Tensor, r: Tensor, fact_weights: Tensor | None) -> Tensor:
    """Dense frontier, eq. (2); ``x (B, E)`` and ``r (B, R)`` → ``(B, E)`` (a transposed view)."""
    xT = x.t().contiguous()  # (E, B); free when x came out of follow
    rT = r.t().contiguous()  # (R, B)
    c_vals, s_vals = (kb._weights_in(order, fact_weights, x.dtype) for order in ("pair", "subject"))
    fn = fused.FusedDenseFollow if _fused_dense(xT) else _DenseFollow
    return fn.apply(xT, rT, c_vals, s_vals, kb).t()


def _fused_dense(x: Tensor) -> bool:
    """Whether the dense frontier runs fused for this ``x`` (``DENSE_KERNEL`` and what Numba takes)."""
    if DENSE_KERNEL not in ("auto", "fused", "torch"):
        raise ValueError(f"kgqa.reified.DENSE_KERNEL must be 'auto', 'fused' or 'torch', got {DENSE_KERNEL!r}")
    if DENSE_KERNEL == "torch":
        return False
    if DENSE_KERNEL == "fused" and not fused.supports(x):
        raise ValueError("DENSE_KERNEL='fused' needs Numba and a float32/float64 x on the CPU, "
                         f"got {x.dtype} on {x.device} (Numba {'present' if fused.AVAILABLE else 'missing'})")
    return fused.supports(x)


def _check_r(kb: ReifiedKG, name: str, r: Tensor, B: int) -> None:
    R = kb.num_relations
    check_weights(name, r, (None, R), f"(B, R) = ({B}, {R}) or (1, {R})", device=kb.device)
    if r.shape[0] not in (1, B) or r.is_sparse:
        raise ShapeError(f"{name} must be a dense tensor of shape (B, R) = ({B}, {R}) or (1, {R}), "
                         f"got {tuple(r.shape)}{' (sparse)' if r.is_sparse else ''}")


HALF_DTYPES = (torch.float16, torch.bfloat16)


def follow(kb: ReifiedKG, x: Tensor, r: Tensor, *, frontier: Frontier = "auto",
           fact_weights: Tensor | None = None, validate: bool = True) -> Tensor:
    """One differentiable hop, eq. (1): ``follow(x, r) = ((x M_subjᵀ) ⊙ (r M_relᵀ)) M_obj``.

    Args:
        kb: the reified graph.
        x: ``(B, E)`` float non-negative weights over entities (dense, or sparse COO).
        r: ``(B, R)`` (or ``(1, R)``, shared by all rows) float non-negative relation weights.
        frontier: ``"dense"`` (eq. 2), ``"sparse"`` (eq. 3) or ``"auto"`` (module docstring).
        fact_weights: ``(T,)`` float non-negative per-fact weights for this call (original fact
            order); default: the graph's stored weights, else 1.
        validate: check shapes, devices, dtypes and values (NaN, inf, negatives); one pass over
            ``x``. Pass ``False`` on hot paths with trusted inputs.

    Returns:
        ``(B, E)`` of the promoted dtype of ``x`` and ``r`` (float16 and bfloat16 inputs are
        followed in float32 and the result converted back). Dense results may be a transposed
        view (stride ``(1, B)``) — the layout the next hop wants. A sparse COO ``x`` that takes
        the sparse frontier gives a coalesced sparse COO result.

    Raises:
        ShapeError, WeightError, DeviceMismatchError (all :class:`~kgqa.errors.KGQAError`).
    """
    if validate:
        E, T = kb.num_entities, kb.num_triples
        check_weights("x", x, (None, E), f"(B, E) = (B, {E})", device=kb.device)
        _check_r(kb, "r", r, x.shape[0])
        if fact_weights is not None:
            check_weights("fact_weights", fact_weights, (T,), f"(T,) = ({T},)", device=kb.device)
    if frontier not in ("auto", "dense", "sparse"):
        raise ValueError(f"frontier must be 'auto', 'dense' or 'sparse', got {frontier!r}")
    B = x.shape[0]
    dtype = x.dtype if x.dtype == r.dtype else torch.promote_types(x.dtype, r.dtype)
    if dtype in HALF_DTYPES:  # no sparse product takes them on the CPU, and sums of many facts need
        # float32's precision: the hop runs in float32 and its result comes back in the input's dtype
        w = fact_weights.float() if fact_weights is not None else None
        return follow(kb, x.float(), r.float(), frontier=frontier, fact_weights=w, validate=False).to(dtype)
    if r.dtype != dtype:
        r = r.to(dtype)
    if r.shape[0] != B:
        r = r.expand(B, -1)
    if x.dtype != dtype:
        x = x.to(dtype)
    if B == 0 or kb.num_triples == 0:  # nothing to follow; keep the graph connected for autograd
        zero = (x.to_dense() if x.is_sparse else x) * 0
        return zero + (r.sum() * 0 if r.numel() else 0)
    active = None
    if frontier == "auto":
        fused_dense = _fused_dense(x)
        budget = (AUTO_SPARSE_RATIO_FUSED if fused_dense else AUTO_SPARSE_RATIO) * kb.num_triples * B
        if x.is_sparse:  # budget: facts the sparse frontier may touch
            frontier = "sparse" if touched(kb, x._indices()[1]) <= budget else "dense"
        elif fused_dense:  # one compiled pass that stops once the budget is passed
            active = fused.active_entries(kb, x, budget)
            frontier = "sparse" if active is not None else "dense"
        else:  # at least one non-zero per active block, of mean out-degree T / E
            active = entries(x, max_blocks=budget * kb.num_entities / kb.num_triples)
            frontier = "sparse" if active is not None and touched(kb, active[1]) <= budget else "dense"
    if frontier == "sparse":
        return sparse_follow(kb, x, r, fact_weights, active)
    return _dense_follow(kb, x.to_dense() if x.is_sparse else x, r, fact_weights)


def follow_path(kb: ReifiedKG, x: Tensor, rs: Sequence[Tensor] | Tensor, *, frontier: Frontier = "auto",
                fact_weights: Tensor | None = None, validate: bool = True,
                return_all: bool = False) -> Tensor | list[Tensor]:
    """Multi-hop follow: ``x_t = follow(x_{t-1}, r_t)`` for ``t = 1..H`` (eq. 1, applied ``H`` times).

    ``rs`` is a sequence of ``H`` relation weight tensors ``(B, R)`` (or ``(1, R)``), or one
    ``(H, B, R)`` tensor. Returns ``x_H`` (``x`` itself when ``H = 0``), or the list
    ``[x_1, ..., x_H]`` with ``return_all``. Inputs are validated once, not per hop.
    """
    if isinstance(rs, torch.Tensor) and rs.dim() != 3:
        raise ShapeError(f"rs as one tensor must have shape (H, B, R), got {tuple(rs.shape)}")
    out: list[Tensor] = []
    for i, r in enumerate(rs.unbind(0) if isinstance(rs, torch.Tensor) else rs):
        if validate and i > 0:  # x_t for t ≥ 1 is valid by construction; check each r_t
            _check_r(kb, f"rs[{i}]", r, x.shape[0])
        x = follow(kb, x, r, frontier=frontier, fact_weights=fact_weights, validate=validate and i == 0)
        out.append(x)
    return out if return_all else x
