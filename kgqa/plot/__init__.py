"""Matplotlib figures: the graph (:mod:`.graph`), what a trained model did with a question
(:mod:`.model`, drawn from a :class:`~kgqa.trace.Trace` or raw tensors) and the branches of an
intersection (:mod:`.branches`); block diagrams of the models (:mod:`.diagrams`).

Every figure function draws into ``ax`` (a new figure when it is None, :func:`axes`), returns the
Axes and never calls ``plt.show()``, so figures compose into subplots and render the same in
notebooks, scripts and tests. The graph figures are importable from here directly.
"""

from .graph import (HIGHLIGHT_COLOR, axes, draw_kg, hop_layout, legend_handles, neighbourhood, plot_relation_counts,
                    type_colors)

__all__ = ["HIGHLIGHT_COLOR", "axes", "draw_kg", "hop_layout", "legend_handles", "neighbourhood", "plot_relation_counts",
           "type_colors"]
