"""Reading and writing knowledge graphs: triple files in, a saved folder out and back.

- :func:`read_triples` parses ``subject|relation|object`` (MetaQA) and tab-separated
  (WorldCup2014, PathQuestion) files into string triples with their line numbers, reporting the
  first malformed line with its file and line;
- :func:`save_kg` / :func:`read_saved_kg` write a graph to a folder and read it back exactly,
  each file written to a temporary name and renamed, and checked against a fingerprint on load.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from .errors import EmptyKGError, KGFormatError, MissingDataError
from .types import Triple

if TYPE_CHECKING:  # pragma: no cover
    from .kg import KnowledgeGraph

__all__ = ["read_triples", "save_kg", "read_saved_kg", "join_aliases", "split_aliases", "atomic_write", "SAVE_FORMAT"]

SAVE_FORMAT = 1  # version of the folder layout written by save_kg


def save_kg(kg: KnowledgeGraph, directory: str | os.PathLike) -> Path:
    """Write the graph to ``directory`` (created if needed) so :func:`read_saved_kg` restores it.

    Layout: ``entities.tsv`` (id, name, aliases, type), ``relations.txt``, ``triples.tsv``
    (indices), ``kg.json`` (format version, counts, fingerprint). Each file is written to a
    temporary name and renamed, so an interrupted save never leaves a half-written file.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for text in (*kg.entities, *kg.names, *kg.types, *kg.relations,
                 *(a for al in kg.aliases for a in al)):
        if any(c in text for c in "\t\n\r"):
            raise KGFormatError(f"cannot save {text!r}: tabs and newlines are not allowed in names")
    ents = "id\tname\taliases\ttype\n" + "".join(
        f"{e}\t{n}\t{join_aliases(a)}\t{t}\n"
        for e, n, a, t in zip(kg.entities, kg.names, kg.aliases, kg.types)
    )
    atomic_write(out / "entities.tsv", ents)
    atomic_write(out / "relations.txt", "".join(r + "\n" for r in kg.relations))
    atomic_write(out / "triples.tsv", "".join(f"{s}\t{r}\t{o}\n" for s, r, o in kg.triples.tolist()))
    meta = {"format": SAVE_FORMAT, "entities": kg.num_entities, "relations": kg.num_relations,
            "triples": kg.num_triples, "fingerprint": kg.fingerprint(), "source": kg.source}
    atomic_write(out / "kg.json", json.dumps(meta, indent=2) + "\n")
    return out

def join_aliases(aliases: tuple[str, ...]) -> str:
    """The aliases field of ``entities.tsv``: aliases joined by ``|``, a ``|`` or ``\\`` inside an
    alias escaped with a backslash (:func:`split_aliases` reads it back)."""
    return "|".join(a.replace("\\", "\\\\").replace("|", "\\|") for a in aliases)


def split_aliases(field: str) -> tuple[str, ...]:
    """The aliases of a field written by :func:`join_aliases`."""
    out, cur, chars = [], [], iter(field)
    for c in chars:
        if c == "\\":
            cur.append(next(chars, "\\"))
        elif c == "|":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return tuple(a for a in out if a)


