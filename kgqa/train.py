"""Training from question–answer pairs alone: seeded, validated, checkpointed, resumable.

:func:`fit` trains an :class:`~kgqa.model.EndToEndQA` on a :class:`~kgqa.datasets.QADataset`.
With a frozen encoder (the default on a CPU) every question is encoded once and only the small
model above it trains, which makes an epoch over MetaQA take seconds, not minutes. After every
epoch the model is scored on the validation split; the best one is kept in ``best/`` and the
latest (with optimizer and RNG state) in ``last/``, so an interrupted run resumes where it was.

The loop itself is short (``_fit``): build the system and optimizer, restore a run to resume,
encode the questions once, then per epoch train (``_train_epoch``: one :meth:`QASystem.forward
<kgqa.qa.QASystem.forward>` and one loss per batch), validate, record and checkpoint. What a run
records about itself and what a resume may change live in :mod:`kgqa.run_record`.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, check_kg, load_checkpoint_files, recover_run, run_lock, save_checkpoint
from .datasets import QADataset, QAExample
from .encoders import EncoderCache
from .inputs import build_encoder, check_counts, example_indices, pad_questions
from .log import log
from .metrics import gold_mask
from .model import ModelConfig, answer_loss
from .operations import program_loss
from .parallel import Layout, collective_errors
from .qa import QASystem
from .resolve import ResolverConfig
from .run_record import check_resume, rng_state, run_record, set_rng_state
from .train_config import TrainConfig
from .runtime import default_device, json_safe, release_memory, seed_everything

__all__ = ["TrainConfig", "FitResult", "fit", "encode_questions", "topic_answer_share"]

RELEASE_EVERY = 10
"""Training steps between two hand-backs of freed heap memory to the system
(:func:`~kgqa.runtime.release_memory`), also done after every evaluation; 0: never. Without them a
text model's resident memory climbs epoch after epoch; every step would cost a quarter of the
epoch time (``benchmarks/resolver_memory.py``, ``benchmarks/results/resolver_memory*.md``)."""


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
    layout: Layout | None = None,
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

    ``layout``: this process's place among several (:mod:`kgqa.parallel`: the graph sharded over
    ranks, each batch split over replicas, or both); rank 0 alone locks the folder and writes.
    """
    layout = layout or Layout()
    args = (data, model_config, train_config)
    kwargs = dict(resume=resume, progress=progress and layout.writer, on_epoch=on_epoch,
                  resolver_config=resolver_config, overwrite=overwrite, layout=layout)
    if run_dir is None:
        return _fit(*args, run=None, **kwargs)
    if not layout.writer:  # reads the folder once rank 0 holds it and has put it in order
        if not layout.agree(True):
            raise CheckpointError(f"{run_dir}: rank 0 could not open the run folder (its error says why)")
        return _fit(*args, run=Path(run_dir), **kwargs)
    with contextlib.ExitStack() as held:
        try:
            run = held.enter_context(run_lock(run_dir))
            for line in recover_run(run):
                log.warning("%s: %s", run, line)
        except BaseException:
            layout.agree(False)
            raise
        layout.agree(True)
        return _fit(*args, run=run, **kwargs)


@dataclass
class _State:
    """Where a run stands after each epoch: what ``last/`` restores on resume."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_dev: float = -1.0
    best_epoch: int = 0
    first_epoch: int = 0
    stale: int = 0  # epochs since validation Hits@1 last improved

    def record(self, row: dict[str, float], has_dev: bool) -> bool:
        """Add an epoch's row; True when its model is the one to keep. A tie keeps the later model
        (it fits the training set better) but does not reset patience."""
        self.history.append(row)
        score = row["dev_hits@1"]
        improved = score >= self.best_dev or not has_dev
        self.stale = 0 if score > self.best_dev else self.stale + 1
        if improved:
            self.best_dev, self.best_epoch = score, row["epoch"]
        return improved


@dataclass
class _Batches:
    """The training and validation questions as the loop reads them: encoded once when the encoder
    is frozen (token vectors for a resolver, question tensors otherwise), topic and answer indices."""

    train: list[QAExample]
    dev: list[QAExample]
    topics: list[list[int]]
    answers: list[list[int]]
    q_train: Any = None
    q_dev: Any = None

    @classmethod
    def prepare(cls, system: QASystem, train: list[QAExample], dev: list[QAExample], frozen: bool,
                progress: bool) -> _Batches:
        topics, answers = example_indices(system.kg, train)
        cfg = system.model.config  # a count question the model cannot answer is refused, not a silent miss
        check_counts(train, cfg.max_count if cfg.operations else None)
        out = cls(train, dev, topics, answers)
        if frozen and system.resolver is not None:  # the resolver reads token vectors: cache them
            out.q_train = EncoderCache.build(system.encoder, [e.question for e in train], tokens=True, progress=progress)
            out.q_dev = EncoderCache.build(system.encoder, [e.question for e in dev], tokens=True, progress=progress)
        elif frozen:
            out.q_train = encode_questions(system, train, progress=progress)
            out.q_dev = encode_questions(system, dev, progress=progress)
        return out

    def encoded(self, idx: list[int], device: torch.device) -> Any:
        """The cached encoder output of training questions ``idx`` (None: encode them live)."""
        if self.q_train is None:
            return None
        return self.q_train.get(idx, device) if isinstance(self.q_train, EncoderCache) else self.q_train[idx]


def _build(data: QADataset, model_config: ModelConfig, tc: TrainConfig, resolver_config: ResolverConfig | None,
           train: list[QAExample], dev: list[QAExample], device: torch.device, layout: Layout):
    """The system to train, its optimizer (the model and resolver at ``lr``, a fine-tuned encoder at
    ``encoder_lr``) and the run's ``config.json`` record."""
    if model_config.mask_topics is None:
        model_config = model_config.with_(mask_topics=topic_answer_share(train) < 0.01)
    encoder = build_encoder(tc.encoder, freeze=tc.freeze_encoder, device=device)
    system = QASystem.build(data.kg, model_config, encoder, resolver_config=resolver_config, device=device,
                            kernel=tc.kernel, kb_group=layout.shard_group)
    above = list(system.model.parameters()) + (list(system.resolver.parameters()) if system.resolver else [])
    params = [{"params": above, "lr": tc.lr}]
    if not tc.freeze_encoder:
        params.append({"params": list(encoder.parameters()), "lr": tc.encoder_lr})
    opt = torch.optim.AdamW(params, weight_decay=tc.weight_decay)
    resolver_config = system.resolver.config if system.resolver is not None else None
    system.config = run_record(data, train, dev, model_config, tc, encoder, resolver_config)
    return system, opt


