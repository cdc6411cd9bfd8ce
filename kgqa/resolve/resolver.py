"""Learned entity resolution (Rigel-E2E, Oliya et al. 2021): question text → start vector x_0.

No entity annotation is needed: every span of up to L words is a possible mention
(:mod:`kgqa.resolve.spans`), each span's top-K candidate entities come from the name index
(:class:`~kgqa.resolve.candidates.CandidateIndex`), and two learned scorers weigh them::

    p(s)     = softmax_s( SpanScorer(g_s) + [prior] v · max_k f_{s,k} )          over linkable spans
    p(e | s) = softmax_k( MLP(f_{s,e}) + u·log_degree(e)
                          + [context] (C [a_s; m_s]) · (W π_e) / √D )           over s's candidates
    x_0      = Σ_s p(s) Σ_k p(e_k | s) onehot(e_k)                                (B, E)

``f_{s,e}`` are the candidate's match features (exact, normalised-exact, n-gram cosine, token
Jaccard, name coverage, length ratio; log degree is the popularity prior). ``m_s`` is the span's
mean token vector and ``a_s`` an attention-pooled vector of the question's pieces *outside* the
span — what the question says about the entity. ``π_e`` is the entity's *relation profile*, the
multi-hot set of relations it has facts for (:func:`relation_profile`). The context term is what
tells the three "Tom Hanks" of the toy world apart: "Who directed films starring Tom Hanks?"
calls for an entity with ``starred_in`` facts. Entities whose surfaces (id, name, aliases) are
the same get the same match features, so without context their order is the same in every
question. (The toy world's ids spell the occupation, ``tom_hanks_seismologist``, so there the
span "the seismologist Tom Hanks" already leans the right way by string alone.)

The prior term lets span detection see whether a span spells a name of the graph at all. A
*linkable* span has a non-empty normalised text and at least one candidate; ``x_0`` sums to 1
when a question has one, and is all zeros otherwise. With ``longest_match`` the span logit also
gets ``w · max_{s' ⊃ s} exact(s')``, the best normalised exact match of a longer linkable span that
holds ``s`` (``w`` learned, from ``-prior_init``): in "who acted in the movie Days of Glory" both
"Days of Glory" and "Glory" spell films, and the shorter starts without the head start the prior
gives a name (:func:`enclosing_best`).

Everything after the (non-differentiable, cached) candidate lookup is differentiable, so the QA
loss alone trains both scorers (and the encoder, if it is not frozen). The encoder must see the
question as it is: no mention masking (``ModelConfig(mask_mentions=False)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from .candidates import FEATURE_NAMES, CandidateIndex
from ..encoders import EncoderOutput
from ..kg import KnowledgeGraph
from .mentions import MentionSlots, build_slots, given_slots, greedy_slots
from ..datasets.base import Span
from .spans import SpanBatch, SpanScorer, enumerate_spans, masked_softmax, span_embeddings
from ..runtime import cache_tensors
from ..types import EntityId, Tensor

__all__ = ["ResolverConfig", "ResolverOutput", "EntityResolver", "EntityScorer", "CandidateCache", "enclosing_best",
           "relation_profile"]


@dataclass(frozen=True)
class ResolverConfig:
    """Hyper-parameters of :class:`EntityResolver`."""

    max_words: int = 8  # L, longest span in words (kgqa.resolve.spans: "Ocean's" is 3, "tom_hanks" 1). Gold
    # mentions that fit, test splits (`benchmarks/candidates.py`): MetaQA 1-hop 98.25 / 99.70% at
    # L = 6 / 8, 3-hop 97.06 / 99.50%; PathQuestion and WorldCup2014 100% at 6. Spans per question
    # grow with L: MetaQA 1-hop 31.3 / 34.3, 3-hop 67.2 / 81.6
    candidates: int = 8  # K, candidates per span; >= 3 for the toy world's three "Tom Hanks", and
    # the gold entity of a gold MetaQA mention is the index's first candidate already
    hidden: int = 128  # hidden width of the span MLP and of the match-feature MLP
    width_dim: int = 16  # size of the span-width embedding
    context_dim: int = 64  # D, size of the space where context and relation profiles meet
    use_context: bool = True  # add (C [a_s; m_s]) · (W π_e): the question around the span vs the
    # candidate's relation profile; without it same-named entities rank alike in every question
    use_prior: bool = True  # add a learned linear term of the span's best match features to its logit
    prior_init: float = 3.0  # initial weight of normalized_exact in that term: a span that spells a
    # name of the graph starts this many logits ahead of one that does not. The answer loss alone
    # does not care which span brings the entity; without this head start the resolver tends to
    # read long spans ("birthplace of the seismologist Tom Hanks") whose fuzzy matches happen to fit
    longest_match: bool = False  # add w · (best normalized_exact of a longer linkable span that holds
    # this one) to a span's logit, w learned from -prior_init: "Glory" inside "Days of Glory" loses the
    # head start the prior gives it when the whole title is a name too (MetaQA 1-hop from text: most
    # wrong start entities are such a shorter title read inside the mention)
    max_entities: int = 1  # N, most entities one question may name; > 1 groups the spans into
    # mention slots and learns how many there are (kgqa.resolve.mentions), for intersection from text
    slots: int = 3  # M, mention slots considered per question (>= max_entities); the combinations of
    # up to N of them are the readings of the question the answer is marginalised over
    count_scale: float = 0.1  # the count head's logits are scaled by this, so P(n) moves slower than the
    # branches learn: untrained two-entity readings predict nothing, single-entity questions are the
    # majority, and a count head at full speed settles on "one entity" in the first epoch and never
    # lets the pairs' branches learn. WorldCup2014 test, two-entity answer F1 / questions read exactly
    # right: 78.9 / 80.3 at 1.0 (every question read as one entity), 100.0 / 86.8 at 0.3, 100.0 / 87.1 at 0.1

    def __post_init__(self) -> None:
        for name in ("max_words", "candidates", "hidden", "width_dim", "context_dim", "max_entities", "slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.count_scale > 0:
            raise ValueError(f"count_scale must be positive, got {self.count_scale!r}")
        if self.slots < self.max_entities:
            raise ValueError(f"slots ({self.slots}) must be at least max_entities ({self.max_entities})")

    @classmethod
    def for_branches(cls, branched: bool, **changes: object) -> ResolverConfig:
        """The default for a model with one branch per entity (it needs several: two) or one walk (one)."""
        return cls(max_entities=2 if branched else 1, **changes)  # type: ignore[arg-type]

    @classmethod
    def quick(cls) -> ResolverConfig:
        """A small preset for quick mode and tests."""
        return cls(hidden=64, context_dim=32)

    def with_(self, **changes: object) -> ResolverConfig:
        return replace(self, **changes)


def relation_profile(kg: KnowledgeGraph) -> Tensor:
    """``(E, R)`` float32: row e is the multi-hot set of relations e has facts for (as subject,
    so inverse relations stand for incoming facts), scaled to unit L2 norm (zeros for none).
    Memory ``4·E·R`` bytes (MetaQA: 43k × 18, 3 MB)."""
    prof = torch.zeros(kg.num_entities, kg.num_relations)
    if kg.num_triples:
        prof[kg.triples[:, 0], kg.triples[:, 1]] = 1.0
    return prof / prof.sum(dim=1, keepdim=True).clamp(min=1.0).sqrt()


class CandidateCache:
    """Top-K candidates per distinct span text, queried from the index once.

    Training sees the same questions every epoch, so spans repeat; the lookup is not
    differentiable and can be kept. Rows live in CPU tensors that double when full:
    ``(8 + 4·F)·K`` bytes a distinct span text (K=8: 288 bytes). :meth:`clear` empties it.
    """

    def __init__(self, index: CandidateIndex, k: int) -> None:
        self.index, self.k = index, k
        self.rows: dict[str, int] = {}  # span text -> row
        self.entity = torch.full((0, k), -1, dtype=torch.int64)  # (capacity, K)
        self.features = torch.zeros(0, k, len(FEATURE_NAMES))  # (capacity, K, F)

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.__init__(self.index, self.k)  # type: ignore[misc]

    def lookup(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``(N, K)`` int64 entities (-1 padding) and ``(N, K, F)`` float32 features of ``texts``."""
        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if new:
            with cache_tensors():  # rows added while evaluating serve training later
                self._add(new)
        idx = torch.tensor([self.rows[t] for t in texts], dtype=torch.int64)
        return self.entity[idx], self.features[idx]

    def _add(self, new: list[str]) -> None:
        """Query the index for span texts not cached yet and keep their rows."""
        found = self.index.query(new, self.k)
        start, need = len(self.rows), len(self.rows) + len(new)
        if need > len(self.entity):
            cap = max(need, 2 * len(self.entity), 1024)
            self.entity = torch.cat([self.entity, self.entity.new_full((cap - len(self.entity), self.k), -1)])
            self.features = torch.cat([self.features, self.features.new_zeros(
                cap - len(self.features), *self.features.shape[1:])])
        self.entity[start:need] = found.entity.cpu()
        self.features[start:need] = found.features.cpu()
        self.rows.update((t, start + i) for i, t in enumerate(new))


