"""Where a training process's resident memory peaks: loading, an epoch's steps, its validation, or the test.

    python benchmarks/train_memory.py [--tag TAG] -- kgqa train --dataset metaqa-3hop --entities text --epochs 6 --out RUN

Starts the ``kgqa train`` command given after ``--`` as a child process, samples the resident memory
of the child and its own children every 0.2 s (``/proc/PID/status``, ``VmRSS``) and reads its
progress bars as they come, so each sample is put down to the phase the process is in: ``loading``
(the data, the encoder, the candidate index, before the first step), ``epoch k`` (its training
steps), ``validation k`` (after its last step, until the next epoch starts), and ``last
validation, test`` (after the last epoch's steps: its validation, then the test evaluation and the
report, which the output does not tell apart). The peak of each phase, the whole process's
peak (also the kernel's own high-water mark, ``ru_maxrss`` of the child) and the wall time are
written to ``benchmarks/results/train_memory[-TAG].json`` and ``.md``. Needs ``KGQA_DATA`` for the
real datasets.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from report import run_meta, write_results

EPOCH = re.compile(r"epoch (\d+)/(\d+):\s+(\d+)%")
"""A training progress bar: ``epoch 3/6:  42%|...``."""

EVERY_S = 0.2
"""Seconds between two samples of the resident memory."""


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and of its children, in KiB (0 once it has gone)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Phases:
    """The phase a training process is in, from the progress lines it writes."""

    def __init__(self) -> None:
        self.now = "loading"
        self.epochs = 0

    def read(self, line: str) -> None:
        m = EPOCH.search(line)
        if m is None:
            return
        k, n, pct = int(m.group(1)), int(m.group(2)), int(m.group(3))
        self.epochs = max(self.epochs, n)
        if pct < 100:
            self.now = f"epoch {k}"
        else:  # the last epoch's validation and the test come one after the other, nothing tells them apart
            self.now = "last validation, test" if k == n else f"validation {k}"


def measure(cmd: list[str]) -> dict:
    """Run ``cmd``; per phase: its peak resident memory (GiB) and seconds spent in it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    phases, peaks, seconds, tail = Phases(), {}, {}, []
    finished = threading.Event()

    def reader() -> None:
        buf = b""
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                phases.read(line)
                if line.strip() and not EPOCH.search(line):
                    tail.append(line)

    def sampler() -> None:
        last = time.perf_counter()
        while not finished.wait(EVERY_S):
            rss, now, phase = _rss_kib(proc.pid), time.perf_counter(), phases.now
            if rss:
                peaks[phase] = max(peaks.get(phase, 0), rss)
                seconds[phase] = seconds.get(phase, 0.0) + (now - last)
            last = now

    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=sampler, daemon=True)]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)  # before the process is reaped: its rusage
    finished.set()
    for t in threads:
        t.join(5)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code:
        sys.exit(f"the command failed (exit {code}); its last lines:\n" + "\n".join(tail[-15:]))
    return {"wall_s": round(time.perf_counter() - start, 1),
            "peak_gib": round(max(peaks.values(), default=0) / 2**20, 3),
            "maxrss_gib": round(usage.ru_maxrss / 2**20, 3),
            "peak_phase": max(peaks, key=peaks.get) if peaks else None,
            "phases": [{"phase": p, "peak_gib": round(k / 2**20, 3), "seconds": round(seconds[p], 1)}
                       for p, k in peaks.items()],
            "report": tail[-8:]}


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Where a training process's memory peaks", "", f"Command: `{meta['command']}`  ",
             f"`{meta['train']}`: {meta['wall_s'] / 60:.1f} min, peak resident memory **{meta['peak_gib']:.2f} GiB** "
             f"sampled every {EVERY_S} s, in {meta['peak_phase']} (kernel high-water mark {meta['maxrss_gib']:.2f} GiB); "
             f"torch {meta['torch']}, {meta['machine']}", "",
             "| phase | time | peak resident memory |", "|---|---|---|"]
    lines += [f"| {r['phase']} | {r['seconds']:.0f} s | {r['peak_gib']:.2f} GiB |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv or argv[argv.index("--") + 1:argv.index("--") + 3] != ["kgqa", "train"]:
        sys.exit("usage: python benchmarks/train_memory.py [--tag TAG] -- kgqa train ARGS...")
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv[:cut])
    train = argv[cut + 1:]
    result = measure([sys.executable, "-m", *train])
    rows = result.pop("phases")
    write_results("train_memory", args.tag, run_meta(train=" ".join(train), **result), rows, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
