"""Exploring what a trained system did with a question: views of its :class:`~kgqa.trace.Trace`.

:mod:`.views` holds pure functions from a trace to plain data and HTML (tested without a browser);
the interactive layer is built on them.
"""

from .views import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html

__all__ = ["answer_rows", "answers_html", "question_html", "question_pieces", "relation_rows", "trace_html"]
