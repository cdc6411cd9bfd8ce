"""Question files of the field, parsed into :class:`QAExample` records, with errors at file:line.

Three formats (the loaders in :mod:`kgqa.datasets` put them together with their graphs):

- *bracketed* (MetaQA, and the format for your own questions)::

      what movies did [Temuera Morrison] act in<TAB>Once Were Warriors|Tracker|River Queen

  Each ``[bracketed]`` span is a hand-annotated topic entity; the brackets are removed from the
  question a model sees, and the span is kept as the mention.
- *PathQuestion*: ``question<TAB>answer(alt1/alt2/)<TAB>s#r1#e1#r2#answer#<end>#answer``.
- *WorldCup2014*: ``question<TAB>answer<TAB>gold path(s)<TAB>all answers/<TAB>context[<TAB>t1/t2]``;
  a conjunctive question joins its two paths with ``*``.

In PathQuestion and WorldCup2014 the topic entity appears in the question as its id, with
underscores (``Tigres_UANL``); its span is found by :func:`find_mention`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from ..errors import AmbiguousEntityError, MissingDataError, QAFormatError, UnknownEntityError, close_matches
from ..kg import KnowledgeGraph
from ..operations import PROGRAMS
from ..text import fold_aligned
from ..types import EntityId
from .base import NO_SPAN, QAExample, Span

UnknownAnswers = Literal["error", "keep"]

__all__ = ["find_mention", "topic_mentions", "strip_brackets", "read_lines",
           "parse_bracketed", "parse_pathquestion", "parse_worldcup"]

# ---------------------------------------------------------------------------- text helpers
def find_mention(question: str, surfaces: Iterable[str], taken: Sequence[Span] = (), *,
                 loose_punctuation: bool = False) -> Span:
    """The first span of ``question`` that spells one of ``surfaces`` as whole words.

    Matching ignores case and accents and reads ``_`` as a space (``Tigres_UANL`` matches
    ``Tigres UANL``); longer surfaces are tried first, and spans overlapping ``taken`` are
    skipped. With ``loose_punctuation``, when no surface is found as written, each is tried again
    with its punctuation written otherwise or left out (``survivors quest`` for *Survivor's
    Quest*, ``yoon bomi`` for *Yoon Bo-mi*; a space still needs a separator). Returns
    :data:`NO_SPAN` when none matches.
    """
    folded = fold_aligned(question)
    ordered = sorted({s for s in surfaces if s.strip()}, key=len, reverse=True)
    for loose in (False, True) if loose_punctuation else (False,):
        for surface in ordered:
            body = fold_aligned(surface.strip())
            body = "".join(_loose_char(c) for c in body) if loose else re.escape(body)
            for m in re.finditer(r"(?<!\w)" + body + r"(?!\w)", folded):
                if all(m.end() <= a or m.start() >= b for a, b in taken):
                    return (m.start(), m.end())
    return NO_SPAN


def _loose_char(c: str) -> str:
    """The pattern of one character of a surface under loose punctuation."""
    if c.isalnum():
        return re.escape(c)
    return r"[\W_]+" if c.isspace() else r"[\W_]*"


_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


def strip_brackets(text: str, *, path: str | Path, line: int) -> tuple[str, list[tuple[str, Span]]]:
    """Remove ``[...]`` marks from ``text``: the plain question and each mention with its span.

    Raises :class:`QAFormatError` for nested, unopened, unclosed or empty brackets.
    """
    if "[" in _BRACKETED.sub("", text) or "]" in _BRACKETED.sub("", text):
        _bracket_error(text, path, line)
    out: list[str] = []
    mentions: list[tuple[str, Span]] = []
    pos = last = 0  # length of the plain text so far; end of the previous match in `text`
    for m in _BRACKETED.finditer(text):
        out.append(text[last:m.start()])
        pos += m.start() - last
        inner = m.group(1)
        if not inner.strip():
            raise QAFormatError(f"empty brackets at column {m.start() + 1}: {text!r}", path=path, line=line)
        lead = len(inner) - len(inner.lstrip())
        mentions.append((inner.strip(), (pos + lead, pos + lead + len(inner.strip()))))
        out.append(inner)
        pos += len(inner)
        last = m.end()
    out.append(text[last:])
    return "".join(out), mentions


def _bracket_error(text: str, path: str | Path, line: int) -> None:
    """Raise the :class:`QAFormatError` that says where the brackets of ``text`` go wrong."""
    open_at: int | None = None
    for col, c in enumerate(text, start=1):
        if c == "[":
            if open_at is not None:
                raise QAFormatError(f"nested '[' at column {col}: {text!r}", path=path, line=line)
            open_at = col
        elif c == "]":
            if open_at is None:
                raise QAFormatError(f"']' at column {col} has no matching '[': {text!r}", path=path, line=line)
            open_at = None
    raise QAFormatError(f"'[' at column {open_at} is never closed: {text!r}", path=path, line=line)


def read_lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Non-blank lines of a UTF-8 text file as ``(1-based line number, text without newline)``.

    Raises :class:`MissingDataError` for a missing file and :class:`QAFormatError` for a file
    that is not UTF-8 or holds no lines. A leading byte-order mark and ``\\r`` are dropped.
    """
    p = Path(path)
    if p.is_dir():
        raise QAFormatError("is a directory, not a question file", path=p)
    if not p.is_file():
        raise MissingDataError(f"{p}: no such question file", path=p)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise QAFormatError(f"cannot read ({err.strerror or err})", path=p) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise QAFormatError(f"not UTF-8 text ({err.reason})", path=p,
                            line=data[: err.start].count(b"\n") + 1) from None
    rows = [(n, ln.rstrip("\r")) for n, ln in enumerate(text.split("\n"), start=1)]
    rows = [(n, ln) for n, ln in rows if ln.strip()]
    if not rows:
        raise QAFormatError("no questions found (the file is empty)", path=p)
    return rows


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _fields(line: str, n: int | tuple[int, int], what: str, path: Path, lineno: int) -> list[str]:
    """Tab-separated fields of ``line``; ``n`` is the exact count or an inclusive range."""
    parts = line.split("\t")
    lo, hi = (n, n) if isinstance(n, int) else n
    if not lo <= len(parts) <= hi:
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise QAFormatError(f"expected {what} ({lo}{'' if lo == hi else f'-{hi}'} tab-separated fields), "
                            f"got {len(parts)}: {shown!r}", path=path, line=lineno)
    return [x.strip() for x in parts]


