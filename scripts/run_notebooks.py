"""Execute notebooks in place (full mode) and strip volatile metadata, for committing.

Live widgets are not kept: their state would only replay the values they had when the notebook
ran, and a page without it shows their text repr (``VBox(children=(...``). Every widget in the
book has a static twin printed before it, which carries the content; the widget's own output is
replaced by a one-line note saying to run the cell.

Usage: python scripts/run_notebooks.py notebooks/01_toy_knowledge_graph.ipynb [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(a live widget: run this cell in Jupyter to use it; the output above shows the same content)"


def strip(nb: nbformat.NotebookNode) -> None:
    """Drop execution timings and kernel-specific metadata that change on every run."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    lang = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {"name": lang.get("name", "python")}
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell["id"] = f"c{i:03d}"
        if cell.cell_type == "code":
            for out in cell.outputs:
                out.get("metadata", {}).pop("transient", None)
                if WIDGET in out.get("data", {}):
                    out["data"] = {"text/plain": WIDGET_NOTE}


def main(paths: list[str]) -> None:
    for p in paths:
        path = Path(p)
        nb = nbformat.read(path, as_version=4)
        print(f"running {path} ...", flush=True)
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        strip(nb)
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(sys.argv[1:])
