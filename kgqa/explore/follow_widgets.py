"""Chapter 3's sliders: ``follow`` on a weighted start set and a mix of relations, and two soft
branches combined by ``min`` or by the product.

Pure functions compute what a widget shows (:func:`soft_follow`, :func:`soft_intersection`,
:func:`weights_html`); :class:`FollowMixer` and :class:`BranchCombiner` are the ipywidgets on
top, each re-rendering its HTML from the kernel's numbers whenever a slider moves.

    >>> mixer = FollowMixer(kg, kb, ("exhibited_at", "created^-1"), ("mona_lisa", "venus_de_milo"))
    >>> mixer.relation.value = 0.9   # as dragging the slider does  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .controls import Displayed, weight_slider

if TYPE_CHECKING:
    from ..follow import ReifiedKG
    from ..kg import KnowledgeGraph

__all__ = ["Weighted", "soft_follow", "soft_intersection", "weights_html", "FollowMixer", "BranchCombiner"]


@dataclass(frozen=True)
class Weighted:
    """The non-zero weights of a set, heaviest first, and how much of the start weight left the graph."""

    rows: list[tuple[str, str, float]]  # (entity id, name, weight)
    total: float
    left: float  # start weight (times relation weight) with no fact to follow; 0 for a combination


def _weighted(kg: KnowledgeGraph, y, k: int, start_mass: float) -> Weighted:
    from ..sets import top_k

    total = float(y.sum())
    return Weighted(top_k(kg, y[0], k), total, max(0.0, start_mass - total))


def soft_follow(kg: KnowledgeGraph, kb: ReifiedKG, start: dict[str, float], relations: dict[str, float],
                k: int = 8) -> Weighted:
    """``follow(x, r)`` for ``x = Σ start[e]·e`` and ``r = Σ relations[r]·r``: the heaviest
    ``k`` entities it reaches and the weight that leaves the graph (entities without a fact of the
    chosen relations). Unknown entity or relation names raise the graph's own errors."""
    from ..follow import follow
    from ..sets import one_hot, relation_one_hot

    x = sum(w * one_hot(kg, e) for e, w in start.items())
    r = sum(w * relation_one_hot(kg, rel) for rel, w in relations.items())
    return _weighted(kg, follow(kb, x, r), k, sum(start.values()) * sum(relations.values()))


def soft_intersection(kg: KnowledgeGraph, kb: ReifiedKG, first: tuple[str, dict[str, float]],
                      second: tuple[str, dict[str, float]], mode: str = "min", k: int = 8) -> tuple[Weighted, Weighted, Weighted]:
    """Two one-hop branches, each ``(start entity, {relation: weight})``, and their combination
    (``"min"`` or ``"product"``): ``(branch 1, branch 2, combined)``."""
    from ..follow import follow
    from ..sets import intersect, one_hot, relation_one_hot

    ys = []
    for entity, relations in (first, second):
        r = sum(w * relation_one_hot(kg, rel) for rel, w in relations.items())
        ys.append(follow(kb, one_hot(kg, entity), r))
    both = intersect(ys[0], ys[1], mode=mode)
    return (_weighted(kg, ys[0], k, 1.0), _weighted(kg, ys[1], k, 1.0), _weighted(kg, both, k, 0.0))


def weights_html(title: str, w: Weighted) -> str:
    """A weighted set as an HTML table of bars (scale: weight 1 fills the bar), with the weight
    that left the graph when there is any."""
    body = "".join(
        f'<tr><td>{html.escape(name)}</td><td style="width: 12em"><div style="background: #4c72b0; '
        f'width: {100 * min(1.0, weight):.0f}%; height: 0.8em"></div></td><td>{weight:.3f}</td></tr>'
        for _, name, weight in w.rows) or '<tr><td colspan="3">(nothing reached)</td></tr>'
    left = f"<p>{w.left:.3f} of the weight leaves the graph</p>" if w.left > 1e-6 else ""
    return (f'<div class="kgqa-weights"><b>{html.escape(title)}</b><table>{body}</table>'
            f"<p>total {w.total:.3f}</p>{left}</div>")


