"""kgqa.text: the three strengths of text folding, against hand-written cases."""

from __future__ import annotations

import doctest

import pytest

import kgqa.text
from kgqa.text import fold, fold_aligned, match_key


def test_doctest():
    assert doctest.testmod(kgqa.text).failed == 0


@pytest.mark.parametrize("text, folded", [("Padmé ÉPISODE", "padme episode"), ("Straße", "strasse"),
                                          ("Тарковский", "тарковскии")])
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["Grégoire_Colin", "Padmé Amidala", "Straße_x", "東京_物語", "ABC_def"])
def test_fold_aligned_keeps_every_offset(text):
    out = fold_aligned(text)
    assert len(out) == len(text)
    assert all(o == " " for o, c in zip(out, text) if c == "_")
    assert out.replace(" ", "") == "".join(c for c in out if c != " ")


@pytest.mark.parametrize("text, key", [("  Grégoire_COLIN-Smith, Jr. ", "gregoire colin smith jr"),
                                       ("Ocean's Eleven", "oceans eleven"), ("東京_物語", "東京 物語"), ("--", "")])
def test_match_key(text, key):
    assert match_key(text) == key
