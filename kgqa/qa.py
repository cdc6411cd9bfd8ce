"""A trained QA system: knowledge graph + encoder + model, ready to answer and to be evaluated.

:class:`QASystem` is what ``kgqa ask`` and ``kgqa eval`` load from a checkpoint, and what
:func:`kgqa.train.fit` returns. It turns examples into tensors (topic one-hots, gold multi-hots),
runs the model in batches and reports answers by name with the per-hop relation attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .checkpoint import check_kg, load_checkpoint_files
from .datasets import QAExample
from .encoders import QuestionEncoder, tiny_encoder
from .kg import KnowledgeGraph
from .metrics import Scores, breakdown, gold_mask, summarize
from .qa_files import topic_mentions
from .model import EndToEndQA, ModelConfig, QAOutput, random_walk_weights
from .reified import ReifiedKG
from .sets import resolve_entity

__all__ = ["QASystem", "Answer", "example_indices", "build_encoder"]


def build_encoder(name: str, *, freeze: bool = True, device: torch.device | str | None = None) -> QuestionEncoder:
    """The encoder called ``name``: ``"minilm"``, ``"tiny"`` (random, for tests), a folder or a hub name."""
    if name == "tiny":
        return tiny_encoder(0, freeze=freeze, device=device)
    return QuestionEncoder(name, freeze=freeze, device=device)


def example_indices(kg: KnowledgeGraph, examples: Sequence[QAExample]) -> tuple[list[list[int]], list[list[int]]]:
    """Topic and answer entity indices per example; ids missing from the graph are dropped
    (such answers can never be hit, which the metrics count as misses)."""
    idx = kg._entity_index  # noqa: SLF001 - plain dict lookups, the hot path of data preparation
    topics = [[idx[t] for t in ex.topics if t in idx] for ex in examples]
    answers = [[idx[a] for a in ex.answers if a in idx] for ex in examples]
    return topics, answers


PLACEHOLDER = "something"  # stands for a masked topic mention ("What city is something in?")


def encoder_text(example: QAExample, mask_mentions: bool) -> str:
    """The text the encoder sees: the question, with known topic mentions replaced by
    :data:`PLACEHOLDER` when ``mask_mentions`` (so the relation heads learn the question's shape,
    not its entity's name)."""
    text = example.question
    if not mask_mentions:
        return text
    for start, end in sorted((m for m in example.mentions if m[0] >= 0), reverse=True):
        text = text[:start] + PLACEHOLDER + text[end:]
    return text


@dataclass
class Answer:
    """The model's answer to one question, with what it looked at."""

    question: str
    topics: list[str]  # topic entity ids
    answers: list[tuple[str, str, float]]  # (entity id, name, score), best first
    relations: list[list[tuple[str, float]]]  # per hop: (relation, weight), best first
    hop_attention: list[float]  # weight of each hop

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["answers"] = [{"id": i, "name": n, "score": s} for i, n, s in self.answers]
        d["relations"] = [[{"relation": r, "weight": w} for r, w in hop] for hop in self.relations]
        return d


class QASystem:
    """Knowledge graph, reified graph, question encoder and model, on one device."""

    def __init__(self, kg: KnowledgeGraph, encoder: QuestionEncoder, model: EndToEndQA,
                 device: torch.device | str | None = None) -> None:
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.kg = kg
        weights = random_walk_weights(kg.triples) if model.config.loss == "softmax" else None
        self.kb = ReifiedKG.from_kg(kg, fact_weights=weights, device=self.device)
        self.encoder = encoder
        self.model = model.to(self.device)

    # ------------------------------------------------------------------ tensors
    def topic_tensors(self, topics: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """``x0 (B, E)`` float one-hot rows (several topics share the weight equally) and the
        ``(B, E)`` bool topic mask."""
        mask = gold_mask(topics, self.kg.num_entities).to(self.device)
        x0 = mask.float()
        return x0 / x0.sum(dim=1, keepdim=True).clamp(min=1.0), mask

    def run(self, q: torch.Tensor, topics: Sequence[Sequence[int]], keep_hops: bool = False) -> QAOutput:
        x0, mask = self.topic_tensors(topics)
        return self.model(self.kb, q.to(self.device), x0, topic_mask=mask, keep_hops=keep_hops)

    def encode(self, examples: Sequence[QAExample]) -> torch.Tensor:
        """``(B, H)`` pooled question vectors of ``examples`` (with grad if the encoder trains)."""
        return self.encoder([encoder_text(e, self.model.config.mask_mentions) for e in examples]).pooled

    # ------------------------------------------------------------------ answering
    @torch.inference_mode()
    def ask(self, question: str, topics: Sequence[str], k: int = 5) -> Answer:
        """Answer one question whose topic entities (ids or unambiguous names) are given.

        Their mentions are located in the text by name, so the encoder sees the question the
        way it saw the training questions (mentions masked when the model was trained so)."""
        idx = [resolve_entity(self.kg, t) for t in topics]
        ids = tuple(self.kg.entities[i] for i in idx)
        example = QAExample(question, ids, topic_mentions(question, self.kg, ids), ())
        self.model.eval()
        out = self.run(self.encode([example]), [idx])
        return self._describe(question, list(ids), out, 0, k)

    def _describe(self, question: str, topics: list[str], out: QAOutput, b: int, k: int) -> Answer:
        scores = out.scores[b]
        val, idx = scores.topk(min(k, scores.numel()))
        answers = [(self.kg.entities[i], self.kg.names[i], float(v)) for v, i in zip(val.tolist(), idx.tolist()) if v > 0]
        rels = []
        for t in range(out.relations.shape[1]):
            w, r = out.relations[b, t].topk(min(3, self.kg.num_relations))
            rels.append([(self.kg.relations[i], float(x)) for x, i in zip(w.tolist(), r.tolist())])
        return Answer(question, topics, answers, rels, [float(a) for a in out.hop_attention[b].tolist()])

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def evaluate(self, examples: Sequence[QAExample], q: torch.Tensor | None = None, *,
                 batch_size: int = 256, k: int = 10) -> dict[str, Any]:
        """Hits@1, Hits@k and F1 over ``examples`` (percent), with breakdowns by question type
        and hop count. ``q`` may hold precomputed question vectors ``(N, H)``."""
        self.model.eval()
        topics, answers = example_indices(self.kg, examples)
        scores = Scores.empty(k)
        for start in range(0, len(examples), batch_size):
            sl = slice(start, start + batch_size)
            qb = q[sl] if q is not None else self.encode(examples[sl])
            out = self.run(qb, topics[sl])
            scores.add(out.scores, answers[sl])
        result = summarize(scores)
        result["by_type"] = breakdown(scores, [e.qtype or "-" for e in examples])
        result["by_hops"] = breakdown(scores, [e.hops for e in examples])
        return result

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_checkpoint(cls, path: str | Path, *, kg: KnowledgeGraph | None = None,
                        device: str | torch.device | None = None) -> QASystem:
        """Load a checkpoint written by :func:`kgqa.train.fit` (its ``best/`` by default).

        With ``kg`` given, it must be the graph the model was trained on (fingerprint check);
        otherwise the graph saved inside the checkpoint is used.
        """
        config, weights, _, folder = load_checkpoint_files(path)
        if kg is None:
            kg = KnowledgeGraph.load_saved(folder / "kg")
        check_kg(config, kg, folder)
        from .runtime import default_device

        dev = torch.device(device) if device is not None else default_device()
        encoder = build_encoder(config["encoder"]["model"], freeze=True, device=dev)
        if encoder.dim != config["encoder"]["dim"]:
            from .checkpoint import CheckpointError

            raise CheckpointError(f"{folder}: encoder {config['encoder']['model']!r} has size {encoder.dim}, "
                                  f"the checkpoint expects {config['encoder']['dim']}")
        model_cfg = ModelConfig(**config["model"])
        model = EndToEndQA(kg.num_relations, config["encoder"]["dim"], model_cfg)
        model_weights = {k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")}
        enc_weights = {k[len("encoder."):]: v for k, v in weights.items() if k.startswith("encoder.")}
        try:
            model.load_state_dict(model_weights)
            if enc_weights:
                encoder.load_state_dict(enc_weights)
        except RuntimeError as err:
            from .checkpoint import CheckpointError

            raise CheckpointError(f"{folder}: weights do not fit the configuration ({str(err).splitlines()[0]})") from None
        return cls(kg, encoder, model, device=dev)
