"""The loaders: the toy world, MetaQA, PathQuestion, WorldCup2014 and your own graph and questions,
each checking every line and naming the file and line of the first bad one.

Real data is found under ``root`` (the registry passes the folder named by ``KGQA_DATA``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from ..errors import KGFormatError, MissingDataError, QAFormatError
from ..kg import KnowledgeGraph, inverse_name
from .base import (ORIGINS, DataWarning, QADataset, QAExample, dedupe_lines, format_split, dedupe_questions, seen_in_train,
                   split_examples)
from .files import find_mention, parse_bracketed, parse_pathquestion, parse_worldcup, read_lines

__all__ = ["load_toy", "load_metaqa", "load_pathquestion", "load_worldcup", "load_worldcup_kg", "load_user",
           "load_questions", "metaqa_path", "require_file", "METAQA_RELATIONS", "WC_PARTS"]


def require_file(root: str | os.PathLike, rel: str, origin: str) -> Path:
    """``root/rel``, or a :class:`MissingDataError` saying what is missing and where to get it."""
    p = Path(root) / rel
    if not p.is_file():
        raise MissingDataError(f"missing data file {p}. Point KGQA_DATA (or root=) at the folder that "
                               f"holds metaqa/, wc2014/, pathquestion/ and simplequestions-wikidata/; {ORIGINS[origin]} (see the "
                               "README, section 'Real datasets')", path=p)
    return p


def load_toy(*, dev_fraction: float = 0.1, seed: int = 0, questions: str = "hand") -> QADataset:
    """The toy questions: ``test`` is the toy test split; ``train``/``dev`` split the toy train split.

    ``questions``: ``"hand"`` (the hand-written questions) or ``"all"`` (with the generated ones,
    whose test phrasings no training question uses; the seed questions are test questions there —
    :func:`kgqa.toy.toy_questions`). The dev slice (``dev_fraction``, seeded) is for model
    selection, so the test split stays unseen. Mentions are located through the topics' names and
    aliases. :func:`kgqa.toy.by_source` tells generated questions from hand-written ones.
    """
    from ..toy import SOURCES, ToyQuestion, toy_kg, toy_questions

    if questions not in ("hand", "all"):
        raise ValueError(f"questions must be 'hand' or 'all', got {questions!r}")
    kg = toy_kg()

    def convert(q: ToyQuestion) -> QAExample:
        spans: list[tuple[int, int]] = []
        for t in q.topics:
            i = kg.entity_index(t)
            spans.append(find_mention(q.question, (kg.names[i], *kg.aliases[i]), taken=spans))
        qtype = "conjunctive" if q.multi_entity else f"{q.hops}-hop"
        return QAExample(q.question, q.topics, tuple(spans), q.answers, qtype=qtype, hops=q.hops,
                         source=f"kgqa/data/{SOURCES[q.source]}:{q.line}", paths=q.program.paths)

    train, dev, _ = split_examples([convert(q) for q in toy_questions("train", source=questions)],
                                   (1 - dev_fraction, dev_fraction, 0.0), seed)
    test = [convert(q) for q in toy_questions("test", source=questions)]
    if questions == "all":
        notes = (f"toy world, hand-written and generated questions; dev = seeded {dev_fraction:.0%} slice of "
                 f"the train split (seed {seed}); test = phrasings no training question uses, the three "
                 "seed questions among them")
        return QADataset("toy-full", kg, train, dev, test, notes)
    notes = (f"toy world; dev = seeded {dev_fraction:.0%} slice of the toy train split (seed {seed}); "
             "test = the toy test split (paraphrases and new combinations)")
    return QADataset("toy", kg, train, dev, test, notes)


def load_metaqa(root: str | os.PathLike, hops: int | Literal["all"], *, holdout: float = 0.1, seed: int = 0,
                kb: str | None = None) -> QADataset:
    """MetaQA ``{hops}-hop`` in the "dev-trained" setting; ``hops="all"``: the 1-, 2- and 3-hop sets together.

    Train on ``qa_dev.txt`` minus a seeded held-out slice (``holdout``) that serves as ``dev``
    for model selection; test on ``qa_test.txt``. KG: ``metaqa/kb_partial.txt`` (else
    ``kb.txt``; or name one with ``kb``) with ``entities.txt`` as the entity list when present,
    inverse relations added. Each line has exactly one ``[topic]``, an entity id; answers
    outside the KG are kept (see :meth:`QADataset.stats`). Question types come from
    ``qa_{dev,test}_qtype.txt`` when present (same line order). With ``"all"`` each hop set is
    split on its own with the same seed, so its train, dev and test parts are exactly those of
    the one-hop-count dataset.
    """
    if hops not in (1, 2, 3, "all"):
        raise ValueError(f"MetaQA has 1-, 2- and 3-hop questions ('all' for the three), not {hops!r}")
    base = Path(root) / "metaqa"
    if kb is None:  # the partial KB of the shared data folder, else the full one of the release
        kb = "kb.txt" if (base / "kb.txt").is_file() and not (base / "kb_partial.txt").is_file() else "kb_partial.txt"
    kb_path = require_file(root, f"metaqa/{kb}", "metaqa")
    ents = base / "entities.txt"
    kg = KnowledgeGraph.load(kb_path, add_inverses=True, entity_list=ents if ents.is_file() else None)
    train, dev, test = [], [], []
    for k in (1, 2, 3) if hops == "all" else (hops,):
        parts = {}
        for split in ("dev", "test"):
            qpath = require_file(root, f"metaqa/{k}-hop/qa_{split}.txt", "metaqa")
            qtypes = _qtypes(base / f"{k}-hop/qa_{split}_qtype.txt", qpath)
            exs = parse_bracketed(qpath, kg, names=False, exactly_one=True, unknown_answers="keep",
                                  hops=k, qtypes=qtypes)
            parts[split] = [replace(e, paths=(metaqa_path(e.qtype, where=e.source),)) if e.qtype else e for e in exs]
        a, b, _ = split_examples(parts["dev"], (1 - holdout, holdout, 0.0), seed)
        train += a
        dev += b
        test += parts["test"]
    sets = "1-, 2- and 3-hop" if hops == "all" else f"{hops}-hop"
    notes = (f"MetaQA {sets} (dev-trained): train = qa_dev.txt minus a held-out {holdout:.0%} "
             f"(seed {seed}{', each hop set on its own' if hops == 'all' else ''}) used as dev for model selection; "
             "test = qa_test.txt. Published results train on the official qa_train.txt (96k-119k questions).")
    if kb == "kb_partial.txt":
        ceiling = {1: "97.2%", 2: "96.0%", 3: "97.1%", "all": "97.2% / 96.0% / 97.1% (1/2/3-hop)"}[hops]
        notes += (f" KG kb_partial.txt holds about 96% of kb.txt, so some gold answers are unreachable: "
                  f"the Hits@1 ceiling on qa_test.txt is {ceiling}; report Hits@1 and its share of it.")
    return QADataset(f"metaqa-{hops}" if hops == "all" else f"metaqa-{hops}hop", kg, train, dev, test, notes)


# the MetaQA relation that links a film to each other entity type of its question types
METAQA_RELATIONS = {"actor": "starred_actors", "director": "directed_by", "writer": "written_by",
                    "year": "release_year", "genre": "has_genre", "language": "in_language", "tags": "has_tags",
                    "tag": "has_tags", "imdbrating": "has_imdb_rating", "imdbvotes": "has_imdb_votes"}


def metaqa_path(qtype: str, *, where: str = "") -> tuple[str, ...]:
    """The gold relation path of a MetaQA question type: ``"actor_to_movie_to_director"`` is
    ``("starred_actors^-1", "directed_by")``. Every step goes from or to a film. ``where``
    (``"file:line"``) names the question in the error an unknown type raises."""
    kinds = qtype.split("_to_")
    path = []
    for a, b in zip(kinds, kinds[1:]):
        if "movie" not in (a, b) or (a, b) == ("movie", "movie") or (a if b == "movie" else b) not in METAQA_RELATIONS:
            file, _, line = where.rpartition(":")
            raise QAFormatError(f"unknown MetaQA question type {qtype!r}: each step must link a film "
                                f"and one of {sorted(METAQA_RELATIONS)}", path=file or None,
                                line=int(line) if line.isdigit() else None)
        path.append(METAQA_RELATIONS[b] if a == "movie" else METAQA_RELATIONS[a] + "^-1")
    return tuple(path)


def _qtypes(path: Path, questions: Path) -> list[str] | None:
    """Lines of a ``qa_*_qtype.txt`` file, checked to cover every line of ``questions``."""
    if not path.is_file():
        return None
    qtypes = path.read_text(encoding="utf-8").split("\n")
    if qtypes and not qtypes[-1].strip():
        qtypes.pop()
    last = read_lines(questions)[-1][0]
    if len(qtypes) != last:
        raise QAFormatError(f"has {len(qtypes):,} lines but {questions.name} has {last:,}: the files must "
                            "be aligned line by line", path=path)
    return qtypes


def load_pathquestion(root: str | os.PathLike, variant: Literal["2H", "3H"] = "2H", *,
                      split: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, grouped: bool = False) -> QADataset:
    """PathQuestion ``PQ-2H``/``PQ-3H`` over ``{2H,3H}-kb.txt`` (inverses added), seeded split.

    Topic = first entity of the gold path, found in the question as written (with underscores).
    """
    hops = variant.upper()
    if hops not in ("2H", "3H"):
        raise ValueError(f"PathQuestion comes as '2H' or '3H', not {variant!r}")
    kg = KnowledgeGraph.load(require_file(root, f"pathquestion/{hops}-kb.txt", "pathquestion"), add_inverses=True,
                             on_duplicate="drop")
    exs = parse_pathquestion(require_file(root, f"pathquestion/PQ-{hops}.txt", "pathquestion"), kg)
    train, dev, test = split_examples(exs, split, seed, grouped=grouped)
    leaked = seen_in_train(train, test)
    notes = (f"PathQuestion PQ-{hops}: no official split; seeded {format_split(split)} split (seed {seed}"
             + (", paraphrases of one fact kept on one side). " if grouped else "). ")
             + f"{leaked:,} of {len(test):,} test questions have their topic and answers (their fact) in "
             "training" + ("." if grouped else ": several paraphrases share one gold path, and a random split "
                           "puts paraphrases of a test question in train (grouped=True keeps them together)."))
    return QADataset(f"pq-{hops.lower()}", kg, train, dev, test, notes)


WC_PARTS = ("P1", "P2", "C")


def load_worldcup(root: str | os.PathLike, parts: str = "P1+P2+C", *, split: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0, dedupe: bool = False) -> QADataset:
    """WorldCup2014 question files ``WC-P1``, ``WC-P2``, ``WC-C`` (``parts`` joined by ``+``).

    KG: ``wc2014/kb.txt``, which holds its own inverses, named ``r_inverse`` (except for
    ``is_aged`` and ``wears_number``, whose inverses no question needs); they are renamed to the
    book's ``r^-1``, in the graph and in the gold paths, and no other inverse is added. Each file
    is split 80/10/10 with ``seed`` on its own, then the parts are concatenated. The files repeat many
    questions (one line per matching player); ``dedupe`` keeps one line per (question, answers).
    """
    chosen = [p.strip().upper() for p in parts.split("+") if p.strip()]
    bad = [p for p in chosen if p not in WC_PARTS]
    if bad or not chosen:
        raise ValueError(f"parts must be '+'-joined names among {WC_PARTS}, got {parts!r}")
    kg, renamed = _book_inverses(KnowledgeGraph.load(require_file(root, "wc2014/kb.txt", "wc2014"), add_inverses=False))
    train, dev, test = [], [], []
    for part in dict.fromkeys(chosen):
        exs = parse_worldcup(require_file(root, f"wc2014/WC-{part}.txt", "wc2014"), kg, conjunctive=part == "C")
        exs = [replace(ex, paths=tuple(tuple(renamed.get(r, r) for r in p) for p in ex.paths)) for ex in exs]
        if dedupe:
            exs = dedupe_lines(exs)
        a, b, c = split_examples(exs, split, seed)
        train += a
        dev += b
        test += c
    name = "wc-all" if set(chosen) == set(WC_PARTS) else "wc-" + "+".join(chosen).lower()
    notes = (f"WorldCup2014 {'+'.join(chosen)}: no official split; seeded {format_split(split)} split of each file "
             f"(seed {seed}). " + ("Duplicate (question, answers) lines removed." if dedupe else
                                   "The files repeat questions verbatim; without dedupe=True a test question "
                                   "can also be in train."))
    return QADataset(name, kg, train, dev, test, notes)


WC_INVERSE = "_inverse"
"""How WorldCup2014's file names an inverse relation: ``plays_in_club_inverse``."""


