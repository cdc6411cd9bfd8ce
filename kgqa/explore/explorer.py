"""The explorer: type a question (or pick one), see the trace of the answer — a thin ipywidgets layer
over :mod:`kgqa.explore.views`.

    >>> from kgqa.explore import Explorer      # in a notebook
    >>> Explorer(system, questions=data.test)  # doctest: +SKIP

A question box (Enter answers), an optional dropdown of questions (✗ where the model's best answer
is not a gold one, those first) with their gold answers, for a model with branches a min/product
toggle, the panel :func:`~kgqa.explore.views.trace_html` renders and the graph of the paths that
carry the top answers (:class:`~kgqa.explore.path_widget.PathGraph`); a question the model cannot
start from says why in the panel instead of raising. Everything it shows comes from
:meth:`QASystem.explain_typed <kgqa.qa.QASystem.explain_typed>`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import KGQAError
from ..trace import Trace
from .controls import Displayed
from .views import trace_html

if TYPE_CHECKING:
    from ..datasets import QAExample
    from ..qa import QASystem

__all__ = ["Explorer"]


class Explorer(Displayed):
    """A question box, an optional dropdown of ``questions``, and the trace of the last answer.

    ``widget`` is the ipywidgets box to display (a notebook displays the explorer itself);
    :meth:`ask` answers a question programmatically, as typing it and pressing Enter does."""

    def __init__(self, system: QASystem, questions: Sequence[QAExample] = (), *, k: int = 5,
                 misses_first: bool = True) -> None:
        import ipywidgets as w

        self.system, self.k = system, k
        self.questions = list(questions)
        self.trace: Trace | None = None
        self.misses = 0  # questions of the dropdown whose best answer is not gold
        self.box = w.Text(placeholder="Ask a question, e.g. What city is the [Mona Lisa] in?",
                          continuous_update=False, layout=w.Layout(width="100%"))
        self.pick = w.Dropdown(options=[("(pick a question)", -1)] + self._labels(misses_first),
                               value=-1, layout=w.Layout(width="100%"))
        self.panel = w.HTML()
        from .path_widget import PathGraph

        self.graph = PathGraph(top=3)
        # a model with branches: how they combine, as trained or the other way (a what-if)
        trained = system.model.config.intersection
        self.combine = w.ToggleButtons(options=["min", "product"], value=trained if trained != "none" else "min",
                                       description="combine", tooltips=[f"trained with {trained}"] * 2)
        self._question: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
        self.combine.observe(self._recombined, names="value")
        self.box.observe(lambda change: self.ask(change["new"]), names="value")
        self.pick.observe(self._picked, names="value")
        parts = ([self.box] + ([self.pick] if self.questions else [])
                 + ([self.combine] if system.model.config.branched and not system.model.config.operations else [])
                 + [self.panel, self.graph])
        self.widget = w.VBox(parts)

    def ask(self, question: str, entities: Sequence[str] = (), gold: Sequence[str] = ()) -> Trace | None:
        """Answer ``question`` and show its trace (gold answers marked); an empty or unanswerable
        question shows why instead. Returns the trace, or None."""
        if not question.strip():
            self.trace, self.panel.value = None, ""
            self.graph.show(None)
            return None
        self._question = (question, tuple(entities), tuple(gold))
        try:
            if self.system.model.config.branched and not self.system.model.config.operations:
                with self.system.combined_by(self.combine.value):
                    self.trace = self.system.explain_typed(question, entities, k=self.k)
            else:
                self.trace = self.system.explain_typed(question, entities, k=self.k)
        except (KGQAError, ValueError) as err:
            self.trace = None
            self.panel.value = f'<p class="kgqa-error">{html.escape(str(err))}</p>'
            self.graph.show(None)
            return None
        self.panel.value = trace_html(self.trace, gold)
        self.graph.show(self.trace, gold)
        return self.trace

    def _recombined(self, change: dict) -> None:
        if self._question is not None:  # the question shown, combined the new way
            self.ask(*self._question)

    def _labels(self, misses_first: bool) -> list[tuple[str, int]]:
        """The dropdown's entries: each question marked ✗ when the model's best answer is not a
        gold one, ✓ when it is; the misses first (in their order) when ``misses_first``."""
        if not self.questions:
            return []
        best = self.system.top_answers(self.questions)
        hit = [b in ex.answers for b, ex in zip(best, self.questions)]
        order = sorted(range(len(hit)), key=lambda i: hit[i]) if misses_first else range(len(hit))
        self.misses = hit.count(False)
        return [(f"{'✓' if hit[i] else '✗'} {self.questions[i].question}", i) for i in order]

    def _picked(self, change: dict) -> None:
        i = change["new"]
        if i is None or i < 0:
            return
        ex = self.questions[i]
        topics = () if self.system.resolves else ex.topics
        self.ask(ex.question, topics, gold=ex.answers)
