"""Matplotlib figures of what a trained QA model does: relations per hop, hop attention, entity
scores, the path it followed, and its training curves.

Same contract as :mod:`kgqa.plot`: every function draws into ``ax`` (a new figure when it is
None), returns the Axes and never calls ``plt.show()``. Inputs are either a
:class:`~kgqa.trace.Trace` (what :meth:`QASystem.explain <kgqa.qa.QASystem.explain>` returns; its
first walk unless ``branch`` says otherwise) or the raw tensors of a
:class:`~kgqa.model.QAOutput`, so a figure can be drawn from a saved trace as well as from a live
model. The path a figure highlights is the trace's own: the heaviest path carrying the top
answer's score (:mod:`kgqa.paths`), never a re-derived one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..kg import KnowledgeGraph
from .graph import axes, draw_kg, neighbourhood
from ..trace import Trace
from ..traverse import Hop
from ..types import EntityKey

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_relation_attention", "plot_hop_attention", "plot_entity_scores", "plot_training_curves",
           "followed_path", "trace_answer", "draw_answer_path", "GOLD_COLOR", "OTHER_COLOR"]

GOLD_COLOR = "#55a868"  # green: a gold answer
OTHER_COLOR = "#8c8c8c"  # grey: any other entity
BAR_COLOR = "#4c72b0"  # blue: plain bars
PEAK_COLOR = "#c44e52"  # red: the most attended hop


def _vector(values: Any, what: str) -> list[float]:
    """A 1-D list of floats from a sequence or a ``(n,)`` / ``(1, n)`` tensor."""
    if isinstance(values, torch.Tensor):
        t = values.detach().float().cpu()
        if t.dim() == 2 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 1:
            raise ValueError(f"{what} must be a (n,) or (1, n) tensor, got shape {tuple(values.shape)}")
        return t.tolist()
    return [float(v) for v in values]


# ---------------------------------------------------------------------------- relations per hop
def _relation_matrix(answer_or_relations: Trace | torch.Tensor,
                     relation_names: Sequence[str] | None, branch: int = 0) -> tuple[list[list[float]], list[str]]:
    """``(T, R')`` weights (NaN where unknown) and the R' relation names."""
    if isinstance(answer_or_relations, Trace):
        per_hop = [h.relations for h in answer_or_relations.branches[branch].hops]
        names = list(dict.fromkeys(r for hop in per_hop for r, _ in hop))
        col = {r: j for j, r in enumerate(names)}
        rows = []
        for hop in per_hop:
            row = [math.nan] * len(names)
            for r, w in hop:
                row[col[r]] = float(w)
            rows.append(row)
        return rows, names
    rel = answer_or_relations.detach().float().cpu()
    if rel.dim() == 3 and rel.shape[0] == 1:
        rel = rel[0]
    if rel.dim() != 2:
        raise ValueError("relations must be a (T, R) or (1, T, R) tensor, "
                         f"got shape {tuple(answer_or_relations.shape)}")
    if relation_names is None or len(relation_names) != rel.shape[1]:
        got = "none" if relation_names is None else len(relation_names)
        raise ValueError(f"a (T, R) tensor needs R = {rel.shape[1]} relation names, got {got}")
    return rel.tolist(), list(relation_names)


def plot_relation_attention(
    answer_or_relations: Trace | torch.Tensor,
    relation_names: Sequence[str] | None = None,
    *,
    top: int = 8,
    hop_attention: Sequence[float] | torch.Tensor | None = None,
    branch: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Heatmap of the relation distribution ``r_t`` of each hop: hops down, relations across.

    Shows the ``top`` relations with the highest weight at any hop, every cell annotated with its
    weight. The best relation of each hop comes first, so the followed path reads as a diagonal;
    the other relations follow, ordered by the hop where they peak.

    Args:
        answer_or_relations: a :class:`~kgqa.trace.Trace` (it records the top 3 relations of each
            hop; other cells are left blank) or a ``(T, R)`` float tensor of relation weights
            (``QAOutput.relations[b]``; ``(1, T, R)`` is accepted).
        relation_names: the R relation names (``kg.relations``); needed with a tensor.
        top: how many relations (columns) to show.
        hop_attention: ``(T,)`` hop weights written next to each hop's label (taken from the
            Trace when one is given).
        branch: which walk of a Trace (default the first).
        ax: Axes to draw into (a new figure sized to the matrix when None).
        title: Axes title.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    rows, names = _relation_matrix(answer_or_relations, relation_names, branch)
    if hop_attention is None and isinstance(answer_or_relations, Trace):
        hop_attention = [h.attention for h in answer_or_relations.branches[branch].hops]
    att = _vector(hop_attention, "hop_attention") if hop_attention is not None else None
    T = len(rows)
    if att is not None and len(att) != T:
        raise ValueError(f"hop_attention has {len(att)} weights for {T} hops")

    def peak(j: int) -> tuple[int, float]:
        col = [0.0 if math.isnan(rows[t][j]) else rows[t][j] for t in range(T)]
        best = max(range(T), key=col.__getitem__)
        return best, col[best]

    best = {max(range(len(names)), key=lambda j: -1.0 if math.isnan(row[j]) else row[j]) for row in rows}
    chosen = sorted(range(len(names)), key=lambda j: -peak(j)[1])[:top]
    # each hop's best relation first, then the rest; within both, by the hop where it peaks
    chosen.sort(key=lambda j: (j not in best, peak(j)[0], -peak(j)[1]))
    matrix = [[rows[t][j] for j in chosen] for t in range(T)]
    ax = axes(ax, (max(4.5, 0.95 * len(chosen) + 2.0), 0.55 * T + 2.0))
    from matplotlib import colormaps

    cmap = colormaps["Blues"].with_extremes(bad="#f2f2f2")  # blank: weight not recorded (Trace input)
    ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for t in range(T):
        for c, w in enumerate(matrix[t]):
            if not math.isnan(w):
                ax.text(c, t, f"{w:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if w > 0.6 else "#222222")
    ax.set_xticks(range(len(chosen)), [names[j] for j in chosen], rotation=35, ha="right", fontsize=8)
    labels = [f"hop {t + 1}" + (f"\na = {att[t]:.2f}" if att is not None else "") for t in range(T)]
    ax.set_yticks(range(T), labels, fontsize=8)
    ax.set_xticks([c - 0.5 for c in range(1, len(chosen))], minor=True)
    ax.set_yticks([t - 0.5 for t in range(1, T)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(title if title is not None else "Relation weights r_t per hop")
    return ax


# ---------------------------------------------------------------------------- hop attention
def plot_hop_attention(
    weights: Trace | Sequence[float] | torch.Tensor,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Bar chart of the hop attention ``a`` (one bar per hop, the most attended one in red).

    Args:
        weights: a :class:`~kgqa.trace.Trace` (its first walk), or ``(T,)`` hop weights (a sequence, or a ``(T,)``
            / ``(1, T)`` tensor such as ``QAOutput.hop_attention``).
        ax: Axes to draw into (a new 3.5x3 inch figure when None).
        title: Axes title.
    """
    att = _vector([h.attention for h in weights.branches[0].hops] if isinstance(weights, Trace) else weights,
                  "weights")
    if not att:
        raise ValueError("weights is empty: expected one weight per hop")
    ax = axes(ax, (3.5, 3.0))
    best = max(range(len(att)), key=att.__getitem__)
    bars = ax.bar([f"hop {t + 1}" for t in range(len(att))], att,
                  color=[PEAK_COLOR if t == best else BAR_COLOR for t in range(len(att))])
    ax.bar_label(bars, labels=[f"{a:.2f}" for a in att], padding=2, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("attention a_t")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title if title is not None else "Hop attention")
    return ax


# ---------------------------------------------------------------------------- entity scores
def plot_entity_scores(
    kg: KnowledgeGraph,
    scores_or_answer: Trace | torch.Tensor,
    *,
    k: int = 10,
    gold: Iterable[EntityKey] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Horizontal bars of the ``k`` best-scored entities, by label, best on top.

    Entities scoring 0 (not reached) are left out. With ``gold``, gold answers are green and the
    rest grey, with a legend.

    Args:
        kg: the graph the scores index (labels come from :meth:`KnowledgeGraph.label`).
        scores_or_answer: a :class:`~kgqa.trace.Trace` (its ranked answers) or ``(E,)`` float
            answer scores (``QAOutput.scores[b]``; ``(1, E)`` is accepted).
        k: how many entities to show at most.
        gold: ids or indices of the gold answers.
        ax: Axes to draw into (a new figure sized to the bars when None).
        title: Axes title.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if isinstance(scores_or_answer, Trace):
        ranked = [(kg.entity_index(a.id), float(a.score)) for a in scores_or_answer.answers[:k]]
    else:
        scores = torch.tensor(_vector(scores_or_answer, "scores"))
        if scores.numel() != kg.num_entities:
            raise ValueError(f"scores has {scores.numel()} entries, the graph {kg.num_entities} entities")
        val, idx = scores.topk(min(k, scores.numel()))
        ranked = [(i, v) for v, i in zip(val.tolist(), idx.tolist())]
    ranked = [(i, s) for i, s in ranked if s > 0]
    gold_idx = {kg.entity_index(g) for g in gold} if gold is not None else set()
    ax = axes(ax, (6.0, 0.32 * max(len(ranked), 3) + 1.2))
    if not ranked:
        ax.text(0.5, 0.5, "no entity reached", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ranked = ranked[::-1]  # barh draws bottom-up: the best ends on top
        colors = [GOLD_COLOR if i in gold_idx else (OTHER_COLOR if gold is not None else BAR_COLOR)
                  for i, _ in ranked]
        bars = ax.barh([kg.label(i) for i, _ in ranked], [s for _, s in ranked], color=colors)
        ax.bar_label(bars, labels=[f"{s:.2f}" for _, s in ranked], padding=3, fontsize=8)
        ax.set_xlim(0, max(s for _, s in ranked) * 1.18)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("score ŷ")
        ax.spines[["top", "right"]].set_visible(False)
        if gold is not None:
            import matplotlib.patches as mpatches

            ax.legend(handles=[mpatches.Patch(color=GOLD_COLOR, label="gold answer"),
                               mpatches.Patch(color=OTHER_COLOR, label="other")],
                      loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(title if title is not None else f"Top {k} entities")
    return ax


# ---------------------------------------------------------------------------- training
def plot_training_curves(
    history: Sequence[Mapping[str, float]] | Any,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Training loss (left axis) and validation Hits@1 (right axis) per epoch.

    A dotted line marks the epoch whose model :func:`~kgqa.train.fit` kept (the last one with
    the best validation Hits@1).

    Args:
        history: the rows of ``FitResult.history`` (``epoch``, ``loss``, ``dev_hits@1``), or the
            ``FitResult`` itself.
        ax: Axes to draw the loss into; the Hits@1 goes on ``ax.twinx()``. A new 7x3.5 inch
            figure when None.
        title: Axes title.

    Returns:
        The Axes holding the loss (the twin is in ``ax.figure.axes``).
    """
    rows = list(getattr(history, "history", history))
    if not rows:
        raise ValueError("history is empty: train for at least one epoch")
    epochs = [int(r["epoch"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    dev = [float(r.get("dev_hits@1", math.nan)) for r in rows]
    ax = axes(ax, (7.0, 3.5))
    (l1,) = ax.plot(epochs, loss, "o-", color=BAR_COLOR, markersize=4, label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color=BAR_COLOR)
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    (l2,) = twin.plot(epochs, dev, "s-", color=PEAK_COLOR, markersize=4, label="validation Hits@1")
    twin.set_ylabel("validation Hits@1 (%)", color=PEAK_COLOR)
    twin.set_ylim(0, 105)
    handles = [l1, l2]
    known = [(d, e) for d, e in zip(dev, epochs) if not math.isnan(d)]
    if known:
        best_dev, best_epoch = max(known)  # ties: the later epoch, as fit keeps it
        handles.append(ax.axvline(best_epoch, color="#555555", linestyle=":", linewidth=1.2,
                                  label=f"kept: epoch {best_epoch} ({best_dev:.1f}%)"))
    if len(epochs) > 1:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    step = max(1, math.ceil(len(epochs) / 15))
    ax.set_xticks(epochs[::step])
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(handles), fontsize=8,
              frameon=False)  # below the plot: never over the curves
    ax.spines[["top"]].set_visible(False)
    twin.spines[["top"]].set_visible(False)
    ax.set_title(title if title is not None else "Training")
    return ax


# ---------------------------------------------------------------------------- the followed path
def followed_path(trace: Trace, branch: int = 0) -> list[str]:
    """The relations of the heaviest path carrying the top answer's score in walk ``branch``
    (empty when nothing was reached, or the trace was built without paths)."""
    best = trace.best
    paths = [p for p in best.paths if p.branch == branch] if best is not None else []
    return paths[0].relations if paths else []


def trace_answer(kg: KnowledgeGraph, trace: Trace) -> list[list[Hop]]:
    """The facts of every path the trace lists for the top answer (its heaviest, in each walk), as
    one :class:`~kgqa.traverse.Hop` (relation and its one edge) per hop — what
    :func:`draw_answer_path` highlights."""
    out: list[list[Hop]] = []
    for path in trace.best.paths if trace.best is not None else []:
        ids = [kg.entity_index(e.id) for e in path.entities]
        out.append([Hop(r, ((s, o),)) for r, s, o in zip(path.relations, ids, ids[1:])])
    return out


def draw_answer_path(
    kg: KnowledgeGraph,
    trace: Trace,
    *,
    radius: int = 1,
    max_entities: int = 30,
    ax: Axes | None = None,
    title: str | None = None,
    **draw_options: Any,
) -> Axes:
    """The graph around an answer, with the path the model followed in red.

    Draws the topic entities' ``radius`` neighbourhoods (capped at ``max_entities``) plus every
    entity on :func:`trace_answer`'s facts, which are highlighted. ``draw_options`` go to
    :func:`~kgqa.plot.draw_kg` (``font_size``, ``legend``, ``layout_seed``, ...).

    Args:
        kg: the graph the model answered over.
        trace: what :meth:`QASystem.explain <kgqa.qa.QASystem.explain>` returned.
        radius: neighbourhood radius around each topic entity (0: the path alone).
        max_entities: at most this many entities from the neighbourhoods (path entities always
            stay).
        ax: Axes to draw into (a new 9x6 inch figure when None).
        title: Axes title (default: the question and the top answer).
    """
    traces = trace_answer(kg, trace)
    on_path = {kg.entities[e] for hops in traces for hop in hops for edge in hop.edges for e in edge}
    topics = [t.id for t in trace.topics]
    keep = set(topics) | on_path
    if trace.best is not None:
        keep.add(trace.best.id)
    extra = sorted(set().union(*(neighbourhood(kg, t, radius) for t in topics)) - keep, key=kg.entity_index)
    keep |= set(extra[: max(0, max_entities - len(keep))])
    if title is None:
        best = trace.best.name if trace.best is not None else "(no entity reached)"
        path = " > ".join(followed_path(trace)) or "-"
        title = f"{trace.question}\nfollowed: {path}   →   {best}"
    return draw_kg(kg, entities=keep, highlight=traces, ax=ax, title=title, **draw_options)
