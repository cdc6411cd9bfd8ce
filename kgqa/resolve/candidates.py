"""Candidate generation for entity resolution: mention text → top-K KG entities with match features.

A learned resolver scores, for a span of the question, a handful of candidate entities rather
than all of them. :class:`CandidateIndex` finds those candidates from the entities' surfaces
(id, display name, aliases) and describes each (mention, entity) pair by a few match features
that a scorer can weigh:

- ``exact``: the mention is one of the entity's surfaces, character for character;
- ``normalized_exact``: equal after :func:`kgqa.text.match_key` (case, accents, ``_``/``-``, punctuation);
- ``ngram_cosine``: cosine similarity of character n-gram vectors (TF-IDF or counts) of the
  normalised texts, ``" " + text + " "`` so that word boundaries count — robust to typos;
- ``token_jaccard``: Jaccard overlap of the normalised word sets;
- ``name_coverage``: share of the surface's words that the mention contains (1 = whole name);
- ``length_ratio``: ``len(mention) / len(surface)`` in characters, normalised, capped at 4;
- ``log_degree``: ``log(1 + degree)`` of the entity, a popularity prior.

Word features use the entity's best surface for the mention (highest cosine). Candidates come
ordered: exact matches, then normalised matches (each group by degree), then by cosine.
Fuzzy matching is one sparse matrix product for all mentions of a batch, then a top-k::

    cos = Q (S, V) · Mᵀ (V, N)        Q, M: L2-normalised n-gram rows of mentions and surfaces

>>> from kgqa.toy import toy_kg
>>> index = CandidateIndex.build(toy_kg())
>>> [name for _, name, _ in index.lookup("Mona Lise", k=1)]
['Mona Lisa']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse
import torch

from ..kg import KnowledgeGraph
from ..text import match_key
from ..types import EntityId

__all__ = ["FEATURE_NAMES", "CandidateIndex", "Candidates", "char_ngrams"]

QUERY_CHUNK = 256  # mentions per sparse product in CandidateIndex.query (bounds its memory)

FEATURE_NAMES: tuple[str, ...] = ("exact", "normalized_exact", "ngram_cosine", "token_jaccard",
                                  "name_coverage", "length_ratio", "log_degree")
"""Names of the last axis of :attr:`Candidates.features`, in order."""


def char_ngrams(normalized: str, n: int = 3) -> list[str]:
    """Character n-grams of ``" " + normalized + " "`` (none for an empty text), with repeats."""
    if not normalized:
        return []
    padded = f" {normalized} "
    return [padded[i:i + n] for i in range(max(len(padded) - n + 1, 1))]


@dataclass(frozen=True)
class Candidates:
    """Top-K candidate entities for S mentions.

    Attributes:
        entity: ``(S, K)`` int64 entity indices, best first; ``-1`` pads missing candidates.
        features: ``(S, K, F)`` float32 match features (zeros at padding), see ``feature_names``.
        feature_names: the F feature names (:data:`FEATURE_NAMES`).
    """

    entity: torch.Tensor
    features: torch.Tensor
    feature_names: tuple[str, ...] = FEATURE_NAMES

    @property
    def mask(self) -> torch.Tensor:
        """``(S, K)`` bool: True where a real candidate is (not padding)."""
        return self.entity >= 0

    def feature(self, name: str) -> torch.Tensor:
        """``(S, K)`` float32 values of one feature."""
        if name not in self.feature_names:
            raise ValueError(f"unknown feature {name!r}; features are {', '.join(self.feature_names)}")
        return self.features[..., self.feature_names.index(name)]

    @property
    def score(self) -> torch.Tensor:
        """``(S, K)`` float32 ``exact + normalized_exact + ngram_cosine`` in [0, 3]; follows the order."""
        return self.feature("exact") + self.feature("normalized_exact") + self.feature("ngram_cosine")


def _top_stable(values: torch.Tensor, keys: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``t`` largest entries of each row of ``values (S, L)`` and their positions, largest
    first, equal values by their ``keys (S, L)`` (distinct within a row): the same for a row
    whatever other rows share the batch. (``torch.topk`` breaks ties by how the batch happens to
    be laid out, so a span could get other candidates in another batch, and a resumed training
    run, which queries its spans in other batches, other results than an uninterrupted one.)

    ``topk`` finds ``t + 1``; its first ``t`` are the exact top set unless the ``t``-th and the
    next are equal and positive (the caller stops at the first value ≤ 0); in those rows the
    entries equal to the ``t``-th value are taken by smallest key."""
    m = min(t + 1, values.shape[1])
    val, pos = torch.topk(values, m, dim=1)
    if m > t:
        tied = ((val[:, t - 1] == val[:, t]) & (val[:, t] > 0)).nonzero().flatten()
        val, pos = val[:, :t], pos[:, :t]
        if tied.numel():  # the entries above the boundary value, then the boundary's smallest keys
            edge = val[tied, t - 1:t]  # (n, 1)
            above = (val[tied] > edge).sum(1, keepdim=True)  # (n, 1), fewer than t
            at_edge = torch.where(values[tied] == edge, keys[tied], torch.iinfo(torch.int64).max)  # (n, L)
            first = torch.topk(at_edge, t, dim=1, largest=False).indices  # (n, t): smallest keys first
            j = torch.arange(t, device=values.device)
            take = first.gather(1, (j - above).clamp(min=0))
            pos[tied] = torch.where(j < above, pos[tied], take)
            val[tied] = values[tied].gather(1, pos[tied])
    by_key = keys.gather(1, pos).argsort(dim=1)
    val, pos = val.gather(1, by_key), pos.gather(1, by_key)
    order = torch.sort(val, dim=1, descending=True, stable=True).indices
    return val.gather(1, order), pos.gather(1, order)


