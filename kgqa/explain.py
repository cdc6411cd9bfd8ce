"""Build the :class:`~kgqa.trace.Trace` of one question from what the model computed.

:meth:`kgqa.qa.QASystem.explain` runs the model once with every hop's ``x_t`` kept and hands the
outputs here; this module only reads tensors and names things — every number in the trace is one
the model computed, or (the paths) an exact term of one (:mod:`kgqa.paths`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .follow import ReifiedKG
from .kg import KnowledgeGraph
from .model import QAOutput
from .operations import PROGRAMS, answer_label
from .paths import top_paths
from .resolve import ResolverOutput
from .trace import AnswerTrace, BranchTrace, HopTrace, Mention, PathTrace, Reading, Scored, Trace

__all__ = ["build_trace", "Walk"]

TOP_RELATIONS = 3  # relations listed per hop
TOP_ENTITIES = 5  # entities listed per start set, hop and branch answer
TOP_CANDIDATES = 3  # candidates listed per mention
TOP_READINGS = 3  # readings listed for a question with several possible entities


class Walk:
    """One branch's tensors: start set ``x0 (E,)``, ``hops (T, E)`` (each ``x_t``), ``relations
    (T, R)``, ``attention (T,)`` and its own answer ``scores (E,)``; ``mention``: its slot."""

    def __init__(self, x0: torch.Tensor, hops: torch.Tensor, relations: torch.Tensor, attention: torch.Tensor,
                 scores: torch.Tensor, mention: int | None = None) -> None:
        self.x0, self.hops, self.relations, self.attention, self.scores = x0, hops, relations, attention, scores
        self.mention = mention


def walks_of(out: QAOutput, x0: torch.Tensor, branches: Sequence[int] | None,
             mentions: Sequence[int | None] | None = None) -> list[Walk]:
    """The walks of question 0 of ``out`` (run with ``keep_hops``): the single walk from ``x0
    (E,)``, or the listed ``branches`` whose start sets are ``x0 (K, E)``."""
    if branches is None:
        return [Walk(x0, out.hop_entities[0], out.relations[0], out.hop_attention[0], out.scores[0])]
    mentions = mentions if mentions is not None else [None] * len(branches)
    return [Walk(x0[j], out.branch_hop_entities[0, j], out.branch_relations[0, j], out.branch_hop_attention[0, j],
                 out.branch_scores[0, j], m) for j, m in zip(branches, mentions)]


def _scored(kg: KnowledgeGraph, values: torch.Tensor, k: int) -> list[Scored]:
    val, idx = values.float().topk(min(k, values.numel()))
    return [Scored(kg.entities[i], kg.label(i), float(v)) for v, i in zip(val.tolist(), idx.tolist()) if v > 0]


def _branch(kg: KnowledgeGraph, walk: Walk) -> BranchTrace:
    hops = []
    for t in range(walk.relations.shape[0]):
        w, r = walk.relations[t].topk(min(TOP_RELATIONS, walk.relations.shape[1]))
        hops.append(HopTrace([(kg.relations[i], float(x)) for x, i in zip(w.tolist(), r.tolist())],
                             float(walk.attention[t]), _scored(kg, walk.hops[t], TOP_ENTITIES)))
    return BranchTrace(_scored(kg, walk.x0, TOP_ENTITIES), hops, _scored(kg, walk.scores, TOP_ENTITIES), walk.mention)


def _paths(kg: KnowledgeGraph, kb: ReifiedKG, walks: list[Walk], target: int, n: int) -> list[PathTrace]:
    """The ``n`` heaviest paths to ``target`` of each walk, each with its share of that walk's score."""
    out = []
    for j, walk in enumerate(walks):
        total = float(walk.scores[target])
        if total <= 0 or n <= 0:
            continue
        hops = torch.cat([walk.x0[None], walk.hops])
        for p in top_paths(kb, hops, walk.relations, walk.attention, target, n):
            ents = [Scored(kg.entities[e], kg.label(e), 0.0) for e in p.entities]
            out.append(PathTrace(j, ents, [kg.relations[k] for k in p.relations], p.weight, p.weight / total))
    return out


