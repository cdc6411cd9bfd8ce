"""Numeric attributes of entities and the superlative over a weighted set: "the most recent film".

Some relations lead from an entity to a number: MetaQA's ``release_year`` (a film to ``1994``),
WorldCup2014's ``is_aged`` and ``wears_number``, the toy world's ``release_year`` (to entities
named ``1999``). :class:`NumericValues` parses those objects once into a value table — per
attribute, the largest and the smallest value of every entity (a remake listed under two years has
two) — and :func:`superlative` picks, out of a weighted set ``x``, the members with the largest
(or smallest) value.

Why not a softmax over values? ``softmax_e(log x_e + v_e / τ)`` lets a non-member with a larger
value win whenever its weight is not exactly zero: one film reached with weight 0.001 through a
stray relation and ten years newer beats every member unless ``τ`` is tiny, and a tiny ``τ`` has no
gradient. The selection here is the fuzzy-logic reading of the definition itself — *e is a
member, and no member has a larger value*::

    argmax(x)_e = x_e · Π_{e' : v_e' > v_e} (1 − x_e')                                  (B, E)

On 0/1 sets it is exactly the symbolic argmax (every member tied at the top gets 1, the others 0),
so nothing changes between training and evaluation; on weighted sets a stray member with weight ε
costs the true maximum only a factor ``1 − ε``. It is differentiable in ``x`` (through both
factors) and needs no temperature. Computed with one sort of the entities by value per attribute
(done once) and one cumulative product of ``1 − x`` per batch (exact zeros stay zeros).

>>> from kgqa.kg import KnowledgeGraph
>>> kg = KnowledgeGraph.from_triples([("a", "year", "1990"), ("b", "year", "2001"), ("c", "year", "1985")])
>>> values = NumericValues.from_kg(kg, ["year"])
>>> x = torch.zeros(1, kg.num_entities); x[0, [kg.entity_index("a"), kg.entity_index("c")]] = 1
>>> [kg.entities[i] for i in superlative(x, values, "year", "max").nonzero()[:, 1].tolist()]
['a']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from .errors import KGQAError, ShapeError, UnknownRelationError, close_matches
from .kg import KnowledgeGraph
from .types import Tensor

__all__ = ["NotNumericError", "NumericValues", "numeric_relations", "parse_number", "superlative"]

_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


class NotNumericError(KGQAError, ValueError):
    """An attribute asked for as numeric whose objects are not numbers."""


def parse_number(text: str) -> float | None:
    """The number a name or id spells (``"1994"``, ``"7.5"``, ``"-3"``), else None. Only the whole
    string counts: ``"year_1994"`` is not a number, its display name ``"1994"`` is."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _value_of(kg: KnowledgeGraph, entity: int) -> float | None:
    """An entity's number, read from its display name, else from its id."""
    v = parse_number(kg.names[entity])
    return v if v is not None else parse_number(kg.entities[entity])


def numeric_relations(kg: KnowledgeGraph) -> list[str]:
    """The relations (inverses left out) all of whose objects are numbers: the attributes a
    superlative can compare by, in the graph's relation order."""
    out = []
    numbers = [_value_of(kg, e) is not None for e in range(kg.num_entities)]
    triples = kg.triples
    for r, name in enumerate(kg.relations):
        if kg.is_inverse(r):
            continue
        objects = triples[triples[:, 1] == r, 2].tolist()
        if objects and all(numbers[o] for o in objects):
            out.append(name)
    return out


