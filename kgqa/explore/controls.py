"""What the book's widgets share: :class:`Displayed`, the hook that lets a notebook show a widget
object by its ``widget`` box, and :func:`weight_slider`, the 0–1 slider every weight is set with."""

from __future__ import annotations

from typing import Any

__all__ = ["Displayed", "weight_slider"]


class Displayed:
    """A widget object whose ipywidgets box is ``self.widget``: a notebook cell ending in the object
    displays that box."""

    widget: Any

    def _ipython_display_(self) -> None:  # pragma: no cover - a notebook front end
        from IPython.display import display

        display(self.widget)


def weight_slider(description: str, value: float, *, max_width: str = "56em") -> Any:
    """A slider for a weight in [0, 1] in steps of 0.05, its description in full, recomputing as it
    is dragged."""
    import ipywidgets as w

    return w.FloatSlider(value=value, min=0.0, max=1.0, step=0.05, description=description, readout_format=".2f",
                         continuous_update=True, style={"description_width": "initial"},
                         layout=w.Layout(width="100%", max_width=max_width))
