"""The end-to-end model: shapes, distributions, the random-walk weights and the losses."""

from __future__ import annotations

import math

import pytest
import torch

from kgqa.model import EndToEndQA, ModelConfig, Starts, answer_loss, random_walk_weights
from kgqa.follow import ReifiedKG
from kgqa.traverse import walk_path


def test_random_walk_weights_split_each_entity_relation_evenly(toy):
    w = random_walk_weights(toy.triples)
    groups: dict[tuple[int, int], float] = {}
    counts: dict[tuple[int, int], int] = {}
    for (s, r, _), x in zip(toy.triples.tolist(), w.tolist()):
        groups[(s, r)] = groups.get((s, r), 0.0) + x
        counts[(s, r)] = counts.get((s, r), 0) + 1
    assert all(math.isclose(v, 1.0, rel_tol=1e-6) for v in groups.values())
    s, r = toy.entity_index("tom_hanks_actor"), toy.relation_index("starred_in")
    assert counts[(s, r)] > 1
    assert math.isclose(w[(toy.triples[:, 0] == s) & (toy.triples[:, 1] == r)][0].item(), 1 / counts[(s, r)], rel_tol=1e-6)


def test_forward_shapes_and_distributions(toy):
    torch.manual_seed(0)
    kb = ReifiedKG.from_kg(toy, fact_weights=random_walk_weights(toy.triples))
    model = EndToEndQA(toy.num_relations, 16, ModelConfig(hops=3, hidden=8, mask_topics=True))
    q = torch.randn(4, 16)
    x0 = torch.zeros(4, toy.num_entities)
    x0[torch.arange(4), torch.tensor([0, 1, 2, 3])] = 1.0
    out = model(kb, q, Starts.summed(x0), topic_mask=x0 > 0, keep_hops=True)
    assert out.scores.shape == (4, toy.num_entities)
    assert out.relations.shape == (4, 3, toy.num_relations)
    assert out.hop_attention.shape == (4, 3) and out.hop_entities.shape == (4, 3, toy.num_entities)
    assert torch.allclose(out.relations.sum(-1), torch.ones(4, 3), atol=1e-5)
    assert torch.allclose(out.hop_attention.sum(-1), torch.ones(4), atol=1e-5)
    # random-walk weights keep every hop a sub-distribution, so the scores are one too
    assert (out.hop_entities.sum(-1) <= 1 + 1e-5).all() and (out.scores.sum(-1) <= 1 + 1e-5).all()
    assert (out.scores[x0 > 0] == 0).all()  # topics masked out


def test_without_hop_attention_the_answer_is_the_last_hop(toy):
    """The ablation: every question walks all T hops; same weights, only the mixing changes."""
    torch.manual_seed(0)
    kb = ReifiedKG.from_kg(toy, fact_weights=random_walk_weights(toy.triples))
    on = EndToEndQA(toy.num_relations, 16, ModelConfig(hops=3, hidden=8, mask_topics=True))
    off = EndToEndQA(toy.num_relations, 16, ModelConfig(hops=3, hidden=8, mask_topics=True, hop_attention=False))
    off.load_state_dict(on.state_dict())
    on.eval(), off.eval()  # no dropout: the same trunk in both
    q, x0 = torch.randn(4, 16), torch.zeros(4, toy.num_entities)
    x0[torch.arange(4), torch.tensor([0, 1, 2, 3])] = 1.0
    a = on(kb, q, Starts.summed(x0), topic_mask=x0 > 0, keep_hops=True)
    b = off(kb, q, Starts.summed(x0), topic_mask=x0 > 0, keep_hops=True)
    assert torch.equal(b.hop_attention, torch.tensor([[0.0, 0.0, 1.0]]).expand(4, 3))
    assert torch.equal(b.hop_entities, a.hop_entities) and torch.equal(b.scores, b.hop_entities[:, -1])
    assert not torch.allclose(a.scores, b.scores)  # with attention, earlier hops count too
    b.scores.sum().backward()  # and the relation heads still learn
    assert all(p.grad is not None for p in off.relation_heads.parameters())


