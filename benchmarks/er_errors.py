"""What a text-only model's entity resolution gets wrong, on a seeded sample of a test split.

    python benchmarks/er_errors.py --checkpoint runs/bench-er/metaqa-3hop-text/best --dataset metaqa-3hop

Two measurements on a trained resolver checkpoint (``--entities text``), annotations used only to
score: (1) for ``--sample`` test questions, the entity the most probable span resolves to, when
it is not the gold topic — which entities are chosen instead, and from which words; (2) test
Hits@1 on ``--eval`` questions with three topic masks: the resolved ``x_0`` itself (what the
model trains with: each entity masked by its probability of being the topic), ``x_0`` divided
by its row maximum (the likeliest topic masked fully), and the argmax alone. If Hits@1 moves
little with the mask, the errors come from resolution, not from the walk. Needs ``KGQA_DATA``.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

import torch

from kgqa.datasets import load_dataset
from kgqa.qa import QASystem

MASKS = ("soft", "sharp", "argmax")


def with_mask(system: QASystem, kind: str):
    """A stand-in for ``system.model.forward`` that reshapes the topic mask as ``kind`` says."""
    forward = type(system.model).forward.__get__(system.model)

    def fwd(kb, q, x0, topic_mask=None, keep_hops=False):
        if topic_mask is not None and kind == "sharp":
            topic_mask = (topic_mask / topic_mask.amax(dim=1, keepdim=True).clamp(min=1e-12)).clamp(0, 1)
        elif topic_mask is not None and kind == "argmax":
            topic_mask = torch.zeros_like(topic_mask).scatter_(1, topic_mask.argmax(dim=1, keepdim=True), 1.0)
        return forward(kb, q, x0, topic_mask=topic_mask, keep_hops=keep_hops)
    return fwd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--sample", type=int, default=300, help="questions whose top span is inspected")
    ap.add_argument("--eval", type=int, default=1000, help="questions evaluated under each topic mask")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    system = QASystem.from_pretrained(args.checkpoint)
    if not system.resolves or system.branched:
        raise SystemExit(f"{args.checkpoint}: not a single-entity text model (train with --entities text)")
    test = list(load_dataset(args.dataset).test)
    random.Random(args.seed).shuffle(test)

    chosen, words = Counter(), Counter()
    for ex in test[: args.sample]:
        spans = system.explain(ex.question, paths=0).mentions
        top = spans[0] if spans else None
        pick = top.candidates[0].id if top is not None and top.candidates else None
        if pick not in set(ex.topics):
            chosen[str(pick)] += 1
            words[top.text.lower() if top is not None else "(no span)"] += 1
    n = min(args.sample, len(test))
    print(f"{args.dataset}: top span resolves to a wrong entity in {sum(chosen.values())} of {n} sampled test questions")
    print("  chosen instead:", ", ".join(f"{e} ×{c}" for e, c in chosen.most_common(8)))
    print("  from the words:", ", ".join(f"'{w}' ×{c}" for w, c in words.most_common(8)))

    sub = test[: args.eval]
    for kind in MASKS:
        system.model.forward = with_mask(system, kind)
        m = system.evaluate(sub)
        print(f"  topic mask {kind:<6}: Hits@1 {m['hits@1']:.2f} on {len(sub)} test questions "
              f"(ER accuracy {m['er']['entity_accuracy']:.2f})")
    del system.model.forward


if __name__ == "__main__":
    main()
