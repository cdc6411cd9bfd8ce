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

import errno
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .errors import KGQAError
from .kg import KnowledgeGraph

__all__ = ["CheckpointError", "RunInUseError", "save_checkpoint", "load_checkpoint_files", "resolve_checkpoint",
           "read_config", "recover_run", "run_lock", "check_writable", "check_kg", "FORMAT", "weights_of", "file_digest"]

FORMAT = 1  # version of the checkpoint layout


class CheckpointError(KGQAError):
    """A checkpoint is missing, incomplete, or does not fit the knowledge graph or configuration."""


class RunInUseError(CheckpointError):
    """Another process is training in the same run folder."""


CHECKED_FILES = ("model.safetensors", "state.pt")  # files whose SHA-256 config.json records


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, in hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        sums = {name: file_digest(tmp / name) for name in CHECKED_FILES if (tmp / name).is_file()}
        (tmp / "config.json").write_text(json.dumps({"format": FORMAT, **config, "sha256": sums}, indent=2,
                                                    allow_nan=False) + "\n", encoding="utf-8")
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
    ``which`` (``best``/``last``) sub-folder; a half-swapped ``.NAME.old`` is used when
    ``NAME/`` is missing (the state a crash between the two renames of :func:`save_checkpoint`
    leaves; :func:`recover_run` puts it back in place)."""
    p = Path(path)
    if p.is_file():
        raise CheckpointError(f"{p}: is a file; pass the run folder (or its best/ or last/ folder)")
    if not p.exists():
        raise CheckpointError(f"{p}: no such run folder")
    for cand in (p, p / which, p / f".{which}.old"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return cand
    raise CheckpointError(f"{p}: no checkpoint here (expected config.json and model.safetensors, "
                          f"directly or in {which}/)")


def recover_run(run: str | os.PathLike) -> list[str]:
    """Put a run folder back in order after a crash; returns what was done, one line each.

    :func:`save_checkpoint` swaps a checkpoint in with two renames (``NAME`` → ``.NAME.old``, then
    the new one → ``NAME``). A kill between them leaves ``.NAME.old`` and no ``NAME``: it is
    renamed back. A kill after them leaves both: ``.NAME.old`` is the outdated one and is removed.
    Half-written ``.NAME.tmp-*`` folders are removed. Call it while holding :func:`run_lock`.
    """
    run = Path(run)
    done: list[str] = []
    if not run.is_dir():
        return done
    for which in ("best", "last"):
        target, old = run / which, run / f".{which}.old"
        if old.exists() and not target.exists():
            os.replace(old, target)
            done.append(f"restored {which}/ from .{which}.old (a save was interrupted)")
        elif old.exists():
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"removed the outdated .{which}.old")
        for tmp in sorted(run.glob(f".{which}.tmp-*")):
            shutil.rmtree(tmp, ignore_errors=True)
            done.append(f"removed the half-written {tmp.name}")
    return done


@contextmanager
def run_lock(run: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive advisory lock on a run folder (its ``.lock`` file) while training in it.

    A second process asking for the same folder gets :class:`RunInUseError` naming the process
    that holds it, at once. The lock is the kernel's (``fcntl.flock``), so a killed process never
    leaves a stale one behind.
    """
    import fcntl

    run = Path(run)
    check_writable(run)
    path = run / ".lock"
    f = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise RunInUseError(f"{run}: run folder in use by PID {holder} (another training run writes "
                                "here); wait for it to finish or pass another --out") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield run
    finally:
        f.close()


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and make sure files can be written in it, before any work is
    done there; raises :class:`CheckpointError` saying why not."""
    folder = Path(folder)
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise CheckpointError(f"{folder}: cannot be a run folder: {parent} is a file")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CheckpointError(f"{folder}: cannot write checkpoints here ({err.strerror or err})") from None
    return folder


def load_checkpoint_files(
    path: str | os.PathLike, which: str = "best", *, with_state: bool = False
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any] | None, Path]:
    """Read ``(config, weights, state or None, folder)`` of a checkpoint."""
    folder = resolve_checkpoint(path, which)
    config = read_config(folder)
    _verify(folder, config, ("model.safetensors", "state.pt") if with_state else ("model.safetensors",))
    try:
        weights = load_file(str(folder / "model.safetensors"))
    except Exception as err:  # safetensors raises its own SafetensorError, or OSError
        raise CheckpointError(f"{folder / 'model.safetensors'}: damaged or unreadable ({err})") from None
    state = None
    if with_state:
        if not (folder / "state.pt").is_file():
            raise CheckpointError(f"{folder}: no optimizer state to resume from (state.pt is missing)")
        try:
            state = torch.load(folder / "state.pt", weights_only=False)
        except (pickle.UnpicklingError, EOFError, RuntimeError, OSError, ValueError) as err:
            raise CheckpointError(f"{folder / 'state.pt'}: damaged or unreadable ({err})") from None
    return config, weights, state, folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint folder (see :func:`resolve_checkpoint`), checked to be a
    JSON object of this format; the weights are not read."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{folder / 'config.json'}: not valid JSON ({err})") from None
    except OSError as err:
        raise CheckpointError(f"{folder / 'config.json'}: cannot read ({err.strerror or err})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{folder / 'config.json'}: expected a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {config.get('format')!r}, this version reads {FORMAT}")
    return config


def _verify(folder: Path, config: dict[str, Any], names: tuple[str, ...]) -> None:
    """Check the files ``names`` against the SHA-256 sums that ``config.json`` records (a
    checkpoint written before the sums were recorded has none to check)."""
    sums = config.get("sha256")
    if sums is None:
        return
    if not isinstance(sums, dict):
        raise CheckpointError(f"{folder / 'config.json'}: 'sha256' must be an object of file digests")
    for name in names:
        if name not in sums or not (folder / name).is_file():
            continue
        try:
            got = file_digest(folder / name)
        except OSError as err:
            raise CheckpointError(f"{folder / name}: cannot read ({err.strerror or err})") from None
        if got != sums[name]:
            raise CheckpointError(f"{folder / name}: damaged (its SHA-256 differs from the one recorded in "
                                  "config.json when it was written); retrain, or resume from the other checkpoint")


def check_kg(config: dict[str, Any], kg: KnowledgeGraph, where: Path) -> None:
    """Raise :class:`CheckpointError` unless ``kg`` is the graph the checkpoint was trained on."""
    want = config.get("kg", {}).get("fingerprint")
    if want != kg.fingerprint():
        raise CheckpointError(
            f"{where}: trained on a different knowledge graph (fingerprint {want}, "
            f"{config.get('kg', {}).get('entities')} entities / {config.get('kg', {}).get('relations')} relations) "
            f"than the one given ({kg.fingerprint()}, {kg.num_entities} entities / {kg.num_relations} relations)"
        )
