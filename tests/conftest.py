"""Shared fixtures: the toy world and its questions, a tiny hand-made graph, the tiny random encoder,
a model trained briefly on the toy world (read-only: copy its run folder to change it), figures
closed after every test, and the real-data folder."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(scope="session")
def toy_data():
    """The toy world's question set, split (:func:`kgqa.datasets.load_toy`)."""
    from kgqa.datasets import load_toy

    return load_toy()


@pytest.fixture(scope="session")
def tiny_enc():
    """The tiny random BERT (H = 32), on the CPU: fast, no download."""
    from kgqa.encoders import tiny_encoder

    return tiny_encoder(0, device="cpu")


TOY_TRAINING = dict(epochs=3, batch_size=32, encoder="tiny", patience=10, device="cpu")


@pytest.fixture(scope="session")
def trained_toy(toy_data, tmp_path_factory):
    """``(FitResult, run folder)`` of a single-walk model (hidden 32) trained 3 epochs on the toy
    world with the tiny encoder. Shared: read it, copy the folder to change anything."""
    from kgqa.model import ModelConfig
    from kgqa.train import TrainConfig, fit

    run = tmp_path_factory.mktemp("toy-run")
    return fit(toy_data, ModelConfig(hidden=32), TrainConfig(**TOY_TRAINING), run_dir=run, progress=False), run


@pytest.fixture(autouse=True)
def _close_figures():
    """Every figure a test opened is closed after it."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
