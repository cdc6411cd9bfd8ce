"""The graph sharded over processes (kgqa.follow.distributed) and training on several (kgqa.parallel):
2 and 3 local processes over gloo on 127.0.0.1, each run bounded in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distributed_workers import check_follow, free_port, launch, train_toy
from kgqa.follow import ReifiedKG, ShardedReifiedKG, follow
from kgqa.follow.distributed import ShardError, balance, save_shards, shard_of_facts
from kgqa.parallel import DistributedError, Layout


@st.composite
def graphs(draw):
    """A random graph (few subjects, so that some parts are empty), inputs and an upstream gradient."""
    E = draw(st.integers(1, 12))
    R = draw(st.integers(1, 4))
    T = draw(st.integers(0, 40))
    subjects = draw(st.integers(1, E))  # facts leave only the first few entities
    facts = [(draw(st.integers(0, subjects - 1)), draw(st.integers(0, R - 1)), draw(st.integers(0, E - 1)))
             for _ in range(T)]
    B = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, E, generator=g) * (torch.rand(B, E, generator=g) < 0.6)
    weighted = draw(st.booleans())
    return {"triples": torch.tensor(facts, dtype=torch.int64).reshape(-1, 3), "E": E, "R": R, "x": x,
            "r": torch.rand(B, R, generator=g), "g": torch.randn(B, E, generator=g),
            "weights": torch.rand(T, generator=g) if weighted else None,
            "frontier": draw(st.sampled_from(["dense", "sparse"]))}


def _cases(n: int, world: int, by: str) -> list[dict]:
    """``n`` hypothesis-drawn cases, each with the part of every fact under ``world`` ranks."""
    cases: list[dict] = []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(graphs())
    def draw(case):
        if len(cases) < n:
            cases.append(case)

    draw()
    for c in cases:
        c["part"] = shard_of_facts(c["triples"][:, 0], c["E"], world, by)
        if c["frontier"] == "sparse":  # the sparse frontier's x-gradient is exact where x is non-zero
            c["x"] = c["x"] + 0.1
    return cases


@pytest.mark.parametrize("world,by", [(2, "subject"), (3, "hash")])
def test_sharded_follow_equals_follow_forward_and_backward(world, by):
    cases = _cases(30, world, by)
    assert any((c["part"] == k).sum() == 0 for c in cases for k in range(world)), "no empty part drawn"
    launch(check_follow, world, cases, by, timeout=240)


def test_shard_of_facts_keeps_a_subject_on_one_part_and_balances_by_facts():
    s = torch.tensor([0, 0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7])
    part = shard_of_facts(s, 8, 3, "subject")
    assert part.tolist() == sorted(part.tolist())  # contiguous subject ranges
    for by in ("subject", "hash"):
        p = shard_of_facts(s, 8, 3, by)
        for e in range(8):
            assert len(set(p[s == e].tolist())) <= 1, (by, e)
    assert torch.bincount(part, minlength=3).tolist() == [4, 4, 4]
    assert balance(part, 3) == 1.0
    assert balance(torch.tensor([0, 0, 0, 1]), 2) == 1.5


def test_one_process_sharded_graph_is_the_whole_graph(toy):
    kb = ReifiedKG.from_kg(toy)
    part = ShardedReifiedKG.from_kg(toy)
    assert part.world_size == 1 and part.local.num_triples == toy.num_triples
    x = torch.rand(2, toy.num_entities)
    r = torch.rand(2, toy.num_relations)
    assert torch.allclose(follow(part, x, r), follow(kb, x, r))
    assert "rank 0 of 1" in repr(part)


def test_a_saved_split_loads_as_the_same_part(toy, tmp_path):
    meta = save_shards(toy.triples, toy.num_entities, toy.num_relations, tmp_path, 1)
    assert meta["facts_per_part"] == [toy.num_triples]
    part = ShardedReifiedKG.load(tmp_path)
    assert torch.equal(part.local.triples, toy.triples)
    save_shards(toy.triples, toy.num_entities, toy.num_relations, tmp_path / "two", 2)
    with pytest.raises(ShardError, match="split into 2 parts, but the process group has 1 rank"):
        ShardedReifiedKG.load(tmp_path / "two")
    with pytest.raises(ShardError, match="not a sharded graph"):
        ShardedReifiedKG.load(tmp_path / "nothing")


def test_layout_refuses_what_cannot_work(monkeypatch):
    assert Layout.from_env() == Layout()  # one process
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(DistributedError, match="each train the same model"):
        Layout.from_env()
    with pytest.raises(DistributedError, match="multiple of the number of parts"):
        Layout.from_env(shards=3)
    with pytest.raises(DistributedError, match="need --data-parallel"):
        Layout.from_env(shards=2)
    with pytest.raises(DistributedError, match="start with torchrun"):
        Layout.from_env(data_parallel=True)
    layout = Layout(rank=3, world=4, shards=2, replicas=2)
    assert (layout.shard, layout.replica) == (1, 1)
    assert layout.my_slice(list(range(7))) == [3, 4, 5, 6]


def _history(tmp_path: Path, mode: str, world: int, dropout: float = 0.0, *, run: str | None = None,
             epochs: int = 3, resume: bool = False) -> list[dict]:
    out = tmp_path / f"{mode}-{world}-{epochs}.json"
    run = run or f"run-{mode}-{world}"
    launch(train_toy, world, mode, str(tmp_path / run), epochs, str(out), dropout, resume, timeout=300)
    return json.loads(out.read_text())


@pytest.mark.parametrize("mode,dropout", [("shard", 0.1), ("data", 0.0)])
def test_two_process_training_follows_the_one_process_loss_curve(tmp_path, mode, dropout):
    """Sharded: the same batch and the same dropout masks on both ranks, so the same steps as one
    process. Data-parallel: each replica draws dropout for its own slice, so the comparison is
    without dropout; the gradient averaged over the slices is then the whole batch's."""
    one = _history(tmp_path, "shard", 1, dropout)
    two = _history(tmp_path, mode, 2, dropout)
    assert [r["epoch"] for r in two] == [1, 2, 3]
    for a, b in zip(one, two):
        assert abs(a["loss"] - b["loss"]) <= 1e-3 * max(1.0, abs(a["loss"])), (mode, a["loss"], b["loss"])
        assert abs(a["dev_hits@1"] - b["dev_hits@1"]) <= 1e-6
    assert (tmp_path / f"run-{mode}-2" / "best").exists()


