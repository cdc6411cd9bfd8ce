"""Training speed at the thread settings a user gets, idle and beside a competing job.

    python benchmarks/train_speed.py                         # toy fit, every setting, idle and loaded
    KGQA_DATA=... python benchmarks/train_speed.py --runs toy,metaqa-1hop --repeats 2

Each run is a fresh ``kgqa train`` process (threading is chosen once per process, when the compiled
kernels load), timed by the training time it records (``metrics.json`` ``seconds``: fit alone,
without imports and encoder loading) and by its whole wall time. Settings:

- ``default``: nothing set — what a learner gets (kgqa chooses passive waiting and matches the
  thread count to the load, see ``kgqa.threads``);
- ``openmp default``: OpenMP's own wait policy (spin a while, then sleep), what a learner got before
  kgqa chose: ``OMP_WAIT_POLICY`` set empty, which OpenMP ignores (with a warning) and kgqa leaves;
- ``1 thread``: ``OMP_NUM_THREADS=1`` (torch and the compiled kernels on one thread each);
- ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP threads sleep instead of spinning when idle);
- ``workqueue``: ``NUMBA_THREADING_LAYER=workqueue`` (the compiled kernels on Numba's own pool).

``hop-metaqa`` / ``hop-toy`` time training's inner loop instead: a batch of B = 64 (toy: 16)
questions followed 3 hops from one-hot starts along random walks' relations, forward and backward
to soft relation weights, ``follow_path`` with the default frontier; the median of 30 repetitions
after 3 warm-ups, in a fresh process too ("train" is then that median, in milliseconds).

``loaded``: beside one CPU-bound process (a busy loop) that the script starts before the run and
stops after it. Every time is also reported as a ratio to the best setting of its condition.
Writes ``benchmarks/results/train_speed[-TAG].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import run_meta, write_results

SETTINGS = {
    "default": {},
    "openmp default": {"OMP_WAIT_POLICY": ""},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
}
RUNS = {  # name -> kgqa train arguments, or a hop timing of this script's worker
    "hop-metaqa": ["--worker", "hop", "metaqa"],
    "hop-toy": ["--worker", "hop", "toy"],
    "toy": ["--dataset", "toy", "--epochs", "10"],
    "metaqa-1hop": ["--dataset", "metaqa-1hop", "--epochs", "1"],
    "metaqa-1hop-text": ["--dataset", "metaqa-1hop", "--epochs", "1", "--entities", "text"],
    "metaqa-2hop-text": ["--dataset", "metaqa-2hop", "--epochs", "1", "--entities", "text"],
    "metaqa-3hop-text": ["--dataset", "metaqa-3hop", "--epochs", "1", "--entities", "text"],
}
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS")


def train_once(run: str, setting: str, loaded: bool, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(SETTINGS[setting])
    out = Path(tempfile.mkdtemp(dir=work))
    hop = RUNS[run][0] == "--worker"
    cmd = ([sys.executable, __file__, *RUNS[run], str(out / "hop.json")] if hop else
           [sys.executable, "-m", "kgqa", "train", *RUNS[run], "--out", str(out), "--device", "cpu"])
    load = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if loaded else None
    try:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
    finally:
        if load is not None:
            load.kill()
            load.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{run} / {setting}: failed\n{proc.stderr[-3000:]}")
    if hop:
        return {"train_s": json.loads((out / "hop.json").read_text())["ms"], "wall_s": wall, "test_hits@1": None}
    metrics = json.loads((out / "metrics.json").read_text())
    return {"train_s": metrics["seconds"], "wall_s": wall, "test_hits@1": metrics["test"]["hits@1"]}


def hop_worker(graph: str, out: str) -> None:
    """Time ``follow_path`` forward and backward on one batch (see the module docstring)."""
    import kgqa  # noqa: F401 - chooses the thread settings before torch loads, as a user's process does
    import torch

    from kgqa.follow import ReifiedKG, follow_path
    from kgqa.sets import one_hot

    if graph == "metaqa":
        from kgqa.datasets import load_dataset

        kg, B = load_dataset("metaqa-1hop").kg, 64
    else:
        from kgqa.toy import toy_kg

        kg, B = toy_kg(), 16
    kb = ReifiedKG.from_kg(kg)
    g = torch.Generator().manual_seed(0)
    facts = kg.triples[torch.randint(0, kg.num_triples, (B,), generator=g)]
    x = one_hot(kg, facts[:, 0].tolist())
    times = []
    for i in range(33):
        rs = [torch.rand(B, kg.num_relations, generator=g).requires_grad_() for _ in range(3)]
        start = time.perf_counter()
        follow_path(kb, x, rs).sum().backward()
        if i >= 3:
            times.append(1000 * (time.perf_counter() - start))
    Path(out).write_text(json.dumps({"ms": statistics.median(times)}))


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        hop_worker(sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="toy", help="comma-separated: " + ", ".join(RUNS))
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated: " + ", ".join(SETTINGS))
    ap.add_argument("--repeats", type=int, default=1, help="runs per cell; the median is reported")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kgqa-train-speed-"))
    rows = []
    for run in args.runs.split(","):
        for loaded in (False, True):
            cell = []
            for setting in args.settings.split(","):
                got = [train_once(run, setting, loaded, work) for _ in range(args.repeats)]
                row = {"run": run, "condition": "loaded" if loaded else "idle", "setting": setting,
                       "train_s": statistics.median(g["train_s"] for g in got),
                       "wall_s": statistics.median(g["wall_s"] for g in got),
                       "test_hits@1": got[0]["test_hits@1"], "all_train_s": [g["train_s"] for g in got]}
                print(f"{run:>18} {row['condition']:>6} {setting:>14}: train {row['train_s']:7.2f} s|ms, "
                      f"wall {row['wall_s']:7.2f} s", flush=True)
                cell.append(row)
            best = min(r["train_s"] for r in cell)
            for r in cell:
                r["vs_best"] = r["train_s"] / best
            rows += cell
    idle = {(r["run"], r["setting"]): r["train_s"] for r in rows if r["condition"] == "idle"}
    for r in rows:
        r["vs_idle"] = r["train_s"] / idle[(r["run"], r["setting"])]
    meta = run_meta(repeats=args.repeats, cpus=os.cpu_count())

    def markdown(rows: list[dict], meta: dict) -> str:
        lines = ["# Training speed by thread setting, idle and beside one CPU-bound job", "",
                 f"Command: `{meta['command']}`  ", f"{meta['machine']}, {meta['cpus']} CPUs, torch {meta['torch']}; "
                 f"median of {meta['repeats']} run(s); time = fit alone (metrics.json), or for hop-* the median "
                 f"forward + backward of one batch; wall = the whole process", "",
                 "| run | condition | setting | time | vs. best setting | vs. idle | wall (s) | test Hits@1 |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['run']} | {r['condition']} | {r['setting']} | {r['train_s']:.2f}"
                  f"{' ms' if r['test_hits@1'] is None else ' s'} | {r['vs_best']:.2f}× | {r['vs_idle']:.2f}× | "
                  f"{r['wall_s']:.1f} | {'–' if r['test_hits@1'] is None else format(r['test_hits@1'], '.2f')} |"
                  for r in rows]
        return "\n".join(lines) + "\n"

    write_results("train_speed", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
