"""kgqa.follow: every kernel × frontier against the reference (eq. 1), which is itself checked against
Python-set traversal and a dense adjacency; gradients, the dispatcher's choices, bad inputs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kgqa.follow import fused, sparse
from kgqa.errors import DeviceMismatchError, KGQAError, ShapeError, WeightError
from kgqa.kg import KnowledgeGraph
from kgqa.follow import ReifiedKG, follow, follow_path, follow_reference
from kgqa.sets import one_hot, relation_one_hot

FAST = settings(max_examples=40, deadline=None)
KERNELS = ["fused", "torch"] if fused.AVAILABLE else ["torch"]


@pytest.fixture(scope="module")
def world() -> KnowledgeGraph:
    """A small hand-made world: paintings, museums, cities, an actress and her roles."""
    return KnowledgeGraph.from_triples(
        [
            ("mona_lisa", "exhibited_at", "louvre"),
            ("mona_lisa", "created_by", "leonardo"),
            ("louvre", "located_in", "paris"),
            ("paris", "capital_of", "france"),
            ("starry_night", "exhibited_at", "moma"),
            ("starry_night", "created_by", "van_gogh"),
            ("moma", "located_in", "new_york"),
            ("natalie_portman", "played", "padme"),
            ("padme", "appears_in", "star_wars_2"),
            ("natalie_portman", "starred_in", "star_wars_2"),
            ("natalie_portman", "starred_in", "black_swan"),
        ],
        entities=["atlantis"],  # an isolated entity
        add_inverses=True,
    )


@pytest.fixture(scope="module")
def kb(world) -> ReifiedKG:
    return ReifiedKG.from_kg(world)


# ---------------------------------------------------------------------- oracles
def dense_adjacency_oracle(triples: torch.Tensor, E: int, R: int, x: torch.Tensor, r: torch.Tensor,
                    w: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_k r[:, k] · (x @ A_k) with dense adjacency A_k[s, o] = Σ weights of facts s -k-> o."""
    vals = torch.ones(triples.shape[0], dtype=x.dtype) if w is None else w.to(x.dtype)
    A = torch.zeros(R, E, E, dtype=x.dtype).index_put(  # differentiable in w; duplicates add up
        (triples[:, 1], triples[:, 0], triples[:, 2]), vals, accumulate=True)
    return sum(r[:, k: k + 1] * (x @ A[k]) for k in range(R)) if R else torch.zeros_like(x)


def multiset_traversal(triples: list[tuple[int, int, int]], starts: set[int], rels: set[int]) -> Counter:
    """Symbolic hop with Python sets: each fact (s, k, o) with s ∈ starts, k ∈ rels yields o once."""
    return Counter(o for s, k, o in triples if s in starts and k in rels)


@st.composite
def random_graphs(draw):
    """Random graphs with self-loops, duplicate facts, isolated entities, relations without facts."""
    E = draw(st.integers(1, 9))
    R = draw(st.integers(1, 4))
    T = draw(st.integers(0, 30))
    facts = draw(st.lists(st.tuples(st.integers(0, E - 1), st.integers(0, R - 1), st.integers(0, E - 1)),
                          min_size=T, max_size=T))
    if facts and draw(st.booleans()):
        facts = facts + facts[: draw(st.integers(1, len(facts)))]  # duplicates
    triples = torch.tensor(facts, dtype=torch.int64).reshape(-1, 3)
    B = draw(st.integers(1, 4))
    return triples, E, R, B


def sets_from(mask: torch.Tensor) -> list[set[int]]:
    return [set(torch.nonzero(row).flatten().tolist()) for row in mask]


# ---------------------------------------------------------------------- the hand-made world
def test_incidence_matrices_have_one_entry_per_fact(world, kb):
    Ms, Mr, Mo = (m.to_dense() for m in kb.incidence())
    T = world.num_triples
    assert Ms.shape == (T, world.num_entities) and Mr.shape == (T, world.num_relations) and Mo.shape == Ms.shape
    for M in (Ms, Mr, Mo):
        assert torch.equal(M.sum(1), torch.ones(T))
    s, r, o = world.triples[3].tolist()
    assert Ms[3, s] == 1 and Mr[3, r] == 1 and Mo[3, o] == 1


