"""What a trained system says about one question: its answers, and what it looked at.

:class:`Answer` is what :meth:`kgqa.qa.QASystem.ask` returns and what ``kgqa ask --json`` prints:
the answers by name with scores, the relation attention of each hop, the hop attention and, for
the models that have them, one :class:`Branch` per topic entity and the :class:`ResolvedSpan`
mentions found in the text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .qa_files import Span

__all__ = ["Answer", "Branch", "ResolvedSpan"]


@dataclass
class ResolvedSpan:
    """A span the resolver found in the question, with its best candidate entities."""

    text: str
    span: Span  # (start, end) character offsets
    p: float  # p(span)
    entities: list[tuple[str, str, float]]  # (entity id, name, p(entity | span)), best first


@dataclass
class Branch:
    """What one topic entity's branch of an intersection model did."""

    topic: str  # the entity id the branch starts from
    answers: list[tuple[str, str, float]]  # (entity id, name, score) the branch alone reaches, best first
    relations: list[list[tuple[str, float]]]  # per hop: (relation, weight), best first
    hop_attention: list[float]


@dataclass
class Answer:
    """The model's answer to one question, with what it looked at."""

    question: str
    topics: list[str]  # topic entity ids
    answers: list[tuple[str, str, float]]  # (entity id, name, score), best first
    relations: list[list[tuple[str, float]]]  # per hop: (relation, weight), best first (first branch)
    hop_attention: list[float]  # weight of each hop (first branch)
    branches: list[Branch] = field(default_factory=list)  # one per topic for an intersection model
    combine: str = "none"  # how the branches were combined: "min", "product"; "none": no branches
    spans: list[ResolvedSpan] = field(default_factory=list)  # from text alone: the likeliest spans
    # (an intersection model: one per mention slot, p = probability that it is one of the entities)
    entity_count: list[float] = field(default_factory=list)  # from text, several entities: P(n = 1, 2, ...)

    def to_json(self) -> dict[str, Any]:
        def answers(items: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
            return [{"id": i, "name": n, "score": s} for i, n, s in items]

        def rels(hops: list[list[tuple[str, float]]]) -> list[list[dict[str, Any]]]:
            return [[{"relation": r, "weight": w} for r, w in hop] for hop in hops]

        d = asdict(self)
        d["answers"], d["relations"] = answers(self.answers), rels(self.relations)
        d["branches"] = [{"topic": b.topic, "answers": answers(b.answers), "relations": rels(b.relations),
                          "hop_attention": b.hop_attention} for b in self.branches]
        d["spans"] = [{"text": s.text, "start": s.span[0], "end": s.span[1], "p": s.p,
                       "entities": [{"id": i, "name": n, "p": p} for i, n, p in s.entities]} for s in self.spans]
        return d
