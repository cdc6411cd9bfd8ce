"""Block diagrams of the models: what is computed from what, and which parts learn.

A diagram is boxes joined by arrows (:func:`draw_flow`); a box is data (white), a learned
module (orange) or a fixed computation (grey), so a reader sees at a glance where the gradient
of the answer loss goes. One diagram per model chapter: :func:`follow_diagram` (chapter 3, one hop
over the reified KG), :func:`end_to_end_diagram` (chapter 4), :func:`resolver_diagram` (chapter 5),
:func:`branches_diagram` (chapter 6) and :func:`readings_diagram` (chapter 7).

Same contract as :mod:`kgqa.plot`: draws into ``ax`` (a new figure when None), returns the Axes,
never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .graph import axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["BOX_COLORS", "draw_flow", "follow_diagram", "end_to_end_diagram", "resolver_diagram", "branches_diagram",
           "readings_diagram"]

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
                    fontsize=8, color="#333333", zorder=4,
                    bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.85})
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
              ("count", "read", ""), ("enc", "rel", "q"), ("rel", "branch", "relations of each hop", "elbow"),
              ("branch", "mix", "ŷ^(k)"), ("read", "mix", "w_c")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.0, 5.0),
                     title="Several entities from text: every orange box learns from the answer loss alone")


def follow_diagram(ax: Axes | None = None) -> Axes:
    """Chapter 3's ``follow`` over the reified KG: entities to facts by the subject matrix, facts
    weighed by their relation, facts to entities by the object matrix."""
    boxes = {
        "x": (0.0, 2.0, "x: weight per entity\n(B, E)", "data"),
        "subj": (3.0, 2.0, "x · M_subj^T\nfacts whose subject is in x\n(B, T)", "fixed"),
        "r": (3.0, 0.2, "r: weight per relation\n(B, R)", "data"),
        "rel": (6.2, 0.2, "r · M_rel^T\nfacts of the chosen relations\n(B, T)", "fixed"),
        "and": (6.2, 2.0, "⊙  (both)\n(B, T)", "fixed"),
        "obj": (9.2, 2.0, "· M_obj\nthe objects of those facts\n(B, E)", "fixed"),
        "out": (12.0, 2.0, "follow(x, r)\n(B, E)", "data"),
    }
    arrows = [("x", "subj", ""), ("r", "rel", ""), ("subj", "and", ""), ("rel", "and", ""), ("and", "obj", ""),
              ("obj", "out", "")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.0, 3.2),
                     title="One hop over the reified KG: three sparse matrices, T facts, no loop over entities")


def end_to_end_diagram(ax: Axes | None = None) -> Axes:
    """Chapter 4's model: the question vector picks relations for every hop and weighs the hops;
    ``follow`` walks from the given entities; the answer is the hops' weighted sum."""
    boxes = {
        "q": (0.0, 2.4, "question\n(mentions masked)", "data"),
        "enc": (2.4, 2.4, "encoder\n(frozen)", "fixed"),
        "h": (4.8, 2.4, "trunk\nh = MLP(q)", "learned"),
        "rel": (7.4, 3.9, "relation heads\nr_t = softmax(W_t h)", "learned"),
        "att": (7.4, 0.9, "hop attention\na = softmax(W_a h)", "learned"),
        "x0": (7.4, 5.4, "x0: the given\ntopic entities", "data"),
        "walk": (10.4, 3.9, "x_t = follow(x_{t-1}, r_t)\nt = 1..T", "fixed"),
        "ans": (10.4, 0.9, "ŷ = Σ_t a_t x_t", "fixed"),
        "loss": (13.0, 0.9, "loss against\nthe answers", "data"),
    }
    arrows = [("q", "enc", ""), ("enc", "h", "q"), ("h", "rel", ""), ("h", "att", ""), ("x0", "walk", "", "elbow"),
              ("rel", "walk", ""), ("walk", "ans", "x_1..x_T"), ("att", "ans", ""), ("ans", "loss", "")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.0, 4.6),
                     title="The end-to-end model: orange learns from the answers, through follow")


def resolver_diagram(ax: Axes | None = None) -> Axes:
    """Chapter 5's resolver: every span a candidate mention, scored; each span's candidates ranked
    by name, popularity and context; ``x0`` the mixture, fed to chapter 4's walk."""
    boxes = {
        "q": (0.0, 3.0, "question\nwords", "data"),
        "enc": (2.3, 3.0, "encoder\n(frozen)", "fixed"),
        "spans": (4.8, 3.0, "every span of\n≤ 8 words", "fixed"),
        "span": (7.6, 4.4, "span scorer\np(s)", "learned"),
        "cand": (7.6, 1.6, "candidates of s\n(name index)", "fixed"),
        "ent": (10.4, 1.6, "entity scorer\np(e | s): name,\npopularity, context", "learned"),
        "x0": (10.4, 4.4, "x0 = Σ_s p(s) Σ_e p(e|s) onehot(e)", "fixed"),
        "walk": (13.4, 4.4, "chapter 4's\nwalk and answer", "learned"),
    }
    arrows = [("q", "enc", ""), ("enc", "spans", "t"), ("spans", "span", ""), ("spans", "cand", ""),
              ("cand", "ent", ""), ("span", "x0", "p(s)"), ("ent", "x0", "p(e | s)"), ("x0", "walk", "")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.5, 4.2),
                     title="Entity resolution learned from answers: "
                           "the walk's gradient reaches both scorers through x0")


def branches_diagram(ax: Axes | None = None) -> Axes:
    """Chapter 6's model: one branch per topic entity, each reading the question with its own
    mention vector, each walking on its own; the answer is their element-wise minimum."""
    boxes = {
        "q": (0.0, 2.6, "question\n(mentions masked)", "data"),
        "enc": (2.4, 2.6, "encoder\n(frozen)", "fixed"),
        "h1": (5.2, 4.2, "branch 1: MLP([q; s_1])\n→ relations, hop attention", "learned"),
        "h2": (5.2, 1.0, "branch 2: MLP([q; s_2])\n→ relations, hop attention", "learned"),
        "w1": (8.6, 4.2, "follow from e_1\nŷ^1 = Σ_t a_t x_t", "fixed"),
        "w2": (8.6, 1.0, "follow from e_2\nŷ^2 = Σ_t a_t x_t", "fixed"),
        "min": (11.8, 2.6, "ŷ = min(ŷ^1, ŷ^2)", "fixed"),
    }
    arrows = [("q", "enc", ""), ("enc", "h1", "q, s_1"), ("enc", "h2", "q, s_2"), ("h1", "w1", ""), ("h2", "w2", ""),
              ("w1", "min", "ŷ^1"), ("w2", "min", "ŷ^2")]
    return draw_flow(boxes, arrows, ax=ax, size=(13.0, 4.0),
                     title="One branch per entity (shared weights, own mention vector), intersected by a minimum")