class EntityScorer(nn.Module):
    """``logit(s, e) = MLP(f_{s,e}) + u·log_degree(e) + (C c_s) · (W π_e) / √D``, ``c_s = [a_s; m_s]``.

    The MLP sees the string-match features only; the popularity prior ``log_degree`` enters
    linearly. So two candidates that match a span equally well (the three "Tom Hanks" for the
    span "Tom Hanks") differ by ``u·Δlog_degree``, the same in every question: only the context
    term (``use_context``) can put them in a different order in different questions.

    Args:
        num_features: F, the candidate match features; ``popularity`` is the index of the one
            that enters linearly (``log_degree``), or None for none.
        context_in: size of the context vector ``c_s`` (2H).
        num_relations: R, the relations of the graph (length of a relation profile).
        hidden: hidden width of the match MLP; context_dim: D.
        use_context: add the context term.
    """

    def __init__(self, num_features: int, context_in: int, num_relations: int, *, hidden: int = 128,
                 context_dim: int = 64, use_context: bool = True, popularity: int | None = None) -> None:
        super().__init__()
        self.use_context, self.popularity = use_context, popularity
        self.string = [i for i in range(num_features) if i != popularity]
        self.match = nn.Sequential(nn.Linear(len(self.string), hidden), nn.GELU(),
                                   nn.Linear(hidden, 1, bias=False))  # no bias: it cancels in the softmax
        self.popularity_weight = nn.Linear(1, 1, bias=False) if popularity is not None else None  # u
        if use_context:
            self.context = nn.Linear(context_in, context_dim)
            self.relations = nn.Linear(num_relations, context_dim, bias=False)

    def forward(self, features: Tensor, context: Tensor | None = None, profiles: Tensor | None = None) -> Tensor:
        """``(..., K)`` logits from ``features (..., K, F)``, ``context (..., 2H)`` and the
        candidates' ``profiles (..., K, R)`` (both ignored without ``use_context``); ``...`` is
        any leading shape: ``(B, S)``, or ``(N,)`` for N packed spans."""
        logits = self.match(features[..., self.string]).squeeze(-1)  # (..., K)
        if self.popularity_weight is not None:
            logits = logits + self.popularity_weight(features[..., self.popularity, None]).squeeze(-1)
        if self.use_context:
            if context is None or profiles is None:
                raise ValueError("this scorer uses context: pass context and profiles")
            c = self.context(context)  # (..., D)
            r = self.relations(profiles)  # (..., K, D)
            logits = logits + torch.einsum("...d,...kd->...k", c, r) / math.sqrt(c.shape[-1])
        return logits


