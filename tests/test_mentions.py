"""Several entities from text: mention slots, readings and their weights, the mixture of branches.

Oracles: slots and weights counted by hand, a loop over spans and candidates for the slot start
sets, the baseline model run once per slot (same weights) for the mixture, gradcheck in float64.
"""

from __future__ import annotations

import pytest
import torch

from kgqa.datasets import load_toy
from kgqa.encoders import tiny_encoder
from kgqa.resolve.mentions import build_slots, combination_weights, given_slots, greedy_slots
from kgqa.model import EndToEndQA, ModelConfig, Starts
from kgqa.qa import QASystem
from kgqa.follow import ReifiedKG
from kgqa.resolve import EntityResolver, ResolverConfig
from kgqa.resolve.metrics import reading_accuracy
from kgqa.train import TrainConfig, fit

# one question, five spans: [0, 15) "Natalie Portman", [8, 15) "Portman", [8, 20) "Portman play",
# [24, 44) "Star Wars Episode II", [0, 3) "Who" (not linkable)
CHARS = torch.tensor([[[0, 15], [8, 15], [8, 20], [24, 44], [0, 3]]])
LINKABLE = torch.tensor([[True, True, True, True, False]])


def test_greedy_slots_group_overlapping_spans_best_first():
    logits = torch.tensor([[3.0, 1.0, 0.5, 2.0, 9.0]])  # "Who" scores best but is not linkable
    member = greedy_slots(logits, LINKABLE, CHARS, slots=3)
    assert member.shape == (1, 3, 5)
    assert member[0, 0].tolist() == [True, True, True, False, False]  # Natalie Portman + what overlaps it
    assert member[0, 1].tolist() == [False, False, False, True, False]  # Star Wars Episode II
    assert not member[0, 2].any()  # nothing left
    # a slot never shares a span with another
    assert (member.sum(dim=1) <= 1).all()


def test_greedy_slots_leave_overlaps_of_later_slots_to_them():
    logits = torch.tensor([[1.0, 3.0, 0.0, 2.0, 0.0]])  # "Portman" first: it takes both of its overlaps
    member = greedy_slots(logits, LINKABLE, CHARS, slots=2)
    assert member[0, 0].tolist() == [True, True, True, False, False]
    assert member[0, 1].tolist() == [False, False, False, True, False]


def test_given_slots_follow_the_given_order_and_drop_unlinkable_ones():
    member = given_slots(CHARS, LINKABLE, [[(24, 44), (0, 3), (0, 15)]])
    assert member.shape == (1, 3, 5)
    assert member[0, 0].tolist() == [False, False, False, True, False]
    assert not member[0, 1].any()  # "Who" is not linkable
    assert member[0, 2].tolist() == [True, False, False, False, False]


def test_combination_weights_by_hand():
    share = torch.tensor([[0.6, 0.3, 0.1]])
    valid = torch.tensor([[True, True, True]])
    counts = torch.tensor([[0.25, 0.75]])
    combos, w, p = combination_weights(share, valid, counts)
    assert combos == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    pairs = torch.tensor([0.18, 0.06, 0.03])
    expected = torch.cat([0.25 * share[0], 0.75 * pairs / pairs.sum()])
    assert torch.allclose(w[0], expected) and torch.allclose(p, counts)
    assert torch.isclose(w.sum(), torch.tensor(1.0))


def test_a_size_with_too_few_slots_gets_no_weight():
    share = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.0, 0.0]])
    valid = torch.tensor([[True, False, False], [False, False, False]])
    combos, w, p = combination_weights(share, valid, torch.tensor([[0.4, 0.6], [0.5, 0.5]]))
    assert torch.allclose(w[0], torch.tensor([1.0, 0, 0, 0, 0, 0]))  # one slot: one entity, surely
    assert torch.allclose(p[0], torch.tensor([1.0, 0.0]))
    assert w[1].sum() == 0 and p[1].sum() == 0  # nothing linkable: no reading


