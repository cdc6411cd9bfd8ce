"""Derived questions that need an operation beyond follow: union, difference, count, argmax, argmin.

``metaqa-ops`` asks MetaQA's KB questions that following relations cannot answer alone, each with
its exact answer computed symbolically::

    union       which films were directed by Sofia Coppola or Spike Jonze     a ∪ b
    difference  which films starring Tom Hanks were not directed by Ron Howard a − b
    count       how many films did Sofia Coppola direct                       |a|   (the answer is "4")
    argmax      what is the most recent film directed by Sofia Coppola        the members of a with the
    argmin      what is the earliest film starring Tom Hanks                  largest / smallest year

Each :class:`OpTemplate` names the operation, one relation path per topic, the numeric attribute a
superlative compares by, and its phrasings. The three templates of an operation share four
*frames* ("how many films did {x} {verb}", "count the movies {x} {did}", ...) and each holds out a
different one for the test split: a test question's frame was seen in training, with other
relations, and its relation words were seen in other frames. (Held out for all templates at once,
a frame is a sentence shape the model never met: measured, a controller trained on such a split
reads "count the movies D directed" as a question about D's acting and answers 0.7% of them.) An instance is
kept only when every part of the question matters: a union is larger than either branch, a
difference removes something and keeps something, a superlative picks fewer members than the set
has, a count is between 1 and ``max_count`` (drawn uniformly: most people have one film, and a
model that always says 1 should not look good). The topics of a two-entity question are listed in a
seeded random order, so that which one is subtracted in a difference is read from the question, not
from the order. The mix also holds MetaQA's own 1-hop questions (``follow``) and
:mod:`kgqa.datasets.derived`'s two-entity intersections (``intersect``); every example records its
operation in :attr:`QAExample.operation <kgqa.datasets.QAExample.operation>`, which is measured,
never trained on.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..kg import KnowledgeGraph
from ..numeric import NumericValues
from .base import QADataset, QAExample
from .derived import PathIndex, render, split_multi
from .loaders import load_metaqa, load_worldcup

__all__ = ["OPERATIONS", "OpTemplate", "METAQA_OPS", "WC_OPS", "generate_ops", "split_ops", "load_metaqa_ops",
           "load_wc_ops"]

OPERATIONS = ("union", "difference", "count", "argmax", "argmin")  # what this module generates
Path_ = tuple[str, ...]


@dataclass(frozen=True)
class OpTemplate:
    """A question type: its operation, a relation path per topic, the attribute a superlative compares."""

    name: str
    operation: str  # one of OPERATIONS
    slots: tuple[str, ...]  # placeholder of each topic in the phrasings, in branch order
    paths: tuple[Path_, ...]  # relation path from each topic to the set the operation works on
    phrasings: tuple[str, ...]  # used in train and dev
    held_out: tuple[str, ...]  # used in test only
    attribute: str = ""  # the numeric relation of argmax / argmin

    @property
    def hops(self) -> int:
        return max(len(p) for p in self.paths)


def _t(name: str, operation: str, slots: str, paths: Sequence[Path_], phrasings: Sequence[str], held: int,
       attribute: str = "") -> OpTemplate:
    """A template whose phrasing ``held`` is reserved for the test split."""
    rest = tuple(p for k, p in enumerate(phrasings) if k != held)
    return OpTemplate(name, operation, tuple(slots), tuple(paths), rest, (phrasings[held],), attribute)


def _family(operation: str, frames: Sequence[str], members: Sequence[tuple], attribute: str = "") -> list[OpTemplate]:
    """The templates of one operation: every member ``(name, slots, paths, words[, attribute])`` is phrased in
    every frame (``frame.format(**words)``), and member ``k`` holds out frame ``k``. Each test
    phrasing is then a frame the model saw in training with other relations, and each relation's
    words were seen in training in other frames: the test asks for the combination, not for words
    it never met."""
    return [_t(m[0], operation, m[1], m[2], [f.format(**m[3]) for f in frames], k % len(frames),
               m[4] if len(m) > 4 else attribute) for k, m in enumerate(members)]


_STAR, _DIR, _WRI, _YEAR = "starred_actors^-1", "directed_by^-1", "written_by^-1", "release_year"
_BY = {"D": dict(by="directed by {D}", verb="direct", did="directed", of="by director {D}", x="{D}"),
       "A": dict(by="starring {A}", verb="act in", did="acted in", of="featuring {A}", x="{A}"),
       "W": dict(by="written by {W}", verb="write", did="wrote", of="with a screenplay by {W}", x="{W}")}
METAQA_OPS: dict[str, OpTemplate] = {t.name: t for t in (
    *_family("union", (
        "which films were {p} or {q}", "name the films either {p} or {q}",
        "what movies did {x} {verb} or {y} {verb2}", "list the movies {p}, or else {q}"), (
        ("director_or_director", "DE", ((_DIR,), (_DIR,)),
         dict(p="directed by {D}", q="directed by {E}", x="{D}", y="{E}", verb="direct", verb2="direct")),
        ("actor_or_actor", "AB", ((_STAR,), (_STAR,)),
         dict(p="starring {A}", q="starring {B}", x="{A}", y="{B}", verb="act in", verb2="act in")),
        ("writer_or_director", "WD", ((_WRI,), (_DIR,)),
         dict(p="written by {W}", q="directed by {D}", x="{W}", y="{D}", verb="write", verb2="direct")))),
    *_family("difference", (
        "which films {p} were not {q}", "what movies did {x} {verb} that {y} did not {verb2}",
        "name the films {p} but not {q}", "{x} {did} which movies not {q}"), (
        ("actor_not_director", "AD", ((_STAR,), (_DIR,)),
         dict(p="starring {A}", q="directed by {D}", x="{A}", y="{D}", verb="act in", verb2="direct", did="acted in")),
        ("director_not_actor", "DA", ((_DIR,), (_STAR,)),
         dict(p="directed by {D}", q="starring {A}", x="{D}", y="{A}", verb="direct", verb2="act in", did="directed")),
        ("writer_not_director", "WD", ((_WRI,), (_DIR,)),
         dict(p="written by {W}", q="directed by {D}", x="{W}", y="{D}", verb="write", verb2="direct", did="wrote")))),
    *_family("count", (
        "how many films did {x} {verb}", "how many movies were there {by}", "what is the number of films {by}",
        "count the movies {x} {did}"), (
        ("count_director", "D", ((_DIR,),), _BY["D"]),
        ("count_actor", "A", ((_STAR,),), _BY["A"]),
        ("count_writer", "W", ((_WRI,),), _BY["W"]))),
    *(t for op, adj in (("argmax", "most recent"), ("argmin", "earliest")) for t in _family(op, (
        f"what is the {adj} film {{by}}", f"which is the {adj} movie {{x}} {{did}}", f"name the {adj} film {{of}}",
        f"of the films {{x}} {{did}}, which is the {adj}"), (
        (f"{'latest' if op == 'argmax' else 'earliest'}_director", "D", ((_DIR,),), _BY["D"]),
        (f"{'latest' if op == 'argmax' else 'earliest'}_actor", "A", ((_STAR,),), _BY["A"]),
        (f"{'latest' if op == 'argmax' else 'earliest'}_writer", "W", ((_WRI,),), _BY["W"])), _YEAR)),
)}
"""Template name → :class:`OpTemplate` over the MetaQA KB (three per operation, four frames each)."""


_CLUB, _COUNTRY, _POS, _IN = "plays_in_club^-1", "plays_for_country^-1", "plays_position^-1", "is_in_country^-1"
_AT, _FOR = "playing at {A}", "playing for {C}"
WC_OPS: dict[str, OpTemplate] = {t.name: t for t in (
    *_family("union", (
        "which players are {p} or {q} ?", "who is {p} or {q} ?", "name the footballers {p} or {q}",
        "list the players {p}, or else {q}"), (
        ("club_or_club", "AB", ((_CLUB,), (_CLUB,)), dict(p=_AT, q="playing at {B}")),
        ("country_or_club", "CA", ((_COUNTRY,), (_CLUB,)), dict(p=_FOR, q=_AT)),
        ("club_or_country", "AC", ((_CLUB,), (_COUNTRY,)), dict(p=_AT, q=_FOR)))),
    *_family("difference", (
        "which players {p} are not {q} ?", "who is {p} but not {q} ?", "name the footballers {p} who are not {q}",
        "list the players {p} other than those {q}"), (
        ("country_not_position", "CP", ((_COUNTRY,), (_POS,)), dict(p=_FOR, q="playing as {P}")),
        ("club_not_position", "AP", ((_CLUB,), (_POS,)), dict(p=_AT, q="playing as {P}")),
        ("country_not_club", "CA", ((_COUNTRY,), (_CLUB,)), dict(p=_FOR, q=_AT)))),
    *_family("count", (
        "how many {things} are there {by} ?", "what is the number of {things} {by} ?", "count the {things} {by}",
        "how many {things} does {x} have ?"), (
        ("count_country", "C", ((_COUNTRY,),), dict(things="players", by=_FOR, x="{C}")),
        ("count_club", "A", ((_CLUB,),), dict(things="players", by=_AT, x="{A}")),
        ("count_clubs", "K", ((_IN,),), dict(things="clubs", by="based in {K}", x="{K}")))),
    *(t for op, words in (("argmax", (("oldest", "the oldest player"), ("highest", "the player with the highest "
                                                                                  "shirt number"))),
                          ("argmin", (("youngest", "the youngest player"), ("lowest", "the player with the lowest "
                                                                                      "shirt number"))))
      for t in _family(op, (
          "who is {n} {by} ?", "which player {by} is {n} ?", "name {n} {by}", "of the players {by}, who is {n}"), (
          (f"{words[0][0]}_country", "C", ((_COUNTRY,),), dict(n=words[0][1], by=_FOR), "is_aged"),
          (f"{words[0][0]}_club", "A", ((_CLUB,),), dict(n=words[0][1], by=_AT), "is_aged"),
          (f"{words[1][0]}_number_country", "C", ((_COUNTRY,),), dict(n=words[1][1], by=_FOR), "wears_number")))),
)}
"""Template name → :class:`OpTemplate` over the WorldCup2014 KB (three per operation; two attributes)."""


# ---------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class _Instance:
    template: str
    topics: tuple[int, ...]  # entity indices, in branch order
    answers: frozenset[int] | int  # entities, or the count
    number: int


def _answer(t: OpTemplate, sets: list[set[int]], values: NumericValues | None, max_answers: int,
            max_count: int) -> frozenset[int] | int | None:
    """The exact answer of one instance, or None when the instance does not need its operation."""
    a = sets[0]
    if t.operation == "count":
        return len(a) if 1 <= len(a) <= max_count else None
    if t.operation in ("argmax", "argmin"):
        which = "max" if t.operation == "argmax" else "min"
        vals = {e: values.value(t.attribute, e, which) for e in a}
        vals = {e: v for e, v in vals.items() if v is not None}
        if len(vals) < 2:
            return None
        best = (max if which == "max" else min)(vals.values())
        top = frozenset(e for e, v in vals.items() if v == best)
        return top if len(top) < len(vals) and len(top) <= max_answers else None
    b = sets[1]
    if not a or not b:
        return None
    if t.operation == "union":
        out = a | b
        return frozenset(out) if len(out) > max(len(a), len(b)) and len(out) <= max_answers else None
    out = a - b  # difference: b removes something and leaves something
    return frozenset(out) if 0 < len(out) < len(a) and len(out) <= max_answers else None


def _instances(g: PathIndex, t: OpTemplate, values: NumericValues | None, rng: random.Random, max_answers: int,
               max_count: int, patience: int) -> Iterator[_Instance]:
    """Distinct valid instances of ``t`` until ``patience`` draws in a row find nothing new. The first
    topic is drawn at random; a difference's second topic from the entities that reach a member of
    the first set (so that it removes something), a union's at random."""
    pools = [sorted(g.subjects.get(g.rel(p[0]), set())) for p in t.paths]
    seen: set[tuple[int, ...]] = set()
    misses = number = 0
    by_count: dict[int, list[int]] = {}
    if t.operation == "count":  # draw the count first, uniformly: most entities have one film
        for e in pools[0]:
            by_count.setdefault(len(g.follow(e, t.paths[0]) - {e}), []).append(e)
        by_count = {n: es for n, es in by_count.items() if 1 <= n <= max_count}
        if not by_count:
            return
    while all(pools) and misses < patience:
        misses += 1
        t1 = rng.choice(by_count[rng.choice(sorted(by_count))]) if by_count else rng.choice(pools[0])
        a = g.follow(t1, t.paths[0]) - {t1}
        topics = [t1]
        if len(t.paths) == 2:
            if t.operation == "difference":
                if not a:
                    continue
                reach = sorted(g.back(rng.choice(sorted(a)), t.paths[1]) - {t1})
                if not reach:
                    continue
                topics.append(rng.choice(reach))
            else:
                topics.append(rng.choice(pools[1]))
        key = tuple(topics)
        if len(set(key)) < len(key) or key in seen:
            continue
        seen.add(key)
        sets = [a] + [g.follow(t2, p) - set(key) for t2, p in zip(key[1:], t.paths[1:])]
        sets[0] -= set(key)
        answer = _answer(t, sets, values, max_answers, max_count)
        if answer is None:
            continue
        misses = 0
        yield _Instance(t.name, key, answer, number)
        number += 1


