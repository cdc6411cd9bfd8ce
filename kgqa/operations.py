"""The operation controller: per question a distribution over programs, each run on the branches.

Follow and intersect cannot answer "how many films did D direct" (the answer is a number, not an
entity), "the most recent film directed by D" (the answer is one member of a set, chosen by a value)
or "films starring A not directed by B" (the second set is taken away, not intersected). The
controller adds those operations on top of the branches the model already walks — one per topic
entity, each with its own relations and hop attention — and mixes their answers::

    π   = softmax(W_π g(q))        over PROGRAMS, masked by arity                     (B, P)
    α   = softmax(W_α g(q))        over the numeric attributes (release_year, ...)     (B, A)
    ρ   = softmax_k(w · h_k)       which branch a difference keeps                     (B, K)

    follow      ŷ¹                                     one topic
    count       p(n) ∝ exp(−(n − Σ_e ŷ¹_e)² / 2σ²),  n = 0..max_count                  (B, C+1)
    argmax/min  Σ_a α_a · superlative(ŷ¹, a)           (kgqa.numeric)
    intersect   min_k ŷᵏ                               two or more topics
    union       max_k ŷᵏ                     gate g = Π_k min(1, Σ_e (ŷᵏ_e − ō^k_e)⁺)   each branch adds a member
    difference  (Σ_k ρ_k ŷᵏ) ⊙ (1 − Σ_k ρ_k ō^k)     g = Σ_k ρ_k min(1, Σ_e min(ŷᵏ, ō^k))    the kept set loses one
                ō^k = max_{j≠k} ŷʲ, what the other branches reach; every other program has g = 1

    scores = [Σ_{p ≠ count} π_p · g_p · answer_p  ;  π_count · p(n)]                    (B, E + C + 1)

The answer space is the entities followed by ``C + 1`` *count slots*, the numbers ``0..max_count``:
a count question's gold answer is the slot of its number (:func:`kgqa.inputs.example_indices`), so
one loss over that answer space trains every program, the controller that mixes them and the
relations inside the branches, from question–answer pairs alone. Which program a question needs is
never given (:attr:`QAExample.operation <kgqa.datasets.QAExample.operation>` is measured only).

Why is ρ mixed *inside* the difference and not over two differences? Mixed outside,
``½·a⊙(1−b) + ½·b⊙(1−a)`` is the symmetric difference — for the nearly disjoint sets of an "or"
question, the union: the ``difference`` program could answer every union question, and which
program the controller chose would mean nothing. Mixed inside, an undecided ρ scores at most
``½ · ½ = ¼``: the difference has to pick a side.

How is it trained? ``ModelConfig.program_loss``:

- ``"marginal"`` (the default): every program's answer is scored on its own and the programs are
  marginalised, ``L = −log Σ_p π_p · exp(−bce(answer_p, gold))`` (:func:`program_loss`). The
  gradient reaching a program's answer is weighted by its responsibility, so a program that does
  not fit a question barely trains the branches on it.
- ``"mixed"``: the mixed answer is scored, ``bce(Σ_p π_p · answer_p, gold)``. While π is still
  spread, the union's share on an intersection question puts weight on every member of both
  branches ("comedies directed by D": all of the genre's films) and the loss pushes it down —
  teaching the branches to shrink although the program is what is wrong.

- ``"expected"``: the programs' own losses weighted by π, ``Σ_p π_p · bce(answer_p, gold)``.

``benchmarks/operations.py --program-loss marginal,expected,mixed`` compares them (docs/results.md,
"Operations beyond follow"): at 200 questions per template the program is right for 100.00% of the
test questions with the marginal loss (all 98.81), 100.00% with the mixed one (97.06: its
intersections 94.44) and 78.73% with the expected one, which sends the unions to the difference.

Why the gates? A union to which one branch adds nothing, or a difference that removes nothing, is
the follow of one branch in disguise: without them the controller can answer an intersection
question whose second branch it has not learned yet ("comedies directed by D", the branch from
*Comedy* reaching nothing) with such a union — D's films — and then the branch never learns
``has_genre⁻¹``, because the intersection never becomes the likelier program. A gate ``g_p`` says
how far program ``p`` applies to the sets at all, and it weighs the *program* — ``π_p · g_p`` in
the marginal likelihood and in the mixed answer — not the program's answer: ``g · a`` would be a
calibrated soft follow (every member of ``a`` at ``g``), which the bce prefers to an honest
intersection with an unlearned branch, while ``g`` times the likelihood of ``a`` itself is the
disguised follow's own poor score, made worse.

Why ``entity_kinds``? Gates cannot stop a branch from reaching nothing: with free relation weights
the branch from *Comedy* can put them on relations that never leave a genre, and every two-set
program is then about one branch. With ``ModelConfig(entity_kinds=True)`` a hop weighs only the
relations that leave its entities, so that branch reaches the comedies from the first step, and
the intersection is the program that fits. Both measured on ``metaqa-ops`` (200 questions per
template, 8 epochs; ``benchmarks/operations.py --sizes 200,30,60 --epochs 8 --entity-kinds on,off
--tag kinds``): the program is right for 93.25% of the test questions without entity kinds
(intersections 60.56 Hits@1) and for 100.00% with them (intersections 100.00).

Arity is structure, not supervision: a program that needs two sets is masked out for a question
with one topic, and a one-set program for a question with two. Within each group the controller has
to choose from the question alone.

Why a Gaussian over count slots and not a regression on the expected size? A squared error on
``Σ_e ŷ_e`` trains the count, but the controller then has no common scale on which to compare "the
answer is 7" with "the answer is this film": the slot distribution puts both in one answer space,
scored by the same loss and read off by the same argmax (Hits@1 is "the predicted count, rounded,
equals the gold count"). ``σ`` (``ModelConfig.count_sigma``) sets how sharply a count is rewarded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .kg import KnowledgeGraph
from .numeric import NumericValues, superlative

if TYPE_CHECKING:  # pragma: no cover
    from .datasets import QAExample
    from .qa import QASystem

__all__ = ["PROGRAMS", "PAIR_PROGRAMS", "OperationController", "Operations", "answer_label", "count_distribution",
           "program_loss", "program_means"]

PROGRAMS = ("follow", "intersect", "union", "difference", "count", "argmax", "argmin")
PAIR_PROGRAMS = frozenset({"intersect", "union", "difference"})  # need two or more topics
_PAIR = torch.tensor([p in PAIR_PROGRAMS for p in PROGRAMS])
EPS = 1e-10


def count_distribution(size: torch.Tensor, max_count: int, sigma: float) -> torch.Tensor:
    """``(B, C+1)`` distribution over the counts ``0..max_count`` centred on the expected sizes
    ``size (B,)``: ``p(n) ∝ exp(−(n − size)² / 2σ²)``."""
    n = torch.arange(max_count + 1, device=size.device, dtype=size.dtype)
    return torch.softmax(-((n[None] - size[:, None]) ** 2) / (2 * sigma ** 2), dim=1)


def answer_label(kg: KnowledgeGraph, index: int) -> str:
    """The id of answer ``index``: an entity, or for a count slot (``index >= E``) its number."""
    return kg.entities[index] if index < kg.num_entities else str(index - kg.num_entities)


@torch.inference_mode()
def program_means(system: QASystem, examples: Sequence[QAExample], *, batch: int = 256) -> dict[str, dict[str, float]]:
    """Per question type (``qtype``, else the gold operation), the mean of the controller's program
    distribution π over ``examples``: what the controller chose for each kind of question. Raises
    ValueError for a system without the controller."""
    if system.model.operations is None:
        raise ValueError("this system has no operation controller (train it with operations=True)")
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    system.model.eval()
    for start in range(0, len(examples), batch):
        part = examples[start: start + batch]
        out, _ = system.forward(part)
        for ex, p in zip(part, out.operations.program.float().cpu()):
            key = ex.qtype or ex.operation or "-"
            sums[key] = sums.get(key, torch.zeros(len(PROGRAMS))) + p
            counts[key] = counts.get(key, 0) + 1
    return {k: {p: float(v) / counts[k] for p, v in zip(PROGRAMS, sums[k])} for k in sorted(sums)}


@dataclass
class Operations:
    """What the controller computed for a batch (fields of :class:`kgqa.model.QAOutput`)."""

    scores: torch.Tensor  # (B, E + C + 1) mixed answer: entities, then the count slots
    program: torch.Tensor  # (B, P) π over PROGRAMS
    attribute: torch.Tensor | None  # (B, A) α over the numeric attributes (None without any)
    keep: torch.Tensor  # (B, K) ρ: which branch a difference keeps
    size: torch.Tensor  # (B,) expected size of the first branch's answer set (what count reads)
    gates: torch.Tensor  # (B, P) in [0, 1]: whether each program applies to the sets (union, difference)
    answers: dict[str, torch.Tensor] | None = None  # while training with the marginal or expected program
    # loss, each program's own answer, ungated: (B, E) over the entities, (B, C + 1) for count (what
    # program_loss scores; a program absent here answers nothing)


class OperationController(nn.Module):
    """The program, attribute and keep heads and the programs themselves (module docstring).

    Args:
        question_dim: H, the question vectors' size. branch_dim: D, the branch trunk states' size.
        hidden: width of the controller's own trunk.
        values: the numeric attributes a superlative compares by (None: no argmax/argmin).
        max_count: C, the largest count it can answer. sigma: width of the count distribution.
    """

    def __init__(self, question_dim: int, branch_dim: int, hidden: int, values: NumericValues | None,
                 max_count: int = 20, sigma: float = 0.5, marginal: bool = True) -> None:
        super().__init__()
        self.values, self.max_count, self.sigma, self.marginal = values, max_count, sigma, marginal
        self.trunk = nn.Sequential(nn.Linear(question_dim, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.program_head = nn.Linear(hidden, len(PROGRAMS))
        n_attr = len(values.attributes) if values is not None else 0
        self.attribute_head = nn.Linear(hidden, n_attr) if n_attr else None
        self.keep_head = nn.Linear(branch_dim, 1)

    def forward(self, q: torch.Tensor, grid: torch.Tensor, valid: torch.Tensor, h: torch.Tensor) -> Operations:
        """``q (B, H)`` questions, ``grid (B, K, E)`` branch answers (0 where not valid), ``valid
        (B, K)`` bool, ``h (B, K, D)`` branch trunk states → :class:`Operations`."""
        B, K, E = grid.shape
        g = self.trunk(q)  # (B, hidden)
        pair = (valid.sum(dim=1) >= 2)[:, None]  # (B, 1)
        allowed = torch.where(pair, _PAIR.to(q.device)[None], ~_PAIR.to(q.device)[None])  # (B, P)
        if self.values is None:
            allowed = allowed & torch.tensor([p not in ("argmax", "argmin") for p in PROGRAMS], device=q.device)
        program = torch.softmax(self.program_head(g).masked_fill(~allowed, float("-inf")), dim=-1)  # (B, P)
        sets = grid.clamp(0.0, 1.0)  # (B, K, E) fuzzy sets: a path count above 1 is membership 1
        first = sets[:, 0]  # (B, E)
        out = {"follow": grid[:, 0]}
        gates = grid.new_ones(B, len(PROGRAMS))  # (B, P) does the program apply to these sets at all?
        if K >= 2:
            big = torch.where(valid[..., None], sets, torch.ones_like(sets))  # a missing branch: no constraint
            out["intersect"] = big.min(dim=1).values
            keep = torch.softmax(self.keep_head(h).squeeze(-1).masked_fill(~valid, float("-inf")), dim=-1)  # (B, K)
            kept, removed, removes = grid.new_zeros(B, E), grid.new_zeros(B, E), grid.new_zeros(B, 1)
            adds = grid.new_ones(B, 1)
            for k in range(K):  # the kept set and what the others remove, each weighed by ρ_k
                others = torch.cat([sets[:, :k], sets[:, k + 1:]], dim=1).max(dim=1).values  # (B, E)
                new = (sets[:, k] - others).clamp(min=0.0).sum(dim=1, keepdim=True).clamp(max=1.0)  # (B, 1)
                adds = adds * torch.where(valid[:, k: k + 1], new, torch.ones_like(new))  # does branch k add a member?
                kept = kept + keep[:, k: k + 1] * sets[:, k]
                removed = removed + keep[:, k: k + 1] * others
                overlap = torch.minimum(sets[:, k], others).sum(dim=1, keepdim=True).clamp(max=1.0)  # (B, 1)
                removes = removes + keep[:, k: k + 1] * overlap  # does the kept branch lose a member?
            out["union"] = sets.max(dim=1).values
            out["difference"] = kept * (1.0 - removed)
            gates[:, PROGRAMS.index("union")] = adds[:, 0]  # a union to which a branch adds nothing is none
            gates[:, PROGRAMS.index("difference")] = removes[:, 0]  # a difference that removes nothing is none
        else:
            keep = valid.to(grid.dtype)
        attribute = None
        if self.values is not None:
            attribute = torch.softmax(self.attribute_head(g), dim=-1)  # (B, A)
            for name, which in (("argmax", "max"), ("argmin", "min")):
                out[name] = sum(attribute[:, a: a + 1] * superlative(first, self.values, a, which)  # type: ignore[misc]
                                for a in range(len(self.values.attributes)))
        entity = grid.new_zeros(B, E)
        for i, name in enumerate(PROGRAMS):
            if name in out:
                entity = entity + program[:, i: i + 1] * gates[:, i: i + 1] * out[name]
        size = first.sum(dim=1)  # (B,)
        slots = count_distribution(size, self.max_count, self.sigma)  # (B, C + 1)
        counts = program[:, PROGRAMS.index("count"), None] * slots
        answers = None
        if self.training and self.marginal:  # each program's answer on its own, for program_loss
            answers = {**out, "count": slots}
        return Operations(torch.cat([entity, counts], dim=1), program, attribute, keep, size, gates, answers)


def program_loss(answers: torch.Tensor | Mapping[str, torch.Tensor], program: torch.Tensor, gold: torch.Tensor,
                 kind: str = "marginal", gates: torch.Tensor | None = None) -> torch.Tensor:
    """The marginal likelihood of the gold answers over the programs, as a mean loss::

        L = −log Σ_p π_p · g_p · exp(−bce(answer_p, gold))                              (B,) → ()

    ``answers``: each program's own answer, ``(B, P, N)`` over the whole answer space, or as
    :attr:`Operations.answers` (by program name: ``(B, E)`` over the entities, ``(B, C + 1)`` for
    count; a program absent answers nothing) — the same loss, computed only where π allows the
    program; ``program (B, P)`` π, ``gold (B, N)`` multi-hot, ``gates (B, P)`` g (default 1): whether
    the program applies to the sets at all; ``bce`` is summed over the ``N`` answers (entities and
    count slots). The gradient reaching a program's answer is weighted by that program's
    *responsibility* — its share of the likelihood — so a program that does not fit a question (a
    union on an intersection question) barely trains the branches on it (see the module
    docstring). ``kind="expected"``: ``Σ_p π_p · bce(g_p · answer_p)``."""
    if gates is None:
        gates = torch.ones_like(program)
    bce = (_program_bce(answers, program, gold, gates if kind == "expected" else None)
           if isinstance(answers, Mapping) else
           _bce(answers * gates[..., None] if kind == "expected" else answers, gold))
    if kind == "expected":
        return (program * bce.masked_fill(program == 0, 0.0)).sum(dim=1).mean()
    weight = program * gates
    log_w = torch.where(program > 0, torch.log(weight.clamp_min(1e-30)), torch.full_like(program, float("-inf")))
    return -torch.logsumexp(log_w - bce, dim=1).mean()


def _bce(p: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """``Σ_n bce(p_n, gold_n)`` over the last axis of ``p (B, ..., N)``, ``gold (B, N)`` multi-hot:
    ``Σ_n −log(1 − p_n) + Σ_{n gold} (log(1 − p_n) − log p_n)`` — one pass over ``p`` and a gather
    at the few gold entries, instead of scoring every entry both ways."""
    out = -torch.log1p(-p.clamp(max=1 - 1e-6)).sum(dim=-1)  # (B, ...)
    rows, cols = gold.nonzero(as_tuple=True)  # (G,) the gold entries
    at = p.movedim(-1, 1)[rows, cols]  # (G, ...)
    return out.index_add(0, rows, torch.log1p(-at.clamp(max=1 - 1e-6)) - torch.log(at.clamp(min=EPS)))


def _program_bce(answers: Mapping[str, torch.Tensor], program: torch.Tensor, gold: torch.Tensor,
                 gates: torch.Tensor | None) -> torch.Tensor:
    """``(B, P)`` bce of each program's answer (by name, entities or count slots) on the rows where
    π allows it (0 elsewhere); the part of the answer space a program leaves empty costs
    ``−log EPS`` per gold answer there, without being written out."""
    E = next(a.shape[1] for name, a in answers.items() if name != "count")
    bce = program.new_zeros(program.shape)
    gold_e, gold_c = gold[:, :E].sum(dim=1).to(bce.dtype), gold[:, E:].sum(dim=1).to(bce.dtype)  # (B,)
    for i, name in enumerate(PROGRAMS):
        rows = (program[:, i] > 0).nonzero(as_tuple=True)[0]
        if not len(rows):
            continue
        if name not in answers:
            bce[rows, i] = -math.log(EPS) * (gold_e[rows] + gold_c[rows])
            continue
        a = answers[name][rows] if gates is None else answers[name][rows] * gates[rows, i, None]
        own, empty = (gold[rows, E:], gold_e[rows]) if name == "count" else (gold[rows, :E], gold_c[rows])
        bce = bce.index_put((rows, torch.full_like(rows, i)), _bce(a, own) - math.log(EPS) * empty)
    return bce
