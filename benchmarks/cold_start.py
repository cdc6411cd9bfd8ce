"""Cold start: ``kgqa ask`` as a whole process, from the shell prompt to the printed answer.

What a learner waits for before the first answer: Python, torch, the package, the checkpoint (its
graph and the encoder) and the first question. Each process is timed ``--repeat`` times (median and
best), beside two baselines of the same run: ``python -c "import torch"`` — the floor any answer
pays — and the import of ``transformers``' BERT, which the packaged encoder no longer needs.

    python benchmarks/cold_start.py                      # trains the two small checkpoints it needs
    python benchmarks/cold_start.py --toy RUN --metaqa RUN

Without ``--toy``/``--metaqa`` it trains ``kgqa train --quick`` checkpoints in a temporary folder
(MetaQA only with ``KGQA_DATA``). Numba's cache is warmed by one untimed run per checkpoint.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import run_meta, write_results

KGQA = [sys.executable, "-m", "kgqa"]


def timed(cmd: list[str], repeat: int) -> tuple[float, float]:
    """(median, best) wall seconds of ``cmd`` run ``repeat`` times; it must succeed."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    return statistics.median(times), min(times)


def checkpoint(dataset: str, given: str | None, tmp: Path) -> str | None:
    if given:
        return given
    if dataset != "toy" and not os.environ.get("KGQA_DATA"):
        return None
    out = tmp / dataset
    print(f"training a quick {dataset} checkpoint in {out} ...", flush=True)
    subprocess.run(KGQA + ["-q", "train", "--dataset", dataset, "--quick", "--out", str(out)], check=True,
                   capture_output=True)
    return str(out)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Cold start: `kgqa ask` as a whole process", "", f"`{meta['command']}` — {meta['machine']}, "
             f"{meta['repeat']} runs each", "", "| process | median (s) | best (s) | × `import torch` |",
             "|---|---|---|---|"]
    floor = rows[0]["median_s"]
    for r in rows:
        lines.append(f"| {r['process']} | {r['median_s']:.2f} | {r['best_s']:.2f} | {r['median_s'] / floor:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--toy", help="a toy checkpoint (default: train one with kgqa train --quick)")
    p.add_argument("--metaqa", help="a MetaQA 1-hop checkpoint (default: train one when KGQA_DATA is set)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--tag", default="")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"toy": (checkpoint("toy", args.toy, Path(tmp)), "What city is the [Mona Lisa] in?"),
                "metaqa-1hop": (checkpoint("metaqa-1hop", args.metaqa, Path(tmp)),
                                "what movies did [Temuera Morrison] act in")}
        processes = [("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
                     ("python -c 'import transformers.models.bert.modeling_bert'",
                      [sys.executable, "-c", "import transformers.models.bert.modeling_bert"]),
                     ("python -c 'import kgqa'", [sys.executable, "-c", "import kgqa"])]
        for name, (run, question) in runs.items():
            if run is not None:
                cmd = KGQA + ["ask", question, "--checkpoint", run]
                subprocess.run(cmd, capture_output=True)  # warm Numba's cache, untimed
                processes.append((f"kgqa ask ({name} checkpoint)", cmd))
        rows = []
        for label, cmd in processes:
            median, best = timed(cmd, args.repeat)
            rows.append({"process": label, "median_s": round(median, 3), "best_s": round(best, 3)})
            print(f"{label}: median {median:.2f} s, best {best:.2f} s", flush=True)
    write_results("cold_start", args.tag, run_meta(repeat=args.repeat), rows, markdown)


if __name__ == "__main__":
    main()
