"""What every training benchmark records and where it writes it: shared by the scripts here.

Each script builds its rows, describes the run with :func:`run_meta` and hands both to
:func:`write_results`, which writes ``results/NAME[-TAG].json`` (meta + rows) and ``.md`` (the
script's own Markdown table) and prints the table.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent / "results"


def run_meta(**fields: Any) -> dict[str, Any]:
    """The command line, then ``fields``, then the torch version and the machine."""
    return {"command": "python " + " ".join(sys.argv), **fields, "torch": torch.__version__,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads"}


def peak_rss_gib() -> float:
    """The most resident memory this process has held so far, in GiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def write_results(name: str, tag: str, meta: dict[str, Any], rows: list[dict],
                  markdown: Callable[[list[dict], dict], str]) -> None:
    """Write ``results/name[-tag].json`` and ``.md`` and print the Markdown table."""
    OUT.mkdir(parents=True, exist_ok=True)
    stem = name + (f"-{tag}" if tag else "")
    table = markdown(rows, meta)
    (OUT / f"{stem}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (OUT / f"{stem}.md").write_text(table)
    print(table)
