"""Chapter 2's pipeline on a typed question: link, parse, execute — and where it breaks.

:func:`pipeline_html` renders one :class:`~kgqa.pipeline.PipelineResult` (each linked mention with
its candidates and the one chosen, the template and the rule it matched, the query, the answers,
or the step that failed and why); :class:`PipelineBox` is a question box over a
:class:`~kgqa.pipeline.Pipeline` that shows it for whatever is typed.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .controls import Displayed

if TYPE_CHECKING:
    from ..kg import KnowledgeGraph
    from ..pipeline import Pipeline, PipelineResult

__all__ = ["pipeline_html", "PipelineBox"]


def pipeline_html(kg: KnowledgeGraph, result: PipelineResult, gold: set[str] | None = None) -> str:
    """The three steps for one question as an HTML list; a failed step is marked and says why.
    With ``gold`` (entity ids), the answers are compared with it."""
    esc = html.escape
    steps = []
    if result.mentions:
        links = "; ".join(
            f"<q>{esc(m.text)}</q> → <b>{esc(kg.label(m.chosen))}</b>"
            + (f" (of {len(m.candidates)}: " + ", ".join(esc(kg.label(c)) for c in m.candidates) + ")"
               if len(m.candidates) > 1 else "")
            for m in result.mentions)
        steps.append(f"<li><b>link</b>: {links}</li>")
    failed = result.failure.split(":")[0] if result.failure else ""
    if failed:
        steps.append(f'<li class="kgqa-failed"><b>{esc(failed)} failed</b>: '
                     f"{esc(result.failure.split(':', 1)[1].strip())}</li>")
    else:
        paths = " ; ".join(" > ".join(p) for p in result.rule.paths)
        steps.append(f"<li><b>parse</b>: <q>{esc(result.rule.template)}</q> → {esc(paths)}</li>")
        steps.append(f"<li><b>execute</b>: {esc(result.program.describe())}</li>")
        answers = ", ".join(esc(kg.name_of(i)) for i in result.answers) or "(nothing)"
        verdict = ""
        if gold is not None:
            got = {kg.entities[i] for i in result.answers}
            verdict = " — <b>right</b>" if got == gold else " — <b>wrong</b> (gold: " + ", ".join(
                esc(kg.name_of(g)) for g in sorted(gold)) + ")"
        steps.append(f"<li><b>answer</b>: {answers}{verdict}</li>")
    return f'<div class="kgqa-pipeline"><p>{esc(result.question)}</p><ol>{"".join(steps)}</ol></div>'


class PipelineBox(Displayed):
    """A question box; Enter runs the pipeline on it and shows :func:`pipeline_html`."""

    def __init__(self, pipeline: Pipeline, question: str = "") -> None:
        import ipywidgets as w

        self.pipeline = pipeline
        self.result: PipelineResult | None = None
        self.box = w.Text(value=question, placeholder="Type a question, e.g. Where is the Mona Lisa?",
                          continuous_update=False, layout=w.Layout(width="100%"))
        self.out = w.HTML()
        self.box.observe(lambda change: self.ask(change["new"]), names="value")
        self.widget = w.VBox([self.box, self.out])
        if question:
            self.ask(question)

    def ask(self, question: str) -> PipelineResult | None:
        if not question.strip():
            self.result, self.out.value = None, ""
            return None
        self.result = self.pipeline.answer(question)
        self.out.value = pipeline_html(self.pipeline.kg, self.result)
        return self.result
