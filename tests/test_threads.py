"""kgqa.threads: OpenMP threads wait passively unless the user chose otherwise or it is too late."""

from __future__ import annotations

import os
import subprocess
import sys


def policy_after(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code + "\nimport os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                         capture_output=True, text=True, env={**base, **env}, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_kgqa_before_torch_chooses_passive_waiting() -> None:
    assert policy_after("import kgqa; import sys; assert 'torch' not in sys.modules") == "PASSIVE"


def test_a_policy_the_user_set_is_kept() -> None:
    assert policy_after("import kgqa", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_after_torch_nothing_is_changed() -> None:
    assert policy_after("import torch, kgqa") == "None"
    from kgqa.threads import prefer_passive_wait

    assert prefer_passive_wait() is (os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE")
