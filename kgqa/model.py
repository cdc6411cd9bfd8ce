"""The end-to-end QA model (the baseline of the method): relations per hop, follow, hop attention.

Given a question vector ``q`` and its topic entities ``x_0``, the model never sees a query. It
predicts, for each hop ``t = 1..T``, a distribution over relations and follows it through the
differentiable knowledge graph, then mixes the hops with a learned attention::

    h   = MLP(q)                                   question trunk           (B, D)
    r_t = softmax(W_t [h; r_1; ...; r_{t-1}])     relations for hop t      (B, R)
    x_t = follow(x_{t-1}, r_t)                    entities after hop t     (B, E)
    a   = softmax(W_a h)                          attention over hops      (B, T)
    ŷ   = Σ_t a_t x_t                             answer scores            (B, E)

Conditioning ``r_t`` on the earlier relation distributions (rather than on ``q`` alone, as a
fixed per-hop projection would) lets the model learn *paths*: "films starring X" then "their
writers" — the second relation depends on what the first one was. Only the answers supervise it.

The topic entities are given, so their mentions are masked before encoding by default
(``mask_mentions``: "What city is something in?"): the relation heads then learn the question's
shape instead of memorising entity names (``benchmarks/qa_accuracy.py --datasets toy`` with and
without ``--no-mask`` measures it).

Masking the mention also hides what *kind* of thing the topic is: "What city is something in?"
is one hop from a museum (``located_in``) and two from a painting (``exhibited_at``, then
``located_in``). The graph knows the kind — the relations that leave an entity: a painting has
``exhibited_at`` and ``created^-1``, a museum ``located_in`` and ``exhibited_at^-1``. With
``entity_kinds``, the model reads it (:meth:`~kgqa.follow.ReifiedKG.relations_leaving`)::

    r_t = softmax over the relations leaving some entity of x_{t-1}   no mass sent where it is lost
    κ_t = share of x_t's weight with each relation leaving it          the kind of hop t's entities (B, R)
    a   = softmax_t(W_a h + (U h) · κ_t)                               the hop whose entities are the
                                                                      kind the question asks for

so the hop attention picks the city, not the museum, for either topic. ``κ_t`` is read, not
trained through: no gradient flows from it into ``x_t``, so the hop attention cannot pull a text
model's resolver toward entities of the kind it expects (measured: that costs 2 points on toy-full).
On the toy world the kinds are worth 4 points with given entities; with entities read from the text,
which sees the names, they trade generated for hand-written questions at about the same total
(``benchmarks/entity_kinds.py``; docs/results.md, "Entity kinds").

Two losses (``ModelConfig.loss``), measured against each other with ``benchmarks/qa_accuracy.py
--loss`` and ``benchmarks/entity_resolution.py --loss`` (docs/results.md, "End-to-end QA" and
"Entities from text alone", has the tables):

- ``"bce"``: ``x_t`` is left as path counts, ``ŷ`` is clamped to ``[0, 1]`` and compared with the
  multi-hot answer vector by binary cross-entropy, as in ReifKB: every gold answer is scored on
  its own, so a walk must reach *all* of them. The default, with topic entities given or read by
  a resolver: it trains as well or better on the real datasets, stops sooner, and keeps a text
  model from the shortcut described next.
- ``"softmax"``: facts are weighted as a random walk — a fact ``(s, r, o)`` gets
  ``1 / |{o' : (s, r, o')}|`` (:func:`random_walk_weights`) — so ``x_t`` stays a probability
  distribution over entities *except for the mass sent along relations that lead nowhere*, and
  the loss is ``-log Σ_{a ∈ answers} ŷ_a`` (cross-entropy with the gold set as one event).
  Mass lost to a wrong relation is lost for good, which is what pushes ``r_t`` to be sharp;
  renormalising ``x_t`` after each hop would forgive it. The loss asks only that the mass land
  *inside* the gold set, not that it cover it — a precision objective. With entities read from
  the text that is a weakness: a walk from a wrong start that reaches the answers common to many
  questions (MetaQA 3-hop: the commonest languages and genres) loses little, and the resolver
  learns to read template words as film titles. The default for a text model that may find
  several entities (``entities="text"`` with an ``intersection``): it mixes its readings of the
  question as distributions (:mod:`kgqa.resolve.mentions`), which a clamp at 1 would not allow.

``loss="auto"`` (the default) picks between them by that rule; :attr:`ModelConfig.objective` is
the one in use.

Questions with several topic entities ("Who did Natalie Portman play in Star Wars Episode II?")
are answered one of two ways (``ModelConfig.intersection``):

- ``"none"`` (the paper's baseline): all topics share ``x_0`` (equal weights) and one relation
  sequence; the answer is whatever the mixed walk reaches most.
- ``"min"`` (Rigel-Intersect, Sen et al. 2021) or ``"product"``: one *branch* per topic entity
  ``k``, each with its own trunk input ``[q; s_k]`` — ``s_k`` is the contextual embedding of the
  entity's mention, so two branches of one question differ — hence its own relations per hop and
  hop attention; the branch answers are combined element-wise::

      ŷ = min_k ŷ^(k)        (or  Π_k ŷ^(k))                                        (B, E)

  An entity scores only if *every* branch reaches it. A question with one topic is one branch,
  and passes through unchanged.

With the entities found in the text (``entities="text"`` and a resolver that finds several,
:mod:`kgqa.resolve.mentions`) the branches start from *mention slots*, and which slots are entities — and
how many — is latent: :meth:`Starts.from_slots` mixes the branch combinations of every
reading of the question, ``ŷ = Σ_c w_c · normalise(min_{k ∈ c} ŷ^(k))``.

With ``operations`` (given entities, branches), the branch answers are not combined by one fixed
rule: the operation controller (:mod:`kgqa.operations`) predicts per question a program — follow,
intersect, union, difference, count, argmax, argmin — runs each on the branches and mixes their
answers by its probability; ``scores`` then also hold the count slots ``0..max_count`` after the
entities. Train it with ``entity_kinds=True`` (``kgqa train --operations`` turns both on): a branch
that can reach nothing lets a union pass for the intersection it has not learned yet (the
:mod:`kgqa.operations` docstring has the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from .follow import Kernel, ReifiedKG, follow
from .numeric import NumericValues
from .operations import OperationController, Operations
from .starts import READING_FLOOR, Starts

__all__ = ["ModelConfig", "QAOutput", "Starts", "EndToEndQA", "answer_loss", "random_walk_weights", "LOSSES"]

LOSSES = ("auto", "softmax", "bce")  # the values of ModelConfig.loss

EPS = 1e-10


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :class:`EndToEndQA`."""

    hops: int = 3  # T: maximum number of follow steps; the hop attention picks how many are used
    hidden: int = 256  # width of the question trunk h
    dropout: float = 0.1  # dropout on the trunk during training
    loss: Literal["auto", "softmax", "bce"] = "auto"  # see the module docstring; "auto": "bce", but
    # "softmax" for a text model that mixes readings of several entities (`objective` resolves it)
    mask_topics: bool | None = None  # drop the topic entities from every hop's x_t, so neither
    # an answer nor an intermediate set contains them ("films that share actors with X" are films
    # other than X, as in MetaQA); None: fit() decides from the training answers (masked unless
    # >= 1% of them contain their own topic, as PathQuestion's "X's spouse's spouse" does)
    condition_on_previous: bool = True  # r_t sees r_1..r_{t-1} (False: r_t from h alone)
    hop_attention: bool = True  # False (an ablation): every question walks all T hops, ŷ = x_T
    mask_mentions: bool = True  # encode the question with each topic mention replaced by a placeholder
    intersection: Literal["none", "min", "product"] = "none"  # several topics: "none" sums them into
    # x_0 (the baseline); "min"/"product" follow one branch per topic and combine the branch answers
    branch_mentions: bool = True  # with branches: each branch also sees its mention's embedding s_k
    entity_kinds: bool = False  # read the kind of each hop's entities off the graph: a hop weighs
    # only relations that leave them, and the hop attention sees what each hop reached (docstring)
    entities: Literal["given", "span", "text"] = "given"  # where x_0 comes from: "given" topic
    # entities (the baseline); "span": the gold mention spans are given and a learned resolver picks
    # the entity (ER); "text": spans and entities both learned from the text alone (E2E). The
    # resolver variants encode the question as it is (no mention masking).
    operations: bool = False  # the operation controller (kgqa.operations): per question a program
    # (follow, intersect, union, difference, count, argmax, argmin) run on the branches; needs branches,
    # and learns with entity_kinds (module docstring)
    attributes: tuple[str, ...] = ()  # the numeric relations argmax/argmin compare by (() with
    # operations: every relation whose objects are all numbers, found when the system is built)
    max_count: int = 20  # the largest count the controller answers (count slots 0..max_count)
    count_sigma: float = 0.5  # width of the count distribution over the slots
    program_loss: Literal["marginal", "expected", "mixed"] = "marginal"  # with operations: "marginal" scores each
    # program's own answer and marginalises over π (kgqa.operations.program_loss); "mixed" scores
    # the π-mixed answer with `loss`

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))  # a list when read from JSON
        if self.hops < 1:
            raise ValueError(f"hops must be at least 1, got {self.hops}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'auto', 'softmax' or 'bce', got {self.loss!r}")
        if self.intersection not in ("none", "min", "product"):
            raise ValueError(f"intersection must be 'none', 'min' or 'product', got {self.intersection!r}")
        if self.entities not in ("given", "span", "text"):
            raise ValueError(f"entities must be 'given', 'span' or 'text', got {self.entities!r}")
        if self.operations and (not self.branched or self.entities != "given"):
            raise ValueError("operations run on one branch per topic entity with the entities given: pass "
                             "intersection='min' (or 'product') and entities='given'")
        if self.program_loss not in ("marginal", "expected", "mixed"):
            raise ValueError(f"program_loss must be 'marginal', 'expected' or 'mixed', got {self.program_loss!r}")
        if self.max_count < 1 or self.count_sigma <= 0:
            raise ValueError(f"max_count must be >= 1 and count_sigma > 0, got {self.max_count}, {self.count_sigma}")

    @property
    def objective(self) -> Literal["softmax", "bce"]:
        """The loss in use: ``loss``, with ``"auto"`` read as ``"softmax"`` for a text model with
        branches (it mixes readings of several entities as distributions) and ``"bce"`` otherwise
        (see the module docstring)."""
        if self.loss != "auto":
            return self.loss
        return "softmax" if self.entities != "given" and self.branched else "bce"

    @property
    def branched(self) -> bool:
        """One branch per topic entity (``intersection`` is ``"min"`` or ``"product"``)."""
        return self.intersection != "none"

    @classmethod
    def quick(cls) -> ModelConfig:
        """A small preset for quick mode and tests."""
        return cls(hidden=64)

    def with_(self, **changes: object) -> ModelConfig:
        return replace(self, **changes)


