"""The parser of ``kgqa``, ``kgqa stats``, and what every command shares: one line on stderr for a
failure a user can cause (``--json``: an error object too), Ctrl-C handled, argument types."""

from __future__ import annotations

import argparse
import errno
import json
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..errors import KGQAError
from ..datasets import KG_FILES
from ..kg import KnowledgeGraph
from .args import positive_int
from .demo import run_demo

__all__ = ["main", "build_parser"]



def _read_kg(name: str, inverses: bool) -> KnowledgeGraph:
    """``toy``, a registered graph file (from $KGQA_DATA), a saved folder, or a triple file."""
    from ..runtime import data_dir

    if name == "toy":
        from ..toy import toy_kg

        return toy_kg()
    if name in KG_FILES:
        rel, read = KG_FILES[name]
        return read(Path(data_dir()) / rel)
    if Path(name).is_dir() and (Path(name) / "kg.json").is_file():  # a folder written by save
        return KnowledgeGraph.load_saved(name)
    return KnowledgeGraph.load(name, add_inverses=inverses)


def _stats(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    kg = _read_kg(args.kg, not args.no_inverses)
    elapsed = time.perf_counter() - start
    print(f"{kg!r}\nloaded in {elapsed:.2f} s\n{kg.stats().format(None if args.all else STATS_TOP)}")
    return 0


STATS_TOP = 30  # relations listed by `kgqa stats` without --all


def _shard(args: argparse.Namespace) -> int:
    from ..follow.distributed import save_shards

    kg = _read_kg(args.kg, not args.no_inverses)
    meta = save_shards(kg.triples, kg.num_entities, kg.num_relations, args.out, args.parts, by=args.by)
    sizes = meta["facts_per_part"]
    print(f"{kg!r}\n{args.parts} parts by {args.by} -> {args.out}: {min(sizes):,}..{max(sizes):,} facts each "
          f"(largest / mean {meta['balance']:.3f})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="kgqa", description="Question answering over knowledge graphs.")
    parser.add_argument("--version", action="version", version=f"kgqa {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more about what is happening (-vv: details) (default: warnings only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only, no warnings or progress")
    sub = parser.add_subparsers(dest="command", metavar="{demo,stats,shard,train,eval,ask,explore}")
    demo = sub.add_parser("demo", help="train on the toy world and answer the seed questions, showing the work")
    demo.add_argument("questions", nargs="*", help="questions to ask (default: the three seed questions)")
    demo.add_argument("--pipeline", action="store_true", help="use the traditional pipeline instead of the model")
    demo.add_argument("--out", help="run folder for the demo model's checkpoints "
                                    "(default: runs/toy-demo, with --quick runs/toy-demo-quick)")
    demo.add_argument("--quick", action="store_true",
                      help="a few epochs per model: a first look in seconds (also under KGQA_QUICK=1 or CI)")
    demo.add_argument("-k", type=positive_int, default=4, help="how many answers to show (default: 4)")
    demo.set_defaults(func=run_demo)
    stats = sub.add_parser("stats", help="load a knowledge graph and print its statistics")
    stats.add_argument("kg", nargs="?", default="toy",
                       help="toy, " + ", ".join(KG_FILES) + " (from $KGQA_DATA), or a triple file (default: toy)")
    stats.add_argument("--no-inverses", action="store_true", help="for a file: do not add r^-1 relations")
    stats.add_argument("--all", action="store_true", help=f"list every relation (default: the {STATS_TOP} largest)")
    stats.set_defaults(func=_stats)
    shard = sub.add_parser("shard", help="split a knowledge graph's facts into parts, one per process (docs/scale.md)")
    shard.add_argument("kg", help="toy, " + ", ".join(KG_FILES) + " (from $KGQA_DATA), or a triple file")
    shard.add_argument("--parts", type=positive_int, required=True, help="how many parts (processes); required")
    shard.add_argument("--out", required=True, help="folder for the parts and shards.json; required")
    shard.add_argument("--by", choices=["subject", "hash"], default="subject",
                       help="subject: contiguous subject ranges of about equal fact counts; hash: subjects "
                            "scattered by a hash (default: subject)")
    shard.add_argument("--no-inverses", action="store_true", help="for a file: do not add r^-1 relations")
    shard.set_defaults(func=_shard)
    from .explore import add_command as add_explore
    from .train import add_commands

    add_commands(sub)
    add_explore(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every failure a user can cause ends in one line on stderr (and, with
    ``--json``, a JSON object ``{"error": ..., "message": ...}`` on stdout), never a traceback;
    Ctrl-C says how to go on."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `kgqa`: what it can do
        parser.print_help()
        return 0
    shown, handler = warnings.showwarning, signal.getsignal(signal.SIGINT)
    warnings.showwarning = _show_warning
    try:  # Ctrl-C raises KeyboardInterrupt from here on (only the main thread may set handlers)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:
        handler = None
    from ..log import cli_logging

    try:
        with cli_logging(-1 if args.quiet else args.verbose):
            return _run(args)
    finally:  # leave the caller's process as it was (main is also called from tests and notebooks)
        warnings.showwarning = shown
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _ignore_interrupts()
        resume = " (the last finished epoch is saved); resume with the same command" if args.command == "train" else ""
        return _fail(args, "Interrupted", f"interrupted{resume}", 130)
    except (KGQAError, OSError) as err:
        return _fail(args, type(err).__name__, _os_message(err) if isinstance(err, OSError) and
                     not isinstance(err, KGQAError) else str(err), 2)


def _ignore_interrupts() -> None:
    """After the first Ctrl-C is handled, ignore more: a signal that a library swallowed and
    re-raised later must not turn the clean exit into a traceback."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass


def _os_message(err: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` as ``x: permission denied``; a full disk says so."""
    what = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        what = "no space left on the device (free some space, then run the command again)"
    name = err.filename if err.filename is not None else ""
    return f"{name}: {what}" if name else what


def _fail(args: argparse.Namespace, kind: str, message: str, code: int) -> int:
    print(f"kgqa: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": kind, "message": message}))
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"kgqa: warning: {message}", file=sys.stderr)
