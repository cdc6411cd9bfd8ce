"""Weighted-set algebra against Python sets, hand-computed values and gradcheck."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kgqa.errors import AmbiguousEntityError, ShapeError, UnknownEntityError, UnknownRelationError, WeightError
from kgqa.kg import KnowledgeGraph
from kgqa.follow.checks import check_weights, storage_order
from kgqa.sets import intersect, normalize, one_hot, relation_one_hot, top_k, union

FAST = settings(max_examples=40, deadline=None)


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    """Three people called Tom Hanks (a shared name), a film, a unique name and an alias."""
    return KnowledgeGraph.from_triples(
        [
            ("tom_hanks_actor", "starred_in", "big"),
            ("tom_hanks_seismologist", "field", "seismology"),
            ("tom_hanks_footballer", "plays_for", "club"),
            ("gary_ross", "wrote", "big"),
        ],
        names={"tom_hanks_actor": "Tom Hanks", "tom_hanks_seismologist": "Tom Hanks",
               "tom_hanks_footballer": "Tom Hanks", "big": "Big", "gary_ross": "Gary Ross"},
        aliases={"big": ["Big (1988)"]},
        add_inverses=True,
    )


def as_set(row: torch.Tensor) -> set[int]:
    return set(torch.nonzero(row).flatten().tolist())


# ---------------------------------------------------------------------- one_hot and names
def test_one_hot_by_id_index_name_and_alias(kg):
    E = kg.num_entities
    big = kg.entity_index("big")
    x = one_hot(kg, ["big", big, "Big", "Big (1988)"])
    assert x.shape == (4, E) and x.dtype == torch.float32
    assert all(as_set(row) == {big} for row in x) and torch.equal(x.sum(1), torch.ones(4))
    assert one_hot(kg, "gary_ross").shape == (1, E)
    assert torch.equal(one_hot(kg, torch.tensor([big, 0])), one_hot(kg, [big, 0]))


def test_one_hot_sets_per_row_and_sparse(kg):
    x = one_hot(kg, [["big", "gary_ross", "big"], [], ["club"]])
    assert [as_set(r) for r in x] == [{kg.entity_index("big"), kg.entity_index("gary_ross")}, set(),
                                      {kg.entity_index("club")}]
    xs = one_hot(kg, [["big", "gary_ross"], [], ["club"]], sparse=True, dtype=torch.float64)
    assert xs.is_sparse and xs.is_coalesced() and xs.dtype == torch.float64
    assert torch.equal(xs.to_dense().float(), x)


def test_one_hot_errors_name_the_problem(kg):
    with pytest.raises(AmbiguousEntityError) as err:
        one_hot(kg, "Tom Hanks")
    for cand in ("tom_hanks_actor", "tom_hanks_seismologist", "tom_hanks_footballer"):
        assert cand in str(err.value)
    with pytest.raises(UnknownEntityError, match="gary_ross"):
        one_hot(kg, "gary_rosss")  # suggests the close match
    with pytest.raises(UnknownEntityError):
        one_hot(kg, [kg.num_entities])
    with pytest.raises(UnknownEntityError):
        one_hot(kg, torch.tensor([0, -1]))
    with pytest.raises(ShapeError):
        one_hot(kg, torch.tensor([[0, 1]]))
    with pytest.raises(UnknownEntityError):
        kg.lookup(1.5)  # type: ignore[arg-type]
    with pytest.raises(UnknownRelationError):
        relation_one_hot(kg, "directed")


def test_relation_one_hot(kg):
    r = relation_one_hot(kg, ["wrote", "wrote^-1"])
    assert r.shape == (2, kg.num_relations)
    assert r[0, kg.relation_index("wrote")] == 1 and r[1, kg.relation_index("wrote^-1")] == 1
    assert torch.equal(r.sum(1), torch.ones(2))


# ---------------------------------------------------------------------- algebra on hard sets
hard_rows = st.lists(st.booleans(), min_size=6, max_size=6)


@FAST
@given(st.lists(hard_rows, min_size=1, max_size=4), st.lists(hard_rows, min_size=1, max_size=4))
def test_hard_sets_equal_python_sets(rows_a, rows_b):
    n = min(len(rows_a), len(rows_b))
    a, b = torch.tensor(rows_a[:n]).float(), torch.tensor(rows_b[:n]).float()
    for i in range(n):
        sa, sb = as_set(a[i]), as_set(b[i])
        for mode in ("min", "product"):
            assert as_set(intersect(a, b, mode=mode)[i]) == sa & sb
        for mode in ("max", "sum"):
            u = union(a, b, mode=mode)
            assert as_set(u[i]) == sa | sb and float(u.max()) <= 1


def test_soft_values_by_hand():
    a = torch.tensor([[0.2, 0.9, 0.0, 0.6]])
    b = torch.tensor([[0.5, 0.3, 0.7, 0.6]])
    torch.testing.assert_close(intersect(a, b), torch.tensor([[0.2, 0.3, 0.0, 0.6]]))
    torch.testing.assert_close(intersect(a, b, mode="product"), torch.tensor([[0.1, 0.27, 0.0, 0.36]]))
    torch.testing.assert_close(union(a, b), torch.tensor([[0.5, 0.9, 0.7, 0.6]]))
    torch.testing.assert_close(union(a, b, mode="sum"), torch.tensor([[0.7, 1.0, 0.7, 1.0]]))
    torch.testing.assert_close(intersect(a, b[0]), intersect(a, b))  # broadcasting


def test_gradcheck_set_operations():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 7, generator=g, dtype=torch.float64)
    b = torch.rand(3, 7, generator=g, dtype=torch.float64)
    b = torch.where((a - b).abs() < 0.05, b + 0.1, b)  # no ties: min/max are smooth there
    a, b = a.requires_grad_(), b.requires_grad_()
    for mode in ("min", "product"):
        assert torch.autograd.gradcheck(lambda a, b: intersect(a, b, mode=mode), (a, b))
    assert torch.autograd.gradcheck(lambda a, b: union(a, b, mode="max"), (a, b))
    small_a, small_b = (a * 0.4).detach().requires_grad_(), (b * 0.4).detach().requires_grad_()  # below the clip
    assert torch.autograd.gradcheck(lambda a, b: union(a, b, mode="sum"), (small_a, small_b))


def test_set_operation_errors():
    with pytest.raises(ShapeError, match="different entity vocabularies"):
        intersect(torch.rand(2, 5), torch.rand(2, 6))
    with pytest.raises(ShapeError, match="do not broadcast"):
        union(torch.rand(2, 5), torch.rand(3, 5))
    with pytest.raises(ShapeError):
        union(torch.rand(2, 5), [0.1] * 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        intersect(torch.rand(2, 5), torch.rand(2, 5), mode="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        union(torch.rand(2, 5), torch.rand(2, 5), mode="min")  # type: ignore[arg-type]


def test_sparse_inputs_are_densified():
    a = torch.rand(2, 5)
    torch.testing.assert_close(intersect(a.to_sparse(), a), a)


# ---------------------------------------------------------------------- normalize and top_k
def test_normalize_modes():
    x = torch.tensor([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [0.5, 2.0, 0.5]])
    torch.testing.assert_close(normalize(x, "sum"), torch.tensor([[0.25, 0.75, 0.0], [0.0, 0.0, 0.0],
                                                                   [1 / 6, 2 / 3, 1 / 6]]))
    torch.testing.assert_close(normalize(x, "max"), torch.tensor([[1 / 3, 1.0, 0.0], [0.0, 0.0, 0.0],
                                                                   [0.25, 1.0, 0.25]]))
    torch.testing.assert_close(normalize(x, "clip"), x.clamp(0, 1))
    assert normalize(x, "none") is x
    with pytest.raises(ValueError, match="mode"):
        normalize(x, "softmax")  # type: ignore[arg-type]


def test_top_k_lists_ids_names_and_scores(kg):
    E = kg.num_entities
    x = torch.zeros(2, E)
    x[0, kg.entity_index("big")] = 0.9
    x[0, kg.entity_index("gary_ross")] = 0.4
    x[0, kg.entity_index("club")] = 0.4  # tie with gary_ross: lower index first
    first = top_k(kg, x, 5)[0]
    assert first[0] == ("big", "Big", pytest.approx(0.9))
    assert [e for e, _, _ in first] == ["big"] + sorted(["gary_ross", "club"], key=kg.entity_index)
    assert top_k(kg, x, 5)[1] == []  # zero scores are left out
    assert len(top_k(kg, x[1], 3, include_zero=True)) == 3  # 1-D input: one list
    assert top_k(kg, x[0], 1) == [("big", "Big", pytest.approx(0.9))]
    with pytest.raises(ShapeError, match="entities"):
        top_k(kg, torch.rand(2, E + 1), 3)


# ---------------------------------------------------------------------- check_weights
@settings(max_examples=60, deadline=None)
@given(dims=st.lists(st.integers(1, 5), min_size=1, max_size=4), data=st.data())
def test_check_weights_finds_a_bad_entry_in_any_memory_layout(dims, data):
    """A NaN, an infinity or a negative entry is found whatever order the tensor's memory is in
    (permuted views are reduced in storage order; a stride-0 expansion and a strided slice are not
    permutable and are reduced as given), and a clean tensor of the same layout passes."""
    base = torch.rand(*dims, dtype=torch.float64)
    perm = data.draw(st.permutations(range(len(dims))))
    layout = data.draw(st.sampled_from(["permuted", "sliced", "expanded"]))
    if layout == "permuted":
        view = base.permute(*perm)
    elif layout == "sliced":
        view = torch.rand(*[2 * d for d in dims], dtype=torch.float64)[tuple(slice(None, None, 2) for _ in dims)]
    else:
        view = base.unsqueeze(0).expand(3, *dims)
    shape = [None] * view.dim()
    check_weights("x", view, shape, "any")  # clean: passes
    bad = data.draw(st.sampled_from([float("nan"), float("inf"), -0.5]))
    idx = tuple(data.draw(st.integers(0, n - 1)) for n in view.shape)
    if layout == "expanded":  # an expanded view cannot be written to: its base shows through every copy
        base[idx[1:]] = bad
    else:
        view[idx] = bad
    match = {"nan": "NaN", "inf": "infinite"}.get(str(bad), "negative")
    with pytest.raises(WeightError, match=match):
        check_weights("x", view, shape, "any")


def teststorage_order_reads_a_transposed_view_as_the_tensor_it_views():
    x = torch.zeros(7, 3).t()  # the entity-major layout of one_hot
    assert not x.is_contiguous()
    w = storage_order(x)
    assert w.is_contiguous() and w.data_ptr() == x.data_ptr() and w.shape == (7, 3)
    y = torch.zeros(6, 6)[::2]  # not a permutation of a contiguous tensor: left as it is
    assert storage_order(y) is y
    z = torch.zeros(2, 3)
    assert storage_order(z) is z


# ---------------------------------------------------------------------- difference and count
@FAST
@given(st.lists(st.booleans(), min_size=6, max_size=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_difference_and_count_on_hard_sets_equal_python_sets(a_bits, b_bits):
    from kgqa.sets import count, difference

    a, b = torch.tensor([a_bits], dtype=torch.float32), torch.tensor([b_bits], dtype=torch.float32)
    want = as_set(a[0]) - as_set(b[0])
    assert as_set(difference(a, b)[0]) == want
    assert count(difference(a, b)).item() == len(want)
    assert count(a, threshold=0.5).item() == sum(a_bits)


def test_difference_keeps_the_share_b_does_not_claim_and_clamps_b():
    from kgqa.sets import difference

    a = torch.tensor([[1.0, 0.5, 0.8]])
    b = torch.tensor([[0.25, 1.0, 3.0]])  # 3.0: a path count above 1 claims the whole entity
    assert torch.allclose(difference(a, b), torch.tensor([[0.75, 0.0, 0.0]]))


def test_count_expected_and_thresholded_by_hand():
    from kgqa.sets import count

    x = torch.tensor([[0.9, 0.6, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(count(x), torch.tensor([1.7, 0.0]))
    assert count(x, threshold=0.5).tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="threshold"):
        count(x, threshold=0.0)
    with pytest.raises(ShapeError):
        count(torch.tensor(1.0))


def test_difference_and_count_gradcheck():
    from kgqa.sets import count, difference

    a = torch.rand(3, 5, dtype=torch.float64, requires_grad=True)
    b = (torch.rand(3, 5, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()  # inside (0, 1): smooth
    assert torch.autograd.gradcheck(difference, (a, b))
    assert torch.autograd.gradcheck(lambda x: count(x), (a,))


def test_difference_refuses_mismatched_vocabularies():
    from kgqa.sets import difference

    with pytest.raises(ShapeError, match="different entity vocabularies"):
        difference(torch.zeros(1, 3), torch.zeros(1, 4))
