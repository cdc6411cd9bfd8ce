"""Exploring what a trained system did with a question: views of its :class:`~kgqa.trace.Trace`,
and the book's widgets.

:mod:`.views` holds pure functions from a trace to plain data and HTML, :mod:`.path_graph` the
layered graph of the paths that carry the answers (data and SVG) — both tested without a browser;
:mod:`.explorer` is the thin ipywidgets layer on them (a question box, a dropdown of questions, the
trace of the answer and :class:`~.path_widget.PathGraph`, the live graph); :mod:`.follow_widgets`
holds chapter 3's sliders over ``follow`` and intersection.
"""

from .explorer import Explorer
from .follow_widgets import BranchCombiner, FollowMixer
from .path_graph import path_graph, path_graph_svg
from .views import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html

__all__ = ["Explorer", "FollowMixer", "BranchCombiner", "path_graph", "path_graph_svg", "answer_rows",
           "answers_html", "question_html", "question_pieces", "relation_rows", "trace_html"]
