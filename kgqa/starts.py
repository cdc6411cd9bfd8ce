"""Where a batch's walks start and how their answers combine: :class:`Starts`.

The model (:class:`kgqa.model.EndToEndQA`) walks from ``K`` start sets per question and combines
the walks' answers; a :class:`Starts` says which sets and which combinations, for the three ways a
question's entities arrive: summed into one start set (the baseline), one branch per given topic,
or one branch per mention slot found in the text, mixed over the readings of the question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Starts", "READING_FLOOR"]

READING_FLOOR = 1e-6  # a reading of a question whose answer mass is below this is not scaled up


@dataclass
class Starts:
    """Where a batch's walks start, and how their answers combine: ``K`` start sets per question.

    - :meth:`summed`: one walk from all topics at once (``intersection="none"``, the baseline);
    - :meth:`from_topics`: one branch per given topic entity, combined over all of them;
    - :meth:`from_slots`: one branch per mention slot found in the text, combined over every
      reading of the question (which slots are entities), each reading normalised (see
      :mod:`kgqa.resolve.mentions`): ``ŷ = Σ_c w_c · ŷ_c / Σ_e ŷ_c``.
    """

    x0: torch.Tensor  # (B, K, E) float start set of each walk
    valid: torch.Tensor  # (B, K) bool, the walk exists
    mentions: torch.Tensor | None = None  # (B, K, H) each branch's mention vector s_k
    combos: list[tuple[int, ...]] = field(default_factory=lambda: [(0,)])  # the C combinations of walks
    weights: torch.Tensor | None = None  # (B, C) w_c (default: the one combination, weight 1)
    normalize: bool = False  # each combination's answer normalised to a distribution before mixing

    @classmethod
    def summed(cls, x0: torch.Tensor) -> Starts:
        """One walk per question from ``x0 (B, E)``: the topic entities share one start set."""
        B = x0.shape[0]
        return cls(x0[:, None], torch.ones(B, 1, dtype=torch.bool, device=x0.device),
                   weights=x0.new_ones(B, 1))

    @classmethod
    def from_topics(cls, topics: torch.Tensor, num_entities: int, mentions: torch.Tensor) -> Starts:
        """One branch per topic: ``topics (B, K)`` int64 entity indices, -1 for none, each branch
        starting from its entity's one-hot row; ``mentions (B, K', H)``, ``K' >= K``: each topic's
        mention vector (zeros where unknown). Every topic counts: the one combination of all of a
        question's branches gets weight 1."""
        if topics.dim() != 2:
            raise ValueError(f"topics must be (B, K), got {tuple(topics.shape)}")
        B, K = topics.shape
        if mentions.dim() != 3 or mentions.shape[0] != B or mentions.shape[1] < K:
            raise ValueError(f"mentions must be (B, K, H) with B = {B}, K >= {K}, got {tuple(mentions.shape)}")
        valid = topics >= 0  # (B, K)
        x0 = mentions.new_zeros(B, K, num_entities)
        x0.scatter_(2, topics.clamp(min=0)[..., None], valid[..., None].to(mentions.dtype))
        n = valid.sum(dim=1)  # (B,)
        weights = (n[:, None] == torch.arange(1, K + 1, device=topics.device)).to(mentions.dtype)  # (B, K)
        return cls(x0, valid, mentions[:, :K], [tuple(range(k)) for k in range(1, K + 1)], weights)

    @classmethod
    def from_slots(cls, x0: torch.Tensor, valid: torch.Tensor, mentions: torch.Tensor,
                   combos: list[tuple[int, ...]], weights: torch.Tensor) -> Starts:
        """One branch per mention slot (:class:`kgqa.resolve.mentions.MentionSlots`): ``x0 (B, M, E)``,
        ``valid (B, M)``, ``mentions (B, M, H)``, the C ``combos`` of slots and their ``weights
        (B, C)``; each reading normalised before mixing::

            ŷ_c = min_{k ∈ c} ŷ^(k)                  (or Π_{k ∈ c} ŷ^(k) with "product")
            ŷ   = Σ_c w_c · ŷ_c / Σ_e ŷ_c

        Without the normalisation the mixture is biased against intersecting: a minimum is never
        larger than either branch, so on the toy world the single reading "Natalie Portman" (1/3
        on each of her three roles) out-scores the reading "Natalie Portman AND Star Wars Episode
        II" (1/5 on the one right answer, one of the film's five characters) and ``P(2)`` would
        never grow. Normalised, the pair puts all its mass on the answer and wins."""
        B, M = valid.shape
        if x0.shape[:2] != (B, M) or mentions.shape[:2] != (B, M) or weights.shape != (B, len(combos)):
            raise ValueError(f"x0 (B, M, E), mentions (B, M, H) and weights (B, C) must agree: got "
                             f"{tuple(x0.shape)}, {tuple(mentions.shape)}, {tuple(weights.shape)} for "
                             f"valid {tuple(valid.shape)} and {len(combos)} combinations")
        return cls(x0, valid, mentions, list(combos), weights, normalize=True)
