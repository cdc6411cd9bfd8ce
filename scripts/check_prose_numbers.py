"""Check that the numbers a chapter's prose states are the numbers its outputs show.

    python scripts/check_prose_numbers.py notebooks/04_end_to_end_qa.ipynb notebooks/05_entity_resolution.ipynb

Every decimal number in a markdown cell (``95.5``, ``0.214``, ``58%``) must be *backed*: it appears
among the numbers of the committed outputs or code of the cells around it (the whole chapter for
its summary), or of docs/results.md (results quoted from the benchmarks), or, followed by "point(s)", the difference of two such numbers ("loses 7.0 points": 95.5 − 88.5).
Numbers are compared at the precision the prose writes them. Prints each unbacked number with its
cell and context and exits 1 when there is one; ``tests/test_docs.py`` runs it on the chapters
listed there. Whole numbers are not checked (too many are counts of the text itself), nor numbers in
code spans and formulas; a difference is accepted only where the prose says "points".
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DECIMAL = re.compile(r"(?<![\w.^])(\d+\.\d+)(?![\w.])")  # 95.5, 0.214; not 2.13.0, not 1e-6, not x^1.5
ANY_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
WINDOW_BEFORE, WINDOW_AFTER = 6, 4  # cells around a markdown cell whose outputs it may quote
MATH = re.compile(r"`[^`]*`|\$[^$]*\$")  # code spans and formulas: written by hand, not measured


def _cell_text(cell: dict) -> str:
    """What a code cell computed or was told: its source and its outputs' text."""
    if cell["cell_type"] != "code":
        return ""
    parts = ["".join(cell["source"])]
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for kind in ("text/plain", "text/markdown"):
            parts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def _values(text: str) -> set[float]:
    """Every number of ``text``, and the magnitude of each negative one (prose writes "−2.18" with a
    typographic minus, which the decimal pattern reads as 2.18)."""
    values = {float(m) for m in ANY_NUMBER.findall(text)}
    return values | {-v for v in values if v < 0}


def unbacked(path: Path, extra: str = "") -> list[tuple[int, str, str]]:
    """``(cell, number, context)`` for each decimal number of the prose that nothing backs."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    everything = "\n".join(_cell_text(c) for c in cells)
    quoted = _values(extra)
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        # prose speaks of the outputs around it; a summary, of the whole chapter
        near = everything if source.lstrip().startswith("## Summary") else \
            "\n".join(_cell_text(c) for c in cells[max(0, i - WINDOW_BEFORE): i + WINDOW_AFTER + 1])
        cites = "docs/results.md" in source or "benchmarks/" in source  # quotes measured results
        values = _values(near) | (quoted if cites else set())
        prose = MATH.sub(" ", source)
        for m in DECIMAL.finditer(prose):
            text = m.group(1)
            digits = len(text.split(".")[1])
            x = float(text)
            tol = 0.5 * 10 ** -digits + 1e-9

            def close(v: float) -> bool:
                return abs(v - x) <= tol

            if any(close(v) for v in values):
                continue
            after = prose[m.end(): m.end() + 12]
            if "point" in after:  # "loses 7.0 points": a difference of two backed numbers
                rounded = {round(v, digits) for v in values}
                if any(round(v - x, digits) in rounded for v in values if v > x):
                    continue
            found.append((i, text, prose[max(0, m.start() - 50): m.end() + 30].replace("\n", " ")))
    return found


def main(paths: list[str]) -> int:
    extra = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    bad = 0
    for p in paths:
        for cell, number, context in unbacked(Path(p), extra):
            print(f"{p}: cell {cell}: {number} is not among the outputs: ...{context}...")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
