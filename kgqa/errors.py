"""Typed errors that say what went wrong and where.

Every error the package raises on bad input derives from :class:`KGQAError`, so a caller can
catch them all at once; each message names the file and line, or the unknown name together with
its closest matches, so that the user can fix the input without reading a stack trace.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "KGQAError",
    "KGFormatError",
    "DuplicateTripleError",
    "EmptyKGError",
    "UnknownNameError",
    "UnknownEntityError",
    "UnknownRelationError",
    "UnknownDatasetError",
    "AmbiguousEntityError",
    "QAFormatError",
    "MissingDataError",
    "ShapeError",
    "WeightError",
    "DeviceMismatchError",
    "close_matches",
]


class KGQAError(Exception):
    """Base class of every error raised by kgqa on bad input."""


class KGFormatError(KGQAError, ValueError):
    """A data file is malformed. ``path`` and ``line`` (1-based) say where."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class DuplicateTripleError(KGFormatError):
    """The same (subject, relation, object) fact appears twice."""


class EmptyKGError(KGFormatError):
    """A knowledge graph file (or triple list) holds no facts."""


class QAFormatError(KGFormatError):
    """A question file is malformed (a line without a tab, a missing bracket, no questions)."""


class MissingDataError(KGQAError, FileNotFoundError):
    """A data file is not where it should be; the message says which and where to get it."""

    def __init__(self, message: str, *, path: str | Path | None = None):
        super().__init__(message)
        self.filename = None if path is None else str(path)

    def __str__(self) -> str:  # OSError would format errno fields
        return str(self.args[0])


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The ``n`` candidates closest to ``name`` (case-insensitive), best first."""
    lowered: dict[str, str] = {}
    for cand in candidates:
        lowered.setdefault(cand.lower(), cand)
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[f] for f in found]


class UnknownNameError(KGQAError, LookupError):
    """A name that is not in a vocabulary; the message lists the closest known names."""

    kind = "name"

    def __init__(self, name: object, suggestions: list[str] | None = None, where: str = ""):
        self.name = name
        self.suggestions = suggestions or []
        msg = f"unknown {self.kind} {name!r}"
        if where:
            msg += f" in {where}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError would quote the whole message
        return str(self.args[0])


class UnknownEntityError(UnknownNameError):
    """An entity id, name or index that the knowledge graph does not have."""

    kind = "entity"


class UnknownRelationError(UnknownNameError):
    """A relation name or index that the knowledge graph does not have."""

    kind = "relation"


class UnknownDatasetError(UnknownNameError):
    """A dataset name that the registry (``kgqa.datasets.DATASETS``) does not have."""

    kind = "dataset"


class AmbiguousEntityError(KGQAError, LookupError):
    """A display name shared by several entities, where one entity was meant."""

    def __init__(self, name: str, candidates: list[str], where: str = ""):
        self.name = name
        self.candidates = candidates
        msg = f"name {name!r}" + (f" in {where}" if where else "")
        msg += (f" is shared by {len(candidates)} entities ({', '.join(map(repr, candidates[:5]))}"
                f"{', ...' if len(candidates) > 5 else ''}); write the entity id instead")
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


class ShapeError(KGQAError, ValueError):
    """A tensor argument has the wrong shape, dtype or layout (the message names it and the expected shape)."""


class WeightError(KGQAError, ValueError):
    """A weight tensor holds NaN, infinite or negative values."""


class DeviceMismatchError(KGQAError, ValueError):
    """Tensors that must share a device do not (e.g. a CUDA query against a CPU knowledge graph)."""
