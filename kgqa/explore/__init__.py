"""Exploring what a trained system did with a question: views of its :class:`~kgqa.trace.Trace`,
and the book's widgets.

:mod:`.views` holds pure functions from a trace to plain data and HTML, :mod:`.path_graph` the
layered graph of the paths that carry the answers (data and SVG) — both tested without a browser;
:mod:`.explorer` is the thin ipywidgets layer on them (a question box, a dropdown of questions, the
trace of the answer and :class:`~.path_widget.PathGraph`, the live graph). The chapters' smaller
widgets, each a pure function plus a thin widget: :mod:`.neighbourhood` (chapter 1, an entity's
neighbourhood), :mod:`.pipeline_widget` (chapter 2, the pipeline on a typed question),
:mod:`.follow_widgets` (chapter 3, sliders over ``follow`` and intersection), :mod:`.resolver_widgets`
(chapter 5, which of several same-named entities the resolver picks) and :mod:`.hop_widgets`
(chapter 6, one walk's hop attention against branches); chapters 4, 5, 7 and 10 use the explorer.
:mod:`.controls` holds what the widgets share (the display hook, the weight slider).
"""

from .explorer import Explorer
from .follow_widgets import BranchCombiner, FollowMixer
from .hop_widgets import HopAttentionSlider
from .neighbourhood import NeighbourhoodViewer
from .path_graph import path_graph, path_graph_svg
from .pipeline_widget import PipelineBox
from .resolver_widgets import NamesakeRow
from .views import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html

__all__ = ["Explorer", "NeighbourhoodViewer", "PipelineBox", "FollowMixer", "BranchCombiner", "NamesakeRow",
           "HopAttentionSlider", "path_graph", "path_graph_svg", "answer_rows",
           "answers_html", "question_html", "question_pieces", "relation_rows", "trace_html"]
