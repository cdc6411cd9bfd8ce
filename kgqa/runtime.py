"""Run-time switches shared by notebooks, scripts and tests: quick mode, seeding, devices, memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import random
from typing import Any

import torch

__all__ = ["quick_mode", "seed_everything", "default_device", "data_dir", "release_memory", "cache_tensors", "json_safe",
           "notebook_metadata"]

_TRUE = {"1", "true", "yes", "on"}


def quick_mode() -> bool:
    """True when ``KGQA_QUICK`` is set to a true value, or under CI (``CI`` set) unless
    ``KGQA_QUICK=0`` says otherwise. Notebooks shrink their data and epochs in quick mode."""
    flag = os.environ.get("KGQA_QUICK")
    if flag is not None and flag.strip() != "":
        return flag.strip().lower() in _TRUE
    return os.environ.get("CI", "").strip().lower() in _TRUE


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's (when installed) and torch's generators for a reproducible run."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency, but keep seeding usable without
        return
    np.random.seed(seed % 2**32)


def default_device() -> torch.device:
    """CUDA when available, else the CPU. Set ``KGQA_DEVICE`` to force one (``cpu``, ``cuda:1``)."""
    name = os.environ.get("KGQA_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_dir(required: bool = True) -> "os.PathLike[str] | None":
    """The folder named by ``KGQA_DATA`` (real datasets), or None when unset and not required."""
    from pathlib import Path

    value = os.environ.get("KGQA_DATA")
    if not value:
        if required:
            raise FileNotFoundError(
                "KGQA_DATA is not set: point it at the folder holding metaqa/, wc2014/ and "
                "pathquestion/ (see the README, section 'Real datasets')"
            )
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"KGQA_DATA={value!r} is not a folder")
    return path


_LIBC: ctypes.CDLL | None | bool = False  # False: not looked up yet; None: no malloc_trim here


def release_memory() -> bool:
    """Hand the heap memory that is free again back to the operating system (glibc's
    ``malloc_trim``); True when it could be asked. Training allocates tensors of a different
    size every batch, and glibc keeps the freed space in its arenas: a process's resident memory
    then climbs epoch after epoch although what it uses does not (``benchmarks/resolver_memory.py``).
    Where the C library has no
    ``malloc_trim`` (macOS, musl) this does nothing and returns False."""
    global _LIBC
    if _LIBC is False:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
        except OSError:  # pragma: no cover - a C library that cannot be loaded
            lib = None
        _LIBC = lib if lib is not None and hasattr(lib, "malloc_trim") else None
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def cache_tensors() -> torch.inference_mode:
    """A context in which tensors are ordinary ones even inside ``torch.inference_mode``: for caches
    filled lazily. A cache first filled while evaluating (under inference mode) would otherwise
    hold inference tensors, and training afterwards — a fit after an evaluation, in the same
    process — would fail on them ("Inference tensors cannot be saved for backward")."""
    return torch.inference_mode(False)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinite floats replaced by None (JSON's ``null``), in nested dicts,
    lists and tuples: the JSON files and ``--json`` output of kgqa are standard JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def notebook_metadata() -> dict[str, Any]:
    """The notebook metadata JupyterLab writes when it connects to this environment's ipykernel:
    kernelspec "Python 3 (ipykernel)" and the kernel's full ``language_info``. A notebook saved
    with anything else is rewritten on opening and shows as modified although nobody edited it."""
    import platform

    return {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                              "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                              "pygments_lexer": "ipython3", "version": platform.python_version()}}
