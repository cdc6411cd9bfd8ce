"""Training, checkpoints and resuming, on the toy world with the tiny random encoder."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from kgqa.checkpoint import CheckpointError, resolve_checkpoint
from kgqa.encoders import tiny_encoder
from kgqa.kg import KnowledgeGraph
from kgqa.model import EndToEndQA, ModelConfig
from kgqa.qa import QASystem
from kgqa.train import TrainConfig, fit

CFG = TrainConfig(epochs=3, batch_size=32, encoder="tiny", patience=10, device="cpu")
MODEL = ModelConfig(hidden=32)


@pytest.fixture(scope="module")
def trained(trained_toy):
    """The shared toy model (conftest), trained with MODEL and CFG."""
    assert trained_toy[0].system.model.config.hidden == MODEL.hidden
    return trained_toy


def test_fit_writes_best_and_last(trained):
    result, run = trained
    assert len(result.history) == 3 and result.best_epoch >= 1
    for which in ("best", "last"):
        folder = resolve_checkpoint(run, which)
        config = json.loads((folder / "config.json").read_text())
        assert config["kg"]["fingerprint"] == result.system.kg.fingerprint()
    assert (run / "best" / "kg" / "kg.json").is_file()  # best/ answers questions on its own
    assert (run / "last" / "state.pt").is_file() and not (run / "best" / "state.pt").exists()
    assert not list(run.glob(".*tmp*"))  # no half-written checkpoint left behind


def test_training_reduces_the_loss(toy_data):
    # select on training questions, so the kept model is the one that fits them best
    data = dataclasses.replace(toy_data, dev=toy_data.train[:80])
    result = fit(data, MODEL, CFG.with_(epochs=15, lr=1e-2), progress=False)
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < 0.75 * losses[0]
    untrained = QASystem(data.kg, result.system.encoder, EndToEndQA(data.kg.num_relations, result.system.encoder.dim, MODEL))
    before = untrained.evaluate(data.dev)["hits@1"]
    after = result.system.evaluate(data.dev)["hits@1"]
    assert after > before + 20, (before, after)


def test_checkpoint_round_trip_answers_the_same(trained, toy_data):
    result, run = trained
    loaded = QASystem.from_pretrained(run)
    a = result.system.evaluate(toy_data.test)
    b = loaded.evaluate(toy_data.test)
    assert a["hits@1"] == b["hits@1"] and a["f1"] == pytest.approx(b["f1"])
    trace = loaded.explain("What city is the Mona Lisa in?", ["mona_lisa"])
    [walk] = trace.branches
    assert len(walk.hops) == MODEL.hops and abs(sum(h.attention for h in walk.hops) - 1) < 1e-5


def test_resume_continues_from_last(trained, toy_data, tmp_path):
    _, run = trained
    import shutil

    shutil.copytree(run, tmp_path / "run")
    more = fit(toy_data, MODEL, CFG.with_(epochs=5), run_dir=tmp_path / "run", progress=False)
    assert [row["epoch"] for row in more.history] == [1, 2, 3, 4, 5]
    with pytest.raises(CheckpointError, match=r"other settings \(model.hidden 32 -> 16\)"):
        fit(toy_data, MODEL.with_(hidden=16), CFG.with_(epochs=6), run_dir=tmp_path / "run", progress=False)


def test_a_half_swapped_checkpoint_is_recovered(trained, tmp_path):
    import shutil

    _, run = trained
    shutil.copytree(run / "best", tmp_path / ".best.old")  # as if a crash hit between the renames
    assert resolve_checkpoint(tmp_path) == tmp_path / ".best.old"
    with pytest.raises(CheckpointError, match="no such run folder"):
        resolve_checkpoint(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        resolve_checkpoint(tmp_path / "empty")


def test_loading_against_another_kg_fails_clearly(trained):
    _, run = trained
    other = KnowledgeGraph.from_triples([("a", "r", "b")])
    with pytest.raises(CheckpointError, match="different knowledge graph"):
        QASystem.from_pretrained(run, kg=other)


def test_ask_resolves_names_and_rejects_shared_ones(trained):
    result, _ = trained
    system = result.system
    assert [t.id for t in system.explain("Where is the Mona Lisa?", ["Mona Lisa"]).topics] == ["mona_lisa"]
    with pytest.raises(Exception, match="tom_hanks_actor"):
        system.ask("Where does Tom Hanks work?", ["Tom Hanks"])
    # random-walk fact weights only under the softmax loss (the default for given entities is bce)
    assert system.model.config.objective == "bce" and system.kb.fact_weights is None


def test_fine_tuning_the_encoder_trains_and_round_trips(toy_data, tmp_path):
    result = fit(toy_data, MODEL, CFG.with_(epochs=2, freeze_encoder=False), run_dir=tmp_path, progress=False)
    loaded = QASystem.from_pretrained(tmp_path).encoder.state_dict()
    for name, value in result.system.encoder.state_dict().items():
        assert torch.equal(loaded[name], value), name
    untouched = tiny_encoder(0).state_dict()
    assert any(not torch.equal(loaded[name], value) for name, value in untouched.items())


def test_topic_masking_is_decided_from_the_training_answers(toy_data):
    from kgqa.datasets import QAExample
    from kgqa.train import topic_answer_share

    loops = [QAExample("q", ("a",), ((-1, -1),), ("a", "b")), QAExample("q", ("a",), ((-1, -1),), ("b",))]
    assert topic_answer_share(loops) == 0.5 and topic_answer_share([]) == 0.0
    share = topic_answer_share(toy_data.train)
    result = fit(toy_data, MODEL, CFG.with_(epochs=1), progress=False)
    assert result.system.model.config.mask_topics is (share < 0.01)
    forced = fit(toy_data, MODEL.with_(mask_topics=True), CFG.with_(epochs=1), progress=False)
    assert forced.system.model.config.mask_topics is True


def test_training_hands_freed_memory_back_between_steps_and_after_evaluation(toy_data, monkeypatch):
    import kgqa.train
    calls = []
    monkeypatch.setattr(kgqa.train, "release_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(kgqa.train, "RELEASE_EVERY", 2)
    n_train = len(toy_data.train)
    fit(toy_data, MODEL, CFG.with_(epochs=2, batch_size=8), progress=False)
    steps = -(-n_train // 8)
    assert len(calls) == 2 * (steps // 2 + 1)


def test_subsets_are_seeded_random_draws_in_file_order():
    from kgqa.train import _subset

    items = list(range(100))
    a, b = _subset(items, 10, seed=3), _subset(items, 10, seed=3)
    assert a == b and len(a) == 10 and a == sorted(a) and a != items[:10]
    assert _subset(items, None, 0) == items and _subset(items, 500, 0) == items


def test_save_pretrained_round_trip_of_a_hand_built_system(tmp_path, toy_data):
    """A system never trained by fit saves and loads back answering the same; its prefixes are
    the system's own (model, and the resolver of a text model)."""
    torch.manual_seed(0)
    model = EndToEndQA(toy_data.kg.num_relations, tiny_encoder(0).dim, ModelConfig(hidden=8))
    system = QASystem(toy_data.kg, tiny_encoder(0), model, device="cpu")
    assert {k.split(".")[0] for k in system.state_dict()} == {"model"}
    folder = system.save_pretrained(tmp_path / "saved")
    loaded = QASystem.from_pretrained(folder, device="cpu")
    q, topics = "What city is the Mona Lisa in?", ["mona_lisa"]
    assert loaded.explain(q, topics) == system.explain(q, topics)
    assert loaded.config.model.hidden == 8 and loaded.config.kg["fingerprint"] == toy_data.kg.fingerprint()
    assert loaded.config.train is None and loaded.config.epoch is None  # never trained: no training record
    bad = {k: v[..., :1] for k, v in system.state_dict().items()}
    with pytest.raises(CheckpointError, match="weights do not fit"):
        loaded.load_state_dict(bad, where="here")


