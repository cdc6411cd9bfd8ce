"""The records every dataset is made of: :class:`QAExample` (a question, its topic entities with
their mentions, its answers) and :class:`QADataset` (a question set over one graph, split for
training, model selection and testing), and how a question set is split and checked for leaks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..kg import KnowledgeGraph
from ..errors import KGQAError
from ..traverse import Program
from ..types import EntityId

__all__ = ["QAExample", "Span", "NO_SPAN", "QADataset", "SplitStats", "DataWarning", "split_examples",
           "seen_in_train", "dedupe_questions", "SPLITS", "ORIGINS"]

Span = tuple[int, int]  # (start, end) character offsets into the question, end exclusive
NO_SPAN: Span = (-1, -1)  # the mention of a topic could not be located


@dataclass(frozen=True)
class QAExample:
    """One question with its hand-annotated topic entities and its gold answers.

    ``question[start:end]`` is the mention of ``topics[i]`` for ``(start, end) = mentions[i]``.
    """

    question: str  # the text a model sees: any [brackets] removed
    topics: tuple[EntityId, ...]  # hand-annotated topic entity ids
    mentions: tuple[Span, ...]  # span of each topic's mention in `question`; NO_SPAN when unknown
    answers: tuple[EntityId, ...]  # gold answer entity ids (may lie outside the KG vocabulary)
    qtype: str = ""  # question type: MetaQA's "movie_to_director", or "2-hop", "conjunctive"
    hops: int = 0  # number of relations on the longest gold path; 0 when unknown
    source: str = ""  # "file:line" of the question, for messages
    paths: tuple[tuple[str, ...], ...] = ()  # gold relation path per topic, when the data has one
    operation: str = ""  # the gold program (kgqa.operations.PROGRAMS), "" when unknown; measured, never
    # trained on. For "count" the one answer is a number ("7"), not an entity id

    @property
    def program(self) -> Program | None:
        """The gold query (one relation path per topic, answers intersected), or None when the data
        gives none or the question asks for another operation (a count, a union, ...)."""
        if self.operation not in ("", "follow", "intersect"):
            return None
        if not self.paths or len(self.paths) != len(self.topics):
            return None
        return Program(self.topics, self.paths)


SPLITS = ("train", "dev", "test")
ORIGINS = {
    "metaqa": "MetaQA comes from its authors' release (https://github.com/yuyuz/MetaQA)",
    "pathquestion": "PathQuestion comes from the IRN paper's repository (https://github.com/zmtkeke/IRN)",
    "wc2014": "WorldCup2014 comes from the IRN paper's repository (https://github.com/zmtkeke/IRN)",
    "sq-wikidata": ("SimpleQuestions-Wikidata comes from https://github.com/askplatypus/wikidata-simplequestions "
                    "(annotated_wd_data_*.txt), its English labels (labels_en.json: {label: Qid}) from "
                    "https://github.com/rvashurin/wikidata-simplequestions-ru-hf (reverse_vocab_wikidata_en.json)"),
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


def _run_program(kg: KnowledgeGraph, program: Program) -> set[str]:
    """The ids a gold program reaches (:meth:`Program.execute`); nothing when it names an entity or
    relation the graph lacks."""
    try:
        return {kg.entities[i] for i in program.execute(kg)}
    except KGQAError:
        return set()


def _split_stats(kg: KnowledgeGraph, exs: Sequence[QAExample], seen: tuple[set, set],
                 check_paths: bool) -> SplitStats:
    n = max(len(exs), 1)
    touched = set(kg.triples[:, 0].tolist()) | set(kg.triples[:, 2].tolist())
    idx = kg.entity_index
    with_paths = [ex for ex in exs if ex.program is not None] if check_paths else []
    reach_all = exact = 0
    for ex in with_paths:
        got, gold = _run_program(kg, ex.program), set(ex.answers)
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


def dedupe_lines(exs: list[QAExample]) -> list[QAExample]:
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


def format_split(split: Sequence[float]) -> str:
    return "/".join(f"{f * 100:g}" for f in split)