def _restore(run: Path | None, system: QASystem, opt: torch.optim.Optimizer, resume: bool,
             overwrite: bool, writer: bool = True) -> _State:
    """A fresh :class:`_State`, or the one ``run/last`` holds (weights, optimizer, RNG) when
    resuming; a run folder holding a model is replaced only with ``overwrite`` (by the writer)."""
    if run is None:
        return _State()
    held = [n for n in ("best", "last") if (run / n).exists()]
    if held and not resume and writer:
        if not overwrite:
            raise CheckpointError(f"{run}: already holds a trained model ({', '.join(n + '/' for n in held)}); "
                                  "resume it (leave out --no-resume), pass --overwrite to replace it, or "
                                  "choose another run folder")
        for n in held:
            shutil.rmtree(run / n)
    if not (resume and (run / "last").exists()):
        return _State()
    saved, weights, state, folder = load_checkpoint_files(run, "last", with_state=True)
    check_kg(saved, system.kg, folder)
    check_resume(saved, system.config, folder)
    system.load_state_dict(weights, where=folder)
    try:
        opt.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{folder}: weights or optimizer state do not fit the model "
                              f"({str(err).splitlines()[0]})") from None
    set_rng_state(state["rng"])
    best_dev = saved["best_dev"]
    return _State(saved.get("history", []), float("nan") if best_dev is None else best_dev, saved["best_epoch"],
                  saved["epoch"], state["stale"])


class _Step(torch.nn.Module):
    """A batch's loss as a module over the trained parts, the form
    :class:`~torch.nn.parallel.DistributedDataParallel` wraps to average gradients over replicas."""

    def __init__(self, system: QASystem) -> None:
        super().__init__()
        self.system = system
        self.parts = torch.nn.ModuleList([m for m in (system.model, system.resolver, system.encoder) if m is not None])

    def forward(self, examples: list[QAExample], encoded: Any, topics: list[list[int]], answers: list[list[int]],
                scale: float = 1.0) -> torch.Tensor:
        system = self.system
        out, _ = system.forward(examples, encoded, topics)
        gold = gold_mask(answers, out.scores.shape[1]).to(system.device)  # + count slots
        ops = out.operations
        loss = (program_loss(ops.answers, ops.program, gold, system.model.config.program_loss, ops.gates)
                if ops is not None and ops.answers is not None
                else answer_loss(out.scores, gold, system.model.config.objective))
        return loss * scale if scale != 1.0 else loss


