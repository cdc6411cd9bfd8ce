"""Compiled CPU kernels (Numba) for ``follow``: the dense frontier as one fused pass per direction,
and a sparse COO hop without gradients as one call (:func:`sparse_hop`).

Eq. (2) of :mod:`kgqa.follow` written with torch's sparse products moves every value three
times: the ``(P, B)`` pair messages ``x A`` are written, scaled by the relation weights in place,
and read again by the product with ``O``. A hop has to read ``x`` and write ``y`` once; the pair
messages are a by-product. Here each output row is built where it is needed:

    y[o] = Σ_{pairs p = (k, o)} r[k] ⊙ Σ_{facts t of p} w_t · x[s_t]                      (forward)

Rows are ``B`` values long (the transposed ``(E, B)`` layout of :mod:`kgqa.follow.dense`), so the inner
loop runs over the batch and vectorises; objects are split into chunks of about equal work, one
thread per chunk, and each thread writes only its own rows — no atomics, no ``(P, B)`` buffer.
The rows a fact needs are requested from memory a few facts ahead (``llvm.prefetch``), and rows
of ``x`` that are all zero — at hop 1 every entity but the questions' own — are found in one
sequential pass and never gathered (the pass is skipped when a probe of a few rows finds none).
The backward pass is two more such loops and recomputes the pair messages instead of keeping them:

    g_x[s] = Σ_{facts t: s_t = s} w_t · r[k_t] ⊙ g_y[o_t]                               (subject order)
    g_r[k] = Σ_{pairs p = (k, o)} g_y[o] ⊙ Σ_{facts t of p} w_t · x[s_t]                   (object order)
    g_w[t] = Σ_b x[s_t, b] · r[k_t, b] · g_y[o_t, b]                                    (object order)

The kernels read the index arrays a :class:`~kgqa.follow.reified.ReifiedKG` already holds (nothing
new is stored) and are compiled on first use for each dtype (cached on disk by Numba). ``AVAILABLE``
is false when Numba cannot be imported; the dispatcher of :mod:`kgqa.follow` then runs
:mod:`kgqa.follow.dense` and :mod:`kgqa.follow.sparse`.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from ..types import Tensor
from .dense import transposed_inputs
from .reified import ReifiedKG

try:
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - numba is a declared dependency
    numba = None
AVAILABLE = numba is not None
DTYPES = (torch.float32, torch.float64)
CHUNKS_PER_THREAD = 8  # more chunks than threads, so one heavy chunk does not hold up the rest

__all__ = ["AVAILABLE", "DTYPES", "active_entries", "dense_hop", "sparse_hop", "supports"]

_LOCK = threading.Lock()  # Numba's fallback thread pool (workqueue) must not be entered twice


def supports(x: Tensor) -> bool:
    """Whether the fused kernels take this ``x`` (a CPU float32/float64 tensor, Numba present)."""
    return AVAILABLE and x.is_cpu and x.dtype in DTYPES


PREFETCH_DISTANCE = 8  # facts ahead whose source row is requested from memory early
LIVE_PROBE = 64  # rows of x looked at before deciding to scan it for rows of zeros
SCAN_CHUNK = 64  # entries of a (B, E) row counted at once (branch-free) before they are looked at one by one
PREFETCH_MIN_ROW_BYTES = 128  # shorter rows are cheap enough to wait for (measured: prefetch slows B=1)

if AVAILABLE:
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def _prefetch_row(typingctx, arr, row):  # pragma: no cover - compiled
        """Ask the memory system for row ``row`` of a C-contiguous 2-D array, one request per 64
        bytes (LLVM's ``llvm.prefetch``: read, keep in all cache levels); a hint, no effect on values."""
        def codegen(context, builder, sig, args):
            aryty = sig.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            shape = cgutils.unpack_tuple(builder, ary.shape)
            index = context.cast(builder, args[1], sig.args[1], types.intp)
            ptr = cgutils.get_item_pointer2(context, builder, ary.data, shape, cgutils.unpack_tuple(builder, ary.strides),
                                            aryty.layout, [index, context.get_constant(types.intp, 0)])
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                "llvm.prefetch.p0i8")
            base = builder.bitcast(ptr, i8p)
            nbytes = builder.mul(shape[1], context.get_constant(types.intp, aryty.dtype.bitwidth // 8))
            step = context.get_constant(types.intp, 64)
            with cgutils.for_range_slice(builder, context.get_constant(types.intp, 0), nbytes, step) as (off, _):
                builder.call(fn, [builder.gep(base, [off]), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return types.void(arr, row), codegen

    @njit(parallel=True, cache=True, nogil=True, fastmath={"reassoc"})
    def _live_rows(x, live):  # pragma: no cover
        """``live[e] = 1`` where row ``e`` of ``x`` holds a non-zero (or NaN), else 0. A row whose
        first value is non-zero is decided at once; the others are summed (``|·|``, vectorised)."""
        n = x.shape[0]
        chunk = 4096
        for c in prange((n + chunk - 1) // chunk):
            for e in range(c * chunk, min(n, (c + 1) * chunk)):
                row = x[e]
                if row.shape[0] and row[0] != 0:
                    live[e] = 1
                    continue
                total = 0.0
                for b in range(row.shape[0]):
                    total += abs(row[b])
                live[e] = total != 0  # NaN != 0

    @njit(parallel=True, fastmath=True, cache=True, nogil=True)
    def _forward(bounds, o_crow, pair_rel, c_crow, c_col, c_vals, x, live, r, y, ahead):  # pragma: no cover
        B = y.shape[1]
        for c in prange(bounds.shape[0] - 1):
            end = c_crow[o_crow[bounds[c + 1]]]
            for o in range(bounds[c], bounds[c + 1]):
                acc = y[o]
                acc[:] = 0
                for p in range(o_crow[o], o_crow[o + 1]):
                    rk = r[pair_rel[p]]
                    for t in range(c_crow[p], c_crow[p + 1]):
                        if ahead and t + ahead < end and live[c_col[t + ahead]]:
                            _prefetch_row(x, c_col[t + ahead])
                        s = c_col[t]
                        if not live[s]:  # a row of zeros adds nothing: skip reading it
                            continue
                        xs = x[s]
                        w = c_vals[t]
                        for b in range(B):
                            acc[b] += w * rk[b] * xs[b]

    @njit(parallel=True, fastmath=True, cache=True, nogil=True)
    def _grad_x(bounds, s_crow, s_col, s_vals, pair_rel, pair_obj, r, gy, gx, ahead):  # pragma: no cover
        B = gx.shape[1]
        for c in prange(bounds.shape[0] - 1):
            end = s_crow[bounds[c + 1]]
            for s in range(bounds[c], bounds[c + 1]):
                acc = gx[s]
                acc[:] = 0
                for q in range(s_crow[s], s_crow[s + 1]):
                    if ahead and q + ahead < end:
                        _prefetch_row(gy, pair_obj[s_col[q + ahead]])
                    p = s_col[q]
                    rk = r[pair_rel[p]]
                    go = gy[pair_obj[p]]
                    w = s_vals[q]
                    for b in range(B):
                        acc[b] += w * rk[b] * go[b]

    @njit(parallel=True, fastmath=True, cache=True, nogil=True)
    def _grad_r_w(bounds, o_crow, pair_rel, c_crow, c_col, c_vals, x, r, gy, part, gw, need_r, need_w,
                  ahead):  # pragma: no cover
        B = x.shape[1]
        for c in prange(bounds.shape[0] - 1):
            z = np.empty(B, x.dtype)  # one pair message at a time
            end = c_crow[o_crow[bounds[c + 1]]]
            for o in range(bounds[c], bounds[c + 1]):
                go = gy[o]
                for p in range(o_crow[o], o_crow[o + 1]):
                    k = pair_rel[p]
                    rk = r[k]
                    z[:] = 0
                    for t in range(c_crow[p], c_crow[p + 1]):
                        if ahead and t + ahead < end:
                            _prefetch_row(x, c_col[t + ahead])
                        xs = x[c_col[t]]
                        if need_w:
                            acc = 0.0
                            for b in range(B):
                                acc += xs[b] * rk[b] * go[b]
                            gw[t] = acc
                        if need_r:
                            w = c_vals[t]
                            for b in range(B):
                                z[b] += w * xs[b]
                    if need_r:
                        pk = part[c, k]
                        for b in range(B):
                            pk[b] += go[b] * z[b]

    @njit(cache=True, nogil=True)
    def _scan_active(x, entity_major, s_crow, budget, b_out, e_out):  # pragma: no cover
        """The non-zeros of ``x`` (``(E, B)`` when ``entity_major``, else ``(B, E)``) at entities
        with out-facts, into ``b_out``/``e_out`` (``budget`` long); their count, or -1 as soon as
        the facts leaving them pass ``budget``."""
        n = 0
        touched = 0
        if entity_major:
            for e in range(x.shape[0]):
                deg = s_crow[e + 1] - s_crow[e]
                if deg == 0:
                    continue
                row = x[e]
                nz = 0
                for b in range(row.shape[0]):  # counted without a branch: vectorised
                    nz += row[b] != 0
                if nz == 0:
                    continue
                touched += nz * deg
                if touched > budget:
                    return -1
                for b in range(row.shape[0]):
                    if row[b] != 0:
                        b_out[n], e_out[n] = b, e
                        n += 1
        else:
            for b in range(x.shape[0]):
                row = x[b]
                for c0 in range(0, row.shape[0], SCAN_CHUNK):
                    c1 = min(row.shape[0], c0 + SCAN_CHUNK)
                    nz = 0
                    for e in range(c0, c1):  # a chunk of zeros is passed over vectorised
                        nz += row[e] != 0
                    if nz == 0:
                        continue
                    for e in range(c0, c1):
                        if row[e] != 0 and s_crow[e + 1] > s_crow[e]:
                            touched += s_crow[e + 1] - s_crow[e]
                            if touched > budget:
                                return -1
                            b_out[n], e_out[n] = b, e
                            n += 1
        return n

    @njit(cache=True, nogil=True)
    def _insertion_sort(keys, vals, m):  # pragma: no cover
        """Sort ``keys[:m]`` (and ``vals`` alongside) in place; for the few messages of one row."""
        for i in range(1, m):
            k, v = keys[i], vals[i]
            j = i - 1
            while j >= 0 and keys[j] > k:
                keys[j + 1], vals[j + 1] = keys[j], vals[j]
                j -= 1
            keys[j + 1], vals[j + 1] = k, v

    @njit(cache=True, nogil=True)
    def _sparse_forward(ind, v, r, s_crow, s_col, s_vals, pair_rel, pair_obj):  # pragma: no cover
        """``ind (2, n)`` coalesced (sorted by row, then entity), ``v (n,)``; ``r (B, R)`` or
        ``(1, R)`` for all rows; ``s_vals`` empty for unit fact weights. One row of the batch at a
        time: its messages (one per out-fact of its entities) are sorted by object and summed."""
        n = ind.shape[1]
        M = 0
        for i in range(n):
            M += s_crow[ind[1, i] + 1] - s_crow[ind[1, i]]
        objs = np.empty(M, np.int64)
        vals = np.empty(M, v.dtype)
        out_b = np.empty(M, np.int64)
        out_o = np.empty(M, np.int64)
        out_v = np.empty(M, v.dtype)
        weighted = s_vals.shape[0] > 0
        shared_r = r.shape[0] == 1
        c = 0
        i = 0
        while i < n:
            bi = ind[0, i]
            rb = r[0] if shared_r else r[bi]
            m = 0
            while i < n and ind[0, i] == bi:  # the messages of row bi
                vi = v[i]
                for q in range(s_crow[ind[1, i]], s_crow[ind[1, i] + 1]):
                    p = s_col[q]
                    objs[m] = pair_obj[p]
                    w = vi * rb[pair_rel[p]]
                    if weighted:
                        w *= s_vals[q]
                    vals[m] = w
                    m += 1
                i += 1
            if m <= 32:
                _insertion_sort(objs, vals, m)
                order = np.arange(m)
            else:
                order = np.argsort(objs[:m], kind="mergesort")
            first = c
            for j in range(m):  # sum the messages that reach the same object
                o = objs[order[j]]
                if c > first and out_o[c - 1] == o:
                    out_v[c - 1] += vals[order[j]]
                else:
                    out_b[c], out_o[c], out_v[c] = bi, o, vals[order[j]]
                    c += 1
        k = 0
        for j in range(c):  # weights are non-negative: a zero sum means only zero messages
            if out_v[j] != 0:
                out_b[k], out_o[k], out_v[k] = out_b[j], out_o[j], out_v[j]
                k += 1
        idx = np.empty((2, k), np.int64)
        idx[0] = out_b[:k]
        idx[1] = out_o[:k]
        return idx, out_v[:k]


def sparse_hop(kb: ReifiedKG, x: Tensor, r: Tensor, fact_weights: Tensor | None) -> Tensor:
    """Eq. (3) of :mod:`kgqa.follow` for a coalesced sparse COO ``x (B, E)``, without gradients,
    in one compiled call: the messages, their sort and their sums. Returns the coalesced sparse COO
    ``(B, E)`` result. At hop 1 of a batch a call touches a few hundred facts, so what surrounds
    the kernel counts as much as the kernel: the graph's arrays are viewed as NumPy once and kept
    (:meth:`ReifiedKG.numpy`), unit fact weights are not materialised, and a shared ``r`` row is
    read in place."""
    s_ptr, s_pair, pair_rel, pair_obj = kb.numpy("subj_ptr", "subj_pair", "pair_rel", "pair_obj")
    v = x._values()
    if fact_weights is None and kb.subj_weights is None:
        s_vals = _NO_WEIGHTS[v.dtype]
    else:
        s_vals = _np(kb.weights_in("subject", fact_weights, v.dtype))
    if r.shape[0] > 1 and r.stride(0) == 0:  # (1, R) expanded to (B, R)
        r = r[:1]
    idx, vals = _sparse_forward(_np(x._indices()), _np(v), _np(r), s_ptr, s_pair, s_vals, pair_rel, pair_obj)
    return torch.sparse_coo_tensor(torch.from_numpy(idx), torch.from_numpy(vals), x.shape,
                                   is_coalesced=True, check_invariants=False)


def active_entries(kb: ReifiedKG, x: Tensor, budget: float) -> tuple[Tensor, Tensor] | None:
    """``(b, e)`` indices of the non-zeros (and NaNs) of a dense ``(B, E)`` x at entities with
    out-facts (the others send no message), in storage order — or ``None`` as soon as the facts
    leaving them pass ``budget``: the sparse frontier would then do more work than it saves. One
    compiled pass over ``x`` that stops early; rows of entities without out-facts are not read."""
    entity_major = x.t().is_contiguous()
    xs = _np(x.t() if entity_major else x)
    cap = int(max(0, min(budget, kb.num_triples * x.shape[0])))  # each entry kept touches ≥ 1 fact
    b, e = np.empty(cap, np.int64), np.empty(cap, np.int64)
    n = _scan_active(xs, entity_major, kb.numpy("subj_ptr")[0], budget, b, e)
    if n < 0:
        return None
    return torch.from_numpy(b[:n]), torch.from_numpy(e[:n])


_NO_WEIGHTS = {torch.float32: np.empty(0, np.float32), torch.float64: np.empty(0, np.float64)}


def _bounds(kb: ReifiedKG, order: str) -> np.ndarray:
    """Chunk boundaries for the object-order (``"o"``) or subject-order (``"s"``) loops:
    ``CHUNKS_PER_THREAD`` chunks of about equal work per thread of the current torch setting."""
    return kb.chunk_bounds(order, CHUNKS_PER_THREAD * torch.get_num_threads())


def _live(x: np.ndarray) -> np.ndarray:
    """``(E,)`` uint8: 1 where a row of ``x`` may hold a non-zero. Rows of zeros are worth finding
    when most rows are zero (hop 1: a few start entities); when ``LIVE_PROBE`` rows spread over
    ``x`` are all non-zero, the scan would cost a pass over ``x`` to skip nothing — every row is
    then taken as live (a zero row gathered adds zero: same result)."""
    E = x.shape[0]
    if E >= 4 * LIVE_PROBE:
        probe = x[np.linspace(0, E - 1, LIVE_PROBE).astype(np.int64)]
        if (probe != 0).any(axis=1).all():
            return np.ones(E, np.uint8)
    live = np.empty(E, np.uint8)
    _run(_live_rows, x, live)
    return live


def _ahead(x: np.ndarray) -> int:
    return PREFETCH_DISTANCE if x.shape[1] * x.itemsize >= PREFETCH_MIN_ROW_BYTES else 0


def _run(kernel, *args) -> None:
    """Run a kernel on as many threads as torch is set to use. Numba's OpenMP pool shares the
    process's OpenMP settings with torch and resets them when it starts, so torch's thread count
    is put back afterwards."""
    torch_threads = torch.get_num_threads()
    with _LOCK:
        numba.set_num_threads(max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS)))
        kernel(*args)
    if torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)


def _np(t: Tensor) -> np.ndarray:
    return t.numpy() if not t.requires_grad and t.is_contiguous() else t.detach().contiguous().numpy()


class _FusedDenseFollow(torch.autograd.Function):
    """The module docstring's forward and backward: ``(xT (E, B), rT (R, B), pair_w (T,),
    subj_w (T,), kb)`` → ``yT (E, B)``; ``pair_w`` are the fact weights in pair order, ``subj_w``
    in subject order."""

    @staticmethod
    def forward(ctx, xT: Tensor, rT: Tensor, pair_w: Tensor, subj_w: Tensor, kb: ReifiedKG) -> Tensor:
        E, B = kb.num_entities, xT.shape[1]
        yT = torch.empty(E, B, dtype=xT.dtype)
        x = _np(xT)
        live = _live(x)
        o_ptr, pair_rel, pair_ptr, pair_subj = kb.numpy("obj_ptr", "pair_rel", "pair_ptr", "pair_subj")
        _run(_forward, _bounds(kb, "o"), o_ptr, pair_rel, pair_ptr, pair_subj, _np(pair_w), x, live,
             _np(rT), yT.numpy(), _ahead(x))
        ctx.kb = kb
        ctx.save_for_backward(xT, rT, pair_w, subj_w)
        return yT

    @staticmethod
    def backward(ctx, gyT: Tensor):  # type: ignore[override]
        xT, rT, pair_w, subj_w = ctx.saved_tensors
        kb: ReifiedKG = ctx.kb
        need_x, need_r, need_w = ctx.needs_input_grad[:3]
        E, R, B = kb.num_entities, kb.num_relations, xT.shape[1]
        gy, r = _np(gyT), _np(rT)
        g_x = g_r = g_w = None
        if need_x:
            g_x = torch.empty(E, B, dtype=xT.dtype)
            _run(_grad_x, _bounds(kb, "s"), *kb.numpy("subj_ptr", "subj_pair"), _np(subj_w),
                 *kb.numpy("pair_rel", "pair_obj"), r, gy, g_x.numpy(), _ahead(gy))
        if need_r or need_w:
            bounds = _bounds(kb, "o")
            x = _np(xT)
            part = np.zeros((len(bounds) - 1 if need_r else 0, R, B), dtype=r.dtype)
            gw = np.zeros(kb.num_triples if need_w else 0, dtype=r.dtype)
            _run(_grad_r_w, bounds, *kb.numpy("obj_ptr", "pair_rel", "pair_ptr", "pair_subj"), _np(pair_w),
                 x, r, gy, part, gw, need_r, need_w, _ahead(x))
            if need_r:
                g_r = torch.from_numpy(part.sum(0))
            if need_w:
                g_w = torch.from_numpy(gw)  # pair order, as pair_w
        return g_x, g_r, g_w, None, None


def dense_hop(kb: ReifiedKG, x: Tensor, r: Tensor, fact_weights: Tensor | None) -> Tensor:
    """Eq. (2) for a dense CPU ``x (B, E)`` and ``r (B, R)`` of one dtype in :data:`DTYPES` →
    ``(B, E)``, a transposed view (stride ``(1, B)``), as :func:`kgqa.follow.dense.dense_hop`."""
    return _FusedDenseFollow.apply(*transposed_inputs(kb, x, r, fact_weights), kb).t()