def test_hard_relations_reproduce_symbolic_traversal(toy):
    """With one-hot relations and all attention on the last hop, the model is a traversal."""
    kb = ReifiedKG.from_kg(toy)
    model = EndToEndQA(toy.num_relations, 4, ModelConfig(hops=2, hidden=4, loss="bce", condition_on_previous=False))
    path = ["exhibited_at", "located_in"]
    with torch.no_grad():
        for head, rel in zip(model.relation_heads, path):
            head.weight.zero_()
            head.bias.fill_(-1e4)
            head.bias[toy.relation_index(rel)] = 0.0
        model.hop_head.weight.zero_()
        model.hop_head.bias.copy_(torch.tensor([-1e4, 0.0]))
    model.eval()
    x0 = torch.zeros(1, toy.num_entities)
    x0[0, toy.entity_index("mona_lisa")] = 1
    scores = model(kb, torch.zeros(1, 4), Starts.summed(x0)).scores[0]
    expected = walk_path(toy, ["mona_lisa"], path)
    assert set(torch.nonzero(scores > 0.5).flatten().tolist()) == expected


def test_answer_losses_hand_computed():
    scores = torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    gold = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    got = answer_loss(scores, gold, "softmax")
    assert torch.isclose(got, (-math.log(0.75) - math.log(1e-10)) / 2 * torch.ones(()), rtol=1e-4)
    bce = answer_loss(torch.tensor([[0.5, 0.0]]), torch.tensor([[1, 0]]), "bce")
    assert torch.isclose(bce, torch.tensor(-math.log(0.5)), rtol=1e-4)
    with pytest.raises(ValueError, match="loss must be"):
        answer_loss(scores, gold, "hinge")


def test_gradients_reach_every_head(toy):
    kb = ReifiedKG.from_kg(toy, fact_weights=random_walk_weights(toy.triples))
    model = EndToEndQA(toy.num_relations, 8, ModelConfig(hops=3, hidden=8))
    x0 = torch.zeros(2, toy.num_entities)
    x0[0, toy.entity_index("mona_lisa")] = x0[1, toy.entity_index("tom_hanks_actor")] = 1
    gold = torch.zeros(2, toy.num_entities, dtype=torch.bool)
    gold[0, toy.entity_index("paris")] = gold[1, toy.entity_index("eric_roth")] = True
    answer_loss(model(kb, torch.randn(2, 8), Starts.summed(x0)).scores, gold).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.relation_heads[1].parameters())


def test_config_validation():
    with pytest.raises(ValueError, match="hops"):
        ModelConfig(hops=0)
    with pytest.raises(ValueError, match="loss"):
        ModelConfig(loss="mse")
    with pytest.raises(ValueError, match=r"q must be \(B, H\) = \(2, 8\)"):
        EndToEndQA(3, 8)(None, torch.zeros(2, 5), Starts.summed(torch.zeros(2, 4)))
    with pytest.raises(TypeError, match="Starts"):  # a bare x0 says what to pass instead
        EndToEndQA(3, 8)(None, torch.zeros(2, 8), torch.zeros(2, 4))


def test_auto_loss_is_bce_but_softmax_for_mixed_readings_of_several_entities():
    assert ModelConfig().loss == "auto" and ModelConfig().objective == "bce"
    assert ModelConfig(intersection="min").objective == "bce"  # given entities, one branch each
    for entities in ("span", "text"):
        assert ModelConfig(entities=entities).objective == "bce"  # one entity read from the text
        assert ModelConfig(entities=entities, intersection="min").objective == "softmax"
        assert ModelConfig().with_(entities=entities, intersection="product").objective == "softmax"  # resolved late
    assert ModelConfig(loss="softmax").objective == "softmax"
    assert ModelConfig(loss="bce", entities="text", intersection="min").objective == "bce"  # an explicit choice wins


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relations_leaving_matches_a_count_over_the_facts(seed, dense, monkeypatch):
    """``relations_leaving`` against a loop over the facts of a random graph (duplicates, isolated
    entities), for soft and one-hot rows, with its gradient; the dense and the sparse matrix."""
    import kgqa.follow.reified as reified

    monkeypatch.setattr(reified, "DENSE_LEAVING", 2**24 if dense else 0)
    g = torch.Generator().manual_seed(seed)
    E, R, T = 12, 5, 30
    triples = torch.stack([torch.randint(0, E - 2, (T,), generator=g), torch.randint(0, R, (T,), generator=g),
                           torch.randint(0, E, (T,), generator=g)], dim=1)
    triples = torch.cat([triples, triples[:3]])  # duplicate facts count once
    kb = ReifiedKG.from_tensors(triples, E, R)
    x = torch.rand(4, E, generator=g, dtype=torch.float64)
    x[0] = 0
    x[0, E - 1] = 1.0  # an entity with no facts leaving it
    leaves = {(s, r) for s, r, _ in triples.tolist()}
    oracle = torch.tensor([[sum(float(x[n, e]) for e in range(E) if (e, r) in leaves) for r in range(R)]
                           for n in range(4)], dtype=torch.float64)
    x.requires_grad_(True)
    got = kb.relations_leaving(x)
    assert got.shape == (4, R) and torch.allclose(got, oracle)
    assert float(got[0].detach().sum()) == 0.0
    assert torch.autograd.gradcheck(kb.relations_leaving, (x,))
    assert kb._leaving.is_sparse != dense


