"""The book's experiment grid: one command trains every row and writes one JSON per row.

Run from the repository root::

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/experiments.py            # the full grid
    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/experiments.py --quick    # the small grid
    .venv/bin/python benchmarks/experiments.py --list                              # what it would run
    .venv/bin/python benchmarks/experiments.py --only sq-wikidata                  # rows whose key holds it

Each row is one ``kgqa train`` process (``python -m kgqa train --dataset D --entities E ...``) with
the package's defaults for everything the row does not name; its run folder is
``runs/experiments/KEY``. When it ends, ``benchmarks/results/experiments/KEY.json`` records the row,
its test and dev metrics (the run's ``metrics.json``), the wall time and peak resident memory of
the process (``wait4``'s ``ru_maxrss``), the command, the commit and the machine.

A row that fails is reported with the end of its log (kept as ``KEY.log``) and the grid goes on;
the command then exits with 1. Resumable: a row whose JSON exists is not run again (``--rerun`` runs it anyway); a row stopped
midway resumes from its run folder's checkpoint (its JSON then says ``"resumed": true`` and its
wall time covers the last part only). ``experiments.md`` beside the JSON files gathers them: one
line per row without its seed, mean ± standard deviation over seeds.

After a row trains, ``benchmarks/misses.py`` sorts its test misses into kinds (unreachable answer,
wrong start entity, wrong hop count, tie, wrong relation) into ``misses/KEY.json``; a finished row
whose run folder is still there and whose misses file is not gets one when the grid runs again.

``--quick`` runs the small grid (the toy world, three seeds, given and text) into
``benchmarks/results/experiments-quick/``; ``--out DIR`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Row:
    """One training run of the grid: a dataset and the options that differ from the defaults."""

    dataset: str
    entities: str = "given"  # given / span / text
    intersection: str = "none"  # none / min
    loss: str = "auto"  # auto / bce / softmax
    finetune: bool = False  # fine-tune the encoder instead of freezing it
    seed: int = 0
    epochs: int | None = None  # None: the package's default (early stopping ends sooner)
    extra: tuple[str, ...] = field(default=())  # further `kgqa train` arguments

    @property
    def setting(self) -> str:
        """The row's name without its seed: seeds of one setting are averaged."""
        parts = [self.dataset, self.entities, self.intersection, self.loss] + (["finetune"] if self.finetune else [])
        if self.epochs is not None:
            parts.append(f"e{self.epochs}")
        return ".".join(parts + [a.lstrip("-") for a in self.extra])

    @property
    def key(self) -> str:
        return f"{self.setting}.s{self.seed}"

    def command(self, run_dir: Path) -> list[str]:
        cmd = [sys.executable, "-m", "kgqa", "train", "--dataset", self.dataset, "--entities", self.entities,
               "--intersection", self.intersection, "--loss", self.loss, "--seed", str(self.seed),
               "--out", str(run_dir)]
        if self.finetune:
            cmd.append("--finetune")
        if self.epochs is not None:
            cmd += ["--epochs", str(self.epochs)]
        return cmd + list(self.extra)


def _seeds(n: int, **row) -> list[Row]:
    return [Row(seed=s, **row) for s in range(n)]


FULL: list[Row] = [
    # the toy world (generated questions, held-out test phrasings): three seeds
    *_seeds(3, dataset="toy-full"), *_seeds(3, dataset="toy-full", entities="text"),
    *_seeds(3, dataset="toy-full", loss="softmax"),
    *_seeds(3, dataset="toy-full", intersection="min"), *_seeds(3, dataset="toy-full", entities="text", intersection="min"),
    *_seeds(3, dataset="toy-full", finetune=True),  # the encoder fine-tuned instead of frozen
    *_seeds(3, dataset="toy-full", extra=("--no-hop-attention",)),  # every question walks all three hops
    # SimpleQuestions-Wikidata, closed graph: the paper's three settings
    Row("sq-wikidata"), Row("sq-wikidata", entities="span", epochs=8), Row("sq-wikidata", entities="text", epochs=8),
    # MetaQA (dev-trained)
    *[Row(f"metaqa-{k}hop", entities=e, epochs=None if e == "given" else 8 if k == 1 else 6)
      for k in (1, 2, 3) for e in ("given", "text")],
    Row("metaqa-1hop", loss="softmax"),
    # one model for every hop count; robustness to phrasing (held-out phrasings, with and without augmentation)
    Row("metaqa-all"), Row("metaqa-1hop-aug"), Row("metaqa-1hop-aug", entities="text", epochs=8),
    Row("metaqa-1hop-aug", entities="text", finetune=True, epochs=4), Row("metaqa-all-aug"),
    Row("metaqa-all-aug", extra=("--entity-kinds",)),  # the hop count from the kind of entity asked for
    Row("metaqa-all-aug", finetune=True, epochs=3, extra=("--entity-kinds",)),  # and the encoder, for new words
    # the widened training bank, tested on the second held-out bank
    Row("metaqa-all-aug2", finetune=True, epochs=3, extra=("--entity-kinds",)),
    # PathQuestion and WorldCup2014 (small sets, seeded splits): three seeds
    *[r for d in ("pq-2h", "pq-3h") for r in _seeds(3, dataset=d)],
    *_seeds(3, dataset="wc-all"), *_seeds(3, dataset="wc-all", intersection="min"),
    *_seeds(3, dataset="wc-all", entities="text", intersection="min"),
    # two-entity questions over MetaQA
    Row("metaqa-multi"), Row("metaqa-multi", intersection="min"), Row("metaqa-multi", entities="text", intersection="min", epochs=6),
]
"""The full grid, in the order it runs (cheap rows first)."""

