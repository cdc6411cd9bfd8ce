"""How well entity resolution did, measured against annotations it never trains on.

The resolver (:mod:`kgqa.resolve`) and the mention slots (:mod:`kgqa.resolve.mentions`) learn from the
answers alone; the gold mention spans and topic entities of a dataset are read only here, to
report span accuracy, entity accuracy, candidate recall and, with several entities, whether the
likeliest reading of a question names exactly its entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..kg import KnowledgeGraph
from ..datasets.base import Span
from ..types import EntityKey

if TYPE_CHECKING:  # pragma: no cover
    from .mentions import MentionSlots
    from .resolver import ResolverOutput

__all__ = ["span_accuracy", "entity_accuracy", "candidate_recall", "reading_accuracy"]


def _indices(kg: KnowledgeGraph, topics: Sequence[EntityKey]) -> set[int]:
    """Entity indices of ids or indices; ids missing from the graph are dropped."""
    return {t if isinstance(t, int) else kg.id_index[t] for t in topics
            if isinstance(t, int) or t in kg.id_index}


def span_accuracy(out: ResolverOutput, gold_spans: Sequence[Sequence[Span]]) -> float:
    """Share of questions whose most probable span is exactly one of their gold character spans.

    Questions with no known gold span (none, or only ``(-1, -1)``) are left out; NaN if none is left."""
    hits, n = 0, 0
    for b, golds in enumerate(gold_spans):
        golds = {tuple(g) for g in golds if g[0] >= 0}
        if not golds:
            continue
        n += 1
        if out.span_mask[b].any():
            s = int(out.span_probs[b].argmax())
            hits += tuple(out.span_chars[b, s].tolist()) in golds
    return hits / n if n else float("nan")


def entity_accuracy(out: ResolverOutput, gold_topics: Sequence[Sequence[EntityKey]], kg: KnowledgeGraph) -> float:
    """Share of questions where ``argmax x_0`` is one of the gold topic entities (ids or indices);
    an all-zero ``x_0`` is a miss. NaN for no questions."""
    if not len(gold_topics):
        return float("nan")
    best = out.x0.argmax(dim=1).tolist()
    alive = (out.x0.sum(dim=1) > 0).tolist()
    hits = sum(ok and e in _indices(kg, golds) for e, ok, golds in zip(best, alive, gold_topics))
    return hits / len(gold_topics)


def candidate_recall(out: ResolverOutput, gold_topics: Sequence[Sequence[EntityKey]],
                     gold_spans: Sequence[Sequence[Span]] | None = None) -> float:
    """Share of gold topics found among the candidates: of their gold span (``gold_spans[b][i]``
    is the mention of ``gold_topics[b][i]``; topics with an unknown span are left out), or, with
    ``gold_spans=None``, of any span of the question. The ceiling of :func:`entity_accuracy`."""
    hits, n = 0, 0
    for b, golds in enumerate(gold_topics):
        for i, e in enumerate(golds):
            idx = _indices(out.kg, [e])
            if gold_spans is None:
                rows = out.span_mask[b]
            else:
                span = tuple(gold_spans[b][i]) if i < len(gold_spans[b]) else (-1, -1)
                if span[0] < 0:
                    continue
                rows = (out.span_chars[b] == torch.tensor(span, device=out.span_chars.device)).all(-1)
            n += 1
            hits += any(e in idx for e in out.candidates[b][rows].reshape(-1).tolist())
    return hits / n if n else float("nan")


def reading_accuracy(slots: MentionSlots, gold_topics: list[list[int]]) -> tuple[float, float]:
    """``(entity set accuracy, count accuracy)`` over the questions with a gold topic: the share
    whose likeliest reading names exactly the gold topic entities (each slot read as its best
    entity), and the share whose likeliest reading has as many entities as the gold. NaN, NaN for
    no such question."""
    sets = counts = n = 0
    for b, golds in enumerate(gold_topics):
        if not golds:
            continue
        n += 1
        best = slots.best(b)
        found = {int(slots.x0[b, k].argmax()) for k in best}
        sets += found == set(golds) and len(best) == len(golds)
        counts += len(best) == len(golds)
    return (sets / n, counts / n) if n else (float("nan"), float("nan"))