def test_entity_kinds_weigh_only_relations_that_leave_the_entities(toy):
    """With ``entity_kinds`` a hop puts no weight on a relation none of its entities has (unless it
    has none at all), and ``ŷ = Σ_t a_t x_t`` still holds with the kind-aware hop attention."""
    torch.manual_seed(0)
    kb = ReifiedKG.from_kg(toy, fact_weights=random_walk_weights(toy.triples))
    model = EndToEndQA(toy.num_relations, 16, ModelConfig(hops=3, hidden=8, entity_kinds=True, mask_topics=True))
    model.eval()
    x0 = torch.zeros(3, toy.num_entities)
    for b, name in enumerate(["mona_lisa", "louvre_museum", "paris"]):
        x0[b, toy.entity_index(name)] = 1.0
    with torch.no_grad():
        out = model(kb, torch.randn(3, 16), Starts.summed(x0), topic_mask=x0 > 0, keep_hops=True)
    starts = [x0] + [out.hop_entities[:, t] for t in range(2)]
    for t, x in enumerate(starts):
        for b in range(3):
            held = {r for s, r, _ in toy.triples.tolist() if float(x[b, s]) > 0}
            weighted = set(torch.nonzero(out.relations[b, t] > 0).flatten().tolist())
            assert weighted <= held or not held, (t, b)
            assert held or len(weighted) == toy.num_relations  # nothing held: every relation stays open
    assert torch.allclose(out.relations.sum(-1), torch.ones(3, 3), atol=1e-5)
    assert torch.allclose(out.hop_attention.sum(-1), torch.ones(3), atol=1e-5)
    by_hand = (out.hop_attention[:, :, None] * out.hop_entities).sum(1)
    assert torch.allclose(by_hand, out.scores, atol=1e-6)
    painting = set(toy.triples[toy.triples[:, 0] == toy.entity_index("mona_lisa"), 1].tolist())
    assert toy.relation_index("located_in") not in painting  # so hop 1 from the painting skips it
    assert float(out.relations[0, 0, toy.relation_index("located_in")]) == 0.0


def test_entity_kinds_let_the_hop_attention_see_what_each_hop_reached(toy):
    """The hop attention of an ``entity_kinds`` model depends on the entities (not only on ``q``):
    one question vector, a painting and a museum as topics, different attention; gradients reach
    the answer-kind head."""
    torch.manual_seed(0)
    kb = ReifiedKG.from_kg(toy, fact_weights=random_walk_weights(toy.triples))
    model = EndToEndQA(toy.num_relations, 8, ModelConfig(hops=2, hidden=8, entity_kinds=True))
    x0 = torch.zeros(2, toy.num_entities)
    x0[0, toy.entity_index("mona_lisa")] = x0[1, toy.entity_index("louvre_museum")] = 1.0
    q = torch.randn(1, 8).expand(2, 8)
    out = model(kb, q, Starts.summed(x0))
    assert not torch.allclose(out.hop_attention[0], out.hop_attention[1])
    gold = torch.zeros(2, toy.num_entities, dtype=torch.bool)
    gold[:, toy.entity_index("paris")] = True
    answer_loss(out.scores, gold).backward()
    assert model.answer_kind.weight.grad is not None and float(model.answer_kind.weight.grad.abs().sum()) > 0
    assert not hasattr(EndToEndQA(toy.num_relations, 8, ModelConfig(hidden=8)), "answer_kind")
