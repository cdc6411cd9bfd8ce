"""Views of one :class:`~kgqa.trace.Trace` as plain data and HTML: what the explorer's panels show.

Pure functions, no widgets and no model: each takes the trace (and, where it helps, the gold
answers) and returns data a test can check or an HTML fragment a widget, a notebook
(``IPython.display.HTML``) or a static page can show. Every number shown is one the trace holds.

- :func:`question_pieces` / :func:`question_html`: the question with each mention shaded by
  ``p(span)`` (for a model that finds several entities, by the probability that the slot is one of
  them), its candidates in the tooltip;
- :func:`relation_rows`: a walk's relation weights per hop, the heat map's data;
- :func:`reading_rows`: a question's readings (which slots are its entities) and their weights;
- :func:`answer_rows` / :func:`answers_html`: the answers with their scores, gold ones marked, each
  with the path that carries most of its score;
- :func:`trace_html`: all of it, one panel per walk.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

from ..trace import Trace

__all__ = ["Piece", "question_pieces", "question_html", "relation_rows", "reading_rows", "answer_rows", "program_rows", "program_html",
           "answers_html", "trace_html"]

SHADE = (255, 183, 77)  # the colour of a mention, as strong as its probability


@dataclass(frozen=True)
class Piece:
    """A stretch of the question: plain text (``p`` None) or a mention with its probability."""

    text: str
    p: float | None = None
    mention: int | None = None  # index into Trace.mentions


def question_pieces(trace: Trace) -> list[Piece]:
    """The question cut at its mentions, in order. Overlapping mentions (a text model lists its
    likeliest spans, which may overlap) keep the likelier one."""
    chosen: list[tuple[int, int, int]] = []  # (start, end, mention index)
    order = sorted(range(len(trace.mentions)), key=lambda i: -trace.mentions[i].p)
    for i in order:
        m = trace.mentions[i]
        if 0 <= m.start < m.end <= len(trace.question) and all(m.end <= s or m.start >= e for s, e, _ in chosen):
            chosen.append((m.start, m.end, i))
    pieces, at = [], 0
    for start, end, i in sorted(chosen):
        if start > at:
            pieces.append(Piece(trace.question[at:start]))
        pieces.append(Piece(trace.question[start:end], trace.mentions[i].p, i))
        at = end
    if at < len(trace.question):
        pieces.append(Piece(trace.question[at:]))
    return pieces


def _shade(p: float) -> str:
    r, g, b = SHADE
    return f"rgba({r}, {g}, {b}, {max(0.0, min(1.0, p)):.2f})"


def question_html(trace: Trace) -> str:
    """The question as HTML, each mention shaded by its probability, its candidates as a tooltip."""
    out = []
    for piece in question_pieces(trace):
        text = html.escape(piece.text)
        if piece.mention is None:
            out.append(text)
            continue
        m = trace.mentions[piece.mention]
        tip = f"p = {m.p:.2f}; " + ", ".join(f"{c.name} {c.score:.2f}" for c in m.candidates)
        out.append(f'<span class="kgqa-mention" style="background: {_shade(m.p)}" '
                   f'title="{html.escape(tip, quote=True)}">{text}</span>')
    return '<div class="kgqa-question">' + "".join(out) + "</div>"


def relation_rows(trace: Trace, branch: int = 0) -> tuple[list[str], list[list[float | None]]]:
    """``(relations, rows)``: the relations any hop of walk ``branch`` weighs, the best of each hop
    first, and per hop the weight of each (None where the trace does not record it — it keeps the
    top three of a hop)."""
    hops = trace.branches[branch].hops
    names = list(dict.fromkeys(r for hop in hops for r, _ in hop.relations))
    rows = []
    for hop in hops:
        weights = dict(hop.relations)
        rows.append([weights.get(r) for r in names])
    return names, rows


def reading_rows(trace: Trace) -> list[tuple[list[str], float]]:
    """The readings of a question with several possible entities, likeliest first: the texts of
    the mention slots each reading takes as the question's entities, and its weight ``w_c``."""
    return [([trace.mentions[i].text for i in r.slots if 0 <= i < len(trace.mentions)], r.weight)
            for r in trace.readings]


def answer_rows(trace: Trace, gold: Iterable[str] = ()) -> list[dict[str, object]]:
    """One row per answer: id, name, score, whether it is gold, and the path carrying most of its
    score (text and share), best answer first."""
    gold = set(gold)
    rows = []
    for a in trace.answers:
        best = max(a.paths, key=lambda p: p.weight) if a.paths else None
        rows.append({"id": a.id, "name": a.name, "score": a.score, "gold": a.id in gold,
                     "path": best.text() if best else "", "share": best.share if best else None})
    return rows


