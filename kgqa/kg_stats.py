"""What ``kgqa stats`` and :meth:`KnowledgeGraph.stats <kgqa.kg.KnowledgeGraph.stats>` report of a
graph: sizes, isolated entities, degrees and facts per relation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .kg import KnowledgeGraph

__all__ = ["KGStats", "graph_stats"]


@dataclass(frozen=True)
class KGStats:
    """Summary statistics of a knowledge graph (see :meth:`KnowledgeGraph.stats`)."""

    n_entities: int  # number of entities, isolated ones included
    n_relations: int  # number of relations, inverses included
    n_inverse_relations: int  # how many of them are ``r^-1`` inverses
    n_triples: int  # number of facts, inverse facts included
    n_isolated: int  # entities that occur in no fact
    max_out_degree: int  # most facts leaving a single entity
    mean_out_degree: float  # facts per entity
    facts_per_relation: dict[str, int] = field(default_factory=dict)  # relation -> fact count

    def __str__(self) -> str:
        return self.format()

    def format(self, top: int | None = None) -> str:
        """The counts, then facts per relation, most facts first: the ``top`` largest and a line
        for the rest when there are more (all of them when ``top`` is None)."""
        lines = [
            f"entities   {self.n_entities:>10,}  ({self.n_isolated:,} isolated)",
            f"relations  {self.n_relations:>10,}  ({self.n_inverse_relations:,} inverses)",
            f"triples    {self.n_triples:>10,}",
            f"out-degree {self.mean_out_degree:>10.2f} mean, {self.max_out_degree:,} max",
        ]
        rows = list(self.facts_per_relation.items())
        rest: list[tuple[str, int]] = []
        if top is not None and len(rows) > top:
            rows = sorted(rows, key=lambda rn: -rn[1])
            rows, rest = rows[:top], rows[top:]
        width = max((len(r) for r, _ in rows), default=0)
        lines += [f"  {r:<{width}}  {n:>8,}" for r, n in rows]
        if rest:
            lines.append(f"  ... {len(rest):,} more relations with {sum(n for _, n in rest):,} facts "
                         f"(at most {max(n for _, n in rest):,} each; --all lists them)")
        return "\n".join(lines)


def graph_stats(kg: KnowledgeGraph) -> KGStats:
    """Counts of entities, relations and facts, isolated entities and degrees of ``kg``."""
    deg = kg.degree()
    touched = torch.zeros(kg.num_entities, dtype=torch.bool)
    touched[kg.triples[:, 0]] = True
    touched[kg.triples[:, 2]] = True
    per_rel = torch.bincount(kg.triples[:, 1], minlength=kg.num_relations).tolist()
    return KGStats(
        n_entities=kg.num_entities,
        n_relations=kg.num_relations,
        n_inverse_relations=sum(kg.is_inverse(r) for r in kg.relations),
        n_triples=kg.num_triples,
        n_isolated=int((~touched).sum()),
        max_out_degree=int(deg.max()) if kg.num_entities else 0,
        mean_out_degree=kg.num_triples / max(kg.num_entities, 1),
        facts_per_relation=dict(zip(kg.relations, per_rel)),
    )
