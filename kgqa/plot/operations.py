"""The figures of operations beyond follow: a superlative over a weighted set, the count distribution,
and the operation controller's programs per question type.

Same contract as :mod:`kgqa.plot`: draws into ``ax`` (a new figure when None), returns the Axes,
never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import torch

from ..kg import KnowledgeGraph
from ..numeric import NumericValues, superlative
from ..operations import PROGRAMS, count_distribution
from .graph import axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_superlative", "plot_count_distribution", "plot_programs"]


def plot_superlative(kg: KnowledgeGraph, x: torch.Tensor, values: NumericValues, attribute: str,
                     which: Literal["max", "min"] = "max", *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The members of the weighted set ``x (E,)`` that have a value, one row each in value order:
    its weight in ``x`` (grey) and in the superlative (orange), labelled with its value."""
    out = superlative(x[None].double(), values, attribute, which)[0]
    a = values.index(attribute)
    order = values.order_high[a] if which == "max" else values.order_low[a]
    rows = [int(e) for e in order.tolist() if float(x[e]) > 0]
    ax = axes(ax, figsize=(7, 0.35 * len(rows) + 1.2))
    ys = torch.arange(len(rows)).tolist()
    ax.barh([y + 0.2 for y in ys], [float(x[e]) for e in rows], 0.4, color="#b0b0b0", label="member weight x")
    ax.barh([y - 0.2 for y in ys], [float(out[e]) for e in rows], 0.4, color="#dd8452", label=f"arg{which}")
    ax.set_yticks(ys, [f"{kg.label(e)} ({values.value(a, e, which):g})" for e in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("weight")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or f"arg{which} by {attribute}: members in order of value")
    return ax


def plot_count_distribution(sizes: Sequence[float], max_count: int = 10, sigma: float = 0.5, *,
                            ax: Axes | None = None) -> Axes:
    """The distribution over count slots ``0..max_count`` for each expected size in ``sizes``."""
    ax = axes(ax, figsize=(7, 2.6))
    p = count_distribution(torch.tensor(list(sizes), dtype=torch.float64), max_count, sigma)
    n = torch.arange(max_count + 1)
    width = 0.8 / max(len(sizes), 1)
    for i, (s, row) in enumerate(zip(sizes, p)):
        ax.bar((n + (i - (len(sizes) - 1) / 2) * width).tolist(), row.tolist(), width, label=f"Σx = {s:g}")
    ax.set_xticks(n.tolist())
    ax.set_xlabel("count slot n")
    ax.set_ylabel("p(n)")
    ax.legend(fontsize=8)
    ax.set_title(f"count distribution, σ = {sigma:g}")
    return ax


def plot_programs(means: Mapping[str, Mapping[str, float]], *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Heat map of the controller's mean program probability (columns) per question type (rows),
    each cell annotated."""
    kinds = list(means)
    grid = torch.tensor([[means[k].get(p, 0.0) for p in PROGRAMS] for k in kinds])
    ax = axes(ax, figsize=(8, 0.32 * len(kinds) + 1.5))
    ax.imshow(grid.numpy(), cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(PROGRAMS)), PROGRAMS, fontsize=8)
    ax.set_yticks(range(len(kinds)), kinds, fontsize=8)
    for i in range(len(kinds)):
        for j in range(len(PROGRAMS)):
            v = float(grid[i, j])
            if v >= 0.005:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
    ax.set_title(title or "mean program probability per question type")
    return ax
