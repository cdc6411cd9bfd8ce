"""Symbolic traversal over sets of entities: the exact oracle the differentiable engine must match.

A *query program* says, for each topic entity, which relations to follow; the answer is the
intersection of what the paths reach::

    Who did Natalie Portman play in Star Wars Episode II?
      natalie_portman      --played-->          {padme_amidala, nina_sayers, ...}
      star_wars_episode_ii --appears_in^-1-->   {padme_amidala, anakin_skywalker, ...}
      answer = intersection                     {padme_amidala}

Everything here works on plain Python sets of entity indices: slow, obviously right, and
independent of the tensor code in :mod:`kgqa.follow`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import KGFormatError
from .kg import KnowledgeGraph
from .types import EntityKey, RelationKey

__all__ = [
    "adjacency",
    "follow_set",
    "walk_path",
    "intersect_sets",
    "Hop",
    "trace_path",
    "Program",
    "path_ceiling",
]


Adjacency = dict[tuple[int, int], list[int]]
_ADJACENCY: weakref.WeakKeyDictionary[KnowledgeGraph, Adjacency] = weakref.WeakKeyDictionary()


def adjacency(kg: KnowledgeGraph) -> Adjacency:
    """``(subject, relation) → objects`` (entity and relation indices, objects in file order): the
    graph as every set-based traversal reads it, built once per graph and kept while it lives."""
    adj = _ADJACENCY.get(kg)
    if adj is None:
        adj = {}
        for s, r, o in kg.triples.tolist():
            adj.setdefault((s, r), []).append(o)
        _ADJACENCY[kg] = adj
    return adj


def follow_set(kg: KnowledgeGraph, entities: Iterable[EntityKey], relation: RelationKey) -> set[int]:
    """Entities reached from any of ``entities`` by one ``relation`` fact: ``{o | (s, r, o), s ∈ X}``."""
    r = kg.relation_index(relation)
    adj = adjacency(kg)
    return {o for e in entities for o in adj.get((kg.entity_index(e), r), ())}


def walk_path(
    kg: KnowledgeGraph, start: Iterable[EntityKey], path: Sequence[RelationKey]
) -> set[int]:
    """Follow ``path`` (a sequence of relations) from the set ``start``; returns entity indices."""
    current = {kg.entity_index(e) for e in start}
    for relation in path:
        current = follow_set(kg, current, relation)
    return current


def intersect_sets(sets: Iterable[set[int]]) -> set[int]:
    """Entities in every one of ``sets`` (the answer of a question with several topic entities)."""
    result: set[int] | None = None
    for s in sets:
        result = set(s) if result is None else result & s
    return result or set()


@dataclass(frozen=True)
class Hop:
    """One step of a traced path: the facts used from ``sources`` to ``targets``."""

    relation: str
    edges: tuple[tuple[int, int], ...]  # (source index, target index) pairs

    @property
    def targets(self) -> set[int]:
        return {t for _, t in self.edges}


def trace_path(kg: KnowledgeGraph, start: EntityKey, path: Sequence[RelationKey],
               keep: set[int] | None = None) -> list[Hop]:
    """The facts followed at each hop from ``start`` along ``path``.

    With ``keep`` (usually the final answer set), dead ends are pruned: only edges that lie on a
    path from ``start`` to an entity in ``keep`` remain, which is what a reader wants to see.
    """
    frontier = {kg.entity_index(start)}
    adj = adjacency(kg)
    hops: list[Hop] = []
    for relation in path:
        r = kg.relation_index(relation)
        edges = [(s, o) for s in sorted(frontier) for o in adj.get((s, r), ())]
        hops.append(Hop(kg.relations[r], tuple(edges)))
        frontier = {o for _, o in edges}
    if keep is not None:  # walk back from the kept answers, dropping edges that lead elsewhere
        alive = set(keep)
        for i in range(len(hops) - 1, -1, -1):
            kept = tuple(e for e in hops[i].edges if e[1] in alive)
            hops[i] = Hop(hops[i].relation, kept)
            alive = {s for s, _ in kept}
    return hops


@dataclass(frozen=True)
class Program:
    """A query: one relation path per topic entity; the answer intersects the paths' ends.

    The text form, used in data files, writes each path as relations joined by ``>`` and the
    paths (one per topic entity, in order) joined by ``;``: ``"played;appears_in^-1"``.
    """

    topics: tuple[str, ...]  # entity ids, one per path
    paths: tuple[tuple[str, ...], ...]  # relation names per topic

    def __post_init__(self) -> None:
        if len(self.topics) != len(self.paths) or not self.topics:
            raise ValueError(f"a program needs one path per topic entity, got {len(self.topics)} "
                             f"topics and {len(self.paths)} paths")

    @classmethod
    def parse(cls, topics: Sequence[str], text: str, *, where: str = "") -> Program:
        """Parse ``"r1>r2;r3"`` for the given topic ids (``where`` names the source for errors)."""
        paths = tuple(tuple(p.strip() for p in part.split(">") if p.strip()) for part in text.split(";"))
        if len(paths) != len(topics) or any(not p for p in paths):
            raise KGFormatError(f"program {text!r} needs one non-empty path per topic "
                                f"({len(topics)} topics)", path=where or None)
        return cls(tuple(topics), paths)

    @property
    def hops(self) -> int:
        """Length of the longest path."""
        return max(len(p) for p in self.paths)

    def __str__(self) -> str:
        return ";".join(">".join(p) for p in self.paths)

    def describe(self) -> str:
        """Readable form: ``follow(natalie_portman, played) ∩ follow(star_wars_episode_ii, appears_in^-1)``."""
        return " ∩ ".join(f"follow({t}, {' > '.join(p)})" for t, p in zip(self.topics, self.paths))

    def execute(self, kg: KnowledgeGraph) -> set[int]:
        """The answer: entity indices reached by every path from its topic."""
        return intersect_sets(walk_path(kg, [t], p) for t, p in zip(self.topics, self.paths))

    def answer_ids(self, kg: KnowledgeGraph) -> list[str]:
        """The answer as sorted entity ids."""
        return sorted(kg.entities[i] for i in self.execute(kg))


def path_ceiling(kg: KnowledgeGraph, examples: Sequence, *, exclude_topics: bool) -> dict[str, float] | None:
    """What following the gold program exactly can score, in percent of ``examples``.

    ``"reachable"``: a gold answer is among the entities the program reaches (the usual Hits@1
    ceiling). ``"set_oracle"``: the expected Hits@1 of an oracle that ranks every reached entity
    first and breaks the ties among them at random, ``mean |reached ∩ gold| / |reached|``. The
    gap between the two is what the data cannot tell apart: MetaQA films that share a title share
    one entity, so "who directed Hamlet" reaches the directors of every *Hamlet*. With
    ``exclude_topics`` the topic entities are never answers (MetaQA). ``None`` when some example
    has no gold program.
    """
    reach = oracle = 0.0
    for ex in examples:
        program = ex.program
        if program is None:
            return None
        got = program.execute(kg)
        if exclude_topics:
            got -= {kg.entity_index(t) for t in ex.topics}
        gold = {kg.entity_index(a) for a in ex.answers if kg.has_entity(a)}
        reach += bool(got & gold)
        oracle += len(got & gold) / len(got) if got else 0.0
    n = max(len(examples), 1)
    return {"reachable": 100 * reach / n, "set_oracle": 100 * oracle / n}
