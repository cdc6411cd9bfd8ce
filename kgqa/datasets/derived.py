"""Derived two-entity questions over the MetaQA KB: the answer is an exact symbolic intersection.

MetaQA has one topic entity per question. This module builds conjunctive questions with two
topic entities from the same KB, for training and testing intersection (Sen et al., 2021)::

    which films starring Tom Hanks were directed by Robert Zemeckis
      Tom Hanks        --starred_actors^-1-->  {Big, Forrest Gump, The Polar Express, ...}  (30 films)
      Robert Zemeckis  --directed_by^-1-->     {Contact, Forrest Gump, The Polar Express, ...}  (16)
      answer = intersection minus the topics  {Forrest Gump, The Polar Express}

Each :class:`MultiTemplate` names one relation path per topic entity (1 or 2 hops) and several
phrasings; some phrasings are held out for the test split. An instance is kept only when its
answer set is non-empty, has at most ``max_answers`` films and is strictly smaller than each
branch's own result, so that both entities are needed. Phrasings follow MetaQA's style (lower
case, no question mark) so that the mixed dataset reads alike.

>>> ds = load_metaqa_multi(root, n_train=500, n_dev=100, n_test=200)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..errors import close_matches
from ..kg import KnowledgeGraph, inverse_name
from ..traverse import adjacency, intersect_sets, walk_path
from .base import QADataset, QAExample, Span
from .loaders import load_metaqa

__all__ = ["TEMPLATES", "MultiTemplate", "PathIndex", "TemplateStats", "generate_multi", "load_metaqa_multi", "multi_stats",
           "render", "split_multi"]

Path_ = tuple[str, ...]  # a relation path


@dataclass(frozen=True)
class MultiTemplate:
    """A question type with two topic entities: one relation path per topic, answers intersect."""

    name: str
    slots: tuple[str, str]  # placeholder of each topic in the phrasings, in branch order
    paths: tuple[Path_, Path_]  # relation path from each topic to the answers
    phrasings: tuple[str, ...]  # used in train and dev
    held_out: tuple[str, ...]  # used in test only

    @property
    def hops(self) -> int:
        """Length of the longer path."""
        return max(len(p) for p in self.paths)


def _t(name: str, slots: str, paths: tuple[Path_, Path_], phrasings: Sequence[str], held_out: int = 1
       ) -> MultiTemplate:
    """A template whose last ``held_out`` phrasings are reserved for the test split."""
    a, b = slots
    return MultiTemplate(name, (a, b), paths, tuple(phrasings[:-held_out]), tuple(phrasings[-held_out:]))


_STAR, _DIR, _WRI = "starred_actors", "directed_by", "written_by"
TEMPLATES: dict[str, MultiTemplate] = {t.name: t for t in (
    _t("actor_director", "AD", ((f"{_STAR}^-1",), (f"{_DIR}^-1",)), (
        "which films starring {A} were directed by {D}", "what movies did {A} act in that {D} directed",
        "{D} directed which films featuring {A}", "which movies by director {D} have {A} in the cast",
        "name the films directed by {D} in which {A} appeared")),
    _t("writer_language", "WL", ((f"{_WRI}^-1",), ("in_language^-1",)), (
        "which films written by {W} are in {L}", "what {L} language movies did {W} write",
        "{W} wrote which movies in {L}", "in {L}, which films have a screenplay by {W}",
        "which {L} films were written by {W}")),
    _t("actor_year", "AY", ((f"{_STAR}^-1",), ("release_year^-1",)), (
        "which films starring {A} were released in {Y}", "what movies released in {Y} did {A} appear in",
        "{A} acted in which {Y} films", "in {Y}, which movies featured {A}",
        "name the {Y} releases with {A} in the cast")),
    _t("director_genre", "DG", ((f"{_DIR}^-1",), ("has_genre^-1",)), (
        "which {G} films were directed by {D}", "what movies directed by {D} are {G} films",
        "{D} directed which movies of the {G} genre", "list the films by director {D} whose genre is {G}",
        "which films of genre {G} did {D} direct")),
    _t("actor_actor", "AB", ((f"{_STAR}^-1",), (f"{_STAR}^-1",)), (
        "which films star both {A} and {B}", "what movies did {A} and {B} appear in together",
        "{A} acted alongside {B} in which films", "in which movies does {B} share the screen with {A}",
        "name the films featuring {A} as well as {B}")),
    _t("actor_samedirector", "AF", ((f"{_STAR}^-1",), (_DIR, f"{_DIR}^-1")), (
        "which films starring {A} were directed by the director of {F}",
        "what movies with {A} were made by whoever directed {F}",
        "the director of {F} made which films featuring {A}",
        "{A} appeared in which movies by the same director as {F}",
        "which movies did {A} act in that share a director with {F}")),
    _t("writer_sameactor", "WF", ((f"{_WRI}^-1",), (_STAR, f"{_STAR}^-1")), (
        "which films written by {W} star an actor of {F}",
        "what movies did {W} write that share a cast member with {F}",
        "an actor from {F} appears in which films written by {W}",
        "{W} wrote which films starring someone who was also in {F}",
        "name the movies written by {W} that feature any actor of {F}")),
)}
"""Template name → :class:`MultiTemplate`; answers are films."""

_SLOT = re.compile(r"\{(\w+)\}")


def render(template: MultiTemplate, phrasing: str, topics: tuple[str, ...]) -> tuple[str, tuple[Span, ...]]:
    """The question text with the topic ids inserted verbatim, and each topic's ``(start, end)``
    (any template with ``slots``, one topic per slot).

    Returns ``(question, mentions)``, mentions in topic order; ``question[s:e]`` is the topic id.
    """
    value = dict(zip(template.slots, topics))
    spans: dict[str, Span] = {}
    out: list[str] = []
    pos = last = 0
    for m in _SLOT.finditer(phrasing):
        out.append(phrasing[last:m.start()])
        pos += m.start() - last
        name = value[m.group(1)]
        spans[m.group(1)] = (pos, pos + len(name))
        out.append(name)
        pos += len(name)
        last = m.end()
    out.append(phrasing[last:])
    question = "".join(out)
    mentions = tuple(spans[slot] for slot in template.slots)
    for t, (s, e) in zip(topics, mentions):
        assert question[s:e] == t, (question, t)
    return question, mentions


# ---------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class _Instance:
    template: str
    topics: tuple[int, int]  # entity indices, in branch order
    answers: frozenset[int]
    number: int  # position among the instances of its template


class PathIndex:
    """The graph as :func:`kgqa.traverse.adjacency` reads it, with the subjects of each relation."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        self.adj = adjacency(kg)  # objects in file order, so sampling is the same on every run
        self.subjects: dict[int, set[int]] = {}
        for s, r in self.adj:
            self.subjects.setdefault(r, set()).add(s)

    def rel(self, name: str) -> int:
        return self.kg.relation_index(name)

    def follow(self, start: int, path: Sequence[str]) -> set[int]:
        """Entities reached from ``start`` along ``path`` (:func:`kgqa.traverse.walk_path`)."""
        return walk_path(self.kg, [start], path)

    def back(self, answer: int, path: Sequence[str]) -> set[int]:
        """Entities from which ``path`` reaches ``answer`` (the reversed path of inverse relations)."""
        return self.follow(answer, [inverse_name(r) for r in reversed(path)])