@pytest.mark.parametrize("frontier", ["dense", "sparse", "auto"])
def test_one_and_two_hops_by_name(world, kb, frontier):
    x = one_hot(world, ["mona_lisa", "starry_night"])
    y = follow(kb, x, relation_one_hot(world, ["exhibited_at", "exhibited_at"]), frontier=frontier)
    assert sets_from(y) == [{world.entity_index("louvre")}, {world.entity_index("moma")}]
    rs = [relation_one_hot(world, "exhibited_at"), relation_one_hot(world, "located_in")]  # (1, R) broadcast
    z = follow_path(kb, x, rs, frontier=frontier)
    assert z[0, world.entity_index("paris")] == 1 and z[1, world.entity_index("new_york")] == 1
    assert float(z.sum()) == 2.0
    back = follow(kb, one_hot(world, "paris"), relation_one_hot(world, "located_in^-1"), frontier=frontier)
    assert sets_from(back) == [{world.entity_index("louvre")}]


def test_a_distribution_over_relations_splits_the_weight(world, kb):
    r = 0.25 * relation_one_hot(world, "exhibited_at") + 0.75 * relation_one_hot(world, "created_by")
    y = follow(kb, one_hot(world, "mona_lisa"), r)
    assert torch.isclose(y[0, world.entity_index("louvre")], torch.tensor(0.25))
    assert torch.isclose(y[0, world.entity_index("leonardo")], torch.tensor(0.75))
    assert torch.isclose(y.sum(), torch.tensor(1.0))


def test_isolated_entity_and_empty_set_go_nowhere(world, kb):
    r = torch.ones(1, world.num_relations)
    for frontier in ("dense", "sparse"):
        assert follow(kb, one_hot(world, "atlantis"), r, frontier=frontier).sum() == 0
        assert follow(kb, torch.zeros(1, world.num_entities), r, frontier=frontier).sum() == 0


def test_sparse_coo_input_stays_sparse_and_matches_dense(world, kb):
    xs = one_hot(world, ["natalie_portman", "mona_lisa"], sparse=True)
    r = torch.rand(2, world.num_relations)
    ys = follow(kb, xs, r, frontier="sparse")
    assert ys.is_sparse and ys.is_coalesced()
    torch.testing.assert_close(ys.to_dense(), follow(kb, xs.to_dense(), r, frontier="dense"))
    two = follow_path(kb, xs, [r, r], frontier="sparse")
    torch.testing.assert_close(two.to_dense(), follow_path(kb, xs.to_dense(), [r, r], frontier="dense"))


def test_follow_path_forms(world, kb):
    x = one_hot(world, ["natalie_portman"])
    rs = torch.rand(3, 1, world.num_relations)
    hops = follow_path(kb, x, rs, return_all=True)
    assert len(hops) == 3
    torch.testing.assert_close(hops[-1], follow(kb, follow(kb, follow(kb, x, rs[0]), rs[1]), rs[2]))
    assert follow_path(kb, x, []) is x


def test_fact_weights_stored_and_per_call(world):
    w = torch.rand(world.num_triples)
    x, r = torch.rand(2, world.num_entities), torch.rand(2, world.num_relations)
    ref = follow_reference(ReifiedKG.from_kg(world), x, r, w)
    weighted = ReifiedKG.from_kg(world, fact_weights=w)
    plain = ReifiedKG.from_kg(world)
    for frontier in ("dense", "sparse"):
        torch.testing.assert_close(follow(weighted, x, r, frontier=frontier), ref)
        torch.testing.assert_close(follow(plain, x, r, frontier=frontier, fact_weights=w), ref)
    weighted.set_fact_weights(None)
    torch.testing.assert_close(follow(weighted, x, r), follow(plain, x, r))


def test_structure_helpers(world, kb):
    assert kb.to("cpu") is kb
    assert kb.memory_bytes() == sum(kb.memory_breakdown().values()) > 0
    assert torch.equal((kb.subj_ptr[1:] - kb.subj_ptr[:-1]).long(), world.degree())
    assert torch.equal(kb.subj, world.triples[:, 0]) and torch.equal(kb.obj, world.triples[:, 2])
    assert "ReifiedKG(" in repr(kb)


def test_empty_batch_and_empty_graph():
    kb = ReifiedKG.from_tensors(torch.zeros(0, 3, dtype=torch.int64), 4, 2)
    x = torch.rand(3, 4, requires_grad=True)
    y = follow(kb, x, torch.rand(3, 2))
    assert y.shape == (3, 4) and y.sum() == 0
    y.sum().backward()
    full = ReifiedKG.from_tensors(torch.tensor([[0, 0, 1]]), 4, 2)
    assert follow(full, torch.zeros(0, 4), torch.zeros(0, 2)).shape == (0, 4)


