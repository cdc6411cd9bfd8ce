"""What a trained system did with one question, as one structured object: the :class:`Trace`.

:meth:`kgqa.qa.QASystem.explain` (and ``ask``) builds it; ``kgqa ask`` prints :meth:`Trace.lines`
or, with ``--json``, :meth:`Trace.to_json`; the figures of :mod:`kgqa.plot.model` draw it. Nothing
downstream recomputes what the model did, so what a reader sees in text, JSON and figures agrees.

The tree follows the computation:

- ``mentions``: the spans the resolver read as entities (text models), each with ``p(span)`` and
  its candidate entities with ``p(e | span)`` — for a model that finds several entities, one per
  mention slot, ``p`` being the probability that the slot is one of the question's entities;
  ``entity_count`` the distribution ``P(n)`` of how many there are, ``readings`` the likeliest
  combinations of slots with their weights;
- ``branches``: one walk each — its start set ``x_0``, then per hop the relation distribution,
  the hop's attention ``a_t`` and the entities ``x_t`` reaches; what the branch alone answers;
- ``combine``: how the branches' answers were combined (``"none"`` for a single walk);
- ``answers``: the top entities with their scores, each with the **paths that carry its score**
  (:func:`kgqa.paths.top_paths`: exact terms of the score, largest first, with their share of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Trace", "Scored", "Mention", "Reading", "HopTrace", "BranchTrace", "PathTrace", "AnswerTrace",
           "TAIL_SHOWN"]

TAIL_SHOWN = 1e-3  # answers below this score are not listed at all


@dataclass
class Scored:
    """An entity (id and readable, unique label) with a number: a score, a weight or a probability."""

    id: str
    name: str
    score: float


@dataclass
class Mention:
    """A span of the question read as an entity mention (or a mention slot), with its candidates."""

    text: str
    start: int  # character offsets [start, end)
    end: int
    p: float  # p(span); for a slot: the probability that it is one of the question's entities
    candidates: list[Scored]  # best first: p(e | span), or the entity's weight in the slot's start set


@dataclass
class Reading:
    """One reading of a question with several possible entities: which mention slots are entities."""

    slots: list[int]  # indices into Trace.mentions
    weight: float  # w_c


@dataclass
class HopTrace:
    """One hop of one walk."""

    relations: list[tuple[str, float]]  # the heaviest relations of r_t, (relation, weight), best first
    attention: float  # a_t
    reached: list[Scored]  # the heaviest entities of x_t


@dataclass
class BranchTrace:
    """One walk: from a start set, hop by hop, to what it alone answers."""

    start: list[Scored]  # the heaviest entities of x_0
    hops: list[HopTrace]
    reaches: list[Scored]  # the branch's own answer scores (before any combination or clamp)
    mention: int | None = None  # the mention slot it starts from (a text model with several entities)


@dataclass
class PathTrace:
    """A path of the graph and the part of an answer's score it carries."""

    branch: int  # index into Trace.branches
    entities: list[Scored]  # e_0 ... e_t (score: unused, 0)
    relations: list[str]  # k_1 ... k_t
    weight: float  # its term in the branch's score for the answer
    share: float  # weight / the branch's score for the answer

    def text(self) -> str:
        """``Mona Lisa --exhibited_at--> Louvre Museum --located_in--> Paris``."""
        out = self.entities[0].name
        for rel, ent in zip(self.relations, self.entities[1:]):
            out += f" --{rel}--> {ent.name}"
        return out


@dataclass
class AnswerTrace:
    """An answer with its score and the paths that carry it."""

    id: str
    name: str
    score: float  # the model's answer score (clamped to [0, 1] for the "bce" objective)
    paths: list[PathTrace] = field(default_factory=list)


