"""The package's logger, ``logging.getLogger("kgqa")``, and how the command line sets its verbosity.

Library code reports what a reader may want to know but did not ask for — a run folder put back in
order after a crash, where a checkpoint came from, how long a model took to load — through
:data:`log`, never with ``print``; what a function was asked for it returns. A program that
imports the package sees nothing unless it configures logging (the package adds a
``NullHandler``); ``kgqa`` prints warnings, ``-v`` adds progress notes, ``-vv`` details, ``-q``
keeps to errors.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["log", "cli_logging"]

log = logging.getLogger("kgqa")
log.addHandler(logging.NullHandler())

LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}  # 2 and more: DEBUG


@contextmanager
def cli_logging(verbosity: int) -> Iterator[logging.Logger]:
    """Within the block, the ``kgqa`` logger writes ``kgqa: message`` lines to stderr at the level
    ``verbosity`` asks for (−1 quiet, 0 default, 1 ``-v``, 2 ``-vv``); afterwards it is as it was
    (the command line also runs inside tests and notebooks)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kgqa: %(message)s"))
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(LEVELS.get(verbosity, logging.DEBUG))
    log.propagate = False
    try:
        yield log
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
