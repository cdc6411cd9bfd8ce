"""kgqa.explore.views: the explorer's panels as data and HTML, from hand-made and real traces."""

from __future__ import annotations

import re

import pytest

from kgqa.explore import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html
from kgqa.explore.path_graph import path_graph, path_graph_svg
from kgqa.trace import AnswerTrace, BranchTrace, HopTrace, Mention, PathTrace, Scored, Trace


def text_trace() -> Trace:
    """A text model's trace: two overlapping spans (the likelier one shown) and a third, with a
    name that needs escaping among the candidates."""
    q = "Who wrote films starring Tom Hanks?"
    mentions = [Mention("Tom Hanks", 25, 34, 0.9, [Scored("tom_hanks_actor", "Tom Hanks [actor]", 0.8),
                                                    Scored("x", "<b>&</b>", 0.2)]),
                Mention("Hanks", 29, 34, 0.05, []),
                Mention("wrote", 4, 9, 0.3, [Scored("eric_roth", "Eric Roth", 1.0)])]
    hops = [HopTrace([("starred_in", 0.98), ("starred_in^-1", 0.01)], 0.02, []),
            HopTrace([("written_by", 0.95), ("directed_by", 0.04)], 0.98, [])]
    path = PathTrace(0, [Scored("tom_hanks_actor", "Tom Hanks", 0), Scored("cast_away", "Cast Away", 0),
                         Scored("william_broyles_jr", "William Broyles Jr.", 0)], ["starred_in", "written_by"], 0.13, 0.67)
    answers = [AnswerTrace("william_broyles_jr", "William Broyles Jr.", 0.2, [path]),
               AnswerTrace("eric_roth", "Eric Roth", 0.1)]
    return Trace(q, "text", "bce", [Scored("tom_hanks_actor", "Tom Hanks", 1.0)],
                 [BranchTrace([Scored("tom_hanks_actor", "Tom Hanks", 1.0)], hops, [])], answers, mentions=mentions)


def test_question_pieces_cover_the_question_once_and_keep_the_likelier_of_overlapping_spans():
    trace = text_trace()
    pieces = question_pieces(trace)
    assert "".join(p.text for p in pieces) == trace.question
    assert [(p.text, p.p) for p in pieces if p.p is not None] == [("wrote", 0.3), ("Tom Hanks", 0.9)]


def test_question_html_shades_by_probability_and_escapes():
    out = question_html(text_trace())
    assert out.count('class="kgqa-mention"') == 2
    assert "rgba(255, 183, 77, 0.90)" in out and "rgba(255, 183, 77, 0.30)" in out
    assert "&lt;b&gt;&amp;&lt;/b&gt; 0.20" in out and "<b>&</b>" not in out  # a name never becomes markup
    assert re.sub(r"<[^>]+>", "", out) == text_trace().question


def test_relation_rows_keep_what_the_trace_recorded():
    names, rows = relation_rows(text_trace())
    assert names == ["starred_in", "starred_in^-1", "written_by", "directed_by"]
    assert rows == [[0.98, 0.01, None, None], [None, None, 0.95, 0.04]]


def test_answers_mark_gold_and_show_the_carrying_path():
    trace = text_trace()
    rows = answer_rows(trace, gold={"william_broyles_jr"})
    assert [(r["name"], r["gold"], r["share"]) for r in rows] == [("William Broyles Jr.", True, 0.67),
                                                                  ("Eric Roth", False, None)]
    out = answers_html(trace, gold={"william_broyles_jr"})
    assert "William Broyles Jr. ✓" in out and "(67% of its score)" in out and "width: 50%" in out
    empty = Trace("?", "given", "bce", [], [], [])
    assert "no entity reached" in answers_html(empty)


def test_trace_html_of_a_real_model_shows_its_own_numbers(trained_toy):
    system = trained_toy[0].system
    trace = system.explain("What city is the Mona Lisa in?", ["mona_lisa"], k=3)
    out = trace_html(trace, gold={"paris"})
    for a in trace.answers:
        assert f"{a.score:.3f}" in out and a.name in out
    for t, hop in enumerate(trace.branches[0].hops, start=1):
        assert f"hop {t} (a = {hop.attention:.2f})" in out
        assert f"{hop.relations[0][1]:.2f}</td>" in out
    if trace.best.paths:
        assert trace.best.paths[0].text().replace(">", "&gt;") in out


