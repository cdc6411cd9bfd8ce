"""Argument types of the ``kgqa`` command — numbers checked when the command line is parsed, so a
bad value is a one-line usage error that names the option — and :class:`UsageError`, what every
command raises for options that do not go together."""

from __future__ import annotations

import argparse
import math

from ..errors import KGQAError

__all__ = ["positive_int", "positive_float", "UsageError"]


class UsageError(KGQAError):
    """Options that do not go together, or name something this machine or run does not have."""


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value
