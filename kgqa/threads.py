"""How the process's threads wait and how many run: passive waiting chosen before torch loads its OpenMP
runtime, and the thread count fitted to the load of the machine.

torch's CPU operations and the compiled kernels of :mod:`kgqa.follow.fused` run on OpenMP thread pools.
By default an OpenMP thread that runs out of work keeps spinning on its core for a while, waiting
for the next parallel region. On an idle machine that saves a wake-up; on a machine doing anything
else — a learner's laptop, a notebook beside a training run — the spinning threads take the cores
the other job needs, and it takes theirs; sleeping costs nothing measurable on an idle machine
(``benchmarks/train_speed.py``, ``benchmarks/results/train_speed-*.md``).

OpenMP reads its wait policy once, when the runtime loads, so it must be set before ``import
torch``. :func:`prefer_passive_wait` does that when ``kgqa`` is imported first (the ``kgqa``
command, scripts that import kgqa before torch) and leaves a value the user set alone. The Makefile
sets it for ``make lab``, ``make test`` and ``make notebooks``, whose kernels import torch before
kgqa.

Passive waiting does not fix one case: a parallel pass waits for its slowest thread, and beside a
job that keeps one core busy, the thread on that core runs at half speed — a MetaQA hop takes 65 ms
on two threads against 39 ms on one. :func:`fit_threads_to_load`, called by every ``follow``, looks
at the machine's load at most every :data:`INTERVAL` seconds (``/proc/stat``, less this process's
own CPU time) and gives torch — and with it the compiled kernels — as many threads as there are
cores other processes leave free (at least one, at most the count torch has at its first look),
with a dead band so that it does not flip back and forth. It stays off where the user chose
(``OMP_NUM_THREADS``, ``KGQA_ADAPT_THREADS=0``, more threads than CPUs), switches off for good
when anything else changes torch's count after its first look (``torch.set_num_threads``), and does
nothing off Linux or where the process may not use every CPU.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["prefer_passive_wait", "WAIT_POLICY", "fit_threads_to_load", "ADAPT_VAR"]

WAIT_POLICY = "PASSIVE"


def prefer_passive_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already or torch is loaded (then it is too
    late to have an effect). Returns whether the policy in effect is the passive one."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == WAIT_POLICY


ADAPT_VAR = "KGQA_ADAPT_THREADS"  # "0": keep torch's thread count whatever the load
INTERVAL = 0.3  # seconds between two looks at the load
BAND = 0.1  # dead band, in cores, around the half-core point where one thread fewer pays off


class _LoadWatch:
    """Cores busy with other processes since the previous look: all CPU time of the machine
    (``/proc/stat``: user to steal) less this process's own (``time.process_time``)."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.last = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", "rb") as f:
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        if len(ticks) < 5:
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / self.tick  # all but idle and iowait
        return time.monotonic(), busy, time.process_time()

    def others(self) -> float | None:
        now = self._sample()
        last, self.last = self.last, now
        if now is None or last is None or now[0] - last[0] <= 0:
            return None
        return max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0])


class _Adapter:
    def __init__(self) -> None:
        self.full: int | None = None  # torch's thread count before any change
        self.ours: int | None = None  # the count set here last
        self.cpus = os.cpu_count() or 1
        self.enabled = (sys.platform.startswith("linux") and os.environ.get(ADAPT_VAR, "1") != "0"
                        and "OMP_NUM_THREADS" not in os.environ and self.cpus > 1
                        and len(os.sched_getaffinity(0)) == self.cpus)
        # the first look spans from here to the first follow
        self.watch = _LoadWatch() if self.enabled else None
        self.due = time.monotonic() + INTERVAL

    def __call__(self) -> int | None:
        now = time.monotonic()
        if now < self.due or not self.enabled:
            return None
        self.due = now + INTERVAL
        import torch

        current = torch.get_num_threads()
        if self.ours is not None and current != self.ours:  # set by someone else: theirs to choose
            self.enabled = False
            return None
        if current > self.cpus:  # more threads than CPUs: someone chose to oversubscribe
            return None
        others = self.watch.others()
        if others is None:
            return None
        self.full = self.full or current
        free = self.cpus - others  # one thread fewer pays off once a core is more than half taken
        down, up = int(free + 0.5 + BAND), int(free + 0.5 - BAND)  # down only when clearly fewer
        want = max(1, min(self.full, down if down < current else up if up > current else current))
        if want != current:
            from .log import log

            torch.set_num_threads(want)
            log.info("%.1f of %d CPUs busy with other work: %d thread(s)", others, self.cpus, want)
        self.ours = want
        return want


_ADAPTER = _Adapter()


def fit_threads_to_load() -> int | None:
    """Match torch's thread count to the cores other processes leave free (module docstring); at
    most one look every :data:`INTERVAL` seconds, a clock read otherwise. Returns the count it
    set, or None when it did not look (too soon, switched off, or nothing to read)."""
    return _ADAPTER()
