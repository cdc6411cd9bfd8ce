"""quick_mode, seed_everything, data_dir and release_memory."""

from __future__ import annotations

import platform
import random

import pytest
import torch

from kgqa.runtime import data_dir, quick_mode, release_memory, seed_everything


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


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_memory_hands_freed_heap_back():
    """200 MB of 4 KiB heap blocks freed behind a block still in use stay resident (glibc keeps
    them in its arena) until release_memory hands them back."""
    blocks = [bytearray(4096) for _ in range(50_000)]
    pin = bytearray(4096)  # allocated last: the freed space is not at the top of the heap
    del blocks
    kept = _rss_mib()
    assert release_memory()
    assert _rss_mib() < kept - 100
    del pin
