"""How text is compared: case and accents folded, in three strengths, written once.

- :func:`fold` — case-folded, accents stripped: ``"Padmé ÉPISODE"`` → ``"padme episode"`` (tokens
  of the pipeline's linker and parser);
- :func:`fold_aligned` — the same, plus ``_`` read as a space, one character out per character in,
  so a match found in the folded text is at the same offsets in the original (finding a mention);
- :func:`match_key` — :func:`fold`, plus ``_`` and dashes read as spaces, other punctuation dropped
  and blanks collapsed: the key two names must share to match exactly (the candidate index).

>>> match_key("  Grégoire_COLIN-Smith, Jr. ")
'gregoire colin smith jr'
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "fold_aligned", "match_key", "strip_accents"]


def strip_accents(text: str) -> str:
    """``text`` with combining accents removed after Unicode NFKD ("é" is "e" + an accent)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case-fold and strip accents: ``"Padmé"`` → ``"padme"``."""
    return strip_accents(text.casefold())


def fold_aligned(text: str) -> str:
    """Case-fold, strip accents and read ``_`` as a space, keeping one character per character (a
    character whose folded form is not one character is kept as it is)."""
    if text.isascii():
        return text.lower().replace("_", " ")
    out = []
    for c in text:
        low = (strip_accents(c) or c).lower()
        out.append(" " if c == "_" else (low if len(low) == 1 else c))
    return "".join(out)


class _CharTable(dict):
    """``str.translate`` table, filled lazily: dashes, connectors (``_``) and blanks become a space,
    other punctuation is dropped (``None``), everything else stays."""

    def __missing__(self, code: int) -> str | int | None:
        cat = unicodedata.category(chr(code))
        value = " " if cat in ("Pd", "Pc") or chr(code).isspace() else None if cat.startswith("P") else code
        self[code] = value
        return value


_TABLE = _CharTable()


def match_key(text: str) -> str:
    """Case-fold, strip accents, read ``_`` and ``-`` as spaces, drop punctuation, collapse blanks."""
    return " ".join(fold(text).translate(_TABLE).split())
