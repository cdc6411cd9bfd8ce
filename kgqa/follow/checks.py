"""The input check of ``follow``: weights are float tensors of the expected shape, on the graph's
device, finite and non-negative — one pass over the values, whatever their memory layout."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..errors import DeviceMismatchError, ShapeError, WeightError
from ..types import Tensor

__all__ = ["check_weights", "storage_order"]


def storage_order(t: Tensor) -> Tensor:
    """``t`` with its dimensions permuted into the order of its memory, when that makes it
    contiguous (an entity-major ``(B, E)`` view becomes the ``(E, B)`` tensor it views); else ``t``.
    A reduction over every element gives the same result either way, but torch reads a transposed
    view out of order: ``aminmax`` of an entity-major ``(B, 42719)`` x took 5–10× as long for
    B = 16–256, more than the hop it guards (``python benchmarks/validation.py``)."""
    if t.is_contiguous():
        return t
    w = t.permute(sorted(range(t.dim()), key=t.stride, reverse=True))
    return w if w.is_contiguous() else t


def check_weights(
    name: str,
    t: object,
    shape: Sequence[int | None],
    expected: str,
    *,
    device: torch.device | None = None,
    values: bool = True,
) -> None:
    """Check that ``t`` is a float tensor of ``shape`` (``None`` = any size) with finite,
    non-negative entries, on ``device`` when given. Raises :class:`ShapeError`,
    :class:`DeviceMismatchError` or :class:`WeightError` naming ``name`` and the ``expected``
    shape (a string such as ``"(B, E) = (B, 42719)"``). Sparse COO tensors are accepted; their
    stored values are checked. The value check is one pass (``aminmax``) and one sync; pass
    ``values=False`` to skip it.
    """
    if not isinstance(t, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor of shape {expected}, got {type(t).__name__}")
    if t.layout not in (torch.strided, torch.sparse_coo):
        raise ShapeError(f"{name} must be a dense or sparse COO tensor, got layout {t.layout}")
    if not t.is_floating_point():
        raise ShapeError(f"{name} must be a floating-point tensor of shape {expected}, got dtype {t.dtype} "
                         "(convert with .float())")
    if t.dim() != len(shape) or any(n is not None and d != n for d, n in zip(t.shape, shape)):
        raise ShapeError(f"{name} must have shape {expected}, got {tuple(t.shape)}")
    if device is not None and t.device != device:
        raise DeviceMismatchError(f"{name} is on {t.device} but the knowledge graph is on {device}; "
                                  f"move it with {name}.to({str(device)!r})")
    if not values:
        return
    v = (t._values() if t.is_sparse else t).detach()
    if v.numel() == 0:
        return
    lo, hi = torch.aminmax(storage_order(v))  # NaN propagates into both (and fails both tests)
    lo, hi = (lo.item(), hi.item()) if v.is_cpu else torch.stack((lo, hi)).tolist()  # one sync on a GPU
    if lo >= 0 and hi < math.inf:  # Python floats: cheaper than a tensor expression
        return
    if torch.isnan(v).any():
        raise WeightError(f"{name} contains NaN ({int(torch.isnan(v).sum())} entries)")
    if torch.isinf(v).any():
        raise WeightError(f"{name} contains infinite values ({int(torch.isinf(v).sum())} entries)")
    raise WeightError(f"{name} must be non-negative weights, but {int((v < 0).sum())} entries are "
                      f"negative (min {float(lo):.4g})")
