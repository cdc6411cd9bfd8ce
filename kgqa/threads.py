"""How the process's thread pools wait: chosen before torch loads its OpenMP runtime.

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
"""

from __future__ import annotations

import os
import sys

__all__ = ["prefer_passive_wait", "WAIT_POLICY"]

WAIT_POLICY = "PASSIVE"


def prefer_passive_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already or torch is loaded (then it is too
    late to have an effect). Returns whether the policy in effect is the passive one."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == WAIT_POLICY
