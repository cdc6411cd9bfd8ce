"""Why a trained model misses: every wrong top answer sorted into one kind, with examples.

A Hits@1 number says how often the model is right, not what goes wrong when it is not. Each
question whose best-scored entity is not a gold answer gets the first kind that explains it, in
this order:

- ``unreachable``: no gold answer lies within the model's ``T`` hops of the gold topic entities,
  over any relations — no relation choice could have found it (a gap in the graph, or a question
  that needs more hops than the model walks);
- ``entity`` (models that read their entities from the text): the resolver's most weighted start
  entity is not a gold topic — the walk began in the wrong place;
- ``hops``: the question's hop count is known and the hop attention's largest weight is on
  another one;
- ``tie``: the prediction and a gold answer both lie at the end of the path the model weighs most
  (the likeliest relation of each hop, for the hop count it reads) — the walk was right, and the
  graph gives the two the same standing while the gold set names only one. MetaQA names films by
  title, so two films of one title are one entity: "the film Pennies from Heaven starred which
  actors" reaches the actors of both films of that name, and the gold set holds one film's;
- ``relation``: everything else — right start, right hop count, reachable answer, but the most
  weighted relations lead elsewhere (or reach the gold answer but not the prediction: weight the
  model put on other relations ranked a wrong entity first).

:func:`classify_misses` returns the counts and a few examples of each kind; its miss count is
exactly ``(1 - Hits@1) · questions`` of :meth:`kgqa.qa.QASystem.evaluate` (same tie order).
``benchmarks/misses.py`` writes it for the experiment grid's runs; chapter 9 reads those files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .datasets.base import QAExample
from .inputs import encode_distinct, example_indices
from .kg import KnowledgeGraph
from .qa import BATCH, TEXT_BATCH, QASystem

__all__ = ["KINDS", "Miss", "classify_misses", "reachable_within"]

KINDS: dict[str, str] = {
    "unreachable": "no gold answer within the model's hops of the gold topics",
    "entity": "the walk started from a wrong entity (entity resolution)",
    "hops": "the hop attention chose another number of hops",
    "tie": "prediction and gold answer both at the end of the model's likeliest path (the graph cannot order them)",
    "relation": "right start and hop count, wrong relations followed",
}
"""The kinds of miss, in the order they are tried, with what each means."""


@dataclass
class Miss:
    """One missed question, readable: what was asked, what was expected, what the model said."""

    question: str
    kind: str
    predicted: str  # label of the top-scored entity ("" when nothing was reached)
    gold: list[str]  # labels of (up to 3) gold answers
    topics: list[str]  # labels of the gold topic entities
    started_from: str = ""  # text models: label of the most weighted start entity
    hops: int = 0  # the question's hop count (0: unknown)
    hops_read: int = 0  # 1 + argmax of the hop attention


def _step_matrix(facts: torch.Tensor, n: int) -> torch.Tensor:
    """Sparse ``(E, E)`` with a 1 at ``(o, s)`` for each fact ``(s, r, o)``: one product with it walks
    one step, ``x_{t+1}[o] = OR over facts of x_t[s]`` (as 0/1 floats)."""
    return torch.sparse_coo_tensor(torch.stack([facts[:, 2], facts[:, 0]]), torch.ones(len(facts)), (n, n),
                                   check_invariants=True).coalesce().to_sparse_csr()


def reachable_within(kg: KnowledgeGraph, starts: Sequence[Sequence[int]], hops: int) -> torch.Tensor:
    """``(B, E)`` bool: the entities at the end of some walk of 1 to ``hops`` facts from any of
    each row's start entities (facts as stored; a graph with inverses walks both ways)."""
    return _reachable(_step_matrix(kg.triples, kg.num_entities), starts, hops)


def _reachable(step: torch.Tensor, starts: Sequence[Sequence[int]], hops: int) -> torch.Tensor:
    x = torch.zeros(len(starts), step.shape[0])
    for b, s in enumerate(starts):
        x[b, list(s)] = 1.0
    seen = torch.zeros(x.shape, dtype=torch.bool)
    for _ in range(hops):
        x = (torch.sparse.mm(step, x.T).T > 0).float()
        seen |= x.bool()
    return seen