def _check(kg: KnowledgeGraph, templates: dict[str, OpTemplate], names: Sequence[str] | None) -> list[OpTemplate]:
    names = list(templates) if names is None else list(dict.fromkeys([names] if isinstance(names, str) else names))
    for name in names:
        if name not in templates:
            raise ValueError(f"unknown template {name!r}; known templates: {', '.join(templates)}")
        for rel in dict.fromkeys(r for p in templates[name].paths for r in p):
            if not kg.has_relation(rel):
                raise ValueError(f"template {name!r} follows relation {rel!r}, which the graph lacks; load it with "
                                 "add_inverses=True")
    return [templates[n] for n in names]


def _sample(kg: KnowledgeGraph, per_template: int, seed: int, templates: dict[str, OpTemplate],
            names: Sequence[str] | None, max_answers: int, max_count: int, tag: str, patience: int = 3000
            ) -> dict[str, list[_Instance]]:
    chosen = _check(kg, templates, names)
    g = PathIndex(kg)
    attrs = sorted({t.attribute for t in chosen if t.attribute})
    values = NumericValues.from_kg(kg, attrs) if attrs else None
    out = {}
    for t in chosen:
        it = _instances(g, t, values, random.Random(f"{tag}:{seed}:{t.name}"), max_answers, max_count, patience)
        out[t.name] = [inst for _, inst in zip(range(per_template), it)]
    return out


