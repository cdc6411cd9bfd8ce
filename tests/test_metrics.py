"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from kgqa.metrics import Scores, answer_set_prf, breakdown, gold_mask, hits_at_k, predicted_mask, summarize


def test_hits_at_k_hand_computed():
    scores = torch.tensor([[0.1, 0.9, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0], [0.3, 0.2, 0.25, 0.0]])
    answers = [[1], [0], [2, 3]]
    assert hits_at_k(scores, answers, 1).tolist() == [1.0, 0.0, 0.0]
    assert hits_at_k(scores, answers, 2).tolist() == [1.0, 0.0, 1.0]
    # a row that reached nothing never hits, even with k = E
    assert hits_at_k(scores, answers, 4).tolist() == [1.0, 0.0, 1.0]


def test_gold_outside_graph_is_a_miss():
    assert gold_mask([[5], [-1, 0]], 3).tolist() == [[False] * 3, [True, False, False]]
    assert hits_at_k(torch.tensor([[1.0, 0.0, 0.0]]), [[7]], 1).tolist() == [0.0]


def test_answer_set_prf_hand_computed():
    scores = torch.tensor([[1.0, 0.8, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
    assert predicted_mask(scores).tolist() == [[True, True, False, False], [False] * 4, [False, True, False, False]]
    p, r, f = answer_set_prf(scores, [[0, 2], [], [3]])
    assert p.tolist() == [0.5, 1.0, 0.0]
    assert r.tolist() == [0.5, 1.0, 0.0]
    assert f.tolist() == [0.5, 1.0, 0.0]


def test_summaries_and_breakdown():
    s = Scores.empty(k=2)
    s.add(torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]), [[1], [1], [0]])
    out = summarize(s)
    assert out["n"] == 3 and math.isclose(out["hits@1"], 200 / 3) and out["hits@2"] == pytest.approx(200 / 3)  # a 0 score is never a hit
    by = breakdown(s, ["1-hop", "2-hop", "1-hop"])
    assert by["1-hop"]["hits@1"] == 100.0 and by["2-hop"]["hits@1"] == 0.0 and by["2-hop"]["n"] == 1


def test_shape_errors():
    with pytest.raises(ValueError, match="B = 2"):
        hits_at_k(torch.zeros(3, 4), [[0], [1]])
