"""Shared fixtures: the toy world, a tiny hand-made graph, and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgqa.kg import KnowledgeGraph


@pytest.fixture(scope="session")
def toy():
    """The embedded toy world, with inverse relations."""
    from kgqa.toy import toy_kg

    return toy_kg()


@pytest.fixture()
def tiny() -> KnowledgeGraph:
    """Five facts whose traversals are easy to count by hand."""
    return KnowledgeGraph.from_triples(
        [
            ("mona_lisa", "exhibited_at", "louvre"),
            ("louvre", "located_in", "paris"),
            ("paris", "capital_of", "france"),
            ("starry_night", "exhibited_at", "moma"),
            ("moma", "located_in", "new_york"),
        ],
        names={"mona_lisa": "Mona Lisa", "louvre": "Louvre Museum", "paris": "Paris"},
        aliases={"louvre": ["the Louvre"]},
        add_inverses=True,
    )


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real datasets (``KGQA_DATA``); tests using it are skipped, with a reason, without it."""
    value = os.environ.get("KGQA_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("KGQA_DATA is not set to the real-data folder; real-file tests skipped")
    return Path(value)