@dataclass
class NumericValues:
    """Per attribute, every entity's largest and smallest value and the entities in value order.

    ``high[a, e]`` / ``low[a, e]``: the largest / smallest number entity ``e`` has under attribute
    ``attributes[a]`` (NaN when it has none). ``order_high[a]``: the entities with a value, by
    ``high`` descending; ``group_high[a]``: for each of them, the index of its first tie (the first
    position with the same value) — likewise ``order_low`` / ``group_low`` by ``low`` ascending.
    """

    attributes: tuple[str, ...]
    high: Tensor  # (A, E) float64
    low: Tensor  # (A, E) float64
    order_high: list[Tensor]  # A × (n_a,) int64
    group_high: list[Tensor]  # A × (n_a,) int64
    order_low: list[Tensor]
    group_low: list[Tensor]

    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, attributes: Sequence[str]) -> NumericValues:
        """Parse the objects of each attribute relation. Raises :class:`~kgqa.errors.UnknownRelationError`
        for a relation the graph lacks and :class:`NotNumericError` naming the first fact whose object
        is not a number."""
        E = kg.num_entities
        high = torch.full((len(attributes), E), math.nan, dtype=torch.float64)
        low = high.clone()
        for a, name in enumerate(attributes):
            if not kg.has_relation(name):
                raise UnknownRelationError(name, close_matches(name, kg.relations), where=f"{kg.source or 'the graph'}")
            facts = kg.triples[kg.triples[:, 1] == kg.relation_index(name)]
            if not len(facts):
                raise NotNumericError(f"attribute {name!r} has no facts in {kg.source or 'the graph'}")
            for s, _, o in facts.tolist():
                v = _value_of(kg, o)
                if v is None:
                    raise NotNumericError(
                        f"attribute {name!r} is not numeric: the fact ({kg.entities[s]!r}, {name!r}, {kg.entities[o]!r}) "
                        f"in {kg.source or 'the graph'} has an object that is not a number (name {kg.names[o]!r})")
                high[a, s] = v if math.isnan(high[a, s]) else max(high[a, s].item(), v)
                low[a, s] = v if math.isnan(low[a, s]) else min(low[a, s].item(), v)
        oh, gh, ol, gl = [], [], [], []
        for a in range(len(attributes)):
            for table, descending, orders, groups in ((high, True, oh, gh), (low, False, ol, gl)):
                has = (~table[a].isnan()).nonzero().squeeze(1)
                vals, perm = torch.sort(table[a, has], descending=descending, stable=True)
                new = torch.ones(len(vals), dtype=torch.bool)
                new[1:] = vals[1:] != vals[:-1]
                starts = torch.arange(len(vals))[new]
                orders.append(has[perm])
                groups.append(starts[torch.cumsum(new.long(), 0) - 1])
        return cls(tuple(attributes), high, low, oh, gh, ol, gl)

    def index(self, attribute: str | int) -> int:
        """The position of ``attribute`` (a name or a position) in :attr:`attributes`."""
        if isinstance(attribute, int):
            if not 0 <= attribute < len(self.attributes):
                raise UnknownRelationError(attribute, where=f"the {len(self.attributes)} numeric attributes")
            return attribute
        if attribute not in self.attributes:
            raise UnknownRelationError(attribute, close_matches(attribute, self.attributes),
                                       where=f"the numeric attributes {list(self.attributes)}")
        return self.attributes.index(attribute)

    def value(self, attribute: str | int, entity: int, which: Literal["max", "min"] = "max") -> float | None:
        """The value of one entity (its largest for ``"max"``, smallest for ``"min"``), or None."""
        v = (self.high if which == "max" else self.low)[self.index(attribute), entity].item()
        return None if math.isnan(v) else v


def superlative(x: Tensor, values: NumericValues, attribute: str | int, which: Literal["max", "min"] = "max") -> Tensor:
    """The members of the weighted sets ``x (B, E)`` with the largest (``"max"``) or smallest
    (``"min"``) value of ``attribute``, ``(B, E)`` (module docstring)::

        out_e = x_e · Π_{e' ranked strictly before e} (1 − x_e')

    Entities without a value get 0. Exact on 0/1 sets: all members tied at the extreme get 1.
    """
    if which not in ("max", "min"):
        raise ValueError(f"superlative: which must be 'max' or 'min', got {which!r}")
    E = values.high.shape[1]
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != E:
        raise ShapeError(f"superlative: x must be (B, E) with E = {E}, got {getattr(x, 'shape', type(x))}")
    a = values.index(attribute)
    order, group = ((values.order_high[a], values.group_high[a]) if which == "max"
                    else (values.order_low[a], values.group_low[a]))
    order, group = order.to(x.device), group.to(x.device)
    xs = x[:, order]  # (B, n) members' weights in rank order
    keep = (1.0 - xs).clamp(0.0, 1.0)  # (B, n) the chance that each is not a member
    before = torch.cat([keep.new_ones(keep.shape[0], 1), torch.cumprod(keep, dim=1)[:, :-1]], dim=1)  # (B, n)
    unbeaten = before[:, group]  # (B, n) Π over the entities ranked strictly before e's tie group
    return x.new_zeros(x.shape).index_copy(1, order, xs * unbeaten)
