"""Training from question–answer pairs alone: seeded, validated, checkpointed, resumable.

:func:`fit` trains an :class:`~kgqa.model.EndToEndQA` on a :class:`~kgqa.datasets.QADataset`.
With a frozen encoder (the default on a CPU) every question is encoded once and only the small
model above it trains, which makes an epoch over MetaQA take seconds, not minutes. After every
epoch the model is scored on the validation split; the best one is kept in ``best/`` and the
latest (with optimizer and RNG state) in ``last/``, so an interrupted run resumes where it was.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, check_kg, load_checkpoint_files, recover_run, run_lock, save_checkpoint
from .datasets import QADataset, QAExample
from .encoders import EncoderCache, QuestionEncoder
from .log import log
from .metrics import gold_mask
from .model import ModelConfig, answer_loss
from .qa import QASystem, build_encoder, example_indices, pad_questions
from .resolve import ResolverConfig
from .runtime import default_device, json_safe, release_memory, seed_everything

__all__ = ["TrainConfig", "FitResult", "fit", "encode_questions", "topic_answer_share"]

RELEASE_EVERY = 10
"""Training steps between two hand-backs of freed heap memory to the system
(:func:`~kgqa.runtime.release_memory`), also done after every evaluation; 0: never.
``python benchmarks/resolver_memory.py --max-train 4000 --epochs 5`` (MetaQA 1-hop, text model):
0.81 GiB after every epoch, peak 2.06 GiB; with ``--release-every 0`` 1.84 → 2.74 GiB after
epochs 1–5, peak 2.98 GiB. Every step keeps the peak near 1.6 GiB but costs about a quarter of
the epoch time."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field has a default that works on a new dataset."""

    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int | None = None  # questions per step; None: N/40 within [16, 128], so small sets get enough steps
    lr: float = 3e-3  # AdamW learning rate of the model above the encoder
    weight_decay: float = 1e-4  # AdamW weight decay
    grad_clip: float = 5.0  # max gradient norm
    patience: int = 5  # stop after this many epochs without a better validation Hits@1
    encoder: str = "minilm"  # "minilm" (packaged all-MiniLM-L6-v2), a local folder, or a hub name
    freeze_encoder: bool = True  # True: encode once and cache; False: fine-tune the encoder too
    encoder_lr: float = 3e-5  # learning rate of the encoder when fine-tuning
    seed: int = 0  # seeds data order, initialisation and dropout
    max_train: int | None = None  # use only N training questions, drawn at random (quick runs)
    max_eval: int | None = None  # use only N validation questions, drawn at random
    device: str | None = None  # "cpu", "cuda", ...; None picks CUDA when available
    kernel: str = "auto"  # how follow runs: "auto", "fused" or "torch" (kgqa.follow); same results

    @classmethod
    def quick(cls) -> TrainConfig:
        """A few epochs on a subset: for quick mode and tests."""
        return cls(epochs=4, max_train=2000, max_eval=500, patience=2)

    def steps_batch(self, n_train: int) -> int:
        """The batch size used for ``n_train`` training questions."""
        return self.batch_size or min(128, max(16, n_train // 40))

    def with_(self, **changes: object) -> TrainConfig:
        return replace(self, **changes)


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    system: QASystem  # the best model, loaded and ready to answer
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch
    best_epoch: int = 0
    best_dev: float = 0.0  # validation Hits@1 of the kept model (percent)
    run_dir: Path | None = None
    seconds: float = 0.0  # wall time of this call


def _subset(examples: Sequence[QAExample], n: int | None, seed: int) -> list[QAExample]:
    """``n`` examples drawn at random (seeded), in file order; all of them when ``n`` is None.
    A random draw, not the first ``n``: MetaQA's files are sorted by question type."""
    if n is None or n >= len(examples):
        return list(examples)
    keep = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed))[:n]
    return [examples[i] for i in sorted(keep.tolist())]


def topic_answer_share(examples: Sequence[QAExample]) -> float:
    """Share of ``examples`` whose answers include one of their own topic entities."""
    if not examples:
        return 0.0
    return sum(bool(set(e.topics) & set(e.answers)) for e in examples) / len(examples)


@torch.inference_mode()
def encode_questions(system: QASystem, examples: Sequence[QAExample], batch_size: int = 256,
                     progress: bool = True) -> torch.Tensor:
    """The question tensors of :meth:`QASystem.encode` for all ``examples`` with a frozen encoder,
    in batches: ``(N, H)`` pooled vectors, or ``(N, 1 + K, H)`` for an intersection model."""
    system.encoder.eval()
    parts = [system.encode(examples[i: i + batch_size]).float()
             for i in tqdm(range(0, len(examples), batch_size), desc="encoding", disable=not progress, leave=False)]
    return pad_questions(parts) if parts else torch.zeros(0, system.encoder.dim)


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


