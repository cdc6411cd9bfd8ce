"""The experiment book's reader (kgqa.results) and chapter 9: every number of ours in a table comes
from the grid records it names, and the committed chapter shows exactly those tables."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from kgqa.plot.grid import plot_ablation, plot_misses
from kgqa.results import PUBLISHED, TABLES, TEST, Cell, cell, load_grid, load_misses, markdown, value_at

ROOT = Path(__file__).resolve().parent.parent
GRID = ROOT / "benchmarks" / "results" / "experiments"
CHAPTER = ROOT / "notebooks" / "09_experiments.ipynb"


def record(tmp: Path, key: str, setting: str, test: float, **extra) -> None:
    (tmp / f"{key}.json").write_text(json.dumps({"key": key, "setting": setting, "test_hits@1": test,
                                                 "dev_hits@1": test, **extra}))


def test_a_cell_is_the_mean_and_spread_of_its_seeds(tmp_path: Path) -> None:
    record(tmp_path, "toy.given.s0", "toy.given", 90.0, metrics={"test": {"by_hops": {"2": {"hits@1": 80.0}}}})
    record(tmp_path, "toy.given.s1", "toy.given", 94.0, metrics={"test": {"by_hops": {"2": {"hits@1": 70.0}}}})
    record(tmp_path, "toy.text.s0", "toy.text", 85.5)
    grid = load_grid(tmp_path)
    assert sorted(grid) == ["toy.given", "toy.text"]
    c = cell(grid, "toy.given")
    assert c == Cell(92.0, statistics.stdev([90.0, 94.0]), ("toy.given.s0.json", "toy.given.s1.json"))
    assert c.text() == "92.00 ± 2.83"
    assert cell(grid, "toy.given", ("metrics", "test", "by_hops", "2", "hits@1")).value == 75.0
    assert cell(grid, "toy.text") == Cell(85.5, None, ("toy.text.s0.json",)) and cell(grid, "toy.text").text() == "85.50"
    missing = cell(grid, "toy.span")
    assert missing == Cell(None, None, ()) and missing.text() == "not run"
    assert cell(grid, "toy.text", ("metrics", "test", "by_hops", "2", "hits@1")).value is None  # no breakdown
    assert value_at({"a": {"b": None}}, ("a", "b")) is None and value_at({"a": 3}, ("a", "b")) is None


def test_bad_records_name_their_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_grid(tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"no": "setting"}))
    with pytest.raises(ValueError, match="broken.json.*not a record"):
        load_grid(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.json").write_text("[")
    with pytest.raises(ValueError, match="x.json"):
        load_misses(tmp_path / "m")
    assert load_grid(tmp_path / "nothing-here") == {}


def test_a_table_shows_our_cells_with_their_files_then_the_published_rows_by_value(tmp_path: Path) -> None:
    record(tmp_path, "sq-wikidata.given.none.auto.s0", "sq-wikidata.given.none.auto", 99.5)
    table = next(t for t in TABLES if t.key == "sq-wikidata")
    text = markdown(table, load_grid(tmp_path))
    assert "| ours, entity given (vs. Rigel-Baseline) | **99.50** | `sq-wikidata.given.none.auto.s0.json` |" in text
    assert "| ours, from the text alone (vs. Rigel-E2E) | **not run** | — |" in text
    order = [text.index(f"| {p.system} |") for p in sorted(PUBLISHED["sq-wikidata"], key=lambda p: p.value)]
    assert order == sorted(order) and "closed graph" in text


def test_every_committed_cell_is_recomputed_from_the_records_it_names() -> None:
    grid = load_grid(GRID)
    traced = 0
    for table in TABLES:
        for _, setting, path in table.ours:
            c = cell(grid, setting, path)
            if c.value is None:
                continue
            values = [value_at(json.loads((GRID / name).read_text()), path) for name in c.sources]
            assert all(name.startswith(setting + ".s") for name in c.sources)
            assert statistics.mean(values) == pytest.approx(c.value, abs=1e-12)
            traced += 1
    assert traced >= 6  # MetaQA 1-hop and SimpleQuestions-Wikidata at least


def _outputs(nb: dict) -> str:
    out = []
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            out += ["".join(o.get("text", ""))] + ["".join(v) for k, v in o.get("data", {}).items()
                                                  if k in ("text/markdown", "text/plain")]
    return "\n".join(out)


def test_the_committed_chapter_shows_exactly_the_tables_of_the_committed_records() -> None:
    """Every table cell in chapter 9 has its JSON source: the chapter's outputs hold each table as
    the records give it now, so a record changed without rerunning the chapter (or the reverse) fails."""
    shown = _outputs(json.loads(CHAPTER.read_text(encoding="utf-8")))
    grid = load_grid(GRID)
    for table in TABLES:
        assert markdown(table, grid) in shown, f"chapter 9's {table.title} table is not the records' (rerun it)"


def test_the_committed_misses_add_up_to_their_rows() -> None:
    grid = {r["key"]: r for rs in load_grid(GRID).values() for r in rs}
    for key, rec in load_misses(GRID / "misses").items():
        assert key in grid, f"misses of {key} without its record"
        assert rec["hits@1"] == pytest.approx(grid[key]["test_hits@1"], abs=1e-9)
        assert sum(rec["kinds"].values()) == rec["misses"] == round(rec["questions"] * (1 - rec["hits@1"] / 100))


def test_the_figures_draw_one_bar_per_cell_and_one_row_per_run() -> None:
    ax = plot_ablation([("a", Cell(90.0, 1.0, ("x",))), ("b", Cell(None, None, ())), ("c", Cell(80.0, None, ("y",)))])
    assert len(ax.patches) == 2 and [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert any(t.get_text() == "not run" for t in ax.texts)
    rec = {"shares": {"unreachable": 0.0, "entity": 1.0, "hops": 2.0, "tie": 0.0, "relation": 0.5}}
    ax = plot_misses({"run a": rec, "run b": {"shares": dict(rec["shares"], tie=1.0)}})
    assert len(ax.patches) == 7 and "3.5%" in [t.get_text() for t in ax.texts]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["entity", "hops", "tie", "relation"]  # KINDS order
    assert TEST == ("test_hits@1",)
