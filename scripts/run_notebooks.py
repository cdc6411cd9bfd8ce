"""Execute notebooks in place (full mode) and strip volatile metadata, for committing.

Live widgets are not kept: their state would only replay the values they had when the notebook
ran, and a page without it shows their text repr (``VBox(children=(...``). Every widget in the
book has a static twin printed before it, which carries the content; the widget's own output is
replaced by a one-line note saying to run the cell.

The notebook metadata is what JupyterLab itself writes when it connects to the ipykernel of this
environment (kernelspec "Python 3 (ipykernel)", the kernel's full language_info with its Python
version): anything else — a shorter language_info, or none — is rewritten by JupyterLab on opening,
which marks a notebook that nobody edited as modified.

Usage: python scripts/run_notebooks.py notebooks/01_toy_knowledge_graph.ipynb [...]
       python scripts/run_notebooks.py --metadata-only notebooks/*.ipynb   (no execution)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from kgqa.runtime import notebook_metadata

WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(a live widget: run this cell in Jupyter to use it; the output above shows the same content)"


def strip(nb: nbformat.NotebookNode) -> None:
    """Drop execution timings, widget state and the ids that change on every run; write the
    metadata JupyterLab expects."""
    nb.metadata.pop("widgets", None)
    nb.metadata.update(notebook_metadata())
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell["id"] = f"c{i:03d}"
        if cell.cell_type == "code":
            for out in cell.outputs:
                out.get("metadata", {}).pop("transient", None)
                if WIDGET in out.get("data", {}):
                    out["data"] = {"text/plain": WIDGET_NOTE}


def main(paths: list[str]) -> None:
    run = "--metadata-only" not in paths
    for p in [p for p in paths if p != "--metadata-only"]:
        path = Path(p)
        nb = nbformat.read(path, as_version=4)
        if run:
            print(f"running {path} ...", flush=True)
            NotebookClient(nb, timeout=3600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        strip(nb)
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(sys.argv[1:])
