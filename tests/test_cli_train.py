"""Bring your own KG from the command line: train, eval and ask on files the user wrote."""

from __future__ import annotations

import json
import random

import pytest

from kgqa.cli import main

PEOPLE = [f"person{i}" for i in range(24)]


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    """A small family KG (s|r|o) and MetaQA-style questions with [bracketed] mentions."""
    d = tmp_path_factory.mktemp("byo")
    rng = random.Random(0)
    facts, questions = [], []
    cities = [f"city{i}" for i in range(5)]
    for i, p in enumerate(PEOPLE):
        facts.append((p, "lives_in", cities[i % 5]))
        if i >= 2:
            facts.append((p, "parent", PEOPLE[i // 2 - 1]))
    (d / "kb.txt").write_text("".join(f"{s}|{r}|{o}\n" for s, r, o in facts), encoding="utf-8")
    parent = {s: o for s, r, o in facts if r == "parent"}
    city = {s: o for s, r, o in facts if r == "lives_in"}
    for p in PEOPLE:
        questions.append((rng.choice(["where does [{}] live", "which city is [{}] from"]).format(p), city[p]))
        if p in parent:
            questions.append((rng.choice(["who is the parent of [{}]", "who raised [{}]"]).format(p), parent[p]))
            questions.append(("where does the parent of [{}] live".format(p), city[parent[p]]))
    (d / "qa.txt").write_text("".join(f"{q}\t{a}\n" for q, a in questions), encoding="utf-8")
    return d


def test_train_eval_ask_on_your_own_kg(byo, capsys):
    run = byo / "run"
    assert main(["train", "--kg", str(byo / "kb.txt"), "--questions", str(byo / "qa.txt"), "--encoder", "tiny",
                 "--epochs", "3", "--out", str(run), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "best epoch" in out and "test: n=" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["n"] > 0 and "command" in metrics

    assert main(["eval", "--checkpoint", str(run), "--questions", str(byo / "qa.txt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == len((byo / "qa.txt").read_text().splitlines())
    assert 0 <= result["hits@1"] <= 100

    assert main(["ask", "where does [person3] live", "--checkpoint", str(run), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in answer["topics"]] == ["person3"] and len(answer["branches"][0]["hops"]) == 3
    assert all({"id", "name", "score"} <= set(a) for a in answer["answers"])

    assert main(["ask", "who raised person5", "--checkpoint", str(run), "--entity", "person5"]) == 0
    text = capsys.readouterr().out
    assert "topic entities (given): person5" in text and "hop 1" in text


def test_ask_errors_are_clear(byo, capsys):
    run = byo / "run"
    if not (run / "best").exists():
        pytest.skip("needs the trained run of the previous test")
    assert main(["ask", "who is [nobody]", "--checkpoint", str(run)]) == 2
    err = capsys.readouterr().err
    assert "unknown entity 'nobody'" in err and "Traceback" not in err
    assert main(["eval", "--checkpoint", str(byo / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(byo)]) == 2
    assert "no checkpoint here" in capsys.readouterr().err


def test_bad_question_file_is_reported_with_line(byo, capsys, tmp_path):
    bad = tmp_path / "qa.txt"
    bad.write_text("where does [person1] live\tcity1\nno tab on this line\n", encoding="utf-8")
    assert main(["train", "--kg", str(byo / "kb.txt"), "--questions", str(bad), "--encoder", "tiny"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err


def test_intersection_model_from_the_command_line(byo, capsys, tmp_path):
    """Questions with two [entities]: --intersection min trains one branch per entity, and ask
    shows each branch and the combination."""
    facts = [line.split("|") for line in (byo / "kb.txt").read_text().split()]
    child_of = {}
    for s, r, o in facts:
        if r == "parent":
            child_of.setdefault(o, []).append(s)
    city = {s: o for s, r, o in facts if r == "lives_in"}
    lines = (byo / "qa.txt").read_text().splitlines()
    for p, kids in child_of.items():
        for c in sorted({city[k] for k in kids}):
            answers = [k for k in kids if city[k] == c]
            lines.append(f"which child of [{p}] lives in [{c}]\t{'|'.join(answers)}")
    qa = tmp_path / "qa.txt"
    qa.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--kg", str(byo / "kb.txt"), "--questions", str(qa), "--encoder", "tiny", "--epochs", "2",
                 "--intersection", "min", "--out", str(run), "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["ask", "which child of [person3] lives in [city4]", "--checkpoint", str(run), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [b["start"][0]["id"] for b in answer["branches"]] == ["person3", "city4"] and answer["combine"] == "min"
    assert main(["ask", "which child of [person3] lives in [city4]", "--checkpoint", str(run)]) == 0
    text = capsys.readouterr().out
    assert "branch 1 from person3" in text and "branch 2 from city4" in text and "answer = min" in text


def test_operations_from_the_command_line(byo, capsys, tmp_path):
    """--operations on your own files: count questions (a third field) train, eval reports the
    program accuracy and Hits@1 per operation, ask prints the program and a count answer."""
    facts = [line.split("|") for line in (byo / "kb.txt").read_text().split()]
    children: dict[str, list[str]] = {}
    for s, r, o in facts:
        if r == "parent":
            children.setdefault(o, []).append(s)
    lines = (byo / "qa.txt").read_text().splitlines()
    lines += [f"how many children does [{p}] have\t{len(kids)}\tcount" for p, kids in children.items()]
    qa = tmp_path / "qa.txt"
    qa.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--kg", str(byo / "kb.txt"), "--questions", str(qa), "--encoder", "tiny", "--epochs", "2",
                 "--operations", "--out", str(run), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "program chosen right" in out
    saved = json.loads((run / "best" / "config.json").read_text())
    assert saved["model"]["entity_kinds"] and saved["model"]["intersection"] == "min"  # what --operations implies
    assert main(["eval", "--checkpoint", str(run), "--questions", str(qa), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["by_operation"]) == {"-", "count"} and 0 <= result["program_accuracy"] <= 100
    assert main(["ask", "how many children does [person3] have", "--checkpoint", str(run)]) == 0
    assert "program: " in capsys.readouterr().out
    assert main(["train", "--kg", str(byo / "kb.txt"), "--questions", str(qa), "--encoder", "tiny",
                 "--operations", "--entities", "text", "--out", str(tmp_path / "r2")]) == 2
    assert "--operations runs on the given topic entities" in capsys.readouterr().err