class CandidateIndex:
    """Exact, normalised and character n-gram indexes over every entity's id, name and aliases.

    Build with :meth:`build`. Rows ("surfaces") are the distinct normalised surfaces of each
    entity; ``row_entity (N,)`` maps a row to its entity. The n-gram matrix :attr:`matrix`
    ``(N, V)`` has L2-normalised rows; it is stored transposed, ``matrix_t (V, N)`` SciPy sparse
    CSR float32 (an inverted index: gram → surfaces), the layout the product with mentions needs.
    """

    def __init__(self, kg: KnowledgeGraph, *, n: int = 3, weighting: Literal["tfidf", "count"] = "tfidf",
                 device: torch.device | str | None = None) -> None:
        """Prefer :meth:`build`; arguments as there."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n-gram size n must be a positive integer, got {n!r}")
        if weighting not in ("tfidf", "count"):
            raise ValueError(f"weighting must be 'tfidf' or 'count', got {weighting!r}")
        self.kg, self.n, self.weighting = kg, n, weighting
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.exact: dict[str, list[int]] = {}  # surface as written -> entity indices
        self.normalized: dict[str, list[int]] = {}  # match_key(surface) -> entity indices
        self.row_text: list[str] = []  # normalised surface of each row
        self.row_tokens: list[frozenset[str]] = []  # its words
        row_entity: list[int] = []
        self.entity_rows: list[list[int]] = [[] for _ in range(kg.num_entities)]
        for e, (eid, name, aliases) in enumerate(zip(kg.entities, kg.names, kg.aliases)):
            for surface in dict.fromkeys((eid, name, *aliases)):
                self.exact.setdefault(surface, []).append(e)
                norm = match_key(surface)
                if norm and norm not in (self.row_text[r] for r in self.entity_rows[e]):
                    self.normalized.setdefault(norm, []).append(e)
                    self.entity_rows[e].append(len(self.row_text))
                    self.row_text.append(norm)
                    self.row_tokens.append(frozenset(norm.split()))
                    row_entity.append(e)
        self.row_entity = torch.tensor(row_entity, dtype=torch.int64, device=self.device)  # (N,)
        self._row_entity_list = row_entity
        self._max_rows = max(1, max(len(rows) for rows in self.entity_rows))  # R: most rows of one entity
        self.degree = kg.degree()  # (E,) int64 facts leaving each entity (inverse facts included)
        self._log_degree = torch.log1p(self.degree.double()).float()  # (E,) float32
        self._degree_list: list[int] = self.degree.tolist()
        self._build_matrix()

    @classmethod
    def build(cls, kg: KnowledgeGraph, *, n: int = 3, weighting: Literal["tfidf", "count"] = "tfidf",
              device: torch.device | str | None = None) -> CandidateIndex:
        """Index ``kg``: ``n``-gram size, ``weighting`` of the n-gram vectors (``"tfidf"``: count ×
        ``log((1 + N) / (1 + df)) + 1``; ``"count"``: raw counts), and the ``device`` for tensors."""
        return cls(kg, n=n, weighting=weighting, device=device)

    def _build_matrix(self) -> None:
        """The ``(V, N)`` CSR n-gram matrix (transposed, rows of the ``(N, V)`` one L2-normalised)."""
        self.vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for r, text in enumerate(self.row_text):
            for gram, c in Counter(char_ngrams(text, self.n)).items():
                rows.append(r)
                cols.append(self.vocab.setdefault(gram, len(self.vocab)))
                counts.append(c)
        n_rows, n_grams = len(self.row_text), len(self.vocab)
        row_t, col_t = torch.tensor(rows, dtype=torch.int64), torch.tensor(cols, dtype=torch.int64)
        val = torch.tensor(counts, dtype=torch.float64)
        if self.weighting == "tfidf":
            df = torch.bincount(col_t, minlength=n_grams).double()  # rows holding each gram
            self.idf = torch.log((1 + n_rows) / (1 + df)) + 1  # (V,) float64
            self._idf_unknown = math.log(1 + n_rows) + 1  # a gram no surface has (df = 0)
        else:
            self.idf = torch.ones(n_grams, dtype=torch.float64)
            self._idf_unknown = 1.0
        self._gram_info = dict(zip(self.vocab, zip(range(n_grams), self.idf.tolist())))  # gram -> (column, idf)
        val = val * self.idf[col_t]
        norm = torch.zeros(n_rows, dtype=torch.float64).index_add_(0, row_t, val * val).sqrt()  # (N,)
        val = val / norm[row_t]
        order = torch.argsort(col_t, stable=True)  # by gram, then row: CSR of the transpose
        crow = torch.zeros(n_grams + 1, dtype=torch.int64)
        crow[1:] = torch.cumsum(torch.bincount(col_t, minlength=n_grams), 0)
        self.matrix_t = scipy.sparse.csr_matrix(  # (V, N), on the CPU, where the queries' products run
            (val[order].float().numpy(), row_t[order].numpy(), crow.numpy()), shape=(n_grams, n_rows))

    @property
    def matrix(self) -> torch.Tensor:
        """``(N, V)`` torch sparse CSR float32 n-gram vectors of the surfaces, L2-normalised rows."""
        m = self.matrix_t.T.tocsr()
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr).long(), torch.from_numpy(m.indices).long(),
                                       torch.from_numpy(m.data), m.shape, device=self.device,
                                       check_invariants=True)

    def __repr__(self) -> str:
        return (f"CandidateIndex({self.kg.num_entities:,} entities, {len(self.row_text):,} surfaces, "
                f"{len(self.vocab):,} {self.n}-grams, {self.weighting})")

    # ------------------------------------------------------------------ queries
    def _mention_vectors(self, norms: Sequence[str]) -> scipy.sparse.csr_matrix:
        """``(S, V)`` sparse CSR float32: L2-normalised n-gram vectors of normalised mentions.

        Grams unknown to the index add to the norm (so cosines stay true cosines) but not to
        the vector."""
        crow, cols, vals = [0], [], []
        info, unknown = self._gram_info, (-1, self._idf_unknown)
        for text in norms:
            ws = sorted((col, c * idf) for g, c in Counter(char_ngrams(text, self.n)).items()
                        for col, idf in (info.get(g, unknown),))  # (column or -1, weight), by column
            length = math.sqrt(sum(w * w for _, w in ws)) or 1.0
            cols += [col for col, _ in ws if col >= 0]
            vals += [w / length for col, w in ws if col >= 0]
            crow.append(len(cols))
        return scipy.sparse.csr_matrix((np.asarray(vals, dtype=np.float32), np.asarray(cols, dtype=np.int64),
                                        np.asarray(crow, dtype=np.int64)), shape=(len(norms), len(self.vocab)))

    def _row_cosines(self, norms: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Nonzero cosines of each mention with the surface rows, by one sparse × sparse product.

        Returns the ``(S, N)`` CSR parts: ``crow (S+1,)``, ``rows (nnz,)`` int64, ``values (nnz,)`` float32.
        The product runs in SciPy: torch's CPU CSR × CSR product kept about 50 kB per mention
        that it never freed (torch 2.13), which grew a resolver's training run past 19 GB."""
        q = self._mention_vectors(norms)  # (S, V)
        if q.nnz == 0 or self.matrix_t.shape[0] == 0:
            empty = torch.zeros(0, dtype=torch.int64, device=self.device)
            return torch.zeros(len(norms) + 1, dtype=torch.int64, device=self.device), empty, empty.float()
        prod = (q @ self.matrix_t).tocsr()  # (S, N)

        def tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device=self.device, dtype=dtype)

        return tensor(prod.indptr, torch.int64), tensor(prod.indices, torch.int64), tensor(prod.data, torch.float32)

    def cosines(self, mentions: Sequence[str]) -> torch.Tensor:
        """``(S, E)`` float32 n-gram cosine of each mention with each entity (its best surface)."""
        norms = [match_key(m) for m in _check_mentions(mentions)]
        crow, rows, vals = self._row_cosines(norms)
        mention = torch.repeat_interleave(torch.arange(len(norms), device=self.device), crow.diff())  # (nnz,)
        out = torch.zeros(len(norms), self.kg.num_entities, device=self.device)
        flat = mention * self.kg.num_entities + self.row_entity[rows]
        return out.view(-1).scatter_reduce_(0, flat, vals, reduce="amax").view_as(out)  # cosines are >= 0

    def _top_rows(self, norms: Sequence[str], t: int) -> tuple[list[list[int]], list[list[float]]]:
        """The (up to) ``t`` surface rows of highest nonzero cosine for each mention, best first.

        A top-k over each mention's nonzeros only, padded to the longest: ``(S, L)`` with L the
        most nonzeros of a mention, rather than the ``(S, N)`` dense matrix."""
        crow, rows, vals = self._row_cosines(norms)
        if vals.numel() == 0:
            return [[] for _ in norms], [[] for _ in norms]
        lens, s_count = crow.diff(), len(norms)  # (S,) nonzeros per mention
        width = int(lens.max())  # L
        shift = torch.arange(s_count, device=self.device) * width - crow[:-1]  # (S,) CSR position -> padded
        flat = torch.arange(vals.numel(), device=self.device) + torch.repeat_interleave(shift, lens)  # (nnz,)
        padded = torch.full((s_count * width,), -1.0, device=self.device).index_copy_(0, flat, vals)
        padded = padded.view(s_count, width)  # (S, L)
        keys = torch.full((s_count * width,), len(self.row_text), dtype=torch.int64, device=self.device)
        keys = keys.index_copy_(0, flat, rows).view(s_count, width)  # surface row of each entry: ranks ties
        top_val, top_pos = _top_stable(padded, keys, min(t, padded.shape[1]))  # (S, t)
        top_row = rows[(crow[:-1, None] + top_pos).clamp(max=vals.numel() - 1)]  # (S, t); padding masked below
        return top_row.cpu().tolist(), top_val.cpu().tolist()

    def query(self, mentions: Sequence[str], k: int = 8) -> Candidates:
        """Top-``k`` candidates of each mention, with features (see the module docstring).

        Args:
            mentions: S mention strings (spans of a question).
            k: candidates per mention (K); fewer real ones are padded with ``-1``.
        Returns:
            :class:`Candidates` with ``entity (S, K) int64`` and ``features (S, K, F) float32``.
            An empty or blank mention, or one sharing no n-gram with any surface, gets padding.
        """
        mentions = _check_mentions(mentions)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k (candidates per mention) must be a positive integer, got {k!r}")
        if len(mentions) > QUERY_CHUNK:  # a short span ("the") shares an n-gram with most surfaces:
            # its row of the product is nearly dense, so bound the rows computed at once
            parts = [self.query(mentions[i:i + QUERY_CHUNK], k) for i in range(0, len(mentions), QUERY_CHUNK)]
            return Candidates(torch.cat([p.entity for p in parts]), torch.cat([p.features for p in parts]))
        s_count = len(mentions)
        entity = torch.full((s_count, k), -1, dtype=torch.int64)
        features = torch.zeros(s_count, k, len(FEATURE_NAMES), dtype=torch.float32)
        stripped = [m.strip() for m in mentions]
        norms = [match_key(m) for m in stripped]
        # exact and normalised matches come first, by degree: (entity, exact, normalized_exact, cosine, row)
        chosen: list[list[tuple[int, int, int, float, int]]] = []
        for m, norm in zip(stripped, norms):
            ex = set(self.exact.get(m, ())) if m else set()
            nx = set(self.normalized.get(norm, ())) if norm else set()
            order = sorted(ex | nx, key=lambda e: (e not in ex, -self._degree_list[e], e))[:k]
            # a normalised match has a row spelling `norm` (cosine 1); an exact match whose surface
            # normalises to nothing ("!!!") has no row and cosine 0
            chosen.append([(e, int(e in ex), int(e in nx), float(e in nx),
                            next((r for r in self.entity_rows[e] if self.row_text[r] == norm), -1)) for e in order])
        # then by cosine. An entity scores the max over its rows and has at most R rows, so fewer
        # than k * R rows rank above the best row of any of the best k - (pinned) other entities.
        top_rows, top_vals = self._top_rows(norms, k * self._max_rows)
        for s in range(s_count):
            seen = {e for e, *_ in chosen[s]}
            for r, c in zip(top_rows[s], top_vals[s]):
                if len(chosen[s]) >= k or c <= 0:
                    break
                e = self._row_entity_list[r]
                if e not in seen:  # the first row of an entity is its best surface
                    seen.add(e)
                    chosen[s].append((e, 0, 0, c, r))
        where = [(s, j) for s, picks in enumerate(chosen) for j in range(len(picks))]
        if where:
            values = [(x, nx, c, *self._word_features(norms[s], r)) for s, picks in enumerate(chosen)
                      for e, x, nx, c, r in picks]
            ents = torch.tensor([e for picks in chosen for e, *_ in picks], dtype=torch.int64)  # (P,)
            s_idx, j_idx = torch.tensor(where).unbind(1)
            entity[s_idx, j_idx] = ents
            feats = torch.tensor(values, dtype=torch.float32)  # (P, F - 1)
            features[s_idx, j_idx] = torch.cat([feats, self._log_degree[ents, None]], dim=1)
        return Candidates(entity.to(self.device), features.to(self.device))

    def _word_features(self, norm: str, row: int) -> tuple[float, float, float]:
        """``(token_jaccard, name_coverage, length_ratio)`` of a normalised mention and a surface row
        (zeros for ``row = -1``, an exact match on a surface with no row)."""
        if row < 0:
            return 0.0, 0.0, 0.0
        mtoks, stoks = set(norm.split()), self.row_tokens[row]
        common = len(mtoks & stoks)
        union = len(mtoks) + len(stoks) - common
        return common / union if union else 0.0, common / len(stoks), min(len(norm) / len(self.row_text[row]), 4.0)

    def lookup(self, mention: str, k: int = 5) -> list[tuple[EntityId, str, float]]:
        """``(entity id, name, score)`` of the top-``k`` candidates of one mention, best first;
        ``score`` = exact + normalized_exact + n-gram cosine (see :attr:`Candidates.score`)."""
        if not isinstance(mention, str):
            raise TypeError(f"mention must be a string, got {type(mention).__name__}")
        cands = self.query([mention], k)
        score = cands.score[0].tolist()
        return [(self.kg.entities[e], self.kg.names[e], round(sc, 4))
                for e, sc in zip(cands.entity[0].tolist(), score) if e >= 0]


def _check_mentions(mentions: Sequence[str]) -> list[str]:
    """``mentions`` as a list of strings; a bare string (a common slip) or a non-string raises TypeError."""
    if isinstance(mentions, str):
        raise TypeError(f"mentions must be a sequence of strings, got the string {mentions[:40]!r}; "
                        "wrap one mention in a list: query([mention])")
    out = list(mentions)
    bad = next((m for m in out if not isinstance(m, str)), None)
    if bad is not None:
        raise TypeError(f"every mention must be a string, got {type(bad).__name__}: {bad!r}")
    return out
