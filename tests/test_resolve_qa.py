"""Learned entity resolution inside the QA system: training from answers alone, checkpoints,
asking from text, the soft mention masking, and the command line."""

from __future__ import annotations

import json

import pytest
import torch

from kgqa.cli import main
from kgqa.encoders import tiny_encoder
from kgqa.model import EndToEndQA, ModelConfig
from kgqa.inputs import masked_pool
from kgqa.qa import QASystem
from kgqa.resolve import EntityResolver, ResolverConfig
from kgqa.train import TrainConfig, fit

CFG = TrainConfig(epochs=2, batch_size=32, encoder="tiny", patience=10, device="cpu")


@pytest.fixture(scope="module")
def trained(toy_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("er-run")
    result = fit(toy_data, ModelConfig(hidden=16, entities="text"), CFG, run_dir=run, progress=False,
                 resolver_config=ResolverConfig.quick())
    return result, run


def test_text_model_trains_saves_and_reports_er_metrics(trained, toy_data):
    result, run = trained
    assert result.system.resolves and result.system.resolver is not None
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["model"]["entities"] == "text"
    assert config["resolver"]["candidates"] == ResolverConfig.quick().candidates
    assert {"dev_entity_accuracy", "dev_span_accuracy"} <= set(result.history[-1])
    m = result.system.evaluate(toy_data.test)
    assert set(m["er"]) == {"span_accuracy", "entity_accuracy", "candidate_recall"}
    assert all(0 <= v <= 100 for v in m["er"].values()) and m["er"]["candidate_recall"] > 90


def test_checkpoint_round_trip_resolves_the_same(trained):
    result, run = trained
    loaded = QASystem.from_pretrained(run, device="cpu")
    q = "Who directed films starring Tom Hanks?"
    a, b = result.system.explain(q), loaded.explain(q)
    assert [s.text for s in a.mentions] == [s.text for s in b.mentions] and a.mentions
    assert [x.id for x in a.answers] == [x.id for x in b.answers]
    assert a.mentions[0].candidates and abs(a.mentions[0].p - b.mentions[0].p) < 1e-5
    assert a.to_json()["mentions"][0]["text"] == a.mentions[0].text


def test_span_variant_uses_the_given_mentions(toy_data):
    result = fit(toy_data, ModelConfig(hidden=16, entities="span"), CFG.with_(epochs=1), progress=False,
                 resolver_config=ResolverConfig.quick())
    from kgqa.toy import by_source

    # the hand-written questions' mentions all fit in the quick resolver's spans (the generated
    # ones spell "Star Wars: Episode II – Attack of the Clones", longer than its longest span)
    m = result.system.evaluate(by_source(toy_data.test)["hand-written"])
    assert m["er"]["span_accuracy"] == 100.0  # p(span) is fixed to the gold spans


def test_odd_questions_do_not_crash(trained):
    system = trained[0].system
    for q in ["???", "x" * 2000, "Où est la Joconde, à Paris ?"]:
        assert isinstance(system.ask(q), list)
    with pytest.raises(ValueError, match="empty"):
        system.ask("   ")


def test_a_given_entity_model_needs_topics(toy_data):
    model = EndToEndQA(toy_data.kg.num_relations, tiny_encoder(0).dim, ModelConfig(hidden=8))
    system = QASystem(toy_data.kg, tiny_encoder(0), model)
    with pytest.raises(ValueError, match="needs the topic entities"):
        system.ask("Who directed Big?")
    with pytest.raises(ValueError, match="needs an EntityResolver"):
        QASystem(toy_data.kg, tiny_encoder(0), EndToEndQA(toy_data.kg.num_relations, 32, ModelConfig(entities="text")))
    with pytest.raises(ValueError, match="entities must be"):
        ModelConfig(entities="gold")


def test_masked_pool_matches_a_loop(toy_data):
    torch.manual_seed(0)
    enc_model = tiny_encoder(0)
    resolver = EntityResolver(toy_data.kg, enc_model.dim, ResolverConfig.quick())
    texts = ["Who directed films starring Tom Hanks?", "What city is the Mona Lisa in?"]
    enc = enc_model(texts)
    with torch.no_grad():
        res = resolver(texts, enc)
        got = masked_pool(enc, res)
    for b in range(len(texts)):
        weights = []
        for pos in range(enc.tokens.shape[1]):
            if not enc.attention_mask[b, pos]:
                weights.append(0.0)
                continue
            s0, s1 = enc.offsets[b, pos].tolist()
            cover = 0.0
            for s in range(res.span_probs.shape[1]):
                a, e = res.span_chars[b, s].tolist()
                if enc.mask[b, pos] and s0 >= a and s1 <= e:
                    cover += float(res.span_probs[b, s])
            weights.append(1.0 - min(cover, 1.0))
        w = torch.tensor(weights)
        want = (w[:, None] * enc.tokens[b]).sum(0) / w.sum()
        assert torch.allclose(got[b], want, atol=1e-5)


def test_cli_train_and_ask_from_text(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "toy", "--encoder", "tiny", "--epochs", "1", "--entities", "text",
                 "--out", str(run), "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["ask", "Who directed Big?", "--checkpoint", str(run)]) == 0
    out = capsys.readouterr().out
    assert "span '" in out and "topic entities (resolved from the text)" in out


def test_cli_train_longest_match(tmp_path, capsys):
    """--longest-match reaches the resolver the run records and reloads; with given entities it is refused."""
    run = tmp_path / "run"
    assert main(["train", "--dataset", "toy", "--encoder", "tiny", "--epochs", "1", "--entities", "text",
                 "--longest-match", "--out", str(run), "--device", "cpu"]) == 0
    system = QASystem.from_pretrained(run / "best")
    assert system.resolver.config.longest_match and system.resolver.enclosed is not None
    assert main(["train", "--dataset", "toy", "--longest-match", "--out", str(tmp_path / "given")]) == 2
    assert "--entities span or text" in capsys.readouterr().err


def test_a_system_trains_after_it_has_answered(toy_data):
    """Caches filled while evaluating (under inference mode: the candidate rows of new span texts,
    the reified graph's buffers and entity-relation matrix) hold ordinary tensors, so training in
    the same process afterwards neither refuses to write them nor to save them for backward."""
    from kgqa.metrics import gold_mask
    from kgqa.model import answer_loss

    system = QASystem.build(toy_data.kg, ModelConfig(hidden=16, entities="text", entity_kinds=True),
                            tiny_encoder(), resolver_config=ResolverConfig.quick(), device="cpu")
    system.evaluate(toy_data.test[:8])
    assert len(system.resolver.cache) > 0 and not system.resolver.cache.entity.is_inference()
    system.model.train(), system.resolver.train()
    batch = toy_data.train[:16]  # span texts the evaluation did not see: new cache rows, written outside it
    out, _ = system.forward(batch)
    gold = gold_mask([[toy_data.kg.entity_index(a) for a in e.answers] for e in batch], toy_data.kg.num_entities)
    answer_loss(out.scores, gold, "bce").backward()
    grads = [p.grad for p in system.resolver.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