def _read_text(path: Path) -> str:
    """A saved graph's file as text, or a :class:`KGFormatError` naming it."""
    if not path.is_file():
        raise KGFormatError("missing (the saved graph is incomplete)", path=path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise KGFormatError(f"not UTF-8 text ({err.reason} at byte {err.start})", path=path) from None
    except OSError as err:
        raise KGFormatError(f"cannot read ({err.strerror or err})", path=path) from None


def read_saved_kg(directory: str | os.PathLike) -> tuple[dict[str, Any], str | None]:
    """The parts of a graph written by :func:`save_kg` — the keyword arguments of the
    :class:`~kgqa.kg.KnowledgeGraph` constructor — and the fingerprint recorded with them, which
    :meth:`KnowledgeGraph.load_saved <kgqa.kg.KnowledgeGraph.load_saved>` checks."""
    d = Path(directory)
    meta_path = d / "kg.json"
    if not meta_path.is_file():
        raise KGFormatError("not a saved knowledge graph (kg.json is missing)", path=d)
    try:
        meta = json.loads(_read_text(meta_path))
    except json.JSONDecodeError as err:
        raise KGFormatError(f"not valid JSON ({err})", path=meta_path) from None
    if not isinstance(meta, dict):
        raise KGFormatError(f"expected a JSON object, got {type(meta).__name__}", path=meta_path)
    if meta.get("format") != SAVE_FORMAT:
        raise KGFormatError(f"unsupported format {meta.get('format')!r}", path=meta_path)
    ids, names, aliases, types = [], [], [], []
    ent_path = d / "entities.tsv"
    for n, line in enumerate(_read_text(ent_path).split("\n")[1:], start=2):
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise KGFormatError(f"expected 4 tab-separated fields, got {len(parts)}", path=ent_path, line=n)
        ids.append(parts[0])
        names.append(parts[1])
        aliases.append(split_aliases(parts[2]))
        types.append(parts[3])
    relations = _read_text(d / "relations.txt").splitlines()
    trip_path = d / "triples.tsv"
    text = _read_text(trip_path)
    triples = _parse_triples_fast(text, len(ids), len(relations))
    if triples is None:  # something is off: the line-by-line reader says what and where
        triples = _parse_triples(text, trip_path, len(ids), len(relations))
    parts = {"entities": ids, "relations": relations, "triples": triples,
             "names": names, "aliases": aliases, "types": types, "source": str(meta.get("source", str(d)))}
    return parts, meta.get("fingerprint")


_TRIPLE_LINES = re.compile(r"\n*(?:-?[0-9]+\t-?[0-9]+\t-?[0-9]+(?:\n+|\Z))*")  # ASCII digits, tabs, LF


def _parse_triples_fast(text: str, n_entities: int, n_relations: int) -> torch.Tensor | None:
    """``(T, 3)`` index triples of a well-formed ``triples.tsv`` in one vectorised pass, or None
    when any line is not three tab-separated integers in range."""
    import numpy as np

    if not _TRIPLE_LINES.fullmatch(text):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns, rather than fails, on a number it cannot read
            arr = np.fromstring(text, dtype=np.int64, sep=" ").reshape(-1, 3)  # any whitespace separates
    except (ValueError, OverflowError, DeprecationWarning):
        return None
    if arr.size and (arr.min() < 0 or arr[:, [0, 2]].max() >= n_entities or arr[:, 1].max() >= n_relations):
        return None
    return torch.from_numpy(arr)


def _parse_triples(text: str, trip_path: Path, n_entities: int, n_relations: int) -> torch.Tensor:
    """The line-by-line reader of ``triples.tsv``: the first bad line raises a
    :class:`KGFormatError` naming it."""
    rows = []
    for n, ln in enumerate(text.splitlines(), start=1):
        if not ln:
            continue
        fields = ln.split("\t")
        if len(fields) != 3 or not all(f.strip().lstrip("-").isdigit() for f in fields):
            raise KGFormatError(f"expected three tab-separated integers, got {ln[:80]!r}", path=trip_path, line=n)
        row = [int(f) for f in fields]
        for value, size, what in zip(row, (n_entities, n_relations, n_entities), ("subject", "relation", "object")):
            if not 0 <= value < size:
                raise KGFormatError(f"{what} index {value} out of range [0, {size})", path=trip_path, line=n)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, 3)


def read_triples(
    path: str | os.PathLike, *, sep: Literal["auto", "tab", "pipe"] = "auto"
) -> tuple[list[Triple], list[int]]:
    """Read string triples and their 1-based line numbers from a ``|``- or tab-separated file.

    ``sep="auto"`` decides from the first fact line: a tab means tab-separated, else ``|``.
    """
    p = Path(path)
    if p.is_dir():
        raise KGFormatError("is a directory, not a triple file (a folder written by KnowledgeGraph.save "
                            "loads with KnowledgeGraph.load_saved)", path=p)
    if not p.is_file():
        raise MissingDataError(f"{p}: no such knowledge-graph file", path=p)
    triples: list[Triple] = []
    lines: list[int] = []
    delim: str | None = {"tab": "\t", "pipe": "|"}.get(sep)
    try:
        f = open(p, "rb")
    except OSError as err:
        raise KGFormatError(f"cannot read ({err.strerror or err})", path=p) from None
    with f:
        for n, raw_bytes in enumerate(f, start=1):
            try:
                raw = raw_bytes.decode("utf-8-sig" if n == 1 else "utf-8")  # a byte-order mark is no name
            except UnicodeDecodeError as err:
                raise KGFormatError(f"not UTF-8 text ({err.reason} at byte {err.start})",
                                    path=p, line=n) from None
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if delim is None:
                delim = "\t" if "\t" in line else "|"
            parts = [x.strip() for x in line.split(delim)]
            if delim == "\t":
                parts = [x for x in parts if x]  # some files repeat tabs
            if len(parts) != 3 or not all(parts):
                shown = line if len(line) <= 80 else line[:77] + "..."
                kind = "tab" if delim == "\t" else "'|'"
                raise KGFormatError(
                    f"expected subject{delim}relation{delim}object ({kind}-separated), "
                    f"got {len(parts)} field(s): {shown!r}",
                    path=p, line=n,
                )
            triples.append((parts[0], parts[1], parts[2]))
            lines.append(n)
    if not triples:
        raise EmptyKGError("no facts found (the file is empty or holds only comments)", path=p)
    return triples, lines


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
