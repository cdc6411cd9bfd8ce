"""Chapter 1's neighbourhood viewer: pick an entity and a radius, see the facts around it.

:func:`neighbourhood_facts` lists the facts among the entities within ``radius`` facts of an entity
(plain data); :class:`NeighbourhoodViewer` is a dropdown of entities (by their unique labels) and a
radius slider over :func:`kgqa.plot.draw_kg`, redrawn as they change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .controls import Displayed

if TYPE_CHECKING:
    from ..kg import KnowledgeGraph

__all__ = ["neighbourhood_facts", "NeighbourhoodViewer"]


def neighbourhood_facts(kg: KnowledgeGraph, entity: str, radius: int = 1) -> list[tuple[str, str, str]]:
    """The facts (inverse relations left out: they mirror facts) among the entities within
    ``radius`` facts of ``entity``, as ``(subject, relation, object)`` ids, sorted."""
    from ..plot.graph import neighbourhood

    inside = neighbourhood(kg, entity, radius)
    return sorted((s, r, o) for s, r, o in kg.string_triples()
                  if s in inside and o in inside and not kg.is_inverse(r))


class NeighbourhoodViewer(Displayed):
    """A dropdown of entities and a radius slider; the drawing of the neighbourhood under them."""

    def __init__(self, kg: KnowledgeGraph, entity: str, radius: int = 1, *, max_radius: int = 3) -> None:
        import ipywidgets as w

        kg.entity_index(entity)  # a typo fails here, with the graph's message
        self.kg = kg
        options = sorted((kg.label(i), e) for i, e in enumerate(kg.entities))
        self.entity = w.Dropdown(options=options, value=entity, description="entity")
        self.radius = w.IntSlider(value=radius, min=1, max=max_radius, description="radius")
        self.summary = w.HTML()
        self.out = w.Output()
        for control in (self.entity, self.radius):
            control.observe(lambda _: self.update(), names="value")
        self.widget = w.VBox([w.HBox([self.entity, self.radius]), self.summary, self.out])
        self.update()

    def facts(self) -> list[tuple[str, str, str]]:
        return neighbourhood_facts(self.kg, self.entity.value, self.radius.value)

    def update(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        from ..plot.graph import draw_kg, neighbourhood

        entity, radius = self.entity.value, self.radius.value
        inside = neighbourhood(self.kg, entity, radius)
        self.summary.value = (f"<p>{len(inside)} entities within {radius} fact(s) of "
                              f"<b>{self.kg.label(entity)}</b>, {len(self.facts())} facts among them</p>")
        self.out.clear_output(wait=True)
        with self.out:
            fig, ax = plt.subplots(figsize=(9, 6))
            draw_kg(self.kg, entities=inside, ax=ax, font_size=8, title=f"within {radius} of {self.kg.label(entity)}")
            display(fig)
            plt.close(fig)