QUICK: list[Row] = [*_seeds(3, dataset="toy-full", epochs=10), *_seeds(3, dataset="toy-full", entities="text", epochs=10)]
"""The small grid: the toy world, given and from text, three seeds, 10 epochs."""


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_row(row: Row, out: Path, runs: Path, *, afresh: bool = False) -> dict:
    """Train one row in its own process (``afresh``: replacing what its run folder holds, else
    resuming it); write and return its record."""
    run_dir = runs / row.key
    resumed = not afresh and ((run_dir / "last").is_dir() or (run_dir / "best").is_dir())
    log = out / f"{row.key}.log"
    cmd = row.command(run_dir) + (["--no-resume", "--overwrite"] if afresh else [])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").splitlines()[-15:]
        raise RuntimeError(f"row {row.key} failed (exit {code}); the end of {log}:\n" + "\n".join(tail))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    command = " ".join(["python", *cmd[1:]]).replace(f"{ROOT}/", "")  # as typed in the repository root
    metrics["command"] = command  # kgqa's own record names this machine's path to __main__.py
    record = {"key": row.key, "setting": row.setting, "row": asdict(row), "metrics": metrics,
              "test_hits@1": (metrics.get("test") or {}).get("hits@1"), "dev_hits@1": metrics.get("dev_hits@1"),
              "wall_s": round(wall, 1), "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3), "resumed": resumed,
              "command": command, "commit": _git_commit(),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = out / f".{row.key}.json.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / f"{row.key}.json")
    log.unlink()
    return record


def run_misses(row: Row, out: Path, runs: Path) -> None:
    """``out/misses/KEY.json``: the row's test misses by kind (``benchmarks/misses.py``, own process)."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "misses.py"), "--runs", str(runs / row.key),
           "--out", str(out / "misses")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).splitlines()[-15:]
        raise RuntimeError(f"the misses of row {row.key} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def summarize(out: Path) -> str:
    """``experiments.md``: one line per setting, mean ± std over its seeds, from the JSON files."""
    from kgqa.results import cell, load_grid  # the chapter's reader: one grouping, one mean ± std

    def spread(grid: dict, setting: str, metric: str) -> str:
        c = cell(grid, setting, (metric,))
        return "-" if c.value is None else c.text()

    grid = load_grid(out)
    lines = ["| setting | seeds | test Hits@1 | dev Hits@1 | wall (min) | peak RSS (GiB) |", "|---|---|---|---|---|---|"]
    for setting, rs in grid.items():
        lines.append(f"| {setting} | {len(rs)} | {spread(grid, setting, 'test_hits@1')} | "
                     f"{spread(grid, setting, 'dev_hits@1')} | {statistics.mean(r['wall_s'] for r in rs) / 60:.1f} | "
                     f"{max(r['peak_rss_gib'] for r in rs):.2f} |")
    text = ("# Experiment grid\n\nWritten by `python benchmarks/experiments.py` from the JSON files beside it "
            "(one per row: metrics, command, commit, machine). Mean ± standard deviation over seeds.\n\n"
            + "\n".join(lines) + "\n")
    (out / "experiments.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None, grid: list[Row] | None = None) -> int:
    """The command line; ``grid`` replaces the full grid (for tests)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small grid (toy world), into experiments-quick/")
    ap.add_argument("--only", nargs="+", default=(), help="only the rows whose key contains one of these")
    ap.add_argument("--out", type=Path, help="where the JSON files go (default: benchmarks/results/experiments[-quick])")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "experiments", help="run folders")
    ap.add_argument("--rerun", action="store_true", help="run rows whose JSON exists again")
    ap.add_argument("--list", action="store_true", help="print the rows and whether each is done, run nothing")
    args = ap.parse_args(argv)
    grid = grid if grid is not None else QUICK if args.quick else FULL
    rows = [r for r in grid if not args.only or any(s in r.key for s in args.only)]
    out = args.out or RESULTS / ("experiments-quick" if args.quick else "experiments")
    out.mkdir(parents=True, exist_ok=True)
    if args.list:
        for r in rows:
            print(f"{'done' if (out / f'{r.key}.json').is_file() else 'todo'}  {r.key}")
        return 0
    if not rows:
        print(f"no row matches {list(args.only)}", file=sys.stderr)
        return 2
    failed = []
    for i, row in enumerate(rows, 1):
        done = (out / f"{row.key}.json").is_file()
        misses_due = not (out / "misses" / f"{row.key}.json").is_file() and (args.runs / row.key / "metrics.json").is_file()
        if done and not args.rerun:
            print(f"[{i}/{len(rows)}] {row.key}: done already" + (", sorting its misses" if misses_due else ""), flush=True)
        else:
            print(f"[{i}/{len(rows)}] {row.key} ...", flush=True)
        try:
            if not done or args.rerun:
                rec = run_row(row, out, args.runs, afresh=done)
                print(f"    test Hits@1 {rec['test_hits@1']}, {rec['wall_s'] / 60:.1f} min, "
                      f"peak {rec['peak_rss_gib']:.2f} GiB", flush=True)
                misses_due = True
            if misses_due:
                run_misses(row, out, args.runs)
        except RuntimeError as err:  # an unattended grid goes on with the other rows
            print(f"    {err}", file=sys.stderr, flush=True)
            failed.append(row.key)
    print(summarize(out))
    if failed:
        print(f"{len(failed)} row(s) failed, their logs kept in {out}: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