# ---------------------------------------------------------------------------- the widget, headless
def test_explorer_answers_what_is_typed_and_what_is_picked(trained_toy, toy_data):
    from kgqa.explore import Explorer

    system = trained_toy[0].system
    ex = Explorer(system, questions=toy_data.test[:3], k=3)
    ex.box.value = "What city is the [Mona Lisa] in?"  # as typing and pressing Enter does
    assert ex.trace is not None and [t.id for t in ex.trace.topics] == ["mona_lisa"]
    assert ex.panel.value == trace_html(ex.trace) and "kgqa-answers" in ex.panel.value
    pick = toy_data.test[1]
    ex.pick.value = 1  # the dropdown's values are indices into the questions, whatever their order
    assert ex.trace.question == pick.question and [t.id for t in ex.trace.topics] == list(pick.topics)
    assert ex.panel.value == trace_html(ex.trace, gold=pick.answers)
    ex.box.value = "Why is the sky blue?"  # no entity to start from: said in the panel, no exception
    assert ex.trace is None and "no topic entity" in ex.panel.value and ex.graph.svg == ""
    assert list(ex.widget.children) == [ex.box, ex.pick, ex.panel, ex.graph]
    ex.ask("What city is the [Mona Lisa] in?", gold=["paris"])
    assert ex.graph.svg == path_graph_svg(path_graph(ex.trace, 3, ["paris"]))


def test_the_dropdown_lists_misses_first_as_evaluate_counts_them(trained_toy, toy_data):
    from kgqa.explore import Explorer

    system, questions = trained_toy[0].system, toy_data.test[:40]
    ex = Explorer(system, questions=questions)
    labels = [label for label, i in ex.pick.options if i >= 0]
    marks = [label[0] for label in labels]
    assert marks == sorted(marks, key=lambda m: m == "✓")  # every ✗ before every ✓
    assert ex.misses == marks.count("✗") == round(len(questions) * (1 - system.evaluate(questions)["hits@1"] / 100))
    assert {label[2:] for label in labels} == {q.question for q in questions}
    in_order = Explorer(system, questions=questions, misses_first=False)
    assert [i for _, i in in_order.pick.options] == list(range(-1, len(questions)))


# ---------------------------------------------------------------------------- the path graph
def branching_trace() -> Trace:
    """Two answers; one reached by two paths through the same first hop, one by a one-hop path."""
    s = lambda i: Scored(i, i.upper(), 0)  # noqa: E731
    p1 = PathTrace(0, [s("a"), s("b"), s("c")], ["r", "q"], 0.5, 0.625)
    p2 = PathTrace(0, [s("a"), s("d"), s("c")], ["r", "q"], 0.3, 0.375)
    p3 = PathTrace(0, [s("a"), s("e")], ["t"], 0.2, 1.0)
    tiny = PathTrace(0, [s("a"), s("f"), s("c")], ["r", "<q>"], 0.001, 0.00125)
    answers = [AnswerTrace("c", "C", 0.8, [p1, p2, tiny]), AnswerTrace("e", "E & co", 0.2, [p3])]
    return Trace("?", "given", "bce", [s("a")], [], answers)


def test_path_graph_merges_paths_into_columns_with_summed_weights():
    g = path_graph(branching_trace(), gold=["c"])
    assert g.columns == 3
    assert [(n.key, n.row) for n in g.nodes] == [("0:a", 0), ("1:b", 0), ("1:d", 1), ("2:c", 0), ("2:e", 1)]
    a, c, e = g.node("0:a"), g.node("2:c"), g.node("2:e")
    assert abs(a.weight - 1.0) < 1e-12 and abs(c.weight - 0.8) < 1e-12 and e.column == 2  # answers: last column
    assert c.gold and not e.gold and c.answer and not a.answer and a.answers == {"c", "e"}
    into = {(x.source, x.relation): x.weight for x in g.edges if x.target == "2:c"}
    assert into == {("1:b", "q"): 0.5, ("1:d", "q"): 0.3}  # the 0.1% path is left out
    assert len(path_graph(branching_trace(), min_share=0.0).edges) == len(g.edges) + 2
    assert [n.key for n in path_graph(branching_trace(), top=1).nodes] == ["0:a", "1:b", "1:d", "2:c"]


