"""The differentiable ``follow`` of a reified knowledge graph (Cohen et al., ICLR 2020, "ReifKB").

For weighted entity sets ``x (B, E)`` and relation weights ``r (B, R)`` one hop is

    follow(x, r) = ((x M_subjᵀ) ⊙ (r M_relᵀ)) M_obj                                    (1)

i.e. ``y[b, o] = Σ_{t: o_t = o} w_t · x[b, s_t] · r[b, k_t]``: each fact hands the weight of its
subject to its object, scaled by the weight of its relation (:mod:`.reference` computes exactly
this, and every kernel is tested against it). Duplicate facts count twice.

**Dense frontier.** Facts sharing a pair ``p = (k, o)`` share a relation weight, so (1)
factorises through the ``P ≤ T`` distinct pairs (MetaQA: 110k pairs for 257k facts)::

    follow(x, r) = ((x A) ⊙ (r Kᵀ)) O                                                 (2)

``A (E, P)`` sums the weights of the facts ``s -k-> o``, ``K (P, R)`` and ``O (P, E)`` are the
0/1 relation and object of each pair (:mod:`.reified` holds them as index arrays).

**Sparse frontier.** When ``x`` has few non-zeros only the out-facts of its active entities are
touched::

    y[b, o] = Σ_{(b, e): x[b,e] ≠ 0}  Σ_{t: s_t = e, o_t = o}  w_t · x[b, e] · r[b, k_t]       (3)

(3) equals (1). It is differentiable in ``r``, the fact weights and the *non-zero* entries of
``x``; the gradient at entries where ``x`` is 0 is not computed (reads 0) — exact whenever those
zeros are structural, e.g. entities that no positive-weight path reaches; pass
``frontier="dense"`` to get it there too. ``x`` may be a sparse COO tensor: then there is no scan
for non-zeros and the result is sparse COO too, so a chain of hops stays sparse.

**The kernels**, one module each, one signature ``(kb, x, r, fact_weights) -> y``, none calling
another: :mod:`.dense` (eq. 2 as torch's CSR products; any device and float dtype), :mod:`.fused`
(eq. 2 as one compiled pass per direction, and eq. 3 for a sparse COO ``x`` without gradients;
CPU, float32/float64, Numba), :mod:`.sparse` (eq. 3 as torch operations). :func:`follow` is the
one place that chooses among them:

- ``frontier="auto"`` (default) takes the sparse frontier when the facts it would touch — the sum
  of the out-degrees of the non-zeros of ``x`` — are at most ``AUTO_SPARSE_RATIO · T · B`` (or
  ``AUTO_SPARSE_RATIO_FUSED · T · B`` where the dense frontier runs fused): the dense frontier's
  work scaled by the measured per-fact cost ratio. For a dense ``x`` on the CPU the non-zeros and
  their out-degrees are counted in one compiled pass that stops (→ dense) as soon as the budget is
  passed; elsewhere a blockwise min/max scan finds them.
- ``kernel="auto"`` (default) runs the compiled kernels wherever they apply, torch elsewhere;
  ``"fused"`` insists on them (an error where they cannot run: no Numba, not CPU, not
  float32/float64), ``"torch"`` never uses them. The sparse frontier has a compiled version only
  for a sparse COO ``x`` with no gradient to track; elsewhere it runs as torch operations under
  any ``kernel``.

**Several processes**: a :class:`~.distributed.ShardedReifiedKG` holds one rank's part of the facts;
:func:`follow` runs the hop on that part and sums the partial results over the ranks
(:mod:`.distributed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from ..errors import ShapeError
from ..threads import fit_threads_to_load
from ..types import Tensor
from . import dense, fused, sparse
from .checks import check_weights
from .distributed import ShardedReifiedKG
from .reference import follow_reference
from .reified import ReifiedKG

__all__ = ["ReifiedKG", "ShardedReifiedKG", "follow", "follow_path", "follow_reference", "Frontier", "Kernel",
           "FRONTIERS", "KERNELS", "AUTO_SPARSE_RATIO", "AUTO_SPARSE_RATIO_FUSED", "check_weights"]

Frontier = Literal["auto", "dense", "sparse"]
Kernel = Literal["auto", "fused", "torch"]
FRONTIERS = ("auto", "dense", "sparse")
KERNELS = ("auto", "fused", "torch")

AUTO_SPARSE_RATIO = 1 / 32
"""Share of the dense frontier's ``T · B`` facts below which ``"auto"`` goes sparse when the dense
frontier runs as torch's CSR products (MetaQA, B=16, 1 thread: break-even near density 5% for a
dense ``x``, 2% for sparse COO)."""

AUTO_SPARSE_RATIO_FUSED = 1 / 400
"""The same share when the dense frontier runs fused, about 4× faster: MetaQA, B=16, 1 thread,
measured break-even at 0.2-0.4% of ``T · B`` facts touched (x density 0.1-0.3%)."""

HALF_DTYPES = (torch.float16, torch.bfloat16)


def _check_r(kb: ReifiedKG, name: str, r: Tensor, B: int) -> None:
    R = kb.num_relations
    check_weights(name, r, (None, R), f"(B, R) = ({B}, {R}) or (1, {R})", device=kb.device)
    if r.shape[0] not in (1, B) or r.is_sparse:
        raise ShapeError(f"{name} must be a dense tensor of shape (B, R) = ({B}, {R}) or (1, {R}), "
                         f"got {tuple(r.shape)}{' (sparse)' if r.is_sparse else ''}")


def _compiled(kernel: str, x: Tensor) -> bool:
    """Whether the compiled kernels run for this ``x`` under ``kernel`` (an error where ``"fused"``
    is asked for and cannot run)."""
    if kernel == "torch":
        return False
    if kernel == "fused" and not fused.supports(x):
        raise ValueError("kernel='fused' needs Numba and a float32/float64 x on the CPU, "
                         f"got {x.dtype} on {x.device} (Numba {'present' if fused.AVAILABLE else 'missing'})")
    return fused.supports(x)


def follow(kb: ReifiedKG | ShardedReifiedKG, x: Tensor, r: Tensor, *, frontier: Frontier = "auto", kernel: Kernel = "auto",
           fact_weights: Tensor | None = None, validate: bool = True) -> Tensor:
    """One differentiable hop, eq. (1): ``follow(x, r) = ((x M_subjᵀ) ⊙ (r M_relᵀ)) M_obj``.

    Args:
        kb: the reified graph, or this rank's part of one (:class:`ShardedReifiedKG`: the hop runs
            on the part's facts and the partial results are summed over the ranks).
        x: ``(B, E)`` float non-negative weights over entities (dense, or sparse COO).
        r: ``(B, R)`` (or ``(1, R)``, shared by all rows) float non-negative relation weights.
        frontier: ``"dense"`` (eq. 2), ``"sparse"`` (eq. 3) or ``"auto"`` (module docstring).
        kernel: ``"auto"``, ``"fused"`` or ``"torch"`` (module docstring).
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
        ShapeError, WeightError, DeviceMismatchError (all :class:`~kgqa.errors.KGQAError`);
        ValueError for an unknown ``frontier`` or ``kernel``.
    """
    if isinstance(kb, ShardedReifiedKG):  # Σ over ranks of the hop on each rank's facts (.distributed)
        y = follow(kb.local, kb.copy_in(x), kb.copy_in(r), frontier=frontier, kernel=kernel,
                   fact_weights=kb.local_weights(fact_weights), validate=validate)
        return kb.sum_out(y)
    if validate:
        E, T = kb.num_entities, kb.num_triples
        check_weights("x", x, (None, E), f"(B, E) = (B, {E})", device=kb.device)
        _check_r(kb, "r", r, x.shape[0])
        if fact_weights is not None:
            check_weights("fact_weights", fact_weights, (T,), f"(T,) = ({T},)", device=kb.device)
    if frontier not in FRONTIERS:
        raise ValueError(f"frontier must be 'auto', 'dense' or 'sparse', got {frontier!r}")
    fit_threads_to_load()  # as many threads as other processes leave cores (kgqa.threads)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'auto', 'fused' or 'torch', got {kernel!r}")
    B = x.shape[0]
    dtype = x.dtype if x.dtype == r.dtype else torch.promote_types(x.dtype, r.dtype)
    if dtype in HALF_DTYPES:  # no sparse product takes them on the CPU, and sums of many facts need
        # float32's precision: the hop runs in float32 and its result comes back in the input's dtype
        w = fact_weights.float() if fact_weights is not None else None
        y = follow(kb, x.float(), r.float(), frontier=frontier, kernel=kernel, fact_weights=w, validate=False)
        return y.to(dtype)
    if r.dtype != dtype:
        r = r.to(dtype)
    if r.shape[0] != B:
        r = r.expand(B, -1)
    if x.dtype != dtype:
        x = x.to(dtype)
    if B == 0 or kb.num_triples == 0:  # nothing to follow; keep the graph connected for autograd
        zero = (x.to_dense() if x.is_sparse else x) * 0
        return zero + (r.sum() * 0 if r.numel() else 0)
    compiled = _compiled(kernel, x)
    active = None
    if frontier == "auto":
        budget = (AUTO_SPARSE_RATIO_FUSED if compiled else AUTO_SPARSE_RATIO) * kb.num_triples * B
        if x.is_sparse:  # budget: facts the sparse frontier may touch
            frontier = "sparse" if sparse.touched(kb, x._indices()[1]) <= budget else "dense"
        elif compiled:  # one compiled pass that stops once the budget is passed
            active = fused.active_entries(kb, x, budget)
            frontier = "sparse" if active is not None else "dense"
        else:  # at least one non-zero per active block, of mean out-degree T / E
            active = sparse.entries(x, max_blocks=budget * kb.num_entities / kb.num_triples)
            frontier = "sparse" if active is not None and sparse.touched(kb, active[1]) <= budget else "dense"
    if frontier == "sparse":
        if x.is_sparse and compiled and not (torch.is_grad_enabled() and (
                x.requires_grad or r.requires_grad or (fact_weights is not None and fact_weights.requires_grad))):
            return fused.sparse_hop(kb, x.coalesce(), r, fact_weights)
        return sparse.sparse_hop(kb, x, r, fact_weights, active)
    x = x.to_dense() if x.is_sparse else x
    return (fused.dense_hop if compiled else dense.dense_hop)(kb, x, r, fact_weights)


def follow_path(kb: ReifiedKG | ShardedReifiedKG, x: Tensor, rs: Sequence[Tensor] | Tensor, *, frontier: Frontier = "auto",
                kernel: Kernel = "auto", fact_weights: Tensor | None = None, validate: bool = True,
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
        x = follow(kb, x, r, frontier=frontier, kernel=kernel, fact_weights=fact_weights,
                   validate=validate and i == 0)
        out.append(x)
    return out if return_all else x
