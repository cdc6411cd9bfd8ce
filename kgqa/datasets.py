"""QA datasets: questions with topic entities and answers, split into train/dev/test, with their KG.

>>> from kgqa.datasets import load_dataset
>>> ds = load_dataset("toy")
>>> ds.train[0].question, ds.train[0].topics
('Where is the Mona Lisa exhibited?', ('mona_lisa',))

Registered names (:data:`DATASETS`): ``toy``; ``metaqa-{1,2,3}hop`` (MetaQA, "dev-trained");
``pq-2h``, ``pq-3h`` (PathQuestion); ``wc-p1``, ``wc-p2``, ``wc-c``, ``wc-all`` (WorldCup2014);
``metaqa-multi`` (generated two-entity questions over the MetaQA KB mixed with MetaQA 1-hop, see
:mod:`kgqa.derived`).
Every loader checks each line and names the file and line of the first bad one.
Real data is found under ``root`` or the folder named by ``KGQA_DATA``; :func:`load_user` and
:func:`load_questions` read your own graph and questions.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .errors import MissingDataError, QAFormatError, UnknownDatasetError, close_matches
from .kg import KnowledgeGraph
from .qa_files import NO_SPAN, QAExample, adjacency, find_mention, parse_bracketed, parse_pathquestion, \
    parse_worldcup, read_lines, run_gold_paths
from .runtime import data_dir

__all__ = ["QAExample", "QADataset", "SplitStats", "DataWarning", "split_examples", "seen_in_train",
           "dedupe_questions", "load_toy", "load_metaqa",
           "load_pathquestion", "load_worldcup", "load_user", "load_questions", "DatasetSpec", "DATASETS", "metaqa_path",
           "load_dataset"]

SPLITS = ("train", "dev", "test")
ORIGINS = {
    "metaqa": "MetaQA comes from its authors' release (https://github.com/yuyuz/MetaQA)",
    "pathquestion": "PathQuestion comes from the IRN paper's repository (https://github.com/zmtkeke/IRN)",
    "wc2014": "WorldCup2014 comes from the IRN paper's repository (https://github.com/zmtkeke/IRN)",
}


@dataclass(frozen=True)
class SplitStats:
    """Counts for one split (see :meth:`QADataset.stats`); shares are fractions in [0, 1]."""

    n: int  # questions
    answers_mean: float  # answers per question
    answers_max: int
    topics_mean: float  # topic entities per question
    all_in_vocab: float  # share of questions whose answers are all KG entities
    any_in_vocab: float  # ... at least one of whose answers is a KG entity
    all_connected: float  # ... whose answers all occur in some fact
    mention_found: float  # ... whose topic mentions were all located in the text
    with_paths: int  # questions with gold relation paths
    paths_reach_all: float | None  # of those: the gold program's result holds every answer
    paths_exact: float | None  # of those: the gold program's result is exactly the answer set
    seen_in_train: float  # share whose question text also occurs in the train split
    pair_seen_in_train: float  # share whose (topics, answer set) also occurs in the train split


@dataclass(repr=False)
class QADataset:
    """A question set over one knowledge graph, split for training, model selection and testing."""

    name: str
    kg: KnowledgeGraph
    train: list[QAExample]
    dev: list[QAExample]
    test: list[QAExample]
    notes: str = ""  # provenance and caveats: the split seed, "dev-trained", KG ceilings
    origin: dict | None = None  # how to load it again when it is not registered (load_user's arguments)
    _cache: dict = field(default_factory=dict, init=False, compare=False)  # computed stats

    @property
    def splits(self) -> dict[str, list[QAExample]]:
        """``{"train": ..., "dev": ..., "test": ...}``."""
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def __len__(self) -> int:
        return len(self.train) + len(self.dev) + len(self.test)

    def stats(self, *, check_paths: bool = True) -> dict[str, SplitStats]:
        """:class:`SplitStats` per split; ``check_paths`` runs every gold program on the KG."""
        key = ("stats", check_paths)
        if key not in self._cache:
            seen = ({ex.question for ex in self.train}, {_pair(ex) for ex in self.train})
            self._cache[key] = {s: _split_stats(self.kg, exs, seen, check_paths)
                                for s, exs in self.splits.items()}
        return self._cache[key]

    def summary(self, *, check_paths: bool = True) -> str:
        """A table of :meth:`stats`, one column per split, followed by the notes."""
        st = self.stats(check_paths=check_paths)
        rows = [("questions", lambda s: f"{s.n:,}"), ("answers/question", lambda s: f"{s.answers_mean:.2f}"),
                ("max answers", lambda s: f"{s.answers_max:,}"), ("topics/question", lambda s: f"{s.topics_mean:.2f}"),
                ("answers all in KG", lambda s: _pct(s.all_in_vocab)),
                ("answers any in KG", lambda s: _pct(s.any_in_vocab)),
                ("answers all in facts", lambda s: _pct(s.all_connected)),
                ("mentions located", lambda s: _pct(s.mention_found)),
                ("gold path reaches all", lambda s: _pct(s.paths_reach_all)),
                ("gold path exact", lambda s: _pct(s.paths_exact)),
                ("text seen in train", lambda s: _pct(s.seen_in_train)),
                ("topics+answers in train", lambda s: _pct(s.pair_seen_in_train))]
        lines = [f"{self.name}: {self.kg!r}", f"{'':<24}" + "".join(f"{s:>10}" for s in SPLITS)]
        lines += [f"{label:<24}" + "".join(f"{fmt(st[s]):>10}" for s in SPLITS) for label, fmt in rows]
        return "\n".join(lines + ([self.notes] if self.notes else []))

    def __repr__(self) -> str:
        every = self.train + self.dev + self.test
        n = max(len(every), 1)
        has = self.kg.has_entity
        mean = sum(len(ex.answers) for ex in every) / n
        all_in = sum(all(has(a) for a in ex.answers) for ex in every) / n
        any_in = sum(any(has(a) for a in ex.answers) for ex in every) / n
        return (f"QADataset({self.name!r}: train {len(self.train):,}, dev {len(self.dev):,}, "
                f"test {len(self.test):,}; {mean:.2f} answers/question; answers in KG: all {all_in:.1%}, "
                f"any {any_in:.1%}; {self.kg!r})")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _pair(ex: QAExample) -> tuple[tuple[str, ...], frozenset[str]]:
    return ex.topics, frozenset(ex.answers)


def _split_stats(kg: KnowledgeGraph, exs: Sequence[QAExample], seen: tuple[set, set],
                 check_paths: bool) -> SplitStats:
    n = max(len(exs), 1)
    touched = set(kg.triples[:, 0].tolist()) | set(kg.triples[:, 2].tolist())
    idx = kg.entity_index
    with_paths = [ex for ex in exs if ex.program is not None] if check_paths else []
    adj = adjacency(kg) if with_paths else {}
    reach_all = exact = 0
    for ex in with_paths:
        got, gold = run_gold_paths(adj, ex), set(ex.answers)
        reach_all += gold <= got
        exact += gold == got
    m = len(with_paths)
    return SplitStats(
        n=len(exs),
        answers_mean=sum(len(ex.answers) for ex in exs) / n,
        answers_max=max((len(ex.answers) for ex in exs), default=0),
        topics_mean=sum(len(ex.topics) for ex in exs) / n,
        all_in_vocab=sum(all(kg.has_entity(a) for a in ex.answers) for ex in exs) / n,
        any_in_vocab=sum(any(kg.has_entity(a) for a in ex.answers) for ex in exs) / n,
        all_connected=sum(all(kg.has_entity(a) and idx(a) in touched for a in ex.answers) for ex in exs) / n,
        mention_found=sum(NO_SPAN not in ex.mentions for ex in exs) / n,
        with_paths=m,
        paths_reach_all=reach_all / m if m else None,
        paths_exact=exact / m if m else None,
        seen_in_train=sum(ex.question in seen[0] for ex in exs) / n,
        pair_seen_in_train=sum(_pair(ex) in seen[1] for ex in exs) / n,
    )


class DataWarning(UserWarning):
    """Something about a question set that makes its scores mean less than they seem: duplicate
    questions removed, a split left empty, test questions whose facts are in training."""


def split_examples(examples: Sequence[QAExample], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                   seed: int = 0, *, grouped: bool = False) -> tuple[list[QAExample], list[QAExample], list[QAExample]]:
    """Seeded random train/dev/test split; each part keeps the file order.

    Sizes are ``round(f_train * n)``, ``round(f_dev * n)`` and the rest; the same ``seed`` gives
    the same split on every machine (Python's ``random.Random``, not the hash seed).

    ``grouped`` keeps the questions that share their topics and answer set (paraphrases of one
    fact) on one side of the split: whole groups are shuffled and dealt out until each part has
    its share, so the sizes are close to, not exactly, the fractions. Without it a test question
    can be a rewording of a training one, and the test measures memory, not generalisation.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    n = len(examples)
    n_train = round(fractions[0] * n)
    n_dev = min(round(fractions[1] * n), n - n_train)
    if not grouped:
        order = list(range(n))
        random.Random(seed).shuffle(order)
        parts = (order[:n_train], order[n_train:n_train + n_dev], order[n_train + n_dev:])
    else:
        groups: dict[tuple, list[int]] = {}
        for i, ex in enumerate(examples):
            groups.setdefault(_pair(ex), []).append(i)
        keys = list(groups)
        random.Random(seed).shuffle(keys)
        parts = ([], [], [])
        for key in keys:
            part = 0 if len(parts[0]) < n_train else 1 if len(parts[1]) < n_dev else 2
            parts[part].extend(groups[key])
    return tuple([examples[i] for i in sorted(p)] for p in parts)  # type: ignore[return-value]


def seen_in_train(train: Sequence[QAExample], test: Sequence[QAExample]) -> int:
    """How many ``test`` questions have their topics and answer set (their fact) in ``train``."""
    seen = {_pair(ex) for ex in train}
    return sum(_pair(ex) in seen for ex in test)


def dedupe_questions(examples: Sequence[QAExample]) -> tuple[list[QAExample], int]:
    """The first of each (question text, topics, answer set) in file order, and how many repeats
    were dropped."""
    out = _dedupe_by(examples, lambda ex: (ex.question, ex.topics, frozenset(ex.answers)))
    return out, len(examples) - len(out)


# ---------------------------------------------------------------------------- loaders
def _require(root: str | os.PathLike, rel: str, origin: str) -> Path:
    """``root/rel``, or a :class:`MissingDataError` saying what is missing and where to get it."""
    p = Path(root) / rel
    if not p.is_file():
        raise MissingDataError(f"missing data file {p}. Point KGQA_DATA (or root=) at the folder that "
                               f"holds metaqa/, wc2014/ and pathquestion/; {ORIGINS[origin]} (see the "
                               "README, section 'Real datasets')", path=p)
    return p


def load_toy(*, dev_fraction: float = 0.1, seed: int = 0) -> QADataset:
    """The toy questions: ``test`` is the toy test split; ``train``/``dev`` split the toy train split.

    The dev slice (``dev_fraction``, seeded) is for model selection, so the test split stays
    unseen. Mentions are located through the topics' names and aliases.
    """
    from .toy import ToyQuestion, _rows, toy_kg, toy_questions  # _rows: line numbers of the questions

    kg = toy_kg()
    lines = {(f[0], f[1]): n for n, f in _rows("toy_questions.tsv", 7)}
    where = "kgqa/data/toy_questions.tsv"

    def convert(q: ToyQuestion) -> QAExample:
        spans: list[tuple[int, int]] = []
        for t in q.topics:
            i = kg.entity_index(t)
            spans.append(find_mention(q.question, (kg.names[i], *kg.aliases[i]), taken=spans))
        qtype = "conjunctive" if q.multi_entity else f"{q.hops}-hop"
        return QAExample(q.question, q.topics, tuple(spans), q.answers, qtype=qtype, hops=q.hops,
                         source=f"{where}:{lines.get((q.split, q.question), 0)}", paths=q.program.paths)

    train, dev, _ = split_examples([convert(q) for q in toy_questions("train")],
                                   (1 - dev_fraction, dev_fraction, 0.0), seed)
    notes = (f"toy world; dev = seeded {dev_fraction:.0%} slice of the toy train split (seed {seed}); "
             "test = the toy test split (paraphrases and new combinations)")
    return QADataset("toy", kg, train, dev, [convert(q) for q in toy_questions("test")], notes)


def load_metaqa(root: str | os.PathLike, hops: int, *, holdout: float = 0.1, seed: int = 0,
                kb: str | None = None) -> QADataset:
    """MetaQA ``{hops}-hop`` in the "dev-trained" setting.

    Train on ``qa_dev.txt`` minus a seeded held-out slice (``holdout``) that serves as ``dev``
    for model selection; test on ``qa_test.txt``. KG: ``metaqa/kb_partial.txt`` (else
    ``kb.txt``; or name one with ``kb``) with ``entities.txt`` as the entity list when present,
    inverse relations added. Each line has exactly one ``[topic]``, an entity id; answers
    outside the KG are kept (see :meth:`QADataset.stats`). Question types come from
    ``qa_{dev,test}_qtype.txt`` when present (same line order).
    """
    if hops not in (1, 2, 3):
        raise ValueError(f"MetaQA has 1-, 2- and 3-hop questions, not {hops!r}")
    base = Path(root) / "metaqa"
    if kb is None:  # the partial KB of the shared data folder, else the full one of the release
        kb = "kb.txt" if (base / "kb.txt").is_file() and not (base / "kb_partial.txt").is_file() else "kb_partial.txt"
    kb_path = _require(root, f"metaqa/{kb}", "metaqa")
    ents = base / "entities.txt"
    kg = KnowledgeGraph.load(kb_path, add_inverses=True, entity_list=ents if ents.is_file() else None)
    parts = {}
    for split in ("dev", "test"):
        qpath = _require(root, f"metaqa/{hops}-hop/qa_{split}.txt", "metaqa")
        qtypes = _qtypes(base / f"{hops}-hop/qa_{split}_qtype.txt", qpath)
        exs = parse_bracketed(qpath, kg, names=False, exactly_one=True, unknown_answers="keep",
                              hops=hops, qtypes=qtypes)
        parts[split] = [replace(e, paths=(metaqa_path(e.qtype, where=e.source),)) if e.qtype else e for e in exs]
    train, dev, _ = split_examples(parts["dev"], (1 - holdout, holdout, 0.0), seed)
    notes = (f"MetaQA {hops}-hop (dev-trained): train = qa_dev.txt minus a held-out {holdout:.0%} "
             f"(seed {seed}) used as dev for model selection; test = qa_test.txt. Published results "
             "train on the official qa_train.txt (96k-119k questions).")
    if kb == "kb_partial.txt":
        ceiling = {1: "97.2%", 2: "96.0%", 3: "97.1%"}[hops]
        notes += (f" KG kb_partial.txt holds about 96% of kb.txt, so some gold answers are unreachable: "
                  f"the Hits@1 ceiling on qa_test.txt is {ceiling}; report Hits@1 and its share of it.")
    return QADataset(f"metaqa-{hops}hop", kg, train, dev, parts["test"], notes)


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
    kg = KnowledgeGraph.load(_require(root, f"pathquestion/{hops}-kb.txt", "pathquestion"), add_inverses=True,
                             on_duplicate="drop")
    exs = parse_pathquestion(_require(root, f"pathquestion/PQ-{hops}.txt", "pathquestion"), kg)
    train, dev, test = split_examples(exs, split, seed, grouped=grouped)
    leaked = seen_in_train(train, test)
    notes = (f"PathQuestion PQ-{hops}: no official split; seeded {_fmt_split(split)} split (seed {seed}"
             + (", paraphrases of one fact kept on one side). " if grouped else "). ")
             + f"{leaked:,} of {len(test):,} test questions have their topic and answers (their fact) in "
             "training" + ("." if grouped else ": several paraphrases share one gold path, and a random split "
                           "puts paraphrases of a test question in train (grouped=True keeps them together)."))
    return QADataset(f"pq-{hops.lower()}", kg, train, dev, test, notes)


WC_PARTS = ("P1", "P2", "C")


def load_worldcup(root: str | os.PathLike, parts: str = "P1+P2+C", *, split: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0, dedupe: bool = False) -> QADataset:
    """WorldCup2014 question files ``WC-P1``, ``WC-P2``, ``WC-C`` (``parts`` joined by ``+``).

    KG: ``wc2014/kb.txt`` as it is: it already holds ``*_inverse`` relations, except for
    ``is_aged`` and ``wears_number``, whose inverses no question needs. Each file is split
    80/10/10 with ``seed`` on its own, then the parts are concatenated. The files repeat many
    questions (one line per matching player); ``dedupe`` keeps one line per (question, answers).
    """
    chosen = [p.strip().upper() for p in parts.split("+") if p.strip()]
    bad = [p for p in chosen if p not in WC_PARTS]
    if bad or not chosen:
        raise ValueError(f"parts must be '+'-joined names among {WC_PARTS}, got {parts!r}")
    kg = KnowledgeGraph.load(_require(root, "wc2014/kb.txt", "wc2014"), add_inverses=False)
    train, dev, test = [], [], []
    for part in dict.fromkeys(chosen):
        exs = parse_worldcup(_require(root, f"wc2014/WC-{part}.txt", "wc2014"), kg, conjunctive=part == "C")
        if dedupe:
            exs = _dedupe(exs)
        a, b, c = split_examples(exs, split, seed)
        train += a
        dev += b
        test += c
    name = "wc-all" if set(chosen) == set(WC_PARTS) else "wc-" + "+".join(chosen).lower()
    notes = (f"WorldCup2014 {'+'.join(chosen)}: no official split; seeded {_fmt_split(split)} split of each file "
             f"(seed {seed}). " + ("Duplicate (question, answers) lines removed." if dedupe else
                                   "The files repeat questions verbatim; without dedupe=True a test question "
                                   "can also be in train."))
    return QADataset(name, kg, train, dev, test, notes)


def _dedupe(exs: list[QAExample]) -> list[QAExample]:
    """The first line of each (question, answer set), in file order."""
    return _dedupe_by(exs, lambda ex: (ex.question, frozenset(ex.answers)))


def _dedupe_by(exs: Sequence[QAExample], key: Callable[[QAExample], object]) -> list[QAExample]:
    seen: set = set()
    out = []
    for ex in exs:
        k = key(ex)
        if k not in seen:
            seen.add(k)
            out.append(ex)
    return out


def _fmt_split(split: Sequence[float]) -> str:
    return "/".join(f"{f * 100:g}" for f in split)


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
    notes = [f"user data: {kp} and {questions_path}; seeded {_fmt_split(split)} split (seed {seed}"
             + (", questions sharing topics and answers kept on one side)" if grouped else ")")]
    if dedupe:
        questions, dropped = dedupe_questions(questions)
        if dropped:
            notes.append(f"{dropped:,} repeated question line(s) removed ({len(questions):,} unique left)")
            warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    train, dev, test = split_examples(questions, split, seed, grouped=grouped)
    for part, exs in (("dev", dev), ("test", test)):
        if not exs:
            notes.append(f"the {part} split is empty ({len(questions)} questions split {_fmt_split(split)})")
            warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    leaked = seen_in_train(train, test)
    if leaked:
        notes.append(f"{leaked:,} of {len(test):,} test questions have their topics and answers in training")
        warnings.warn(f"{questions_path}: {notes[-1]}", DataWarning, stacklevel=2)
    origin = {"loader": "user", "kg": str(kp.resolve()), "questions": str(Path(questions_path).resolve()),
              "add_inverses": add_inverses, "split": list(split), "seed": seed, "on_duplicate": on_duplicate,
              "dedupe": dedupe, "grouped": grouped}
    return QADataset(name or Path(questions_path).stem, kg, train, dev, test, "; ".join(notes), origin=origin)


# ---------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: how to load it from a data folder, and what it is."""

    load: Callable[..., QADataset]  # (root, **options) -> QADataset; root is None for packaged data
    description: str
    origin: str | None = None  # key of ORIGINS (where the files come from); None for packaged data

    def __call__(self, root: str | os.PathLike | None = None, **options) -> QADataset:
        return self.load(root, **options)


DATASETS: dict[str, DatasetSpec] = {
    "toy": DatasetSpec(lambda root, **o: load_toy(**o), "the embedded toy world"),
    **{f"metaqa-{k}hop": DatasetSpec(lambda root, k=k, **o: load_metaqa(root, k, **o),
                                     f"MetaQA {k}-hop (dev-trained), KG kb_partial.txt", "metaqa") for k in (1, 2, 3)},
    "pq-2h": DatasetSpec(lambda root, **o: load_pathquestion(root, "2H", **o), "PathQuestion 2-hop", "pathquestion"),
    "pq-3h": DatasetSpec(lambda root, **o: load_pathquestion(root, "3H", **o), "PathQuestion 3-hop", "pathquestion"),
    "wc-p1": DatasetSpec(lambda root, **o: load_worldcup(root, "P1", **o), "WorldCup2014 1-hop", "wc2014"),
    "wc-p2": DatasetSpec(lambda root, **o: load_worldcup(root, "P2", **o), "WorldCup2014 2-hop", "wc2014"),
    "wc-c": DatasetSpec(lambda root, **o: load_worldcup(root, "C", **o), "WorldCup2014 conjunctive (2 topics)",
                        "wc2014"),
    "wc-all": DatasetSpec(lambda root, **o: load_worldcup(root, "P1+P2+C", **o), "WorldCup2014 P1+P2+C mixed",
                          "wc2014"),
    "metaqa-multi": DatasetSpec(lambda root, **o: _load_metaqa_multi(root, **o),
                                "MetaQA-derived two-entity questions (generated) mixed with MetaQA 1-hop", "metaqa"),
}
"""Dataset names → :class:`DatasetSpec` (callable as ``DATASETS[name](root, **options)``)."""


def _load_metaqa_multi(root: str | os.PathLike, **options) -> QADataset:
    """:func:`kgqa.derived.load_metaqa_multi`, imported on use (that module imports this one)."""
    from .derived import load_metaqa_multi

    return load_metaqa_multi(root, **options)


def load_dataset(name: str, root: str | os.PathLike | None = None, **options) -> QADataset:
    """Load a registered dataset; real data comes from ``root`` or ``KGQA_DATA``.

    ``options`` go to the loader (``seed=``, ``holdout=``, ``split=``, ``dedupe=``...). An unknown
    name raises :class:`UnknownDatasetError` with close matches; missing files raise
    :class:`MissingDataError` saying which file, and where the dataset comes from.
    """
    spec = DATASETS.get(name)
    if spec is None:
        known = ", ".join(DATASETS)
        raise UnknownDatasetError(name, close_matches(name, DATASETS), where=f"the registry (known: {known})")
    if spec.origin is not None and root is None:
        try:
            root = data_dir(required=True)
        except FileNotFoundError as err:
            raise MissingDataError(f"dataset {name!r} needs the real data files: {err}. "
                                   f"{ORIGINS[spec.origin]}.") from None
    data = spec(root, **options)
    if data.origin is None:  # how to load the same splits again (kgqa eval reads it from a checkpoint)
        data.origin = {"loader": "registry", "name": name, "options": dict(options)}
    return data
