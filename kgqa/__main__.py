"""``python -m kgqa`` and the ``kgqa`` command: the command line, with Ctrl-C handled from the start.

Importing the command line loads torch, which takes seconds; a Ctrl-C in that time ends the
process with one line, not a traceback. :func:`kgqa.cli.main` then turns Ctrl-C back into
``KeyboardInterrupt``, so that whatever is being written is cleaned up before it exits with
status 130.
"""

import os
import signal
import sys


def _interrupted_while_starting(signum, frame) -> None:  # noqa: ARG001 - a signal handler's signature
    print("kgqa: error: interrupted", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)


def run() -> int:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    # no "Loading weights" progress bar each time an encoder loads (read when transformers loads)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from .cli import main

    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
        _interrupted_while_starting(signal.SIGINT, None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is done: a Ctrl-C now changes nothing
    if code == 130:
        # Interrupted, handled and reported. CPython remembers a KeyboardInterrupt that passed through
        # code run by exec (libraries build functions that way) even when it was caught, and on a
        # normal exit would then kill the process with SIGINT (status -2); leave directly instead.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return code


if __name__ == "__main__":
    sys.exit(run())