@dataclass
class ResolverOutput:
    """What :class:`EntityResolver` computed for B questions, S spans each, K candidates a span."""

    x0: Tensor  # (B, E) float, Σ_s p(s) Σ_k p(e_k | s) onehot(e_k); a zero row: nothing linkable
    span_logits: Tensor  # (B, S) span logits (prior included)
    span_probs: Tensor  # (B, S) p(s), sums to 1 over span_mask (0 elsewhere)
    span_mask: Tensor  # (B, S) bool, linkable: valid text and at least one candidate
    span_chars: Tensor  # (B, S, 2) int64 [start, end) character offsets
    span_texts: list[list[str]]  # per question, the text of each real span
    candidates: Tensor  # (B, S, K) int64 entity indices, -1 padding
    entity_logits: Tensor  # (B, S, K)
    entity_probs: Tensor  # (B, S, K) p(e | s), sums to 1 over a linkable span's candidates
    kg: KnowledgeGraph
    slots: MentionSlots | None = None  # with max_entities > 1: the mention slots and their combinations

    def best(self, b: int, spans: int = 3, entities: int = 3) -> list[tuple[str, Span, float,
                                                                          list[tuple[EntityId, str, float]]]]:
        """The ``spans`` most probable spans of question ``b``, each as ``(text, (start, end), p(s),
        [(entity id, name, p(e | s)), ...])`` with its ``entities`` best candidates."""
        probs = self.span_probs[b].detach().masked_fill(~self.span_mask[b], -1.0)
        out = []
        for s in probs.argsort(descending=True)[:spans].tolist():
            if not self.span_mask[b, s]:
                break
            pe, ents = self.entity_probs[b, s].detach(), self.candidates[b, s].tolist()
            cands = [(self.kg.entities[ents[k]], self.kg.names[ents[k]], float(pe[k]))
                     for k in pe.argsort(descending=True)[:entities].tolist() if ents[k] >= 0]
            a, e = self.span_chars[b, s].tolist()
            out.append((self.span_texts[b][s], (a, e), float(probs[s]), cands))
        return out