class FollowMixer(Displayed):
    """Two sliders — the weight of the first relation against the second, and of the first start
    entity against the second — and the set ``follow`` reaches, recomputed as they move."""

    def __init__(self, kg: KnowledgeGraph, kb: ReifiedKG, relations: tuple[str, str], starts: tuple[str, str],
                 *, relation_weight: float = 0.7, start_weight: float = 0.5) -> None:
        import ipywidgets as w

        for rel in relations:
            kg.relation_index(rel)  # a typo fails here, with the graph's message
        for e in starts:
            kg.entity_index(e)
        self.kg, self.kb, self.relations, self.starts = kg, kb, relations, starts
        a, b = (kg.name_of(e) for e in starts)
        self.relation = weight_slider(f"weight of {relations[0]} (the rest: {relations[1]})", relation_weight)
        self.start = weight_slider(f"weight of {a} in the start set (the rest: {b})", start_weight)
        self.out = w.HTML()
        for s in (self.relation, self.start):
            s.observe(lambda _: self.update(), names="value")
        self.widget = w.VBox([self.relation, self.start, self.out])
        self.update()

    def result(self) -> Weighted:
        p, q = self.relation.value, self.start.value
        return soft_follow(self.kg, self.kb, {self.starts[0]: q, self.starts[1]: 1 - q},
                           {self.relations[0]: p, self.relations[1]: 1 - p})

    def update(self) -> None:
        p, q = self.relation.value, self.start.value
        title = (f"follow({q:.2f} {self.kg.name_of(self.starts[0])} + {1 - q:.2f} {self.kg.name_of(self.starts[1])}, "
                 f"{p:.2f} {self.relations[0]} + {1 - p:.2f} {self.relations[1]})")
        self.out.value = weights_html(title, self.result())


class BranchCombiner(Displayed):
    """Two one-hop branches, each ``(entity, (relation, other relation))`` with a slider for the
    first relation's weight, combined by ``min`` or by the product (a toggle): the two branches and
    their combination side by side."""

    def __init__(self, kg: KnowledgeGraph, kb: ReifiedKG, first: tuple[str, tuple[str, str]],
                 second: tuple[str, tuple[str, str]], *, weights: tuple[float, float] = (0.8, 0.6),
                 mode: str = "min") -> None:
        import ipywidgets as w

        for entity, relations in (first, second):
            kg.entity_index(entity)  # a typo fails here, with the graph's message
            for rel in relations:
                kg.relation_index(rel)
        self.kg, self.kb, self.branches = kg, kb, (first, second)
        self.weights = [weight_slider(f"branch {i}: weight of {rels[0]} (the rest: {rels[1]})", p)
                        for i, ((_, rels), p) in enumerate(zip(self.branches, weights), start=1)]
        self.mode = w.ToggleButtons(options=["min", "product"], value=mode, description="combine")
        self.out = w.HTML()
        for control in (*self.weights, self.mode):
            control.observe(lambda _: self.update(), names="value")
        self.widget = w.VBox([*self.weights, self.mode, self.out])
        self.update()

    def _mixes(self) -> list[tuple[str, dict[str, float]]]:
        return [(entity, {r1: s.value, r2: 1 - s.value}) for (entity, (r1, r2)), s in zip(self.branches, self.weights)]

    def result(self) -> tuple[Weighted, Weighted, Weighted]:
        first, second = self._mixes()
        return soft_intersection(self.kg, self.kb, first, second, self.mode.value)

    def update(self) -> None:
        titles = [f"branch {i}: {self.kg.name_of(entity)}, "
                  + " + ".join(f"{p:.2f} {rel}" for rel, p in mix.items())
                  for i, (entity, mix) in enumerate(self._mixes(), start=1)]
        a, b, both = self.result()
        cells = [weights_html(titles[0], a), weights_html(titles[1], b),
                 weights_html(f"{self.mode.value} of the two", both)]
        self.out.value = ('<div style="display: flex; gap: 2em">'
                          + "".join(f"<div>{c}</div>" for c in cells) + "</div>")
