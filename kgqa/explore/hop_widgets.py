"""Chapter 6's widget: one walk's hop attention against branches, on a question whose two entities
need different numbers of hops.

:func:`hop_mixture` ranks the answers of ``a·x₁ + (1 − a)·x₂`` — one walk that mixes its 1-hop and
2-hop sets with hop attention ``a`` — and :func:`branch_minimum` those of the branches' minimum;
:func:`ranking_html` draws either, gold answers ticked. :class:`HopAttentionSlider` is a slider for
``a`` and a toggle between the two models.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .controls import Displayed, weight_slider

if TYPE_CHECKING:
    from torch import Tensor

    from ..kg import KnowledgeGraph

__all__ = ["hop_mixture", "branch_minimum", "ranking_html", "HopAttentionSlider"]


def hop_mixture(kg: KnowledgeGraph, x1: Tensor, x2: Tensor, a: float, k: int = 4) -> list[tuple[str, str, float]]:
    """The ``k`` best entities of ``a·x1 + (1 − a)·x2`` (``(1, E)`` sets), best first."""
    from ..sets import top_k

    return top_k(kg, (a * x1 + (1 - a) * x2)[0], k)


def branch_minimum(kg: KnowledgeGraph, branches: Sequence[Tensor], k: int = 4) -> list[tuple[str, str, float]]:
    """The ``k`` best entities of the element-wise minimum of the branches' ``(1, E)`` sets."""
    from ..sets import intersect, top_k

    out = branches[0]
    for b in branches[1:]:
        out = intersect(out, b)
    return top_k(kg, out[0], k)


def ranking_html(title: str, rows: Sequence[tuple[str, str, float]], gold: Iterable[str]) -> str:
    """A ranking as an HTML table, gold answers ticked, with the margin of the first over the second."""
    gold = set(gold)
    body = "".join(f'<tr class="{"kgqa-gold" if e in gold else "kgqa-other"}"><td>{html.escape(name)}'
                   f'{" ✓" if e in gold else ""}</td><td>{w:.3f}</td></tr>' for e, name, w in rows)
    margin = rows[0][2] - (rows[1][2] if len(rows) > 1 else 0.0) if rows else 0.0
    verdict = ("right" if rows and rows[0][0] in gold else "wrong") if rows else "nothing reached"
    return (f'<div class="kgqa-ranking"><b>{html.escape(title)}</b><table>{body}</table>'
            f"<p>top answer {verdict}, margin {margin:.3f}</p></div>")


class HopAttentionSlider(Displayed):
    """A slider for the hop attention ``a`` of one walk and a toggle "one walk (sum)" / "branches
    (min)"; the ranking of the chosen model, recomputed as they change."""

    def __init__(self, kg: KnowledgeGraph, x1: Tensor, x2: Tensor, branches: Sequence[Tensor],
                 gold: Iterable[str], *, a: float = 0.5) -> None:
        import ipywidgets as w

        self.kg, self.x1, self.x2, self.branches, self.gold = kg, x1, x2, list(branches), set(gold)
        self.a = weight_slider("hop attention on hop 1 (a)", a, max_width="40em")
        self.model = w.ToggleButtons(options=["one walk (sum)", "branches (min)"], value="one walk (sum)")
        self.out = w.HTML()
        for control in (self.a, self.model):
            control.observe(lambda _: self.update(), names="value")
        self.widget = w.VBox([self.model, self.a, self.out])
        self.update()

    def ranking(self) -> list[tuple[str, str, float]]:
        if self.model.value == "branches (min)":
            return branch_minimum(self.kg, self.branches)
        return hop_mixture(self.kg, self.x1, self.x2, self.a.value)

    def update(self) -> None:
        branches = self.model.value == "branches (min)"
        self.a.disabled = branches  # each branch takes its own hops: nothing to balance
        title = "branches: minimum" if branches else f"one walk: {self.a.value:.2f}·x₁ + {1 - self.a.value:.2f}·x₂"
        self.out.value = ranking_html(title, self.ranking(), self.gold)