def _check_resume(saved: dict[str, Any], config: dict[str, Any], folder: Path) -> None:
    """Refuse to resume from ``saved`` when the model, resolver, encoder, data or training settings
    differ from ``config``, naming every differing field."""
    diffs = []
    for key in ("model", "resolver", "encoder"):
        old, new = saved.get(key), config[key]
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


def _rng_state() -> dict[str, Any]:
    """Every random generator training draws from: torch's (CPU and CUDA), Python's and NumPy's."""
    import numpy as np

    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np

    if isinstance(state, torch.Tensor):  # checkpoints written before every generator was saved
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _config_dict(data: QADataset, train: Sequence[QAExample], dev: Sequence[QAExample], model_cfg: ModelConfig,
                 train_cfg: TrainConfig, encoder: QuestionEncoder, resolver_cfg: ResolverConfig | None) -> dict[str, Any]:
    kg = data.kg
    return {
        "dataset": data.name,
        "model": asdict(model_cfg),
        "resolver": asdict(resolver_cfg) if resolver_cfg is not None else None,
        "train": asdict(train_cfg),
        "encoder": {"model": train_cfg.encoder, "dim": encoder.dim, "frozen": train_cfg.freeze_encoder},
        "kg": {"fingerprint": kg.fingerprint(), "entities": kg.num_entities, "relations": kg.num_relations,
               "triples": kg.num_triples, "source": kg.source},
        "data": {"questions": data_fingerprint(train, dev),
                 "test": data_fingerprint(data.test, ()), "test_n": len(data.test), "origin": data.origin},
    }


def fit(
    data: QADataset,
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    *,
    run_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    resolver_config: ResolverConfig | None = None,
    overwrite: bool = False,
) -> FitResult:
    """Train on ``data.train``, select on ``data.dev``; checkpoints under ``run_dir`` if given.

    With ``model_config.entities`` "span" or "text", an :class:`~kgqa.resolve.EntityResolver`
    (``resolver_config``, default :class:`ResolverConfig`, finding up to two entities for an
    intersection model) is trained jointly from the same answer loss; the annotated topics are then only used to measure it. With a frozen encoder
    the questions' token vectors are encoded once and cached (:class:`EncoderCache`).

    With ``resume`` and a ``run_dir`` holding a ``last/`` checkpoint of the same configuration
    and knowledge graph, training continues from it; a different configuration is refused with a
    message naming the differing fields rather than silently mixed (only ``epochs``, ``patience``, ``kernel``
    and ``device`` may change). Without ``resume``, a run folder that already holds a checkpoint
    is refused unless ``overwrite``, which removes it first: a better ``best/`` is never replaced
    unawares.

    Training holds a lock on ``run_dir`` (:func:`~kgqa.checkpoint.run_lock`): a second run in the
    same folder is refused. A folder left by a crash mid-save is put back in order first
    (:func:`~kgqa.checkpoint.recover_run`).
    """
    args = (data, model_config, train_config)
    kwargs = dict(resume=resume, progress=progress, on_epoch=on_epoch, resolver_config=resolver_config,
                  overwrite=overwrite)
    if run_dir is None:
        return _fit(*args, run=None, **kwargs)
    with run_lock(run_dir) as run:
        for line in recover_run(run):
            log.warning("%s: %s", run, line)
        return _fit(*args, run=run, **kwargs)


