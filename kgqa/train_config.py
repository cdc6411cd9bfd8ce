"""How to train: :class:`TrainConfig`, and the command-line options that set it.

A light module (no torch): ``kgqa train --help`` and every benchmark build their options from the
dataclass itself (:meth:`TrainConfig.add_arguments`, :meth:`TrainConfig.from_args`), so the
defaults a user reads are the ones training uses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

__all__ = ["TrainConfig"]


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

    # ------------------------------------------------------------------ command line
    HELP = {
        "epochs": "most epochs; early stopping usually ends sooner (default: {default}, with --quick {quick})",
        "batch_size": "questions per step (default: a 40th of the training questions, within 16..128)",
        "lr": "AdamW learning rate of the model (default: {default})",
        "patience": "stop after this many epochs without a better validation Hits@1 (default: {default})",
        "encoder": "minilm, a local model folder, or a hub name (default: {default})",
        "seed": "seeds the split, data order and initialisation (default: {default})",
        "max_train": "train on this many questions, drawn at random (default: all)",
        "max_eval": "validate on this many questions, drawn at random (default: all)",
        "device": "cpu, cuda, ... (default: CUDA when available)",
        "kernel": "how follow runs: auto, fused or torch; the same results (default: {default})",
    }
    """Help text of each field that has a command-line option."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, names: tuple[str, ...] = tuple(HELP), *,
                      types: Mapping[str, Callable[[str], object]] | None = None) -> None:
        """Add ``--epochs``, ``--batch-size``, ... (the fields ``names``) to ``parser``, typed as
        the fields are (or by ``types``, e.g. a check for positive numbers) and defaulting to None
        (the field's default applies), each help stating the default."""
        kinds = {f.name: f.type for f in fields(cls)}
        defaults, quick = cls(), cls.quick()
        for name in names:
            kind = kinds[name]
            convert = (types or {}).get(name) or (int if "int" in kind else float if "float" in kind else str)
            choices = ("auto", "fused", "torch") if name == "kernel" else None
            parser.add_argument("--" + name.replace("_", "-"), type=convert, choices=choices,
                                help=cls.HELP[name].format(default=getattr(defaults, name), quick=getattr(quick, name)))

    @classmethod
    def from_args(cls, args: argparse.Namespace, base: TrainConfig | None = None, **changes: object) -> TrainConfig:
        """``base`` (default: the defaults) with every option :meth:`add_arguments` added and the
        command line set, then ``changes``."""
        given = {name: getattr(args, name) for name in cls.HELP if getattr(args, name, None) is not None}
        return replace(base or cls(), **given, **changes)
