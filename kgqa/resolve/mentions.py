"""Several entities from the text: mention slots, how many entities, and which ones to intersect.

Learned entity resolution (:mod:`kgqa.resolve`) mixes all spans into one start vector ``x_0``.
That is right when a question names one entity and wrong when it names two: "Who did Natalie
Portman play in Star Wars Episode II?" needs one branch that starts from Natalie Portman and one
that starts from the film, intersected (Rigel-Intersect). Which spans are the entities, and how
many there are, is not annotated — so both are latent, and the answer marginalises over them.

**Slots.** The linkable spans are grouped greedily into at most M *mention slots*, best first:
slot 1 holds the highest-scoring span and every span that overlaps it ("Natalie Portman",
"Portman", "Portman play"); slot 2 the best span left and the remaining spans that overlap *it*;
and so on. Slots never share a span, and spans of different slots are different mentions. For
slot ``k`` with member spans ``C_k`` and the resolver's span distribution ``p(s)``::

    Q_k    = Σ_{s ∈ C_k} p(s)                               the slot's share of the mass   (B, M)
    π_k(s) = p(s) / Q_k                                     which span of the slot         (B, M, S)
    x0_k   = Σ_s π_k(s) Σ_e p(e | s) onehot(e)              the slot's start set           (B, M, E)
    m_k    = Σ_s π_k(s) mean(t_s)                           the slot's mention vector      (B, M, H)

Inside a slot the spans still compete softly, as in the single-entity resolver, so the span
scorer keeps learning "Natalie Portman" over "Portman".

**How many, and which.** A count head gives ``P(n)`` for ``n = 1..N`` entities. A *combination*
``c`` is a set of ``n`` slots; its weight is ``P(n)`` times the slots' product of ``Q``,
normalised over the combinations of that size::

    w_c = P(|c|) · Π_{k ∈ c} Q_k / Σ_{c' : |c'| = |c|} Π_{k ∈ c'} Q_k                        (B, C)
    ŷ   = Σ_c w_c · normalise(min_{k ∈ c} ŷ^(k))    ŷ^(k): slot k's branch answer           (B, E)

A size for which a question has too few slots gets no weight (its ``P(n)`` goes to the others).
Each reading is normalised to a distribution before mixing (``kgqa.model.Starts.from_slots`` says why).
The answer loss trains the span scorer (through ``Q`` and ``π``), the entity scorer (through
``x0_k``), the count head (through ``P(n)``) and each branch, from the answers alone.

With the gold mention spans given (the "span" variant) each given span is its own slot, in the
given order, and the number of entities is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch

from ..types import Tensor

__all__ = ["MentionSlots", "greedy_slots", "given_slots", "combination_weights", "build_slots"]


@dataclass
class MentionSlots:
    """The mention slots of B questions (M slots, S spans, E entities), and their combinations."""

    member: Tensor  # (B, M, S) bool, span s belongs to slot k
    share: Tensor  # (B, M) Q_k, the slot's share of p(s)
    span_weight: Tensor  # (B, M, S) π_k(s), sums to 1 over a valid slot's spans
    valid: Tensor  # (B, M) bool, the slot holds a linkable span
    x0: Tensor  # (B, M, E) start set of each slot's branch
    vectors: Tensor  # (B, M, H) mention vector of each slot
    count_probs: Tensor  # (B, N) P(n entities), n = 1..N, after removing impossible sizes
    combos: list[tuple[int, ...]]  # the C combinations of slots, smallest first
    combo_weights: Tensor  # (B, C) w_c, sums to 1 for a question with a linkable span

    @property
    def chosen(self) -> Tensor:
        """``(B, M)`` probability that slot ``k`` is one of the question's entities, ``Σ_{c ∋ k} w_c``."""
        out = self.share.new_zeros(self.share.shape)
        for c, combo in enumerate(self.combos):
            out[:, list(combo)] += self.combo_weights[:, c: c + 1]
        return out

    def best(self, b: int) -> tuple[int, ...]:
        """The slots of question ``b``'s likeliest combination (empty if it has no slot)."""
        if not bool(self.valid[b].any()):
            return ()
        return self.combos[int(self.combo_weights[b].argmax())]


