"""Evaluation metrics for answer scores over entities: Hits@k, answer-set F1, breakdowns.

Scores are ``(B, E)`` tensors (higher is better); gold answers are given per question as a list
of entity indices. A question whose gold answers are all outside the graph can never be hit;
it still counts, so results are over *all* questions, as published numbers are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["hits_at_k", "answer_set_prf", "predicted_mask", "gold_mask", "Scores", "summarize", "breakdown"]


def gold_mask(answers: Sequence[Sequence[int]], num_entities: int) -> torch.Tensor:
    """``(B, E)`` bool multi-hot of the gold answers (indices outside ``[0, E)`` are ignored)."""
    mask = torch.zeros(len(answers), num_entities, dtype=torch.bool)
    mask[_gold_entries(answers, num_entities)] = True
    return mask


def _gold_entries(answers: Sequence[Sequence[int]], num_entities: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, cols)`` of the distinct gold answers inside ``[0, E)``."""
    rows = torch.repeat_interleave(torch.arange(len(answers)), torch.tensor([len(a) for a in answers], dtype=torch.int64))
    cols = torch.tensor([i for a in answers for i in a], dtype=torch.int64)
    ok = (cols >= 0) & (cols < num_entities)
    key = torch.unique(rows[ok] * num_entities + cols[ok])
    return key // max(num_entities, 1), key % max(num_entities, 1)


def _check(scores: torch.Tensor, answers: Sequence[Sequence[int]]) -> None:
    if scores.dim() != 2 or scores.shape[0] != len(answers):
        raise ValueError(f"scores must be (B, E) with B = {len(answers)} questions, got {tuple(scores.shape)}")


def hits_at_k(scores: torch.Tensor, answers: Sequence[Sequence[int]], k: int = 1) -> torch.Tensor:
    """``(B,)`` float 1.0 where one of the ``k`` best-scored entities is a gold answer.

    Ties are broken by ``torch.topk`` order, and entities scoring 0 (not reached) are never
    predicted, so a row that reached nothing scores 0.
    """
    _check(scores, answers)
    scores = scores.detach().float().cpu()
    top_val, top_idx = scores.topk(min(k, scores.shape[1]), dim=1)  # (B, k)
    gold = gold_mask(answers, scores.shape[1])
    return (gold.gather(1, top_idx) & (top_val > 0)).any(dim=1).float()


def predicted_mask(scores: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``(B, E)`` bool predicted answer sets: entities scoring at least ``threshold`` × the row's
    max (empty when the row is all zero). A relative threshold makes it independent of how the
    scores are normalised."""
    top = scores.max(dim=1, keepdim=True).values  # (B, 1)
    return (scores >= threshold * top) & (top > 0)


def answer_set_prf(
    scores: torch.Tensor, answers: Sequence[Sequence[int]], threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-question precision, recall and F1 ``(B,)`` of :func:`predicted_mask` against the gold.

    An empty prediction has precision 1 only when the gold set is empty too (and likewise recall).
    """
    _check(scores, answers)
    scores = scores.detach().float().cpu()
    return _prf(predicted_mask(scores, threshold), _gold_entries(answers, scores.shape[1]))


def _prf(pred: torch.Tensor, gold: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall, F1 of the ``(B, E)`` bool predictions against the gold ``(rows, cols)``;
    the gold side is counted from its few entries, not from a ``(B, E)`` mask."""
    rows, cols = gold
    B = pred.shape[0]
    tp = torch.zeros(B).index_add_(0, rows, pred[rows, cols].float())
    n_gold = torch.bincount(rows, minlength=B).float()
    n_pred = pred.sum(1, dtype=torch.int32).float()  # (an int32 sum of bools is ~2x the default)
    p = torch.where(n_pred > 0, tp / n_pred.clamp(min=1), (n_gold == 0).float())
    r = torch.where(n_gold > 0, tp / n_gold.clamp(min=1), (n_pred == 0).float())
    f = torch.where(p + r > 0, 2 * p * r / (p + r).clamp(min=1e-12), torch.zeros_like(p))
    return p, r, f


@dataclass
class Scores:
    """Per-question metric values gathered over an evaluation, with optional group labels."""

    hits1: list[float]
    hits_k: list[float]
    f1: list[float]
    k: int = 10

    @classmethod
    def empty(cls, k: int = 10) -> Scores:
        return cls([], [], [], k)

    def add(self, scores: torch.Tensor, answers: Sequence[Sequence[int]]) -> None:
        """Score one batch: :func:`hits_at_k` at 1 and k and the F1 of :func:`answer_set_prf`, from
        one ranking and one gold mask."""
        _check(scores, answers)
        scores = scores.detach().float().cpu()
        top_val, top_idx = scores.topk(min(self.k, scores.shape[1]), dim=1)  # (B, k), best first
        gold = _gold_entries(answers, scores.shape[1])
        E = scores.shape[1]  # is the j-th best entity of row b a gold answer? as keys b·E + e
        is_gold = torch.isin(top_idx + torch.arange(len(answers)).unsqueeze(1) * E, gold[0] * E + gold[1])
        hit = is_gold & (top_val > 0)  # (B, k)
        self.hits1 += hit[:, :1].any(dim=1).float().tolist()
        self.hits_k += hit.any(dim=1).float().tolist()
        self.f1 += _prf(predicted_mask(scores), gold)[2].tolist()

    def __len__(self) -> int:
        return len(self.hits1)


def summarize(scores: Scores, idx: Sequence[int] | None = None) -> dict[str, float]:
    """Mean Hits@1, Hits@k and F1 in percent (over ``idx`` when given) and the count ``n``."""
    idx = range(len(scores)) if idx is None else idx
    n = len(idx)

    def mean(values: list[float]) -> float:
        return 100.0 * sum(values[i] for i in idx) / n if n else float("nan")

    return {"n": n, "hits@1": mean(scores.hits1), f"hits@{scores.k}": mean(scores.hits_k), "f1": mean(scores.f1)}


def breakdown(scores: Scores, groups: Sequence[Hashable]) -> dict[Hashable, dict[str, float]]:
    """:func:`summarize` per group label (question type, hop count, ...), groups sorted."""
    by: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    return {g: summarize(scores, by[g]) for g in sorted(by, key=str)}