def _example(kg: KnowledgeGraph, t: OpTemplate, inst: _Instance, rng: random.Random, held_out: bool, tag: str
             ) -> QAExample:
    """The question of ``inst`` in a train/dev or a test phrasing, its topics in a random order."""
    ids = tuple(kg.entities[i] for i in inst.topics)
    question, mentions = render(t, rng.choice(t.held_out if held_out else t.phrasings), ids)
    order = list(range(len(ids)))
    rng.shuffle(order)
    answers = (str(inst.answers),) if isinstance(inst.answers, int) else tuple(sorted(kg.entities[a] for a in inst.answers))
    return QAExample(question, tuple(ids[i] for i in order), tuple(mentions[i] for i in order), answers,
                     qtype=t.name, hops=t.hops, source=f"{tag}:{t.name}:{inst.number}", operation=t.operation)


def generate_ops(kg: KnowledgeGraph, *, per_template: int, seed: int = 0, templates: dict[str, OpTemplate] | None = None,
                 names: Sequence[str] | None = None, max_answers: int = 20, max_count: int = 20,
                 held_out: bool = False, tag: str = "ops") -> list[QAExample]:
    """Up to ``per_template`` distinct questions of every template (fewer only if the graph holds
    fewer), in template order; ``held_out`` phrases them with the test-only phrasings. ``templates``
    default to :data:`METAQA_OPS`; ``tag`` names the random streams (and the examples' sources)."""
    if per_template <= 0:
        raise ValueError(f"per_template must be a positive number of questions, got {per_template!r}")
    templates, tag = (METAQA_OPS, "metaqa-ops") if templates is None else (templates, tag)
    rng = random.Random(f"{tag}:{seed}:phrasing")
    pools = _sample(kg, per_template, seed, templates, names, max_answers, max_count, tag)
    return [_example(kg, templates[n], inst, rng, held_out, tag) for n, insts in pools.items() for inst in insts]


