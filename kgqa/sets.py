"""Weighted-set algebra over entities: one_hot, intersect, union, difference, count, normalize, top_k.

A *weighted set* of entities is a float tensor ``x`` of shape ``(B, E)`` (a batch of ``B`` sets
over the ``E`` entities of a knowledge graph) with weights ``x[b, e] ≥ 0``; a hard set has 0/1
weights. These free functions are the set operations of the differentiable knowledge graph
(NQL's set algebra, Cohen et al. 2020): each is a plain element-wise tensor expression, so it is
differentiable wherever its formula is.

    intersect(a, b, "min")      = min(a, b)                  (Rigel-Intersect: Sen et al. 2021)
    intersect(a, b, "product")  = a ⊙ b
    union(a, b, "max")          = max(a, b)
    union(a, b, "sum")          = min(a + b, 1)
    difference(a, b)            = a ⊙ (1 − b)                ("films starring A not directed by B")
    count(x)                    = Σ_e x_e                    (the expected size of the set)

>>> from kgqa.kg import KnowledgeGraph
>>> kg = KnowledgeGraph.from_triples([("a", "r", "b"), ("a", "r", "c")])
>>> x = union(one_hot(kg, ["b"]), one_hot(kg, ["c"]))
>>> [e for e, _, _ in top_k(kg, x[0], 5)]
['b', 'c']
"""

from __future__ import annotations

from numbers import Integral
from collections.abc import Sequence
from typing import Literal, Union

import torch

from .errors import (
    DeviceMismatchError,
    ShapeError,
    UnknownEntityError,
)
from .kg import KnowledgeGraph
from .types import EntityId, EntityKey, RelationKey, Tensor

__all__ = [
    "one_hot",
    "relation_one_hot",
    "intersect",
    "union",
    "difference",
    "count",
    "normalize",
    "top_k",
]

Keys = Union[EntityKey, Sequence[Union[EntityKey, Sequence[EntityKey]]], Tensor]


