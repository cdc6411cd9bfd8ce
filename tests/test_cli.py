"""The kgqa command: demo output and clear errors."""

from __future__ import annotations

import doctest
import subprocess
import sys

import kgqa
from kgqa.cli import main


def test_pipeline_demo_prints_the_three_answers_with_paths(capsys):
    assert main(["demo", "--pipeline"]) == 0
    out = capsys.readouterr().out
    blocks = out.split("Q: ")[1:]
    assert len(blocks) == 3
    assert "answer : Paris" in blocks[0]
    assert "Mona Lisa --exhibited_at--> Louvre Museum --located_in--> Paris" in blocks[0]
    assert "answer : Padmé Amidala" in blocks[1] and "∩" in blocks[1]
    for writer in ("Eric Roth", "Gary Ross", "William Broyles Jr.", "Frank Darabont"):
        assert writer in blocks[2].split("answer :")[1]


def test_pipeline_demo_reports_a_failure_without_crashing(capsys):
    assert main(["demo", "--pipeline", "Why is the sky blue?"]) == 0
    assert "failed : entity linking" in capsys.readouterr().out


def test_model_demo_trains_and_answers_the_seed_questions(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    blocks = out.split("Q: ")[1:]
    assert len(blocks) == 3 and "trained here from" in out
    assert "answer : Paris" in blocks[0]
    assert "Mona Lisa --exhibited_at--> Louvre Museum --located_in--> Paris" in blocks[0]
    assert "answer : Padmé Amidala" in blocks[1]
    writers = {"Eric Roth", "Gary Ross", "Anne Spielberg", "William Broyles Jr.", "Frank Darabont",
               "Ron Nyswaner", "Robert Rodat", "Al Reinert"}
    top = blocks[2].split("answer : ")[1].split(" (")[0]
    assert top in writers
    assert (tmp_path / "demo" / "best" / "config.json").is_file()
    # the second model reads the entities from the text alone
    assert all("from the text alone: mentions" in b for b in blocks)
    assert "'Mona Lisa'" in blocks[0] and "-> Mona Lisa; answer Paris" in blocks[0]
    assert (tmp_path / "demo" / "from-text" / "best" / "config.json").is_file()


def test_stats_on_a_file_and_errors(tmp_path, capsys):
    f = tmp_path / "kb.txt"
    f.write_text("a|r|b\nb|r|c\n", encoding="utf-8")
    assert main(["stats", str(f)]) == 0
    assert "triples" in capsys.readouterr().out
    f.write_text("a|r|b\noops\n", encoding="utf-8")
    assert main(["stats", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:2:" in err and "Traceback" not in err


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "kgqa", "stats", "toy"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "141 entities" in proc.stdout


def test_package_doctest_tour():
    failures, tried = doctest.testmod(kgqa)
    assert tried >= 3 and failures == 0
    from kgqa import toy as toy_module

    assert doctest.testmod(toy_module).failed == 0