def split_ops(kg: KnowledgeGraph, *, n_train: int, n_dev: int, n_test: int, seed: int = 0,
              templates: dict[str, OpTemplate] | None = None, max_answers: int = 20, max_count: int = 20,
              tag: str = "ops") -> tuple[list[QAExample], list[QAExample], list[QAExample]]:
    """Train, dev and test questions, ``n_*`` per template, disjoint by (template, topics); test only
    in the held-out phrasings. Raises ValueError when a template holds too few distinct questions."""
    if min(n_train, n_dev, n_test) < 0:
        raise ValueError(f"split sizes must be non-negative, got {(n_train, n_dev, n_test)}")
    templates, tag = (METAQA_OPS, "metaqa-ops") if templates is None else (templates, tag)
    total = n_train + n_dev + n_test
    pools = _sample(kg, total, seed, templates, None, max_answers, max_count, tag)
    rng = random.Random(f"{tag}:{seed}:phrasing")
    parts: tuple[list[QAExample], ...] = ([], [], [])
    for name, pool in pools.items():
        if len(pool) < total:
            raise ValueError(f"template {name!r}: only {len(pool):,} distinct questions could be generated, "
                             f"{total:,} were asked for")
        random.Random(f"{tag}:{seed}:split:{name}").shuffle(pool)
        cuts = (pool[:n_train], pool[n_train:n_train + n_dev], pool[n_train + n_dev:])
        for i, part in enumerate(cuts):
            parts[i].extend(_example(kg, templates[name], inst, rng, i == 2, tag) for inst in part)
    return parts  # type: ignore[return-value]


