"""The path graph as a live widget: a small ``anywidget`` component.

Its body is :func:`~kgqa.explore.path_graph.path_graph_svg`'s drawing, made in Python; the script
below only adds behaviour — pointing at an answer dims every path that does not carry it, clicking
an entity sends its id back to the kernel (``PathGraph.selected``). The script ships inside the
package; nothing is fetched from the network.
"""

from __future__ import annotations

from collections.abc import Iterable

import anywidget
import traitlets

from ..trace import Trace
from .path_graph import path_graph, path_graph_svg

__all__ = ["PathGraph"]

_ESM = """
function render({ model, el }) {
  const draw = () => {
    el.innerHTML = model.get("svg");
    const svg = el.querySelector("svg");
    if (!svg) return;
    const only = (answer) => svg.querySelectorAll("[data-answers]").forEach((g) => {
      const on = !answer || g.dataset.answers.split(" ").includes(answer);
      g.style.opacity = on ? "1" : "0.15";
    });
    svg.querySelectorAll(".kgqa-answer").forEach((g) => {
      g.addEventListener("mouseenter", () => only(g.dataset.id));
      g.addEventListener("mouseleave", () => only(null));
    });
    svg.querySelectorAll(".kgqa-node").forEach((g) => {
      g.style.cursor = "pointer";
      g.addEventListener("click", () => { model.set("selected", g.dataset.id); model.save_changes(); });
    });
  };
  model.on("change:svg", draw);
  draw();
}
export default { render };
"""


class PathGraph(anywidget.AnyWidget):
    """The subgraph of the paths carrying the ``top`` best answers of a trace; :meth:`show` draws
    another trace. ``svg`` is the drawing, ``selected`` the id of the entity clicked last."""

    _esm = _ESM
    svg = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)

    def __init__(self, trace: Trace | None = None, *, top: int = 3, gold: Iterable[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.top = top
        self.show(trace, gold)

    def show(self, trace: Trace | None, gold: Iterable[str] = ()) -> None:
        """Draw ``trace`` (None: nothing), its gold answers ticked."""
        self.svg = path_graph_svg(path_graph(trace, self.top, gold)) if trace is not None else ""
