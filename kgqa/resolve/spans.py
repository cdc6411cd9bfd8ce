"""Span enumeration and span scoring: the candidate-independent half of entity resolution.

Learned entity resolution (Rigel-E2E, Oliya et al. 2021) scores every span of up to L words of
the question as a possible entity mention. A span is a run of whole *words* — the words of the
tokenizer's pre-tokenisation (``EncoderOutput.word_ids``), except that words joined by an
underscore count as one (``tom_hanks``), so a span never splits a word into word pieces — and is
described by the word pieces it covers:

    span s = (i, j)   piece positions i <= j (inclusive) of its first and last word pieces
    g_s    = [t_i ; t_j ; mean(t_i .. t_j) ; w(width_s)]        (3H + D_w)   (Lee et al. 2017)
    logit_s = MLP(g_s)                                           scalar
    p(s)   = softmax over the valid spans of the question

``t`` are the encoder's contextual token embeddings and ``w`` a learned embedding of the
span's width in words. :func:`enumerate_spans` lists the spans, :func:`span_embeddings` pools
them, :class:`SpanScorer` scores them and :func:`masked_softmax` normalises over valid ones.

>>> from kgqa.encoders import tiny_encoder
>>> enc = tiny_encoder(0)
>>> spans = enumerate_spans(enc(["Who wrote Big?"]), ["Who wrote Big?"], max_words=2)
>>> spans.texts[0]
['Who', 'Who wrote', 'wrote', 'wrote Big', 'Big', 'Big?', '?']
>>> spans.valid[0].tolist()
[True, True, True, True, True, False, False]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..text import match_key
from ..encoders import EncoderOutput
from ..types import Tensor

__all__ = ["SpanBatch", "enumerate_spans", "span_embeddings", "SpanScorer", "masked_softmax"]


@dataclass
class SpanBatch:
    """Every span of up to ``max_words`` words of B questions, padded to S spans.

    Spans of question ``b`` come ordered by start word, then by width; ``texts[b]`` lists its
    ``n_b <= S`` real spans (positions ``n_b..S-1`` are padding).

    piece_start: (B, S) int64 position (in the encoder's L positions) of the span's first piece.
    piece_end: (B, S) int64 position of its last piece, inclusive (0 at padding).
    chars: (B, S, 2) int64 ``[start, end)`` character offsets into the question (0 at padding).
    width: (B, S) int64 number of words, 1..max_words (0 at padding).
    valid: (B, S) bool, a real span that begins and ends with a word of letters or digits: not
        only punctuation, and no mention takes the question mark after it ("Big?" is not a
        mention; "Big" is).
    texts: per question, ``question[start:end]`` of each real span.
    """

    piece_start: Tensor
    piece_end: Tensor
    chars: Tensor
    width: Tensor
    valid: Tensor
    texts: list[list[str]]

    @property
    def num_spans(self) -> int:
        """S, the padded number of spans per question."""
        return self.valid.shape[1]


def _words(word_ids: list[int], offsets: list[list[int]], mask: list[bool]) -> list[tuple[int, int, int, int]]:
    """``(first piece, last piece, start char, end char)`` of each word of one question, in order."""
    words: list[list[int]] = []
    last = None
    for pos, (w, (a, b), m) in enumerate(zip(word_ids, offsets, mask)):
        if not m or w < 0:
            continue
        if w != last:  # pieces of one word are contiguous; a new word id opens a new word
            words.append([pos, pos, a, b])
            last = w
        else:
            words[-1][1], words[-1][3] = pos, b
    return [tuple(w) for w in words]  # type: ignore[misc]


def _join_underscores(words: list[tuple[int, int, int, int]], text: str) -> list[tuple[int, int, int, int]]:
    """Merge words that touch across an underscore into one: the pre-tokeniser makes 7 words of
    ``archduke_johann_of_austria`` (PathQuestion and WorldCup2014 write entity ids in the text),
    which would put half of PathQuestion's 3-hop mentions beyond a 6-word span."""
    out: list[tuple[int, int, int, int]] = []
    for w in words:
        if out and out[-1][3] == w[2] and "_" in (text[w[2] - 1: w[2] + 1] if w[2] > 0 else ""):
            out[-1] = (out[-1][0], w[1], out[-1][2], w[3])
        else:
            out.append(w)
    return out


def enumerate_spans(enc: EncoderOutput, questions: Sequence[str], max_words: int) -> SpanBatch:
    """All spans of 1..``max_words`` whole words of each question, as padded tensors.

    Args:
        enc: the encoder's output for ``questions`` (its ``word_ids``, ``offsets`` and ``mask``;
            words cut off by truncation have no pieces and so no spans).
        questions: the B question strings the encoder saw (span texts are cut from them).
        max_words: L, the longest span in words.
    Returns:
        a :class:`SpanBatch` on ``enc``'s device. A question with ``n`` words has
        ``sum_{w=1..min(L, n)} (n - w + 1)`` spans; an empty question has none.
    """
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive integer, got {max_words!r}")
    if len(questions) != len(enc):
        raise ValueError(f"{len(questions)} questions for an encoder output of {len(enc)} rows")
    rows: list[list[tuple[int, int, int, int, int]]] = []  # per question: (piece i, piece j, char a, char b, width)
    words_of = []
    for text, word_ids, offsets, mask in zip(questions, enc.word_ids.tolist(), enc.offsets.tolist(), enc.mask.tolist()):
        words = _join_underscores(_words(word_ids, offsets, mask), text)
        words_of.append(words)
        rows.append([(words[i][0], words[j][1], words[i][2], words[j][3], j - i + 1)
                     for i in range(len(words)) for j in range(i, min(i + max_words, len(words)))])
    B, S = len(rows), max((len(r) for r in rows), default=0)
    table = torch.zeros(B, S, 5, dtype=torch.int64)  # (B, S, [i, j, a, b, width])
    for b, r in enumerate(rows):
        if r:
            table[b, : len(r)] = torch.tensor(r, dtype=torch.int64)
    texts = [[q[a:e] for _, _, a, e, _ in r] for q, r in zip(questions, rows)]
    valid = torch.zeros(B, S, dtype=torch.bool)
    for b, (q, r) in enumerate(zip(questions, rows)):
        wordy = [bool(match_key(q[w[2]:w[3]])) for w in words_of[b]]  # a word of letters or digits
        starts = {w[2]: ok for w, ok in zip(words_of[b], wordy)}
        ends = {w[3]: ok for w, ok in zip(words_of[b], wordy)}
        valid[b, : len(r)] = torch.tensor([starts[a] and ends[e] for _, _, a, e, _ in r], dtype=torch.bool)
    dev = enc.tokens.device
    table = table.to(dev)
    return SpanBatch(piece_start=table[..., 0], piece_end=table[..., 1], chars=table[..., 2:4],
                     width=table[..., 4], valid=valid.to(dev), texts=texts)


def span_embeddings(tokens: Tensor, piece_start: Tensor, piece_end: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(start, end, mean)`` token vectors of each span, each ``(B, S, H)``.

    ``tokens (B, L, H)``; ``piece_start``/``piece_end (B, S)`` int64 inclusive piece positions.
    The mean over pieces ``i..j`` is a difference of prefix sums, ``(c[j + 1] - c[i]) / (j - i + 1)``,
    so no ``(B, S, L)`` membership matrix is built.
    """
    B, L, H = tokens.shape
    prefix = torch.cat([tokens.new_zeros(B, 1, H), tokens.cumsum(dim=1)], dim=1)  # (B, L + 1, H)

    def at(x: Tensor, pos: Tensor) -> Tensor:  # (B, S, H): x[b, pos[b, s]]
        return x.gather(1, pos[..., None].expand(-1, -1, H))

    count = (piece_end - piece_start + 1).clamp(min=1)[..., None].to(tokens.dtype)  # (B, S, 1)
    mean = (at(prefix, piece_end + 1) - at(prefix, piece_start)) / count
    return at(tokens, piece_start), at(tokens, piece_end), mean


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``logits`` over the True entries of ``mask`` along ``dim``; exactly 0 elsewhere,
    and an all-zero slice where ``mask`` has no True entry (no NaN)."""
    filled = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return torch.softmax(filled, dim=dim) * mask.to(logits.dtype)


class SpanScorer(nn.Module):
    """``logit_s = MLP([t_start; t_end; mean(t_start..t_end); w(width)])`` for every span.

    Args:
        question_dim: H, the size of the encoder's token embeddings.
        max_words: L, the longest span (widths 1..L have an embedding; 0 is padding).
        hidden: width of the MLP's hidden layer.
        width_dim: D_w, size of the width embedding.
    """

    def __init__(self, question_dim: int, max_words: int, hidden: int = 128, width_dim: int = 16) -> None:
        super().__init__()
        self.width = nn.Embedding(max_words + 1, width_dim)
        self.mlp = nn.Sequential(nn.Linear(3 * question_dim + width_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, 1, bias=False))  # a shift would cancel in the softmax
        nn.init.normal_(self.width.weight, std=1 / math.sqrt(width_dim))

    def forward(self, start: Tensor, end: Tensor, mean: Tensor, width: Tensor) -> Tensor:
        """``(B, S)`` logits from precomputed :func:`span_embeddings` and ``(B, S)`` int64 widths
        (any value at padding: mask with ``SpanBatch.valid``)."""
        w = self.width(width).to(start.dtype)  # (B, S, D_w)
        return self.mlp(torch.cat([start, end, mean, w], dim=-1)).squeeze(-1)
