"""The figures of an intersection: what each topic entity's branch reaches, and their combination;
and, for a model that finds its entities in the text, where in the question its mention slots are.

Same contract as :mod:`kgqa.plot`: draws into ``ax`` (a new figure when None), returns the Axes,
never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import re

import torch

from ..kg import KnowledgeGraph
from .graph import axes
from .model import GOLD_COLOR
from ..types import EntityKey

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..resolve import ResolverOutput

__all__ = ["plot_intersection", "plot_mention_slots"]

DECADES = 1e-6
"""The heatmap's colour scale spans six decades below its largest score; smaller scores are drawn
white like zeros (their values are still written in the cells)."""


def plot_intersection(
    kg: KnowledgeGraph,
    branch_scores: torch.Tensor,
    combined: torch.Tensor | None = None,
    *,
    branch_labels: Sequence[str] | None = None,
    combine: str = "min",
    combined_label: str | None = None,
    k: int = 5,
    gold: Iterable[EntityKey] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Heatmap of entities (rows) by branch (columns), then the combined column.

    Rows: the ``k`` best entities of every branch and of the combination, ordered by the
    combined score. Every cell is annotated with its score, and all columns share one
    logarithmic colour scale, drawn as a colour bar: a branch that reaches 300 players gives each
    a small weight, and the scale shows it small yet visible (zeros stay white).

    Args:
        kg: the graph the scores index.
        branch_scores: ``(K, E)`` float answer vector of each branch (``QAOutput.branch_scores[b]``).
        combined: ``(E,)`` float combined scores; by default the element-wise ``combine`` of the rows.
        branch_labels: column title of each branch (default "branch 1", ...).
        combine: ``"min"`` or ``"product"``: how the branches combine when ``combined`` is None.
        combined_label: the last column's title; default ``combine`` when the column is computed
            here, ``"combined"`` when ``combined`` is given (a model's answer is not always the bare
            minimum of the branches drawn: say what it is).
        k: entities taken from each column's top.
        gold: ids or indices of the gold answers (their labels are drawn in green).
        ax: Axes to draw into (a new figure sized to the table when None).
        title: Axes title.
    """
    scores = branch_scores.detach().float().cpu()
    if scores.dim() != 2 or scores.shape[1] != kg.num_entities:
        raise ValueError(f"branch_scores must be (K, {kg.num_entities}), got {tuple(branch_scores.shape)}")
    if combine not in ("min", "product"):
        raise ValueError(f"combine must be 'min' or 'product', got {combine!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if combined_label is None:
        combined_label = combine if combined is None else "combined"
    if combined is None:
        combined = scores.amin(0) if combine == "min" else scores.prod(0)
    combined = combined.detach().float().cpu().reshape(-1)
    labels = list(branch_labels) if branch_labels is not None else [f"branch {i + 1}" for i in range(len(scores))]
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} branch labels for {len(scores)} branches")
    columns = torch.cat([scores, combined[None]])  # (K + 1, E)
    rows: dict[int, None] = {}
    for col in columns:
        for i in col.topk(min(k, col.numel())).indices.tolist():
            if col[i] > 0:
                rows[i] = None
    order = sorted(rows, key=lambda i: (-float(combined[i]), -float(columns[:, i].max())))
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    table = columns[:, order].T  # (rows, K + 1)
    positive = table[table > 0]
    top = float(positive.max()) if positive.numel() else 1.0
    low = min(max(float(positive.min()), top * DECADES), top / 10) if positive.numel() else top / 10
    norm = LogNorm(vmin=low, vmax=top)  # one scale for every column; below it, white as zero
    cmap = plt.get_cmap("Blues").with_extremes(under="white", bad="white")
    ax = axes(ax, (1.6 * (len(labels) + 1) + 4.0, 0.36 * max(len(order), 2) + 1.4))
    cells = table.numpy() if len(order) else torch.zeros(1, len(labels) + 1).numpy()
    image = ax.imshow(np.ma.masked_less_equal(cells, 0.0), cmap=cmap, norm=norm, aspect="auto")
    cut = bool(positive.numel()) and float(positive.min()) < low  # some scores are drawn white
    ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02, extend="min" if cut else "neither",
                       label="score (log scale, all columns)")
    for r in range(len(order)):
        for c in range(len(labels) + 1):
            v = float(table[r, c])
            dark = v > 0 and float(norm(v)) > 0.6
            ax.text(c, r, "0" if v == 0 else f"{v:.3g}", ha="center", va="center", fontsize=8,
                    color="white" if dark else "#222222")
    ax.set_xticks(range(len(labels) + 1), [*labels, combined_label], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(order)), [kg.label(i) for i in order], fontsize=8)
    if gold is not None:
        gold_idx = {kg.entity_index(g) for g in gold}
        for tick, i in zip(ax.get_yticklabels(), order):
            if i in gold_idx:
                tick.set_color(GOLD_COLOR)
                tick.set_fontweight("bold")
    ax.set_title(title if title is not None else f"Branches and their {combine}", pad=22)
    return ax


