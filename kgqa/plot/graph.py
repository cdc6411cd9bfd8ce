"""Matplotlib figures of knowledge graphs: the graph around some entities, relation counts, colours by type.

Every plot function draws into ``ax`` (a new figure when it is None), returns the Axes and never
calls ``plt.show()``, so figures compose into subplots and render the same in notebooks, scripts
and tests.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from ..kg import INVERSE_SUFFIX, KnowledgeGraph, inverse_name
from ..traverse import Hop
from ..types import EntityId, EntityKey

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["axes", "draw_kg", "hop_layout", "legend_handles", "neighbourhood", "plot_relation_counts", "type_colors"]

HIGHLIGHT_COLOR = "#d62728"  # red: the facts a query followed
EDGE_COLOR = "#8c8c8c"  # grey: every other fact
LABEL_COLOR = "#555555"  # relation names of the grey facts
_PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"]  # ColorBrewer Set3: text stays legible


def axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new figure of ``figsize`` inches: how every figure function of
    :mod:`kgqa.plot` starts, so that it can draw alone or into a subplot."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def type_colors(kg: KnowledgeGraph) -> dict[str, str]:
    """A colour per entity type, stable for a given graph (types sorted by name)."""
    types = sorted(set(kg.types))
    return {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(types)}


def neighbourhood(kg: KnowledgeGraph, center: EntityKey, radius: int = 1) -> set[EntityId]:
    """Ids of the entities within ``radius`` facts of ``center``, in either direction.

    The centre itself is included (radius 0 gives just it). Works with or without inverse
    relations, since facts are followed both ways.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    seen = torch.zeros(kg.num_entities, dtype=torch.bool)  # (E,)
    seen[kg.entity_index(center)] = True
    frontier = seen.clone()
    subj, obj = kg.triples[:, 0], kg.triples[:, 2]  # (T,), (T,)
    for _ in range(radius):
        reached = torch.zeros_like(seen)
        reached[obj[frontier[subj]]] = True  # subject in the frontier -> its objects
        reached[subj[frontier[obj]]] = True  # object in the frontier -> its subjects
        frontier = reached & ~seen
        if not frontier.any():
            break
        seen |= frontier
    return {kg.entities[i] for i in seen.nonzero().flatten().tolist()}


def _layout(g: Any, seed: int) -> dict:
    """Node positions. Up to 100 nodes: each connected component gets a Kamada-Kawai layout
    (even edge lengths) sized by its node count, components side by side, largest first. Larger
    graphs: a seeded spring layout with 2.5x networkx's default spacing."""
    import networkx as nx
    import numpy as np

    und = g.to_undirected()
    n = und.number_of_nodes()
    if n > 100:
        return nx.spring_layout(und, seed=seed, k=2.5 / n**0.5, iterations=300)
    pos: dict = {}
    left = 0.0
    for comp in sorted(nx.connected_components(und), key=lambda c: (-len(c), min(c))):
        radius = 0.5 * len(comp) ** 0.5
        sub = und.subgraph(comp)
        if len(comp) == 1:
            part = {next(iter(comp)): np.zeros(2)}
        else:
            try:
                part = nx.kamada_kawai_layout(sub, scale=radius)
            except ImportError:  # pragma: no cover - scipy missing
                part = nx.spring_layout(sub, seed=seed, scale=radius)
        xs = [p[0] for p in part.values()]
        shift = left - min(xs)
        pos.update({v: np.array([p[0] + shift, p[1]]) for v, p in part.items()})
        left += max(xs) - min(xs) + 1.0  # gap between components
    return pos


def _wrap_label(label: str, width: int) -> str:
    """Wrap a node label at ``width`` characters, never inside a word; an ``[id]`` suffix of a
    shared name goes on a line of its own."""
    name, sep, rest = label.partition(" [")
    lines = textwrap.wrap(name, width, break_long_words=False) if width else [name]
    return "\n".join(lines + ([sep.strip() + rest] if sep else []))


def _followed_edges(kg: KnowledgeGraph, highlight: Iterable[Any]) -> set[tuple[str, str, str]]:
    """``(from id, relation, to id)`` facts named by ``highlight``, in the direction followed.

    Accepts ``(source, relation, target)`` tuples (ids or indices), :class:`~kgqa.traverse.Hop`
    objects, and lists of either (the ``traces`` of a pipeline result). An inverse fact
    ``(o, r^-1, s)`` stays as followed: from ``o`` to ``s`` by ``r^-1``.
    """
    out: set[tuple[str, str, str]] = set()
    for item in highlight:
        if isinstance(item, str):
            raise TypeError(f"highlight takes (source, relation, target) facts or Hops, got {item!r}")
        if isinstance(item, Hop):
            triples = [(s, item.relation, o) for s, o in item.edges]
        elif isinstance(item, tuple) and len(item) == 3 and not isinstance(item[0], (Hop, list, tuple)):
            triples = [item]
        else:
            out |= _followed_edges(kg, item)
            continue
        for s, r, o in triples:
            s_id, o_id = kg.entities[kg.entity_index(s)], kg.entities[kg.entity_index(o)]
            rel = kg.relations[kg.relation_index(r)] if isinstance(r, int) else r
            base = inverse_name(rel) if rel.endswith(INVERSE_SUFFIX) else rel
            kg.relation_index(base)  # unknown relations raise here
            out.add((s_id, rel, o_id))
    return out


