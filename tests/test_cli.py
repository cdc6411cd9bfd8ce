"""The kgqa command: demo output and clear errors."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

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


@pytest.mark.slow
def test_model_demo_trains_and_answers_the_seed_questions(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("KGQA_QUICK", raising=False)  # the full demo, as `make demo` runs it
    monkeypatch.delenv("CI", raising=False)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    blocks = out.split("Q: ")[1:]
    assert len(blocks) == 3 and "trained here from" in out
    assert all("(a test question)" in b for b in blocks)  # the seed questions are never trained on
    texts = [b.split("from the text alone:")[1] for b in blocks]
    given = [b.split("from the text alone:")[0] for b in blocks]
    # given the painting, its kind (read off the graph) says the city is two hops away
    assert "answer : Paris" in given[0] and "--exhibited_at--> Louvre Museum --located_in--> Paris" in given[0]
    assert (tmp_path / "demo" / "best" / "config.json").is_file()
    assert (tmp_path / "demo" / "from-text" / "best" / "config.json").is_file()
    # from text, for the right reason: the span, the entity, the path, the answer
    mona = texts[0]
    assert mona.split("mention ")[1].startswith("'Mona Lisa' 1.00 -> Mona Lisa")
    # "What city is X in?" takes one hop for a museum and two for a painting: the entity kinds,
    # read off the graph, take the walk on from the Louvre to the city
    assert "answer : Paris" in mona and "--exhibited_at--> Louvre Museum --located_in--> Paris" in mona
    tom = texts[2]
    assert tom.split("mention ")[1].startswith("'Tom Hanks'")
    assert tom.split("-> ")[1].startswith("Tom Hanks [tom_hanks_actor]")  # the actor, by context
    writers = {"Eric Roth", "Gary Ross", "Anne Spielberg", "William Broyles Jr.", "Frank Darabont",
               "Ron Nyswaner", "Robert Rodat", "Al Reinert"}
    tops = [tom.split("answer : ")[1].split(" (")[0]] + [a.split(" (")[0] for a in tom.split("next: ")[1].split(", ")]
    assert set(tops[:4]) <= writers
    portman = texts[1]  # two entities, read from the text, intersected
    reading = portman.split("reading: ")[1].split(" (")[0]  # the slots in either order
    assert sorted(reading.split(" + ")) == ["'Episode II'", "'Natalie Portman'"] and "— 2 entities" in portman
    assert "answer : Padmé Amidala" in portman


def test_quick_demo_shows_the_same_work_in_a_few_epochs(capsys, tmp_path):
    from kgqa.cli.demo import QUICK_EPOCHS

    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    blocks = out.split("Q: ")[1:]
    assert out.startswith("The toy world") and f"Quick mode: {QUICK_EPOCHS} epochs" in out
    best = int(out.split("(best epoch ")[1].split(")")[0])
    assert 1 <= best <= QUICK_EPOCHS and len(blocks) == 3
    for block in blocks:  # every question: its walk, its answer, and the reading from text alone
        assert "hop 1 (attention" in block and "answer :" in block and "from the text alone:" in block
        assert "mention '" in block.split("from the text alone:")[1]


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


# ---------------------------------------------------------------------------- conventions
def test_no_arguments_prints_help_and_version_is_the_installed_one(capsys):
    from importlib.metadata import version

    import kgqa

    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kgqa") and all(c in out for c in ("demo", "stats", "train", "eval", "ask"))
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"kgqa {version('kgqa')}"
    assert kgqa.__version__ == version("kgqa")


def test_every_option_that_takes_a_value_states_its_default_or_that_it_is_required():
    import argparse

    from kgqa.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, command in sub.choices.items():
        for action in command._actions:
            says = "required" if action.required else "default"
            if action.option_strings and action.nargs != 0 and says not in (action.help or ""):
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_help_defaults_are_the_training_defaults():
    """`kgqa train --help` states TrainConfig's own defaults (its options come from the dataclass)."""
    from kgqa.cli import build_parser
    from kgqa.train_config import TrainConfig

    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert f"(default: {TrainConfig.epochs}, with --quick {TrainConfig.quick().epochs})" in text
    assert f"(default: {TrainConfig.lr})" in text and f"(default: {TrainConfig.seed})" in text
    assert TrainConfig().steps_batch(40 * 20) == 20 and TrainConfig().steps_batch(10) == 16  # "a 40th, 16..128"
    assert TrainConfig().steps_batch(10**6) == 128


def test_train_options_come_from_the_dataclass():
    import argparse

    from kgqa.train_config import TrainConfig

    ap = argparse.ArgumentParser()
    TrainConfig.add_arguments(ap)
    assert TrainConfig.from_args(ap.parse_args([])) == TrainConfig()
    tc = TrainConfig.from_args(ap.parse_args(["--epochs", "3", "--lr", "0.01", "--kernel", "torch"]), seed=7)
    assert (tc.epochs, tc.lr, tc.kernel, tc.seed, tc.patience) == (3, 0.01, "torch", 7, TrainConfig.patience)
