"""Checkpoints: safetensors weights + JSON config, written atomically, checked on load.

A run folder holds two checkpoints, each a folder of its own:

- ``best/`` — the model with the best validation Hits@1 (what ``eval`` and ``ask`` use);
- ``last/`` — the latest epoch, with optimizer and random-generator state (what a resumed run
  continues from).

Each checkpoint is written into a temporary folder first and then swapped in with renames, so a
crash at any moment leaves either the old or the new checkpoint complete, never a mixture.
Inside: ``model.safetensors``, ``state.pt`` (optimizer and RNG, ``last/`` only), ``config.json``
(model and training configuration, encoder, the knowledge graph's fingerprint, history) and
``kg/`` (the knowledge graph itself, so a checkpoint answers questions on its own).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .errors import KGQAError
from .kg import KnowledgeGraph

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint_files", "resolve_checkpoint", "check_kg", "FORMAT",
           "weights_of"]

FORMAT = 1  # version of the checkpoint layout


class CheckpointError(KGQAError):
    """A checkpoint is missing, incomplete, or does not fit the knowledge graph or configuration."""


def save_checkpoint(
    folder: str | os.PathLike,
    *,
    weights: dict[str, torch.Tensor],
    config: dict[str, Any],
    kg: KnowledgeGraph | None = None,
    state: dict[str, Any] | None = None,
) -> Path:
    """Write a complete checkpoint to ``folder``, replacing any previous one atomically."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(tmp / "model.safetensors"))
        if state is not None:
            torch.save(state, tmp / "state.pt")
        if kg is not None:
            kg.save(tmp / "kg")
        (tmp / "config.json").write_text(json.dumps({"format": FORMAT, **config}, indent=2) + "\n",
                                         encoding="utf-8")
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def weights_of(weights: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """The tensors of one part of a checkpoint (``"model"``, ``"encoder"``, ``"resolver"``), with
    the ``part.`` prefix they are saved under removed: a state dict for that module."""
    prefix = f"{part}."
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


def resolve_checkpoint(path: str | os.PathLike, which: str = "best") -> Path:
    """The checkpoint folder for ``path``: itself if it holds ``config.json``, else its
    ``which`` (``best``/``last``) sub-folder; a half-swapped ``.NAME.old`` is recovered."""
    p = Path(path)
    for cand in (p, p / which, p / f".{which}.old"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return cand
    raise CheckpointError(f"{p}: no checkpoint here (expected config.json and model.safetensors, "
                          f"directly or in {which}/)")


def load_checkpoint_files(
    path: str | os.PathLike, which: str = "best", *, with_state: bool = False
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any] | None, Path]:
    """Read ``(config, weights, state or None, folder)`` of a checkpoint."""
    folder = resolve_checkpoint(path, which)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{folder / 'config.json'}: not valid JSON ({err})") from None
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {config.get('format')!r}, this version reads {FORMAT}")
    weights = load_file(str(folder / "model.safetensors"))
    state = None
    if with_state:
        if not (folder / "state.pt").is_file():
            raise CheckpointError(f"{folder}: no optimizer state to resume from (state.pt is missing)")
        state = torch.load(folder / "state.pt", weights_only=False)
    return config, weights, state, folder


def check_kg(config: dict[str, Any], kg: KnowledgeGraph, where: Path) -> None:
    """Raise :class:`CheckpointError` unless ``kg`` is the graph the checkpoint was trained on."""
    want = config.get("kg", {}).get("fingerprint")
    if want != kg.fingerprint():
        raise CheckpointError(
            f"{where}: trained on a different knowledge graph (fingerprint {want}, "
            f"{config.get('kg', {}).get('entities')} entities / {config.get('kg', {}).get('relations')} relations) "
            f"than the one given ({kg.fingerprint()}, {kg.num_entities} entities / {kg.num_relations} relations)"
        )
