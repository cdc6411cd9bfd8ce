"""kgqa.paths: the paths that carry an answer's weight, against every path enumerated by hand."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kgqa.follow import ReifiedKG, follow
from kgqa.paths import top_paths


def walk(kb: ReifiedKG, x0: torch.Tensor, rs: torch.Tensor, keeps: torch.Tensor) -> torch.Tensor:
    """``(T + 1, E)``: x_0 and x_t = keep_t ⊙ follow(x_{t-1}, r_t), as the model walks."""
    xs = [x0]
    for r, keep in zip(rs, keeps):
        xs.append(keep * follow(kb, xs[-1][None], r[None], frontier="dense")[0])
    return torch.stack(xs)


def every_path(triples, weights, x0, rs, keeps, att, target):
    """Every chain of facts ending at ``target``, with its term a_t · x_0[e_0] · Π r · w · keep."""
    facts = triples.tolist()
    out: dict[tuple, float] = {}
    for t in range(1, rs.shape[0] + 1):
        for chain in itertools.product(range(len(facts)), repeat=t):
            ents = [facts[chain[0]][0]]
            term = float(att[t - 1]) * float(x0[ents[0]])
            ok = True
            for i, f in enumerate(chain):
                s, k, o = facts[f]
                if s != ents[-1]:
                    ok = False
                    break
                term *= float(rs[i, k]) * float(weights[f]) * float(keeps[i, o])
                ents.append(o)
            if ok and ents[-1] == target and term > 0:
                key = (tuple(ents), tuple(facts[f][1] for f in chain))
                out[key] = out.get(key, 0.0) + term
    return out


@st.composite
def walks(draw):
    E = draw(st.integers(2, 5))
    R = draw(st.integers(1, 3))
    T = draw(st.integers(1, 3))
    facts = draw(st.lists(st.tuples(st.integers(0, E - 1), st.integers(0, R - 1), st.integers(0, E - 1)),
                          min_size=1, max_size=9 if T < 3 else 6))
    return torch.tensor(facts), E, R, T, draw(st.integers(0, 2**31 - 1)), draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(walks())
def test_top_paths_are_the_largest_terms_and_all_of_them_sum_to_the_score(case):
    triples, E, R, T, seed, weighted = case
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(len(triples), generator=g, dtype=torch.float64) + 0.1 if weighted else torch.ones(len(triples),
                                                                                                      dtype=torch.float64)
    kb = ReifiedKG.from_tensors(triples, E, R, fact_weights=w if weighted else None)
    x0 = torch.rand(E, generator=g, dtype=torch.float64) * (torch.rand(E, generator=g) < 0.6)
    rs = torch.softmax(torch.randn(T, R, generator=g, dtype=torch.float64), -1)
    keeps = torch.rand(T, E, generator=g, dtype=torch.float64) * (torch.rand(T, E, generator=g) < 0.8)  # soft & hard masks
    att = torch.softmax(torch.randn(T, generator=g, dtype=torch.float64), -1)
    xs = walk(kb, x0, rs, keeps)
    score = (att[:, None] * xs[1:]).sum(0)
    for target in range(E):
        want = every_path(triples, w, x0, rs, keeps, att, target)
        got = top_paths(kb, xs, rs, att, target, n=10_000)
        assert sum(p.weight for p in got) == pytest_approx(float(score[target]))
        assert {(p.entities, p.relations): p.weight for p in got}.keys() == want.keys()
        for p in got:
            assert abs(p.weight - want[(p.entities, p.relations)]) < 1e-9
        top = top_paths(kb, xs, rs, att, target, n=2)
        assert [p.weight for p in top] == sorted((p.weight for p in got), reverse=True)[:2]


def pytest_approx(v: float):
    import pytest

    return pytest.approx(v, rel=1e-9, abs=1e-12)


def test_a_path_that_misses_the_answer_is_never_listed():
    """The argmax relation of each hop may lead elsewhere; the listed path is the one that reaches."""
    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [0, 2, 3], [3, 1, 4]])  # 0 -a-> 1 -b-> 2, 0 -c-> 3 -b-> 4
    kb = ReifiedKG.from_tensors(triples, 5, 3)
    x0 = torch.tensor([1.0, 0, 0, 0, 0])
    rs = torch.tensor([[0.6, 0.0, 0.4], [0.0, 1.0, 0.0]])  # hop 1 prefers a (→ 1 → 2)
    xs = walk(kb, x0, rs, torch.ones(2, 5))
    [p] = top_paths(kb, xs, rs, torch.tensor([0.0, 1.0]), target=4, n=3)
    assert p.entities == (0, 3, 4) and p.relations == (2, 1) and abs(p.weight - 0.4) < 1e-6
    assert top_paths(kb, xs, rs, torch.tensor([1.0, 0.0]), target=4) == []  # hop 1 never reaches 4
