"""How questions become the model's inputs: the encoder (by name), the text it reads with the topic
mentions masked, the topic and answer indices (and the check that some answer is known), the
vectors of mention spans and a pooled question vector with the resolved mentions masked out.

A model given its topic entities should learn the question's shape, not its entity's name, so the
known mentions are replaced by :data:`PLACEHOLDER` before encoding ("What city is something in?");
a text model masks what its resolver found instead, softly (:func:`masked_pool`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .datasets import NO_SPAN, QAExample, Span
from .encoders import MINILM_NAME, EncoderOutput, QuestionEncoder, tiny_encoder
from .errors import KGQAError
from .kg import KnowledgeGraph
from .resolve import ResolverOutput

__all__ = ["PLACEHOLDER", "build_encoder", "example_indices", "encoder_text", "encoder_input", "pieces_inside",
           "span_vectors", "masked_pool", "pad_questions", "encode_distinct",
           "EvaluationError", "check_answers_known", "check_counts"]


def build_encoder(name: str, *, freeze: bool = True, device: torch.device | str | None = None) -> QuestionEncoder:
    """The encoder called ``name``: ``"minilm"`` (or its display name ``all-MiniLM-L6-v2``),
    ``"tiny"`` (random, for tests) or the name a :func:`~kgqa.encoders.tiny_encoder` carries
    (``tiny-bert-h32-l2-seed0``), a folder or a hub name."""
    import re

    tiny = re.fullmatch(r"tiny-bert-h(\d+)-l(\d+)-seed(\d+)", name)
    if name == "tiny" or tiny:
        hidden, layers, seed = (int(g) for g in tiny.groups()) if tiny else (32, 2, 0)
        return tiny_encoder(seed, hidden=hidden, layers=layers, freeze=freeze, device=device)
    if name == MINILM_NAME:  # the packaged encoder's display name, which an untrained system records
        name = "minilm"
    return QuestionEncoder(name, freeze=freeze, device=device)


def example_indices(kg: KnowledgeGraph, examples: Sequence[QAExample]) -> tuple[list[list[int]], list[list[int]]]:
    """Topic and answer entity indices per example; ids missing from the graph are dropped
    (such answers can never be hit, which the metrics count as misses). The answer of a count
    question (``operation == "count"``) is the number ``n``, indexed ``E + n``: the count slots
    follow the entities in a model's answer scores (:mod:`kgqa.operations`)."""
    idx = kg.id_index  # plain lookups, the hot path of data preparation
    for ex in examples:
        if ex.operation == "count" and (len(ex.answers) != 1 or not ex.answers[0].isdigit()):
            where = f" ({ex.source})" if ex.source else ""
            raise EvaluationError(f"a count question's answer is one whole number, got {list(ex.answers)!r}{where}: "
                                  f"{ex.question!r}")
    topics = [[idx[t] for t in ex.topics if t in idx] for ex in examples]
    answers = [[kg.num_entities + int(ex.answers[0])] if ex.operation == "count" else
               [idx[a] for a in ex.answers if a in idx] for ex in examples]
    return topics, answers


PLACEHOLDER = "something"  # stands for a masked topic mention ("What city is something in?")


def encoder_text(example: QAExample, mask_mentions: bool) -> str:
    """The text the encoder sees: the question, with known topic mentions replaced by
    :data:`PLACEHOLDER` when ``mask_mentions`` (so the relation heads learn the question's shape,
    not its entity's name)."""
    return encoder_input(example, mask_mentions)[0]


def encoder_input(example: QAExample, mask_mentions: bool) -> tuple[str, list[Span]]:
    """:func:`encoder_text` and where each topic's mention (or its placeholder) is in it,
    :data:`NO_SPAN` for a topic whose mention is unknown."""
    text, spans = example.question, list(example.mentions) + [NO_SPAN] * (len(example.topics) - len(example.mentions))
    if not mask_mentions:
        return text, spans
    for i in sorted((i for i, m in enumerate(spans) if m[0] >= 0), key=lambda i: spans[i][0], reverse=True):
        start, end = spans[i]
        text = text[:start] + PLACEHOLDER + text[end:]
        shift = len(PLACEHOLDER) - (end - start)
        spans = [(s + shift, e + shift) if s >= end else (s, e) for s, e in spans]
        spans[i] = (start, start + len(PLACEHOLDER))
    return text, spans


