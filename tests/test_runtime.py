"""quick_mode and seed_everything."""

from __future__ import annotations

import random

import pytest
import torch

from kgqa.runtime import data_dir, quick_mode, seed_everything


@pytest.mark.parametrize(
    "quick, ci, expected",
    [(None, None, False), ("1", None, True), ("0", "true", False), (None, "true", True), ("yes", None, True)],
)
def test_quick_mode(monkeypatch, quick, ci, expected):
    for name, value in (("KGQA_QUICK", quick), ("CI", ci)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert quick_mode() is expected


def test_seed_everything_repeats():
    seed_everything(7)
    a = (random.random(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), torch.rand(3))
    assert a[0] == b[0] and torch.equal(a[1], b[1])


def test_data_dir_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("KGQA_DATA", raising=False)
    assert data_dir(required=False) is None
    with pytest.raises(FileNotFoundError, match="KGQA_DATA is not set"):
        data_dir()
    monkeypatch.setenv("KGQA_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="not a folder"):
        data_dir()