def plot_mention_slots(question: str, res: ResolverOutput, b: int = 0, *, ax: Axes | None = None,
                       title: str | None = None) -> Axes:
    """Heatmap of the question's words (columns) by mention slot (rows), for a resolver that finds
    several entities (``ResolverConfig(max_entities >= 2)``).

    Cell ``(k, w)`` is ``P(slot k is an entity) · Σ_s π_k(s) [word w in s]``: how much the
    question's readings count word ``w`` as part of slot ``k``'s mention. Row labels give the
    slot's likeliest span, its share ``Q`` of the span probability, and ``P(entity)``, the weight
    of the readings that contain it (:attr:`~kgqa.resolve.mentions.MentionSlots.chosen`); the
    title gives ``P(n)``.

    Args:
        question: the text of question ``b`` (as the resolver saw it).
        res: the resolver's output for a batch containing it.
        b: the question's row in the batch.
        ax: Axes to draw into (a new figure sized to the question when None).
        title: Axes title (default: the entity-count distribution).
    """
    slots = res.slots
    if slots is None:
        raise ValueError("this resolver finds one entity per question: it has no mention slots "
                         "(ResolverConfig(max_entities=2) finds several)")
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", question)]
    if not words:
        raise ValueError("the question has no words")
    chosen = slots.chosen[b].detach().float().cpu()  # (M,)
    weight = slots.span_weight[b].detach().float().cpu()  # (M, S)
    chars = res.span_chars[b].cpu()  # (S, 2)
    starts = torch.tensor([a for a, _, _ in words])[None, :]  # (1, W)
    ends = torch.tensor([e for _, e, _ in words])[None, :]
    inside = ((chars[:, 0:1] < ends) & (starts < chars[:, 1:2])).float()  # (S, W): the span touches the word
    rows = [m for m in range(slots.valid.shape[1]) if slots.valid[b, m]]
    table = torch.stack([chosen[m] * (weight[m] @ inside) for m in rows]) if rows else torch.zeros(1, len(words))
    ax = axes(ax, (max(6.0, 0.75 * len(words) + 2.5), 0.5 * max(len(rows), 1) + 1.6))
    image = ax.imshow(table.clamp(0, 1).numpy(), cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="P(entity) · π(word)")
    for r in range(len(rows)):
        for c in range(len(words)):
            v = float(table[r, c])
            if v >= 0.005:
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v > 0.6 else "#222222")
    ax.set_xticks(range(len(words)), [w for _, _, w in words], fontsize=9, rotation=30, ha="right")
    labels = []
    for m in rows:
        s = int(weight[m].argmax())
        labels.append(f"slot {m + 1}: {res.span_texts[b][s]!r}\nQ={float(slots.share[b, m]):.2f}  "
                      f"P(entity)={float(chosen[m]):.2f}")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    counts = ", ".join(f"P({n})={float(p):.2f}" for n, p in enumerate(slots.count_probs[b].tolist(), start=1))
    ax.set_title(title if title is not None else f"Mention slots — entities in the question: {counts}")
    return ax