# ---------------------------------------------------------------------------- bracketed (MetaQA, user)
def parse_bracketed(
    path: str | os.PathLike,
    kg: KnowledgeGraph,
    *,
    names: bool = True,
    exactly_one: bool = False,
    unknown_answers: UnknownAnswers = "error",
    hops: int = 0,
    qtypes: Sequence[str] | None = None,
) -> list[QAExample]:
    """Parse ``question with [entity] mentions<TAB>answer|answer`` lines.

    A bracket text is an entity id, else (``names``) a display name; ``exactly_one`` demands one
    bracket per line (MetaQA). Answers resolve likewise; with ``unknown_answers="keep"`` an
    answer outside the graph is kept verbatim instead of raising. ``qtypes`` gives one question
    type per line of the file, in order. An optional third field names the question's operation
    (:data:`kgqa.operations.PROGRAMS`: ``count``, ``argmax``, ...), measured by a model with the
    operation controller; a ``count`` question's answer is one whole number (``7``), not an entity.
    """
    p = Path(path)
    rows = read_lines(p)
    examples = []
    for n, line in rows:
        where = f"{p}:{n}"
        text, answer_field, *op = _fields(line, (2, 3), "question<TAB>answer|answer[<TAB>operation]", p, n)
        operation = op[0] if op else ""
        if operation and operation not in PROGRAMS:
            raise QAFormatError(f"unknown operation {operation!r}; the third field is one of {', '.join(PROGRAMS)}",
                                path=p, line=n)
        question, marks = strip_brackets(text, path=p, line=n)
        if not marks:
            raise QAFormatError(f"no [bracketed] topic entity in {text!r}; mark it like "
                                "'who directed [Forrest Gump]'", path=p, line=n)
        if exactly_one and len(marks) != 1:
            raise QAFormatError(f"expected exactly one [bracketed] topic entity, found {len(marks)}",
                                path=p, line=n)
        topics = tuple(kg.entities[kg.lookup(m, names=names, where=where)] for m, _ in marks)
        pieces = [a.strip() for a in split_answers(answer_field)]
        raw_answers = _unique(pieces)
        if not raw_answers:
            raise QAFormatError("no answers after the tab", path=p, line=n)
        if operation == "count":
            if len(raw_answers) != 1 or not raw_answers[0].isdigit():
                raise QAFormatError(f"a count question's answer is one whole number, got {answer_field!r}",
                                    path=p, line=n)
            answers: tuple[str, ...] = (str(int(raw_answers[0])),)
        elif unknown_answers == "keep":
            _check_split_names(kg, pieces, names, p, n)
            answers = tuple(a if kg.has_entity(a) or not names else _resolve_or_keep(kg, a, where)
                            for a in raw_answers)
        else:
            _check_split_names(kg, pieces, names, p, n)
            answers = tuple(kg.entities[kg.lookup(a, names=names, where=where)] for a in raw_answers)
        qtype = qtypes[n - 1].strip() if qtypes is not None else ""
        examples.append(QAExample(question, topics, tuple(s for _, s in marks), _unique(answers),
                                  qtype=qtype, hops=hops, source=where, operation=operation))
    return examples


