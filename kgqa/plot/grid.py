"""The figures of the experiment book: an ablation as bars with their seeds' spread, and the misses
of trained runs as stacked shares by kind.

Same contract as :mod:`kgqa.plot`: draws into ``ax`` (a new figure when None), returns the Axes,
never calls ``plt.show()``. The numbers come from :mod:`kgqa.results` (the grid's records) and
:mod:`kgqa.misses` (their misses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..misses import KINDS
from ..results import Cell
from .graph import axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_ablation", "plot_misses", "KIND_COLORS"]

KIND_COLORS = {"unreachable": "#7f7f7f", "entity": "#d62728", "hops": "#ff7f0e", "tie": "#bcbd22",
               "relation": "#1f77b4"}
"""One colour per kind of miss (:data:`kgqa.misses.KINDS`), the same in every figure."""


def plot_ablation(bars: Sequence[tuple[str, Cell]], *, title: str = "", ax: Axes | None = None,
                  lowest: float | None = None) -> Axes:
    """One bar per ``(label, cell)``: the mean, an error bar of one standard deviation where the
    cell has several seeds, the value written on the bar. A cell not run yet is a labelled gap.
    The axis starts at ``lowest`` (default: a little below the smallest value) so that small
    differences show; the value on each bar is the number itself."""
    ax = axes(ax, (1.1 + 0.75 * len(bars), 3.2))
    values = [c.value for _, c in bars]
    shown = [v for v in values if v is not None]
    floor = lowest if lowest is not None else (max(0.0, min(shown) - 5.0) if shown else 0.0)
    for i, (_, c) in enumerate(bars):
        if c.value is None:
            ax.text(i, floor + 1, "not run", ha="center", va="bottom", rotation=90, fontsize=8, color="0.4")
            continue
        ax.bar(i, c.value - floor, bottom=floor, color="#4c72b0", width=0.7)
        if c.std is not None:
            ax.errorbar(i, c.value, yerr=c.std, color="black", capsize=3, lw=1)
        ax.text(i, c.value + (c.std or 0) + 0.3, f"{c.value:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(floor, 101 if not shown else max(101.0, max(shown) + 3))
    ax.set_ylabel("test Hits@1 (%)")
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_misses(records: Mapping[str, Mapping[str, Any]], *, ax: Axes | None = None) -> Axes:
    """One horizontal bar per run (label → a :func:`kgqa.misses.classify_misses` record): its
    misses as a share of its test questions, stacked by kind, the total written at the end."""
    ax = axes(ax, (7.5, 0.9 + 0.45 * len(records)))
    labels = list(records)
    for row, label in enumerate(labels):
        left = 0.0
        for kind in KINDS:
            share = float(records[label]["shares"][kind])
            if share > 0:
                ax.barh(row, share, left=left, color=KIND_COLORS[kind], height=0.6)
            left += share
        ax.text(left + 0.1, row, f"{left:.1f}%", va="center", fontsize=8)
    from matplotlib.patches import Patch

    present = [k for k in KINDS if any(float(r["shares"][k]) > 0 for r in records.values())]
    ax.legend(handles=[Patch(color=KIND_COLORS[k], label=k) for k in present], fontsize=8, loc="upper right",
              frameon=False)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("missed test questions, % of all (by kind)")
    ax.spines[["top", "right"]].set_visible(False)
    return ax
