"""Fault drill: kill ``kgqa train`` at random moments and check that the finished run is bit-identical.

For each model (given entities, entities from text, intersection from text) the drill trains once
without interruption, then trains the same command in a second folder, killing it ``--kills``
times — with SIGINT (Ctrl-C) or SIGKILL, at a random moment or while a checkpoint is being
written — and restarting it after every kill, until it finishes. It then checks that

- the two runs' ``best/`` and ``last/`` weights are byte for byte the same, as are their
  configurations and epoch histories (wall times aside) and their test metrics;
- no process printed a Python traceback, and every SIGINT ended with the "interrupted; resume"
  message and exit status 130.

    python scripts/fault_drill.py                     # 10 kills for each of the three models
    python scripts/fault_drill.py --kills 3 --models given,text   # the short form CI runs

Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {
    "given": [],
    "text": ["--entities", "text"],
    "min": ["--entities", "text", "--intersection", "min"],
}


def command(out: Path, model: str, epochs: int, encoder: str) -> list[str]:
    return [sys.executable, "-m", "kgqa", "train", "--dataset", "toy", "--encoder", encoder, "--device", "cpu",
            "--epochs", str(epochs), "--out", str(out), *MODELS[model]]


def locked_since(out: Path, since: float) -> bool:
    """Whether a process started at ``since`` (``time.time()``) has taken the run folder's lock, which
    :func:`kgqa.train.fit` does before it builds the model: the process has reached training."""
    try:
        return (out / ".lock").stat().st_mtime >= since
    except OSError:
        return False


def run_to_end(cmd: list[str], env: dict[str, str], out: Path, failures: list[str], what: str) -> tuple[float, float]:
    """Run ``cmd`` to the end; returns its wall time and the part of it spent training (after the lock)."""
    start, wall = time.perf_counter(), time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    locked = None
    while proc.poll() is None:
        if locked is None and locked_since(out, wall - 1):
            locked = time.perf_counter()
        time.sleep(0.01)
    _, err = proc.communicate()
    if proc.returncode != 0 or "Traceback" in err:
        failures.append(f"{what}: exit {proc.returncode}\n{err[-2000:]}")
    end = time.perf_counter()
    return end - start, end - (locked or start)


def saving(out: Path) -> bool:
    """Whether a checkpoint is being written in ``out`` right now."""
    try:
        return any(p.name.startswith((".best.", ".last.")) for p in out.iterdir())
    except OSError:
        return False


def kill_once(cmd: list[str], env: dict[str, str], out: Path, rng: random.Random, span: float,
              failures: list[str], what: str) -> str:
    """Start ``cmd``, kill it once (how and when chosen by ``rng``), wait for it; returns what was done,
    or "finished" when the run ended before the kill. A kill at a random moment lands in training:
    up to ``span`` seconds after the process takes the run folder's lock."""
    sig = rng.choice([signal.SIGINT, signal.SIGKILL])
    during_write = rng.random() < 0.5
    wall = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    delay, deadline = rng.uniform(0.0, span), None
    locked = False
    while proc.poll() is None:
        locked = locked or locked_since(out, wall)  # before the lock, a .tmp folder is an earlier run's
        if during_write and locked and saving(out):
            break
        if not during_write and deadline is None and locked:
            deadline = time.perf_counter() + delay
        if deadline is not None and time.perf_counter() >= deadline:
            break
        time.sleep(0.001 if during_write else 0.01)
    if proc.poll() is not None:
        _, err = proc.communicate()
        if proc.returncode != 0 or "Traceback" in err:
            failures.append(f"{what}: ended with exit {proc.returncode} before the kill\n{err[-2000:]}")
        return "finished"
    proc.send_signal(sig)
    _, err = proc.communicate()
    how = f"{sig.name}{' during a checkpoint write' if during_write else ''}"
    if "Traceback" in err:
        failures.append(f"{what}: {how} printed a traceback\n{err[err.index('Traceback'):][:3000]}")
    if sig == signal.SIGINT and proc.returncode != 0 and not (
            proc.returncode == 130 and "interrupted" in err and "resume with the same command" in err):
        failures.append(f"{what}: {how} ended with exit {proc.returncode} and stderr\n{err[-2000:]}")
    return how


def compare(ref: Path, drill: Path, failures: list[str], what: str) -> None:
    for which in ("best", "last"):
        for name in ("model.safetensors",):
            a, b = (ref / which / name).read_bytes(), (drill / which / name).read_bytes()
            if a != b:
                failures.append(f"{what}: {which}/{name} differs from the uninterrupted run's")
        ca, cb = (json.loads((d / which / "config.json").read_text()) for d in (ref, drill))
        for c in (ca, cb):
            for row in c.get("history", []):
                row.pop("seconds", None)
        if ca != cb:
            keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
            failures.append(f"{what}: {which}/config.json differs in {keys}")
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (ref, drill))
    for key in ("best_epoch", "dev_hits@1", "test"):
        if ma.get(key) != mb.get(key):
            failures.append(f"{what}: metrics.json {key} {ma.get(key)} vs {mb.get(key)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kills per model (default 10)")
    parser.add_argument("--models", default="given,text,min", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--encoder", default="tiny", help="tiny (fast, the default) or minilm")
    parser.add_argument("--seed", type=int, default=0, help="seeds when and how the kills happen")
    parser.add_argument("--workdir", help="where the runs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kgqa-fault-drill-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(args.seed)
    failures: list[str] = []
    for model in models:
        ref, drill = work / f"{model}-uninterrupted", work / f"{model}-killed"
        total, span = run_to_end(command(ref, model, args.epochs, args.encoder), env, ref, failures,
                                 f"{model} reference")
        kills: list[str] = []
        while len(kills) < args.kills:
            how = kill_once(command(drill, model, args.epochs, args.encoder), env, drill, rng, span, failures,
                            f"{model} kill {len(kills) + 1}")
            if how == "finished":  # the run ended first: start it afresh so every kill lands mid-run
                shutil.rmtree(drill)
                continue
            kills.append(how)
        run_to_end(command(drill, model, args.epochs, args.encoder), env, drill, failures, f"{model} final resume")
        before = len(failures)
        if (drill / "metrics.json").is_file() and (ref / "metrics.json").is_file():
            compare(ref, drill, failures, model)
        else:
            failures.append(f"{model}: a run did not finish (no metrics.json)")
        verdict = "identical" if len(failures) == before else "DIFFERENT"
        print(f"{model:>6}: {len(kills)} kills ({', '.join(kills)}); reference run {total:.1f} s, {span:.1f} s of "
              f"it training; final run {verdict}", flush=True)
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"{'passed' if not failures else f'{len(failures)} failure(s)'}; runs in {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