def _train_epoch(system: QASystem, opt: torch.optim.Optimizer, data: _Batches, tc: TrainConfig, epoch: int,
                 progress: bool, step: torch.nn.Module, layout: Layout) -> float:
    """One pass over the training questions in a random order (rank 0's order on every rank; each
    replica takes its slice of a batch, its loss weighed so that the average over replicas is the
    batch's mean); the mean loss."""
    system.model.train()
    system.encoder.train(not tc.freeze_encoder)
    if system.resolver is not None:
        system.resolver.train()
    trainable = [p for group in opt.param_groups for p in group["params"]]
    order, size = layout.broadcast(torch.randperm(len(data.train))), tc.steps_batch(len(data.train))
    total, steps = 0.0, 0
    bar = tqdm(range(0, len(data.train), size), desc=f"epoch {epoch + 1}/{tc.epochs}", disable=not progress,
               leave=False)
    for s in bar:
        batch = order[s: s + size].tolist()
        if len(batch) < layout.replicas:  # a last batch too small to give every replica a question
            continue
        idx = layout.my_slice(batch)
        loss = step([data.train[i] for i in idx], data.encoded(idx, system.device), [data.topics[i] for i in idx],
                    [data.answers[i] for i in idx], len(idx) * layout.replicas / len(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        loss = loss.detach()
        torch.nn.utils.clip_grad_norm_(trainable, tc.grad_clip)
        opt.step()
        total, steps = total + loss.item(), steps + 1
        bar.set_postfix(loss=f"{total / steps:.3f}")
        if RELEASE_EVERY and steps % RELEASE_EVERY == 0:
            release_memory()
    return layout.mean_over_replicas(total / max(steps, 1))


def _validate(system: QASystem, data: _Batches, epoch: int, loss: float, t0: float) -> dict[str, float]:
    """The epoch's row of the history: loss, validation Hits@1 (and, for a resolver model, the
    entity-resolution scores measured against the annotations training never reads), seconds."""
    metrics = system.evaluate(data.dev, data.q_dev) if data.dev else {"hits@1": float("nan")}
    if RELEASE_EVERY:
        release_memory()
    row = {"epoch": epoch + 1, "loss": loss, "dev_hits@1": metrics["hits@1"], "seconds": time.perf_counter() - t0}
    row.update({f"dev_{k}": v for k, v in metrics.get("er", {}).items()})
    return row


def _save(run: Path | None, system: QASystem, opt: torch.optim.Optimizer, state: _State, improved: bool,
          kept: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    """Checkpoint the epoch: ``best/`` when improved, ``last/`` with optimizer and RNG state. Without
    a run folder, the best weights are kept in memory; returns them."""
    weights = system.state_dict()
    if run is None:
        return {k: v.detach().clone() for k, v in weights.items()} if improved else kept
    progress = replace(system.config, epoch=state.history[-1]["epoch"], history=tuple(state.history),
                       best_dev=state.best_dev, best_epoch=state.best_epoch)
    meta = json_safe(progress.to_json())
    if improved:
        save_checkpoint(run / "best", weights=weights, config=meta, kg=system.kg)
    save_checkpoint(run / "last", weights=weights, config=meta,
                    state={"optimizer": opt.state_dict(), "rng": rng_state(), "stale": state.stale})
    return kept


def _fit(data: QADataset, model_config: ModelConfig, tc: TrainConfig, *, run: Path | None, resume: bool,
         progress: bool, on_epoch: Callable[[dict[str, float]], None] | None,
         resolver_config: ResolverConfig | None, overwrite: bool, layout: Layout) -> FitResult:
    """The loop: build, restore, then per epoch train, validate, keep the best, checkpoint."""
    start = time.perf_counter()
    seed_everything(tc.seed)
    device = torch.device(layout.device or tc.device or default_device())
    train, dev = _subset(data.train, tc.max_train, tc.seed), _subset(data.dev, tc.max_eval, tc.seed)
    if not train:
        raise ValueError(f"dataset {data.name!r} has no training questions")
    system, opt = _build(data, model_config, tc, resolver_config, train, dev, device, layout)
    if layout.writer:  # the writer may clear the folder (overwrite) before the others read it
        state = _restore(run, system, opt, resume, overwrite)
    layout.barrier()
    if not layout.writer:
        state = _restore(run, system, opt, resume, overwrite, writer=False)
    batches = _Batches.prepare(system, train, dev, tc.freeze_encoder, progress)
    step: torch.nn.Module = _Step(system)
    if layout.replicas > 1:  # gradients averaged over the replicas, weights taken from rank 0
        step = torch.nn.parallel.DistributedDataParallel(step, process_group=layout.data_group,
                                                         find_unused_parameters=True, broadcast_buffers=False)
    kept = None
    for epoch in range(state.first_epoch, tc.epochs):
        if state.stale >= tc.patience:
            break
        t0 = time.perf_counter()
        with collective_errors(layout.rank) if layout.world > 1 else contextlib.nullcontext():
            loss = _train_epoch(system, opt, batches, tc, epoch, progress, step, layout)
            row = _validate(system, batches, epoch, loss, t0)
            if layout.world > 1:  # rank 0's score on every rank: they keep and stop alike, whatever rounding
                row["dev_hits@1"] = float(layout.broadcast(torch.tensor([row["dev_hits@1"]], dtype=torch.float64)))
        improved = state.record(row, has_dev=bool(dev))
        kept = _save(run if layout.writer else None, system, opt, state, improved, kept)
        if on_epoch is not None:
            on_epoch(row)
        if progress:
            tqdm.write(f"epoch {epoch + 1}: loss {row['loss']:.4f}  dev Hits@1 {row['dev_hits@1']:.2f}  "
                       f"({row['seconds']:.1f} s)")
    layout.barrier()  # rank 0 has written its last checkpoint
    if layout.writer and run is not None and (run / "best").exists():
        system = QASystem.from_pretrained(run / "best", kg=data.kg, device=device)
    elif kept is not None:
        system.load_state_dict(kept)
    return FitResult(system, state.history, state.best_epoch, state.best_dev, run, time.perf_counter() - start)