def test_combination_weights_gradcheck():
    valid = torch.tensor([[True, True, True], [True, True, False]])

    def f(share: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        return combination_weights(share, valid, counts)[1]

    share = torch.rand(2, 3, dtype=torch.float64) + 0.1
    counts = torch.softmax(torch.randn(2, 2, dtype=torch.float64), dim=1)
    assert torch.autograd.gradcheck(f, (share.requires_grad_(), counts.requires_grad_()))


def test_slot_start_sets_match_a_loop():
    torch.manual_seed(0)
    B, S, K, E, H = 2, 5, 3, 7, 4
    member = torch.zeros(B, 2, S, dtype=torch.bool)
    member[0, 0, [0, 1]] = True
    member[0, 1, 3] = True
    member[1, 0, [2, 4]] = True
    probs = torch.softmax(torch.randn(B, S), dim=1)
    vectors = torch.randn(B, S, H)
    cands = torch.randint(0, E, (B, S, K))
    cands[0, 1, 2] = -1  # padding
    pe = torch.softmax(torch.randn(B, S, K), dim=2) * (cands >= 0)
    slots = build_slots(member, probs, vectors, cands, pe, E, torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    for b in range(B):
        for k in range(2):
            spans = member[b, k].nonzero().flatten().tolist()
            q = sum(float(probs[b, s]) for s in spans)
            x = torch.zeros(E)
            v = torch.zeros(H)
            for s in spans:
                v += probs[b, s] / q * vectors[b, s]
                for j in range(K):
                    if cands[b, s, j] >= 0:
                        x[cands[b, s, j]] += probs[b, s] / q * pe[b, s, j]
            assert slots.valid[b, k] == bool(spans)
            assert abs(float(slots.share[b, k]) - q) < 1e-6
            assert torch.allclose(slots.x0[b, k], x, atol=1e-6) and torch.allclose(slots.vectors[b, k], v, atol=1e-6)
    assert slots.best(1) == (0,) and torch.allclose(slots.chosen[1], torch.tensor([1.0, 0.0]))


def test_the_mixture_equals_the_baseline_run_once_per_slot(toy):
    """ŷ = Σ_c w_c normalise(min_{k ∈ c} ŷ^(k)), with ŷ^(k) the baseline model from the slot's soft x0."""
    torch.manual_seed(1)
    kb = ReifiedKG.from_kg(toy)
    cfg = ModelConfig(hops=2, hidden=8, dropout=0.0, mask_topics=False)
    base = EndToEndQA(toy.num_relations, 6, cfg).eval()
    branched = EndToEndQA(toy.num_relations, 6, cfg.with_(intersection="min", branch_mentions=False)).eval()
    branched.load_state_dict(base.state_dict())
    E = toy.num_entities
    x0 = torch.softmax(torch.randn(2, 3, E) * 4, dim=-1)
    valid = torch.tensor([[True, True, True], [True, True, False]])
    q = torch.randn(2, 6)
    combos, w, _ = combination_weights(torch.rand(2, 3) + 0.1, valid, torch.tensor([[0.3, 0.7], [0.6, 0.4]]))
    out = branched(kb, q, Starts.from_slots(x0, valid, torch.zeros(2, 3, 6), combos, w))
    for b in range(2):
        each = [base(kb, q[b: b + 1], Starts.summed(x0[b, k][None])).scores[0] for k in range(3)]
        expected = torch.zeros(E)
        for c, combo in enumerate(combos):
            if not valid[b, list(combo)].all():
                assert w[b, c] == 0
                continue
            part = torch.stack([each[k] for k in combo]).amin(dim=0)
            expected += w[b, c] * part / part.sum()
        assert torch.allclose(out.scores[b], expected, atol=1e-6)
    assert out.branch_scores.shape == (2, 3, E) and out.branch_valid.tolist() == valid.tolist()


def test_slot_starts_check_shapes(toy):
    with pytest.raises(ValueError, match="must agree"):
        Starts.from_slots(torch.zeros(1, 3, toy.num_entities), torch.ones(1, 2, dtype=torch.bool),
                          torch.zeros(1, 2, 6), [(0,), (1,), (0, 1)], torch.ones(1, 3))


def test_bad_resolver_settings_are_refused(toy):
    with pytest.raises(ValueError, match="slots"):
        ResolverConfig(max_entities=3, slots=2)
    enc = tiny_encoder(0)
    model = EndToEndQA(toy.num_relations, enc.dim, ModelConfig(intersection="min", entities="text"))
    with pytest.raises(ValueError, match="max_entities"):
        QASystem(toy, enc, model, device="cpu", resolver=EntityResolver(toy, enc.dim, ResolverConfig.quick()))


def test_the_answer_loss_reaches_every_part_of_the_resolver(toy):
    enc = tiny_encoder(0)
    cfg = ModelConfig(hidden=8, intersection="min", entities="text", dropout=0.0)
    resolver = EntityResolver(toy, enc.dim, ResolverConfig.quick().with_(max_entities=2))
    system = QASystem(toy, enc, EndToEndQA(toy.num_relations, enc.dim, cfg), device="cpu", resolver=resolver)
    texts = ["Who did Natalie Portman play in Star Wars Episode II?", "What city is the Mona Lisa in?"]
    out, res = system.run_text(enc(texts), texts)
    assert res.slots is not None and torch.allclose(res.slots.combo_weights.sum(1), torch.ones(2), atol=1e-5)
    gold = torch.zeros_like(out.scores)
    gold[0, toy.entity_index("padme_amidala")] = 1.0
    gold[1, toy.entity_index("paris")] = 1.0
    (-(out.scores * gold).sum(1).clamp(min=1e-9).log().mean()).backward()
    for name in ("count_head", "span_scorer", "entity_scorer"):
        grads = [p.grad for p in getattr(resolver, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


@pytest.fixture(scope="module")
def trained_text_intersection():
    data = load_toy()
    cfg = TrainConfig(epochs=2, batch_size=32, encoder="tiny", patience=10, device="cpu")
    result = fit(data, ModelConfig(hidden=16, intersection="min", entities="text"), cfg, progress=False,
                 resolver_config=ResolverConfig.quick().with_(max_entities=2))
    return result.system, data


def test_ask_from_text_shows_slots_count_and_branches(trained_text_intersection):
    system, _ = trained_text_intersection
    a = system.explain("Who did Natalie Portman play in Star Wars Episode II?")
    assert len(a.entity_count) == 2 and abs(sum(a.entity_count) - 1) < 1e-5
    assert a.combine == ("min" if len(a.branches) > 1 else "none")
    assert 1 <= len(a.mentions) <= 3 and all(0 <= s.p <= 1 + 1e-6 for s in a.mentions)
    assert len(a.branches) == len(a.topics) >= 1
    assert all(b.mention is not None and b.start[0].id == t.id for b, t in zip(a.branches, a.topics))
    assert a.readings and a.readings[0].slots == [b.mention for b in a.branches]
    js = a.to_json()
    assert js["entity_count"] == a.entity_count and len(js["branches"]) == len(a.branches)
    none = system.explain("???")  # nothing linkable: no entity, no answer, no crash
    assert none.answers == [] and none.topics == []


def test_evaluate_reports_er_for_the_text_intersection_model(trained_text_intersection):
    system, data = trained_text_intersection
    m = system.evaluate(data.test)
    assert {"1 entity", "2 entities"} <= set(m["by_topics"])
    assert set(m["er"]) >= {"entity_accuracy", "entity_set_accuracy", "count_accuracy"}
    assert all(0 <= v <= 100 for v in m["er"].values())


def test_reading_accuracy_by_hand():
    member = torch.zeros(2, 2, 3, dtype=torch.bool)
    member[0, 0, 0] = member[0, 1, 1] = member[1, 0, 2] = True
    cands = torch.tensor([[[4, 1], [2, 3], [0, 1]], [[0, 1], [0, 1], [3, 4]]])
    pe = torch.tensor([[[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0], [0.7, 0.3]]])
    slots = build_slots(member, torch.full((2, 3), 1 / 3), torch.zeros(2, 3, 1), cands, pe, 5,
                        torch.tensor([[0.2, 0.8], [0.9, 0.1]]))
    assert slots.best(0) == (0, 1) and slots.best(1) == (0,)
    # question 0 reads {4, 3}: right set; question 1 reads {3} while the gold has two entities
    assert reading_accuracy(slots, [[3, 4], [3, 0]]) == (0.5, 0.5)
    assert reading_accuracy(slots, [[4], []]) == (0.0, 0.0)


def test_plot_mention_slots_draws_one_row_per_slot(toy):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kgqa.plot.branches import plot_mention_slots

    enc = tiny_encoder(0)
    q = "Who did Natalie Portman play in Star Wars Episode II?"
    res = EntityResolver(toy, enc.dim, ResolverConfig.quick().with_(max_entities=2))(
        [q], enc([q]), given_spans=[[(8, 23), (32, 52)]])
    ax = plot_mention_slots(q, res)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert len(rows) == 2 and "'Natalie Portman'" in rows[0] and "'Star Wars Episode II?'" not in rows[1]
    assert "'Star Wars Episode II'" in rows[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == q.split()
    cells = ax.get_images()[0].get_array()
    assert cells.shape == (2, 10) and cells[0, 2] == 1.0 and cells[0, 3] == 1.0 and cells[0, :2].sum() == 0
    assert "P(1)=0.00, P(2)=1.00" in ax.get_title()
    assert all("P(entity)=1.00" in r and "Q=" in r for r in rows)  # both slots are in the one reading
    plt.close("all")
    single = EntityResolver(toy, enc.dim, ResolverConfig.quick())([q], enc([q]))
    with pytest.raises(ValueError, match="no mention slots"):
        plot_mention_slots(q, single)


def test_cli_trains_and_asks_an_intersection_model_from_text(tmp_path, capsys):
    import json

    from kgqa.cli import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", "toy", "--encoder", "tiny", "--epochs", "1", "--entities", "text",
                 "--intersection", "min", "--out", str(run), "--device", "cpu"]) == 0
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["resolver"]["max_entities"] == 2 and config["model"]["intersection"] == "min"
    capsys.readouterr()
    assert main(["ask", "Who did Natalie Portman play in Star Wars Episode II?", "--checkpoint", str(run)]) == 0
    out = capsys.readouterr().out
    assert "mention '" in out and "entities in the question: 1 " in out
    assert "topic entities (resolved from the text)" in out
