"""A trained QA system: knowledge graph + encoder + model, ready to answer and to be evaluated.

:class:`QASystem` is what ``kgqa ask`` and ``kgqa eval`` load from a checkpoint, and what
:func:`kgqa.train.fit` returns. It owns a system's life: :meth:`~QASystem.build` a new one,
:meth:`~QASystem.forward` a batch (the one place that tells a model given its entities from one
that reads them in the text), :meth:`~QASystem.evaluate` a question set, :meth:`~QASystem.explain`
one question as a :class:`~kgqa.trace.Trace`, and :meth:`~QASystem.save_pretrained` /
:meth:`~QASystem.from_pretrained` it with the checkpoint prefixes of its parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, check_kg, load_checkpoint_files, weights_of
from .datasets import NO_SPAN, QAExample, Span
from .datasets.files import topic_mentions
from .encoders import EncoderCache, EncoderOutput, QuestionEncoder
from .explain import build_trace, slot_index, walks_of
from .follow import ReifiedKG, ShardedReifiedKG
from .inputs import (EvaluationError, build_encoder, check_answers_known, encode_distinct, encoder_input,
                     example_indices, masked_pool, span_vectors)
from .kg import KnowledgeGraph
from .log import log
from .metrics import Scores, breakdown, gold_mask, summarize
from .model import EndToEndQA, ModelConfig, QAOutput, Starts, random_walk_weights
from .numeric import NumericValues, numeric_relations
from .operations import PROGRAMS, answer_label
from .resolve import EntityResolver, ResolverConfig, ResolverOutput
from .resolve.metrics import candidate_recall, entity_accuracy, reading_accuracy, span_accuracy
from .run_record import RunConfig, kg_record
from .runtime import default_device, release_memory
from .trace import AnswerTrace, Trace

__all__ = ["QASystem", "EvaluationError", "check_answers_known", "BRACKETED"]

BRACKETED = re.compile(r"\[([^\[\]]+)\]")  # an entity marked in a typed question: "Who directed [Big]?"
RELEASE_EVERY_BATCHES = 8  # evaluation hands freed heap back this often (kgqa.runtime.release_memory)
BATCH, TEXT_BATCH = 256, 64  # questions per answering batch; a text model's are smaller: glibc keeps the heap
# they free (MetaQA 3-hop after training: +1.91 GiB resident at 256, +1.42 at 64, and faster; eval_memory.py)


class QASystem:
    """Knowledge graph, reified graph, question encoder and model, on one device."""

    def __init__(self, kg: KnowledgeGraph, encoder: QuestionEncoder, model: EndToEndQA,
                 device: torch.device | str | None = None, resolver: EntityResolver | None = None,
                 kb_group: Any = None) -> None:
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.kg = kg
        weights = random_walk_weights(kg.triples) if model.config.objective == "softmax" else None
        self.kb: ReifiedKG | ShardedReifiedKG = (  # kb_group: this rank's part of the facts (kgqa.parallel)
            ShardedReifiedKG.from_kg(kg, group=kb_group, fact_weights=weights, device=self.device)
            if kb_group is not None else ReifiedKG.from_kg(kg, fact_weights=weights, device=self.device))
        self.encoder = encoder
        self.model = model.to(self.device).eval()  # ready to answer; fit() switches to training per epoch
        if model.config.entities != "given" and resolver is None:
            raise ValueError(f"entities={model.config.entities!r} needs an EntityResolver")
        if model.config.entities != "given" and model.config.branched and resolver.config.max_entities < 2:
            raise ValueError("an intersection model that resolves its entities needs a resolver that finds "
                             "several: ResolverConfig(max_entities=2) or more")
        self.resolver = resolver.to(self.device).eval() if resolver is not None else None
        self.config: RunConfig | None = None  # the config.json it was loaded from or trained with

    @classmethod
    def build(cls, kg: KnowledgeGraph, model_config: ModelConfig, encoder: QuestionEncoder, *,
              resolver_config: ResolverConfig | None = None, device: torch.device | str | None = None,
              kernel: str = "auto", kb_group: Any = None) -> QASystem:
        """A new, untrained system over ``kg``: the model and, when the entities come from the text,
        an entity resolver (default :class:`~kgqa.resolve.ResolverConfig` finding one entity, or two
        for an intersection model). ``kernel``: how ``follow`` runs (:mod:`kgqa.follow`); ``kb_group``:
        a :mod:`torch.distributed` group over whose ranks the facts are sharded (:mod:`kgqa.parallel`)."""
        values = None
        if model_config.operations:  # the numeric attributes a superlative compares by, found once
            model_config = model_config.with_(attributes=model_config.attributes or tuple(numeric_relations(kg)))
            values = NumericValues.from_kg(kg, model_config.attributes) if model_config.attributes else None
        model = EndToEndQA(kg.num_relations, encoder.dim, model_config, kernel=kernel, values=values)  # type: ignore[arg-type]
        resolver = None
        if model_config.entities != "given":
            resolver_config = resolver_config or ResolverConfig.for_branches(model_config.branched)
            resolver = EntityResolver(kg, encoder.dim, resolver_config)
        return cls(kg, encoder, model, device=device, resolver=resolver, kb_group=kb_group)

    # ------------------------------------------------------------------ tensors
    @property
    def resolves(self) -> bool:
        """True when the topic entities come from the learned resolver (``entities`` "span" or "text")."""
        return self.model.config.entities != "given"

    @contextmanager
    def combined_by(self, mode: str) -> Iterator[QASystem]:
        """Within the block, a model with branches combines them by ``mode`` (``"min"`` or
        ``"product"``) instead of the combination it was trained with: the same branches, another
        combination — a what-if for the explorer. Restored on leaving, also after an error."""
        cfg = self.model.config
        if not cfg.branched:
            raise ValueError("this model follows one walk from all its topics (intersection='none'); "
                             "only a model with branches can change how it combines them")
        if mode not in ("min", "product"):
            raise ValueError(f"a combination is 'min' or 'product', got {mode!r}")
        self.model.config = replace(cfg, intersection=mode)
        try:
            yield self
        finally:
            self.model.config = cfg

    @property
    def masks_mentions(self) -> bool:
        """Whether topic mentions are masked before encoding (never when the resolver reads them)."""
        return self.model.config.mask_mentions and not self.resolves

    def run_text(self, enc: EncoderOutput, texts: Sequence[str], spans: Sequence[Sequence[Span]] | None = None,
                 keep_hops: bool = False) -> tuple[QAOutput, ResolverOutput]:
        """The model from text alone: the resolver turns the encoder output of ``texts`` into
        ``x_0`` (with the gold mention ``spans`` when given: the "span" variant), the model walks
        from it. The topic mask is the resolved ``x_0`` itself (detached): an entity is removed
        from the answer by the probability that it is the topic. An intersection model walks one
        branch per mention slot and mixes the readings (:meth:`Starts.from_slots <kgqa.model.Starts.from_slots>`); its
        topic mask weighs each slot's start set by the probability that the slot is an entity."""
        res = self.resolver(list(texts), enc, given_spans=spans)
        if self.branched:  # one branch per mention slot, mixed over the readings (kgqa.resolve.mentions)
            slots = res.slots
            chosen = slots.chosen  # (B, M)
            span_weights = torch.einsum("bm,bms->bs", chosen, slots.span_weight)  # (B, S)
            q = enc.pooled if not self.model.config.mask_mentions else masked_pool(enc, res, span_weights)
            topics = torch.einsum("bm,bme->be", chosen, slots.x0).detach().clamp(0.0, 1.0)  # (B, E)
            starts = Starts.from_slots(slots.x0, slots.valid, slots.vectors, slots.combos, slots.combo_weights)
            out = self.model(self.kb, q.to(self.device), starts, topic_mask=topics, keep_hops=keep_hops)
            return out, res
        q = enc.pooled if not self.model.config.mask_mentions else masked_pool(enc, res)
        out = self.model(self.kb, q.to(self.device), Starts.summed(res.x0),
                         topic_mask=res.x0.detach().clamp(0.0, 1.0), keep_hops=keep_hops)
        return out, res

    @property
    def branched(self) -> bool:
        """True for an intersection model (one branch per topic entity)."""
        return self.model.config.branched

    def topic_tensors(self, topics: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """``x0 (B, E)`` float one-hot rows (several topics share the weight equally) and the
        ``(B, E)`` bool topic mask."""
        mask = gold_mask(topics, self.kg.num_entities).to(self.device)
        x0 = mask.float()
        return x0 / x0.sum(dim=1, keepdim=True).clamp(min=1.0), mask

    def run(self, q: torch.Tensor, topics: Sequence[Sequence[int]], keep_hops: bool = False) -> QAOutput:
        """The model on question tensors ``q`` (from :meth:`encode`) and topic indices."""
        x0, mask = self.topic_tensors(topics)
        q = q.to(self.device)
        if not self.branched:
            return self.model(self.kb, q, Starts.summed(x0), topic_mask=mask, keep_hops=keep_hops)
        k = max((len(t) for t in topics), default=0)
        idx = torch.full((len(topics), max(k, 1)), -1, dtype=torch.int64)
        for b, ts in enumerate(topics):
            idx[b, : len(ts)] = torch.tensor(list(ts), dtype=torch.int64)
        if q.shape[1] < 1 + idx.shape[1]:  # questions encoded with fewer mention slots
            q = torch.nn.functional.pad(q, (0, 0, 0, 1 + idx.shape[1] - q.shape[1]))
        starts = Starts.from_topics(idx.to(self.device), self.kg.num_entities, q[:, 1:])
        return self.model(self.kb, q[:, 0], starts, topic_mask=mask, keep_hops=keep_hops)

    def encode(self, examples: Sequence[QAExample]) -> torch.Tensor:
        """The question tensors of ``examples`` (with grad if the encoder trains): ``(B, H)``
        pooled vectors, or for an intersection model ``(B, 1 + K, H)``: the pooled vector, then
        the embedding of each topic's mention (K = most topics in the batch)."""
        inputs = [encoder_input(e, self.masks_mentions) for e in examples]
        out = self.encoder([text for text, _ in inputs])
        if not self.branched:
            return out.pooled
        k = max(1, max((len(spans) for _, spans in inputs), default=1))
        spans = torch.tensor([list(sp) + [NO_SPAN] * (k - len(sp)) for _, sp in inputs],
                             dtype=torch.int64).view(len(inputs), k, 2).to(out.tokens.device)
        mentions = span_vectors(out.tokens, out.offsets, out.mask, spans)  # (B, K, H)
        return torch.cat([out.pooled[:, None], mentions], dim=1)

    def forward(self, examples: Sequence[QAExample], encoded: torch.Tensor | EncoderOutput | None = None,
                topics: Sequence[Sequence[int]] | None = None) -> tuple[QAOutput, ResolverOutput | None]:
        """The model on a batch of examples — the one place that tells the two kinds apart: a
        resolver model reads its entities from the text (:meth:`run_text`, with the gold mention
        spans for the ``"span"`` variant), the others start from the given ``topics`` (default:
        the examples' own) (:meth:`run`). ``encoded``: the batch's encoder output (an
        :class:`~kgqa.encoders.EncoderOutput` for a resolver model, else the :meth:`encode`
        tensor) when computed already. Returns the model output and the resolver's (or None)."""
        if self.resolves:
            texts = [e.question for e in examples]
            enc = encoded if encoded is not None else self.encoder(texts)
            spans = [e.mentions for e in examples] if self.model.config.entities == "span" else None
            return self.run_text(enc, texts, spans)
        q = encoded if encoded is not None else self.encode(examples)
        return self.run(q, topics if topics is not None else example_indices(self.kg, examples)[0]), None

    # ------------------------------------------------------------------ answering
    @torch.inference_mode()
    def explain(self, question: str, topics: Sequence[str] = (), *, k: int = 5, paths: int = 3,
                how: str = "") -> Trace:
        """Answer one question and account for it: the :class:`~kgqa.trace.Trace` (mentions and
        candidates, each walk's relations, attention and reached entities, the combination, the
        top ``k`` answers and the ``paths`` heaviest paths carrying each).

        The topic entities (ids or unambiguous names) are given, or, for a model with a resolver
        and no ``topics``, read from the text. Given topics are located in the text by name, so
        the encoder sees the question the way it saw the training questions (mentions masked when
        the model was trained so). ``how`` says how the topics were found, for the reader."""
        cfg = self.model.config
        self._eval_mode()
        common = dict(objective=cfg.objective, combine=cfg.intersection, k=k, paths=paths, attributes=cfg.attributes)
        if not topics:
            if not self.resolves:
                raise ValueError("this model needs the topic entities: pass topics (it has no entity resolver)")
            if not question.strip():
                raise ValueError("the question is empty")
            out, res = self.run_text(self.encoder([question]), [question], keep_hops=True)
            if res.slots is None:
                x0 = res.x0[0]
                found = [int(x0.argmax())] if bool(x0.sum() > 0) else []
                walks = walks_of(out, x0, None)
            else:  # the likeliest reading: its slots are the branches shown
                best, index = res.slots.best(0), slot_index(res)
                found = [int(res.slots.x0[0, m].argmax()) for m in best]
                walks = walks_of(out, res.slots.x0[0], best, [index[m] for m in best])
            return build_trace(self.kg, self.kb, question, entities=cfg.entities, out=out, walks=walks,
                               topics=found, res=res, how=how or "resolved from the text", **common)
        idx = [self.kg.lookup(t) for t in topics]
        ids = tuple(self.kg.entities[i] for i in idx)
        example = QAExample(question, ids, topic_mentions(question, self.kg, ids), ())
        out = self.run(self.encode([example]), [idx], keep_hops=True)
        if self.branched:  # one branch per topic, in order, each from its one-hot
            starts = torch.zeros(len(idx), self.kg.num_entities, device=self.device)
            starts[torch.arange(len(idx)), torch.tensor(idx)] = 1.0
            walks = walks_of(out, starts, list(range(len(idx))))
        else:
            walks = walks_of(out, self.topic_tensors([idx])[0][0], None)
        return build_trace(self.kg, self.kb, question, entities="given", out=out, walks=walks, topics=idx,
                           how=how or "given", **common)

    def explain_typed(self, question: str, entities: Sequence[str] = (), *, k: int = 5, paths: int = 3) -> Trace:
        """:meth:`explain` for a question as a person types it: its topic entities are the given
        ``entities``, else the ones marked ``[name]`` in the text (the brackets removed), else —
        for a model with a resolver — read from the text by the model, else found by string
        matching. Raises ValueError for an empty question or one with no entity to start from."""
        if not question.strip():
            raise ValueError("the question is empty")
        marked = BRACKETED.findall(question)
        if self.resolves and not entities and not marked:
            return self.explain(question, k=k, paths=paths)
        how = "given"
        if not entities and marked:
            entities, question, how = marked, BRACKETED.sub(lambda m: m.group(1), question), "bracketed"
        if not entities:
            from .pipeline import StringLinker

            entities = [self.kg.entities[m.chosen] for m in StringLinker(self.kg).link(question)]
            how = "string match"
        if not entities:
            raise ValueError("no topic entity: name it (an id or name), or mark it as [name] in the question")
        return self.explain(question, list(entities), k=k, paths=paths, how=how)

    def ask(self, question: str, topics: Sequence[str] = (), k: int = 5) -> list[AnswerTrace]:
        """The top ``k`` answers to one question, best first (:meth:`explain` without paths: the
        same arguments, the answers alone)."""
        return self.explain(question, topics, k=k, paths=0).answers

    @torch.inference_mode()
    def top_answers(self, examples: Sequence[QAExample], *, batch_size: int | None = None) -> list[str]:
        """The id of the best-scored entity for each example, as :meth:`evaluate` ranks them
        (read from the text by a resolver model, from the examples' topics otherwise)."""
        self._eval_mode()
        out_ids, q, batch_size = [], self._distinct(examples), batch_size or self._answer_batch
        for start in range(0, len(examples), batch_size):
            sl = slice(start, start + batch_size)
            out, _ = self.forward(examples[sl], None if q is None else q[sl])
            out_ids += [answer_label(self.kg, i) for i in out.scores.argmax(dim=-1).tolist()]
        return out_ids

    def _eval_mode(self) -> None:
        for part in (self.model, self.resolver) if self.resolves else (self.model,):
            part.eval()

    _answer_batch = property(lambda self: TEXT_BATCH if self.resolves else BATCH)  # default questions per batch

    def _distinct(self, examples: Sequence[QAExample]) -> torch.Tensor | None:
        """Each distinct text encoded once (frozen encoder, given entities), else None."""
        if self.resolves or not getattr(self.encoder, "frozen", True) or not examples:
            return None
        return encode_distinct(self.encode, examples, self.masks_mentions)

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def evaluate(self, examples: Sequence[QAExample], q: torch.Tensor | EncoderCache | None = None, *,
                 batch_size: int | None = None, k: int = 10) -> dict[str, Any]:
        """Hits@1, Hits@k and F1 over ``examples`` (percent), with breakdowns by question type,
        hop count and number of topics. ``q`` may hold precomputed question tensors (from
        :meth:`encode`), or for a resolver model an :class:`EncoderCache` with tokens of the
        questions in order. A resolver model also reports ``"er"``: span accuracy, entity
        accuracy and candidate recall (percent), measured against the annotations it never saw;
        an intersection model that resolves several entities adds the share of questions whose
        likeliest reading names exactly the gold entities, and the share with the right number. A
        model with the operation controller reports ``"program_accuracy"``: the share of questions
        with a known operation whose likeliest program is it (measured only, never trained on)."""
        self._eval_mode()
        topics, answers = example_indices(self.kg, examples)
        check_answers_known(self.kg, examples, answers, self.model.config.max_count if self.model.operations else None)
        q = self._distinct(examples) if q is None else q
        scores, batch_size, picked = Scores.empty(k), batch_size or self._answer_batch, []
        er = {"span_accuracy": 0.0, "entity_accuracy": 0.0, "candidate_recall": 0.0}
        if self.resolves and self.branched:  # several entities: is the likeliest reading the gold one?
            er.update(entity_set_accuracy=0.0, count_accuracy=0.0)
        for start in range(0, len(examples), batch_size):
            sl = slice(start, start + batch_size)
            rows = list(range(start, min(start + batch_size, len(examples))))
            encoded = None if q is None else q.get(rows, self.device) if isinstance(q, EncoderCache) else q[sl]
            out, res = self.forward(examples[sl], encoded, topics[sl])
            if start and start % (RELEASE_EVERY_BATCHES * batch_size) == 0:
                release_memory()  # batches of other sizes: without it the freed heap piles up
            if res is not None:
                spans = [e.mentions for e in examples[sl]]
                metrics = [("span_accuracy", span_accuracy(res, spans)),
                           ("entity_accuracy", entity_accuracy(res, topics[sl], self.kg)),
                           ("candidate_recall", candidate_recall(res, topics[sl], spans))]
                if res.slots is not None:
                    metrics += zip(("entity_set_accuracy", "count_accuracy"), reading_accuracy(res.slots, topics[sl]))
                for key, value in metrics:
                    er[key] += 0.0 if value != value else value * len(rows)  # NaN: no gold span known
            scores.add(out.scores, answers[sl])
            if out.operations is not None:
                picked += [PROGRAMS[i] for i in out.operations.program.argmax(dim=-1).tolist()]
        result = summarize(scores)
        known = [(p, e.operation) for p, e in zip(picked, examples) if e.operation]
        if known:
            result["program_accuracy"] = 100.0 * sum(p == o for p, o in known) / len(known)
            result["by_operation"] = breakdown(scores, [e.operation or "-" for e in examples])
        if self.resolves:
            result["er"] = {key: 100 * v / max(len(examples), 1) for key, v in er.items()}
        result["by_type"] = breakdown(scores, [e.qtype or "-" for e in examples])
        result["by_hops"] = breakdown(scores, [e.hops for e in examples])
        result["by_topics"] = breakdown(scores, ["1 entity" if len(t) <= 1 else f"{len(t)} entities" for t in topics])
        return result

    # ------------------------------------------------------------------ saving and loading
    def parts(self) -> dict[str, torch.nn.Module]:
        """What a checkpoint holds, by the prefix its tensors are saved under: ``model``, the
        ``resolver`` of a text model, and the ``encoder`` when it is fine-tuned (a frozen one is
        rebuilt from its name)."""
        out: dict[str, torch.nn.Module] = {"model": self.model}
        if self.resolver is not None:
            out["resolver"] = self.resolver
        if not getattr(self.encoder, "frozen", True):
            out["encoder"] = self.encoder
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every saved tensor, keyed ``part.name`` (:meth:`parts`)."""
        return {f"{name}.{k}": v for name, module in self.parts().items() for k, v in module.state_dict().items()}

    def load_state_dict(self, weights: dict[str, torch.Tensor], *, where: str | Path = "") -> None:
        """Load what :meth:`state_dict` gave; a tensor that does not fit raises
        :class:`~kgqa.checkpoint.CheckpointError` naming ``where``."""
        parts = dict(self.parts())
        if weights_of(weights, "encoder"):  # saved fine-tuned: load it even into a frozen encoder
            parts["encoder"] = self.encoder
        try:
            for name, module in parts.items():
                module.load_state_dict(weights_of(weights, name))
        except RuntimeError as err:
            raise CheckpointError(f"{where or 'checkpoint'}: weights do not fit the configuration "
                                  f"({str(err).splitlines()[0]})") from None

    def run_config(self) -> RunConfig:
        """What ``config.json`` records of this system: the model, resolver and encoder settings and
        the graph's fingerprint (plus, for a trained system, its training settings and progress)."""
        own = dict(model=self.model.config, resolver=self.resolver.config if self.resolver is not None else None,
                   encoder={"model": self.encoder.name, "dim": self.encoder.dim,
                            "frozen": bool(getattr(self.encoder, "frozen", True))},
                   kg=kg_record(self.kg))
        if self.config is not None:  # trained: keep how (the encoder as it was named for training)
            return replace(self.config, **{k: v for k, v in own.items() if k != "encoder"})
        return RunConfig(**own)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write this system to ``folder`` (weights, ``config.json`` with checksums, the graph), so
        that :meth:`from_pretrained` loads it back; the folder is replaced atomically."""
        from .checkpoint import save_checkpoint
        from .runtime import json_safe

        return save_checkpoint(folder, weights=self.state_dict(), config=json_safe(self.run_config().to_json()),
                               kg=self.kg)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, kg: KnowledgeGraph | None = None,
                        device: str | torch.device | None = None) -> QASystem:
        """Load a system written by :meth:`save_pretrained` or :func:`kgqa.train.fit` (a run
        folder's ``best/`` by default).

        With ``kg`` given, it must be the graph the model was trained on (fingerprint check);
        otherwise the graph saved inside the checkpoint is used.
        """
        config, weights, _, folder = load_checkpoint_files(path)
        if kg is None:
            kg = KnowledgeGraph.load_saved(folder / "kg")
        check_kg(config, kg, folder)
        dev = torch.device(device) if device is not None else default_device()
        run = RunConfig.from_json(config, folder / "config.json")
        enc_cfg, model_cfg, resolver_cfg = run.encoder, run.model, run.resolver
        encoder = build_encoder(enc_cfg["model"], freeze=True, device=dev)
        if encoder.dim != enc_cfg["dim"]:
            raise CheckpointError(f"{folder}: encoder {enc_cfg['model']!r} has size {encoder.dim}, "
                                  f"the checkpoint expects {enc_cfg['dim']}")
        system = cls.build(kg, model_cfg, encoder, resolver_config=resolver_cfg, device=dev)
        system.load_state_dict(weights, where=folder)
        system.config = run
        log.info("loaded %s: %s model (entities %s), epoch %s, dev Hits@1 %s, on %s", folder, run.dataset or "?",
                 model_cfg.entities, run.epoch or "?", "?" if run.best_dev is None else run.best_dev, dev)
        return system
