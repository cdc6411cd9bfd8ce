"""The experiment grid's runner (benchmarks/experiments.py): one real training process per row, one
JSON per row, a finished row not run again, a failing row reported with the end of its log."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def experiments():
    spec = importlib.util.spec_from_file_location("experiments", ROOT / "benchmarks" / "experiments.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["experiments"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("experiments", None)


def test_grids_have_unique_keys_and_three_toy_seeds(experiments) -> None:
    for grid in (experiments.FULL, experiments.QUICK):
        keys = [r.key for r in grid]
        assert len(keys) == len(set(keys))
    seeds: dict[str, set[int]] = {}
    for r in experiments.FULL + experiments.QUICK:
        seeds.setdefault(r.setting, set()).add(r.seed)
    assert all(len(s) >= 3 for k, s in seeds.items() if k.startswith(("toy", "pq-", "wc-")))
    assert {"sq-wikidata.given.none.auto", "sq-wikidata.text.none.auto.e8"} <= set(seeds)


def test_a_row_runs_once_and_is_summarised(experiments, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    row = experiments.Row("toy", epochs=1, extra=("--quick",))
    args = ["--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    assert experiments.main(args, grid=[row]) == 0
    record = json.loads((tmp_path / "out" / f"{row.key}.json").read_text())
    metrics = json.loads((tmp_path / "runs" / row.key / "metrics.json").read_text())
    assert record["test_hits@1"] == metrics["test"]["hits@1"] and 0 <= record["test_hits@1"] <= 100
    assert record["wall_s"] > 0 and 0.1 < record["peak_rss_gib"] < 8 and record["resumed"] is False
    assert "--dataset toy" in record["command"] and record["row"]["epochs"] == 1
    summary = (tmp_path / "out" / "experiments.md").read_text()
    assert f"| {row.setting} | 1 | {record['test_hits@1']:.2f} |" in summary
    misses_file = tmp_path / "out" / "misses" / f"{row.key}.json"
    misses = json.loads(misses_file.read_text())  # the row's misses sorted by kind, summing to its Hits@1
    assert misses["hits@1"] == pytest.approx(record["test_hits@1"], abs=1e-9)
    assert sum(misses["kinds"].values()) == misses["misses"] and misses["dataset"] == "toy"
    assert [p.name for p in (tmp_path / "out").glob("*.json")] == [f"{row.key}.json"]  # misses kept apart
    stamp = (tmp_path / "out" / f"{row.key}.json").stat().st_mtime_ns
    capsys.readouterr()
    assert experiments.main(args, grid=[row]) == 0  # resumable: the finished row is not run again
    assert "done already" in capsys.readouterr().out
    assert (tmp_path / "out" / f"{row.key}.json").stat().st_mtime_ns == stamp
    misses_file.unlink()  # a finished row without its misses gets them, not a new training
    assert experiments.main(args, grid=[row]) == 0
    assert "done already, sorting its misses" in capsys.readouterr().out and misses_file.is_file()
    assert (tmp_path / "out" / f"{row.key}.json").stat().st_mtime_ns == stamp
    experiments.main(args + ["--list"], grid=[row])
    assert f"done  {row.key}" in capsys.readouterr().out


def test_a_failing_row_says_why_and_the_grid_goes_on(experiments, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    bad, good = experiments.Row("toy-fulll"), experiments.Row("toy", epochs=1, extra=("--quick",))
    assert experiments.main(["--out", str(tmp_path), "--runs", str(tmp_path / "runs")], grid=[bad, good]) == 1
    err = capsys.readouterr().err
    assert re.search(r"toy-fulll.*failed \(exit 2\)(.|\n)*did you mean 'toy-full'", err)
    assert "1 row(s) failed" in err and (tmp_path / f"{bad.key}.log").is_file()
    assert [p.name for p in tmp_path.glob("*.json")] == [f"{good.key}.json"]
