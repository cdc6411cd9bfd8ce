"""Chapter 5's widget: which of several same-named entities a resolver picks, for a question you edit.

:func:`namesake_probs` runs a trained resolver on one question with the mention's span given (the
``span`` variant's view: only ``p(e | span)`` is at stake) and returns the probability of each of
the listed entities — one row of chapter 5's Tom Hanks heat map; :func:`namesake_html` draws the
row. :class:`NamesakeRow` is a question box over them: edit "the seismologist" into "the actor"
and watch the row move.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import KGQAError

from .controls import Displayed

if TYPE_CHECKING:
    from ..qa import QASystem

__all__ = ["MentionNotFoundError", "namesake_probs", "namesake_html", "NamesakeRow"]


class MentionNotFoundError(KGQAError):
    """The question does not contain the mention the row is about."""


def namesake_probs(system: QASystem, question: str, mention: str, entities: Sequence[str]) -> list[float]:
    """``p(e | mention)`` for each of ``entities``, the mention located in ``question`` (first
    occurrence, case ignored) and given to the resolver as the question's only span."""
    import torch

    if system.resolver is None:
        raise ValueError("this system has no resolver (entities='given'): nothing to resolve")
    start = question.lower().find(mention.lower())
    if start < 0:
        raise MentionNotFoundError(f"the question does not contain {mention!r}")
    with torch.no_grad():
        system.resolver.eval()
        out = system.resolver([question], system.encoder([question]), given_spans=[[(start, start + len(mention))]])
    return [float(out.x0[0, system.kg.entity_index(e)]) for e in entities]


def namesake_html(system: QASystem, question: str, mention: str, entities: Sequence[str]) -> str:
    """The row as an HTML table: one cell per entity, shaded by its probability, the likeliest
    in bold; a question without the mention says so."""
    try:
        probs = namesake_probs(system, question, mention, entities)
    except MentionNotFoundError as err:
        return f'<p class="kgqa-error">{html.escape(str(err))}</p>'
    best = max(range(len(probs)), key=probs.__getitem__)
    head = "".join(f"<th>{html.escape(system.kg.label(e))}</th>" for e in entities)
    cells = "".join(f'<td style="background: rgba(76, 114, 176, {p:.2f})">'
                    + (f"<b>{p:.2f}</b>" if i == best else f"{p:.2f}") + "</td>" for i, p in enumerate(probs))
    return (f'<table class="kgqa-namesakes"><tr><th></th>{head}</tr><tr><th>p(e | '
            f'{html.escape(mention)!r})</th>{cells}</tr></table>')


class NamesakeRow(Displayed):
    """A question box and the row of ``p(e | mention)`` over ``entities``, recomputed on Enter."""

    def __init__(self, system: QASystem, mention: str, entities: Sequence[str], question: str = "") -> None:
        import ipywidgets as w

        for e in entities:
            system.kg.entity_index(e)  # a typo fails here, with the graph's message
        self.system, self.mention, self.entities = system, mention, list(entities)
        self.box = w.Text(value=question, continuous_update=False, layout=w.Layout(width="100%"),
                          placeholder=f"A question that mentions {mention}")
        self.out = w.HTML()
        self.box.observe(lambda change: self.update(), names="value")
        self.widget = w.VBox([self.box, self.out])
        self.update()

    def update(self) -> None:
        q = self.box.value
        self.out.value = namesake_html(self.system, q, self.mention, self.entities) if q.strip() else ""
