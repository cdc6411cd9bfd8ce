"""Exploring what a trained system did with a question: views of its :class:`~kgqa.trace.Trace`.

:mod:`.views` holds pure functions from a trace to plain data and HTML (tested without a browser);
:mod:`.explorer` is the thin ipywidgets layer on them: a question box, a dropdown of questions and
the trace of the answer.
"""

from .explorer import Explorer
from .views import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html

__all__ = ["Explorer", "answer_rows", "answers_html", "question_html", "question_pieces", "relation_rows",
           "trace_html"]