def load_worldcup_kg(path: str | os.PathLike) -> KnowledgeGraph:
    """WorldCup2014's ``kb.txt`` with its ``r_inverse`` relations named ``r^-1`` (as :func:`load_worldcup`)."""
    return _book_inverses(KnowledgeGraph.load(path, add_inverses=False))[0]


def _book_inverses(kg: KnowledgeGraph) -> tuple[KnowledgeGraph, dict[str, str]]:
    """``kg`` with every ``r_inverse`` whose ``r`` it holds renamed ``r^-1``, and the renaming."""
    renamed = {r: inverse_name(r[: -len(WC_INVERSE)]) for r in kg.relations
               if r.endswith(WC_INVERSE) and kg.has_relation(r[: -len(WC_INVERSE)])}
    clash = [new for new in renamed.values() if kg.has_relation(new)]
    if clash:
        raise KGFormatError(f"the graph holds both {clash[0]!r} and an '_inverse' relation of the same name",
                            path=kg.source or None)
    return KnowledgeGraph(kg.entities, [renamed.get(r, r) for r in kg.relations], kg.triples, names=kg.names,
                          aliases=kg.aliases, types=kg.types, source=kg.source), renamed


def load_questions(path: str | os.PathLike, kg: KnowledgeGraph, *,
                   unknown_answers: Literal["error", "keep"] = "error") -> list[QAExample]:
    """Read ``question with [entity] mentions<TAB>answer|answer`` lines against ``kg``.

    A bracket text (one or more per line) or answer is an entity id, else a unique display name
    or alias; otherwise :class:`~kgqa.errors.UnknownEntityError` names the file, the line and
    close matches.
    """
    return parse_bracketed(path, kg, names=True, unknown_answers=unknown_answers)