@dataclass
class QAOutput:
    """What the model computed for a batch; everything a reader may want to look at."""

    scores: torch.Tensor  # (B, E) answer scores ŷ (topic entities zeroed when masked)
    relations: torch.Tensor  # (B, T, R) relation distribution per hop
    hop_attention: torch.Tensor  # (B, T) attention over hops
    hop_entities: torch.Tensor | None = None  # (B, T, E) x_t per hop, when asked for
    # with branches (one per topic entity; K = most topics in the batch), else None; `relations`,
    # `hop_attention` and `hop_entities` above are then those of each question's first branch
    branch_valid: torch.Tensor | None = None  # (B, K) bool, True where question b has a k-th topic
    branch_scores: torch.Tensor | None = None  # (B, K, E) answer of each branch (0 where not valid)
    branch_relations: torch.Tensor | None = None  # (B, K, T, R)
    branch_hop_attention: torch.Tensor | None = None  # (B, K, T)
    branch_hop_entities: torch.Tensor | None = None  # (B, K, T, E) x_t of every branch, when asked for
    operations: Operations | None = None  # with the operation controller: π, α, ρ and the expected
    # size; `scores` is then (B, E + C + 1): the entities, then the count slots 0..max_count


class EndToEndQA(nn.Module):
    """Relation prediction per hop + differentiable follow + hop attention (module docstring).

    Args:
        num_relations: R, the relations of the knowledge graph (inverses included).
        question_dim: H, the size of the question vectors ``q`` it is given.
        config: the hyper-parameters.
        kernel: how ``follow`` runs (:mod:`kgqa.follow`: ``"auto"``, ``"fused"``, ``"torch"``); an
            execution choice like the device, not part of the saved model.
    """

    def __init__(self, num_relations: int, question_dim: int, config: ModelConfig = ModelConfig(),
                 *, kernel: Kernel = "auto", values: NumericValues | None = None) -> None:
        super().__init__()
        self.config = config
        self.kernel = kernel
        self.num_relations = num_relations
        self.question_dim = question_dim
        d, r = config.hidden, num_relations
        trunk_in = question_dim * (2 if config.branched and config.branch_mentions else 1)  # [q; s_k]
        self.trunk = nn.Sequential(nn.Linear(trunk_in, d), nn.GELU(), nn.Dropout(config.dropout), nn.LayerNorm(d))
        extra = (lambda t: t * r) if config.condition_on_previous else (lambda t: 0)
        self.relation_heads = nn.ModuleList(nn.Linear(d + extra(t), r) for t in range(config.hops))
        self.hop_head = nn.Linear(d, config.hops)
        if config.entity_kinds:  # the kind of answer the question asks for, as relations leaving it
            self.answer_kind = nn.Linear(d, r)
        self.operations = (OperationController(question_dim, d, d, values, config.max_count, config.count_sigma,
                                               marginal=config.program_loss != "mixed")
                           if config.operations else None)  # `values`: the numeric attributes (kgqa.numeric)

    def forward(self, kb: ReifiedKG, q: torch.Tensor, starts: Starts, *, topic_mask: torch.Tensor | None = None,
                keep_hops: bool = False) -> QAOutput:
        """Answer a batch: walk from each of ``starts``' start sets and combine the walks' answers.

        One forward covers the three ways a question's entities arrive (:class:`Starts`): summed
        into one start set (``intersection="none"``), one branch per given topic, or one branch
        per mention slot mixed over the readings of the question (text models).

        Args:
            kb: the reified knowledge graph to follow relations in.
            q: ``(B, H)`` float question vectors.
            starts: where the walks start and how their answers combine.
            topic_mask: ``(B, E)`` bool, entities to exclude from the answer (``mask_topics``), or
                float in [0, 1]: the share of each entity's score to remove (a resolved, soft x_0).
            keep_hops: also return every ``x_t`` (memory ``B·K·T·E`` floats).
        """
        if not isinstance(starts, Starts):
            raise TypeError(f"starts must be a Starts (Starts.summed(x0) for one walk from x0), got {type(starts).__name__}")
        B, K = starts.valid.shape
        if q.dim() != 2 or q.shape != (B, self.question_dim):
            raise ValueError(f"q must be (B, H) = ({B}, {self.question_dim}), got {tuple(q.shape)}")
        if starts.x0.dim() != 3 or starts.x0.shape[:2] != (B, K) or starts.x0.shape[2] != kb.num_entities:
            raise ValueError(f"Starts.x0 must be (B, K, E) = ({B}, {K}, {kb.num_entities}), got {tuple(starts.x0.shape)}")
        if not self.config.branched:
            if K != 1 or len(starts.combos) != 1:
                raise ValueError("this model sums its topics into one start set (intersection='none'): pass "
                                 "Starts.summed(x0)")
            return self._walk(kb, self.trunk(q), starts.x0[:, 0], topic_mask, keep_hops)
        if self.config.branch_mentions and (starts.mentions is None or starts.mentions.shape[:2] != (B, K)):
            raise ValueError(f"a branch reads its mention: Starts.mentions must be (B, K, H) = ({B}, {K}, "
                             f"{self.question_dim})")
        return self._branches(kb, q, starts, topic_mask, keep_hops)

    def _branches(self, kb: ReifiedKG, q: torch.Tensor, starts: Starts, topic_mask: torch.Tensor | None,
                  keep_hops: bool) -> QAOutput:
        """Walk every valid branch ``(b, k)`` from ``x0[b, k]`` with trunk input ``[q_b; m_bk]``,
        then ``ŷ = Σ_c w_c · combine_{k ∈ c} ŷ^(k)`` (each combination normalised if asked)."""
        x0, valid, mentions, combos, weights = starts.x0, starts.valid, starts.mentions, starts.combos, starts.weights
        B, K, E = x0.shape
        b_idx, k_idx = valid.nonzero(as_tuple=True)  # (N,) the branches, question by question
        feats = q[b_idx]  # (N, H)
        if self.config.branch_mentions:
            feats = torch.cat([feats, mentions[b_idx, k_idx]], dim=-1)  # (N, 2H)
        mask = topic_mask[b_idx] if topic_mask is not None else None
        h = self.trunk(feats)  # (N, D)
        out = self._walk(kb, h, x0[b_idx, k_idx], mask, keep_hops)
        flat = b_idx * K + k_idx  # (N,) row of each branch in the (B*K) grid

        def per_branch(x: torch.Tensor) -> torch.Tensor:  # (N, ...) -> (B, K, ...), zeros off `valid`
            return x.new_zeros((B * K, *x.shape[1:])).index_put((flat,), x).view(B, K, *x.shape[1:])

        grid = per_branch(out.scores)  # (B, K, E)
        ops = self.operations(q, grid, valid, per_branch(h)) if self.operations is not None else None
        combined = ops.scores if ops is not None else grid.new_zeros(B, E)
        for c, combo in enumerate(combos if ops is None else ()):  # a handful of combinations, each over the batch
            part = grid[:, combo[0]]
            for k in combo[1:]:
                part = torch.minimum(part, grid[:, k]) if self.config.intersection == "min" else part * grid[:, k]
            if starts.normalize:
                part = part / part.sum(dim=1, keepdim=True).clamp(min=READING_FLOOR)
            combined = combined + weights[:, c: c + 1] * part
        branch_rel, branch_att = per_branch(out.relations), per_branch(out.hop_attention)
        kept = per_branch(out.hop_entities) if keep_hops else None
        return QAOutput(scores=combined, relations=branch_rel[:, 0], hop_attention=branch_att[:, 0],
                        hop_entities=kept[:, 0] if keep_hops else None, branch_valid=valid, branch_scores=grid,
                        branch_relations=branch_rel, branch_hop_attention=branch_att, branch_hop_entities=kept,
                        operations=ops)

    def _walk(self, kb: ReifiedKG, h: torch.Tensor, x0: torch.Tensor, topic_mask: torch.Tensor | None,
              keep_hops: bool) -> QAOutput:
        """The hops from trunk states ``h (N, D)`` and start sets ``x0 (N, E)``."""
        mask = bool(self.config.mask_topics) and topic_mask is not None
        if mask and topic_mask.dtype == torch.bool:  # a few topics per row: zero them by index, not
            topic_mask = topic_mask.nonzero(as_tuple=True)  # a pass over a (N, E) mask every hop
        rels: list[torch.Tensor] = []
        x = x0
        hop_logits = self.hop_head(h)  # (N, T)
        kinds = self.config.entity_kinds
        wanted = self.answer_kind(h) if kinds else None  # (N, R)
        kept, fits = [], []
        # (N, R) weight of x_{t-1} with each relation leaving it: read once per hop, used twice (the
        # relations hop t may take, and the kind of hop t-1's entities); not trained through
        leaving = kb.relations_leaving(x.detach()) if kinds else None
        for t, head in enumerate(self.relation_heads):
            inp = torch.cat([h, *rels], dim=-1) if self.config.condition_on_previous else h
            logits = head(inp)  # (N, R)
            if kinds:  # only relations that leave x_{t-1} (all of them where x_{t-1} is empty)
                leaves = leaving > 0
                logits = logits.masked_fill(~(leaves | ~leaves.any(dim=-1, keepdim=True)), float("-inf"))
            r_t = torch.softmax(logits, dim=-1)  # (N, R)
            x = follow(kb, x, r_t, kernel=self.kernel, validate=False)  # (N, E); inputs built here, trusted
            if mask:  # "films that share actors with X" means films other than X, at every hop
                if isinstance(topic_mask, tuple):  # (in place when no gradient needs the old x)
                    zero = x.new_zeros(())
                    x = x.index_put(topic_mask, zero) if x.requires_grad else x.index_put_(topic_mask, zero)
                else:  # soft: the share of each entity's score to remove
                    if topic_mask.stride() != x.stride():  # follow returns an entity-major view; an
                        topic_mask = _like_layout(topic_mask, x)  # element-wise op across layouts is slow
                    x = x * (1.0 - topic_mask)
            if kinds:  # κ(x_t): the share of x_t's weight with each relation leaving it
                seen = x.detach()
                leaving = kb.relations_leaving(seen)
                kind = leaving / seen.sum(dim=-1, keepdim=True).clamp(min=EPS)  # (N, R)
                fits.append((wanted * kind).sum(dim=-1))  # (N,)
            rels.append(r_t)
            kept.append(x)
        hop_att = torch.softmax(hop_logits + torch.stack(fits, dim=-1) if kinds else hop_logits, dim=-1)  # (N, T)
        if not self.config.hop_attention:
            hop_att = torch.zeros_like(hop_att).index_fill_(1, torch.tensor([len(kept) - 1], device=x.device), 1.0)
        scores = hop_att[:, :1] * kept[0]  # ŷ = Σ_t a_t x_t; the products keep x's layout
        for t in range(1, len(kept)):
            scores = torch.addcmul(scores, hop_att[:, t: t + 1], kept[t])
        return QAOutput(
            scores=scores,
            relations=torch.stack(rels, dim=1),
            hop_attention=hop_att,
            hop_entities=torch.stack(kept, dim=1) if keep_hops else None,
        )