def split_answers(field: str) -> list[str]:
    """The answers of an answer field: separated by ``|``; ``\\|`` is a ``|`` inside an answer
    (an entity named ``AC|DC`` is written ``AC\\|DC``)."""
    out, cur, i = [], [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field) and field[i + 1] in "|\\":
            cur.append(field[i + 1])
            i += 2
            continue
        if c == "|":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _check_split_names(kg: KnowledgeGraph, pieces: Sequence[str], names: bool, path: Path, line: int) -> None:
    """Refuse an answer field whose ``|`` cut an entity's name in two (``AC|DC`` read as ``AC`` and
    ``DC``): the message says how to write it."""
    def known(text: str) -> bool:
        return kg.has_entity(text) or (names and bool(kg.entities_named(text)))

    if len(pieces) < 2:
        return
    unknown = [k for k, x in enumerate(pieces) if not known(x)]
    for k in unknown:  # a cut name leaves at least one unknown piece; names of up to 4 pieces are checked
        for i, j in ((i, j) for i in range(max(0, k - 3), k + 1) for j in range(k + 1, min(len(pieces), i + 4) + 1)):
            joined = "|".join(pieces[i:j])
            if j - i > 1 and known(joined):
                escaped = joined.replace("|", "\\|")
                raise QAFormatError(f"the answer {joined!r} is an entity whose name holds '|', which separates "
                                    f"answers; write it as {escaped!r}", path=path, line=line)


def _resolve_or_keep(kg: KnowledgeGraph, text: str, where: str) -> EntityId:
    found = kg.entities_named(text)
    if len(found) > 1:
        raise AmbiguousEntityError(text, [kg.entities[i] for i in found], where=where)
    return kg.entities[found[0]] if found else text


# ---------------------------------------------------------------------------- gold paths
def _parse_path(text: str, path: Path, n: int) -> tuple[EntityId, tuple[str, ...]]:
    """``s#r1#e1#r2#e2[#<end>#e2]`` → ``(s, (r1, r2))``."""
    items = [x.strip() for x in text.split("#")]
    if "<end>" in items:
        items = items[: items.index("<end>")]
    if len(items) < 3 or len(items) % 2 == 0 or not all(items):
        raise QAFormatError(f"gold path {text!r} is not entity#relation#entity[#relation#entity...]",
                            path=path, line=n)
    return items[0], tuple(items[1::2])


def _check_topic(kg: KnowledgeGraph, topic: str, where: str) -> None:
    if not kg.has_entity(topic):
        raise UnknownEntityError(topic, close_matches(topic, kg.entities), where=where)