@dataclass
class Trace:
    """The whole account of one answered question (module docstring)."""

    question: str
    entities: str  # where x_0 came from: "given" topics, the resolver over gold "span"s, or "text"
    objective: str  # what the score means: "bce" (belief, clamped to [0, 1]) or "softmax" (walk mass)
    topics: list[Scored]  # the topic entities used (given, or the resolver's likeliest)
    branches: list[BranchTrace]
    answers: list[AnswerTrace]
    combine: str = "none"  # "min" or "product" over the branches; "none": one walk
    mentions: list[Mention] = field(default_factory=list)
    entity_count: list[float] = field(default_factory=list)  # P(n = 1, 2, ...) entities in the question
    readings: list[Reading] = field(default_factory=list)  # likeliest first
    how: str = ""  # how the topic entities were found, when the caller says (e.g. "string match")
    program: list[tuple[str, float]] = field(default_factory=list)  # with the operation controller: π, likeliest first
    attribute: list[tuple[str, float]] = field(default_factory=list)  # α over the numeric attributes, likeliest first
    size: float | None = None  # the expected size of branch 1's answer set: what a count reads

    # ------------------------------------------------------------------ views
    @property
    def best(self) -> AnswerTrace | None:
        """The top answer, or None when nothing was reached."""
        return self.answers[0] if self.answers else None

    def to_json(self) -> dict[str, Any]:
        """A plain dict of lists, strings and numbers (``json.dumps`` takes it as it is)."""
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trace:
        """The inverse of :meth:`to_json`."""
        def scored(items: list[dict]) -> list[Scored]:
            return [Scored(**s) for s in items]

        branches = [BranchTrace(scored(b["start"]), [HopTrace([tuple(r) for r in h["relations"]], h["attention"],
                                                              scored(h["reached"])) for h in b["hops"]],
                                scored(b["reaches"]), b.get("mention")) for b in d["branches"]]
        answers = [AnswerTrace(a["id"], a["name"], a["score"],
                               [PathTrace(p["branch"], scored(p["entities"]), list(p["relations"]), p["weight"],
                                          p["share"]) for p in a["paths"]]) for a in d["answers"]]
        return cls(d["question"], d["entities"], d["objective"], scored(d["topics"]), branches, answers,
                   d.get("combine", "none"),
                   [Mention(m["text"], m["start"], m["end"], m["p"], scored(m["candidates"])) for m in d["mentions"]],
                   list(d.get("entity_count", [])), [Reading(list(r["slots"]), r["weight"]) for r in d["readings"]],
                   d.get("how", ""), [tuple(p) for p in d.get("program", [])],
                   [tuple(a) for a in d.get("attribute", [])], d.get("size"))

    # ------------------------------------------------------------------ text
    def lines(self, *, relations: int = 3, reached: int = 3, paths: int = 1) -> list[str]:
        """The trace as text, the way ``kgqa ask`` prints it: mentions, topics, each walk's hops,
        then the answers (strong ones apart from weaker ones), each with the path(s) carrying its
        score."""
        out = [f"Q: {self.question}"]
        slots = bool(self.entity_count)
        for m in self.mentions:
            cands = ", ".join(f"{c.name} {c.score:.2f}" for c in m.candidates)
            out.append(f"   {'mention' if slots else 'span'} {m.text!r} p={m.p:.2f} -> {cands}")
        if slots:
            out.append("   entities in the question: "
                       + ", ".join(f"{n} {p:.2f}" for n, p in enumerate(self.entity_count, 1)))
        how = f" ({self.how})" if self.how else ""
        out.append(f"   topic entities{how}: " + (", ".join(t.name for t in self.topics) or "(none found)"))
        out += [f"   {line}" for line in self.walk_lines(relations=relations, reached=reached)]
        out += [f"   {line}" for line in self._answer_lines(paths)]
        return out

    def walk_lines(self, *, relations: int = 3, reached: int = 3) -> list[str]:
        """Each walk's hops (attention and heaviest relations), and for several walks what each
        reaches and how they combine."""
        def hops(branch: BranchTrace, indent: str = "") -> list[str]:
            return [f"{indent}hop {t} (attention {h.attention:.2f}): "
                    + ", ".join(f"{r} {w:.2f}" for r, w in h.relations[:relations])
                    for t, h in enumerate(branch.hops, start=1)]

        program = self._program_lines()
        if len(self.branches) <= 1:
            return (hops(self.branches[0]) if self.branches else []) + program
        out = []
        for k, branch in enumerate(self.branches, start=1):
            start = branch.start[0].name if branch.start else "(nothing)"
            out.append(f"branch {k} from {start}:")
            out += hops(branch, "  ")
            got = ", ".join(f"{s.name} {s.score:.3f}" for s in branch.reaches[:reached]) or "(nothing)"
            out.append(f"  reaches: {got}")
        if not program:
            out.append(f"answer = {self.combine} over the {len(self.branches)} branches")
        return out + program

    def _program_lines(self) -> list[str]:
        """The program the operation controller chose (and its runners-up), the attribute a
        superlative compares by, the size a count reads."""
        if not self.program:
            return []
        (best, p), rest = self.program[0], [f"{n} {q:.2f}" for n, q in self.program[1:3] if q >= 0.01]
        out = [f"program: {best} {p:.2f}" + (f" (then {', '.join(rest)})" if rest else "")]
        if best in ("argmax", "argmin") and self.attribute:
            out.append(f"  compares by {self.attribute[0][0]} {self.attribute[0][1]:.2f}")
        if best == "count" and self.size is not None:
            out.append(f"  counts branch 1's answer set: expected size {self.size:.2f}")
        return out

    def _answer_lines(self, paths: int) -> list[str]:
        shown = [a for a in self.answers if a.score >= TAIL_SHOWN]
        if not shown:
            return ["(no entity reached)"]
        if self.objective == "bce":
            what = "score = the model's belief that the entity is an answer, clamp(ŷ, 0, 1)"
        else:
            what = "score = the share of the walk's weight that reaches the entity"
        top = shown[0].score
        out = [f"answers ({what}):"]

        def entry(a: AnswerTrace) -> list[str]:
            lines = [f"{a.score:8.4f}  {a.name}"]
            for p in a.paths[:paths]:
                where = f"branch {p.branch + 1}: " if len(self.branches) > 1 else ""
                lines.append(f"          {where}via {p.text()}  ({100 * p.share:.0f}% of the score)")
            return lines

        for a in shown:
            if a.score >= 0.5 * top:
                out += entry(a)
        weaker = [a for a in shown if a.score < 0.5 * top]
        if weaker:
            out.append("weaker (under half the best score):")
            out += [f"{a.score:8.4f}  {a.name}" for a in weaker]
        if self.objective == "bce" and top < 0.5:
            out.append("(no confident answer: the best score is under 0.5)")
        return out