def _shown(relation: str) -> str:
    """A relation as the figures write it: ``r^-1`` as ``r⁻¹``."""
    return inverse_name(relation) + "⁻¹" if relation.endswith(INVERSE_SUFFIX) else relation


def legend_handles(kg: KnowledgeGraph, types: Iterable[str]) -> list:
    """Legend entries (one coloured dot per entity type, as :func:`draw_kg` colours them), for a
    legend shared by several drawings: ``fig.legend(handles=legend_handles(kg, types))``."""
    import matplotlib.lines as mlines

    colors = type_colors(kg)
    return [mlines.Line2D([], [], marker="o", linestyle="", markersize=9, color=colors[t], label=t or "(no type)")
            for t in sorted(set(types))]


def hop_layout(kg: KnowledgeGraph, hops: Iterable[Hop], *, ring: float = 1.0) -> dict[EntityId, tuple[float, float]]:
    """Positions for the entities of a traced path (:func:`~kgqa.traverse.trace_path`): its start
    in the centre, the entities reached by hop ``t`` on a circle of radius ``t · ring``, each
    ring in the order of its parents' angles, so that every arrow points outwards and few cross
    (an entity reached from two sides sits between them). Pass it as ``draw_kg(kg, ..., pos=hop_layout(kg, hops))``."""
    import math

    hops = list(hops)
    if not hops:
        raise ValueError("hop_layout needs at least one hop")
    ids = kg.entities

    def edges(hop: Hop) -> list[tuple[EntityId, EntityId]]:
        return [(ids[kg.entity_index(s)], ids[kg.entity_index(o)]) for s, o in hop.edges]

    pos: dict[EntityId, tuple[float, float]] = {}
    angle: dict[EntityId, float] = {}
    starts = list(dict.fromkeys(s for s, _ in edges(hops[0])))
    for i, s in enumerate(starts):  # one start in the centre; several on a small inner circle
        a = 2 * math.pi * i / len(starts)
        pos[s] = (0.0, 0.0) if len(starts) == 1 else (0.3 * ring * math.cos(a), 0.3 * ring * math.sin(a))
        angle[s] = a
    for t, hop in enumerate(hops, start=1):
        parents: dict[EntityId, list[float]] = {}
        for s, o in edges(hop):
            if o not in pos:
                parents.setdefault(o, []).append(angle.get(s, 0.0))
        ordered = sorted(parents, key=lambda o: (sum(parents[o]) / len(parents[o]), o))
        for i, o in enumerate(ordered):
            a = 2 * math.pi * (i + 0.5) / len(ordered) - math.pi / 2
            pos[o], angle[o] = (t * ring * math.cos(a), t * ring * math.sin(a)), a
    return pos