def _check(kg: KnowledgeGraph, n: int, max_answers: int, templates: Sequence[str] | None) -> list[MultiTemplate]:
    """The chosen templates, after checking the arguments; raises ValueError on bad input."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of questions, got {n!r}")
    if max_answers < 1:
        raise ValueError(f"max_answers must be at least 1, got {max_answers!r}")
    if isinstance(templates, str):
        templates = [templates]
    names = list(TEMPLATES) if templates is None else list(dict.fromkeys(templates))
    if not names:
        raise ValueError("templates is empty; pass None for all of " + ", ".join(TEMPLATES))
    for name in names:
        if name not in TEMPLATES:
            near = close_matches(name, TEMPLATES)
            raise ValueError(f"unknown template {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; known templates: {', '.join(TEMPLATES)}")
    for name in names:
        for rel in dict.fromkeys(r for p in TEMPLATES[name].paths for r in p):
            if not kg.has_relation(rel):
                raise ValueError(f"template {name!r} follows relation {rel!r}, which the graph lacks; load the "
                                 "MetaQA KB with add_inverses=True")
    return [TEMPLATES[name] for name in names]


def _instances(g: PathIndex, t: MultiTemplate, rng: random.Random, max_answers: int, patience: int
               ) -> Iterator[_Instance]:
    """Distinct valid instances of ``t``; stops after ``patience`` draws in a row find nothing new.

    A draw picks an answer film, then one topic per branch among the entities whose path reaches it.
    """
    p1, p2 = t.paths
    pool = sorted(g.subjects.get(g.rel(inverse_name(p1[-1])), set())
                  & g.subjects.get(g.rel(inverse_name(p2[-1])), set()))
    seen: set[tuple[int, int]] = set()
    misses = number = 0
    while pool and misses < patience:
        misses += 1
        film = rng.choice(pool)
        c1 = sorted(g.back(film, p1) - {film})
        if not c1:
            continue
        t1 = rng.choice(c1)
        c2 = sorted(g.back(film, p2) - {film, t1})
        if not c2:
            continue
        t2 = rng.choice(c2)
        key = (min(t1, t2), max(t1, t2))
        if key in seen:
            continue
        seen.add(key)
        topics = {t1, t2}
        b1, b2 = g.follow(t1, p1) - topics, g.follow(t2, p2) - topics
        answers = intersect_sets([b1, b2])
        if not 0 < len(answers) <= max_answers or len(answers) >= min(len(b1), len(b2)):
            continue
        misses = 0
        yield _Instance(t.name, (t1, t2), frozenset(answers), number)
        number += 1


def _sample(kg: KnowledgeGraph, n: int, seed: int, max_answers: int, templates: Sequence[str] | None,
            patience: int = 2000) -> list[_Instance]:
    """Up to ``n`` distinct instances, drawn round-robin over the templates (balanced counts)."""
    chosen = _check(kg, n, max_answers, templates)
    g = PathIndex(kg)
    live = [_instances(g, t, random.Random(f"metaqa-multi:{seed}:{t.name}"), max_answers, patience)
            for t in chosen]
    out: list[_Instance] = []
    while live and len(out) < n:
        for it in list(live):
            inst = next(it, None)
            if inst is None:
                live.remove(it)
            elif len(out) < n:
                out.append(inst)
    return out


def _example(kg: KnowledgeGraph, inst: _Instance, rng: random.Random, held_out: bool) -> QAExample:
    """The question of ``inst`` in a phrasing drawn from the train/dev pool, or the test pool."""
    t = TEMPLATES[inst.template]
    topics = (kg.entities[inst.topics[0]], kg.entities[inst.topics[1]])
    question, mentions = render(t, rng.choice(t.held_out if held_out else t.phrasings), topics)
    return QAExample(question, topics, mentions, tuple(sorted(kg.entities[a] for a in inst.answers)),
                     qtype=t.name, hops=t.hops, source=f"metaqa-multi:{t.name}:{inst.number}", paths=t.paths)


def generate_multi(kg: KnowledgeGraph, *, n: int, seed: int = 0, max_answers: int = 20,
                   templates: Sequence[str] | None = None, held_out: bool = False) -> list[QAExample]:
    """``n`` distinct two-entity questions over ``kg`` (fewer only if the graph holds fewer).

    Templates (all of :data:`TEMPLATES` by default) take turns; an instance is kept once per
    (template, topic pair). ``held_out`` phrases them with the test-only phrasings. Returns the
    examples in generation order; the same ``seed`` gives the same list on every machine.
    Raises ValueError for ``n <= 0``, ``max_answers < 1``, an unknown template, or a graph without
    the templates' relations.
    """
    rng = random.Random(f"metaqa-multi:{seed}:phrasing")
    return [_example(kg, inst, rng, held_out) for inst in _sample(kg, n, seed, max_answers, templates)]


def split_multi(kg: KnowledgeGraph, *, n_train: int, n_dev: int, n_test: int, seed: int = 0,
                max_answers: int = 20, templates: Sequence[str] | None = None
                ) -> tuple[list[QAExample], list[QAExample], list[QAExample]]:
    """Train, dev and test lists of two-entity questions, disjoint by (template, topic pair).

    One pool of ``n_train + n_dev + n_test`` distinct instances is shuffled (``seed``) and cut;
    train and dev use the template phrasings, test only the held-out ones. Returns the three lists.
    Raises ValueError when a size is negative or the graph holds too few distinct questions.
    """
    if min(n_train, n_dev, n_test) < 0:
        raise ValueError(f"split sizes must be non-negative, got {(n_train, n_dev, n_test)}")
    total = n_train + n_dev + n_test
    pool = _sample(kg, total, seed, max_answers, templates)
    if len(pool) < total:
        raise ValueError(f"only {len(pool):,} distinct questions could be generated, {total:,} were asked for")
    random.Random(f"metaqa-multi:{seed}:split").shuffle(pool)
    rng = random.Random(f"metaqa-multi:{seed}:phrasing")
    parts = (pool[:n_train], pool[n_train:n_train + n_dev], pool[n_train + n_dev:])
    return tuple([_example(kg, inst, rng, held_out=i == 2) for inst in part]  # type: ignore[return-value]
                 for i, part in enumerate(parts))


# ---------------------------------------------------------------------------- dataset and statistics
@dataclass(frozen=True)
class TemplateStats:
    """Counts for one question type in one split (see :func:`multi_stats`)."""

    n: int  # questions
    answers_mean: float  # answers per question
    answers_max: int
    branch_mean: tuple[float, ...] | None  # mean size of each branch's own result (topics removed)


def multi_stats(kg: KnowledgeGraph, splits: Mapping[str, Sequence[QAExample]]) -> dict[str, dict[str, TemplateStats]]:
    """Per split, per question type: :class:`TemplateStats`. Single-entity questions are grouped
    under ``"1-hop"``; only two-entity questions with paths get branch sizes."""
    g = PathIndex(kg)
    out: dict[str, dict[str, TemplateStats]] = {}
    for split, exs in splits.items():
        groups: dict[str, list[QAExample]] = {}
        for ex in exs:
            groups.setdefault(ex.qtype if len(ex.topics) > 1 else "1-hop", []).append(ex)
        out[split] = {}
        for key, group in sorted(groups.items()):
            branch = None
            if all(len(ex.paths) == len(ex.topics) > 1 for ex in group):
                sizes = []
                for ex in group:
                    topics = {kg.entity_index(t) for t in ex.topics}
                    sizes.append([len(g.follow(kg.entity_index(t), p) - topics) for t, p in zip(ex.topics, ex.paths)])
                branch = tuple(sum(col) / len(group) for col in zip(*sizes))
            out[split][key] = TemplateStats(len(group), sum(len(ex.answers) for ex in group) / len(group),
                                            max(len(ex.answers) for ex in group), branch)
    return out


def load_metaqa_multi(root: str | os.PathLike, *, seed: int = 0, n_train: int = 8000, n_dev: int = 1000,
                      n_test: int = 2000, single: bool = True, max_answers: int = 20) -> QADataset:
    """``metaqa-multi``: generated two-entity questions, mixed with MetaQA 1-hop questions.

    The KG is the one :func:`~kgqa.datasets.load_metaqa` loads (``kb_partial.txt``, inverses
    added). The two-entity part comes from :func:`split_multi`. With ``single``, each split also
    gets a seeded sample of MetaQA 1-hop questions of the same size (train/dev from the
    ``qa_dev.txt`` train/dev of ``load_metaqa(root, 1, seed=seed)``, test from ``qa_test.txt``;
    fewer when the source holds fewer); each split is then shuffled. Returns the QADataset.
    """
    mq = load_metaqa(root, 1, seed=seed)
    kg = mq.kg
    multi = split_multi(kg, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed, max_answers=max_answers)
    parts = []
    for i, (part, source) in enumerate(zip(multi, (mq.train, mq.dev, mq.test))):
        mixed = list(part)
        if single:
            rng = random.Random(f"metaqa-multi:{seed}:single:{i}")
            mixed += rng.sample(source, min(len(part), len(source)))
            rng.shuffle(mixed)
        parts.append(mixed)
    counts = multi_stats(kg, dict(zip(("train", "dev", "test"), multi)))
    per_template = "; ".join(f"{name} {'/'.join(str(counts[s][name].n if name in counts[s] else 0) for s in counts)}"
                             for name in TEMPLATES)
    held = "; ".join(f"{t.name}: {' | '.join(t.held_out)!r}" for t in TEMPLATES.values())
    notes = (f"metaqa-multi: two-entity questions generated by kgqa.datasets.derived (seed {seed}, max_answers "
             f"{max_answers}) over the MetaQA KB {os.path.basename(kg.source)} with inverse relations; each "
             "answer set is the exact symbolic intersection of the two branches minus the topics, non-empty and "
             "smaller than either branch alone. Splits are disjoint by (template, topic pair); test uses only "
             f"held-out phrasings ({held}). Questions per template (train/dev/test): {per_template}.")
    if single:
        notes += (f" Mixed with as many MetaQA 1-hop questions per split (train/dev from qa_dev.txt split with "
                  f"seed {seed}, test from qa_test.txt); {mq.notes}")
    return QADataset("metaqa-multi", kg, *parts, notes=notes)