class EntityResolver(nn.Module):
    """Span scorer + candidate index + entity scorer → ``x_0`` (module docstring).

    Args:
        kg: the knowledge graph the entities come from (its names/aliases feed the index, its
            facts the relation profiles); the resolver is bound to it.
        question_dim: H, the size of the encoder's token and pooled vectors.
        config: the hyper-parameters.
        index: a prebuilt :class:`CandidateIndex` over ``kg`` (building one for MetaQA's 43k
            entities takes a couple of seconds); built here when None.
    """

    def __init__(self, kg: KnowledgeGraph, question_dim: int, config: ResolverConfig = ResolverConfig(), *,
                 index: CandidateIndex | None = None) -> None:
        super().__init__()
        if index is not None and index.kg.num_entities != kg.num_entities:
            raise ValueError(f"the index covers {index.kg.num_entities} entities, the graph {kg.num_entities}")
        self.kg, self.config, self.question_dim = kg, config, question_dim
        self.cache = CandidateCache(index if index is not None else CandidateIndex.build(kg), config.candidates)
        self.span_scorer = SpanScorer(question_dim, config.max_words, config.hidden, config.width_dim)
        self.entity_scorer = EntityScorer(len(FEATURE_NAMES), 2 * question_dim, kg.num_relations, hidden=config.hidden,
                                          context_dim=config.context_dim, use_context=config.use_context,
                                          popularity=FEATURE_NAMES.index("log_degree"))
        self.attend = nn.Linear(question_dim, 1) if config.use_context else None  # scores pieces for a_s
        self.prior = nn.Linear(len(FEATURE_NAMES), 1, bias=False) if config.use_prior else None  # v
        if self.prior is not None:
            with torch.no_grad():
                self.prior.weight.zero_()
                self.prior.weight[0, FEATURE_NAMES.index("normalized_exact")] = config.prior_init
        self.enclosed = nn.Linear(1, 1, bias=False) if config.longest_match else None  # w
        if self.enclosed is not None:
            with torch.no_grad():
                self.enclosed.weight.fill_(-config.prior_init)
        self.register_buffer("profile", relation_profile(kg), persistent=False)  # (E, R)
        # P(n entities) from the question vector and the slots' shares of p(s)
        self.count_head = nn.Linear(question_dim + config.slots, config.max_entities) if config.max_entities > 1 else None

    @property
    def num_entities(self) -> int:
        return self.kg.num_entities

    def candidates(self, spans: SpanBatch) -> tuple[Tensor, Tensor]:
        """``(B, S, K)`` int64 candidates and ``(B, S, K, F)`` features of the valid spans (padding
        and invalid spans get -1 and zeros), from the cache; on the spans' device."""
        B, S, K = spans.valid.shape[0], spans.num_spans, self.config.candidates
        entity = torch.full((B, S, K), -1, dtype=torch.int64)
        features = torch.zeros(B, S, K, len(FEATURE_NAMES))
        where = spans.valid.cpu().nonzero().tolist()  # [(b, s), ...]
        if where:
            ents, feats = self.cache.lookup([spans.texts[b][s] for b, s in where])
            b_idx, s_idx = torch.tensor(where, dtype=torch.int64).unbind(1)
            entity[b_idx, s_idx], features[b_idx, s_idx] = ents, feats
        dev = spans.valid.device
        return entity.to(dev), features.to(dev)

    def span_context(self, tokens: Tensor, mask: Tensor, spans: SpanBatch) -> Tensor:
        """``(B, S, H)`` attention-pooled question pieces *outside* each span, ``Σ_l a_{s,l} t_l``
        with ``a_s = softmax(v · t_l)`` over ``mask`` minus the span's own pieces (zeros if none)."""
        L = tokens.shape[1]
        pos = torch.arange(L, device=tokens.device)
        outside = mask[:, None, :] & ((pos < spans.piece_start[..., None]) | (pos > spans.piece_end[..., None]))
        scores = self.attend(tokens).squeeze(-1)[:, None, :].expand(outside.shape)  # (B, S, L)
        return torch.einsum("bsl,blh->bsh", masked_softmax(scores, outside, dim=-1), tokens)

    def forward(self, questions: Sequence[str], enc: EncoderOutput,
                given_spans: Sequence[Sequence[Span]] | None = None) -> ResolverOutput:
        """Resolve B questions from the encoder's output for exactly those texts.

        Args:
            questions: the B question strings (as the encoder saw them: no mention masking).
            enc: their :class:`~kgqa.encoders.EncoderOutput` (tokens, pooled, offsets, word ids).
            given_spans: per question, the mention spans to use instead of learned span
                detection (the "ER" variant: only ``p(e | s)`` is learned); ``p(s)`` is then
                uniform over the given spans that are linkable. A question none of whose given
                spans is linkable falls back to span detection.
        """
        if isinstance(questions, str):
            raise TypeError("questions must be a list of strings, not a single string; pass [question]")
        spans = enumerate_spans(enc, questions, self.config.max_words)
        tokens = enc.tokens
        dtype, B, E = tokens.dtype, len(questions), self.num_entities
        entity, features = self.candidates(spans)  # (B, S, K), (B, S, K, F)
        features = features.to(dtype)
        cand_mask = entity >= 0  # (B, S, K)
        span_mask = spans.valid & cand_mask.any(dim=-1)  # (B, S)

        start, end, mean = span_embeddings(tokens, spans.piece_start, spans.piece_end)  # (B, S, H) each
        span_logits = self.span_scorer(start, end, mean, spans.width)  # (B, S)
        best = features.amax(dim=2)  # (B, S, F): features are >= 0 and 0 at padding, so the best match
        if self.prior is not None:
            span_logits = span_logits + self.prior(best).squeeze(-1)
        if self.enclosed is not None:
            held = enclosing_best(best[..., FEATURE_NAMES.index("normalized_exact")], spans.chars, span_mask)  # (B, S)
            span_logits = span_logits + self.enclosed(held[..., None]).squeeze(-1)
        if given_spans is not None:
            span_logits = torch.zeros_like(span_logits)  # fixed: uniform over the given spans
            span_mask = span_mask & _matching(spans.chars, given_spans, span_mask)
        span_probs = masked_softmax(span_logits, span_mask, dim=-1)  # (B, S)

        # candidates are scored for the N linkable spans only, packed: (N, K) rather than (B, S, K)
        b_idx, s_idx = span_mask.nonzero(as_tuple=True)  # (N,)
        ents = entity[b_idx, s_idx]  # (N, K)
        context = profiles = None
        if self.config.use_context:
            around = self.span_context(tokens, enc.mask, spans)  # (B, S, H)
            context = torch.cat([around[b_idx, s_idx], mean[b_idx, s_idx]], dim=-1)  # (N, 2H)
            profiles = self.profile.to(dtype)[ents.clamp(min=0)]  # (N, K, R)
        logits = self.entity_scorer(features[b_idx, s_idx], context, profiles)  # (N, K)
        probs = masked_softmax(logits, ents >= 0, dim=-1)  # (N, K) p(e | s); 0 at padding
        entity_logits = logits.new_zeros(entity.shape).index_put((b_idx, s_idx), logits)  # (B, S, K)
        entity_probs = probs.new_zeros(entity.shape).index_put((b_idx, s_idx), probs)

        weight = span_probs[b_idx, s_idx, None] * probs  # (N, K) mass each candidate brings
        flat = (b_idx[:, None] * E + ents.clamp(min=0)).reshape(-1)  # (N K,) into the (B E,) grid
        x0 = tokens.new_zeros(B * E).scatter_add(0, flat, weight.reshape(-1)).view(B, E)
        slots = None
        if self.count_head is not None:
            slots = self._slots(enc, spans, span_logits, span_mask, span_probs, mean, entity, entity_probs, given_spans)
        return ResolverOutput(x0=x0, span_logits=span_logits, span_probs=span_probs, span_mask=span_mask,
                              span_chars=spans.chars, span_texts=spans.texts, candidates=entity,
                              entity_logits=entity_logits, entity_probs=entity_probs, kg=self.kg, slots=slots)

    def _slots(self, enc: EncoderOutput, spans: SpanBatch, span_logits: Tensor, span_mask: Tensor,
               span_probs: Tensor, mean: Tensor, entity: Tensor, entity_probs: Tensor,
               given_spans: Sequence[Sequence[Span]] | None) -> MentionSlots:
        """The mention slots (:mod:`kgqa.resolve.mentions`): greedy from the span scores and ``P(n)`` from
        the count head, or, with ``given_spans``, one slot per given span and their known number."""
        if given_spans is not None:
            member = given_slots(spans.chars, span_mask, [list(g) for g in given_spans])  # (B, M, S)
            n = member.any(dim=2).sum(dim=1)  # (B,)
            counts = nn.functional.one_hot((n - 1).clamp(min=0), member.shape[1]).to(span_probs.dtype)
        else:
            member = greedy_slots(span_logits, span_mask, spans.chars, self.config.slots)
            share = torch.einsum("bms,bs->bm", member.to(span_probs.dtype), span_probs)  # (B, M)
            inp = torch.cat([enc.pooled.to(share.dtype), share.detach()], dim=-1)  # (B, H + M)
            counts = torch.softmax(self.count_head(inp) * self.config.count_scale, dim=-1)  # (B, N)
        return build_slots(member, span_probs, mean, entity, entity_probs, self.num_entities, counts)


