"""Nothing silently wrong: bad files, damaged checkpoints, interrupted and concurrent runs.

Each test reproduces one way a user can get a wrong result or a traceback, and checks that they
get either the right result or a typed error that says what and where. The command-line cases
run ``kgqa`` in-process (``main``) or, where a real process matters (signals, locks), as one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kgqa.checkpoint import (CheckpointError, load_checkpoint_files, recover_run, run_lock,
                             save_checkpoint)
from kgqa.cli import main
from kgqa.datasets import DataWarning, load_user, split_examples
from kgqa.errors import KGFormatError, KGQAError, QAFormatError
from kgqa.kg import KnowledgeGraph
from kgqa.model import ModelConfig
from kgqa.qa import EvaluationError, QASystem
from kgqa.train import TrainConfig, fit

FAST = TrainConfig(epochs=2, encoder="tiny", device="cpu", seed=0)
PEOPLE = [f"person_{i}" for i in range(20)]


def family_kg_text() -> str:
    lines = [f"{p}|lives_in|city_{i % 4}" for i, p in enumerate(PEOPLE)]
    lines += [f"{p}|parent|{PEOPLE[i // 2]}" for i, p in enumerate(PEOPLE) if i >= 2]
    return "\n".join(lines) + "\n"


def family_questions() -> str:
    rows = [f"where does [{p}] live\tcity_{i % 4}" for i, p in enumerate(PEOPLE)]
    rows += [f"who is the parent of [{p}]\t{PEOPLE[i // 2]}" for i, p in enumerate(PEOPLE) if i >= 2]
    return "\n".join(rows) + "\n"


@pytest.fixture()
def family(tmp_path: Path) -> tuple[Path, Path]:
    kg, qa = tmp_path / "kb.txt", tmp_path / "qa.txt"
    kg.write_text(family_kg_text(), encoding="utf-8")
    qa.write_text(family_questions(), encoding="utf-8")
    return kg, qa


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    """A toy model trained for two epochs with the tiny encoder."""
    from kgqa.datasets import load_toy

    run = tmp_path_factory.mktemp("toy") / "run"
    fit(load_toy(), ModelConfig(), FAST, run_dir=run, progress=False)
    return run


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


# ------------------------------------------------------------------ 1. byte-order mark
def test_a_byte_order_mark_is_not_part_of_the_first_entity(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_bytes("\ufeff".encode("utf-8") + family_kg_text().encode("utf-8"))
    kg = KnowledgeGraph.load(path)
    plain = KnowledgeGraph.from_triples([tuple(ln.split("|")) for ln in family_kg_text().split()], add_inverses=True)
    assert kg.has_entity("person_0") and not any(e.startswith("\ufeff") for e in kg.entities)
    assert kg.fingerprint() == plain.fingerprint()
    listed = tmp_path / "entities.txt"
    listed.write_bytes("\ufeffperson_0\n".encode("utf-8"))
    assert KnowledgeGraph.load(path, entity_list=listed).entities[0] == "person_0"


# ------------------------------------------------------------------ 2. evaluation on another graph
def test_eval_on_another_graph_is_refused(toy_run: Path, family, capsys) -> None:
    kg_path, qa_path = family
    other = fit(load_user(kg_path, qa_path), ModelConfig(), FAST, run_dir=toy_run.parent / "family",
                progress=False)
    code, _, err = cli(capsys, "eval", "--checkpoint", str(other.run_dir), "--dataset", "toy")
    assert code == 2 and "trained on a different knowledge graph" in err
    toy = __import__("kgqa.datasets", fromlist=["load_toy"]).load_toy()
    with pytest.raises(EvaluationError, match=r"have no gold answer in the knowledge graph"):
        other.system.evaluate(toy.test)


def test_an_example_with_no_known_answer_never_scores(toy_run: Path) -> None:
    from kgqa.datasets import QAExample

    system = QASystem.from_pretrained(toy_run)
    ok = QAExample("Who directed Big?", ("big",), (), ("penny_marshall",))
    gone = QAExample("Who directed Big?", ("big",), (), ("not_an_entity",), source="mine.txt:7")
    assert system.evaluate([ok])["n"] == 1
    with pytest.raises(EvaluationError, match=r"1 of 2 questions .*mine.txt:7"):
        system.evaluate([ok, gone])


# ------------------------------------------------------------------ 3. a kill between the renames
def test_resume_restores_best_moved_aside_by_a_kill(family, tmp_path: Path) -> None:
    data = load_user(*family)
    run = tmp_path / "run"
    first = fit(data, ModelConfig(), FAST.with_(epochs=3), run_dir=run, progress=False)
    best_weights = load_checkpoint_files(run, "best")[1]
    os.replace(run / "best", run / ".best.old")  # as a kill between the two renames leaves it
    (run / ".last.tmp-abc").mkdir()
    (run / ".best.tmp-xyz").mkdir()
    again = fit(data, ModelConfig(), FAST.with_(epochs=3), run_dir=run, progress=False)
    assert (run / "best").is_dir() and not (run / ".best.old").exists()
    assert not list(run.glob(".*.tmp-*"))
    assert again.best_epoch == first.best_epoch
    got = load_checkpoint_files(run, "best")[1]
    assert all(torch.equal(got[k], best_weights[k]) for k in best_weights)
    assert again.system.evaluate(data.test) == first.system.evaluate(data.test)


def test_recover_run_drops_the_outdated_copy_when_both_exist(tmp_path: Path) -> None:
    for name in ("best", ".best.old"):
        save_checkpoint(tmp_path / name, weights={"w": torch.ones(1)}, config={"name": name})
    assert recover_run(tmp_path) == ["removed the outdated .best.old"]
    assert json.loads((tmp_path / "best/config.json").read_text())["name"] == "best"


# ------------------------------------------------------------------ 4. duplicates and near-duplicates
def test_duplicate_and_reworded_questions_stay_out_of_the_test_split(family, tmp_path: Path) -> None:
    kg_path, qa_path = family
    lines = family_questions().splitlines()
    reworded = [ln.replace("where does", "in which city does") for ln in lines if ln.startswith("where")]
    dup = tmp_path / "dup.txt"
    dup.write_text("\n".join(lines * 3 + reworded) + "\n", encoding="utf-8")
    with pytest.warns(DataWarning, match=r"76 repeated question line\(s\) removed"):
        data = load_user(kg_path, dup)
    assert len(data) == len(lines) + len(reworded)
    train_facts = {(e.topics, frozenset(e.answers)) for e in data.train}
    assert not any((e.topics, frozenset(e.answers)) in train_facts for e in data.test + data.dev)
    texts = [e.question for e in data.train + data.dev + data.test]
    assert len(texts) == len(set(texts))
    with pytest.warns(DataWarning, match="test questions have their topics and answers in training"):
        load_user(kg_path, dup, dedupe=False, grouped=False)


def test_grouped_split_keeps_the_sizes_close_and_is_seeded(family) -> None:
    data = load_user(*family)
    exs = data.train + data.dev + data.test
    a = split_examples(exs, (0.8, 0.1, 0.1), 3, grouped=True)
    assert a == split_examples(exs, (0.8, 0.1, 0.1), 3, grouped=True)
    assert abs(len(a[0]) - round(0.8 * len(exs))) <= 1 and sum(map(len, a)) == len(exs)


# ------------------------------------------------------------------ 5. two runs in one folder
def test_a_second_run_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run"):
        code = ("import sys; from kgqa.checkpoint import run_lock\n"
                "try:\n    run_lock(sys.argv[1]).__enter__()\nexcept Exception as e:\n"
                "    print(type(e).__name__, e); sys.exit(3)\n")
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
        assert proc.returncode == 3 and f"RunInUseError {tmp_path / 'run'}: run folder in use by PID {os.getpid()}" \
            in proc.stdout
    with run_lock(tmp_path / "run"):  # released on exit
        pass


def test_train_refuses_a_folder_in_use(family, tmp_path: Path, capsys) -> None:
    kg_path, qa_path = family
    with run_lock(tmp_path / "run"):
        code, _, err = cli(capsys, "train", "--kg", str(kg_path), "--questions", str(qa_path), "--encoder", "tiny",
                           "--out", str(tmp_path / "run"), "--epochs", "1")
    assert code == 2 and "run folder in use by PID" in err


# ------------------------------------------------------------------ 6. resuming with other settings
@pytest.mark.parametrize("change, field", [(dict(lr=1e-2), "train.lr"), (dict(seed=1), "train.seed"),
                                           (dict(batch_size=7), "train.batch_size")])
def test_resume_with_changed_settings_is_refused(family, tmp_path: Path, change, field) -> None:
    data = load_user(*family)
    fit(data, ModelConfig(), FAST, run_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=rf"cannot resume: .*{field}"):
        fit(data, ModelConfig(), FAST.with_(epochs=3, **change), run_dir=tmp_path, progress=False)
    fit(data, ModelConfig(), FAST.with_(epochs=3), run_dir=tmp_path, progress=False)  # epochs may change


def test_a_run_saved_before_a_setting_existed_resumes_at_its_default(family, tmp_path: Path) -> None:
    """A model field added since the run was saved (here hop_attention) counts as its default, not
    as a changed setting; set to another value it is refused."""
    import json

    data = load_user(*family)
    fit(data, ModelConfig(), FAST, run_dir=tmp_path, progress=False)
    for config in tmp_path.glob("*/config.json"):
        saved = json.loads(config.read_text())
        del saved["model"]["hop_attention"]
        config.write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match=r"model.hop_attention True -> False"):
        fit(data, ModelConfig(hop_attention=False), FAST.with_(epochs=3), run_dir=tmp_path, progress=False)
    fit(data, ModelConfig(), FAST.with_(epochs=3), run_dir=tmp_path, progress=False)


def test_resume_with_another_question_file_is_refused(family, tmp_path: Path) -> None:
    kg_path, qa_path = family
    fit(load_user(kg_path, qa_path), ModelConfig(), FAST, run_dir=tmp_path / "run", progress=False)
    other = tmp_path / "other.txt"
    other.write_text("\n".join(family_questions().splitlines()[:-3]) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="questions differ"):
        fit(load_user(kg_path, other), ModelConfig(), FAST.with_(epochs=3), run_dir=tmp_path / "run", progress=False)


# ------------------------------------------------------------------ 7. exact resume from text
@pytest.mark.parametrize("entities, intersection", [("text", "none"), ("span", "none"), ("text", "min")])
def test_resume_is_bit_identical(tmp_path: Path, entities: str, intersection: str) -> None:
    from kgqa.datasets import load_toy

    data, mc = load_toy(), ModelConfig(entities=entities, intersection=intersection)
    tc = TrainConfig(epochs=3, patience=10, encoder="tiny", device="cpu")
    whole = fit(data, mc, tc, run_dir=tmp_path / "a", progress=False)
    fit(data, mc, tc.with_(epochs=2), run_dir=tmp_path / "b", progress=False)
    resumed = fit(data, mc, tc, run_dir=tmp_path / "b", progress=False)
    assert [r["loss"] for r in whole.history] == [r["loss"] for r in resumed.history]
    wa, wb = load_checkpoint_files(tmp_path / "a", "last")[1], load_checkpoint_files(tmp_path / "b", "last")[1]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_candidates_do_not_depend_on_the_batch(toy) -> None:
    from kgqa.resolve.candidates import CandidateIndex

    index = CandidateIndex.build(toy)
    words = "Who did Tom Hanks play in Big and where is the Mona Lisa 1977 ?".split()
    spans = [" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + 4, len(words)) + 1)]
    together = index.query(spans, 8)
    for i, span in enumerate(spans):
        alone = index.query([span], 8)
        assert torch.equal(alone.entity[0], together.entity[i]), span
        assert torch.equal(alone.features[0], together.features[i]), span


# ------------------------------------------------------------------ 8. --no-resume
def test_no_resume_needs_overwrite(family, tmp_path: Path, capsys) -> None:
    kg_path, qa_path = family
    args = ["train", "--kg", str(kg_path), "--questions", str(qa_path), "--encoder", "tiny", "--out",
            str(tmp_path), "--epochs", "1", "--device", "cpu"]
    assert cli(capsys, *args)[0] == 0
    before = (tmp_path / "best/model.safetensors").read_bytes()
    code, _, err = cli(capsys, *args, "--no-resume")
    assert code == 2 and "already holds a trained model" in err and "--overwrite" in err
    assert (tmp_path / "best/model.safetensors").read_bytes() == before
    assert cli(capsys, *args, "--no-resume", "--overwrite")[0] == 0


# ------------------------------------------------------------------ 9. partial inverses
def test_a_file_with_some_inverse_facts_gets_all_of_them(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_text(family_kg_text() + "city_0|lives_in^-1|person_0\n", encoding="utf-8")
    kg = KnowledgeGraph.load(path)
    base = KnowledgeGraph.load(_plain(tmp_path))
    assert kg.num_triples == base.num_triples == 2 * (len(PEOPLE) + len(PEOPLE) - 2)
    assert set(kg.string_triples()) == set(base.string_triples())
    assert kg.with_inverses() is kg  # nothing left to add


def _plain(tmp_path: Path) -> Path:
    p = tmp_path / "plain.txt"
    p.write_text(family_kg_text(), encoding="utf-8")
    return p


# ------------------------------------------------------------------ 10. damaged weights
def test_flipped_bytes_in_the_weights_are_detected(toy_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(toy_run, run)
    path = run / "best/model.safetensors"
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 64, len(data) - 32):  # inside the last tensor, past the header
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.safetensors: damaged"):
        QASystem.from_pretrained(run)
    code, _, err = cli(capsys, "ask", "Who directed Big?", "--checkpoint", str(run), "--entity", "big")
    assert code == 2 and "SHA-256" in err


@pytest.mark.parametrize("damage", ["truncate-weights", "garble-weights", "truncate-state", "config-list",
                                    "config-garbage", "config-unknown-field", "config-ill-typed",
                                    "triples-not-int", "triples-out-of-range", "kg-json-garbage",
                                    "entities-latin1"])
def test_damaged_checkpoint_files_give_messages(toy_run: Path, tmp_path: Path, capsys, damage: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(toy_run, run)
    best, last = run / "best", run / "last"

    def edit_config(folder: Path, change) -> None:
        cfg = json.loads((folder / "config.json").read_text())
        change(cfg)
        (folder / "config.json").write_text(json.dumps(cfg))

    if damage == "truncate-weights":
        (best / "model.safetensors").write_bytes((best / "model.safetensors").read_bytes()[:100])
        edit_config(best, lambda c: c.pop("sha256"))  # as a checkpoint from before the checksums
    elif damage == "garble-weights":
        (best / "model.safetensors").write_bytes(b"\x00" * 64)
        edit_config(best, lambda c: c.pop("sha256"))
    elif damage == "truncate-state":
        (last / "state.pt").write_bytes((last / "state.pt").read_bytes()[:50])
        edit_config(last, lambda c: c.pop("sha256"))
    elif damage == "config-list":
        (best / "config.json").write_text("[1, 2]")
    elif damage == "config-garbage":
        (best / "config.json").write_bytes(b"\xff\xfe{")
    elif damage == "config-unknown-field":
        edit_config(best, lambda c: c["model"].update(colour="blue"))
    elif damage == "config-ill-typed":
        edit_config(best, lambda c: c["model"].update(hops="three"))
    elif damage == "triples-not-int":
        (best / "kg/triples.tsv").write_text("0\tone\t2\n")
    elif damage == "triples-out-of-range":
        (best / "kg/triples.tsv").write_text("0\t0\t99999\n")
    elif damage == "kg-json-garbage":
        (best / "kg/kg.json").write_text("{not json")
    elif damage == "entities-latin1":
        (best / "kg/entities.tsv").write_bytes("id\tname\taliases\ttype\nx\tCaf\xe9\t\t\n".encode("latin-1"))
    if damage == "truncate-state":
        with pytest.raises(CheckpointError, match="state.pt: damaged"):
            load_checkpoint_files(run, "last", with_state=True)
        return
    with pytest.raises(KGQAError):
        QASystem.from_pretrained(run)
    code, _, err = cli(capsys, "ask", "Who directed Big?", "--checkpoint", str(run), "--entity", "big")
    assert code == 2 and err.startswith("kgqa: error: ") and str(run) in err


# ------------------------------------------------------------------ 11. numeric options
@pytest.mark.parametrize("option, value", [("--batch-size", "-5"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"),
                                           ("--epochs", "0"), ("--hops", "0"), ("--batch-size", "two")])
def test_bad_numbers_are_refused_at_parse_time(option: str, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--dataset", "toy", option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and option in err and "Traceback" not in err


def test_ask_k_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["ask", "who?", "--checkpoint", "x", "-k", "-1"])
    assert "must be at least 1" in capsys.readouterr().err


# ------------------------------------------------------------------ 12. '|' in names
def test_aliases_with_a_bar_survive_save_and_load(tmp_path: Path) -> None:
    kg = KnowledgeGraph.from_triples([("acdc", "genre", "rock"), ("back_slash", "genre", "rock")],
                                     names={"acdc": "AC|DC"},
                                     aliases={"acdc": ["AC|DC", "AC/DC", "ACDC"], "back_slash": ["a\\|b\\"]})
    back = KnowledgeGraph.load_saved(kg.save(tmp_path / "kg"))
    assert back.aliases == kg.aliases and back.names == kg.names and back.fingerprint() == kg.fingerprint()


def test_an_answer_named_with_a_bar(tmp_path: Path) -> None:
    kg = KnowledgeGraph.from_triples([("acdc", "genre", "rock"), ("queen", "genre", "rock")],
                                     names={"acdc": "AC|DC"}, add_inverses=True)
    folder = kg.save(tmp_path / "kg")
    from kgqa.datasets import load_questions

    good = tmp_path / "good.txt"
    good.write_text("which bands play [rock]\tAC\\|DC|queen\n", encoding="utf-8")
    assert load_questions(good, kg)[0].answers == ("acdc", "queen")
    bad = tmp_path / "bad.txt"
    bad.write_text("which bands play [rock]\tqueen|AC|DC\n", encoding="utf-8")
    with pytest.raises(QAFormatError, match=r"bad.txt:1: the answer 'AC\|DC' .* write it as 'AC\\\\\|DC'"):
        load_questions(bad, KnowledgeGraph.load_saved(folder))


# ------------------------------------------------------------------ output that misleads
def test_ask_says_what_the_scores_are_and_drops_the_empty_tail(toy_run: Path, capsys) -> None:
    code, out, _ = cli(capsys, "ask", "Who directed Big?", "--checkpoint", str(toy_run), "--entity", "big", "-k", "50")
    assert code == 0 and "answers (score = " in out
    scores = [float(ln.split()[0]) for ln in out.splitlines() if ln.strip()[:1].isdigit() and "  " in ln.strip()]
    assert scores and all(0.001 <= s <= 1.0 for s in scores)


def test_eval_of_your_own_checkpoint_reads_its_recorded_test_split(family, tmp_path: Path, capsys) -> None:
    kg_path, qa_path = family
    run = tmp_path / "run"
    assert cli(capsys, "train", "--kg", str(kg_path), "--questions", str(qa_path), "--encoder", "tiny",
               "--out", str(run), "--epochs", "1")[0] == 0
    trained = json.loads((run / "metrics.json").read_text())["test"]
    code, out, _ = cli(capsys, "eval", "--checkpoint", str(run), "--json")
    result = json.loads(out)
    assert code == 0 and result["n"] == trained["n"] and result["hits@1"] == trained["hits@1"]
    assert "by_type" not in result and "by_hops" not in result  # placeholders of a plain file
    qa_path.write_text(family_questions().replace("\t", " now\t"), encoding="utf-8")  # every question edited
    code, _, err = cli(capsys, "eval", "--checkpoint", str(run))
    assert code == 2 and "differs from the one recorded" in err


def test_stats_summarises_many_relations(tmp_path: Path, capsys) -> None:
    path = tmp_path / "kb.txt"
    path.write_text("".join(f"e{i}|rel_{i}|e{i + 1}\n" for i in range(200)), encoding="utf-8")
    code, out, _ = cli(capsys, "stats", str(path))
    assert code == 0 and len(out.splitlines()) < 45 and "370 more relations" in out
    code, out, _ = cli(capsys, "stats", str(path), "--all")
    assert len(out.splitlines()) > 400
    code, _, err = cli(capsys, "stats", str(tmp_path))
    assert code == 2 and "is a directory" in err


# ------------------------------------------------------------------ tracebacks that should be messages
def test_run_folder_problems_are_found_before_training(family, tmp_path: Path, capsys) -> None:
    kg_path, qa_path = family
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (a_file, a_file / "under"):
        code, _, err = cli(capsys, "train", "--kg", str(kg_path), "--questions", str(qa_path), "--out", str(out))
        assert code == 2 and "is a file" in err


def test_unwritable_run_folder(family, tmp_path: Path, capsys, monkeypatch) -> None:
    import kgqa.checkpoint as ck

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ck.tempfile, "mkstemp", refuse)
    kg_path, qa_path = family
    code, _, err = cli(capsys, "train", "--kg", str(kg_path), "--questions", str(qa_path), "--out",
                       str(tmp_path / "ro"))
    assert code == 2 and "cannot write checkpoints here (Permission denied)" in err


def test_a_full_disk_while_saving_leaves_the_old_checkpoint(tmp_path: Path, monkeypatch) -> None:
    import errno

    import kgqa.checkpoint as ck

    save_checkpoint(tmp_path / "best", weights={"w": torch.ones(2)}, config={"v": 1})

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "save_file", full)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "best", weights={"w": torch.zeros(2)}, config={"v": 2})
    assert load_checkpoint_files(tmp_path)[0]["v"] == 1 and not list(tmp_path.glob(".best.tmp-*"))
    from kgqa.cli.main import _os_message

    assert "no space left" in _os_message(OSError(errno.ENOSPC, "No space left on device"))


def test_unreadable_files_are_messages(tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "kb.txt"
    path.write_text(family_kg_text())
    import builtins

    real_open = builtins.open

    def deny(file, *a, **k):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(KGFormatError, match="kb.txt: cannot read \\(Permission denied\\)"):
        KnowledgeGraph.load(path)


def test_device_without_cuda(capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = cli(capsys, "train", "--dataset", "toy", "--device", "cuda")
    assert code == 2 and "CUDA is not available" in err
    code, _, err = cli(capsys, "train", "--dataset", "toy", "--device", "gpu7")
    assert code == 2 and "not a device" in err


def test_json_failures_print_an_error_object(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "eval", "--checkpoint", str(tmp_path / "none"), "--json")
    assert code == 2 and json.loads(out) == {"error": "CheckpointError", "message": err.strip()[len("kgqa: error: "):]}


def test_half_precision_follow_matches_float32(toy) -> None:
    from kgqa.follow import ReifiedKG, follow

    kb = ReifiedKG.from_kg(toy)
    x = torch.zeros(3, toy.num_entities)
    x[0, 0], x[1, 5], x[2, 9] = 1.0, 0.5, 0.25
    r = torch.rand(3, toy.num_relations)
    for dtype in (torch.float16, torch.bfloat16):
        for frontier in ("dense", "sparse", "auto"):
            y = follow(kb, x.to(dtype), r.to(dtype), frontier=frontier)
            y = y.to_dense() if y.is_sparse else y
            want = follow(kb, x.to(dtype).float(), r.to(dtype).float(), frontier="dense")
            assert y.dtype == dtype and torch.allclose(y.float(), want, rtol=1e-2, atol=1e-3)


def test_malformed_triples_are_typed_errors() -> None:
    with pytest.raises(KGFormatError):
        KnowledgeGraph.from_triples([("a", "r")])
    with pytest.raises(KGFormatError):
        KnowledgeGraph.from_triples([("a", "r", 3)])
    with pytest.raises(KGFormatError):
        KnowledgeGraph(["a"], ["r"], torch.tensor([[0.0, 0.0, 0.0]]))
    with pytest.raises(KGFormatError):
        KnowledgeGraph(["a"], ["r"], torch.tensor([[0, 0, 1]]))
    with pytest.raises(KGFormatError):
        KnowledgeGraph(["a"], ["r"], [[0, 0]])


def test_empty_splits_warn_and_json_has_no_nan(tmp_path: Path, capsys) -> None:
    kg = tmp_path / "kb.txt"
    kg.write_text(family_kg_text())
    qa = tmp_path / "qa.txt"
    qa.write_text("where does [person_0] live\tcity_0\nwho is the parent of [person_2]\tperson_1\n")
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--kg", str(kg), "--questions", str(qa), "--encoder", "tiny", "--out",
                       str(run), "--epochs", "1")
    assert code == 0 and "kgqa: warning:" in err and "split is empty" in err
    for path in [run / "metrics.json", run / "best/config.json", run / "last/config.json"]:
        json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path} holds {c}"))


# ------------------------------------------------------------------ signals, as a real process
def test_sigint_during_training_says_how_to_resume(tmp_path: Path) -> None:
    from kgqa.datasets import load_toy  # noqa: F401 - warm the import cache for the child

    env = {**os.environ, "KGQA_QUICK": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kgqa", "train", "--dataset", "toy", "--encoder", "tiny",
                             "--out", str(tmp_path / "run"), "--epochs", "200", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not (tmp_path / "run/last").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume with the same command" in err and "Traceback" not in err
    assert load_checkpoint_files(tmp_path / "run", "last", with_state=True)[2] is not None


def test_fuzzed_readers_raise_only_typed_errors(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kgqa.datasets import load_questions

    kg = KnowledgeGraph.from_triples([("a", "r", "b"), ("b", "r", "c")], names={"a": "Alpha"}, add_inverses=True)
    pieces = st.sampled_from(["a", "b", "Alpha", "|", "\t", "\n", "\r\n", "\ufeff", "[", "]", "#", " ", "é",
                              "\x00", "r", "\\", "\\|", "r^-1", "ü"])
    texts = st.one_of(st.binary(max_size=200), st.lists(pieces, max_size=40).map(lambda p: "".join(p).encode()))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(texts)
    def fuzz(data: bytes) -> None:
        path = tmp_path / "fuzz.txt"
        path.write_bytes(data)
        for read in (lambda: KnowledgeGraph.load(path), lambda: load_questions(path, kg)):
            try:
                read()
            except KGQAError:
                pass

    fuzz()


def test_stable_top_matches_a_sorted_oracle() -> None:
    """``_top_stable`` against Python's sort by (value desc, key asc), on rows full of ties."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kgqa.resolve.candidates import _top_stable

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 6), st.integers(2, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
    def check(rows: int, width: int, t: int, seed: int) -> None:
        t = min(t, width)
        g = torch.Generator().manual_seed(seed)
        values = torch.randint(-1, 4, (rows, width), generator=g).float() / 2  # many equal values, padding -1
        keys = torch.stack([torch.randperm(100, generator=g)[:width] for _ in range(rows)])
        val, pos = _top_stable(values, keys, t)
        for r in range(rows):
            want = sorted(range(width), key=lambda j: (-values[r, j].item(), keys[r, j].item()))[:t]
            got = pos[r].tolist()
            positive = [j for j in want if values[r, j] > 0]  # the caller stops at the first value <= 0
            assert got[:len(positive)] == positive
            assert val[r].tolist() == values[r, pos[r]].tolist()

    check()


def test_fuzzed_saved_graph_files_raise_only_typed_errors(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    kg = KnowledgeGraph.from_triples([("a", "r", "b"), ("b", "s", "c")], names={"a": "Alpha"},
                                     aliases={"b": ["B|b"]}, add_inverses=True)
    folder = kg.save(tmp_path / "kg")
    originals = {name: (folder / name).read_bytes() for name in ("entities.tsv", "relations.txt", "triples.tsv",
                                                                  "kg.json")}

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(originals)), st.binary(max_size=120), st.integers(0, 200))
    def fuzz(name: str, junk: bytes, at: int) -> None:
        data = originals[name]
        (folder / name).write_bytes(data[:at] + junk + data[at + len(junk):])
        try:
            KnowledgeGraph.load_saved(folder)
        except KGQAError:
            pass
        finally:
            (folder / name).write_bytes(data)

    fuzz()


