"""Filling the toy world's question templates (:mod:`kgqa.toy_templates`) with its entities.

For every question type, every topic (or pair of topics) the graph allows is found by symbolic
traversal; a few are drawn per phrasing (``PER_TEMPLATE``), each spelled by its name or an alias,
sometimes in lower case, and its answer set is what the relation path reaches — the topics
themselves left out, and for two topics only an intersection that needs both.

``python -m kgqa.toy_generate [PATH]`` rewrites ``kgqa/data/toy_generated.tsv``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from .kg import KnowledgeGraph
from .toy_templates import DESCRIPTIONS, TEMPLATES, THE, THE_ALIASES
from .traverse import intersect_sets, walk_path

__all__ = ["generate_questions", "generated_tsv", "GENERATED_FILE", "PER_TEMPLATE"]

GENERATED_FILE = "toy_generated.tsv"

PER_TEMPLATE = {"train": 6, "test": 3}  # topics drawn per phrasing (all of them when fewer)
LOWER_CASE = 0.12  # share of questions written all in lower case, as people type them
NAME_SHARE = 0.6  # share of mentions spelled by the entity's name rather than one of its aliases
LONGEST_NAME = 6  # names of more words are written by an alias
SEED = 0


def _answers(kg: KnowledgeGraph, topics: tuple[int, ...], paths: list[list[str]]) -> set[int]:
    sets = [walk_path(kg, [t], p) for t, p in zip(topics, paths)]
    out = intersect_sets(sets) - set(topics)
    # an intersection question must need both topics: its answer is smaller than one branch alone
    if len(sets) > 1 and all(len(out) == len(s - set(topics)) for s in sets):
        return set()
    return out


def _topic_tuples(kg: KnowledgeGraph, paths: list[list[str]], types: str) -> Iterator[tuple[tuple[int, ...], set[int]]]:
    wanted = types.split(";")
    pools = [[i for i in range(kg.num_entities) if not t or kg.types[i] == t] for t in wanted]
    if len(paths) == 1:
        combos = ((i,) for i in pools[0])
    else:
        combos = ((a, b) for a in pools[0] for b in pools[1] if a != b)
    for topics in combos:
        answers = _answers(kg, topics, paths)
        if answers:
            yield topics, answers


def _namesakes_answer(kg: KnowledgeGraph, topic: int, path: list[str]) -> bool:
    """Whether another entity of the same name would also answer ``path`` (the name alone is ambiguous)."""
    return any(j != topic and walk_path(kg, [j], path) for j in kg.entities_named(kg.names[topic]))


def _surface(kg: KnowledgeGraph, topic: int, path: list[str], rng: random.Random) -> str:
    name, aliases = kg.names[topic], list(kg.aliases[topic])
    eid = kg.entities[topic]
    if eid in DESCRIPTIONS and (_namesakes_answer(kg, topic, path) or rng.random() < 0.3):
        return rng.choice(DESCRIPTIONS[eid]).format(n=name)
    # a name of more words than a mention span may have ("Star Wars: Episode II – Attack of the
    # Clones", 10) is written as people write it, by an alias ("Attack of the Clones")
    long = len(name.split()) > LONGEST_NAME
    surface = rng.choice(aliases) if aliases and (long or rng.random() > NAME_SHARE) else name
    if eid in THE and (surface == name or surface in THE_ALIASES):
        surface = "the " + surface
    return surface


def _fill(template: str, surfaces: list[str], rng: random.Random) -> str:
    text = template.lstrip("~")
    for key, surface in zip("AB", surfaces):
        text = text.replace("{" + key + "}", surface)
    text = text[0].upper() + text[1:]
    return text.lower() if rng.random() < LOWER_CASE else text


def generate_questions(kg: KnowledgeGraph, seed: int = SEED, exclude: Iterable[str] = ()
                       ) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...], str]]:
    """Every generated question as ``(split, question, topic ids, answer ids, program)``.

    Deterministic for a given graph and ``seed``. A question text that comes out twice is kept
    once (the first), and none equals one of ``exclude`` (the hand-written questions), ignoring case.
    """
    rng = random.Random(seed)
    out, seen = [], {q.lower() for q in exclude}
    for (program, types), templates in TEMPLATES.items():
        paths = [p.split(">") for p in program.split(";")]
        tuples = list(_topic_tuples(kg, paths, types))
        if not tuples:
            raise ValueError(f"template group {program!r} ({types}) has no topic in the toy world")
        for template in templates:
            split = "test" if template.startswith("~") else "train"
            chosen = tuples if len(tuples) <= PER_TEMPLATE[split] else rng.sample(tuples, PER_TEMPLATE[split])
            for topics, answers in chosen:
                surfaces = [_surface(kg, t, p, rng) for t, p in zip(topics, paths)]
                text = _fill(template, surfaces, rng)
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                out.append((split, text, tuple(kg.entities[t] for t in topics),
                            tuple(sorted(kg.entities[a] for a in answers)), program))
    return out


def generated_tsv(kg: KnowledgeGraph, seed: int = SEED, exclude: Iterable[str] = ()) -> str:
    """The text of ``toy_generated.tsv``: the hand-written file's columns, one generated question a line."""
    lines = ["split\tquestion\ttopics\tanswers\thops\tmulti_entity\tprogram"]
    for split, text, topics, answers, program in generate_questions(kg, seed, exclude):
        hops = max(len(p.split(">")) for p in program.split(";"))
        lines.append("\t".join((split, text, "|".join(topics), "|".join(answers), str(hops),
                                str(int(len(topics) > 1)), program)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m kgqa.toy_generate [PATH]
    from .toy import toy_kg, toy_questions

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data" / GENERATED_FILE
    target.write_text(generated_tsv(toy_kg(), exclude=[q.question for q in toy_questions()]), encoding="utf-8")
    print(f"wrote {target}")