def test_dtype_promotion(kb, world):
    x = torch.rand(2, world.num_entities, dtype=torch.float64)
    r = torch.rand(2, world.num_relations, dtype=torch.float32)
    assert follow(kb, x, r, frontier="dense").dtype == torch.float64


# ---------------------------------------------------------------------- the reference and every kernel
@FAST
@given(random_graphs(), st.integers(0, 2**31 - 1), st.booleans())
def test_reference_equals_a_dense_adjacency_per_relation(graph, seed, weighted):
    """Eq. (1) with incidence matrices against Σ_k r[:, k] · x A_k built from the facts one by one,
    values and gradients (in x, r and the fact weights)."""
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(triples.shape[0], generator=g, dtype=torch.float64).requires_grad_() if weighted else None
    x = torch.rand(B, E, generator=g, dtype=torch.float64).requires_grad_()
    r = torch.rand(B, R, generator=g, dtype=torch.float64).requires_grad_()
    kb = ReifiedKG.from_tensors(triples, E, R)
    got, want = follow_reference(kb, x, r, w), dense_adjacency_oracle(triples, E, R, x, r, w)
    torch.testing.assert_close(got, want)
    leaves = [t for t in (x, r, w) if t is not None]
    probe = torch.rand(B, E, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad((got * probe).sum(), leaves, allow_unused=True),
                    torch.autograd.grad((want * probe).sum(), leaves, allow_unused=True)):
        if a is not None or b is not None:
            torch.testing.assert_close(a if a is not None else torch.zeros_like(b),
                                       b if b is not None else torch.zeros_like(a))


ALL_KERNELS = ["auto", "fused", "torch"] if fused.AVAILABLE else ["auto", "torch"]
DISPATCH = [(k, f, layout) for k in ALL_KERNELS for f in ("auto", "dense", "sparse") for layout in ("dense", "coo")]


@pytest.mark.parametrize("kernel, frontier, layout", DISPATCH)
@settings(max_examples=20, deadline=None)
@given(graph=random_graphs(), seed=st.integers(0, 2**31 - 1), weighted=st.booleans())
def test_every_kernel_and_frontier_equals_the_reference(kernel, frontier, layout, graph, seed, weighted):
    """Every path the dispatcher can take — kernel × frontier × dense or sparse COO input, with and
    without gradients to track (the compiled sparse hop runs only without) — gives eq. (1)'s values
    and gradients. The sparse frontier's gradient in x is exact on the support of x."""
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    kb = ReifiedKG.from_tensors(triples, E, R)
    w = torch.rand(triples.shape[0], generator=g, dtype=torch.float64) if weighted else None
    x = torch.rand(B, E, generator=g, dtype=torch.float64) * (torch.rand(B, E, generator=g) < 0.5)
    r = torch.rand(B, R, generator=g, dtype=torch.float64)
    dense = lambda t: t.to_dense() if t.is_sparse else t  # noqa: E731
    with torch.no_grad():
        fast = follow(kb, x.to_sparse() if layout == "coo" else x, r, kernel=kernel, frontier=frontier, fact_weights=w)
    torch.testing.assert_close(dense(fast), follow_reference(kb, x, r, w))

    xg, rg = x.clone().requires_grad_(), r.clone().requires_grad_()
    wg = w.clone().requires_grad_() if w is not None else None
    leaves = [t for t in (rg, wg) if t is not None] + ([xg] if layout == "dense" else [])
    got = follow(kb, xg.to_sparse() if layout == "coo" else xg, rg, kernel=kernel, frontier=frontier, fact_weights=wg)
    ref = follow_reference(kb, xg, rg, wg)
    torch.testing.assert_close(dense(got), ref)
    probe = torch.rand(B, E, generator=g, dtype=torch.float64)
    got_grads = torch.autograd.grad((dense(got) * probe).sum(), leaves, allow_unused=True)
    ref_grads = torch.autograd.grad((ref * probe).sum(), leaves, allow_unused=True)
    for leaf, a, b in zip(leaves, got_grads, ref_grads):
        a = a if a is not None else torch.zeros_like(leaf)
        b = b if b is not None else torch.zeros_like(leaf)
        if leaf is xg and frontier != "dense":
            a, b = a * (x != 0), b * (x != 0)
        torch.testing.assert_close(a, b)