def enclosing_best(score: Tensor, chars: Tensor, mask: Tensor) -> Tensor:
    """``(B, S)``: for each span, the largest ``score`` (>= 0) of another span of ``mask`` whose characters
    hold it (``start' <= start`` and ``end <= end'``), 0 where none does. ``score``, ``mask``: ``(B, S)``;
    ``chars``: ``(B, S, 2)`` ``[start, end)`` offsets. Memory ``B·S²``."""
    start, end = chars[..., 0], chars[..., 1]
    holds = (start[:, :, None] <= start[:, None, :]) & (end[:, None, :] <= end[:, :, None])  # [b, s', s]
    holds &= mask[:, :, None] & (chars[:, :, None, :] != chars[:, None, :, :]).any(dim=-1)  # nor itself, nor its twin
    return (score[:, :, None] * holds).amax(dim=1) if score.shape[1] else score


def _matching(chars: Tensor, given: Sequence[Sequence[Span]], linkable: Tensor) -> Tensor:
    """``(B, S)`` bool: span ``s`` of question ``b`` is one of ``given[b]``; a question with no
    linkable given span keeps all its spans (True everywhere)."""
    want = torch.zeros(linkable.shape, dtype=torch.bool)
    for b, spans in enumerate(given):
        for start, end in spans:
            if start >= 0:
                want[b] |= (chars[b, :, 0].cpu() == start) & (chars[b, :, 1].cpu() == end)
    want = want.to(linkable.device)
    return want | ~(want & linkable).any(dim=1, keepdim=True)