def test_a_question_path_that_is_a_directory(tmp_path: Path, toy) -> None:
    from kgqa.datasets import load_questions

    with pytest.raises(QAFormatError, match="is a directory"):
        load_questions(tmp_path, toy)


def test_ask_answers_many_questions_in_one_process(toy_run: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    import io

    code, out, _ = cli(capsys, "ask", "Who directed [Big]?", "Where is the [Mona Lisa] exhibited?",
                       "--checkpoint", str(toy_run), "--json")
    answers = json.loads(out)
    assert code == 0 and [a["question"] for a in answers] == ["Who directed Big?", "Where is the Mona Lisa exhibited?"]
    assert [[t["id"] for t in a["topics"]] for a in answers] == [["big"], ["mona_lisa"]]
    monkeypatch.setattr(sys, "stdin", io.StringIO("Who directed [Big]?\n\nwho is [nobody]\n"))
    code, out, err = cli(capsys, "ask", "--questions", "-", "--checkpoint", str(toy_run), "--json")
    answers = json.loads(out)
    assert code == 1 and len(answers) == 2 and [t["id"] for t in answers[0]["topics"]] == ["big"]
    assert "question 2 ('who is [nobody]')" in err and "unknown entity 'nobody'" in answers[1]["error"]
    code, _, err = cli(capsys, "ask", "a?", "b?", "--entity", "big", "--checkpoint", str(toy_run))
    assert code == 2 and "--entity names the topic of one question" in err
    code, _, err = cli(capsys, "ask", "--checkpoint", str(toy_run))
    assert code == 2 and "no question" in err


def test_eval_reloads_a_registered_dataset_with_its_training_options(tmp_path: Path, capsys) -> None:
    from kgqa.datasets import load_dataset

    run = tmp_path / "run"
    fit(load_dataset("toy", seed=3), ModelConfig(), FAST.with_(epochs=1), run_dir=run, progress=False)
    config = json.loads((run / "best/config.json").read_text())
    assert config["data"]["origin"] == {"loader": "registry", "name": "toy", "options": {"seed": 3}}
    code, out, _ = cli(capsys, "eval", "--checkpoint", str(run), "--json")
    assert code == 0 and json.loads(out)["n"] == len(load_dataset("toy").test)


def test_eval_of_a_pathquestion_run_split_by_fact(data_root: Path, tmp_path: Path, capsys) -> None:
    from kgqa.datasets import load_dataset

    data = load_dataset("pq-2h", grouped=True)
    fit(data, ModelConfig(), FAST.with_(epochs=1), run_dir=tmp_path, progress=False)
    code, out, _ = cli(capsys, "eval", "--checkpoint", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["n"] == len(data.test) == 186