# ---------------------------------------------------------------------- random graphs
@FAST
@given(random_graphs(), st.data())
def test_hard_sets_equal_symbolic_traversal(graph, data):
    triples, E, R, B = graph
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.tensor(data.draw(st.lists(st.lists(st.booleans(), min_size=E, max_size=E), min_size=B, max_size=B))).float()
    r = torch.tensor(data.draw(st.lists(st.lists(st.booleans(), min_size=R, max_size=R), min_size=B, max_size=B))).float()
    facts = [tuple(f) for f in triples.tolist()]
    for frontier in ("dense", "sparse", "auto"):
        y = follow(kb, x, r, frontier=frontier)
        for b in range(B):
            expect = multiset_traversal(facts, sets_from(x[b: b + 1])[0], sets_from(r[b: b + 1])[0])
            got = {o: int(v) for o, v in enumerate(y[b].tolist()) if v}
            assert got == dict(expect)  # same set, and duplicates counted with multiplicity


@FAST
@given(random_graphs(), st.integers(0, 2**31 - 1), st.booleans())
def test_soft_sets_equal_dense_reference_and_frontiers_agree(graph, seed, weighted):
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(triples.shape[0], generator=g, dtype=torch.float64) if weighted else None
    kb = ReifiedKG.from_tensors(triples, E, R, fact_weights=w)
    x = torch.rand(B, E, generator=g, dtype=torch.float64) * (torch.rand(B, E, generator=g) < 0.5)
    r = torch.rand(B, R, generator=g, dtype=torch.float64)
    ref = follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r, w)
    for frontier in ("dense", "sparse", "auto"):
        torch.testing.assert_close(follow(kb, x, r, frontier=frontier), ref)
    for name in KERNELS:
        torch.testing.assert_close(follow(kb, x, r, frontier="dense", kernel=name), ref)
    torch.testing.assert_close(follow(kb, x.to_sparse(), r, frontier="sparse").to_dense(), ref)


