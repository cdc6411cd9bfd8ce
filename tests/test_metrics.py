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


def test_scores_add_matches_dense_reference_on_random_batches():
    """Scores.add ranks once and counts the gold from its entries; a dense (B, E) gold mask with
    explicit loops is the oracle, on random scores with ties, zero rows, duplicate and
    out-of-graph answers."""
    g = torch.Generator().manual_seed(0)
    for trial in range(30):
        B, E = int(torch.randint(1, 9, (1,), generator=g)), int(torch.randint(1, 40, (1,), generator=g))
        scores = (torch.randint(0, 4, (B, E), generator=g).float() / 3) * (torch.rand(B, E, generator=g) > 0.3)
        answers = [[int(i) for i in torch.randint(-1, E + 2, (int(torch.randint(0, 4, (1,), generator=g)),),
                                                 generator=g)] for _ in range(B)]
        k = int(torch.randint(1, 5, (1,), generator=g))
        got = Scores.empty(k)
        got.add(scores, answers)
        gold = gold_mask(answers, E)
        order = scores.topk(min(k, E), dim=1)
        for b in range(B):
            hits = [bool(gold[b, i]) and v > 0 for v, i in zip(order.values[b].tolist(), order.indices[b].tolist())]
            assert got.hits1[b] == float(hits[0]) and got.hits_k[b] == float(any(hits))
            pred = {i for i in range(E) if scores[b].max() > 0 and scores[b, i] >= 0.5 * scores[b].max()}
            true = {i for i in range(E) if gold[b, i]}
            p = len(pred & true) / len(pred) if pred else float(not true)
            r = len(pred & true) / len(true) if true else float(not pred)
            assert math.isclose(got.f1[b], 2 * p * r / (p + r) if p + r else 0.0, abs_tol=1e-6), (trial, b)
