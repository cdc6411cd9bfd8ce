"""The intersection model: one branch per topic entity, combined by element-wise min or product.

Oracles: the baseline model run once per topic (same weights), symbolic traversal with hard
relations, and a loop over word pieces for the mention vectors.
"""

from __future__ import annotations

import pytest
import torch

from kgqa.datasets import QAExample
from kgqa.model import EndToEndQA, ModelConfig, Starts
from kgqa.inputs import PLACEHOLDER, encoder_input, pad_questions, span_vectors
from kgqa.qa import QASystem
from kgqa.datasets import NO_SPAN
from kgqa.follow import ReifiedKG
from kgqa.traverse import walk_path, intersect_sets

H = 12


def _pair(toy, combine: str, mentions: bool = False, seed: int = 0) -> tuple[EndToEndQA, EndToEndQA]:
    """A baseline model and a branched one with the same weights (no mention input)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(hops=2, hidden=8, mask_topics=True, dropout=0.0)
    base = EndToEndQA(toy.num_relations, H, cfg).eval()
    branched = EndToEndQA(toy.num_relations, H, cfg.with_(intersection=combine, branch_mentions=mentions)).eval()
    branched.load_state_dict(base.state_dict())
    return base, branched


def _onehot(n: int, *idx: int) -> torch.Tensor:
    x = torch.zeros(1, n)
    x[0, list(idx)] = 1.0
    return x


def branch_inputs(q: torch.Tensor, topics: torch.Tensor, kg) -> tuple[torch.Tensor, Starts]:
    """``(pooled q, Starts)`` from ``q (B, 1 + K, H)`` — the pooled vector, then each topic's
    mention vector — and ``topics (B, K)``, as :meth:`QASystem.run <kgqa.qa.QASystem.run>` builds them."""
    return q[:, 0], Starts.from_topics(topics, kg.num_entities, q[:, 1:])


@pytest.mark.parametrize("combine", ["min", "product"])
def test_branches_equal_the_baseline_run_once_per_topic(toy, combine):
    kb = ReifiedKG.from_kg(toy)
    base, branched = _pair(toy, combine)
    a, b = toy.entity_index("natalie_portman"), toy.entity_index("star_wars_episode_ii")
    q = torch.randn(1, H)
    mask = _onehot(toy.num_entities, a, b) > 0
    ya = base(kb, q, Starts.summed(_onehot(toy.num_entities, a)), topic_mask=mask).scores
    yb = base(kb, q, Starts.summed(_onehot(toy.num_entities, b)), topic_mask=mask).scores
    out = branched(kb, *branch_inputs(torch.cat([q[:, None], torch.zeros(1, 2, H)], 1), torch.tensor([[a, b]]), toy),
                                    topic_mask=mask)
    expected = torch.minimum(ya, yb) if combine == "min" else ya * yb
    assert torch.allclose(out.scores, expected, atol=1e-7)
    assert torch.allclose(out.branch_scores[0, 0], ya[0]) and torch.allclose(out.branch_scores[0, 1], yb[0])
    assert out.branch_relations.shape == (1, 2, 2, toy.num_relations)


def test_a_single_topic_passes_through_unchanged(toy):
    kb = ReifiedKG.from_kg(toy)
    base, branched = _pair(toy, "min")
    topics = torch.tensor([[3, -1], [7, 9]])  # the first question has one topic, the second two
    q = torch.randn(2, H)
    x0 = _onehot(toy.num_entities, 3)
    want = base(kb, q[:1], Starts.summed(x0), topic_mask=x0 > 0)
    mask = torch.zeros(2, toy.num_entities, dtype=torch.bool)
    mask[0, 3] = mask[1, 7] = mask[1, 9] = True
    got = branched(kb, *branch_inputs(torch.cat([q[:, None], torch.zeros(2, 2, H)], 1), topics, toy), topic_mask=mask)
    assert torch.allclose(got.scores[0], want.scores[0], atol=1e-7)
    assert torch.allclose(got.relations[0], want.relations[0], atol=1e-6)
    assert got.branch_valid.tolist() == [[True, False], [True, True]]
    assert (got.branch_scores[0, 1] == 0).all()


def test_a_question_without_topics_scores_nothing(toy):
    kb = ReifiedKG.from_kg(toy)
    _, branched = _pair(toy, "min")
    out = branched(kb, *branch_inputs(torch.randn(2, 2, H), torch.tensor([[-1], [4]]), toy))
    assert (out.scores[0] == 0).all() and out.scores[1].sum() > 0


def test_hard_branches_compute_the_symbolic_intersection(toy):
    """One-hot relations per branch: min over branches == intersect_sets of the traversals."""
    kb = ReifiedKG.from_kg(toy)
    cfg = ModelConfig(hops=1, hidden=4, loss="bce", condition_on_previous=False, intersection="min", dropout=0.0)
    model = EndToEndQA(toy.num_relations, 2, cfg).eval()
    paths = {"natalie_portman": "starred_in", "george_lucas": "directed_by^-1"}
    with torch.no_grad():  # the branch's mention vector picks its relation: s = e_0 or e_1
        model.trunk[0].weight.zero_()
        model.trunk[0].bias.zero_()
        model.trunk[0].weight[0, 2] = model.trunk[0].weight[1, 3] = 50.0
        model.trunk[3].weight.fill_(1.0)
        model.trunk[3].bias.zero_()
        head = model.relation_heads[0]
        head.weight.zero_()
        head.bias.fill_(-1e4)
        head.weight[toy.relation_index("starred_in"), 0] = 1e4
        head.weight[toy.relation_index("directed_by^-1"), 1] = 1e4
    q = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # pooled, then s_1, s_2
    topics = torch.tensor([[toy.entity_index(t) for t in paths]])
    out = model(kb, *branch_inputs(q, topics, toy))
    got = set((out.scores[0] > 0.5).nonzero().flatten().tolist())
    want = intersect_sets([walk_path(toy, [t], [r]) for t, r in paths.items()])
    assert got == want and len(got) >= 2
    for k, (t, r) in enumerate(paths.items()):
        reached = set((out.branch_scores[0, k] > 0.5).nonzero().flatten().tolist())
        assert reached == walk_path(toy, [t], [r]) and reached != got


def test_mention_vectors_make_branches_differ(toy):
    kb = ReifiedKG.from_kg(toy)
    torch.manual_seed(0)
    branched = EndToEndQA(toy.num_relations, H, ModelConfig(hops=2, hidden=8, intersection="min")).eval()
    t = toy.entity_index("natalie_portman")
    q = torch.randn(1, 3, H)
    out = branched(kb, *branch_inputs(q, torch.tensor([[t, t]]), toy))
    assert not torch.allclose(out.branch_relations[0, 0], out.branch_relations[0, 1])


def test_gradients_flow_through_the_min_in_float64(toy):
    kb = ReifiedKG.from_kg(toy)  # follow computes in the dtype of its inputs
    torch.manual_seed(1)
    cfg = ModelConfig(hops=2, hidden=6, intersection="min", dropout=0.0, mask_topics=True)
    model = EndToEndQA(toy.num_relations, 4, cfg).double().eval()
    topics = torch.tensor([[toy.entity_index("natalie_portman"), toy.entity_index("star_wars_episode_ii")]])
    mask = torch.zeros(1, toy.num_entities, dtype=torch.bool)
    mask[0, topics[0]] = True
    weights = torch.rand(toy.num_entities, dtype=torch.float64)

    def f(q: torch.Tensor) -> torch.Tensor:
        return (model(kb, *branch_inputs(q, topics, toy), topic_mask=mask).scores * weights).sum()

    q = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (q,), eps=1e-6, atol=1e-5)


def test_one_forward_refuses_starts_of_the_other_kind(toy):
    kb = ReifiedKG.from_kg(toy)
    base, _ = _pair(toy, "min")
    branched = EndToEndQA(toy.num_relations, H, ModelConfig(hops=2, hidden=8, intersection="min")).eval()
    with pytest.raises(ValueError, match="reads its mention"):  # a branch without its mention vector
        branched(kb, torch.randn(1, H), Starts.summed(torch.zeros(1, toy.num_entities)))
    with pytest.raises(ValueError, match="sums its topics"):
        base(kb, *branch_inputs(torch.randn(1, 3, H), torch.tensor([[0, 1]]), toy))
    with pytest.raises(ValueError, match="K >= 2"):
        Starts.from_topics(torch.tensor([[0, 1]]), toy.num_entities, torch.randn(1, 1, H))
    with pytest.raises(ValueError, match="intersection"):
        ModelConfig(intersection="max")


def test_encoder_input_moves_spans_onto_the_placeholders():
    q = "Who did Natalie Portman play in Star Wars Episode II?"
    ex = QAExample(q, ("a", "b", "c"), ((32, 52), (8, 23), NO_SPAN), ("x",))
    text, spans = encoder_input(ex, True)
    assert text == f"Who did {PLACEHOLDER} play in {PLACEHOLDER}?"
    assert [text[s:e] for s, e in spans[:2]] == [PLACEHOLDER, PLACEHOLDER] and spans[0][0] > spans[1][0]
    assert spans[2] == NO_SPAN
    text, spans = encoder_input(ex, False)
    assert text == q and [q[s:e] for s, e in spans[:2]] == ["Star Wars Episode II", "Natalie Portman"]


def test_span_vectors_match_a_loop_over_pieces():
    torch.manual_seed(0)
    B, L, K = 3, 7, 2
    tokens = torch.randn(B, L, H)
    starts = torch.arange(L).repeat(B, 1) * 4  # piece j covers [4j, 4j + 3)
    offsets = torch.stack([starts, starts + 3], -1)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[:, 0] = mask[:, -1] = False  # special tokens
    spans = torch.tensor([[[4, 11], [-1, -1]], [[0, 30], [12, 15]], [[5, 6], [20, 27]]])
    got = span_vectors(tokens, offsets, mask, spans)
    for b in range(B):
        for k in range(K):
            s, e = spans[b, k].tolist()
            inside = [j for j in range(L) if mask[b, j] and s >= 0 and offsets[b, j, 0] >= s and offsets[b, j, 1] <= e]
            want = tokens[b, inside].mean(0) if inside else torch.zeros(H)
            assert torch.allclose(got[b, k], want, atol=1e-6), (b, k)


def test_pad_questions_pads_mention_slots():
    a, b = torch.ones(2, 2, H), torch.ones(3, 3, H)
    out = pad_questions([a, b])
    assert out.shape == (5, 3, H) and (out[:2, 2] == 0).all()
    assert pad_questions([torch.ones(2, H), torch.ones(1, H)]).shape == (3, H)


def test_a_system_answers_with_branches(toy):
    from kgqa.encoders import tiny_encoder

    torch.manual_seed(0)
    model = EndToEndQA(toy.num_relations, tiny_encoder(0).dim, ModelConfig(hops=2, hidden=8, intersection="min"))
    system = QASystem(toy, tiny_encoder(0), model)
    trace = system.explain("Who did Natalie Portman play in Star Wars Episode II?",
                           ["natalie_portman", "star_wars_episode_ii"])
    assert [b.start[0].id for b in trace.branches] == ["natalie_portman", "star_wars_episode_ii"]
    assert trace.combine == "min" and len(trace.branches[0].hops) == 2
    js = trace.to_json()
    assert js["branches"][1]["start"][0]["id"] == "star_wars_episode_ii" and "relations" in js["branches"][0]["hops"][0]
    ex = [QAExample("Who did Natalie Portman play in Black Swan?", ("natalie_portman", "black_swan"),
                    ((8, 23), (32, 42)), ("nina_sayers",), qtype="conjunctive"),
          QAExample("Where is the Mona Lisa?", ("mona_lisa",), ((13, 22),), ("louvre_museum",))]
    assert system.encode(ex).shape == (2, 3, system.encoder.dim)
    result = system.evaluate(ex)
    assert set(result["by_topics"]) == {"1 entity", "2 entities"}