def greedy_slots(span_logits: Tensor, span_mask: Tensor, span_chars: Tensor, slots: int) -> Tensor:
    """``(B, M, S)`` bool membership of the greedy slots (module docstring): slot ``k`` takes the
    best span not yet taken and every untaken span overlapping it. ``span_logits (B, S)``,
    ``span_mask (B, S)`` bool (linkable), ``span_chars (B, S, 2)`` ``[start, end)``."""
    free = span_mask.clone()
    start, end = span_chars[..., 0], span_chars[..., 1]  # (B, S)
    rows = torch.arange(span_mask.shape[0], device=span_mask.device)
    member = []
    for _ in range(slots):  # M steps, each over the whole batch
        best = span_logits.detach().masked_fill(~free, float("-inf")).argmax(dim=1)  # (B,)
        a, e = start[rows, best][:, None], end[rows, best][:, None]  # (B, 1)
        taken = free & (start < e) & (a < end) & free.any(dim=1, keepdim=True)  # (B, S)
        member.append(taken)
        free = free & ~taken
    return torch.stack(member, dim=1)


def given_slots(span_chars: Tensor, span_mask: Tensor, given: list[list[tuple[int, int]]]) -> Tensor:
    """``(B, M, S)`` bool: slot ``k`` is the ``k``-th given ``[start, end)`` span, if it is linkable
    (M = most spans given to one question)."""
    M = max((len(g) for g in given), default=0)
    member = torch.zeros(span_mask.shape[0], max(M, 1), span_mask.shape[1], dtype=torch.bool)
    chars = span_chars.cpu()
    for b, spans in enumerate(given):
        for k, (a, e) in enumerate(spans):
            if a >= 0:
                member[b, k] = (chars[b, :, 0] == a) & (chars[b, :, 1] == e)
    return member.to(span_mask.device) & span_mask[:, None, :]


def combination_weights(share: Tensor, valid: Tensor, count_probs: Tensor,
                        ) -> tuple[list[tuple[int, ...]], Tensor, Tensor]:
    """The combinations of 1..N of the M slots and their weights ``w_c (B, C)`` (module docstring),
    with the count distribution after sizes that cannot happen are removed ``(B, N)``."""
    B, M = share.shape
    N = count_probs.shape[1]
    combos = [c for n in range(1, N + 1) for c in combinations(range(M), n)]
    raw = torch.stack([share[:, list(c)].prod(dim=1) * valid[:, list(c)].all(dim=1) for c in combos], dim=1)  # (B, C)
    sizes = torch.tensor([len(c) for c in combos], device=share.device)  # (C,)
    onehot = (sizes[None, :] == torch.arange(1, N + 1, device=share.device)[:, None]).to(share.dtype)  # (N, C)
    total = raw @ onehot.T  # (B, N) Σ over combinations of each size
    possible = valid.sum(dim=1, keepdim=True) >= torch.arange(1, N + 1, device=share.device)  # (B, N)
    counts = count_probs * possible
    counts = counts / counts.sum(dim=1, keepdim=True).clamp(min=1e-12)
    weights = raw / (total @ onehot).clamp(min=1e-12) * (counts @ onehot)  # (B, C)
    return combos, weights, counts


def build_slots(member: Tensor, span_probs: Tensor, span_vectors: Tensor, candidates: Tensor, entity_probs: Tensor,
                num_entities: int, count_probs: Tensor) -> MentionSlots:
    """The :class:`MentionSlots` from slot membership ``(B, M, S)``, ``p(s) (B, S)``, span mean
    vectors ``(B, S, H)``, candidates and ``p(e | s)`` ``(B, S, K)`` and ``P(n) (B, N)``."""
    B, M, S = member.shape
    E = num_entities
    inside = member.to(span_probs.dtype) * span_probs[:, None, :]  # (B, M, S)
    share = inside.sum(dim=2)  # (B, M)
    valid = member.any(dim=2)
    span_weight = inside / share[..., None].clamp(min=1e-12)  # (B, M, S)
    vectors = torch.einsum("bms,bsh->bmh", span_weight, span_vectors)  # (B, M, H)
    # each span is in at most one slot: scatter its candidates' mass into that slot's row of x0
    b_idx, k_idx, s_idx = member.nonzero(as_tuple=True)  # (N,)
    ents = candidates[b_idx, s_idx]  # (N, K)
    mass = span_weight[b_idx, k_idx, s_idx, None] * entity_probs[b_idx, s_idx]  # (N, K)
    flat = (((b_idx * M + k_idx) * E)[:, None] + ents.clamp(min=0)).reshape(-1)  # (N K,)
    x0 = span_probs.new_zeros(B * M * E).scatter_add(0, flat, (mass * (ents >= 0)).reshape(-1)).view(B, M, E)
    combos, weights, counts = combination_weights(share, valid, count_probs)
    return MentionSlots(member=member, share=share, span_weight=span_weight, valid=valid, x0=x0, vectors=vectors,
                        count_probs=counts, combos=combos, combo_weights=weights)