def _mixed(part: Sequence[QAExample], intersections: Sequence[QAExample], follows: Sequence[QAExample],
           rng: random.Random) -> list[QAExample]:
    """One split: the generated questions, the intersections and the follow questions (each marked
    with its operation), shuffled."""
    mixed = (list(part) + [replace(ex, operation="intersect") for ex in intersections]
             + [replace(ex, operation="follow") for ex in follows])
    rng.shuffle(mixed)
    return mixed


def _per_operation(parts: Sequence[Sequence[QAExample]]) -> str:
    """``"follow 600/60/150; intersect ..."``: questions per operation in each split, for the notes."""
    return "; ".join(f"{op} " + "/".join(str(sum(ex.operation == op for ex in p)) for p in parts)
                     for op in ("follow", "intersect", *OPERATIONS))


def load_metaqa_ops(root: str | os.PathLike, *, seed: int = 0, n_train: int = 600, n_dev: int = 60,
                    n_test: int = 150, max_answers: int = 20, max_count: int = 20) -> QADataset:
    """``metaqa-ops``: per template of :data:`METAQA_OPS` ``n_train``/``n_dev``/``n_test`` questions,
    mixed with as many ``intersect`` questions (:func:`~kgqa.datasets.derived.split_multi`) and as many
    MetaQA 1-hop questions (``follow``) per split as one operation has; each split shuffled."""
    mq = load_metaqa(root, 1, seed=seed)
    kg = mq.kg
    ops = split_ops(kg, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed, max_answers=max_answers,
                    max_count=max_count)
    per_op = {s: len(part) // len(OPERATIONS) for s, part in zip(("train", "dev", "test"), ops)}
    inter = split_multi(kg, n_train=per_op["train"], n_dev=per_op["dev"], n_test=per_op["test"], seed=seed,
                        max_answers=max_answers)
    parts = []
    for i, (part, both, single) in enumerate(zip(ops, inter, (mq.train, mq.dev, mq.test))):
        rng = random.Random(f"metaqa-ops:{seed}:mix:{i}")
        parts.append(_mixed(part, both, rng.sample(single, min(len(both), len(single))), rng))
    notes = (f"metaqa-ops: questions needing union, difference, count, argmax and argmin generated by "
             f"kgqa.datasets.operations (seed {seed}, max_answers {max_answers}, counts 1..{max_count}) over the "
             f"MetaQA KB {os.path.basename(kg.source)} with inverse relations, answers exact; three templates per "
             "operation sharing four frames, each template holding out a different frame for test; splits disjoint by "
             "(template, topics). Mixed "
             "with two-entity intersections (metaqa-multi's generator) and MetaQA 1-hop questions. Questions per "
             "operation (train/dev/test): " + _per_operation(parts) + f". {mq.notes}")
    return QADataset("metaqa-ops", kg, *parts, notes=notes)


def load_wc_ops(root: str | os.PathLike, *, seed: int = 0, n_train: int = 24, n_dev: int = 4, n_test: int = 10,
                max_answers: int = 20, max_count: int = 20) -> QADataset:
    """``wc-ops``: per template of :data:`WC_OPS` ``n_train``/``n_dev``/``n_test`` questions over the
    WorldCup2014 KB (two numeric attributes, ``is_aged`` and ``wears_number``: a superlative must
    also pick which; the graph holds 38 to 42 distinct questions of its smallest templates, hence the
    small default sizes), mixed with as many WorldCup2014 conjunctive questions (``intersect``) and 1-
    and 2-hop questions (``follow``) per split as one operation has; each split shuffled."""
    wc = load_worldcup(root, "P1+P2+C", seed=seed, dedupe=True)
    kg = wc.kg
    ops = split_ops(kg, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed, templates=WC_OPS,
                    max_answers=max_answers, max_count=max_count, tag="wc-ops")
    parts = []
    for i, (part, source) in enumerate(zip(ops, (wc.train, wc.dev, wc.test))):
        rng = random.Random(f"wc-ops:{seed}:mix:{i}")
        size = len(part) // len(OPERATIONS)
        both = [ex for ex in source if len(ex.topics) == 2]
        single = [ex for ex in source if len(ex.topics) == 1]
        inter = rng.sample(both, min(size, len(both)))
        parts.append(_mixed(part, inter, rng.sample(single, min(size, len(single))), rng))
    notes = (f"wc-ops: questions needing union, difference, count, argmax and argmin generated by "
             f"kgqa.datasets.operations (seed {seed}, max_answers {max_answers}, counts 1..{max_count}) over the "
             "WorldCup2014 KB, answers exact; three templates per operation, argmax/argmin over is_aged and "
             "wears_number, each template holding out a different one of its operation's four frames for test; splits "
             "disjoint by (template, topics). "
             "In this KB plays_for_country is the country of the player's club, so no club-minus-country template. "
             "Mixed with WorldCup2014 conjunctive (intersect) and 1-/2-hop (follow) questions, duplicates removed. "
             "Questions per operation (train/dev/test): " + _per_operation(parts) + ".")
    return QADataset("wc-ops", kg, *parts, notes=notes)
