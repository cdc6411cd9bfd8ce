"""The dense frontier as torch's sparse products (any device, any float dtype).

Eq. (2) of :mod:`kgqa.follow`, ``follow(x, r) = ((x A) ⊙ (r Kᵀ)) O``, runs in the transposed
``(·, B)`` layout — ``yᵀ = Oᵀ ((Aᵀ xᵀ) ⊙ (K rᵀ))`` — as two CSR × dense products over the index
arrays of :class:`~kgqa.follow.reified.ReifiedKG` and a row scaling, with its exact backward:

    g_z = (g_y Oᵀ) ⊙ (r Kᵀ)      g_x = g_z Aᵀ      g_r = (g_y Oᵀ ⊙ x A) K      g_w[t] = Σ_b x[b, s_t] g_z[b, p_t]

No Python loop over facts or batch rows.
"""

from __future__ import annotations

import warnings

import torch

from ..types import Tensor
from .reified import ReifiedKG

__all__ = ["dense_hop", "transposed_inputs"]

NATIVE_SPMM_MIN_COLS = 8  # from this batch size on, use torch's native CSR kernel (see _spmm)


def _csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR matrix over existing index arrays (no copies, no invariant check)."""
    return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


with warnings.catch_warnings():  # torch warns once per process that CSR is "beta": spend it here
    warnings.simplefilter("ignore", UserWarning)
    _csr(torch.zeros(2, dtype=torch.int64), torch.zeros(1, dtype=torch.int64), torch.ones(1), (1, 1))


def _spmm(A: Tensor, dense: Tensor) -> Tensor:
    """CSR ``A`` @ ``dense``. On the CPU with ``B ≥ NATIVE_SPMM_MIN_COLS`` columns torch's native
    row-parallel kernel (``torch.sparse.mm(..., reduce="sum")``) beats the MKL path, which zero-fills
    and copies its output (measured 3× faster at B = 64 on MetaQA); elsewhere ``A @ dense``."""
    if dense.device.type == "cpu" and dense.shape[1] >= NATIVE_SPMM_MIN_COLS:
        return torch.sparse.mm(A, dense, reduce="sum")
    return A @ dense


class _DenseFollow(torch.autograd.Function):
    """``(xT (E, B), rT (R, B), pair_w (T,), subj_w (T,), kb)`` → ``yT (E, B)``; ``pair_w`` are the
    fact weights in pair order, ``subj_w`` in subject order."""

    @staticmethod
    def forward(ctx, xT: Tensor, rT: Tensor, pair_w: Tensor, subj_w: Tensor, kb: ReifiedKG) -> Tensor:
        E, P, B = kb.num_entities, kb.num_pairs, xT.shape[1]
        need_r, need_w = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        z0 = _spmm(_csr(kb.pair_ptr, kb.pair_subj, pair_w, (P, E)), xT)  # (P, B) = (x A)ᵀ
        z = kb.scratch(P, B, xT.dtype) if need_r else z0  # keep x A for the gradient of r
        torch.mul(z0, rT.index_select(0, kb.pair_rel), out=z)  # ⊙ (r Kᵀ)ᵀ
        yT = _spmm(_csr(kb.obj_ptr, kb.pair_ids, kb.ones(P, z.dtype), (E, P)), z)  # (E, B)
        ctx.kb = kb
        ctx.save_for_backward(xT if need_w else None, rT, z0 if need_r else None, subj_w)
        return yT

    @staticmethod
    def backward(ctx, gyT: Tensor):  # type: ignore[override]
        xT, rT, z0, subj_w = ctx.saved_tensors
        kb: ReifiedKG = ctx.kb
        need_x, need_r, need_w = ctx.needs_input_grad[:3]
        gz = kb.scratch(kb.num_pairs, gyT.shape[1], gyT.dtype)
        torch.index_select(gyT, 0, kb.pair_obj, out=gz)  # (P, B) = (gy Oᵀ)ᵀ; any strides
        g_r = None
        if need_r:  # (gy Oᵀ ⊙ x A) K
            g_r = gz.new_zeros(kb.num_relations, gz.shape[1]).index_add_(0, kb.pair_rel, gz * z0)
        gz.mul_(rT.index_select(0, kb.pair_rel))  # now the gradient of x A
        g_x = None
        if need_x:
            g_x = _spmm(_csr(kb.subj_ptr, kb.subj_pair, subj_w, (kb.num_entities, kb.num_pairs)), gz)
        g_w = None
        if need_w:  # ∂/∂w_t = Σ_b x[b, s_t] · gz[p_t, b], facts in pair order
            counts = (kb.pair_ptr[1:] - kb.pair_ptr[:-1]).to(torch.int64)
            pair_of = torch.repeat_interleave(torch.arange(kb.num_pairs, device=gz.device), counts,
                                              output_size=kb.num_triples)
            g_w = (gz.index_select(0, pair_of) * xT.index_select(0, kb.pair_subj)).sum(1)  # (T,)
        return g_x, g_r, g_w, None, None


def transposed_inputs(kb: ReifiedKG, x: Tensor, r: Tensor,
                      fact_weights: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What both dense kernels read: ``xT (E, B)``, ``rT (R, B)`` (free when ``x`` came out of a
    hop) and the fact weights in pair and in subject order."""
    pair_w, subj_w = (kb.weights_in(order, fact_weights, x.dtype) for order in ("pair", "subject"))
    return x.t().contiguous(), r.t().contiguous(), pair_w, subj_w


def dense_hop(kb: ReifiedKG, x: Tensor, r: Tensor, fact_weights: Tensor | None) -> Tensor:
    """Eq. (2) for a dense ``x (B, E)`` and ``r (B, R)`` of one float dtype on the graph's device →
    ``(B, E)``, a transposed view (stride ``(1, B)``: the layout the next hop reads)."""
    return _DenseFollow.apply(*transposed_inputs(kb, x, r, fact_weights), kb).t()