def test_path_graph_svg_draws_every_node_and_edge_and_escapes():
    g = path_graph(branching_trace(), gold=["c"])
    svg = path_graph_svg(g)
    assert svg.count('class="kgqa-node') == len(g.nodes) and svg.count('class="kgqa-edge"') == len(g.edges)
    assert "E &amp; co" in svg and "C ✓" in svg and svg.count("kgqa-answer") == 2
    assert 'data-answers="c e"' in svg  # the start node carries both answers
    assert "(no path)" in path_graph_svg(path_graph(Trace("?", "given", "bce", [], [], [])))


def test_path_graph_of_a_real_trace_carries_the_listed_paths(trained_toy):
    from kgqa.explore.path_widget import PathGraph

    trace = trained_toy[0].system.explain("What city is the Mona Lisa in?", ["mona_lisa"], k=3)
    g = path_graph(trace, top=3, min_share=0.0)
    for a in trace.answers:
        node = g.node(f"{g.columns - 1}:{a.id}")
        assert abs(node.weight - sum(p.weight for p in a.paths)) < 1e-9
    widget = PathGraph(trace, gold=["paris"])
    assert widget.svg == path_graph_svg(path_graph(trace, 3, ["paris"])) and widget.selected == ""
    widget.show(None)
    assert widget.svg == ""


# ---------------------------------------------------------------------------- chapter 3's sliders
def test_soft_follow_is_the_hand_computed_mixture(toy):
    from kgqa.explore.follow_widgets import soft_follow
    from kgqa.follow import ReifiedKG

    kb = ReifiedKG.from_kg(toy)
    for p, q in [(0.7, 0.5), (0.0, 1.0), (1.0, 0.2), (0.35, 0.9)]:
        w = soft_follow(toy, kb, {"mona_lisa": q, "venus_de_milo": 1 - q}, {"exhibited_at": p, "created^-1": 1 - p})
        got = {e: v for e, _, v in w.rows}
        # both works hang at the Louvre; only the Mona Lisa's creator is known
        want = {e: v for e, v in {"louvre_museum": p, "leonardo_da_vinci": q * (1 - p)}.items() if v > 0}
        assert got.keys() == want.keys() and all(abs(got[e] - want[e]) < 1e-6 for e in want)
        assert abs(w.total - sum(want.values())) < 1e-6 and abs(w.left - (1 - w.total)) < 1e-6


def test_the_sliders_recompute_in_the_kernel(toy):
    from kgqa.errors import KGQAError
    from kgqa.explore.follow_widgets import BranchCombiner, FollowMixer, weights_html
    from kgqa.follow import ReifiedKG

    kb = ReifiedKG.from_kg(toy)
    mixer = FollowMixer(toy, kb, ("exhibited_at", "created^-1"), ("mona_lisa", "venus_de_milo"))
    assert "Louvre Museum</td>" in mixer.out.value and "0.700" in mixer.out.value and "0.150 of the weight" in mixer.out.value
    mixer.relation.value = 0.9  # as dragging the slider does
    assert "0.900" in mixer.out.value and "0.050 of the weight leaves" in mixer.out.value
    mixer.start.value = 1.0
    assert mixer.out.value == weights_html(mixer.out.value.split("</b>")[0].split("<b>")[1], mixer.result())

    combiner = BranchCombiner(toy, kb, ("natalie_portman", ("played", "starred_in")),
                              ("star_wars_episode_ii", ("appears_in^-1", "starred_in^-1")))
    a, b, both = combiner.result()
    assert [(e, round(v, 6)) for e, _, v in both.rows] == [("padme_amidala", 0.6)]  # min(0.8, 0.6)
    combiner.mode.value = "product"
    assert [(e, round(v, 6)) for e, _, v in combiner.result()[2].rows] == [("padme_amidala", 0.48)]
    assert "product of the two" in combiner.out.value and "0.480" in combiner.out.value
    combiner.weights[1].value = 1.0
    assert [(e, round(v, 6)) for e, _, v in combiner.result()[2].rows] == [("padme_amidala", 0.8)]
    with pytest.raises(KGQAError):
        FollowMixer(toy, kb, ("exhibited_at", "no_such_relation"), ("mona_lisa", "venus_de_milo"))
    assert "&lt;x&gt;" in weights_html("<x>", both)


