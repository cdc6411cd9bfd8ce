"""The traditional pipeline that end-to-end learning replaces: link entities, parse, execute.

Three separately built parts, each needing its own annotations:

1. :class:`StringLinker` — finds entity names and aliases in the question by exact (case- and
   accent-insensitive) token matching, and when a name is shared by several entities picks the
   most connected one (a popularity prior, as classic linkers do).
2. :class:`TemplateParser` — maps the question, with its mentions replaced by placeholders
   (``what city is <E> in``), to a query :class:`~kgqa.traverse.Program`. Its rules are
   read off annotated (question, program) pairs, so it knows only the phrasings it has seen.
3. :meth:`Program.execute <kgqa.traverse.Program.execute>` — exact symbolic traversal.

Each part fails on its own: a paraphrase no rule covers, a partial or misspelt name, a shared
name resolved to the wrong entity. :class:`Pipeline` reports which part failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .datasets.base import NO_SPAN
from .datasets.files import find_mention
from .kg import KnowledgeGraph
from .text import fold
from .traverse import Hop, Program, trace_path

__all__ = ["tokenize", "Mention", "StringLinker", "TemplateParser", "PipelineResult",
           "Pipeline"]

_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Word tokens of ``text`` as ``(normalised token, start, end)`` character spans.

    Underscores count as spaces, so KB-style ids (``Tigres_UANL``) match their words.
    """
    spaced = text.replace("_", " ")
    return [(fold(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(spaced)]


@dataclass(frozen=True)
class Mention:
    """A span of the question that matches the name or an alias of one or more entities."""

    start: int  # character offsets into the question
    end: int
    text: str
    candidates: tuple[int, ...]  # entity indices sharing this surface form, most connected first

    @property
    def chosen(self) -> int:
        """The linker's pick: the most connected candidate."""
        return self.candidates[0]


class StringLinker:
    """Exact longest-match entity linking over names and aliases (with a popularity prior)."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        degree = kg.degree().tolist()
        surfaces: dict[tuple[str, ...], set[int]] = {}
        for i, (name, aliases) in enumerate(zip(kg.names, kg.aliases)):
            for surface in {name, *aliases}:
                key = tuple(t for t, _, _ in tokenize(surface))
                if key:
                    surfaces.setdefault(key, set()).add(i)
        self._surfaces = {k: tuple(sorted(v, key=lambda i: (-degree[i], i))) for k, v in surfaces.items()}
        self._max_len = max((len(k) for k in self._surfaces), default=0)

    def link(self, question: str) -> list[Mention]:
        """Non-overlapping mentions, left to right, preferring the longest match at each point."""
        tokens = tokenize(question)
        out: list[Mention] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_len, len(tokens) - i), 0, -1):
                key = tuple(t for t, _, _ in tokens[i: i + n])
                if key in self._surfaces:
                    start, end = tokens[i][1], tokens[i + n - 1][2]
                    out.append(Mention(start, end, question[start:end], self._surfaces[key]))
                    i += n
                    break
            else:
                i += 1
        return out


def _template(question: str, spans: Sequence[tuple[int, int]]) -> str:
    """The question with each span replaced by ``<E>``, normalised to lowercase words."""
    parts, last = [], 0
    for start, end in sorted(spans):
        parts += [question[last:start], " xplaceholderx "]
        last = end
    parts.append(question[last:])
    words = [t for t, _, _ in tokenize("".join(parts))]
    return " ".join("<E>" if w == "xplaceholderx" else w for w in words)


@dataclass(frozen=True)
class Rule:
    """``template`` (placeholders ``<E>`` in question order) → one relation path per placeholder."""

    template: str
    paths: tuple[tuple[str, ...], ...]


class TemplateParser:
    """Question templates → query programs, read off annotated examples.

    This is the semantic parser of the pipeline at its most honest: it answers exactly the
    phrasings it was given a program for, and nothing else.
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: dict[str, Rule] = {}
        for rule in rules:
            self.add(rule)

    def add(self, rule: Rule) -> None:
        self.rules.setdefault(rule.template, rule)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def from_examples(
        cls, kg: KnowledgeGraph, examples: Iterable[tuple[str, Program]]
    ) -> TemplateParser:
        """Learn one rule per annotated ``(question, program)`` whose topic names appear in it.

        Each topic entity's name (or alias) is located in the question; its span becomes a
        placeholder and the program's path for that topic is attached to it.
        """
        parser = cls()
        for question, program in examples:
            found = []
            for topic, path in zip(program.topics, program.paths):
                i = kg.entity_index(topic)
                span = find_mention(question, (kg.names[i], *kg.aliases[i]))
                if span == NO_SPAN:
                    break
                found.append((span, path))
            else:
                found.sort()
                parser.add(Rule(_template(question, [s for s, _ in found]), tuple(p for _, p in found)))
        return parser

    def parse(self, question: str, mentions: Sequence[Mention]) -> Rule | None:
        """The rule whose template equals the question's, or None."""
        return self.rules.get(_template(question, [(m.start, m.end) for m in mentions]))


@dataclass
class PipelineResult:
    """What the pipeline did with one question, and where it failed if it did."""

    question: str
    mentions: list[Mention]
    rule: Rule | None = None
    program: Program | None = None
    answers: list[int] = field(default_factory=list)
    traces: list[list[Hop]] = field(default_factory=list)
    failure: str = ""  # empty when the pipeline produced a program

    @property
    def ok(self) -> bool:
        return not self.failure


class Pipeline:
    """Link → parse → execute, as a traditional KBQA system does."""

    def __init__(self, kg: KnowledgeGraph, parser: TemplateParser) -> None:
        self.kg = kg
        self.linker = StringLinker(kg)
        self.parser = parser

    def answer(self, question: str) -> PipelineResult:
        mentions = self.linker.link(question)
        result = PipelineResult(question, mentions)
        if not mentions:
            result.failure = "entity linking: no entity name found in the question"
            return result
        rule = self.parser.parse(question, mentions)
        if rule is None:
            result.failure = ("semantic parsing: no rule for the template "
                              f"{_template(question, [(m.start, m.end) for m in mentions])!r}")
            return result
        topics = tuple(self.kg.entities[m.chosen] for m in mentions)
        program = Program(topics, rule.paths)
        answers = program.execute(self.kg)
        result.rule, result.program = rule, program
        result.answers = sorted(answers, key=lambda i: self.kg.names[i])
        result.traces = [trace_path(self.kg, t, p, keep=answers) for t, p in zip(topics, rule.paths)]
        return result
