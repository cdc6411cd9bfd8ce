"""``kgqa train``, ``kgqa eval`` and ``kgqa ask``: the end-to-end model from the command line."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "describe_work"]

_BRACKET = re.compile(r"\[([^\[\]]+)\]")


def _load_data(args: argparse.Namespace):
    from .datasets import load_dataset, load_user

    if args.kg or args.questions:
        if not (args.kg and args.questions):
            raise SystemExit("kgqa train: --kg and --questions go together")
        return load_user(args.kg, args.questions, seed=args.seed)
    return load_dataset(args.dataset)


def _print_metrics(title: str, m: dict[str, Any]) -> None:
    keys = [k for k in m if k.startswith(("hits", "f1"))]
    print(f"{title}: n={m['n']}  " + "  ".join(f"{k} {m[k]:.2f}" for k in keys))
    if len(m.get("by_type", {})) > 1:
        for g, row in m["by_type"].items():
            print(f"   {str(g):<40} n={row['n']:<6} hits@1 {row['hits@1']:6.2f}")


def _train(args: argparse.Namespace) -> int:
    from .model import ModelConfig
    from .train import TrainConfig, fit

    data = _load_data(args)
    tc = TrainConfig.quick() if args.quick else TrainConfig()
    changes = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                 "encoder": args.encoder, "seed": args.seed, "device": args.device}.items()
               if v is not None}
    tc = tc.with_(**changes, freeze_encoder=not args.finetune)
    mc = ModelConfig(hops=args.hops, loss=args.loss, intersection=args.intersection, entities=args.entities)
    run_dir = Path(args.out or Path("runs") / data.name)
    print(f"{data!r}\ntraining -> {run_dir}")
    result = fit(data, mc, tc, run_dir=run_dir, resume=not args.no_resume)
    test = result.system.evaluate(data.test)
    summary = {"dataset": data.name, "best_epoch": result.best_epoch, "dev_hits@1": result.best_dev,
               "test": test, "seconds": result.seconds, "command": " ".join(sys.argv)}
    (run_dir / "metrics.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"best epoch {result.best_epoch}, dev Hits@1 {result.best_dev:.2f}, {result.seconds:.0f} s")
    _print_metrics("test", test)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .datasets import load_dataset, load_questions
    from .qa import QASystem

    system = QASystem.from_checkpoint(args.checkpoint)
    if args.questions:
        examples = load_questions(args.questions, system.kg)
    else:
        from .checkpoint import load_checkpoint_files

        name = args.dataset or load_checkpoint_files(args.checkpoint)[0].get("dataset")
        examples = getattr(load_dataset(name), args.split)
    result = system.evaluate(examples)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_metrics(f"{args.questions or args.split}", result)
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .pipeline import StringLinker
    from .qa import QASystem

    system = QASystem.from_checkpoint(args.checkpoint)
    question, entities = args.question, list(args.entity or [])
    if not question.strip():
        raise SystemExit("kgqa ask: the question is empty")
    if system.resolves and not entities and not _BRACKET.search(question):
        return _print_answer(system, system.ask(question, k=args.k), "resolved from the text", args.json)
    how = "given"
    if not entities and _BRACKET.search(question):
        entities = _BRACKET.findall(question)
        question = _BRACKET.sub(lambda m: m.group(1), question)
        how = "bracketed"
    if not entities:
        entities = [system.kg.entities[m.chosen] for m in StringLinker(system.kg).link(question)]
        how = "string match"
    if not entities:
        raise SystemExit("kgqa ask: no topic entity: pass --entity ID or mark it as [name] in the question")
    return _print_answer(system, system.ask(question, entities, k=args.k), how, args.json)


def _print_answer(system, answer, how: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
        return 0
    kg = system.kg
    print(f"Q: {answer.question}")
    slots = bool(answer.entity_count)  # several entities from text: one line per mention slot
    for s in answer.spans:
        cands = ", ".join(f"{kg.label(e)} {p:.2f}" for e, _, p in s.entities)
        print(f"   {'mention' if slots else 'span'} {s.text!r} p={s.p:.2f} -> {cands}")
    if slots:
        print("   entities in the question: " + ", ".join(f"{n} {p:.2f}" for n, p in enumerate(answer.entity_count, 1)))
    print(f"   topic entities ({how}): " + (", ".join(kg.label(e) for e in answer.topics) or "(none found)"))
    for line in describe_work(kg, answer):
        print(f"   {line}")
    for eid, name, score in answer.answers:
        print(f"   {score:8.4f}  {kg.label(eid)}")
    if not answer.answers:
        print("   (no entity reached)")
    return 0


def describe_work(kg, answer, *, relations: int = 3, reached: int = 3) -> list[str]:
    """Lines showing what the model attended to: the relations per hop, or, for an intersection
    model, each branch's relations and what the branch alone reaches, then how they combine."""
    def hops(rels: list[list[tuple[str, float]]], att: list[float], indent: str = "") -> list[str]:
        return [f"{indent}hop {t} (attention {a:.2f}): " + ", ".join(f"{r} {w:.2f}" for r, w in hop[:relations])
                for t, (hop, a) in enumerate(zip(rels, att), start=1)]

    if len(answer.branches) <= 1:  # one entity: one walk, nothing to combine
        return hops(answer.relations, answer.hop_attention)
    lines = []
    for k, branch in enumerate(answer.branches, start=1):
        lines.append(f"branch {k} from {kg.label(branch.topic)}:")
        lines += hops(branch.relations, branch.hop_attention, "  ")
        got = ", ".join(f"{n} {s:.3f}" for _, n, s in branch.answers[:reached]) or "(nothing)"
        lines.append(f"  reaches: {got}")
    lines.append(f"answer = {answer.combine} over the {len(answer.branches)} branches")
    return lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``eval`` and ``ask`` on the ``kgqa`` parser."""
    tr = sub.add_parser("train", help="train the end-to-end model on a dataset or your own KG + questions")
    tr.add_argument("--dataset", default="toy", help="a registered dataset (toy, metaqa-1hop, pq-2h, wc-c, ...)")
    tr.add_argument("--kg", help="your own KG file: s|r|o or tab-separated triples")
    tr.add_argument("--questions", help="your own questions: 'text with [entity]<TAB>answer|answer'")
    tr.add_argument("--out", help="run folder for checkpoints (default runs/DATASET)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--hops", type=int, default=3, help="maximum hops T (default 3)")
    # the choices are kgqa.model.LOSSES, not imported here so that --help stays fast
    tr.add_argument("--loss", choices=["auto", "softmax", "bce"], default="auto",
                    help="answer loss (auto: bce; softmax for --entities span/text with --intersection, which mixes "
                         "readings of several entities)")
    tr.add_argument("--intersection", choices=["none", "min", "product"], default="none",
                    help="questions with several entities: one branch per entity, combined by min or product "
                         "(default none: the entities share one walk)")
    tr.add_argument("--entities", choices=["given", "span", "text"], default="given",
                    help="where the topic entities come from: given (annotated, default); span (gold mention, "
                         "learned entity); text (learned from the question alone)")
    tr.add_argument("--encoder", help="minilm (default), a local model folder, or a hub name")
    tr.add_argument("--finetune", action="store_true", help="fine-tune the encoder instead of freezing it")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", help="cpu, cuda, ... (default: CUDA when available)")
    tr.add_argument("--quick", action="store_true", help="a few epochs on a subset")
    tr.add_argument("--no-resume", action="store_true", help="start afresh even if the run folder has a checkpoint")
    tr.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--dataset", help="dataset to evaluate on (default: the one it was trained on)")
    ev.add_argument("--split", default="test", choices=["train", "dev", "test"])
    ev.add_argument("--questions", help="a question file in MetaQA format, on the checkpoint's KG")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.set_defaults(func=_eval)

    ask = sub.add_parser("ask", help="answer one question with a checkpoint")
    ask.add_argument("question")
    ask.add_argument("--checkpoint", required=True)
    ask.add_argument("--entity", action="append", help="topic entity id or name (repeatable)")
    ask.add_argument("-k", type=int, default=5, help="how many answers to show")
    ask.add_argument("--json", action="store_true", help="machine-readable output")
    ask.set_defaults(func=_ask)
