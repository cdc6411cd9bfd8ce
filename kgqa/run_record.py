"""What a training run records about itself in ``config.json``, and what resuming it may change.

:func:`run_record` is the run's configuration — dataset, model, resolver, training settings, encoder,
the graph's fingerprint and a fingerprint of the training and validation questions — written with
every checkpoint. :func:`check_resume` compares it with a saved one and refuses a resume under
other settings, naming each differing field; :data:`RESUMABLE_CHANGES` are the settings that may
change. :func:`rng_state` and :func:`set_rng_state` carry every random generator across a resume,
so a resumed run continues bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError
from .datasets import QADataset, QAExample
from .encoders import QuestionEncoder
from .kg import KnowledgeGraph
from .model import ModelConfig
from .resolve import ResolverConfig
from .train_config import TrainConfig

__all__ = ["RunConfig", "RESUMABLE_CHANGES", "check_resume", "data_fingerprint", "rng_state", "run_record",
           "set_rng_state"]


@dataclass(frozen=True)
class RunConfig:
    """What a checkpoint's ``config.json`` holds, typed: how to rebuild the system (model, resolver,
    encoder), the graph it was trained on (``kg``: fingerprint and sizes), and for a trained run its
    dataset, training settings, question fingerprints (``data``) and progress (epoch, best epoch
    and validation Hits@1, history). :meth:`to_json` is the file; :meth:`from_json` reads it back,
    a missing or ill-typed section raising :class:`~kgqa.checkpoint.CheckpointError` that names
    the file."""

    model: ModelConfig
    encoder: dict[str, Any]  # {"model": name build_encoder takes, "dim": H, "frozen": bool}
    kg: dict[str, Any]  # {"fingerprint", "entities", "relations", "triples", "source"}
    resolver: ResolverConfig | None = None
    train: TrainConfig | None = None
    dataset: str | None = None
    data: dict[str, Any] | None = None  # {"questions", "test" fingerprints, "test_n", "origin"}
    epoch: int | None = None
    best_epoch: int | None = None
    best_dev: float | None = None
    history: tuple[dict[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` object (without the checksums :func:`~kgqa.checkpoint.save_checkpoint` adds)."""
        out: dict[str, Any] = {"dataset": self.dataset, "model": asdict(self.model),
                               "resolver": asdict(self.resolver) if self.resolver is not None else None,
                               "train": asdict(self.train) if self.train is not None else None,
                               "encoder": dict(self.encoder), "kg": dict(self.kg), "data": self.data}
        if self.epoch is not None:
            out.update(epoch=self.epoch, history=list(self.history), best_dev=self.best_dev, best_epoch=self.best_epoch)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str | Path = "config.json") -> RunConfig:
        try:
            encoder = dict(d["encoder"])
            int(encoder["dim"]), str(encoder["model"])
            return cls(model=ModelConfig(**d["model"]), encoder=encoder, kg=dict(d.get("kg") or {}),
                       resolver=ResolverConfig(**d["resolver"]) if d.get("resolver") is not None else None,
                       train=TrainConfig(**d["train"]) if d.get("train") is not None else None,
                       dataset=d.get("dataset"), data=d.get("data"), epoch=d.get("epoch"),
                       best_epoch=d.get("best_epoch"), best_dev=d.get("best_dev"),
                       history=tuple(d.get("history") or ()))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CheckpointError(f"{where}: the model configuration is incomplete or ill-typed "
                                  f"({type(err).__name__}: {err}); was it written by another version or edited?") from None


def data_fingerprint(train: Sequence[QAExample], dev: Sequence[QAExample]) -> str:
    """A short hash of the training and validation questions (text, topics, mentions, answers), in
    order: a resumed run must see the questions it started with."""
    h = hashlib.sha256()
    for split in (train, dev):
        for e in split:
            h.update(json.dumps([e.question, e.topics, e.mentions, e.answers]).encode("utf-8"))
        h.update(b"\x00split")
    return h.hexdigest()[:16]


RESUMABLE_CHANGES = ("epochs", "patience", "device", "kernel")
"""Training settings a resumed run may change: how long it goes on, where and how it runs. Any other
difference (learning rate, seed, batch size, subsets, encoder) would continue a run under settings
its history was not made with, so it is refused."""


def check_resume(saved: dict[str, Any], run: RunConfig, folder: Path) -> None:
    """Refuse to resume from ``saved`` (a ``config.json`` object) when the model, resolver, encoder,
    data or training settings differ from ``run``'s, naming every differing field."""
    plain = lambda d: json.loads(json.dumps(d, default=str))  # noqa: E731  compared as saved: tuples are lists
    config = plain(run.to_json())
    diffs = []
    defaults = plain({"model": asdict(ModelConfig()), "resolver": asdict(ResolverConfig())})
    for key in ("model", "resolver", "encoder"):
        old, new = saved.get(key), config[key]
        if isinstance(old, dict) and key in defaults:  # a field added since the run was saved has its default
            old = {**{k: v for k, v in defaults[key].items() if k not in old}, **old}
        if old != new:
            if isinstance(old, dict) and isinstance(new, dict):
                diffs += [f"{key}.{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
                          if old.get(k) != new.get(k)]
            else:
                diffs.append(f"{key} {old!r} -> {new!r}")
    old_train = saved.get("train") or {}
    diffs += [f"train.{k} {old_train.get(k)!r} -> {v!r}" for k, v in config["train"].items()
              if k not in RESUMABLE_CHANGES and old_train.get(k) != v]
    if "data" in saved and saved["data"].get("questions") != config["data"]["questions"]:
        diffs.append("the training or validation questions differ (another question file, split or seed)")
    if diffs:
        raise CheckpointError(f"{folder}: cannot resume: the run was started with other settings ("
                              + "; ".join(diffs) + "). Resume with the settings it was started with, or "
                              "start afresh in a new run folder (or with --no-resume --overwrite)")


def rng_state() -> dict[str, Any]:
    """Every random generator training draws from: torch's (CPU and CUDA), Python's and NumPy's."""
    import numpy as np

    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np

    if isinstance(state, torch.Tensor):  # checkpoints written before every generator was saved
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def kg_record(kg: KnowledgeGraph) -> dict[str, Any]:
    """What a run records of its graph: the fingerprint a checkpoint is checked against, and sizes."""
    return {"fingerprint": kg.fingerprint(), "entities": kg.num_entities, "relations": kg.num_relations,
            "triples": kg.num_triples, "source": kg.source}


def run_record(data: QADataset, train: Sequence[QAExample], dev: Sequence[QAExample], model_cfg: ModelConfig,
               train_cfg: TrainConfig, encoder: QuestionEncoder, resolver_cfg: ResolverConfig | None) -> RunConfig:
    """The :class:`RunConfig` of a training run, before its first epoch."""
    return RunConfig(model=model_cfg, resolver=resolver_cfg, train=train_cfg, dataset=data.name,
                     encoder={"model": train_cfg.encoder, "dim": encoder.dim, "frozen": train_cfg.freeze_encoder},
                     kg=kg_record(data.kg),
                     data={"questions": data_fingerprint(train, dev), "test": data_fingerprint(data.test, ()),
                           "test_n": len(data.test), "origin": data.origin})