def _like_layout(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` copied into the memory layout of ``like`` (same shape): row- or entity-major."""
    return t.t().contiguous().t() if like.t().is_contiguous() else t.contiguous()


def random_walk_weights(triples: torch.Tensor) -> torch.Tensor:
    """``(T,)`` float32 weight ``1 / |{o' : (s, r, o')}|`` of each fact ``(s, r, o)`` of the
    ``(T, 3)`` int64 ``triples``: following a relation from an entity splits its weight evenly
    over the objects, so a distribution stays a (sub-)distribution."""
    key = triples[:, 0] * (int(triples[:, 1].max()) + 1 if len(triples) else 1) + triples[:, 1]  # (T,)
    _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].to(torch.float32)


def answer_loss(scores: torch.Tensor, gold: torch.Tensor, kind: str = "softmax") -> torch.Tensor:
    """Mean loss of ``(B, E)`` answer scores against the ``(B, E)`` multi-hot gold answers.

    ``"softmax"``: ``-log Σ_{a ∈ gold} ŷ_a`` for scores that form a distribution;
    ``"bce"``: binary cross-entropy of ``clamp(ŷ, 0, 1)`` against the multi-hot vector, summed
    over entities and averaged over questions (a mean over 40k entities would drown the answers).
    """
    gold = gold.to(scores.dtype)
    if kind == "softmax":
        mass = (scores * gold).sum(dim=-1)  # (B,)
        return -torch.log(mass + EPS).mean()
    if kind == "bce":
        p = scores.clamp(EPS, 1 - 1e-6)
        return nn.functional.binary_cross_entropy(p, gold, reduction="sum") / scores.shape[0]
    raise ValueError(f"loss must be 'softmax' or 'bce', got {kind!r}")
