"""The operation controller: each program against the set algebra, arity masking, count slots,
gradients, and a system that trains, saves and answers with it."""

from __future__ import annotations

import pytest
import torch

from kgqa.kg import KnowledgeGraph
from kgqa.model import ModelConfig
from kgqa.numeric import NumericValues, superlative
from kgqa.operations import PROGRAMS, OperationController, answer_label, count_distribution
from kgqa.sets import difference, intersect, union


@pytest.fixture(scope="module")
def films() -> KnowledgeGraph:
    return KnowledgeGraph.from_triples(
        [("a", "year", "1990"), ("b", "year", "2001"), ("c", "year", "1985"), ("d", "year", "2001"),
         ("a", "by", "x"), ("b", "by", "x"), ("c", "by", "y")], add_inverses=True)


def forced(values, program: str, *, keep: int | None = None, dim: int = 4) -> OperationController:
    """A controller whose heads always choose ``program`` (and, for a difference, keep branch ``keep``)."""
    torch.manual_seed(0)
    c = OperationController(dim, dim, 8, values, max_count=6, sigma=0.5).double()
    with torch.no_grad():
        c.program_head.weight.zero_()
        c.program_head.bias.fill_(-50.0)
        c.program_head.bias[PROGRAMS.index(program)] = 50.0
        c.keep_head.weight.zero_()
        c.keep_head.weight[0, 0] = 50.0  # keeps the branch whose state has a large first feature
    return c


def hand_grid(films):
    E = films.num_entities
    x = torch.zeros(3, 2, E, dtype=torch.float64)
    ix = films.entity_index
    x[:, 0, [ix("a"), ix("b"), ix("c")]] = 1.0  # branch 0: {a, b, c}
    x[:, 1, [ix("b"), ix("d")]] = 1.0  # branch 1: {b, d}
    valid = torch.tensor([[True, True], [True, True], [True, False]])  # the last question has one topic
    return x, valid


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_equals_the_set_algebra(films, program):
    values = NumericValues.from_kg(films, ["year"])
    grid, valid = hand_grid(films)
    h = torch.zeros(3, 2, 4, dtype=torch.float64)
    h[:, 0, 0] = 1.0  # the difference keeps branch 0
    c = forced(values, program)
    out = c(torch.randn(3, 4, dtype=torch.float64), grid, valid, h)
    E = films.num_entities
    pair = program in ("intersect", "union", "difference")
    rows = [0, 1] if pair else [2]
    a, b = grid[:, 0], grid[:, 1]
    want = {"follow": a, "intersect": intersect(a, b), "union": union(a, b), "difference": difference(a, b),
            "argmax": superlative(a, values, "year", "max"), "argmin": superlative(a, values, "year", "min")}
    if program == "count":
        assert out.scores[rows, :E].abs().max() < 1e-12
        assert out.scores[rows, E:].argmax(dim=1).tolist() == [3]  # |{a, b, c}|
    else:
        assert torch.allclose(out.scores[rows, :E], want[program][rows])
        assert out.scores[rows, E:].abs().max() < 1e-12
    assert torch.allclose(out.program[rows, PROGRAMS.index(program)], torch.ones(len(rows), dtype=torch.float64))


def test_arity_masks_programs_by_the_number_of_topics(films):
    values = NumericValues.from_kg(films, ["year"])
    grid, valid = hand_grid(films)
    c = OperationController(4, 4, 8, values).double()
    out = c(torch.randn(3, 4, dtype=torch.float64), grid, valid, torch.randn(3, 2, 4, dtype=torch.float64))
    pair = torch.tensor([p in ("intersect", "union", "difference") for p in PROGRAMS])
    assert out.program[:2, ~pair].abs().max() == 0 and out.program[2, pair].abs().max() == 0
    assert torch.allclose(out.program.sum(dim=1), torch.ones(3, dtype=torch.float64))


def test_without_numeric_attributes_no_superlative_is_offered(films):
    grid, valid = hand_grid(films)
    c = OperationController(4, 4, 8, None).double()
    out = c(torch.randn(3, 4, dtype=torch.float64), grid, valid, torch.randn(3, 2, 4, dtype=torch.float64))
    assert out.attribute is None
    assert out.program[:, [PROGRAMS.index("argmax"), PROGRAMS.index("argmin")]].abs().max() == 0