class _PathWalker:
    """Exact walks along one relation per hop: one sparse ``(E, E)`` matrix per relation, built
    the first time it is needed."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg, self._adj = kg, {}

    def ends(self, starts: Sequence[int], relations: Sequence[int]) -> torch.Tensor:
        """``(E,)`` bool: the entities reached from ``starts`` along ``relations`` in order."""
        x = torch.zeros(self.kg.num_entities, 1)
        x[list(starts)] = 1.0
        for r in relations:
            if r not in self._adj:
                self._adj[r] = _step_matrix(self.kg.triples[self.kg.triples[:, 1] == r], self.kg.num_entities)
            x = (torch.sparse.mm(self._adj[r], x) > 0).float()
        return x[:, 0].bool()


def _labels(kg: KnowledgeGraph, idx: Sequence[int], k: int | None = None) -> list[str]:
    return [kg.label(i) for i in list(idx)[:k]]


def _same_path_end(ends: torch.Tensor, top: int, gold: Sequence[int]) -> bool:
    return bool(ends[top]) and any(bool(ends[a]) for a in gold)


@torch.inference_mode()
def classify_misses(system: QASystem, examples: Sequence[QAExample], *, per_kind: int = 3,
                    batch_size: int | None = None) -> dict[str, Any]:
    """Sort every miss of ``system`` on ``examples`` into one of :data:`KINDS`.

    Returns ``{"questions", "misses", "hits@1", "kinds": {kind: count}, "shares": {kind: percent
    of all questions}, "examples": {kind: [Miss as dict, ...]}}`` with the first ``per_kind``
    misses of each kind in the order of ``examples``."""
    for part in system.parts().values():
        part.eval()
    kg = system.kg
    topics, answers = example_indices(kg, examples)
    hops = system.model.config.hops
    counts = dict.fromkeys(KINDS, 0)
    walker, step = _PathWalker(kg), _step_matrix(kg.triples, kg.num_entities)  # built once, used by every batch
    shown: dict[str, list[dict]] = {k: [] for k in KINDS}
    batch_size = batch_size or (TEXT_BATCH if system.resolves else BATCH)
    # a frozen encoder and given entities: each distinct text encoded once, as evaluate() does, so
    # that float rounding (which padding changes) breaks near-ties the same way
    q = None
    if examples and not system.resolves and getattr(system.encoder, "frozen", True):
        q = encode_distinct(system.encode, examples, system.masks_mentions)
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        b_topics, b_answers = topics[start:start + batch_size], answers[start:start + batch_size]
        out, res = system.forward(batch, None if q is None else q[start:start + batch_size], b_topics)
        scores = out.scores.detach().float().cpu()
        # the first of the 10 best, as Scores.add takes it: topk's order among equal scores depends on k
        top_val, top_idx = (t[:, 0] for t in scores.topk(min(10, scores.shape[1]), dim=1))
        reach = _reachable(step, b_topics, hops)
        hop_read = out.hop_attention.detach().cpu().argmax(dim=1) + 1
        best_relations = out.relations.detach().cpu().argmax(dim=2)  # (B, T): the likeliest relation per hop
        started = res.x0.detach().cpu().argmax(dim=1) if res is not None else None
        alive = (res.x0.detach().cpu().sum(dim=1) > 0) if res is not None else None
        for b, ex in enumerate(batch):
            gold, top = b_answers[b], int(top_idx[b])
            if top_val[b] > 0 and top in gold:
                continue
            if b_topics[b] and not any(bool(reach[b, a]) for a in gold):
                kind = "unreachable"
            elif started is not None and not (bool(alive[b]) and int(started[b]) in b_topics[b]):
                kind = "entity"
            elif ex.hops and int(hop_read[b]) != ex.hops:
                kind = "hops"
            elif gold and b_topics[b] and top_val[b] > 0 and _same_path_end(walker.ends(
                    b_topics[b][:1] if out.branch_valid is not None else b_topics[b],  # branches: the first one's walk
                    best_relations[b, : int(hop_read[b])].tolist()), top, gold):
                kind = "tie"
            else:
                kind = "relation"
            counts[kind] += 1
            if len(shown[kind]) < per_kind:
                miss = Miss(ex.question, kind, kg.label(top) if top_val[b] > 0 else "", _labels(kg, gold, 3),
                            _labels(kg, b_topics[b]), hops=ex.hops, hops_read=int(hop_read[b]),
                            started_from=kg.label(int(started[b])) if started is not None and bool(alive[b]) else "")
                shown[kind].append(asdict(miss))
    n, missed = len(examples), sum(counts.values())
    return {"questions": n, "misses": missed, "hits@1": 100 * (n - missed) / max(n, 1), "kinds": counts,
            "shares": {k: 100 * c / max(n, 1) for k, c in counts.items()}, "examples": shown}
