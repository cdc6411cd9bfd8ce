"""The toy world: a small hand-written knowledge graph and question set, shipped with the package.

It is built from the examples the method's papers use — the Mona Lisa in the Louvre in Paris;
Natalie Portman, the Star Wars films and Padmé Amidala; three different people called Tom
Hanks; films starring Tom Hanks and their writers — so that every idea of the book can be shown
on a graph small enough to draw, and every model trains on it in seconds.

Files (package data under ``kgqa/data/``), all UTF-8 and tab-separated with a header line:

- ``toy_entities.tsv``: ``id  name  aliases(|-separated)  type``
- ``toy_kg.tsv``: ``subject  relation  object`` (ids; inverse relations are added on load)
- ``toy_questions.tsv``: ``split  question  topics  answers  hops  multi_entity  program`` — the
  hand-written questions
- ``toy_generated.tsv``: the same columns — questions generated from templates with held-out
  phrasings (:mod:`kgqa.toy_templates`; :mod:`kgqa.toy_generate` writes the file)

With both files (``source="all"``, the dataset ``toy-full``), the three seed questions are *test*
questions: a training question of either file phrased by a held-out template (the seeds'
phrasings are among them) moves to the test split, so no model is trained on a seed question or on any
question phrased like one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from .errors import KGFormatError, UnknownEntityError, close_matches
from .kg import KnowledgeGraph
from .traverse import Program

__all__ = ["ToyQuestion", "toy_kg", "toy_questions", "SEED_QUESTIONS", "SOURCES", "read_rows", "by_source"]

SOURCES = {"hand": "toy_questions.tsv", "generated": "toy_generated.tsv"}
"""Where the toy questions come from: the hand-written file and the generated one."""

SEED_QUESTIONS = (
    "What city is the Mona Lisa in?",
    "Who did Natalie Portman play in Star Wars Episode II?",
    "Who wrote films starring Tom Hanks?",
)
"""The three questions the book keeps coming back to."""


@dataclass(frozen=True)
class ToyQuestion:
    """One question of the toy set, with its gold annotations."""

    question: str
    topics: tuple[str, ...]  # topic entity ids (the "hand-annotated" entities)
    answers: tuple[str, ...]  # answer entity ids
    hops: int  # length of the longest relation path
    multi_entity: bool  # more than one topic entity (answer = intersection)
    program: Program  # gold query: one relation path per topic
    split: str  # "train" or "test"
    source: str = "hand"  # "hand" (hand-written) or "generated" (from the templates)
    line: int = 0  # line in its file


def read_rows(name: str, n_fields: int) -> list[tuple[int, list[str]]]:
    """Data rows of a packaged TSV file as ``(line number, fields)``; checks the field count."""
    where = f"kgqa/data/{name}"
    text = resources.files("kgqa").joinpath("data", name).read_text(encoding="utf-8")
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if n == 1 or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_fields:
            raise KGFormatError(f"expected {n_fields} tab-separated fields, got {len(fields)}", path=where, line=n)
        rows.append((n, fields))
    return rows


@lru_cache(maxsize=2)
def toy_kg(add_inverses: bool = True) -> KnowledgeGraph:
    """The toy knowledge graph (with ``r^-1`` inverse relations unless ``add_inverses=False``).

    >>> kg = toy_kg()
    >>> kg.name_of("padme_amidala")
    'Padmé Amidala'
    >>> len(kg.entities_named("Tom Hanks"))
    3
    """
    ents = read_rows("toy_entities.tsv", 4)
    facts = read_rows("toy_kg.tsv", 3)
    return KnowledgeGraph.from_triples(
        [tuple(f) for _, f in facts],
        entities=[f[0] for _, f in ents],
        names={f[0]: f[1] for _, f in ents},
        aliases={f[0]: [a for a in f[2].split("|") if a] for _, f in ents},
        types={f[0]: f[3] for _, f in ents},
        add_inverses=add_inverses,
        source="kgqa/data/toy_kg.tsv",
        _lines=[n for n, _ in facts],
    )


@lru_cache(maxsize=2)
def _all_questions(source: str) -> tuple[ToyQuestion, ...]:
    kg = toy_kg()
    where = f"kgqa/data/{SOURCES[source]}"
    out = []
    for n, (split, question, topics, answers, hops, multi, program) in read_rows(SOURCES[source], 7):
        topic_ids, answer_ids = tuple(topics.split("|")), tuple(answers.split("|"))
        for e in topic_ids + answer_ids:
            if not kg.has_entity(e):
                raise UnknownEntityError(e, close_matches(e, kg.entities), where=f"{where}:{n}")
        if split not in ("train", "test"):
            raise KGFormatError(f"split must be 'train' or 'test', got {split!r}", path=where, line=n)
        prog = Program.parse(topic_ids, program, where=f"{where}:{n}")
        for path in prog.paths:
            for rel in path:
                kg.relation_index(rel)
        out.append(ToyQuestion(question, topic_ids, answer_ids, int(hops), multi == "1", prog, split, source, n))
    return tuple(out)


def toy_questions(split: str | None = None, source: str = "hand") -> list[ToyQuestion]:
    """The toy questions, or one split of them (``"train"`` or ``"test"``).

    ``source``: ``"hand"`` (the hand-written questions, the default), ``"generated"`` (from the
    templates of :mod:`kgqa.toy_templates`) or ``"all"`` (both, hand-written first; a training
    question phrased by a held-out template is a test question there).
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    if source not in ("hand", "generated", "all"):
        raise ValueError(f"source must be 'hand', 'generated' or 'all', got {source!r}")
    every = _every_question() if source == "all" else _all_questions(source)
    return [q for q in every if split is None or q.split == split]


@lru_cache(maxsize=1)
def _every_question() -> tuple[ToyQuestion, ...]:
    """Both files, hand-written first; a training question phrased by a held-out template becomes a
    test question. That includes generated ones: a training phrasing can spell a held-out one
    ("In which country was the painter of {A} born?" is "~In which country was {A} born?" with
    "the painter of The Starry Night" as its {A})."""
    from .toy_templates import held_out_phrasing

    return tuple(replace(q, split="test") if q.split == "train" and held_out_phrasing(q.question) else q
                 for s in ("hand", "generated") for q in _all_questions(s))


def by_source(examples: Sequence) -> dict[str, list]:
    """Toy examples (``QAExample`` of :func:`kgqa.datasets.load_toy`) grouped as
    ``{"generated": [...], "hand-written": [...]}`` by the file they come from."""
    generated = [ex for ex in examples if SOURCES["generated"] in ex.source]
    return {"generated": generated, "hand-written": [ex for ex in examples if SOURCES["generated"] not in ex.source]}