def load_user(kg_path: str | os.PathLike, questions_path: str | os.PathLike, *, add_inverses: bool = True,
              split: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
              on_duplicate: Literal["error", "drop"] = "error", name: str | None = None,
              dedupe: bool = True, grouped: bool = True) -> QADataset:
    """Your own graph and questions: a triple file (``s|r|o`` or tab-separated) or a folder
    written by :meth:`KnowledgeGraph.save` (which keeps display names), and a question file in
    the format of :func:`load_questions`; split with ``split`` and ``seed``.

    By default repeated questions (same text, topics and answers) are kept once (``dedupe``), and
    questions that share topics and answers stay on one side of the split (``grouped``, see
    :func:`split_examples`), so that no test question is a copy or a rewording of a training one;
    each is reported with a :class:`DataWarning`, as is an empty dev or test split."""
    kp = Path(kg_path)
    if kp.is_dir():
        kg = KnowledgeGraph.load_saved(kp)
        kg = kg.with_inverses() if add_inverses else kg
    elif kp.is_file():
        kg = KnowledgeGraph.load(kp, add_inverses=add_inverses, on_duplicate=on_duplicate)
    else:
        raise MissingDataError(f"{kp}: no such knowledge-graph file or folder", path=kp)
    questions = load_questions(questions_path, kg)
    notes = [f"user data: {kp} and {questions_path}; seeded {format_split(split)} split (seed {seed}"
             + (", questions sharing topics and answers kept on one side)" if grouped else ")")]
    if dedupe:
        questions, dropped = dedupe_questions(questions)
        if dropped:
            notes.append(f"{dropped:,} repeated question line(s) removed ({len(questions):,} unique left)")
            warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    train, dev, test = split_examples(questions, split, seed, grouped=grouped)
    for part, exs in (("dev", dev), ("test", test)):
        if not exs:
            notes.append(f"the {part} split is empty ({len(questions)} questions split {format_split(split)})")
            warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    leaked = seen_in_train(train, test)
    if leaked:
        notes.append(f"{leaked:,} of {len(test):,} test questions have their topics and answers in training")
        warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    origin = {"loader": "user", "kg": str(kp.resolve()), "questions": str(Path(questions_path).resolve()),
              "add_inverses": add_inverses, "split": list(split), "seed": seed, "on_duplicate": on_duplicate,
              "dedupe": dedupe, "grouped": grouped}
    return QADataset(name or Path(questions_path).stem, kg, train, dev, test, "; ".join(notes), origin=origin)