def pieces_inside(offsets: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """``(B, K, L)`` bool: word piece ``l`` (a real piece of ``mask (B, L)``, with character
    ``offsets (B, L, 2)``) lies inside character span ``k`` of ``spans (B, K, 2)``; a span with
    ``start < 0`` contains nothing."""
    start, end = spans[..., 0:1], spans[..., 1:2]  # (B, K, 1)
    piece_start, piece_end = offsets[:, None, :, 0], offsets[:, None, :, 1]  # (B, 1, L)
    return ((piece_start >= start) & (piece_end <= end) & (start >= 0)
            & mask[:, None, :] & (piece_end > piece_start))


def span_vectors(tokens: torch.Tensor, offsets: torch.Tensor, mask: torch.Tensor,
                 spans: torch.Tensor) -> torch.Tensor:
    """``(B, K, H)`` mean contextual embedding of the word pieces inside each character span.

    ``tokens (B, L, H)``, ``offsets (B, L, 2)`` and ``mask (B, L)`` come from an
    :class:`~kgqa.encoders.EncoderOutput`; ``spans (B, K, 2)`` int64 ``[start, end)``, ``(-1, -1)``
    for none. A span that covers no piece (unknown, or cut off by truncation) gives zeros.
    """
    w = pieces_inside(offsets, mask, spans).to(tokens.dtype)  # (B, K, L)
    return torch.einsum("bkl,blh->bkh", w, tokens) / w.sum(-1, keepdim=True).clamp(min=1.0)


def masked_pool(enc: EncoderOutput, res: ResolverOutput, span_weights: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, H)`` question vectors with the resolved mentions softly masked out: the mean of the
    token vectors, each weighted by ``1 - Σ_s p(s) [token in s]`` — the probability that it is not
    part of a topic's mention. The text variants' counterpart of replacing a known mention by
    :data:`PLACEHOLDER`: the relation heads should read the question's shape, not the entity.
    ``span_weights (B, S)`` replaces ``p(s)`` (with several entities: the probability that span
    ``s`` is one of them)."""
    weights = res.span_probs if span_weights is None else span_weights
    inside = pieces_inside(enc.offsets, enc.mask, res.span_chars)  # (B, S, L)
    covered = torch.einsum("bs,bsl->bl", weights, inside.to(weights.dtype)).clamp(max=1.0)
    w = enc.attention_mask.to(covered.dtype) * (1.0 - covered)  # (B, L)
    return torch.einsum("bl,blh->bh", w, enc.tokens) / w.sum(1, keepdim=True).clamp(min=1e-6)


def pad_questions(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate question tensors of :meth:`QASystem.encode` along the batch, padding the
    ``(B, 1 + K, H)`` branched kind to the largest ``K`` with zeros."""
    if not parts or parts[0].dim() == 2:
        return torch.cat(list(parts))
    k = max(p.shape[1] for p in parts)
    return torch.cat([torch.nn.functional.pad(p, (0, 0, 0, k - p.shape[1])) for p in parts])


def encode_distinct(encode: Callable[[Sequence[QAExample]], torch.Tensor], examples: Sequence[QAExample],
                    mask_mentions: bool, batch_size: int = 256) -> torch.Tensor:
    """The tensors of ``encode`` (:meth:`QASystem.encode <kgqa.qa.QASystem.encode>` with a frozen
    encoder) for all ``examples``, each distinct encoder input encoded once, in batches of similar
    length. With the mentions masked, a question set asks the same few phrasings of many entities —
    MetaQA 1-hop's 9,947 test questions are 143 texts — so this does a small fraction of the
    encoder's work; batches of similar length waste little on padding. The values equal those of
    ``encode`` on any batch up to float rounding (padding changes the order of a few sums)."""
    if not examples:
        raise ValueError("encode_distinct needs at least one example")
    keys = [(text, tuple(spans)) for text, spans in (encoder_input(e, mask_mentions) for e in examples)]
    first: dict[tuple[str, tuple[Span, ...]], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    distinct = sorted(first.values(), key=lambda i: len(keys[i][0]))  # similar lengths side by side
    row = {keys[i]: r for r, i in enumerate(distinct)}
    parts = [encode([examples[i] for i in distinct[s: s + batch_size]]).float()
             for s in range(0, len(distinct), batch_size)]
    return pad_questions(parts)[torch.tensor([row[k] for k in keys], dtype=torch.int64)]


class EvaluationError(KGQAError, ValueError):
    """Questions that cannot be scored against this model's knowledge graph."""


def check_counts(examples: Sequence[QAExample], max_count: int | None) -> None:
    """Refuse count questions a model cannot answer — any, for a model without the operation
    controller (``max_count`` None), else those whose number is above its ``max_count`` — instead
    of scoring them as silent misses."""
    counts = [ex for ex in examples if ex.operation == "count"]
    big = [ex for ex in counts if max_count is not None and int(ex.answers[0]) > max_count]
    if (counts and max_count is None) or big:
        first = (big or counts)[0]
        where = f" ({first.source})" if first.source else ""
        need = ("a model with the operation controller (kgqa train --operations)" if max_count is None else
                f"a larger count than this model's largest, {max_count}")
        raise EvaluationError(f"{len(big or counts):,} count questions need {need}; the first{where}: "
                              f"{first.question!r} -> {first.answers[0]}")


def check_answers_known(kg: KnowledgeGraph, examples: Sequence[QAExample], answers: Sequence[Sequence[int]],
                        max_count: int | None = None) -> None:
    """Refuse examples none of whose gold answers is an entity of ``kg``: such an example can only
    be missed, and scoring it (F1 of an empty prediction against an empty gold set is 1) would
    hide that the questions were written for another graph; and count questions the model cannot
    answer (:func:`check_counts`)."""
    check_counts(examples, max_count)
    bad = [i for i, (ex, a) in enumerate(zip(examples, answers)) if not a]
    if bad:
        first = examples[bad[0]]
        where = f" ({first.source})" if first.source else ""
        raise EvaluationError(
            f"{len(bad):,} of {len(examples):,} questions have no gold answer in the knowledge graph "
            f"({kg.num_entities:,} entities, fingerprint {kg.fingerprint()}); the first{where}: {first.question!r} "
            f"-> {', '.join(map(repr, first.answers[:3]))}. Were they written for another graph?")