def answers_html(trace: Trace, gold: Iterable[str] = ()) -> str:
    """The answers as an HTML table: a bar per score, gold answers marked, the carrying path."""
    rows = answer_rows(trace, gold)
    if not rows:
        return '<p class="kgqa-answers">(no entity reached)</p>'
    top = max(r["score"] for r in rows) or 1.0
    body = []
    for r in rows:
        width = 100 * float(r["score"]) / top
        mark = " ✓" if r["gold"] else ""
        share = f" ({100 * r['share']:.0f}% of its score)" if r["share"] is not None else ""
        body.append(f'<tr class="{"kgqa-gold" if r["gold"] else "kgqa-other"}">'
                    f'<td>{html.escape(str(r["name"]))}{mark}</td>'
                    f'<td><div style="background: #4c72b0; width: {width:.0f}%; height: 0.8em"></div></td>'
                    f'<td>{float(r["score"]):.3f}</td>'
                    f'<td>{html.escape(str(r["path"]))}{share}</td></tr>')
    return ('<table class="kgqa-answers"><tr><th>answer</th><th></th><th>score</th><th>path</th></tr>'
            + "".join(body) + "</table>")


def _walk_html(trace: Trace, j: int) -> str:
    walk = trace.branches[j]
    names, rows = relation_rows(trace, j)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    cells = []
    for t, (hop, row) in enumerate(zip(walk.hops, rows), start=1):
        tds = "".join(f'<td style="background: rgba(76, 114, 176, {w:.2f})">{w:.2f}</td>' if w is not None
                      else "<td></td>" for w in row)
        cells.append(f"<tr><th>hop {t} (a = {hop.attention:.2f})</th>{tds}</tr>")
    start = ", ".join(f"{html.escape(s.name)} {s.score:.2f}" for s in walk.start) or "(nothing)"
    title = f"walk {j + 1} from {start}" if len(trace.branches) > 1 else f"from {start}"
    return (f'<div class="kgqa-walk"><b>{title}</b><table><tr><th></th>{head}</tr>{"".join(cells)}</table></div>')


def program_rows(trace: Trace, top: int = 4) -> list[tuple[str, float]]:
    """The operation controller's likeliest programs with their probabilities (empty without one)."""
    return [(name, p) for name, p in trace.program[:top] if p >= 0.005]


def program_html(trace: Trace) -> str:
    """The program the operation controller chose, as bars, with what it compares by or counts."""
    rows = program_rows(trace)
    if not rows:
        return ""
    bars = "".join(f'<tr><td>{html.escape(n)}</td><td><div style="background: #dd8452; width: {100 * p:.0f}%; '
                   f'height: 0.8em"></div></td><td>{p:.2f}</td></tr>' for n, p in rows)
    note = ""
    if rows[0][0] in ("argmax", "argmin") and trace.attribute:
        note = f"<p>compares by {html.escape(trace.attribute[0][0])} ({trace.attribute[0][1]:.2f})</p>"
    elif rows[0][0] == "count" and trace.size is not None:
        note = f"<p>counts walk 1's answer set: expected size {trace.size:.2f}</p>"
    return f'<div class="kgqa-program"><b>program</b><table>{bars}</table>{note}</div>'


def trace_html(trace: Trace, gold: Iterable[str] = ()) -> str:
    """The whole trace: the question with its mentions, one relation table per walk, how the walks
    combine, and the answers."""
    parts = [question_html(trace)]
    if trace.entity_count:
        parts.append("<p>entities in the question: "
                     + ", ".join(f"{n}: {p:.2f}" for n, p in enumerate(trace.entity_count, 1)) + "</p>")
    if trace.readings:
        parts.append('<p class="kgqa-readings">readings: ' + "; ".join(
            " + ".join(f"<q>{html.escape(t)}</q>" for t in texts) + f" {w:.2f}" for texts, w in reading_rows(trace))
            + "</p>")
    parts += [_walk_html(trace, j) for j in range(len(trace.branches))]
    if trace.program:
        parts.append(program_html(trace))
    elif len(trace.branches) > 1:
        parts.append(f"<p>answer = {html.escape(trace.combine)} over the {len(trace.branches)} walks</p>")
    parts.append(answers_html(trace, gold))
    return '<div class="kgqa-trace">' + "".join(parts) + "</div>"
