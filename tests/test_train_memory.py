"""benchmarks/train_memory.py: phases read off the progress bars, a real training process sampled,
a failing command reported with its last lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import report
    import train_memory

    monkeypatch.setattr(report, "OUT", tmp_path / "results")  # not the repository's result pages
    return train_memory


def test_phases_follow_the_progress_bars(bench) -> None:
    phases = bench.Phases()
    assert phases.now == "loading"
    for line, now in [("Loading weights: 100%|###| 103/103", "loading"),
                      ("epoch 1/3:   0%|          | 0/71 [00:00<?, ?it/s]", "epoch 1"),
                      ("epoch 1/3:  45%|####      | 32/71 [00:03<00:04, loss=0.5]", "epoch 1"),
                      ("epoch 1/3: 100%|##########| 71/71 [00:07<00:00, loss=0.2]", "validation 1"),
                      ("dev Hits@1 88.2", "validation 1"),
                      ("epoch 2/3:   1%|          | 1/71", "epoch 2")]:
        phases.read(line)
        assert phases.now == now, line
    assert phases.epochs == 3


def test_rss_of_this_process_is_counted(bench) -> None:
    kib = bench._rss_kib(os.getpid())
    assert 10_000 < kib < 64 * 2**20  # more than 10 MB, less than 64 GiB
    assert bench._rss_kib(2**22 + 12345) == 0  # no such process: nothing, no error


def test_a_toy_training_is_measured(bench, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert bench.main(["--tag", "toy", "--", "kgqa", "train", "--dataset", "toy", "--epochs", "2",
                       "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "results" / "train_memory-toy.json").read_text())
    meta, rows = record["meta"], record["rows"]
    assert meta["train"].startswith("kgqa train --dataset toy")
    assert {r["phase"] for r in rows} >= {"loading"}
    assert 0.1 < meta["peak_gib"] <= meta["maxrss_gib"] * 1.05  # sampling cannot see more than the kernel
    assert meta["peak_gib"] == max(r["peak_gib"] for r in rows)
    assert any("test" in line.lower() or "hits" in line.lower() for line in meta["report"])
    assert "Where a training process's memory peaks" in capsys.readouterr().out


def test_a_failing_command_exits_with_its_last_lines(bench, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as err:
        bench.main(["--", "kgqa", "train", "--dataset", "no-such-dataset", "--out", str(tmp_path / "run")])
    assert "failed" in str(err.value) and "no-such-dataset" in str(err.value)


def test_usage_without_a_kgqa_train_command(bench) -> None:
    for argv in (["--tag", "x"], ["--", "python", "-c", "pass"]):
        with pytest.raises(SystemExit) as err:
            bench.main(argv)
        assert "usage" in str(err.value)
