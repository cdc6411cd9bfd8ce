"""Numeric attributes and the superlative against a brute-force oracle, by hand and by gradcheck."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kgqa.errors import ShapeError, UnknownRelationError
from kgqa.kg import KnowledgeGraph
from kgqa.numeric import NotNumericError, NumericValues, numeric_relations, parse_number, superlative

FAST = settings(max_examples=40, deadline=None)


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    """Films with years (one remake listed under two), players with ages, a non-numeric relation."""
    return KnowledgeGraph.from_triples(
        [("big", "release_year", "y1988"), ("cast_away", "release_year", "y2000"),
         ("forrest_gump", "release_year", "y1994"), ("solaris", "release_year", "y1972"),
         ("solaris", "release_year", "y2002"), ("twins", "release_year", "y1994"),
         ("big", "directed_by", "penny_marshall"), ("pele", "is_aged", "81"), ("kaka", "is_aged", "40.5")],
        names={"y1988": "1988", "y2000": "2000", "y1994": "1994", "y1972": "1972", "y2002": "2002"},
        add_inverses=True,
    )


def row(kg, ids, weights=None):
    x = torch.zeros(1, kg.num_entities, dtype=torch.float64)
    for i, e in enumerate(ids):
        x[0, kg.entity_index(e)] = 1.0 if weights is None else weights[i]
    return x


def members(kg, x):
    return sorted(kg.entities[i] for i in x[0].nonzero().flatten().tolist())


def test_parse_number_reads_whole_strings_only():
    assert parse_number("1994") == 1994.0 and parse_number(" 7.5 ") == 7.5 and parse_number("-3") == -3.0
    assert parse_number("year_1994") is None and parse_number("") is None and parse_number("1e3") == 1000.0


def test_numeric_relations_finds_attributes_by_name_or_id(kg):
    assert numeric_relations(kg) == ["release_year", "is_aged"]


def test_values_keep_the_largest_and_smallest_of_each_entity(kg):
    v = NumericValues.from_kg(kg, ["release_year", "is_aged"])
    solaris = kg.entity_index("solaris")
    assert v.value("release_year", solaris, "max") == 2002 and v.value("release_year", solaris, "min") == 1972
    assert v.value("is_aged", kg.entity_index("kaka")) == 40.5
    assert v.value("is_aged", kg.entity_index("big")) is None


def test_superlative_by_hand_with_ties_and_a_remake(kg):
    v = NumericValues.from_kg(kg, ["release_year"])
    films = ["big", "forrest_gump", "twins", "solaris"]
    assert members(kg, superlative(row(kg, films), v, "release_year", "max")) == ["solaris"]  # 2002
    assert members(kg, superlative(row(kg, films), v, "release_year", "min")) == ["solaris"]  # 1972
    no_remake = ["big", "forrest_gump", "twins"]
    assert members(kg, superlative(row(kg, no_remake), v, "release_year", "max")) == ["forrest_gump", "twins"]
    assert members(kg, superlative(row(kg, no_remake), v, "release_year", "min")) == ["big"]
    # an entity without a value is never chosen, and an empty set chooses nothing
    assert members(kg, superlative(row(kg, ["penny_marshall"]), v, 0)) == []


def test_a_stray_member_costs_the_maximum_only_its_own_weight(kg):
    v = NumericValues.from_kg(kg, ["release_year"])
    x = row(kg, ["big", "cast_away"], [1.0, 0.01])  # cast_away (2000) barely a member
    out = superlative(x, v, "release_year", "max")[0]
    assert out[kg.entity_index("big")].item() == pytest.approx(0.99)
    assert out[kg.entity_index("cast_away")].item() == pytest.approx(0.01)


@FAST
@given(st.integers(0, 10_000))
def test_superlative_equals_brute_force_on_random_graphs(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 12)
    triples = [(f"e{i}", "score", str(rng.randint(0, 5))) for i in range(n) for _ in range(rng.randint(1, 2))]
    graph = KnowledgeGraph.from_triples(triples, on_duplicate="drop")
    v = NumericValues.from_kg(graph, ["score"])
    chosen = [f"e{i}" for i in range(n) if rng.random() < 0.6]
    vals = {e: [float(o) for s, _, o in triples if s == e] for e in chosen}
    for which, pick in (("max", max), ("min", min)):
        got = members(graph, superlative(row(graph, chosen), v, "score", which))
        if not chosen:
            assert got == []
            continue
        best = pick(pick(vs) for vs in vals.values())
        assert got == sorted(e for e in chosen if pick(vals[e]) == best)


def test_superlative_gradcheck(kg):
    v = NumericValues.from_kg(kg, ["release_year"])
    x = (torch.rand(2, kg.num_entities, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    for which in ("max", "min"):
        assert torch.autograd.gradcheck(lambda t: superlative(t, v, "release_year", which), (x,))


def test_bad_attributes_and_shapes_are_refused_by_name(kg):
    with pytest.raises(NotNumericError, match=r"'directed_by' is not numeric.*'penny_marshall'"):
        NumericValues.from_kg(kg, ["directed_by"])
    with pytest.raises(UnknownRelationError, match="release_yaer"):
        NumericValues.from_kg(kg, ["release_yaer"])
    v = NumericValues.from_kg(kg, ["release_year"])
    with pytest.raises(UnknownRelationError, match="is_aged"):
        superlative(row(kg, ["big"]), v, "is_aged")
    with pytest.raises(ShapeError, match=r"\(B, E\)"):
        superlative(torch.zeros(1, 3), v, 0)
    with pytest.raises(ValueError, match="'max' or 'min'"):
        superlative(row(kg, ["big"]), v, 0, "largest")
