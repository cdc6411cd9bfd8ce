"""The Trace: one object behind ``kgqa ask`` (text and JSON) and the figures; its paths carry the
answer's weight, checked against the model's own tensors and the graph's facts."""

from __future__ import annotations

import json

import pytest
import torch

from kgqa.model import ModelConfig
from kgqa.plot.model import followed_path, trace_answer
from kgqa.qa import QASystem
from kgqa.trace import Trace
from kgqa.train import TrainConfig, fit

CFG = TrainConfig(epochs=3, batch_size=32, encoder="tiny", patience=10, device="cpu")
QUESTIONS = [("What city is the Mona Lisa in?", ["mona_lisa"]),
             ("Who wrote films starring Tom Hanks?", ["tom_hanks_actor"]),
             ("Who did Natalie Portman play in Star Wars Episode II?", ["natalie_portman", "star_wars_episode_ii"])]


@pytest.fixture(scope="module")
def systems(trained_toy, toy_data, tmp_path_factory):
    """A single-walk model (the shared one) and an intersection model, trained briefly on the toy world."""
    branched = fit(toy_data, ModelConfig(hidden=32, intersection="min", loss="softmax"), CFG,
                   run_dir=tmp_path_factory.mktemp("min"), progress=False)
    return {"single": trained_toy[0], "min": branched}


def _model_terms(system: QASystem, question: str, topics: list[str]):
    """The model's own tensors for one question: per walk its relations (T, R) and attention (T,)."""
    from kgqa.datasets import QAExample
    from kgqa.datasets.files import topic_mentions

    idx = [system.kg.lookup(t) for t in topics]
    ex = QAExample(question, tuple(system.kg.entities[i] for i in idx),
                   topic_mentions(question, system.kg, tuple(system.kg.entities[i] for i in idx)), ())
    with torch.inference_mode():
        out = system.run(system.encode([ex]), [idx], keep_hops=True)
    if out.branch_relations is None:
        return [(out.relations[0], out.hop_attention[0], out.scores[0])]
    return [(out.branch_relations[0, j], out.branch_hop_attention[0, j], out.branch_scores[0, j])
            for j in range(len(idx))]


@pytest.mark.parametrize("kind", ["single", "min"])
@pytest.mark.parametrize("question, topics", QUESTIONS)
def test_listed_paths_are_facts_of_the_graph_and_carry_the_answers_weight(systems, kind, question, topics):
    system = systems[kind].system
    kg = system.kg
    trace = system.explain(question, topics, k=5, paths=1000)
    walks = _model_terms(system, question, topics)
    topic_ids = {kg.entity_index(t.id) for t in trace.topics}
    for answer in trace.answers:
        by_walk: dict[int, float] = {}
        for path in answer.paths:
            ents = [kg.entity_index(e.id) for e in path.entities]
            assert ents[-1] == kg.entity_index(answer.id)
            rel_idx = [kg.relation_index(r) for r in path.relations]
            for s, k, o in zip(ents, rel_idx, ents[1:]):  # every step is a fact of the graph
                assert o in kg.out_facts(s)[kg.out_facts(s)[:, 1] == k, 2].tolist()
            relations, attention, _ = walks[path.branch]
            # the term from the model's tensors: the start's weight (one walk shares it among the
            # topics, a branch starts from its one topic), a_t · Π r_i[k_i], and topics masked at
            # every hop (the toy model masks them: no later entity may be a topic)
            start = 1.0 / len(topics) if len(walks) == 1 else 1.0
            want = start * float(attention[len(rel_idx) - 1]) * float(torch.prod(torch.stack(
                [relations[i, k] for i, k in enumerate(rel_idx)])))
            if any(e in topic_ids for e in ents[1:]) and system.model.config.mask_topics:
                want = 0.0
            if system.kb.fact_weights is not None:  # softmax: each step splits over the objects
                for s, k in zip(ents, rel_idx):
                    facts = kg.out_facts(s)
                    want /= int((facts[:, 1] == k).sum())
            assert path.weight == pytest.approx(want, rel=1e-4, abs=1e-7)
            by_walk[path.branch] = by_walk.get(path.branch, 0.0) + path.share
        for j, total in by_walk.items():  # all paths of a walk: the whole of its score
            assert total == pytest.approx(1.0, abs=1e-4)
        weights = [p.weight for p in answer.paths if p.branch == 0]
        assert weights == sorted(weights, reverse=True)


def test_printed_path_reaches_the_printed_answer_and_is_the_heaviest(systems):
    """What chapter 4 and ``kgqa ask`` print as the followed path is the trace's heaviest path to
    the top answer: it ends there, and no other path of that walk carries more of its score."""
    system = systems["single"].system
    for question, topics in QUESTIONS[:2]:
        trace = system.explain(question, topics, k=3, paths=50)
        best = trace.best
        assert best is not None and best.paths
        assert best.paths[0].entities[-1].id == best.id
        assert followed_path(trace) == best.paths[0].relations
        assert best.paths[0].weight == max(p.weight for p in best.paths if p.branch == 0)
        text = "\n".join(trace.lines())
        assert f"via {best.paths[0].text()}" in text
        hops = trace_answer(system.kg, trace)
        assert [h.relation for h in hops[0]] == best.paths[0].relations


def test_json_is_the_trace_and_reads_back(systems):
    trace = systems["min"].system.explain(*QUESTIONS[2], k=3)
    js = json.loads(json.dumps(trace.to_json()))
    assert Trace.from_json(js) == trace
    assert js["combine"] == "min" and len(js["branches"]) == 2 and js["answers"][0]["paths"]


def test_cli_ask_prints_the_trace(systems, tmp_path, capsys):
    from kgqa.cli import main

    run = systems["single"].run_dir
    assert main(["ask", "What city is the [Mona Lisa] in?", "--checkpoint", str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    trace = QASystem.from_pretrained(run).explain("What city is the Mona Lisa in?", ["mona_lisa"], how="bracketed")
    assert printed == json.loads(json.dumps(trace.to_json()))
    assert main(["ask", "What city is the [Mona Lisa] in?", "--checkpoint", str(run)]) == 0
    assert capsys.readouterr().out.strip() == "\n".join(trace.lines())


def test_cli_verbosity(systems, capsys):
    from kgqa.cli import main

    run = str(systems["single"].run_dir)
    ask = ["ask", "Where is the [Mona Lisa]?", "--checkpoint", run]
    assert main(ask) == 0 and "loaded" not in capsys.readouterr().err
    assert main(["-v", *ask]) == 0
    err = capsys.readouterr().err
    assert err.startswith("kgqa: loaded ") and "best" in err
    assert main(["-q", *ask]) == 0 and capsys.readouterr().err == ""
