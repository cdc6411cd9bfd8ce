"""The README and docs/ stay short and true: size, links that resolve, a generated package page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "results" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchor of every heading of a Markdown page: lower case, punctuation dropped,
    spaces as hyphens."""
    out = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def test_readme_is_at_most_10_kb():
    assert len((ROOT / "README.md").read_bytes()) <= 10 * 1024


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked here
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: {target} -> {dest} does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{page.name}: {target}: no heading with anchor #{anchor}"


def test_package_page_is_generated_from_the_module_docstrings():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "package_reference.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_every_module_has_a_docstring():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from package_reference import modules, summary
    finally:
        sys.path.pop(0)
    assert [name for name, path in modules() if not summary(path)] == []


def test_results_index_is_generated_from_the_json():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_show_no_widget_as_text_and_keep_the_standard_metadata(notebook):
    """A saved widget's text repr (``VBox(children=...``) means the committed outputs were not
    written by scripts/run_notebooks.py, which replaces it by a note (the static twin above it
    carries the content); the metadata is what JupyterLab writes, so opening does not modify it."""
    import json

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"}
    assert set(nb["metadata"]["language_info"]) >= {"codemirror_mode", "name", "pygments_lexer", "version"}
    assert "widgets" not in nb["metadata"]
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data, f"cell {i}"
            text = "".join(data.get("text/plain", []))
            assert not re.match(r"(VBox|HBox|Box|Text|Dropdown|FloatSlider|IntSlider|PathGraph|HTML)\(", text), \
                f"cell {i} shows a widget as text: {text[:60]}"


# the notebooks whose prose is checked against their outputs
PROSE_CHECKED = ["01_toy_knowledge_graph", "02_graph_traversal", "04_end_to_end_qa", "05_entity_resolution",
                 "06_intersection", "07_entity_resolution_meets_intersection", "08_beyond_follow", "09_experiments",
                 "10_explorer",
                 *(f"solutions/{n}_solutions" for n in ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10"))]


@pytest.mark.parametrize("chapter", PROSE_CHECKED)
def test_the_numbers_of_the_prose_are_those_of_the_outputs(chapter):
    """Every decimal the prose states is among the outputs around it (scripts/check_prose_numbers.py)."""
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_prose_numbers.py"),
                          str(ROOT / "notebooks" / f"{chapter}.ipynb")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_the_prose_number_check_catches_a_changed_number(tmp_path):
    """A number changed in the prose (95.5 → 95.7) and nowhere else is reported, with its cell."""
    import json

    nb = json.loads((ROOT / "notebooks" / "04_end_to_end_qa.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("95.5% of"))
    cell["source"] = ["95.7" + "".join(cell["source"])[4:]]
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps(nb), encoding="utf-8")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_prose_numbers.py"), str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "95.7 is not among the outputs" in run.stdout
