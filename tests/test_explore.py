"""kgqa.explore.views: the explorer's panels as data and HTML, from hand-made and real traces."""

from __future__ import annotations

import re

from kgqa.explore import answer_rows, answers_html, question_html, question_pieces, relation_rows, trace_html
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
    ex.pick.value = 1
    assert ex.trace.question == pick.question and [t.id for t in ex.trace.topics] == list(pick.topics)
    assert ex.panel.value == trace_html(ex.trace, gold=pick.answers)
    ex.box.value = "Why is the sky blue?"  # no entity to start from: said in the panel, no exception
    assert ex.trace is None and "no topic entity" in ex.panel.value
    assert ex.widget.children[-1] is ex.panel and len(ex.widget.children) == 3
