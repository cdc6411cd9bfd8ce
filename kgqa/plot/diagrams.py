"""Block diagrams of the models: what is computed from what, and which parts learn.

A diagram is boxes joined by arrows (:func:`draw_flow`); a box is data (white), a learned
module (orange) or a fixed computation (grey), so a reader sees at a glance where the gradient
of the answer loss goes. :func:`readings_diagram` is the model of chapter 7, which finds several
entities in the text and intersects their branches.

Same contract as :mod:`kgqa.plot`: draws into ``ax`` (a new figure when None), returns the Axes,
never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .graph import axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["BOX_COLORS", "draw_flow", "readings_diagram"]

BOX_COLORS = {"data": "#ffffff", "learned": "#fdd0a2", "fixed": "#e0e0e0"}
"""Fill of a box by kind: data, a learned module, a fixed computation."""


def draw_flow(boxes: Mapping[str, tuple[float, float, str, str]], arrows: Sequence[tuple[str, ...]], *,
              ax: Axes | None = None, size: tuple[float, float] = (12.0, 5.0), title: str | None = None) -> Axes:
    """Draw ``boxes`` (name → ``(x, y, text, kind)``, centres in data units, ``kind`` a key of
    :data:`BOX_COLORS`) and ``arrows`` (``(from, to, label)``, from box edge to box edge; a fourth
    item ``"elbow"`` draws it across, then down or up, around the boxes between).

    A legend names the three kinds. Raises ``ValueError`` for an arrow to a box that is not
    drawn or an unknown kind.
    """
    import matplotlib.patches as mpatches

    bad = [k for _, _, _, k in boxes.values() if k not in BOX_COLORS]
    if bad:
        raise ValueError(f"box kind must be one of {sorted(BOX_COLORS)}, got {bad[0]!r}")
    missing = [n for a, b, *_ in arrows for n in (a, b) if n not in boxes]
    if missing:
        raise ValueError(f"arrow to or from {missing[0]!r}, which is not a box")
    ax = axes(ax, size)
    patches = {}
    for name, (x, y, text, kind) in boxes.items():
        patches[name] = ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=3,
                                bbox={"boxstyle": "round,pad=0.45", "fc": BOX_COLORS[kind], "ec": "#555555"})
    for a, b, label, *style in arrows:
        elbow = style == ["elbow"]
        ax.annotate("", xy=boxes[b][:2], xytext=boxes[a][:2], zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": "#444444", "shrinkA": 0, "shrinkB": 0,
                                "patchA": patches[a], "patchB": patches[b], "lw": 1.1,
                                "connectionstyle": "angle,angleA=0,angleB=90,rad=0" if elbow else "arc3"})
        if label:
            (xa, ya), (xb, yb) = boxes[a][:2], boxes[b][:2]
            ax.text((xa + xb) / 2, (ya if elbow else (ya + yb) / 2) + 0.18, label, ha="center", va="bottom",
                    fontsize=8, color="#333333", zorder=4, bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})
    xs = [x for x, _, _, _ in boxes.values()]
    ys = [y for _, y, _, _ in boxes.values()]
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    ax.legend(handles=[mpatches.Patch(fc=c, ec="#555555", label=k) for k, c in BOX_COLORS.items()],
              loc="lower right", fontsize=8, frameon=False, ncol=3)
    if title:
        ax.set_title(title)
    return ax


def readings_diagram(ax: Axes | None = None) -> Axes:
    """Chapter 7's model: spans → mention slots → a start set and a branch per slot; a count head
    and the slots' shares weigh the readings; the answer mixes each reading's normalised minimum."""
    boxes = {
        "q": (0.0, 4.0, "question\nwords", "data"),
        "enc": (2.0, 4.0, "encoder\n(frozen)", "fixed"),
        "span": (4.2, 4.0, "span scorer\np(s)", "learned"),
        "slots": (6.6, 4.0, "greedy slots\nQ_k, π_k(s)", "fixed"),
        "ent": (9.0, 4.0, "entity scorer\np(e | s) → x0_k", "learned"),
        "count": (4.2, 1.6, "count head\nP(n)", "learned"),
        "read": (6.6, 1.6, "readings\nw_c = P(n)·ΠQ_k / Σ", "fixed"),
        "rel": (2.0, 5.7, "hop relations\nand attention", "learned"),
        "branch": (11.4, 4.0, "branch k:\nfollow from x0_k", "fixed"),
        "mix": (11.4, 1.6, "ŷ = Σ_c w_c ·\nnormalise(min_{k∈c} ŷ^(k))", "fixed"),
    }
    arrows = [("q", "enc", ""), ("enc", "span", "t"), ("span", "slots", ""), ("slots", "ent", "π_k"),
              ("ent", "branch", "x0_k"), ("enc", "count", "q, Q"), ("slots", "read", "Q_k"),
              ("count", "read", ""), ("enc", "rel", "q"), ("rel", "branch", "relations of each hop", "elbow"), ("branch", "mix", "ŷ^(k)"),
              ("read", "mix", "w_c")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.0, 5.0),
                     title="Several entities from text: every orange box learns from the answer loss alone")