def _fit(
    data: QADataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    run: Path | None,
    resume: bool,
    progress: bool,
    on_epoch: Callable[[dict[str, float]], None] | None,
    resolver_config: ResolverConfig | None,
    overwrite: bool,
) -> FitResult:
    start_time = time.perf_counter()
    tc = train_config
    seed_everything(tc.seed)
    device = torch.device(tc.device) if tc.device else default_device()
    kg = data.kg
    train, dev = _subset(data.train, tc.max_train, tc.seed), _subset(data.dev, tc.max_eval, tc.seed)
    if not train:
        raise ValueError(f"dataset {data.name!r} has no training questions")
    if model_config.mask_topics is None:
        model_config = model_config.with_(mask_topics=topic_answer_share(train) < 0.01)
    encoder = build_encoder(tc.encoder, freeze=tc.freeze_encoder, device=device)
    system = QASystem.build(kg, model_config, encoder, resolver_config=resolver_config, device=device, kernel=tc.kernel)
    model, resolver = system.model, system.resolver
    resolver_config = resolver.config if resolver is not None else None
    params = [{"params": list(model.parameters()) + (list(resolver.parameters()) if resolver else []), "lr": tc.lr}]
    if not tc.freeze_encoder:
        params.append({"params": list(encoder.parameters()), "lr": tc.encoder_lr})
    trainable = [p for group in params for p in group["params"]]
    opt = torch.optim.AdamW(params, weight_decay=tc.weight_decay)
    config = _config_dict(data, train, dev, model_config, tc, encoder, resolver_config)
    system.config = config

    history: list[dict[str, float]] = []
    best_dev, best_epoch, first_epoch, stale = -1.0, 0, 0, 0
    if run is not None:
        held = [n for n in ("best", "last") if (run / n).exists()]
        if held and not resume:
            if not overwrite:
                raise CheckpointError(f"{run}: already holds a trained model ({', '.join(n + '/' for n in held)}); "
                                      "resume it (leave out --no-resume), pass --overwrite to replace it, or "
                                      "choose another run folder")
            for n in held:
                shutil.rmtree(run / n)
    if run is not None and resume and (run / "last").exists():
        saved, weights, state, folder = load_checkpoint_files(run, "last", with_state=True)
        check_kg(saved, kg, folder)
        _check_resume(saved, config, folder)
        system.load_state_dict(weights, where=folder)
        try:
            opt.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{folder}: weights or optimizer state do not fit the model "
                                  f"({str(err).splitlines()[0]})") from None
        _set_rng_state(state["rng"])
        history = saved.get("history", [])
        best_dev, best_epoch, stale = saved["best_dev"], saved["best_epoch"], state["stale"]
        best_dev = float("nan") if best_dev is None else best_dev
        first_epoch = saved["epoch"]

    train_topics, train_answers = example_indices(kg, train)
    batch_size = tc.steps_batch(len(train))
    q_train = q_dev = None
    if tc.freeze_encoder and resolver is not None:  # the resolver reads token vectors: cache them
        q_train = EncoderCache.build(encoder, [e.question for e in train], tokens=True, progress=progress)
        q_dev = EncoderCache.build(encoder, [e.question for e in dev], tokens=True, progress=progress)
    elif tc.freeze_encoder:
        q_train = encode_questions(system, train, progress=progress)
        q_dev = encode_questions(system, dev, progress=progress)
    for epoch in range(first_epoch, tc.epochs):
        if stale >= tc.patience:
            break
        t0 = time.perf_counter()
        model.train()
        encoder.train(not tc.freeze_encoder)
        if resolver is not None:
            resolver.train()
        order = torch.randperm(len(train))
        total, steps = 0.0, 0
        bar = tqdm(range(0, len(train), batch_size), desc=f"epoch {epoch + 1}/{tc.epochs}",
                   disable=not progress, leave=False)
        for s in bar:
            idx = order[s: s + batch_size].tolist()
            encoded = None if q_train is None else q_train.get(idx, device) if resolver is not None else q_train[idx]
            out, _ = system.forward([train[i] for i in idx], encoded, [train_topics[i] for i in idx])
            gold = gold_mask([train_answers[i] for i in idx], kg.num_entities).to(device)
            loss = answer_loss(out.scores, gold, model_config.objective)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            loss = loss.detach()
            torch.nn.utils.clip_grad_norm_(trainable, tc.grad_clip)
            opt.step()
            total += loss.item()
            steps += 1
            bar.set_postfix(loss=f"{total / steps:.3f}")
            if RELEASE_EVERY and steps % RELEASE_EVERY == 0:
                release_memory()
        metrics = system.evaluate(dev, q_dev) if dev else {"hits@1": float("nan")}
        if RELEASE_EVERY:
            release_memory()
        row = {"epoch": epoch + 1, "loss": total / max(steps, 1), "dev_hits@1": metrics["hits@1"],
               "seconds": time.perf_counter() - t0}
        if "er" in metrics:  # measured against the annotations, which training never reads
            row.update({f"dev_{k}": v for k, v in metrics["er"].items()})
        history.append(row)
        # a tie keeps the later model (it fits the training set better) but does not reset patience
        improved = metrics["hits@1"] >= best_dev or not dev
        stale = 0 if metrics["hits@1"] > best_dev else stale + 1
        if improved:
            best_dev, best_epoch = metrics["hits@1"], epoch + 1
        weights = system.state_dict()
        if run is not None:
            meta = json_safe({**config, "epoch": epoch + 1, "history": history, "best_dev": best_dev,
                               "best_epoch": best_epoch})
            if improved:
                save_checkpoint(run / "best", weights=weights, config=meta, kg=kg)
            save_checkpoint(run / "last", weights=weights, config=meta,
                            state={"optimizer": opt.state_dict(), "rng": _rng_state(), "stale": stale})
        elif improved:
            best_state = {k: v.detach().clone() for k, v in weights.items()}
        if on_epoch is not None:
            on_epoch(row)
        if progress:
            tqdm.write(f"epoch {epoch + 1}: loss {row['loss']:.4f}  dev Hits@1 {row['dev_hits@1']:.2f}  "
                       f"({row['seconds']:.1f} s)")

    if run is not None and (run / "best").exists():
        system = QASystem.from_pretrained(run / "best", kg=kg, device=device)
    elif run is None and best_epoch:
        system.load_state_dict(best_state)
    return FitResult(system, history, best_epoch, best_dev, run, time.perf_counter() - start_time)