def test_sharded_and_data_parallel_at_once_on_four_processes(tmp_path):
    one = _history(tmp_path, "shard", 1)
    four = _history(tmp_path, "both", 4)
    assert abs(one[-1]["loss"] - four[-1]["loss"]) <= 1e-3 * max(1.0, abs(one[-1]["loss"]))


def test_a_rank_killed_mid_training_gives_a_clear_error_and_a_readable_checkpoint(tmp_path):
    from kgqa.checkpoint import load_checkpoint_files

    port, run = free_port(), tmp_path / "run"
    cmd = [sys.executable, "-m", "kgqa", "-q", "train", "--dataset", "toy", "--encoder", "tiny", "--epochs", "400",
           "--batch-size", "8", "--out", str(run), "--shard-kg"]
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        deadline = time.monotonic() + 180
        while not (run / "last").exists():
            assert time.monotonic() < deadline, "no checkpoint in 180 s: " + procs[0].stderr.read()[-2000:]
            assert procs[0].poll() is None, procs[0].communicate()[1][-2000:]
            time.sleep(0.2)
        time.sleep(0.2)  # into the next epoch (early stopping needs at least 6)
        procs[1].send_signal(signal.SIGKILL)
        _, err = procs[0].communicate(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[0].returncode not in (0, None)
    assert "another rank stopped or cannot be reached" in err and "Traceback" not in err, err[-2000:]
    saved, weights, state, folder = load_checkpoint_files(run, "last", with_state=True)
    assert saved["epoch"] >= 1 and weights and state["optimizer"]


def test_a_run_resumes_with_another_number_of_processes(tmp_path):
    """Rank 0 alone writes the checkpoints, which hold no trace of the layout: 2 sharded processes,
    then 1, then a 2 × 2 grid continue one run, and end where 5 epochs on one process end."""
    _history(tmp_path, "shard", 2, run="run", epochs=3)
    _history(tmp_path, "shard", 1, run="run", epochs=4, resume=True)
    mixed = _history(tmp_path, "both", 4, run="run", epochs=5, resume=True)
    plain = _history(tmp_path, "shard", 1, run="plain", epochs=5)
    assert [r["epoch"] for r in mixed] == [1, 2, 3, 4, 5]
    for a, b in zip(plain, mixed):
        assert abs(a["loss"] - b["loss"]) <= 1e-3 * max(1.0, abs(a["loss"])), (a["epoch"], a["loss"], b["loss"])


def test_torchrun_trains_the_toy_model_on_a_sharded_graph(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(free_port()), "-m", "kgqa", "-q", "train", "--dataset", "toy", "--encoder", "tiny",
           "--epochs", "2", "--shard-kg", "--out", str(run)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 processes: 1 replica × 2 parts of the graph" in done.stdout
    assert done.stdout.count("best epoch") == 1  # rank 0 reports, once
    assert json.loads((run / "metrics.json").read_text())["test"]["n"] == 62


def test_several_processes_without_a_layout_are_refused(tmp_path):
    env = dict(os.environ, RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    done = subprocess.run([sys.executable, "-m", "kgqa", "train", "--dataset", "toy", "--encoder", "tiny",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "would each train the same model: pass --shard-kg and/or --data-parallel" in done.stderr


def test_kgqa_shard_writes_parts_that_load(tmp_path, toy):
    from kgqa.cli import main

    assert main(["shard", "toy", "--parts", "3", "--out", str(tmp_path / "s")]) == 0
    meta = json.loads((tmp_path / "s" / "shards.json").read_text())
    assert sum(meta["facts_per_part"]) == toy.num_triples and meta["by"] == "subject"
    parts = [torch.load(tmp_path / "s" / f"part-{n:05d}-of-00003.pt", weights_only=True) for n in range(3)]
    assert sorted(torch.cat([p["fact_index"] for p in parts]).tolist()) == list(range(toy.num_triples))
    for p in parts:
        assert torch.equal(p["triples"], toy.triples[p["fact_index"]])
    assert main(["shard", "no-such-file.txt", "--parts", "2", "--out", str(tmp_path / "t")]) == 2


def test_shard_kg_in_one_process_says_it_is_one_process(tmp_path, capsys):
    from kgqa.cli import main

    assert main(["train", "--dataset", "toy", "--encoder", "tiny", "--epochs", "1", "--shard-kg",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "started by torchrun" in err and "this is one process" in err
