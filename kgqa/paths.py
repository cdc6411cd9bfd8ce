"""The paths that carry an answer's weight: an exact decomposition of a walk's score.

A walk (:mod:`kgqa.model`) computes ``x_t = keep_t ⊙ follow(x_{t-1}, r_t)`` for ``t = 1..T`` —
``keep_t`` is the share of each entity a topic mask leaves (1 without one) — and scores
``ŷ = Σ_t a_t x_t``. Unrolled, the weight of entity ``a`` after hop ``t`` is a sum over the paths
``e_0 -k_1-> e_1 ... -k_t-> a`` of the graph, one term per path::

    a_t · x_0[e_0] · Π_i  r_i[k_i] · w_{f_i} · keep_i[e_i]                                 (1)

(``f_i`` the fact used at hop ``i``, ``w`` its weight), and ``ŷ_a`` is the sum of (1) over every
path of every length. So "which path did the model follow to this answer?" has an exact answer:
the paths with the largest terms, and the share of ``ŷ_a`` each carries. The best relation of
each hop (an argmax path) need not be one of them — it may not even reach ``a``.

The search runs backwards from ``a`` over the facts that reach each entity, reading the ``x_i``
the walk kept. A partial path — entity ``e`` at hop ``i`` plus its suffix — stands for all its
completions, whose terms sum to ``x_i[e] · suffix``: an upper bound on each of them. Expanded
best-first by that bound, complete paths come out in decreasing order of their term, exactly (no
beam); ``keep_i[e]`` is recovered as ``x_i[e]`` over the sum of the terms that reach ``e``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch

from .follow import ReifiedKG
from .types import Tensor

__all__ = ["WeightedPath", "top_paths"]


@dataclass(frozen=True)
class WeightedPath:
    """One path of the graph and its term (1) in an answer's score."""

    entities: tuple[int, ...]  # e_0, e_1, ..., e_t
    relations: tuple[int, ...]  # k_1, ..., k_t
    weight: float  # its part of ŷ_a (before any clamp of the score)

    @property
    def hops(self) -> int:
        return len(self.relations)


def top_paths(kb: ReifiedKG, hops: Tensor, relations: Tensor, attention: Tensor, target: int, n: int = 3, *,
              max_expansions: int = 20_000) -> list[WeightedPath]:
    """The ``n`` paths with the largest terms (1) in the score of entity ``target``, largest first.

    Args:
        kb: the graph the walk followed (its fact weights, if any, are the walk's).
        hops: ``(T + 1, E)`` the walk's ``x_0, x_1, ..., x_T`` (after any topic mask).
        relations: ``(T, R)`` its relation distribution per hop; attention: ``(T,)`` its ``a_t``.
        target: the entity index whose score is decomposed.
        max_expansions: stop after expanding this many partial paths (then fewer than ``n`` may
            be returned; those returned are still the largest, in order).

    Duplicate facts make one path here, their weights added.
    """
    if hops.dim() != 2 or relations.dim() != 2 or hops.shape[0] != relations.shape[0] + 1:
        raise ValueError(f"hops must be (T + 1, E) and relations (T, R), got {tuple(hops.shape)} and "
                         f"{tuple(relations.shape)}")
    x = hops.detach().to("cpu", torch.float64).numpy()
    r = relations.detach().to("cpu", torch.float64).numpy()
    a = attention.detach().to("cpu", torch.float64).numpy()
    names = ("obj_ptr", "pair_ptr", "pair_rel", "pair_subj") + (("pair_weights",) if kb.pair_weights is not None else ())
    if kb.device.type == "cpu":  # the graph's own arrays, viewed once and kept: nothing copied per call
        arrays = kb.numpy(*names)
    else:
        arrays = tuple(getattr(kb, n).cpu().numpy() for n in names)
    obj_ptr, pair_ptr, pair_rel, pair_subj = arrays[:4]
    fact_w = arrays[4] if len(arrays) > 4 else None
    T = r.shape[0]
    heap: list[tuple[float, int, int, int, tuple[int, ...], tuple[int, ...], float]] = []
    tie = 0  # insertion order breaks ties: equal terms come out in a fixed order
    for t in range(1, T + 1):
        bound = a[t - 1] * x[t, target]
        if bound > 0:  # (priority, tie, hop, entity, entities after it, relations after it, suffix)
            heapq.heappush(heap, (-bound, tie, t, target, (), (), a[t - 1]))
            tie += 1
    found: list[WeightedPath] = []
    expansions = 0
    while heap and len(found) < n and expansions < max_expansions:
        neg, _, i, e, ents, rels, suffix = heapq.heappop(heap)
        if i == 0:  # a complete path: its bound is its term
            found.append(WeightedPath((e, *ents), rels, -neg))
            continue
        expansions += 1
        p_lo, p_hi = obj_ptr[e], obj_ptr[e + 1]
        f_lo, f_hi = pair_ptr[p_lo], pair_ptr[p_hi]
        if f_hi == f_lo:
            continue
        pair = np.repeat(np.arange(p_lo, p_hi), np.diff(pair_ptr[p_lo: p_hi + 1]))  # pair of each fact
        s = pair_subj[f_lo:f_hi]
        w = fact_w[f_lo:f_hi] if fact_w is not None else np.ones(f_hi - f_lo)
        # duplicate facts (same subject, same pair) are adjacent: one step, their weights added
        first = np.flatnonzero(np.r_[True, (pair[1:] != pair[:-1]) | (s[1:] != s[:-1])])
        k, s = pair_rel[pair[first]], s[first]
        step = r[i - 1, k] * np.add.reduceat(w, first)  # r_i[k] · w_f
        terms = x[i - 1, s] * step
        total = terms.sum()
        if total <= 0:
            continue
        keep = x[i, e] / total  # the share of e the mask left
        for j in np.flatnonzero(terms > 0):
            child = suffix * keep * step[j]
            heapq.heappush(heap, (-(child * x[i - 1, s[j]]), tie, i - 1, int(s[j]), (e, *ents),
                                  (int(k[j]), *rels), child))
            tie += 1
    return found