def test_a_loaded_system_answers_the_same_every_time(trained, toy_data):
    """A system is built ready to answer (dropout off): ``run`` on a loaded checkpoint is not a
    random draw; fit() switches to training mode for its epochs only."""
    _, run = trained
    loaded = QASystem.from_pretrained(run)
    assert not loaded.model.training
    q = loaded.encode(toy_data.test[:16])
    topics = [[loaded.kg.entity_index(t) for t in e.topics] for e in toy_data.test[:16]]
    with torch.no_grad():
        a, b = loaded.run(q, topics).scores, loaded.run(q, topics).scores
    assert torch.equal(a, b)


@pytest.mark.parametrize("intersection", ["none", "min"])
def test_each_distinct_question_text_is_encoded_once(toy_data, tiny_enc, intersection):
    """encode_distinct: the same tensors as encoding the questions in order, batch by batch
    (to float rounding), with every repeated text read from its one encoding."""
    from kgqa.inputs import encode_distinct, encoder_input, pad_questions

    system = QASystem.build(toy_data.kg, ModelConfig(hidden=16, intersection=intersection), tiny_enc)
    examples = toy_data.test + toy_data.test[:10]  # repeats, in another batch than their first copy
    calls = []

    def encode(batch):
        calls.append(len(batch))
        return system.encode(batch)

    fast = encode_distinct(encode, examples, system.masks_mentions, batch_size=8)
    slow = pad_questions([system.encode(examples[i: i + 8]) for i in range(0, len(examples), 8)])
    k = min(fast.shape[1], slow.shape[1]) if fast.dim() == 3 else None
    assert fast.shape[0] == len(examples) and fast.dim() == slow.dim()
    assert torch.allclose(fast[:, :k] if k else fast, slow[:, :k] if k else slow, atol=1e-5)
    distinct = {tuple([t, *map(tuple, s)]) for t, s in (encoder_input(e, system.masks_mentions) for e in examples)}
    assert sum(calls) == len(distinct) < len(examples)
    assert torch.equal(fast[-10:], fast[:10])  # a repeat is its first copy, bit for bit
    with pytest.raises(ValueError, match="at least one example"):
        encode_distinct(encode, [], system.masks_mentions)
    m_fast, m_slow = system.evaluate(examples), system.evaluate(examples, slow)
    assert m_fast["hits@1"] == m_slow["hits@1"]


def test_evaluation_hands_freed_memory_back_every_few_batches(trained, toy_data, monkeypatch):
    """A long evaluation after training piled freed heap up (MetaQA 3-hop test from text: 1.1 ->
    3.6 GiB resident); evaluate() now releases it every RELEASE_EVERY_BATCHES batches."""
    import kgqa.qa as qa

    calls = []
    monkeypatch.setattr(qa, "release_memory", lambda: calls.append(1) or True)
    result, _ = trained
    n, size = len(toy_data.test), 2
    result.system.evaluate(toy_data.test, batch_size=size)
    assert len(calls) == (n - 1) // (qa.RELEASE_EVERY_BATCHES * size) > 0
