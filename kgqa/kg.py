"""The knowledge graph: vocabularies, names and aliases, int64 triples, inverse relations.

A :class:`KnowledgeGraph` is a set of facts ``(subject, relation, object)`` over entities. Entities
have a unique *id* and a display *name*; several entities may share a name (the toy world has
three people called "Tom Hanks"), so ids and names are kept apart. Facts are stored as an int64
tensor ``triples`` of shape ``(T, 3)`` holding ``(subject index, relation index, object index)``.

Questions are often asked "backwards" ("Who wrote Big?" follows ``written_by`` from the film, but
"What did Gary Ross write?" needs it the other way), so relations usually come with explicit
inverses: :meth:`KnowledgeGraph.with_inverses` adds ``r^-1`` with every fact reversed.

Loaders read the two triple formats of the field — ``subject|relation|object`` (MetaQA) and
tab-separated (WorldCup2014, PathQuestion) — and report malformed input with file and line.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import torch

from .errors import (
    AmbiguousEntityError,
    DuplicateTripleError,
    EmptyKGError,
    KGFormatError,
    UnknownEntityError,
    UnknownRelationError,
    close_matches,
)
from .kg_io import read_saved_kg, read_triples, save_kg
from .types import EntityId, EntityKey, RelationKey, RelationName, Triple

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from .kg_stats import KGStats

__all__ = ["KnowledgeGraph", "INVERSE_SUFFIX", "inverse_name", "read_triples"]

INVERSE_SUFFIX = "^-1"
"""Suffix that marks an inverse relation: ``written_by^-1`` maps a writer to their films."""

def inverse_name(relation: RelationName) -> RelationName:
    """The name of the inverse of ``relation`` (and back): ``r`` ↔ ``r^-1``."""
    if relation.endswith(INVERSE_SUFFIX):
        return relation[: -len(INVERSE_SUFFIX)]
    return relation + INVERSE_SUFFIX


class KnowledgeGraph:
    """Entities, relations and facts, with names and aliases for the entities.

    Build one with :meth:`from_triples`, :meth:`load` (a triple file) or :meth:`load_saved` (a
    directory written by :meth:`save`); the constructor takes already-validated parts.

    Attributes:
        entities: entity ids; position = entity index.
        relations: relation names; position = relation index.
        triples: ``(T, 3)`` int64 tensor of ``(subject, relation, object)`` indices.
        names: display name of each entity, by index (the id when none was given).
        aliases: other names of each entity, by index.
        types: optional one-word type of each entity (``"person"``, ``"film"``), by index.
        source: where the facts came from (a file path or a short description).
    """

    def __init__(
        self,
        entities: Sequence[EntityId],
        relations: Sequence[RelationName],
        triples: torch.Tensor,
        *,
        names: Sequence[str] | None = None,
        aliases: Sequence[Sequence[str]] | None = None,
        types: Sequence[str] | None = None,
        source: str = "",
    ) -> None:
        self.entities: list[EntityId] = list(entities)
        self.relations: list[RelationName] = list(relations)
        if not isinstance(triples, torch.Tensor):
            try:
                triples = torch.as_tensor(triples)
            except (TypeError, ValueError, RuntimeError) as err:
                raise KGFormatError(f"triples must be an (N, 3) integer tensor of indices ({err})",
                                    path=source or None) from None
        if triples.is_floating_point() or triples.is_complex() or triples.dtype == torch.bool:
            raise KGFormatError(f"triples must hold integer indices, got dtype {triples.dtype}", path=source or None)
        if triples.numel() and (triples.dim() != 2 or triples.shape[1] != 3):
            raise KGFormatError(f"triples must have shape (N, 3), got {tuple(triples.shape)}", path=source or None)
        self.triples: torch.Tensor = triples.to(torch.int64).reshape(-1, 3)
        self.names: list[str] = list(names) if names is not None else list(self.entities)
        self.aliases: list[tuple[str, ...]] = (
            [tuple(a) for a in aliases] if aliases is not None else [()] * len(self.entities)
        )
        self.types: list[str] = list(types) if types is not None else [""] * len(self.entities)
        self.source = source
        self._entity_index = {e: i for i, e in enumerate(self.entities)}
        self._relation_index = {r: i for i, r in enumerate(self.relations)}
        if len(self._entity_index) != len(self.entities):
            dup = next(e for e, n in Counter(self.entities).items() if n > 1)
            raise KGFormatError(f"entity id {dup!r} is listed twice", path=source or None)
        if len(self._relation_index) != len(self.relations):
            dup = next(r for r, n in Counter(self.relations).items() if n > 1)
            raise KGFormatError(f"relation {dup!r} is listed twice", path=source or None)
        for what, seq in (("names", self.names), ("aliases", self.aliases), ("types", self.types)):
            if len(seq) != len(self.entities):
                raise ValueError(f"{what} has {len(seq)} items for {len(self.entities)} entities")
        if self.triples.numel():
            for col, size, what in ((0, self.num_entities, "subject"), (1, self.num_relations,
                                    "relation"), (2, self.num_entities, "object")):
                lo, hi = int(self.triples[:, col].min()), int(self.triples[:, col].max())
                if lo < 0 or hi >= size:
                    raise KGFormatError(f"{what} index {lo if lo < 0 else hi} out of range [0, {size}) in triples",
                                        path=source or None)
        self._name_index: dict[str, list[int]] | None = None
        self._csr: tuple[torch.Tensor, torch.Tensor] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_triples(
        cls,
        triples: Iterable[Triple],
        *,
        entities: Iterable[EntityId] | None = None,
        names: Mapping[EntityId, str] | None = None,
        aliases: Mapping[EntityId, Iterable[str]] | None = None,
        types: Mapping[EntityId, str] | None = None,
        add_inverses: bool = False,
        on_duplicate: Literal["error", "drop"] = "error",
        source: str = "",
        _lines: Sequence[int] | None = None,
    ) -> KnowledgeGraph:
        """Build a graph from ``(subject id, relation, object id)`` string triples.

        Entities are numbered in order of first appearance, after any listed in ``entities``
        (which may add isolated ones); relations likewise. ``names``/``aliases``/``types`` are
        keyed by entity id and must name known entities. Duplicate facts raise
        :class:`DuplicateTripleError` unless ``on_duplicate="drop"``. ``add_inverses`` appends
        ``r^-1`` for every relation (see :meth:`with_inverses`).
        """
        ent_index: dict[str, int] = {}
        rel_index: dict[str, int] = {}
        for e in entities or ():
            ent_index.setdefault(e, len(ent_index))
        rows: list[tuple[int, int, int]] = []
        seen: dict[tuple[int, int, int], int] = {}
        for k, triple in enumerate(triples):
            if (not isinstance(triple, (tuple, list)) or len(triple) != 3
                    or not all(isinstance(x, str) and x for x in triple)):
                line = _lines[k] if _lines is not None else None
                raise KGFormatError(f"item {k + 1}: expected a (subject, relation, object) triple of non-empty "
                                    f"strings, got {triple!r:.80}", path=source or None, line=line)
            s, r, o = triple
            row = (
                ent_index.setdefault(s, len(ent_index)),
                rel_index.setdefault(r, len(rel_index)),
                ent_index.setdefault(o, len(ent_index)),
            )
            if row in seen:
                if on_duplicate == "drop":
                    continue
                line = _lines[k] if _lines is not None else None
                first = _lines[seen[row]] if _lines is not None else seen[row] + 1
                raise DuplicateTripleError(
                    f"duplicate fact ({s!r}, {r!r}, {o!r}), first seen at "
                    f"{'line' if _lines is not None else 'item'} {first}; "
                    "pass on_duplicate='drop' to keep one copy",
                    path=source or None,
                    line=line,
                )
            seen[row] = k
            rows.append(row)
        if not rows:
            raise EmptyKGError("no facts found", path=source or None)
        ids = list(ent_index)

        def by_index(mapping: Mapping[EntityId, object] | None, what: str, default):
            out = [default(e) for e in ids]
            for e, v in (mapping or {}).items():
                if e not in ent_index:
                    raise UnknownEntityError(e, close_matches(e, ids), where=f"{what} of {source or 'the graph'}")
                out[ent_index[e]] = v
            return out

        kg = cls(
            ids,
            list(rel_index),
            torch.tensor(rows, dtype=torch.int64),
            names=by_index(names, "names", lambda e: e),
            aliases=[tuple(a) for a in by_index(aliases, "aliases", lambda e: ())],
            types=by_index(types, "types", lambda e: ""),
            source=source,
        )
        return kg.with_inverses() if add_inverses else kg

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        sep: Literal["auto", "tab", "pipe"] = "auto",
        add_inverses: bool = True,
        on_duplicate: Literal["error", "drop"] = "error",
        entity_list: str | os.PathLike | None = None,
    ) -> KnowledgeGraph:
        """Load a triple file: ``s|r|o`` (MetaQA) or ``s<TAB>r<TAB>o`` (WorldCup2014, PathQuestion).

        Blank lines and lines starting with ``#`` are skipped; surrounding spaces are stripped;
        repeated tabs count as one. Raises :class:`KGFormatError` with the file and line of the
        first malformed line, :class:`EmptyKGError` for a file with no facts. ``entity_list``
        names a file with one entity id per line (MetaQA's ``entities.txt``): its entities come
        first, in its order, so entities without facts still have an index.
        """
        triples, lines = read_triples(path, sep=sep)
        listed = None
        if entity_list is not None:
            listed = [ln.strip() for ln in Path(entity_list).read_text(encoding="utf-8-sig").splitlines()]
            listed = [e for e in listed if e]
        return cls.from_triples(
            triples, entities=listed, add_inverses=add_inverses, on_duplicate=on_duplicate, source=str(path),
            _lines=lines,
        )

    def with_inverses(self) -> KnowledgeGraph:
        """A copy with an inverse ``r^-1`` for every relation that has none yet.

        For a fact ``(s, r, o)`` the copy also holds ``(o, r^-1, s)``. Where a relation and its
        inverse are both present already (a file that lists some ``r^-1`` facts itself), the
        reversed facts missing on either side are added, so that every fact can be walked both
        ways. Calling it twice changes nothing.
        """
        kg = self._complete_inverses()  # the pairs the file already has; the new ones are complete by construction
        new_rels = [inverse_name(r) for r in kg.relations if inverse_name(r) not in kg._relation_index]
        if not new_rels:
            return kg
        relations = kg.relations + new_rels
        index = {r: i for i, r in enumerate(relations)}
        base = torch.tensor([index[inverse_name(r)] for r in new_rels])  # relation being inverted
        new_ids = torch.arange(len(kg.relations), len(relations))
        remap = torch.full((len(relations),), -1, dtype=torch.int64)
        remap[base] = new_ids
        keep = remap[kg.triples[:, 1]] >= 0
        t = kg.triples[keep]
        inv = torch.stack([t[:, 2], remap[t[:, 1]], t[:, 0]], dim=1)  # (T', 3)
        return KnowledgeGraph(
            kg.entities, relations, torch.cat([kg.triples, inv]), names=kg.names,
            aliases=kg.aliases, types=kg.types, source=kg.source,
        )

    def _complete_inverses(self) -> KnowledgeGraph:
        """``self`` with ``(o, r^-1, s)`` added for every ``(s, r, o)`` (and back) that lacks it, for
        the relations whose inverse is present."""
        partner = torch.tensor([self._relation_index.get(inverse_name(r), -1) for r in self.relations],
                               dtype=torch.int64)
        t = self.triples[partner[self.triples[:, 1]] >= 0]
        if not t.numel():
            return self
        rev = torch.stack([t[:, 2], partner[t[:, 1]], t[:, 0]], dim=1)
        n_e, n_r = self.num_entities, self.num_relations

        def keys(x: torch.Tensor) -> torch.Tensor:
            return (x[:, 0] * n_r + x[:, 1]) * n_e + x[:, 2]

        missing = rev[~torch.isin(keys(rev), keys(self.triples))]
        if not missing.numel():
            return self
        missing = torch.unique(missing, dim=0)
        return KnowledgeGraph(self.entities, self.relations, torch.cat([self.triples, missing]), names=self.names,
                              aliases=self.aliases, types=self.types, source=self.source)

    # ------------------------------------------------------------------ sizes and lookups
    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_triples(self) -> int:
        return int(self.triples.shape[0])

    def __len__(self) -> int:
        return self.num_triples

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        return (f"KnowledgeGraph({self.num_entities:,} entities, {self.num_relations} relations, "
                f"{self.num_triples:,} triples{src})")

    @property
    def id_index(self) -> Mapping[str, int]:
        """Entity id → index, read-only: for bulk lookups of ids known to be valid (or checked with
        ``in``), where :meth:`entity_index`'s checks and close-match messages are not wanted."""
        return MappingProxyType(self._entity_index)

    def entity_index(self, key: EntityKey) -> int:
        """Index of an entity given by id (or index). Unknown ids raise with close matches."""
        if isinstance(key, int) and not isinstance(key, bool):
            if 0 <= key < self.num_entities:
                return key
            raise UnknownEntityError(key, where=f"a graph of {self.num_entities} entities")
        try:
            return self._entity_index[key]
        except (KeyError, TypeError):
            # suggest ids only (a suggested display name would be rejected in turn); a close
            # name stands for the ids of the entities carrying it
            pool = self.entities + [n for n in self.names]
            ids: list[str] = []
            for match in close_matches(str(key), pool) if isinstance(key, str) else []:
                named = [] if match in self._entity_index else self.entities_named(match)
                ids += [match] if not named else [self.entities[i] for i in named]
            if isinstance(key, str) and self.entities_named(key):  # a name, not an id
                ids = [self.entities[i] for i in self.entities_named(key)]
            raise UnknownEntityError(key, list(dict.fromkeys(ids))[:3]) from None

    def lookup(self, key: EntityKey | Any, *, names: bool = True, where: str = "") -> int:
        """The entity index ``key`` denotes — an index, an entity id, or (``names``) a display name or
        alias that only one entity carries. The one place a user's way of naming an entity becomes
        an index. Raises :class:`UnknownEntityError` with close matches (naming ``where`` the key
        came from, e.g. ``file:line``) or :class:`AmbiguousEntityError` listing the ids that share
        the name."""
        if isinstance(key, torch.Tensor) and key.dim() == 0 and not key.is_floating_point():
            key = int(key)
        if isinstance(key, Integral) and not isinstance(key, bool):
            return self.entity_index(int(key))
        if not isinstance(key, str):
            raise UnknownEntityError(key, where=where or "the graph (expected an entity id, name or index)")
        if key in self._entity_index:
            return self._entity_index[key]
        if names:
            found = self.entities_named(key)
            if len(found) == 1:
                return found[0]
            if found:
                raise AmbiguousEntityError(key, [self.entities[i] for i in found], where=where)
        if where:
            raise UnknownEntityError(key, close_matches(key, self.entities + self.names if names else self.entities),
                                     where=where)
        return self.entity_index(key)  # raises UnknownEntityError with suggestions

    def relation_index(self, key: RelationKey) -> int:
        """Index of a relation given by name (or index). Unknown names raise with close matches."""
        if isinstance(key, int) and not isinstance(key, bool):
            if 0 <= key < self.num_relations:
                return key
            raise UnknownRelationError(key, where=f"a graph of {self.num_relations} relations")
        try:
            return self._relation_index[key]
        except (KeyError, TypeError):
            raise UnknownRelationError(key, close_matches(str(key), self.relations)) from None

    def has_entity(self, entity_id: EntityId) -> bool:
        return entity_id in self._entity_index

    def has_relation(self, relation: RelationName) -> bool:
        return relation in self._relation_index

    def name_of(self, key: EntityKey) -> str:
        """Display name of an entity."""
        return self.names[self.entity_index(key)]

    def label(self, key: EntityKey) -> str:
        """A readable label that stays unique: the name, plus the id when the name is shared."""
        i = self.entity_index(key)
        name = self.names[i]
        return name if len(self.entities_named(name)) <= 1 else f"{name} [{self.entities[i]}]"

    def entities_named(self, name: str) -> list[int]:
        """Indices of all entities whose display name or an alias is exactly ``name``."""
        if self._name_index is None:
            index: dict[str, list[int]] = {}
            for i, (n, al) in enumerate(zip(self.names, self.aliases)):
                for m in dict.fromkeys((n, *al)):
                    index.setdefault(m, []).append(i)
            self._name_index = index
        return list(self._name_index.get(name, []))

    def is_inverse(self, relation: RelationKey) -> bool:
        """Whether a relation is an ``r^-1`` inverse added by :meth:`with_inverses`."""
        return self.relations[self.relation_index(relation)].endswith(INVERSE_SUFFIX)

    def inverse(self, relation: RelationKey) -> int:
        """Index of the inverse of ``relation`` (raises if the graph has no such inverse)."""
        return self.relation_index(inverse_name(self.relations[self.relation_index(relation)]))

    # ------------------------------------------------------------------ neighbourhoods
    def _out_csr(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Facts sorted by subject and the offsets of each subject's block: ``(E+1,)``, ``(T,)``."""
        if self._csr is None:
            order = torch.argsort(self.triples[:, 0], stable=True)
            counts = torch.bincount(self.triples[:, 0], minlength=self.num_entities)
            offsets = torch.zeros(self.num_entities + 1, dtype=torch.int64)
            offsets[1:] = torch.cumsum(counts, 0)
            self._csr = (offsets, order)
        return self._csr

    def out_facts(self, entity: EntityKey) -> torch.Tensor:
        """The ``(k, 3)`` facts whose subject is ``entity`` (inverse facts included)."""
        i = self.entity_index(entity)
        offsets, order = self._out_csr()
        return self.triples[order[offsets[i]: offsets[i + 1]]]

    def neighbours(
        self, entity: EntityKey, relation: RelationKey | None = None
    ) -> list[tuple[RelationName, EntityId]]:
        """``(relation, object id)`` pairs leaving ``entity``, optionally for one relation.

        With inverse relations present this includes the facts pointing *to* the entity.
        """
        facts = self.out_facts(entity)
        if relation is not None:
            facts = facts[facts[:, 1] == self.relation_index(relation)]
        return [(self.relations[r], self.entities[o]) for _, r, o in facts.tolist()]

    def degree(self) -> torch.Tensor:
        """``(E,)`` int64 number of facts leaving each entity."""
        return torch.bincount(self.triples[:, 0], minlength=self.num_entities)

    def stats(self) -> KGStats:
        """Counts of entities, relations and facts, isolated entities and degrees (:mod:`kgqa.kg_stats`)."""
        from .kg_stats import graph_stats

        return graph_stats(self)

    def string_triples(self) -> list[Triple]:
        """All facts as ``(subject id, relation, object id)`` strings."""
        e, r = self.entities, self.relations
        return [(e[s], r[p], e[o]) for s, p, o in self.triples.tolist()]

    def fingerprint(self) -> str:
        """A short hash of entities, relations and facts: equal graphs give equal prints."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.entities).encode())
        h.update(b"\x1e")
        h.update("\x1f".join(self.relations).encode())
        h.update(b"\x1e")
        t = self.triples
        key = (t[:, 0] * self.num_relations + t[:, 1]) * self.num_entities + t[:, 2]
        h.update(torch.sort(key).values.numpy().tobytes())
        return h.hexdigest()[:16]

    def to_networkx(
        self, *, entities: Iterable[EntityKey] | None = None, include_inverses: bool = False
    ) -> nx.MultiDiGraph:
        """A networkx ``MultiDiGraph``: nodes are entity ids (attributes ``name``, ``type``),
        edges carry ``relation``. ``entities`` restricts it to the facts among those entities;
        inverse facts are left out unless ``include_inverses``."""
        import networkx as nx

        keep = None
        if entities is not None:
            keep = {self.entity_index(e) for e in entities}
        g = nx.MultiDiGraph()
        for i in (sorted(keep) if keep is not None else range(self.num_entities)):
            g.add_node(self.entities[i], name=self.names[i], type=self.types[i])
        for s, r, o in self.triples.tolist():
            if keep is not None and (s not in keep or o not in keep):
                continue
            rel = self.relations[r]
            if rel.endswith(INVERSE_SUFFIX) and not include_inverses:
                continue
            g.add_edge(self.entities[s], self.entities[o], key=rel, relation=rel)
        return g

    # ------------------------------------------------------------------ save / load
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the graph to a folder that :meth:`load_saved` restores exactly (see
        :func:`kgqa.kg_io.save_kg`: atomic writes, a fingerprint)."""
        return save_kg(self, directory)

    @classmethod
    def load_saved(cls, directory: str | os.PathLike) -> KnowledgeGraph:
        """Load a graph written by :meth:`save`, checking its fingerprint."""
        parts, fingerprint = read_saved_kg(directory)
        kg = cls(parts.pop("entities"), parts.pop("relations"), parts.pop("triples"), **parts)
        if kg.fingerprint() != fingerprint:
            raise KGFormatError("contents do not match the fingerprint in kg.json (a file was edited "
                                "or truncated)", path=Path(directory))
        return kg
