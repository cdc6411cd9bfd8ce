"""The subgraph of the paths that carry the top answers' scores, as a layered drawing.

:func:`path_graph` turns a :class:`~kgqa.trace.Trace` into plain data — nodes in columns (the
start entities left, the answers right, each column ordered by the weight flowing through it) and
edges labelled with their relation and weighted by the path terms they carry; :func:`path_graph_svg`
draws that as an SVG string. The same SVG is the static picture (a notebook's committed output, a
page) and the body of the live :class:`~kgqa.explore.path_widget.PathGraph`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..trace import Trace

__all__ = ["Node", "Edge", "Graph", "path_graph", "path_graph_svg"]


@dataclass
class Node:
    key: str  # "column:entity id" — an entity may appear in several columns
    id: str
    name: str
    column: int
    row: int = 0
    weight: float = 0.0  # sum of the path terms through it
    answer: bool = False
    gold: bool = False
    answers: set[str] = field(default_factory=set)  # ids of the answers whose paths pass through it


@dataclass
class Edge:
    source: str  # node keys
    target: str
    relation: str
    weight: float = 0.0
    answers: set[str] = field(default_factory=set)


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    columns: int

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)


def path_graph(trace: Trace, top: int = 3, gold: Iterable[str] = (), min_share: float = 0.01) -> Graph:
    """The paths the trace lists for its ``top`` best answers, merged into one layered graph. A
    path's i-th entity sits in column i, except its answer, which sits in the last column; a node's
    and an edge's weight is the sum of the path terms passing through them. Paths carrying less
    than ``min_share`` of their answer's score are left out, except each answer's heaviest."""
    gold = set(gold)
    answers = trace.answers[:top]
    paths = []
    for a in answers:
        ranked = sorted(a.paths, key=lambda p: -p.weight)
        paths += [(a, p) for i, p in enumerate(ranked) if i == 0 or p.share >= min_share]
    columns = max((len(p.entities) for _, p in paths), default=1)
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str, str], Edge] = {}
    for a in answers:  # an answer without a listed path still shows, alone in the last column
        key = f"{columns - 1}:{a.id}"
        nodes[key] = Node(key, a.id, a.name, columns - 1, answer=True, gold=a.id in gold, answers={a.id})
    for a, p in paths:
        keys = []
        for i, ent in enumerate(p.entities):
            col = columns - 1 if i == len(p.entities) - 1 else i
            key = f"{col}:{ent.id}"
            node = nodes.setdefault(key, Node(key, ent.id, ent.name, col))
            node.weight += float(p.weight)
            node.answers.add(a.id)
            keys.append(key)
        for rel, s, t in zip(p.relations, keys, keys[1:]):
            edge = edges.setdefault((s, t, rel), Edge(s, t, rel))
            edge.weight += float(p.weight)
            edge.answers.add(a.id)
    by_column: dict[int, list[Node]] = {}
    for node in nodes.values():
        by_column.setdefault(node.column, []).append(node)
    for col in by_column.values():
        col.sort(key=lambda n: (-n.weight, n.name))
        for row, node in enumerate(col):
            node.row = row
    return Graph(sorted(nodes.values(), key=lambda n: (n.column, n.row)), list(edges.values()), columns)


COLUMN_W, ROW_H, NODE_W, NODE_H = 270, 46, 150, 26


def _xy(node: Node) -> tuple[float, float]:
    return 20 + node.column * COLUMN_W, 20 + node.row * ROW_H


def path_graph_svg(graph: Graph) -> str:
    """The graph as a self-contained SVG: boxes for entities (answers green-edged, gold ones
    ticked), arrows labelled with their relation, thicker where they carry more weight. Elements
    carry ``data-answers`` so a script can highlight one answer's paths."""
    if not graph.nodes:
        return '<svg class="kgqa-paths" width="200" height="30"><text x="4" y="20">(no path)</text></svg>'
    rows = max(n.row for n in graph.nodes) + 1
    width = 40 + (graph.columns - 1) * COLUMN_W + NODE_W
    height = 40 + (rows - 1) * ROW_H + NODE_H + (ROW_H if graph.columns > 2 else 0)  # room for bent edges
    top = max((e.weight for e in graph.edges), default=1.0) or 1.0
    nodes = {n.key: n for n in graph.nodes}
    parts = [f'<svg class="kgqa-paths" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             '<defs><marker id="kgqa-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
             'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#555"/></marker></defs>']
    for e in graph.edges:
        (x1, y1), (x2, y2) = _xy(nodes[e.source]), _xy(nodes[e.target])
        x1, y1, x2, y2 = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        # an edge that skips columns bends below the boxes it would cross
        skip = nodes[e.target].column - nodes[e.source].column - 1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + skip * ROW_H * 1.3
        mx, my = (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4  # the curve's midpoint
        tag = html.escape(" ".join(sorted(e.answers)), quote=True)
        stroke = 1 + 4 * e.weight / top
        parts.append(f'<g class="kgqa-edge" data-answers="{tag}"><title>{html.escape(e.relation)}: '
                     f'{e.weight:.3g}</title><path d="M{x1:.0f},{y1:.0f} Q{cx:.0f},{cy:.0f} {x2:.0f},{y2:.0f}" '
                     f'fill="none" stroke="#555" stroke-width="{stroke:.1f}" marker-end="url(#kgqa-arrow)"/>'
                     f'<text x="{mx:.0f}" y="{my - 4:.0f}" text-anchor="middle" fill="#333" stroke="white" '
                     f'stroke-width="3" paint-order="stroke">{html.escape(e.relation)}</text></g>')
    for n in graph.nodes:
        x, y = _xy(n)
        tag = html.escape(" ".join(sorted(n.answers)), quote=True)
        edge = "#2a9d4b" if n.answer else "#4c72b0"
        label = n.name if len(n.name) <= 22 else n.name[:21] + "…"
        tick = " ✓" if n.gold else ""
        parts.append(f'<g class="kgqa-node{" kgqa-answer" if n.answer else ""}" data-id="{html.escape(n.id, quote=True)}" '
                     f'data-answers="{tag}"><title>{html.escape(n.name)} ({html.escape(n.id)}): '
                     f'{n.weight:.3g}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5" '
                     f'fill="#f4f6fb" stroke="{edge}" stroke-width="{2 if n.answer else 1}"/>'
                     f'<text x="{x + NODE_W / 2:.0f}" y="{y + 17}" text-anchor="middle">'
                     f'{html.escape(label)}{tick}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
