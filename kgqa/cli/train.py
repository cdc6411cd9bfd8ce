"""``kgqa train``, ``kgqa eval`` and ``kgqa ask``: the end-to-end model from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import KGQAError
from ..train_config import TrainConfig
from .args import UsageError, positive_float, positive_int

__all__ = ["add_commands", "informative", "UsageError"]


def _load_data(args: argparse.Namespace):
    from ..datasets import load_dataset, load_user

    if args.kg or args.questions:
        if not (args.kg and args.questions):
            raise UsageError("kgqa train: --kg and --questions go together")
        return load_user(args.kg, args.questions, seed=TrainConfig.from_args(args).seed)
    return load_dataset(args.dataset)


def _check_device(name: str | None) -> None:
    """Refuse a device that this machine does not have, before anything is loaded."""
    if name is None:
        return
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device {name!r}: not a device ({str(err).splitlines()[0]})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {name}: only cpu and cuda are supported")


def informative(m: dict[str, Any]) -> dict[str, Any]:
    """``m`` without the breakdowns that carry no information: one group only, or groups that are
    placeholders (question type ``-``, hop count 0 of a plain question file)."""
    out = dict(m)
    for key, blank in (("by_type", "-"), ("by_hops", 0), ("by_topics", None)):
        groups = out.get(key, {})
        if key in out and (len(groups) <= 1 or all(g == blank for g in groups)):
            del out[key]
    return out


def _print_metrics(title: str, m: dict[str, Any]) -> None:
    keys = [k for k in m if k.startswith(("hits", "f1"))]
    print(f"{title}: n={m['n']}  " + "  ".join(f"{k} {m[k]:.2f}" for k in keys))
    if "program_accuracy" in m:
        print(f"   program chosen right {m['program_accuracy']:6.2f}")
    for key in ("by_operation", "by_type", "by_hops", "by_topics"):
        if key in m and len(m[key]) > 1:
            for g, row in m[key].items():
                print(f"   {str(g):<40} n={row['n']:<6} hits@1 {row['hits@1']:6.2f}")
            break


def _train(args: argparse.Namespace) -> int:
    from ..model import ModelConfig
    from ..train import fit

    from ..checkpoint import check_writable

    _check_device(args.device)
    if args.overwrite and not args.no_resume:
        raise UsageError("kgqa train: --overwrite goes with --no-resume (a resumed run replaces nothing)")
    run_dir = Path(args.out) if args.out else None
    if run_dir is not None:
        check_writable(run_dir)  # before the data and the encoder load, not after the first epoch
    data = _load_data(args)
    tc = TrainConfig.from_args(args, TrainConfig.quick() if args.quick else None, freeze_encoder=not args.finetune)
    if args.operations and args.entities != "given":
        raise UsageError("kgqa train: --operations runs on the given topic entities (--entities given)")
    if args.longest_match and args.entities == "given":
        raise UsageError("kgqa train: --longest-match tunes the entity resolver: use it with --entities span or text")
    combine = "min" if args.operations and args.intersection == "none" else args.intersection
    mc = ModelConfig(hops=args.hops, loss=args.loss, intersection=combine, entities=args.entities,
                     entity_kinds=args.entity_kinds or args.operations, hop_attention=not args.no_hop_attention,
                     operations=args.operations)
    run_dir = run_dir or Path("runs") / data.name
    from ..parallel import Layout

    layout = Layout.from_env(shards=args.shard_kg, data_parallel=args.data_parallel)
    if layout.world == 1 and (args.shard_kg is not None or args.data_parallel):
        from ..log import log

        log.warning("--shard-kg and --data-parallel split the work over processes started by torchrun "
                    "(torchrun --nproc-per-node N -m kgqa train ...); this is one process, which holds all of it")
    try:
        if layout.writer:
            grid = (f"  ({layout.world} processes: {layout.replicas} replica{'s' * (layout.replicas > 1)} × "
                    f"{layout.shards} part{'s' * (layout.shards > 1)} of the graph)")
            print(f"{data!r}\ntraining -> {run_dir}" + (grid if layout.world > 1 else ""))
            if data.origin is not None and data.notes:
                print(data.notes)
        resolver = None
        if args.longest_match:
            from ..resolve import ResolverConfig

            resolver = ResolverConfig.for_branches(mc.branched, longest_match=True)
        result = fit(data, mc, tc, run_dir=run_dir, resume=not args.no_resume, overwrite=args.overwrite,
                     progress=not getattr(args, "quiet", False), layout=layout, resolver_config=resolver)
    finally:
        layout.close()
    if not layout.writer:  # rank 0 evaluates and reports
        return 0
    test = informative(result.system.evaluate(data.test)) if data.test else None
    summary = {"dataset": data.name, "best_epoch": result.best_epoch, "dev_hits@1": result.best_dev,
               "test": test, "seconds": result.seconds, "command": " ".join(sys.argv)}
    from ..kg_io import atomic_write
    from ..runtime import json_safe

    atomic_write(run_dir / "metrics.json", json.dumps(json_safe(summary), indent=2, default=str, allow_nan=False) + "\n")
    dev = "-" if result.best_dev != result.best_dev else f"{result.best_dev:.2f}"
    print(f"best epoch {result.best_epoch}, dev Hits@1 {dev}, {result.seconds:.0f} s")
    if test is None:
        print("test: the test split is empty")
    else:
        _print_metrics("test", test)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..datasets import load_questions
    from ..qa import QASystem
    from .run_data import recorded_split

    system = QASystem.from_pretrained(args.checkpoint)
    if args.questions:
        examples, name = load_questions(args.questions, system.kg), args.questions
    else:
        examples, name = recorded_split(system, args.checkpoint, args.split, args.dataset)
    if not examples:
        raise UsageError(f"the {args.split} split of {name!r} is empty: nothing to evaluate")
    result = informative(system.evaluate(examples))
    if args.json:
        from ..runtime import json_safe

        print(json.dumps(json_safe(result), indent=2, default=str, allow_nan=False))
    else:
        _print_metrics(f"{args.questions or args.split}", result)
    return 0


def _ask(args: argparse.Namespace) -> int:
    from ..qa import QASystem

    questions = list(args.question)
    if args.questions:
        questions += _question_lines(args.questions)
    if not questions:
        raise UsageError("kgqa ask: no question: give it as an argument, or one per line with --questions FILE "
                         "(- reads standard input)")
    if args.entity and len(questions) > 1:
        raise UsageError("kgqa ask: --entity names the topic of one question; with several, mark each "
                         "question's entities as [name]")
    system = QASystem.from_pretrained(args.checkpoint)  # loaded once, however many questions
    if len(questions) == 1:
        trace = _explain(system, questions[0], list(args.entity or []), args.k)
        print(json.dumps(trace.to_json(), indent=2, ensure_ascii=False) if args.json else "\n".join(trace.lines()))
        return 0
    results, failed = [], 0
    for n, question in enumerate(questions, start=1):
        try:
            trace = _explain(system, question, [], args.k)
        except (KGQAError, ValueError) as err:
            failed += 1
            print(f"kgqa: error: question {n} ({question!r}): {err}", file=sys.stderr)
            results.append({"question": question, "error": str(err)})
            continue
        if args.json:
            results.append(trace.to_json())
        else:
            print("\n".join(trace.lines()) + "\n")
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if failed else 0


def _question_lines(path: str) -> list[str]:
    """The non-blank lines of a question file, or of standard input for ``-``."""
    if path == "-":
        return [ln.strip() for ln in sys.stdin.read().splitlines() if ln.strip()]
    from ..datasets.files import read_lines

    return [text.strip() for _, text in read_lines(path)]


def _explain(system, question: str, entities: list[str], k: int):
    """The :class:`~kgqa.trace.Trace` of one question (:meth:`QASystem.explain_typed
    <kgqa.qa.QASystem.explain_typed>`: topics from ``--entity``, ``[name]`` marks, the model's
    resolver or string matching); a question it cannot start from is a usage error."""
    if not question.strip():
        raise UsageError("kgqa ask: the question is empty")
    try:
        return system.explain_typed(question, entities, k=k)
    except ValueError as err:
        if "no topic entity" in str(err):
            raise UsageError("kgqa ask: no topic entity: pass --entity ID or mark it as [name] in the question") from None
        raise


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``eval`` and ``ask`` on the ``kgqa`` parser."""
    tr = sub.add_parser("train", help="train the end-to-end model on a dataset or your own KG + questions")
    tr.add_argument("--dataset", default="toy",
                    help="a registered dataset: toy, metaqa-1hop, pq-2h, wc-c, ... (default: toy)")
    tr.add_argument("--kg", help="your own KG file: s|r|o or tab-separated triples (default: the dataset's)")
    tr.add_argument("--questions", help="your own questions: 'text with [entity]<TAB>answer|answer' "
                                        "(default: the dataset's)")
    tr.add_argument("--out", help="run folder for checkpoints (default: runs/DATASET)")
    TrainConfig.add_arguments(tr, ("epochs", "batch_size", "lr", "encoder", "seed", "device", "kernel"),
                              types={"epochs": positive_int, "batch_size": positive_int, "lr": positive_float})
    tr.add_argument("--hops", type=positive_int, default=3, help="maximum hops T (default: 3)")
    # the choices are kgqa.model.LOSSES, not imported here so that --help stays fast
    tr.add_argument("--loss", choices=["auto", "softmax", "bce"], default="auto",
                    help="answer loss (default: auto, which is bce; softmax for --entities span/text with "
                         "--intersection, which mixes readings of several entities)")
    tr.add_argument("--intersection", choices=["none", "min", "product"], default="none",
                    help="questions with several entities: one branch per entity, combined by min or product "
                         "(default none: the entities share one walk)")
    tr.add_argument("--entities", choices=["given", "span", "text"], default="given",
                    help="where the topic entities come from: given (annotated); span (gold mention, learned "
                         "entity); text (learned from the question alone) (default: given)")
    tr.add_argument("--no-hop-attention", action="store_true",
                    help="an ablation: every question walks all --hops hops (the answer is the last hop's)")
    tr.add_argument("--operations", action="store_true",
                    help="the operation controller: per question a program (follow, intersect, union, difference, "
                         "count, argmax, argmin) run on one branch per entity (implies --intersection min and "
                         "--entity-kinds)")
    tr.add_argument("--entity-kinds", action="store_true",
                    help="read each hop's entity kinds off the graph: hops weigh only relations that leave "
                         "their entities, the hop attention sees what each hop reached")
    tr.add_argument("--shard-kg", type=positive_int, nargs="?", const=0, default=None, metavar="PARTS",
                    help="under torchrun: split the graph's facts over PARTS processes (default without a number: "
                         "all of them) that each follow their part of every hop (docs/scale.md)")
    tr.add_argument("--data-parallel", action="store_true",
                    help="under torchrun: split every batch over the processes (the replicas) and average "
                         "their gradients (DistributedDataParallel); with --shard-kg PARTS, a grid")
    tr.add_argument("--longest-match", action="store_true",
                    help="with --entities span or text: a span held inside a longer span that spells a name "
                         "(\"Glory\" in \"Days of Glory\") starts without the name's head start "
                         "(ResolverConfig.longest_match)")
    tr.add_argument("--finetune", action="store_true", help="fine-tune the encoder instead of freezing it")
    tr.add_argument("--quick", action="store_true", help="a few epochs on a subset")
    tr.add_argument("--no-resume", action="store_true", help="start afresh instead of resuming the run folder's checkpoint")
    tr.add_argument("--overwrite", action="store_true",
                    help="with --no-resume: replace the model the run folder already holds (refused without it)")
    tr.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint")
    ev.add_argument("--checkpoint", required=True, metavar="RUN",
                    help="a run folder written by kgqa train (its best/ checkpoint), or a checkpoint folder; required")
    ev.add_argument("--dataset", help="dataset to evaluate on (default: the one it was trained on)")
    ev.add_argument("--split", default="test", choices=["train", "dev", "test"], help="which split (default: test)")
    ev.add_argument("--questions", help="a question file in MetaQA format, on the checkpoint's KG "
                                        "(default: the dataset's split)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.set_defaults(func=_eval)

    ask = sub.add_parser("ask", help="answer questions with a checkpoint (loaded once for all of them)")
    ask.add_argument("question", nargs="*", help="one or more questions")
    ask.add_argument("--questions", metavar="FILE",
                     help="more questions, one per line (- reads standard input) (default: none)")
    ask.add_argument("--checkpoint", required=True, metavar="RUN",
                     help="a run folder written by kgqa train (its best/ checkpoint), or a checkpoint folder; required")
    ask.add_argument("--entity", action="append",
                     help="topic entity id or name, repeatable (default: marked [name] in the question, read by "
                          "the model's resolver, or found by string matching)")
    ask.add_argument("-k", type=positive_int, default=5, help="how many answers to show (default: 5)")
    ask.add_argument("--json", action="store_true", help="machine-readable output")
    ask.set_defaults(func=_ask)