# ---------------------------------------------------------------------------- combining branches
def test_a_branched_model_can_be_explored_with_the_other_combination(toy, tiny_enc, trained_toy):
    from kgqa.explore import Explorer
    from kgqa.model import ModelConfig
    from kgqa.qa import QASystem

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    system = QASystem.build(toy, ModelConfig(hops=2, hidden=8, intersection="min", loss="bce"), tiny_enc)
    q, topics = "Who did Natalie Portman play in Star Wars Episode II?", ["natalie_portman", "star_wars_episode_ii"]
    with_min = system.explain(q, topics, k=20, paths=0)
    with system.combined_by("product"):
        with_product = system.explain(q, topics, k=20, paths=0)
    assert with_min.combine == "min" and with_product.combine == "product"
    assert system.model.config.intersection == "min"  # restored
    lo = {a.id: a.score for a in with_product.answers}
    hi = {a.id: a.score for a in with_min.answers}
    both = lo.keys() & hi.keys()
    assert both and all(lo[e] <= hi[e] + 1e-6 for e in both)  # a product of weights ≤ 1 is ≤ their min
    with pytest.raises(RuntimeError), system.combined_by("product"):
        raise RuntimeError("inside")
    assert system.model.config.intersection == "min"  # restored after an error too
    with pytest.raises(ValueError, match="'min' or 'product'"), system.combined_by("sum"):
        pass
    with pytest.raises(ValueError, match="one walk"), trained_toy[0].system.combined_by("min"):
        pass

    ex = Explorer(system, k=20)
    assert ex.combine in ex.widget.children and ex.combine.value == "min"
    ex.ask(q, topics)
    assert ex.trace.combine == "min"
    ex.combine.value = "product"  # the same question, combined the other way
    assert ex.trace.combine == "product" and ex.panel.value == trace_html(ex.trace)
    assert "answer = product over the 2 walks" in ex.panel.value
    assert Explorer(trained_toy[0].system).combine not in Explorer(trained_toy[0].system).widget.children


# ---------------------------------------------------------------------------- chapters 1 and 2
def test_neighbourhood_facts_are_the_facts_among_the_entities_within_the_radius(toy):
    from kgqa.explore.neighbourhood import NeighbourhoodViewer, neighbourhood_facts

    triples = [(s, r, o) for s, r, o in toy.string_triples() if not toy.is_inverse(r)]
    # oracle: breadth-first over the undirected fact graph, by hand
    near = {"mona_lisa"}
    for _ in range(2):
        near |= {o for s, _, o in triples if s in near} | {s for s, _, o in triples if o in near}
    assert neighbourhood_facts(toy, "mona_lisa", 2) == sorted(t for t in triples if t[0] in near and t[2] in near)
    assert ("mona_lisa", "exhibited_at", "louvre_museum") in neighbourhood_facts(toy, "mona_lisa", 1)

    viewer = NeighbourhoodViewer(toy, "mona_lisa")
    assert "of <b>Mona Lisa</b>" in viewer.summary.value and f"{len(viewer.facts())} facts" in viewer.summary.value
    viewer.entity.value = "tom_hanks_theologian"  # as picking it in the dropdown does
    viewer.radius.value = 2
    assert viewer.facts() == neighbourhood_facts(toy, "tom_hanks_theologian", 2)
    assert "Tom Hanks [tom_hanks_theologian]" in viewer.summary.value


def test_the_pipeline_box_shows_each_step_and_where_it_fails(toy):
    from kgqa.explore.pipeline_widget import PipelineBox, pipeline_html
    from kgqa.pipeline import Pipeline, TemplateParser
    from kgqa.toy import toy_questions

    train = toy_questions("train")
    pipeline = Pipeline(toy, TemplateParser.from_examples(toy, [(q.question, q.program) for q in train]))
    box = PipelineBox(pipeline, "What city is the Mona Lisa in?")
    assert "exhibited_at &gt; located_in" in box.out.value and "<b>answer</b>: Paris" in box.out.value
    box.box.value = "Who wrote films starring Tom Hanks?"
    assert "(of 3:" in box.out.value and "Tom Hanks [tom_hanks_actor]</b>" in box.out.value
    box.box.value = "Where does the Mona Lisa hang?"  # linked, but no template for this wording
    assert "semantic parsing failed" in box.out.value and "where does the &lt;E&gt; hang" in box.out.value
    box.box.value = "Why is the sky blue?"
    assert "entity linking failed" in box.out.value and box.result.failure
    right = pipeline_html(toy, pipeline.answer("What city is the Mona Lisa in?"), gold={"paris"})
    wrong = pipeline_html(toy, pipeline.answer("What city is the Mona Lisa in?"), gold={"france"})
    assert "— <b>right</b>" in right and "(gold: France)" in wrong


