"""kgqa explore: the notebook it writes runs and shows the explorer; it never overwrites one."""

from __future__ import annotations

import shutil

import pytest

from kgqa.cli import main


@pytest.fixture()
def run(trained_toy, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(trained_toy[1], folder)
    return folder


def test_explore_writes_a_notebook_that_runs_and_keeps_an_edited_one(run, capsys):
    import nbformat
    from nbclient import NotebookClient

    assert main(["explore", "--checkpoint", str(run), "--no-launch", "--limit", "20"]) == 0
    out = capsys.readouterr().out
    path = run / "explore.ipynb"
    assert f"wrote {path}" in out and "open it with:" in out and "--ip=127.0.0.1" in out
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(run)}}).execute()
    texts = ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("20 test questions of toy" in t for t in texts)
    views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views and not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)

    path.write_text(path.read_text().replace("Type a question", "My notes. Type a question"))
    assert main(["explore", "--checkpoint", str(run), "--no-launch"]) == 0
    assert "exists: opening it as it is" in capsys.readouterr().out and "My notes." in path.read_text()


def test_explore_refuses_what_it_cannot_open(run, tmp_path, capsys):
    assert main(["explore", "--checkpoint", str(tmp_path / "nothing"), "--no-launch"]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
    import importlib.util

    if importlib.util.find_spec("voila") is None:
        assert main(["explore", "--checkpoint", str(run), "--voila", "--no-launch"]) == 2
        assert "voila is not installed" in capsys.readouterr().err