def build_trace(kg: KnowledgeGraph, kb: ReifiedKG, question: str, *, entities: str, objective: str, combine: str,
                out: QAOutput, walks: list[Walk], topics: Sequence[int], k: int = 5, paths: int = 3,
                res: ResolverOutput | None = None, how: str = "", attributes: Sequence[str] = ()) -> Trace:
    """The trace of question 0 of ``out``. ``walks``: its branches (:func:`walks_of`), ``topics``
    the topic entity indices shown, ``res`` the resolver's output for a text model, ``paths`` the
    paths listed per answer and walk (0: none), ``attributes`` the names of the numeric attributes
    of a model with the operation controller (whose answers may be counts: ``"7"``)."""
    scores = out.scores[0].float()
    shown = scores.clamp(0.0, 1.0) if objective == "bce" else scores
    val, idx = shown.topk(min(k, shown.numel()))
    E = kg.num_entities
    answers = [AnswerTrace(answer_label(kg, i), kg.label(i) if i < E else f"{i - E} (a count)", float(v),
                           _paths(kg, kb, walks, i, paths) if i < E else [])
               for v, i in zip(val.tolist(), idx.tolist()) if v > 0]
    ops = out.operations
    trace = Trace(question, entities, objective, [Scored(kg.entities[t], kg.label(t), 1.0) for t in topics],
                  [_branch(kg, w) for w in walks], answers,
                  "operations" if ops is not None else combine if len(walks) > 1 else "none", how=how)
    if ops is not None:
        trace.program = sorted(zip(PROGRAMS, ops.program[0].tolist()), key=lambda p: -p[1])
        if ops.attribute is not None:
            trace.attribute = sorted(zip(attributes, ops.attribute[0].tolist()), key=lambda p: -p[1])
        trace.size = float(ops.size[0])
    if res is not None:
        trace.mentions, trace.entity_count, trace.readings = _mentions(kg, res)
    return trace


def _mentions(kg: KnowledgeGraph, res: ResolverOutput) -> tuple[list[Mention], list[float], list[Reading]]:
    """Question 0's likeliest spans with their candidates — or, with mention slots, one mention per
    valid slot, the entity count ``P(n)`` and the likeliest readings."""
    if res.slots is None:
        return [Mention(text, a, b, p, [Scored(e, kg.label(e), q) for e, _, q in cands])
                for text, (a, b), p, cands in res.best(0, spans=3, entities=TOP_CANDIDATES)], [], []
    slots, chosen = res.slots, res.slots.chosen[0].tolist()
    mentions, index = [], {}
    for m in range(slots.valid.shape[1]):
        if not slots.valid[0, m]:
            continue
        s = int(slots.span_weight[0, m].argmax())
        start, end = res.span_chars[0, s].tolist()
        index[m] = len(mentions)
        mentions.append(Mention(res.span_texts[0][s], start, end, chosen[m], _scored(kg, slots.x0[0, m], TOP_CANDIDATES)))
    weights = slots.combo_weights[0]
    order = weights.argsort(descending=True)[:TOP_READINGS].tolist()
    readings = [Reading([index[m] for m in slots.combos[c] if m in index], float(weights[c]))
                for c in order if float(weights[c]) > 0 and all(m in index for m in slots.combos[c])]
    return mentions, [float(p) for p in slots.count_probs[0].tolist()], readings


def slot_index(res: ResolverOutput) -> dict[int, int]:
    """Mention slot → its index among question 0's valid slots (the order of ``Trace.mentions``)."""
    valid = res.slots.valid[0].tolist()
    return {m: i for i, m in enumerate(m for m, ok in enumerate(valid) if ok)}