def _check_pair(a: Tensor, b: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """Shared checks of a binary set operation: tensors, same entity vocabulary, broadcastable."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor):
            raise ShapeError(f"{op}: {name} must be a torch.Tensor of shape (..., E), got {type(t).__name__}")
        if t.dim() == 0:
            raise ShapeError(f"{op}: {name} must have shape (..., E), got a scalar")
    a = a.to_dense() if a.is_sparse else a
    b = b.to_dense() if b.is_sparse else b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"{op}: the sets are over different entity vocabularies: a has {a.shape[-1]} "
                         f"entities, b has {b.shape[-1]} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ShapeError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
    if a.device != b.device:
        raise DeviceMismatchError(f"{op}: a is on {a.device}, b is on {b.device}")
    return a, b


# ---------------------------------------------------------------------- construction
def one_hot(
    kg: KnowledgeGraph,
    keys: Keys,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    sparse: bool = False,
) -> Tensor:
    """A batch of hard entity sets, ``(B, E)`` ``dtype`` with 0/1 weights.

    ``keys`` is one entity (``(1, E)``), a list of ``B`` entities (row ``b`` is the one-hot of
    ``keys[b]``), a list of ``B`` lists/sets of entities (row ``b`` is their k-hot vector; an
    empty list gives an empty set), or a 1-D integer tensor of ``B`` entity indices. An entity is
    an index, an id, or a display name/alias that names exactly one entity (see
    :meth:`KnowledgeGraph.lookup <kgqa.kg.KnowledgeGraph.lookup>`). The dense result is stored entity-major (a transposed view with
    stride ``(1, B)``), the layout :func:`kgqa.follow.follow` computes in; ``.contiguous()``
    gives a row-major copy. ``sparse=True`` returns a coalesced sparse COO tensor instead, which
    lets ``follow`` skip scanning for non-zeros.
    """
    E = kg.num_entities
    if isinstance(keys, torch.Tensor):
        if keys.dim() != 1 or keys.is_floating_point() or keys.dtype == torch.bool:
            raise ShapeError(f"keys as a tensor must be 1-D integer entity indices (B,), got "
                             f"{keys.dtype} of shape {tuple(keys.shape)}")
        idx = keys.to(torch.int64).cpu()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= E):
            bad = int(idx[(idx < 0) | (idx >= E)][0])
            raise UnknownEntityError(bad, where=f"a graph of {E} entities")
        rows, cols = torch.arange(idx.numel()), idx
    else:
        if isinstance(keys, (str, Integral)):
            keys = [keys]
        rows_l: list[int] = []
        cols_l: list[int] = []
        for b, item in enumerate(keys):
            members = [item] if isinstance(item, (str, Integral, torch.Tensor)) else list(item)
            for m in dict.fromkeys(kg.lookup(k) for k in members):
                rows_l.append(b)
                cols_l.append(m)
        rows, cols = torch.tensor(rows_l, dtype=torch.int64), torch.tensor(cols_l, dtype=torch.int64)
        n_rows = len(keys)
    B = idx.numel() if isinstance(keys, torch.Tensor) else n_rows
    if sparse:
        key = rows * E + cols
        order = torch.argsort(key)
        out = torch.sparse_coo_tensor(torch.stack([rows[order], cols[order]]), torch.ones(len(key), dtype=dtype),
                                      (B, E), is_coalesced=True, check_invariants=False)
        return out.to(device) if device is not None else out
    out = torch.zeros(E, B, dtype=dtype).t()  # (B, E) stored entity-major: what follow works in
    out[rows, cols] = 1
    return out.to(device) if device is not None else out


def relation_one_hot(
    kg: KnowledgeGraph,
    keys: RelationKey | Sequence[RelationKey],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(B, R)`` one-hot relation weights, one row per relation name (or index) in ``keys``."""
    if isinstance(keys, (str, int)):
        keys = [keys]
    idx = [kg.relation_index(k) for k in keys]
    out = torch.zeros(len(idx), kg.num_relations, dtype=dtype)
    out[torch.arange(len(idx)), torch.tensor(idx, dtype=torch.int64)] = 1
    return out.to(device) if device is not None else out


# ---------------------------------------------------------------------- algebra
def intersect(a: Tensor, b: Tensor, *, mode: Literal["min", "product"] = "min") -> Tensor:
    """Weighted intersection of two entity sets, ``(..., E)`` → broadcast shape.

    ``"min"``: ``min(a, b)`` element-wise — the fuzzy-logic ∧ used by Rigel-Intersect (Sen et al.,
    2021); its gradient goes to the smaller argument (shared equally on ties). ``"product"``:
    ``a ⊙ b`` — smooth in both arguments. Both equal the set intersection on 0/1 sets.
    """
    a, b = _check_pair(a, b, "intersect")
    if mode == "min":
        return torch.minimum(a, b)
    if mode == "product":
        return a * b
    raise ValueError(f"intersect: mode must be 'min' or 'product', got {mode!r}")


def union(a: Tensor, b: Tensor, *, mode: Literal["max", "sum"] = "max") -> Tensor:
    """Weighted union of two entity sets, ``(..., E)`` → broadcast shape.

    ``"max"``: ``max(a, b)`` element-wise. ``"sum"``: ``min(a + b, 1)`` — the sum clipped to 1,
    whose gradient is 1 in both arguments below the clip and 0 above it. Both equal the set union
    on 0/1 sets.
    """
    a, b = _check_pair(a, b, "union")
    if mode == "max":
        return torch.maximum(a, b)
    if mode == "sum":
        return torch.clamp(a + b, max=1.0)
    raise ValueError(f"union: mode must be 'max' or 'sum', got {mode!r}")


def difference(a: Tensor, b: Tensor) -> Tensor:
    """Weighted difference "in ``a`` and not in ``b``", ``(..., E)`` → broadcast shape:
    ``a ⊙ (1 − clamp(b, 0, 1))``. An entity of ``a`` keeps the share of its weight that ``b``
    does not claim; the set difference on 0/1 sets. Differentiable in both arguments (in ``b``
    only where ``0 < b < 1`` or at the clamp's inner edges)."""
    a, b = _check_pair(a, b, "difference")
    return a * (1.0 - b.clamp(0.0, 1.0))


def count(x: Tensor, *, threshold: float | None = None) -> Tensor:
    """The size of each weighted set ``x (..., E)``, shape ``(...)``.

    Without ``threshold``: the expected size ``Σ_e x_e`` — for weights read as independent
    membership probabilities, the expected number of members; differentiable (gradient 1 for every
    entity). With ``threshold``: the number of entities whose weight is at least ``threshold``
    (an integer-valued float; no gradient), how a count is read off a set at evaluation.
    """
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        raise ShapeError(f"count: x must be a tensor of shape (..., E), got {getattr(x, 'shape', type(x))}")
    x = x.to_dense() if x.is_sparse else x
    if threshold is None:
        return x.sum(dim=-1)
    if not 0 < threshold <= 1:
        raise ValueError(f"count: threshold must be in (0, 1], got {threshold}")
    return (x >= threshold).sum(dim=-1).to(x.dtype if x.is_floating_point() else torch.float32)


def normalize(
    x: Tensor, mode: Literal["sum", "max", "clip", "none"] = "sum", *, eps: float = 1e-12
) -> Tensor:
    """Rescale each row of ``x (..., E)`` (last dimension): ``"sum"`` divides by the row sum (a
    distribution over entities), ``"max"`` by the row maximum (largest weight 1), ``"clip"``
    clamps weights into ``[0, 1]``, ``"none"`` returns ``x``. All-zero rows stay zero (the
    divisor is clamped to ``eps``)."""
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        raise ShapeError(f"normalize: x must be a tensor of shape (..., E), got {getattr(x, 'shape', type(x))}")
    x = x.to_dense() if x.is_sparse else x
    if mode == "sum":
        return x / x.sum(dim=-1, keepdim=True).clamp_min(eps)
    if mode == "max":
        return x / x.amax(dim=-1, keepdim=True).clamp_min(eps)
    if mode == "clip":
        return x.clamp(0.0, 1.0)
    if mode == "none":
        return x
    raise ValueError(f"normalize: mode must be 'sum', 'max', 'clip' or 'none', got {mode!r}")


def top_k(
    kg: KnowledgeGraph, x: Tensor, k: int = 5, *, include_zero: bool = False
) -> list[tuple[EntityId, str, float]] | list[list[tuple[EntityId, str, float]]]:
    """The ``k`` highest-weighted entities of ``x`` as ``(entity id, name, score)`` tuples.

    ``x`` is ``(E,)`` (returns one list) or ``(B, E)`` (returns a list per row). Entities with
    weight 0 are left out unless ``include_zero``, so a row may hold fewer than ``k`` items.
    Ties are broken by entity index.
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (1, 2):
        raise ShapeError(f"top_k: x must be (E,) or (B, E) with E = {kg.num_entities}, "
                         f"got {getattr(x, 'shape', type(x))}")
    if x.shape[-1] != kg.num_entities:
        raise ShapeError(f"top_k: x has {x.shape[-1]} entities but the graph has {kg.num_entities} "
                         f"(expected (B, E) = (B, {kg.num_entities}))")
    if k < 0:
        raise ValueError(f"top_k: k must be >= 0, got {k}")
    x2 = (x.to_dense() if x.is_sparse else x).detach().reshape(-1, kg.num_entities).float().cpu()
    k = min(k, kg.num_entities)
    scores, order = torch.sort(x2, dim=1, descending=True, stable=True)  # ties keep index order
    out: list[list[tuple[EntityId, str, float]]] = []
    for vals, idx in zip(scores[:, :k].tolist(), order[:, :k].tolist()):
        out.append([(kg.entities[i], kg.names[i], v) for v, i in zip(vals, idx) if include_zero or v != 0])
    return out[0] if x.dim() == 1 else out

