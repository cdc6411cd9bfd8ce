"""The ``kgqa`` command: a thin argparse layer over the package.

    kgqa demo                 train on the toy world, answer the seed questions, showing the work
                              (--pipeline: the traditional link-parse-execute pipeline instead)
    kgqa stats [KG]           load a knowledge graph (toy, metaqa, wc2014, pq-2h, pq-3h or a file)
                              and print its statistics and load time
    kgqa train / eval / ask   the end-to-end model (see kgqa.cli_train)
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from .errors import KGQAError
from .kg import KnowledgeGraph
from .traverse import Hop

__all__ = ["main", "build_parser", "chains", "positive_int", "positive_float"]

# Real knowledge graphs by short name: (path under KGQA_DATA, add r^-1 inverses?)
REAL_KGS = {
    "metaqa": ("metaqa/kb_partial.txt", True),
    "wc2014": ("wc2014/kb.txt", False),  # the file already holds *_inverse relations
    "pq-2h": ("pathquestion/2H-kb.txt", True),
    "pq-3h": ("pathquestion/3H-kb.txt", True),
}


def chains(kg: KnowledgeGraph, hops: Sequence[Hop]) -> list[str]:
    """Every complete path of a trace as ``A --r--> B --s--> C`` (by display name)."""
    if not hops:
        return []
    paths = [[s, o] for s, o in hops[0].edges]
    for hop in hops[1:]:
        paths = [p + [o] for p in paths for s, o in hop.edges if s == p[-1]]
    out = []
    for p in paths:
        text = kg.label(p[0])
        for hop, e in zip(hops, p[1:]):
            text += f" --{hop.relation}--> {kg.label(e)}"
        out.append(text)
    return out


def _demo(args: argparse.Namespace) -> int:
    from .toy import SEED_QUESTIONS, toy_kg

    kg = toy_kg()
    base = sum(not kg.is_inverse(r) for r in kg.relations)
    print(f"The toy world: {kg.num_entities} entities, {base} relations (+{kg.num_relations - base} "
          f"inverses), {kg.num_triples} facts.")
    questions = args.questions or list(SEED_QUESTIONS)
    return _demo_pipeline(kg, questions) if args.pipeline else _demo_model(kg, questions, args)


def _demo_pipeline(kg: KnowledgeGraph, questions: Sequence[str]) -> int:
    from .pipeline import Pipeline, TemplateParser
    from .toy import toy_questions

    train = toy_questions("train")
    parser = TemplateParser.from_examples(kg, [(q.question, q.program) for q in train])
    pipeline = Pipeline(kg, parser)
    print(f"Engine: the traditional pipeline — string-matching entity linker, template parser with "
          f"{len(parser)} rules read off {len(train)} annotated questions, symbolic execution.\n")
    for question in questions:
        result = pipeline.answer(question)
        print(f"Q: {question}")
        for m in result.mentions:
            note = ""
            if len(m.candidates) > 1:
                note = f"  ({len(m.candidates)} entities share this name; took the most connected)"
            print(f"   linked : {m.text!r} -> {kg.label(m.chosen)}{note}")
        if not result.ok:
            print(f"   failed : {result.failure}\n")
            continue
        print(f"   query  : {result.program.describe()}")
        for hops in result.traces:
            for line in chains(kg, hops):
                print(f"   path   : {line}")
        names = ", ".join(kg.names[a] for a in result.answers) or "(no answer)"
        print(f"   answer : {names}\n")
    return 0


def _demo_model(kg: KnowledgeGraph, questions: Sequence[str], args: argparse.Namespace) -> int:
    from .datasets import load_toy
    from .model import ModelConfig
    from .pipeline import StringLinker
    from .toy import toy_questions

    data = load_toy()
    run = Path(args.out)
    print(f"Engine: the end-to-end model, trained here from {len(data.train)} question-answer pairs "
          f"alone (no queries), encoder all-MiniLM-L6-v2 (frozen); a question with several entities "
          f"follows one branch per entity and takes their minimum. Checkpoints: {run}/")
    start = time.perf_counter()

    def epochs(row: dict[str, float]) -> None:
        print(f"   epoch {row['epoch']:>2}: loss {row['loss']:.3f}, validation Hits@1 {row['dev_hits@1']:5.1f}",
              flush=True)

    # the softmax loss (random-walk weights) rather than the default bce: its scores are shares of
    # the walk, which the printout below reads as such; on the toy world both answer alike
    result = _fit_resumed(data, ModelConfig(intersection="min", loss="softmax"), run, on_epoch=epochs)
    system = result.system
    test = system.evaluate(data.test)
    print(f"Trained in {time.perf_counter() - start:.0f} s (best epoch {result.best_epoch}); Hits@1 on "
          f"{test['n']} held-out test paraphrases: {test['hits@1']:.1f}%.")
    start = time.perf_counter()
    text_run = run / "from-text"
    print(f"A second model reads the entities from the text itself (spans, entities and their number "
          f"learned from the same answers; checkpoints: {text_run}/) ...")
    reader = _fit_resumed(data, ModelConfig(intersection="min", entities="text"), text_run)
    test = reader.system.evaluate(data.test)
    print(f"Trained in {time.perf_counter() - start:.0f} s; Hits@1 on the test paraphrases from text alone: "
          f"{test['hits@1']:.1f}%.\n")
    annotated = {q.question: q.topics for q in toy_questions()}
    linker = StringLinker(kg)
    for question in questions:
        print(f"Q: {question}")
        topics, how = annotated.get(question), "annotated"
        if topics is None:
            topics, how = tuple(kg.entities[m.chosen] for m in linker.link(question)), "string match"
        if not topics:
            print("   no topic entity found in the question\n")
            continue
        trace = system.explain(question, list(topics), k=args.k, paths=1, how=how)
        print(f"   topics ({how}): " + ", ".join(t.name for t in trace.topics))
        for line in trace.walk_lines(relations=2):
            print(f"   {line}")
        if trace.best is not None:
            for path in trace.best.paths:  # the heaviest path of each walk to the top answer
                print(f"   path   : {path.text()}   ({100 * path.share:.0f}% of its score)")
            print(f"   answer : {trace.best.name} ({trace.best.score:.2f})   next: " +
                  ", ".join(f"{a.name} ({a.score:.2f})" for a in trace.answers[1:]))
        else:
            print("   answer : (no entity reached)")
        read = reader.system.explain(question, k=1, paths=0)
        found = ", ".join(f"{m.text!r} {m.p:.2f}" for m in read.mentions if m.p >= 0.05) or "(none)"
        print(f"   from the text alone: mentions {found} -> " + (", ".join(t.name for t in read.topics) or "(none)")
              + "; answer " + (f"{read.best.name} ({read.best.score:.2f})" if read.best else "(none)"))
        print()
    print(f"Ask your own: kgqa ask \"Who directed Big?\" --checkpoint {run} --entity big\n"
          f"         or: kgqa ask \"Who directed Big?\" --checkpoint {text_run}")
    return 0


def _fit_resumed(data, model_config, run: Path, on_epoch=None):
    """Train a demo model in ``run``, resuming its checkpoint; a checkpoint of an earlier version of
    the model is reported and trained afresh."""
    from .checkpoint import CheckpointError, RunInUseError
    from .train import TrainConfig, fit

    try:
        return fit(data, model_config, TrainConfig(), run_dir=run, progress=False, resume=True, on_epoch=on_epoch)
    except RunInUseError:
        raise
    except CheckpointError as err:
        print(f"   ({err}; training afresh)")
        return fit(data, model_config, TrainConfig(), run_dir=run, progress=False, resume=False, on_epoch=on_epoch,
                   overwrite=True)


def _stats(args: argparse.Namespace) -> int:
    from .runtime import data_dir

    start = time.perf_counter()
    if args.kg == "toy":
        from .toy import toy_kg

        kg = toy_kg()
    elif args.kg in REAL_KGS:
        rel, inverses = REAL_KGS[args.kg]
        kg = KnowledgeGraph.load(Path(data_dir()) / rel, add_inverses=inverses)
    elif Path(args.kg).is_dir() and (Path(args.kg) / "kg.json").is_file():  # a folder written by save
        kg = KnowledgeGraph.load_saved(args.kg)
    else:
        kg = KnowledgeGraph.load(args.kg, add_inverses=not args.no_inverses)
    elapsed = time.perf_counter() - start
    print(f"{kg!r}\nloaded in {elapsed:.2f} s\n{kg.stats().format(None if args.all else STATS_TOP)}")
    return 0


STATS_TOP = 30  # relations listed by `kgqa stats` without --all


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="kgqa", description="Question answering over knowledge graphs.")
    parser.add_argument("--version", action="version", version=f"kgqa {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more about what is happening (-vv: details) (default: warnings only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only, no warnings or progress")
    sub = parser.add_subparsers(dest="command", metavar="{demo,stats,train,eval,ask}")
    demo = sub.add_parser("demo", help="train on the toy world and answer the seed questions, showing the work")
    demo.add_argument("questions", nargs="*", help="questions to ask (default: the three seed questions)")
    demo.add_argument("--pipeline", action="store_true", help="use the traditional pipeline instead of the model")
    demo.add_argument("--out", default="runs/toy-demo",
                      help="run folder for the demo model's checkpoints (default: runs/toy-demo)")
    demo.add_argument("-k", type=positive_int, default=4, help="how many answers to show (default: 4)")
    demo.set_defaults(func=_demo)
    stats = sub.add_parser("stats", help="load a knowledge graph and print its statistics")
    stats.add_argument("kg", nargs="?", default="toy",
                       help="toy, " + ", ".join(REAL_KGS) + " (from $KGQA_DATA), or a triple file (default: toy)")
    stats.add_argument("--no-inverses", action="store_true", help="for a file: do not add r^-1 relations")
    stats.add_argument("--all", action="store_true", help=f"list every relation (default: the {STATS_TOP} largest)")
    stats.set_defaults(func=_stats)
    from .cli_train import add_commands

    add_commands(sub)
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
    from .log import cli_logging

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