def topic_mentions(question: str, kg: KnowledgeGraph, topics: Sequence[str]) -> tuple[Span, ...]:
    """Where each topic entity is mentioned in ``question`` (by id, name or alias), in order;
    :data:`NO_SPAN` for a topic that is not spelled out."""
    spans: list[Span] = []
    for t in topics:
        i = kg.entity_index(t)
        spans.append(find_mention(question, (t, kg.names[i], *kg.aliases[i]),
                                  taken=[s for s in spans if s != NO_SPAN]))
    return tuple(spans)


def parse_pathquestion(path: str | os.PathLike, kg: KnowledgeGraph) -> list[QAExample]:
    """Parse PathQuestion lines: ``question<TAB>answer(alt1/alt2/)<TAB>s#r#e#...#<end>#answer``.

    Topic = first element of the path; answers = the alternatives in the parentheses (the text
    before ``(`` when they are empty). Answers outside the graph are kept verbatim.
    """
    p = Path(path)
    out = []
    for n, line in read_lines(p):
        where = f"{p}:{n}"
        question, answer_field, path_field = _fields(line, 3, "question<TAB>answer(alts)<TAB>path", p, n)
        answers = _pq_answers(answer_field)
        if not answers:
            raise QAFormatError(f"no answer in {answer_field!r}", path=p, line=n)
        topic, relations = _parse_path(path_field, p, n)
        _check_topic(kg, topic, where)
        out.append(QAExample(question, (topic,), topic_mentions(question, kg, [topic]), answers,
                             qtype=f"{len(relations)}-hop", hops=len(relations), source=where,
                             paths=(relations,)))
    return out


def _pq_answers(field: str) -> tuple[str, ...]:
    """``head(alt1/alt2/)`` → the alternatives; ``head`` alone when there are none."""
    if not field.endswith(")") or "(" not in field:
        return _unique([field.strip()])
    opens = [i for i, c in enumerate(field) if c == "("]
    for i in opens:  # names may hold parentheses: take the split whose alternatives hold the head
        head, alts = field[:i].strip(), _unique(a.strip() for a in field[i + 1: -1].split("/"))
        if head in alts:
            return alts
    head, alts = field[: opens[0]].strip(), _unique(a.strip() for a in field[opens[0] + 1: -1].split("/"))
    return alts or _unique([head])


# ---------------------------------------------------------------------------- WorldCup2014
def parse_worldcup(path: str | os.PathLike, kg: KnowledgeGraph, *, conjunctive: bool) -> list[QAExample]:
    """Parse WorldCup2014 lines (``WC-P1``/``WC-P2``, or ``WC-C`` when ``conjunctive``).

    Fields: question, answer, gold path(s), all answers (``/``-separated), context, and for
    ``WC-C`` the two topic entities (``/``-separated), which must be where the paths start.
    """
    p = Path(path)
    out = []
    for n, line in read_lines(p):
        where = f"{p}:{n}"
        f = _fields(line, 6 if conjunctive else (4, 5),
                    "question, answer, path, answers, context" + (", topics" if conjunctive else ""), p, n)
        parsed = [_parse_path(x, p, n) for x in f[2].split("*")]
        topics = tuple(t for t, _ in parsed)
        if conjunctive:
            listed = _unique(x.strip() for x in f[5].split("/"))
            if len(parsed) != 2 or listed != topics:
                raise QAFormatError(f"topics field lists {list(listed)} but the gold paths start at "
                                    f"{list(topics)} (a conjunctive question has two paths joined by '*')",
                                    path=p, line=n)
        for t in topics:
            _check_topic(kg, t, where)
        answers = _unique(x.strip() for x in f[3].split("/")) or _unique([f[1]])
        if not answers:
            raise QAFormatError("no answer", path=p, line=n)
        hops = max(len(r) for _, r in parsed)
        out.append(QAExample(f[0], topics, topic_mentions(f[0], kg, topics), answers,
                             qtype="conjunctive" if conjunctive else f"{hops}-hop", hops=hops,
                             source=where, paths=tuple(r for _, r in parsed)))
    return out