def test_readings_are_listed_with_their_slot_texts():
    from kgqa.explore.views import reading_rows
    from kgqa.trace import Reading

    trace = text_trace()
    trace.readings = [Reading([0, 2], 0.7), Reading([0], 0.3)]
    assert reading_rows(trace) == [(["Tom Hanks", "wrote"], 0.7), (["Tom Hanks"], 0.3)]
    assert "readings: <q>Tom Hanks</q> + <q>wrote</q> 0.70; <q>Tom Hanks</q> 0.30" in trace_html(trace)


# ---------------------------------------------------------------------------- chapters 5 and 6
def test_the_namesake_row_is_the_resolver_on_the_given_span(toy, tiny_enc):
    import torch

    from kgqa.explore.resolver_widgets import MentionNotFoundError, NamesakeRow, namesake_html, namesake_probs
    from kgqa.model import ModelConfig
    from kgqa.qa import QASystem

    torch.manual_seed(0)
    system = QASystem.build(toy, ModelConfig(hidden=8, entities="span"), tiny_enc)
    toms = ["tom_hanks_actor", "tom_hanks_seismologist", "tom_hanks_theologian"]
    q = "Where was the seismologist tom hanks born?"
    probs = namesake_probs(system, q, "Tom Hanks", toms)
    with torch.no_grad():  # oracle: the resolver itself, the span located by hand
        out = system.resolver([q], system.encoder([q]), given_spans=[[(27, 36)]])
    assert probs == [float(out.x0[0, toy.entity_index(e)]) for e in toms]
    assert 0 < sum(probs) <= 1 + 1e-6
    with pytest.raises(MentionNotFoundError):
        namesake_probs(system, "Who directed Big?", "Tom Hanks", toms)
    row = NamesakeRow(system, "Tom Hanks", toms, q)
    assert row.out.value == namesake_html(system, q, "Tom Hanks", toms) and row.out.value.count("<td") == 3
    row.box.value = "Who directed Big?"
    assert "does not contain &#x27;Tom Hanks&#x27;" in row.out.value


def test_the_hop_attention_slider_against_branches(toy):
    from kgqa.explore.hop_widgets import HopAttentionSlider, branch_minimum, hop_mixture, ranking_html
    from kgqa.follow import ReifiedKG, follow
    from kgqa.sets import one_hot, relation_one_hot, top_k

    kb = ReifiedKG.from_kg(toy)
    x0 = (one_hot(toy, ["new_york_city"]) + one_hot(toy, ["natalie_portman"])) / 2
    x1 = follow(kb, x0, (relation_one_hot(toy, ["born_in^-1"]) + relation_one_hot(toy, ["starred_in"])) / 2)
    x2 = follow(kb, x1, relation_one_hot(toy, ["directed_by"]))
    city = follow(kb, one_hot(toy, ["new_york_city"]), relation_one_hot(toy, ["born_in^-1"]))
    portman = follow(kb, follow(kb, one_hot(toy, ["natalie_portman"]), relation_one_hot(toy, ["starred_in"])),
                     relation_one_hot(toy, ["directed_by"]))
    assert hop_mixture(toy, x1, x2, 0.0) == top_k(toy, x2[0], 4) and hop_mixture(toy, x1, x2, 1.0) == top_k(toy, x1[0], 4)
    assert [e for e, _, _ in branch_minimum(toy, [city, portman])] == ["darren_aronofsky"]
    widget = HopAttentionSlider(toy, x1, x2, [city, portman], gold={"darren_aronofsky"}, a=0.0)
    assert "top answer wrong" in widget.out.value  # all weight on hop 2: Portman's directors only
    widget.a.value = 0.7
    assert widget.out.value == ranking_html("one walk: 0.70·x₁ + 0.30·x₂", hop_mixture(toy, x1, x2, 0.7), {"darren_aronofsky"})
    assert "top answer right" in widget.out.value
    widget.model.value = "branches (min)"
    assert widget.a.disabled and "Darren Aronofsky ✓" in widget.out.value and "margin 1.000" in widget.out.value