def test_count_distribution_peaks_at_the_rounded_size():
    size = torch.tensor([0.0, 2.4, 2.6, 30.0], dtype=torch.float64, requires_grad=True)
    p = count_distribution(size, 20, 0.5)
    assert torch.allclose(p.sum(dim=1), torch.ones(4, dtype=torch.float64))
    assert p.argmax(dim=1).tolist() == [0, 2, 3, 20]  # above max_count: the last slot
    assert torch.autograd.gradcheck(lambda s: count_distribution(s, 5, 0.5), (size[:3].detach().requires_grad_(),))


def test_controller_gradcheck_through_every_program(films):
    values = NumericValues.from_kg(films, ["year"])
    c = OperationController(4, 4, 8, values, max_count=4).double()
    grid = (torch.rand(2, 2, films.num_entities, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    valid = torch.tensor([[True, True], [True, False]])
    q, h = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda g: c(q, g, valid, h).scores, (grid,))


def test_answer_label_names_entities_and_counts(films):
    assert answer_label(films, 0) == films.entities[0]
    assert answer_label(films, films.num_entities + 7) == "7"


def test_config_refuses_operations_without_branches_or_given_entities():
    with pytest.raises(ValueError, match="intersection='min'"):
        ModelConfig(operations=True)
    with pytest.raises(ValueError, match="entities='given'"):
        ModelConfig(operations=True, intersection="min", entities="text")
    with pytest.raises(ValueError, match="max_count"):
        ModelConfig(operations=True, intersection="min", max_count=0)
    assert ModelConfig(attributes=["year"]).attributes == ("year",)  # a list from JSON becomes a tuple


def test_a_system_with_operations_trains_saves_and_answers_counts(tmp_path):
    """On generated questions over a small movie graph: training runs, the run folder's system has
    the attributes it found, and evaluation reports the program accuracy and Hits@1 per operation."""
    from kgqa.datasets import QADataset
    from kgqa.datasets.operations import split_ops
    from kgqa.qa import QASystem
    from kgqa.train import TrainConfig, fit

    from test_operations_data import movie_graph

    kg = movie_graph(0, films=120)
    train, dev, test = split_ops(kg, n_train=6, n_dev=1, n_test=2, seed=0)
    ds = QADataset("movies-ops", kg, train, dev, test)
    cfg = ModelConfig(hidden=16, hops=1, intersection="min", operations=True)
    result = fit(ds, cfg, TrainConfig(epochs=2, batch_size=16, encoder="tiny", device="cpu"), run_dir=tmp_path / "run",
                 progress=False)
    assert result.system.model.config.attributes == ("release_year",)
    loaded = QASystem.from_pretrained(tmp_path / "run" / "best")
    assert loaded.model.config.attributes == ("release_year",) and loaded.model.operations is not None
    m = loaded.evaluate(test)
    assert set(m["by_operation"]) == {"union", "difference", "count", "argmax", "argmin"}
    assert 0 <= m["program_accuracy"] <= 100 and m["by_operation"]["count"]["n"] == 6
    answers = loaded.top_answers(test)
    assert all(a in kg.id_index or a.isdigit() for a in answers)


def test_trace_and_views_show_the_program(tmp_path):
    """The explain path of a system with the controller: the program, attribute and size in the
    trace, its text lines and HTML, a JSON round trip, and count answers named as numbers."""
    import json

    from kgqa.encoders import tiny_encoder
    from kgqa.explore.views import program_html, program_rows, trace_html
    from kgqa.qa import QASystem
    from kgqa.trace import Trace

    from test_operations_data import movie_graph

    kg = movie_graph(0)
    system = QASystem.build(kg, ModelConfig(hidden=16, hops=1, intersection="min", operations=True), tiny_encoder(0))
    with torch.no_grad():  # make the controller always count
        system.model.operations.program_head.weight.zero_()
        system.model.operations.program_head.bias.copy_(torch.tensor([-20.0 if p != "count" else 20.0 for p in PROGRAMS]))
    trace = system.explain_typed("how many films did [person 3] direct", k=3)
    assert trace.program[0][0] == "count" and trace.program[0][1] > 0.99
    assert trace.attribute and trace.attribute[0][0] == "release_year"
    assert trace.size is not None and trace.best is not None and trace.best.name.endswith("(a count)")
    assert trace.best.id == str(round(trace.size)) or abs(int(trace.best.id) - trace.size) <= 0.5
    assert any(line.strip().startswith("program: count") for line in trace.lines())
    assert program_rows(trace)[0][0] == "count" and "expected size" in program_html(trace)
    assert "kgqa-program" in trace_html(trace)
    assert Trace.from_json(json.loads(json.dumps(trace.to_json()))) == trace
    pair = system.explain_typed("which films were directed by [person 3] or [person 4]", k=3)
    assert all(p[0] in ("intersect", "union", "difference") or p[1] == 0 for p in pair.program)


def test_an_undecided_difference_cannot_pass_for_a_union(films):
    """ρ = (½, ½): every entity scores at most ¼, where a union scores 1 (the symmetric difference,
    which mixing two differences would give, equals the union of disjoint sets)."""
    values = NumericValues.from_kg(films, ["year"])
    grid, valid = hand_grid(films)
    c = forced(values, "difference")
    with torch.no_grad():
        c.keep_head.weight.zero_()  # equal keep scores: ρ = (½, ½)
    out = c(torch.randn(3, 4, dtype=torch.float64), grid, valid, torch.randn(3, 2, 4, dtype=torch.float64))
    assert torch.allclose(out.keep[:2], torch.full((2, 2), 0.5, dtype=torch.float64))
    assert out.scores[:2, :films.num_entities].max() <= 0.25 + 1e-12


def test_a_union_to_which_a_branch_adds_nothing_is_no_union(films):
    """Branch 1 ⊂ branch 0: the union is branch 0 in disguise and scores nothing; a branch that adds
    half a member lets half of the union through."""
    values = NumericValues.from_kg(films, ["year"])
    E, ix = films.num_entities, films.entity_index
    grid = torch.zeros(2, 2, E, dtype=torch.float64)
    grid[:, 0, [ix("a"), ix("b"), ix("c")]] = 1.0
    grid[0, 1, ix("b")] = 1.0  # adds nothing
    grid[1, 1, [ix("b"), ix("d")]] = torch.tensor([1.0, 0.5], dtype=torch.float64)  # adds ½ of d
    valid = torch.ones(2, 2, dtype=torch.bool)
    out = forced(values, "union")(torch.randn(2, 4, dtype=torch.float64), grid, valid,
                                  torch.randn(2, 2, 4, dtype=torch.float64))
    assert out.scores[0, :E].abs().max() < 1e-12
    assert torch.allclose(out.scores[1, :E], 0.5 * grid[1].max(dim=0).values)


def test_operation_figures_and_program_means(films):
    from kgqa.datasets import QAExample
    from kgqa.encoders import tiny_encoder
    from kgqa.operations import program_means
    from kgqa.plot.operations import plot_count_distribution, plot_programs, plot_superlative
    from kgqa.qa import QASystem

    values = NumericValues.from_kg(films, ["year"])
    x = torch.zeros(films.num_entities)
    x[[films.entity_index(e) for e in ("a", "b", "c")]] = torch.tensor([1.0, 0.5, 1.0])
    ax = plot_superlative(films, x, values, "year", "max")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b (2001)", "a (1990)", "c (1985)"]
    assert len(plot_count_distribution([2.0, 2.6]).patches) == 2 * 11
    system = QASystem.build(films, ModelConfig(hidden=8, hops=1, intersection="min", operations=True), tiny_encoder(0))
    exs = [QAExample("what did x make", ("x",), ((10, 11),), ("a",), qtype="made"),
           QAExample("how many did x make", ("x",), ((17, 18),), ("2",), operation="count")]
    means = program_means(system, exs)
    assert set(means) == {"made", "count"} and abs(sum(means["made"].values()) - 1) < 1e-5
    assert len(plot_programs(means).texts) >= 2
    with pytest.raises(ValueError, match="no operation controller"):
        program_means(QASystem.build(films, ModelConfig(hidden=8, hops=1), tiny_encoder(0)), exs)


def test_program_loss_is_the_marginal_likelihood_over_programs():
    from kgqa.model import answer_loss
    from kgqa.operations import program_loss

    torch.manual_seed(0)
    answers = torch.rand(3, 4, 6, dtype=torch.float64) * 0.9 + 0.05
    gold = torch.zeros(3, 6, dtype=torch.bool)
    gold[:, 1] = True
    one_hot = torch.zeros(3, 4, dtype=torch.float64)
    one_hot[:, 2] = 1.0  # π certain of program 2: the loss is that program's bce
    assert torch.allclose(program_loss(answers, one_hot, gold), answer_loss(answers[:, 2], gold, "bce"))
    pi = torch.softmax(torch.randn(3, 4, dtype=torch.float64), dim=1)
    bce = torch.stack([torch.stack([answer_loss(answers[b:b + 1, p], gold[b:b + 1], "bce") for p in range(4)])
                       for b in range(3)])  # (B, P) by the plain loss
    want = -torch.log((pi * torch.exp(-bce)).sum(dim=1)).mean()
    assert torch.allclose(program_loss(answers, pi, gold), want)
    masked = pi.clone()
    masked[:, 3] = 0.0  # a program masked by arity never counts, whatever its answer
    worse = answers.clone()
    worse[:, 3] = 0.5
    assert torch.allclose(program_loss(answers, masked, gold), program_loss(worse, masked, gold))
    assert torch.autograd.gradcheck(lambda a, p: program_loss(a, p, gold), (answers.requires_grad_(), pi.requires_grad_()))


def test_a_program_that_does_not_fit_barely_trains_the_branches():
    """The gradient reaching each program's answer is weighted by its responsibility: a union that
    spreads weight over a large set, on a question whose answer is one entity, gets almost none."""
    from kgqa.operations import program_loss

    gold = torch.zeros(1, 50, dtype=torch.bool)
    gold[0, 0] = True
    fits = torch.full((50,), 0.01, dtype=torch.float64)
    fits[0] = 0.95
    spread = torch.full((50,), 0.6, dtype=torch.float64)
    answers = torch.stack([fits, spread])[None].requires_grad_()  # (1, 2, 50)
    pi = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    program_loss(answers, pi, gold).backward()


def test_a_gate_weighs_the_program_so_a_disguised_follow_cannot_hedge():
    """A union whose branch adds 0.1 of a member: its gate g = 0.1 multiplies its likelihood, not its
    answer. Shrunk to ``0.1 · a``, the answer would be a calibrated soft follow that beats the honest
    intersection; weighed, it scores ``−log g + bce(a)``, the follow it disguises and then some."""
    from kgqa.operations import program_loss

    gold = torch.zeros(1, 40, dtype=torch.bool)
    gold[0, 0] = True
    a = torch.zeros(40, dtype=torch.float64)
    a[:12] = 1.0  # the first branch: 12 films, one of them the answer
    meet = torch.full((40,), 1e-3, dtype=torch.float64)
    meet[0] = 0.02  # the intersection, its second branch barely learned
    answers = torch.stack([meet, a])[None]  # (1, 2, 40): intersect, union
    pi = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    gates = torch.tensor([[1.0, 0.1]], dtype=torch.float64)
    one = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(program_loss(answers, one, gold, gates=gates),
                          -torch.log(torch.tensor(0.1, dtype=torch.float64)) + program_loss(answers, one, gold))
    hedged = torch.stack([meet, 0.1 * a])[None]
    assert program_loss(hedged, one, gold) < program_loss(answers[:, :1], pi[:, :1] * 2, gold)  # the hedge wins
    answers.requires_grad_()
    program_loss(answers, pi, gold, gates=gates).backward()  # weighed, the intersection takes the gradient
    assert answers.grad[0, 1].abs().sum() < 1e-6 * answers.grad[0, 0].abs().sum()
    assert torch.allclose(program_loss(answers, pi, gold, "expected", gates),
                          0.5 * program_loss(answers[:, :1], pi[:, :1] * 2, gold)
                          + 0.5 * program_loss(hedged[:, 1:], pi[:, 1:] * 2, gold))
    assert answers.grad[0, 1].abs().sum() < 1e-6 * answers.grad[0, 0].abs().sum()


def test_count_questions_a_model_cannot_answer_are_refused_not_missed(films):
    """Without the controller, above max_count, or with an answer that is not a number: a typed
    error naming the question, never a silent miss."""
    from kgqa.datasets import QAExample
    from kgqa.encoders import tiny_encoder
    from kgqa.inputs import EvaluationError
    from kgqa.qa import QASystem
    from kgqa.train import TrainConfig, fit
    from kgqa.datasets import QADataset

    ask = QAExample("how many did x make", ("x",), ((12, 13),), ("2",), source="mine.txt:3", operation="count")
    plain = QASystem.build(films, ModelConfig(hidden=8, hops=1), tiny_encoder(0))
    with pytest.raises(EvaluationError, match=r"operation controller.*mine.txt:3"):
        plain.evaluate([ask])
    small = QASystem.build(films, ModelConfig(hidden=8, hops=1, intersection="min", operations=True, max_count=1),
                           tiny_encoder(0))
    with pytest.raises(EvaluationError, match="largest, 1"):
        small.evaluate([ask])
    bad = QAExample("how many did x make", ("x",), ((12, 13),), ("two",), operation="count")
    with pytest.raises(EvaluationError, match="one whole number"):
        small.evaluate([bad])
    data = QADataset("films", films, [ask] * 4, [ask], [ask])
    with pytest.raises(EvaluationError, match="operation controller"):
        fit(data, ModelConfig(hidden=8, hops=1), TrainConfig(epochs=1, encoder="tiny", device="cpu"), progress=False)


def test_program_loss_by_name_equals_the_loss_on_the_whole_answer_space(films):
    """What the controller hands the loss (each program's answer over its own part of the answer
    space, by name) scores exactly like the answers written out over entities and count slots, for
    every kind of loss, gated or not, on rows where π masks some programs out."""
    from kgqa.operations import program_loss

    torch.manual_seed(1)
    B, E, C = 5, 9, 4
    parts = {name: torch.rand(B, C if name == "count" else E, dtype=torch.float64) * 0.9 + 0.05
             for name in PROGRAMS if name != "argmin"}  # argmin absent: it answers nothing
    dense = torch.zeros(B, len(PROGRAMS), E + C, dtype=torch.float64)
    for i, name in enumerate(PROGRAMS):
        if name == "count":
            dense[:, i, E:] = parts[name]
        elif name in parts:
            dense[:, i, :E] = parts[name]
    gold = torch.zeros(B, E + C, dtype=torch.bool)
    gold[[0, 1, 2, 3, 4, 4], [1, 2, E + 1, 0, 3, 5]] = True
    pi = torch.softmax(torch.randn(B, len(PROGRAMS), dtype=torch.float64), dim=1)
    pi[:2, 1:4] = 0.0  # rows 0-1: no two-set program (masked as arity does)
    pi = pi / pi.sum(dim=1, keepdim=True)
    gates = torch.rand(B, len(PROGRAMS), dtype=torch.float64)
    for kind in ("marginal", "expected"):
        for g in (None, gates):
            assert torch.allclose(program_loss(parts, pi, gold, kind, g), program_loss(dense, pi, gold, kind, g))
    leaf = {k: v.clone().requires_grad_() for k, v in parts.items()}
    program_loss(leaf, pi, gold, "marginal", gates).backward()
    dense.requires_grad_()
    program_loss(dense, pi, gold, "marginal", gates).backward()
    assert torch.allclose(leaf["follow"].grad, dense.grad[:, 0, :E])
    assert torch.allclose(leaf["count"].grad, dense.grad[:, PROGRAMS.index("count"), E:])
