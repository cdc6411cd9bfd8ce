"""The short form of ``scripts/fault_drill.py``: two kills per model, each run bit-identical to an
uninterrupted one, and no traceback from any of the killed processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fault_drill.py"


def test_killed_training_runs_finish_bit_identical(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--kills", "2", "--epochs", "3", "--seed", "1",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
    lines = proc.stdout.splitlines()
    assert sum("2 kills" in ln and ln.endswith("final run identical") for ln in lines) == 3, proc.stdout
    assert lines[-1].startswith("passed")
