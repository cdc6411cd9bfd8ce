"""``kgqa explore``: the explorer on a saved model, in JupyterLab (or voila).

It writes ``explore.ipynb`` into the run folder — load the model, list the questions it was
tested on (misses first), show the explorer — and opens it. A notebook already there is opened as
it is, never overwritten (it may hold your own cells); ``--no-launch`` only writes it and prints
the command that opens it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from .args import UsageError

__all__ = ["add_command", "write_notebook"]

NOTEBOOK = "explore.ipynb"


def write_notebook(path: Path, checkpoint: Path, split: str | None, limit: int) -> None:
    """The explorer notebook for ``checkpoint``: its ``split`` questions (the first ``limit``),
    or a question box alone when ``split`` is None."""
    import nbformat

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    questions = ("questions = []  # no question list: type questions into the box" if split is None else
                 f"questions, dataset = recorded_split(system, checkpoint, {split!r})\n"
                 f"questions = questions[:{limit}]\n"
                 f"print(f\"{{len(questions)}} {split} questions of {{dataset}}\")")
    cells = [
        md(f"# Explorer: `{checkpoint}`\n\nType a question and press Enter (mark an entity as `[name]`, or "
           "let the model find it), or pick one from the list: its misses (✗) come first, gold answers are "
           "ticked ✓. Point at an answer in the graph to see the paths that carry it. Chapter 10 of the book "
           "walks through what to look at."),
        code("import transformers\n\nfrom kgqa.cli.run_data import recorded_split\nfrom kgqa.explore import Explorer\n"
             "from kgqa.qa import QASystem\n\ntransformers.logging.disable_progress_bar()\n"
             f"checkpoint = {str(checkpoint)!r}\nsystem = QASystem.from_pretrained(checkpoint)\n{questions}"),
        code("explorer = Explorer(system, questions=questions, k=5)\nexplorer"),
    ]
    from ..runtime import notebook_metadata

    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update(notebook_metadata())  # opening it does not mark it modified
    nbformat.write(nb, path)


def _explore(args: argparse.Namespace) -> int:
    from ..checkpoint import resolve_checkpoint

    resolve_checkpoint(args.checkpoint)  # a typed error when it is not a checkpoint
    run = Path(args.checkpoint).resolve()
    path = run / NOTEBOOK
    if path.exists():
        print(f"{path} exists: opening it as it is (delete it for a fresh one)")
    else:
        write_notebook(path, run, None if args.split == "none" else args.split, args.limit)
        print(f"wrote {path}")
    if args.voila:
        if importlib.util.find_spec("voila") is None:
            raise UsageError("--voila: voila is not installed (pip install voila), or leave --voila out for JupyterLab")
        cmd = [sys.executable, "-m", "voila", str(path), "--Voila.ip=127.0.0.1", f"--port={args.port}"]
    else:
        cmd = [sys.executable, "-m", "jupyterlab", str(path), "--ip=127.0.0.1", f"--port={args.port}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
    if args.no_launch:
        print("open it with: " + " ".join(cmd))
        return 0
    os.execv(cmd[0], cmd)  # the server replaces this process: Ctrl-C stops it as usual
    return 0  # pragma: no cover


def add_command(sub) -> None:
    from .args import positive_int

    ex = sub.add_parser("explore", help="open the explorer on a checkpoint (JupyterLab, or voila)")
    ex.add_argument("--checkpoint", required=True, metavar="RUN",
                    help="a run folder written by kgqa train (its best/ checkpoint), or a checkpoint folder; required")
    ex.add_argument("--split", default="test", choices=["train", "dev", "test", "none"],
                    help="which questions of its dataset to list (default: test; none: a question box only)")
    ex.add_argument("--limit", type=positive_int, default=500, help="list at most this many questions (default: 500)")
    ex.add_argument("--port", type=positive_int, default=8888, help="port on 127.0.0.1 (default: 8888)")
    ex.add_argument("--voila", action="store_true", help="serve it with voila (an app, no code) instead of JupyterLab")
    ex.add_argument("--no-launch", action="store_true", help="write the notebook and print how to open it")
    ex.set_defaults(func=_explore)
