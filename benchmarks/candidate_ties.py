"""What ranking equal cosines by surface row costs the candidate lookup: stable vs. ``torch.topk``.

    KGQA_DATA=/path/to/data .venv/bin/python benchmarks/candidate_ties.py [--questions 1000]

``CandidateIndex.query`` ranks a mention's surface rows by cosine; ``torch.topk`` breaks ties
by how the batch happens to be laid out, so a span could get other candidates in another batch
(and a resumed training run other results than an uninterrupted one). ``_top_stable`` ranks
ties by row. This script times one batched ``query(spans, k=8)`` per MetaQA 1-hop test question
(every span of up to 4 words, as ``benchmarks/candidates.py`` does) with each ranking, alternating
them question by question in the same run, on 1 torch thread; it also counts the spans whose
candidates differ between a batched and a one-span query under each ranking.
Writes ``benchmarks/results/candidate_ties.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from kgqa import candidates
from kgqa.resolve.candidates import CandidateIndex
from kgqa.datasets import load_dataset
from report import run_meta, write_results


def plain_topk(values: torch.Tensor, keys: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.topk(values, t, dim=1)


def spans_of(question: str, max_words: int = 4) -> list[str]:
    w = question.split()
    return [" ".join(w[i:j]) for i in range(len(w)) for j in range(i + 1, min(i + max_words, len(w)) + 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("metaqa-1hop")
    index = CandidateIndex.build(data.kg)
    qs = random.Random(0).sample([e.question for e in data.test], args.questions)
    stable = candidates._top_stable
    rankings = {"stable (ties by row)": stable, "torch.topk": plain_topk}
    times: dict[str, list[float]] = {name: [] for name in rankings}
    differ = {name: 0 for name in rankings}
    n_spans = 0
    for q in qs[:20]:  # warm-up
        index.query(spans_of(q), 8)
    for q in qs:
        spans = spans_of(q)
        n_spans += len(spans)
        for name, fn in rankings.items():
            candidates._top_stable = fn
            t0 = time.perf_counter()
            together = index.query(spans, 8)
            times[name].append(1000 * (time.perf_counter() - t0))
    for q in qs[:200]:  # batched vs one span at a time
        spans = spans_of(q)
        for name, fn in rankings.items():
            candidates._top_stable = fn
            together = index.query(spans, 8)
            for i, span in enumerate(spans):
                alone = index.query([span], 8)
                differ[name] += not (torch.equal(alone.entity[0], together.entity[i])
                                     and torch.equal(alone.features[0], together.features[i]))
    candidates._top_stable = stable
    rows = []
    base = statistics.median(times["torch.topk"])
    for name in rankings:
        t = sorted(times[name])
        rows.append({"ranking": name, "p50_ms": statistics.median(t), "p95_ms": t[int(0.95 * (len(t) - 1))],
                     "ratio_p50": statistics.median(t) / base, "spans_differing": differ[name],
                     "spans_checked": sum(len(spans_of(q)) for q in qs[:200])})
    meta = run_meta(questions=len(qs), spans_per_question=n_spans / len(qs), threads=1)

    def markdown(rows: list[dict], meta: dict) -> str:
        lines = ["# Candidate lookup: ties ranked by row vs. torch.topk", "", f"Command: `{meta['command']}`  ",
                 f"{meta['machine']}; MetaQA 1-hop test, {meta['questions']} questions, "
                 f"{meta['spans_per_question']:.1f} spans of ≤ 4 words per question, one batched query each", "",
                 "| ranking | query p50 / p95 (ms / question) | p50 vs. topk | spans whose candidates differ, batched vs. alone |",
                 "|---|---|---|---|"]
        lines += [f"| {r['ranking']} | {r['p50_ms']:.2f} / {r['p95_ms']:.2f} | {r['ratio_p50']:.2f}× | "
                  f"{r['spans_differing']:,} of {r['spans_checked']:,} |" for r in rows]
        return "\n".join(lines) + "\n"

    write_results("candidate_ties", args.tag, meta, rows, markdown)


if __name__ == "__main__":
    main()