@FAST
@given(random_graphs(), st.integers(0, 2**31 - 1))
def test_multi_hop_equals_repeated_dense_reference(graph, seed):
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, E, generator=g, dtype=torch.float64)
    rs = [torch.rand(B, R, generator=g, dtype=torch.float64) for _ in range(3)]
    kb = ReifiedKG.from_tensors(triples, E, R)
    ref = x
    for r in rs:
        ref = follow_reference(ReifiedKG.from_tensors(triples, E, R), ref, r)
    torch.testing.assert_close(follow_path(kb, x, rs, frontier="sparse"), ref)
    for name in KERNELS:
        torch.testing.assert_close(follow_path(kb, x, rs, frontier="dense", kernel=name), ref)


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("frontier, kernel", [("dense", k) for k in KERNELS] + [("sparse", "auto")])
def test_gradcheck_follow(kb, world, frontier, kernel):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, world.num_entities, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    r = torch.rand(3, world.num_relations, generator=g, dtype=torch.float64).requires_grad_()
    w = (torch.rand(world.num_triples, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, r, w: follow(kb, x, r, frontier=frontier, kernel=kernel, fact_weights=w),
                                    (x, r, w))
    assert torch.autograd.gradcheck(lambda x, r: follow_path(kb, x, [r, r], frontier=frontier, kernel=kernel), (x, r))


def test_gradcheck_sparse_frontier_on_a_sparse_support(kb, world):
    """The sparse frontier is differentiable in the non-zero values of x (support held fixed)."""
    E, R = world.num_entities, world.num_relations
    g = torch.Generator().manual_seed(1)
    rows, cols = torch.tensor([0, 0, 1]), torch.tensor([world.entity_index(e) for e in ("mona_lisa", "louvre", "natalie_portman")])
    vals = (torch.rand(3, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    r = torch.rand(2, R, generator=g, dtype=torch.float64).requires_grad_()

    def dense_in(v, r):
        return follow(kb, torch.zeros(2, E, dtype=v.dtype).index_put((rows, cols), v), r, frontier="sparse")

    def coo_in(v, r):
        x = torch.sparse_coo_tensor(torch.stack([rows, cols]), v, (2, E), check_invariants=False)
        return follow(kb, x, r, frontier="sparse").to_dense()

    assert torch.autograd.gradcheck(dense_in, (vals, r))
    assert torch.autograd.gradcheck(coo_in, (vals, r))


def test_sparse_gradient_matches_dense_on_the_support(kb, world):
    x = one_hot(world, ["natalie_portman", "mona_lisa"]).double()
    r = torch.rand(2, world.num_relations, dtype=torch.float64)
    grads = {}
    for frontier in ("dense", "sparse"):
        xx, rr = x.clone().requires_grad_(), r.clone().requires_grad_()
        (follow(kb, xx, rr, frontier=frontier) * torch.arange(world.num_entities)).sum().backward()
        grads[frontier] = (xx.grad, rr.grad)
    support = x != 0
    torch.testing.assert_close(grads["sparse"][1], grads["dense"][1])  # exact in r
    torch.testing.assert_close(grads["sparse"][0][support], grads["dense"][0][support])
    assert (grads["sparse"][0][~support] == 0).all()


# ---------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_typed_errors(world, kb):
    E, R = world.num_entities, world.num_relations
    x, r = torch.rand(2, E), torch.rand(2, R)
    with pytest.raises(ShapeError, match=r"x must have shape \(B, E\) = \(B, %d\)" % E):
        follow(kb, torch.rand(2, E + 1), r)
    with pytest.raises(ShapeError, match=r"r must (have shape|be a dense tensor of shape)"):
        follow(kb, x, torch.rand(3, R))
    with pytest.raises(ShapeError, match=r"r must (have shape|be a dense tensor of shape)"):
        follow(kb, x, torch.rand(2, R - 1))
    with pytest.raises(ShapeError, match="floating-point"):
        follow(kb, torch.ones(2, E, dtype=torch.int64), r)
    with pytest.raises(ShapeError):
        follow(kb, torch.rand(E), r)
    bad = x.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(WeightError, match="x contains NaN"):
        follow(kb, bad, r)
    with pytest.raises(WeightError, match="r contains infinite"):
        follow(kb, x, r.clone().fill_(float("inf")))
    with pytest.raises(WeightError, match="non-negative"):
        follow(kb, x - 2, r)
    with pytest.raises(WeightError):
        follow_path(kb, x, [r, -r])
    with pytest.raises(ShapeError, match="fact_weights"):
        follow(kb, x, r, fact_weights=torch.rand(3))
    with pytest.raises(WeightError, match="fact_weights"):
        follow(kb, x, r, fact_weights=-torch.ones(world.num_triples))
    with pytest.raises(DeviceMismatchError, match="meta"):
        follow(kb, torch.empty(2, E, device="meta"), r)
    with pytest.raises(ValueError, match="frontier"):
        follow(kb, x, r, frontier="fast")  # type: ignore[arg-type]
    with pytest.raises(KGQAError):
        ReifiedKG.from_tensors(torch.tensor([[0, 0, 5]]), 5, 1)  # object out of range
    with pytest.raises(ShapeError):
        ReifiedKG.from_tensors(torch.tensor([[0.0, 0.0, 1.0]]), 5, 1)
    with pytest.raises(WeightError):
        ReifiedKG.from_kg(world, fact_weights=torch.full((world.num_triples,), float("nan")))
    follow(kb, bad, r, validate=False)  # the check can be skipped on hot paths


# ---------------------------------------------------------------------- real data
def test_metaqa_one_hop_matches_neighbours(data_root):
    kg = KnowledgeGraph.load(data_root / "metaqa" / "kb_partial.txt", add_inverses=True)
    kb = ReifiedKG.from_kg(kg)
    movies = ["Kismet", "Big", "The Matrix"]
    rel = kg.relation_index("directed_by")
    x = one_hot(kg, [m for m in movies if kg.has_entity(m)])
    r = relation_one_hot(kg, [rel] * x.shape[0])
    for frontier in ("dense", "sparse"):
        y = follow(kb, x, r, frontier=frontier)
        for b, row in enumerate(y):
            movie = kg.entities[int(x[b].nonzero())]
            expect = Counter(o for rr, o in kg.neighbours(movie) if rr == "directed_by")
            assert {kg.entities[i]: int(v) for i, v in enumerate(row.tolist()) if v} == dict(expect)


@pytest.mark.parametrize("kernel", KERNELS)
def test_many_relations(kernel):
    """Hundreds of relations, few facts each: same values and gradients as the reference."""
    g = torch.Generator().manual_seed(3)
    E, R, T = 12, 300, 400
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.rand(2, E, generator=g, dtype=torch.float64, requires_grad=True)
    r = torch.rand(2, R, generator=g, dtype=torch.float64, requires_grad=True)
    got = follow(kb, x, r, frontier="dense", kernel=kernel)
    ref = follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r)
    torch.testing.assert_close(got, ref)
    w = torch.rand(2, E, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad((got * w).sum(), (x, r)), torch.autograd.grad((ref * w).sum(), (x, r))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("B", [12, 40])
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_wide_batches_with_duplicate_facts_match_the_reference(dtype, kernel, B):
    """B ≥ 8 takes torch's native CSR kernel, B = 40 the fused kernel's prefetching; duplicates and
    self-loops must still count right."""
    g = torch.Generator().manual_seed(5)
    E, R, T = 15, 4, 60
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    triples = torch.cat([triples, triples[:20], torch.tensor([[3, 1, 3], [3, 1, 3]])])  # duplicates, self-loops
    w = torch.rand(triples.shape[0], generator=g, dtype=dtype, requires_grad=True)
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.rand(B, E, generator=g, dtype=dtype, requires_grad=True)
    r = torch.rand(B, R, generator=g, dtype=dtype, requires_grad=True)
    probe = torch.rand(B, E, generator=g, dtype=dtype)
    ref = follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r, w)
    ref_grads = torch.autograd.grad((ref * probe).sum(), (x, r, w))
    for frontier in ("dense", "sparse"):
        got = follow(kb, x, r, frontier=frontier, kernel=kernel, fact_weights=w)
        torch.testing.assert_close(got, ref)
        for a, b in zip(torch.autograd.grad((got * probe).sum(), (x, r, w)), ref_grads):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("entity_major", [True, False])
def test_sparse_frontier_finds_scattered_non_zeros_in_either_layout(entity_major):
    """The blockwise non-zero scan (storage blocks of 1024 values, plus a tail) misses nothing."""
    g = torch.Generator().manual_seed(11)
    E, R, T, B = 3001, 3, 9000, 5
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.zeros(E, B).t() if entity_major else torch.zeros(B, E)
    x[torch.randint(0, B, (40,), generator=g), torch.randint(0, E, (40,), generator=g)] = torch.rand(40, generator=g)
    x[B - 1, E - 1] = 0.5  # the very last value sits in the tail
    r = torch.rand(B, R, generator=g)
    dense = follow(kb, x, r, frontier="dense")
    for frontier in ("sparse", "auto"):
        torch.testing.assert_close(follow(kb, x, r, frontier=frontier), dense)


def scan_oracle(triples: torch.Tensor, x: torch.Tensor, entity_major: bool) -> tuple[list[tuple[int, int]], int]:
    """What the compiled scan must find, counted in Python: the ``(b, e)`` non-zeros (NaN != 0) of
    ``x`` at entities with out-facts, in storage order, and the out-facts leaving them."""
    B, E = x.shape
    degree = Counter(triples[:, 0].tolist())
    cells = [(b, e) for e in range(E) for b in range(B)] if entity_major else [(b, e) for b in range(B) for e in range(E)]
    want = [(b, e) for b, e in cells if x[b, e] != 0 and degree[e] > 0]
    return want, sum(degree[e] for _, e in want)


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@FAST
@given(random_graphs(), st.integers(0, 2**31 - 1), st.booleans())
def test_compiled_scan_finds_the_active_entries_within_the_budget(graph, seed, entity_major):
    """``fused.active_entries`` against a plain Python count: the non-zeros (and NaNs) of x at
    entities with out-facts, in storage order; ``None`` exactly when their out-facts pass the budget."""
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.rand(B, E, generator=g) * (torch.rand(B, E, generator=g) < 0.4)
    if seed % 3 == 0:
        x[0, seed % E] = float("nan")
    if entity_major:
        x = x.t().contiguous().t()
    want, work = scan_oracle(triples, x, entity_major)
    got = fused.active_entries(kb, x, budget=work)
    assert got is not None and list(zip(got[0].tolist(), got[1].tolist())) == want
    if work:
        assert fused.active_entries(kb, x, budget=work - 1) is None


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@FAST
@given(st.integers(1, 300), st.integers(0, 2**31 - 1), st.booleans(), st.sampled_from([0.0, 0.01, 0.3]))
def test_compiled_scan_across_chunks_of_a_row(E, seed, entity_major, density):
    """Rows longer than one ``SCAN_CHUNK`` (a last chunk cut short, chunks of zeros passed over,
    a NaN alone in its chunk): the scan still lists exactly the non-zeros at entities with out-facts."""
    g = torch.Generator().manual_seed(seed)
    B, T = 3, 2 * E
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.zeros(T, dtype=torch.int64),
                           torch.randint(0, E, (T,), generator=g)], 1)
    kb = ReifiedKG.from_tensors(triples, E, 1)
    x = torch.rand(B, E, generator=g) * (torch.rand(B, E, generator=g) < density)
    x[seed % B, (seed // B) % E] = float("nan") if seed % 2 else 1.0
    if entity_major:
        x = x.t().contiguous().t()
    want, _ = scan_oracle(triples, x, entity_major)
    got = fused.active_entries(kb, x, budget=float(T * B))
    assert got is not None and list(zip(got[0].tolist(), got[1].tolist())) == want


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
def test_auto_goes_sparse_under_the_budget_and_dense_over_it(monkeypatch):
    """With the compiled scan: a one-hot x on a graph of many facts takes the sparse frontier, a
    full x the dense one (seen from the autograd node); both equal the dense frontier."""
    g = torch.Generator().manual_seed(5)
    E, R, T = 2000, 4, 20000
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    kb = ReifiedKG.from_tensors(triples, E, R)
    r = torch.rand(3, R, generator=g, requires_grad=True)
    calls = []
    real = sparse.sparse_hop
    monkeypatch.setattr(sparse, "sparse_hop", lambda *a: calls.append(1) or real(*a))
    for x, goes_sparse in ((torch.zeros(3, E).index_fill_(1, torch.tensor([7]), 1.0), True),
                      (torch.rand(3, E, generator=g), False)):
        calls.clear()
        got = follow(kb, x, r, frontier="auto")
        assert bool(calls) == goes_sparse
        torch.testing.assert_close(got, follow(kb, x, r, frontier="dense"))


# ---------------------------------------------------------------------- the fused dense kernel
@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
def test_auto_takes_the_fused_kernel_on_the_cpu(kb, world):
    x = one_hot(world, "mona_lisa").requires_grad_()
    y = follow(kb, x, relation_one_hot(world, "exhibited_at"), frontier="dense")
    assert "_FusedDenseFollowBackward" in str(y.grad_fn.next_functions)  # y is a transposed view of its result


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fused_kernel_splits_skewed_work_exactly(threads):
    """One hub object holds most facts (one chunk gets far more work than the rest); any thread
    count gives the reference values and gradients."""
    g = torch.Generator().manual_seed(11)
    E, R, T = 50, 3, 500
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    triples[: 400, 2] = 7  # the hub
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.rand(5, E, generator=g, dtype=torch.float64, requires_grad=True)
    r = torch.rand(5, R, generator=g, dtype=torch.float64, requires_grad=True)
    probe = torch.rand(5, E, generator=g, dtype=torch.float64)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = follow(kb, x, r, frontier="dense", kernel="fused")
        grads = torch.autograd.grad((got * probe).sum(), (x, r))
    finally:
        torch.set_num_threads(saved)
    ref = follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r)
    torch.testing.assert_close(got, ref)
    for a, b in zip(grads, torch.autograd.grad((ref * probe).sum(), (x, r))):
        torch.testing.assert_close(a, b)


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("zero_rows", ["probed", "unprobed"])
def test_fused_kernel_on_an_x_with_few_zero_rows(monkeypatch, zero_rows):
    """When the probe finds only non-zero rows the scan for rows of zeros is skipped, and the
    zero rows the probe missed are gathered — same values. A zero row the probe sees sends x
    through the scan."""
    g = torch.Generator().manual_seed(5)
    E, R, T, B = 1000, 4, 6000, 3
    triples = torch.stack([torch.randint(0, E, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], 1)
    kb = ReifiedKG.from_tensors(triples, E, R)
    probed = set(np.linspace(0, E - 1, fused.LIVE_PROBE).astype(np.int64).tolist())
    zeros = sorted(probed)[3:9] if zero_rows == "probed" else [e for e in range(1, E, 37) if e not in probed]
    x = torch.rand(B, E, generator=g, dtype=torch.float64) + 0.1
    x[:, zeros] = 0
    r = torch.rand(B, R, generator=g, dtype=torch.float64)
    scans = []
    real = fused._live_rows
    monkeypatch.setattr(fused, "_live_rows", lambda *a: scans.append(1) or real(*a))
    got = follow(kb, x, r, frontier="dense", kernel="fused")
    torch.testing.assert_close(got, follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r))
    assert bool(scans) == (zero_rows == "probed")


def test_kernel_and_frontier_arguments_are_checked(kb, world):
    x, r = one_hot(world, "mona_lisa"), relation_one_hot(world, "exhibited_at")
    with pytest.raises(ValueError, match="kernel must be"):
        follow(kb, x, r, kernel="fastest")
    with pytest.raises(ValueError, match="frontier must be"):
        follow(kb, x, r, frontier="wide")
    # the fused kernel takes float32/float64 only; half-precision inputs are followed in float32
    y = follow(kb, x.to(torch.bfloat16), r.to(torch.bfloat16), frontier="dense", kernel="fused")
    assert y.dtype == torch.bfloat16 and torch.equal(y.float(), follow(kb, x, r, frontier="dense"))


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
def test_fused_kernel_leaves_torch_thread_count_alone(kb, world):
    """Numba's OpenMP pool shares the OpenMP settings of the process; torch's count must survive."""
    saved = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            x = one_hot(world, "mona_lisa").requires_grad_()
            follow(kb, x, relation_one_hot(world, "exhibited_at"), frontier="dense", kernel="fused").sum().backward()
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(saved)


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@FAST
@given(random_graphs(), st.integers(0, 2**31 - 1), st.sampled_from(["none", "call", "stored"]))
def test_compiled_sparse_forward_equals_the_differentiable_one(graph, seed, weighted):
    """Without gradients a sparse COO x takes one compiled call; with them, torch ops. Same
    entries, same values, both equal to the dense reference; all-zero messages leave no entry.
    Fact weights given to the call, stored on the graph (set after an unweighted call, whose
    arrays the graph keeps), or none."""
    triples, E, R, B = graph
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(triples.shape[0], generator=g, dtype=torch.float64) if weighted != "none" else None
    kb = ReifiedKG.from_tensors(triples, E, R)
    if weighted == "stored":
        with torch.no_grad():  # an unweighted float32 call first: the kept ones must not leak into the next
            follow(kb, torch.ones(1, E).to_sparse(), torch.ones(1, R), frontier="sparse")
        kb.set_fact_weights(w)
    x = (torch.rand(B, E, generator=g, dtype=torch.float64) * (torch.rand(B, E, generator=g) < 0.5)).to_sparse()
    r = torch.rand(B, R, generator=g, dtype=torch.float64) * (torch.rand(B, R, generator=g) < 0.7)
    call_w = w if weighted == "call" else None
    with torch.no_grad():
        fast = follow(kb, x, r, frontier="sparse", fact_weights=call_w)
    slow = follow(kb, x, r.clone().requires_grad_(), frontier="sparse", fact_weights=call_w)
    torch.testing.assert_close(fast.to_dense(), follow_reference(ReifiedKG.from_tensors(triples, E, R), x.to_dense(), r, w))
    torch.testing.assert_close(fast.to_dense(), slow.detach().to_dense())
    if triples.shape[0]:  # (an empty graph answers with dense zeros)
        assert fast.is_sparse and fast.is_coalesced()
        assert bool((fast.values() != 0).all())
        key = fast.indices()[0] * E + fast.indices()[1]  # one entry per (row, object), in order
        assert bool((key[1:] > key[:-1]).all())


@pytest.mark.skipif(not fused.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shared_r", [False, True])
def test_compiled_sparse_forward_on_a_hub(dtype, shared_r):
    """Rows whose messages are too many for the insertion sort (a hub with 300 out-facts, many
    reaching the same object) and rows with a handful; ``r`` per row or one ``(1, R)`` row for all.
    Equal to the dense reference and to the differentiable sparse frontier."""
    g = torch.Generator().manual_seed(7)
    E, R = 40, 3
    hub = torch.stack([torch.zeros(300, dtype=torch.int64), torch.randint(0, R, (300,), generator=g),
                       torch.randint(0, 12, (300,), generator=g)], 1)
    rest = torch.stack([torch.randint(1, E, (200,), generator=g), torch.randint(0, R, (200,), generator=g),
                        torch.randint(0, E, (200,), generator=g)], 1)
    triples = torch.cat([hub, rest])
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.zeros(4, E, dtype=dtype)
    x[0, 0] = 0.5                   # the hub alone
    x[1, [0, 3, 9]] = 1.0           # the hub and two others
    x[3, 17] = 2.0                  # row 2 holds nothing
    r = torch.rand(1 if shared_r else 4, R, generator=g, dtype=dtype)
    with torch.no_grad():
        fast = follow(kb, x.to_sparse(), r, frontier="sparse")
    slow = follow(kb, x.to_sparse(), r.clone().requires_grad_(), frontier="sparse")
    want = follow_reference(ReifiedKG.from_tensors(triples, E, R), x, r.expand(4, R))
    torch.testing.assert_close(fast.to_dense(), want)
    torch.testing.assert_close(fast.to_dense(), slow.detach().to_dense())
    assert fast.is_coalesced() and fast.dtype == dtype and bool((fast.values() != 0).all())
    key = fast.indices()[0] * E + fast.indices()[1]  # truly coalesced: one entry per (row, object), in order
    assert bool((key[1:] > key[:-1]).all())
    assert fast.to_dense()[2].eq(0).all() and fast.to_dense()[0, :12].gt(0).sum() >= 10