def draw_kg(
    kg: KnowledgeGraph,
    *,
    entities: Iterable[EntityKey] | None = None,
    highlight: Iterable[Any] | None = None,
    ax: Axes | None = None,
    layout_seed: int = 0,
    pos: Mapping[EntityId, tuple[float, float]] | None = None,
    wrap: int = 16,
    font_size: float = 8,
    node_size: float = 900,
    node_labels: bool = True,
    edge_labels: bool = True,
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """Draw a knowledge graph, or the facts among ``entities``, with networkx.

    Nodes are labelled with :meth:`KnowledgeGraph.label` (the name, plus the id when several
    entities share it) and coloured by entity type (legend); edges point from subject to object
    and are labelled with their relations. Inverse relations are not drawn (they mirror facts),
    except where a highlighted path followed one.

    Args:
        kg: the graph.
        entities: ids or indices of the entities to draw (default: all). The endpoints of
            highlighted facts are added, so a highlighted path is always visible.
        highlight: facts to emphasise: ``(source, relation, target)`` tuples, the
            :class:`~kgqa.traverse.Hop` objects of :func:`~kgqa.traverse.trace_path`, or lists
            of these. A fact followed by an inverse relation is drawn the way it was followed
            (from the film to its character, labelled ``appears_in⁻¹``), in place of the fact
            it mirrors.
        ax: Axes to draw into (a new 9x6 inch figure when None).
        layout_seed: seed of the spring layout used above 100 nodes (smaller graphs get a
            deterministic Kamada-Kawai layout per connected component).
        pos: node positions by entity id (overrides the layout).
        wrap: wrap node labels at this many characters (0: no wrapping).
        font_size: size of the node labels; edge labels are one point smaller.
        node_size: node area in points².
        node_labels: whether to write entity labels on the nodes.
        edge_labels: whether to write relation names on the edges.
        legend: whether to show the entity-type legend.
        title: Axes title.

    Returns:
        The Axes. Unknown entities or relations raise :class:`~kgqa.errors.UnknownEntityError`
        or :class:`~kgqa.errors.UnknownRelationError`.
    """
    import networkx as nx

    marked = _followed_edges(kg, highlight) if highlight is not None else set()
    keep = None
    if entities is not None:
        keep = {kg.entities[kg.entity_index(e)] for e in entities}
        keep |= {s for s, _, _ in marked} | {o for _, _, o in marked}
    multi = kg.to_networkx(entities=keep)
    g = nx.DiGraph()  # one edge per ordered pair; parallel relations share a label
    g.add_nodes_from(multi.nodes(data=True))
    for s, o, data in multi.edges(data=True):
        rels = g.edges[s, o]["relations"] if g.has_edge(s, o) else []
        g.add_edge(s, o, relations=sorted(rels + [data["relation"]]))
    for a, rel, b in sorted(marked):  # a fact followed backwards is drawn the way it was followed
        if rel.endswith(INVERSE_SUFFIX):
            base = inverse_name(rel)
            if g.has_edge(b, a) and base in g.edges[b, a]["relations"]:
                g.edges[b, a]["relations"].remove(base)
                if not g.edges[b, a]["relations"]:
                    g.remove_edge(b, a)
            rels = g.edges[a, b]["relations"] if g.has_edge(a, b) else []
            g.add_edge(a, b, relations=sorted(rels + [rel]))
    ax = axes(ax, (9, 6))
    layout = pos if pos is not None else _layout(g, layout_seed)
    pos = {n: layout[n] for n in g.nodes}

    nodes = list(g.nodes)
    colors = type_colors(kg)
    on_path = {s for s, _, _ in marked} | {o for _, _, o in marked}
    nx.draw_networkx_nodes(
        g, pos, nodelist=nodes, ax=ax, node_size=node_size,
        node_color=[colors[g.nodes[n]["type"]] for n in nodes],
        edgecolors=[HIGHLIGHT_COLOR if n in on_path else "white" for n in nodes],
        linewidths=[2.5 if n in on_path else 1.0 for n in nodes],
    )
    hot = [(s, o) for s, o, d in g.edges(data=True) if any((s, r, o) in marked for r in d["relations"])]
    hot_set = set(hot)
    cold = [e for e in g.edges if e not in hot_set]
    for edgelist, color, width in ((cold, EDGE_COLOR, 1.2), (hot, HIGHLIGHT_COLOR, 3.0)):
        nx.draw_networkx_edges(g, pos, edgelist=edgelist, ax=ax, edge_color=color, width=width,
                               node_size=node_size, arrowsize=12, arrowstyle="-|>")
    if node_labels:
        labels = {n: _wrap_label(kg.label(n), wrap) for n in nodes}
        nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=font_size)
    if edge_labels:
        # followed relations in red; other relations of the same pair in grey, on the other side
        # of the edge when it carries both
        groups: dict[tuple[str, str], dict] = {}
        for e in g.edges:
            rels = g.edges[e]["relations"]
            followed = [r for r in rels if (e[0], r, e[1]) in marked]
            rest = [r for r in rels if r not in followed]
            if followed:
                groups.setdefault((HIGHLIGHT_COLOR, "bottom" if rest else "center"), {})[e] = \
                    "\n".join(map(_shown, followed))
            if rest:
                groups.setdefault((LABEL_COLOR, "top" if followed else "center"), {})[e] = "\n".join(map(_shown, rest))
        for (color, valign), text in groups.items():
            nx.draw_networkx_edge_labels(
                g, pos, edge_labels=text, ax=ax, font_size=font_size - 1, font_color=color,
                verticalalignment=valign, node_size=node_size,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    if legend:
        handles = legend_handles(kg, {g.nodes[n]["type"] for n in nodes})
        ax.legend(handles=handles, title="entity type", loc="best", fontsize=font_size,
                  title_fontsize=font_size, framealpha=0.9)
    if title:
        ax.set_title(title)
    ax.margins(0.12)
    ax.set_axis_off()
    return ax


def plot_relation_counts(
    kg: KnowledgeGraph, *, ax: Axes | None = None, color: str = "#4c72b0", title: str | None = None
) -> Axes:
    """Horizontal bar chart of the number of facts per relation (inverse relations left out).

    Bars are sorted, largest at the top, and each is labelled with its count.
    """
    counts = torch.bincount(kg.triples[:, 1], minlength=kg.num_relations).tolist()
    pairs = [(r, n) for r, n in zip(kg.relations, counts) if not r.endswith(INVERSE_SUFFIX)]
    pairs.sort(key=lambda p: (p[1], p[0]))  # barh draws bottom-up: largest ends on top
    ax = axes(ax, (7, 0.3 * len(pairs) + 1.2))
    bars = ax.barh([r for r, _ in pairs], [n for _, n in pairs], color=color)
    ax.bar_label(bars, labels=[f"{n:,}" for _, n in pairs], padding=3, fontsize=8)
    ax.set_xlabel("facts")
    ax.set_title(title if title is not None else f"Facts per relation ({kg.num_entities:,} entities)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max((n for _, n in pairs), default=1) * 1.15)
    return ax
