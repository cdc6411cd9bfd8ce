"""SimpleQuestions mapped to Wikidata (Diefenbach et al. 2017): the learned-entity-resolution
paper's own dataset, over a closed knowledge graph built from its gold facts.

Each line of ``annotated_wd_data_{train,valid,test}.txt`` is one question with the one fact it
asks about, as Wikidata ids::

    Q12439<TAB>R19<TAB>Q6106580<TAB>who is a musician born in detroit

``Rxxx`` is the inverse of ``Pxxx``: the line above asks for the people born in Detroit (Q12439),
that is ``(Q6106580, P19 place of birth, Q12439)`` read backwards. No Wikidata dump is used: the
graph is *closed*, the distinct facts of the three full files with each ``R`` fact turned back
into its ``P`` fact, plus the usual ``r^-1`` inverses. Every question is then answerable, and the
graph is far smaller than Wikidata: results are not comparable with the paper's as they stand.

The topic of a question is the fact's subject; its answers are every object of (subject,
relation) in the graph (a question "name a film by D" has all of D's films for answers).
Entities are named by their English labels (``labels_en.json``), by their id where there is
none; relations by their property's English label in snake case (:data:`PROPERTY_LABELS`, the id
where the table has none). The mention of the topic is located by its label (case, accents and
punctuation aside); questions whose text does not contain the label keep no mention.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import KGFormatError, QAFormatError
from ..kg import KnowledgeGraph, inverse_name
from .base import QADataset, QAExample
from .files import find_mention, read_lines
from .loaders import require_file

__all__ = ["load_sq_wikidata", "load_sq_graph", "PROPERTY_LABELS", "SQ_FOLDER", "read_sq_facts"]

SQ_FOLDER = "simplequestions-wikidata"
"""The dataset's folder under the data folder."""

PROPERTY_LABELS: dict[str, str] = {
    "P17": "country", "P19": "place_of_birth", "P20": "place_of_death", "P21": "sex_or_gender",
    "P27": "country_of_citizenship", "P31": "instance_of", "P40": "child", "P50": "author", "P53": "family",
    "P57": "director", "P58": "screenwriter", "P59": "constellation", "P61": "discoverer_or_inventor",
    "P65": "site_of_astronomical_discovery", "P81": "connecting_line", "P84": "architect", "P86": "composer",
    "P105": "taxon_rank", "P106": "occupation", "P112": "founded_by", "P113": "airline_hub", "P115": "home_venue",
    "P119": "place_of_burial", "P123": "publisher", "P131": "located_in_the_administrative_territorial_entity",
    "P136": "genre", "P138": "named_after", "P140": "religion", "P144": "based_on", "P149": "architectural_style",
    "P150": "contains_administrative_territorial_entity", "P155": "follows", "P156": "followed_by",
    "P161": "cast_member", "P162": "producer", "P170": "creator", "P171": "parent_taxon", "P172": "ethnic_group",
    "P175": "performer", "P176": "manufacturer", "P177": "crosses", "P178": "developer",
    "P179": "part_of_the_series", "P189": "location_of_discovery", "P196": "minor_planet_group",
    "P264": "record_label", "P272": "production_company", "P276": "location", "P279": "subclass_of",
    "P287": "designed_by", "P289": "vessel_class", "P344": "director_of_photography", "P361": "part_of",
    "P364": "original_language_of_film_or_tv_show", "P376": "located_on_astronomical_body",
    "P397": "parent_astronomical_body", "P398": "child_astronomical_body", "P403": "mouth_of_the_watercourse",
    "P404": "game_mode", "P407": "language_of_work_or_name", "P413": "position_played_on_team",
    "P421": "located_in_time_zone", "P495": "country_of_origin", "P509": "cause_of_death", "P607": "conflict",
    "P641": "sport", "P676": "lyrics_by", "P710": "participant", "P737": "influenced_by", "P738": "influence_of",
    "P800": "notable_work", "P826": "tonality", "P1029": "crew_member", "P1040": "film_editor",
    "P1142": "political_ideology", "P1303": "instrument", "P1308": "officeholder",
    "P1408": "licensed_to_broadcast_to", "P1431": "executive_producer",
}
"""Wikidata property id → the relation name used in the graph (its English label, snake case)."""

SPLIT_FILES = {"train": "train", "dev": "valid", "test": "test"}
_QUESTIONS = SQ_FOLDER + "/annotated_wd_data_{}.txt"  # the question file of a split name
_ENTITY = re.compile(r"Q[1-9][0-9]*")
_PROPERTY = re.compile(r"[PR][1-9][0-9]*")

Fact = tuple[str, str, str]  # (subject id, "Pxxx", object id), read forwards


def read_sq_facts(path: str | os.PathLike) -> list[tuple[str, Fact, bool, str, str]]:
    """The lines of one ``annotated_wd_data_*.txt`` file, checked.

    Returns ``(question, fact, inverse, topic, where)`` per line: the gold fact read forwards
    (an ``Rxxx`` line's fact reversed), whether the question asks it backwards, the topic id and
    ``"file:line"``. Raises :class:`QAFormatError` at the file and line of the first line that
    has not four tab-separated fields, ids of the wrong form, or an empty question.
    """
    out = []
    for n, line in read_lines(path):
        fields = line.split("\t")
        if len(fields) != 4:
            raise QAFormatError(f"expected 4 tab-separated fields (subject, property, object, question), got "
                                f"{len(fields)}: {line!r:.100}", path=path, line=n)
        s, p, o, question = (f.strip() for f in fields)
        for value, pattern, what in ((s, _ENTITY, "subject"), (p, _PROPERTY, "property"), (o, _ENTITY, "object")):
            if not pattern.fullmatch(value):
                want = "Pxxx or Rxxx" if what == "property" else "Qxxx"
                raise QAFormatError(f"the {what} {value!r} is not a Wikidata id ({want})", path=path, line=n)
        if not question:
            raise QAFormatError("the question is empty", path=path, line=n)
        inverse = p.startswith("R")
        fact = (o, "P" + p[1:], s) if inverse else (s, p, o)
        out.append((question, fact, inverse, s, f"{path}:{n}"))
    return out


def _read_labels(path: Path) -> dict[str, str]:
    """``labels_en.json`` (``{"label": "Qid"}``) as id → label; an error names the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KGFormatError(f"cannot read the labels ({err})", path=path) from None
    if not isinstance(data, dict):
        raise KGFormatError("expected one JSON object {\"English label\": \"Qid\"}", path=path)
    labels: dict[str, str] = {}
    for label, qid in data.items():
        if not isinstance(qid, str) or not _ENTITY.fullmatch(qid) or not label.strip():
            raise KGFormatError(f"entry {label!r}: {qid!r} is not a label with a Wikidata id (Qxxx)", path=path)
        labels.setdefault(qid, label.strip())
    return labels


def load_sq_graph(folder: str | os.PathLike) -> KnowledgeGraph:
    """The closed graph alone, from the dataset's folder (``kgqa stats sq-wikidata``)."""
    return _closed_graph(Path(folder).parent)[0]


def _closed_graph(root: str | os.PathLike) -> tuple[KnowledgeGraph, dict[str, list], int]:
    """The closed graph (labels as names, inverses added), the checked lines of the three full
    files by split, and the number of distinct facts."""
    full = {split: read_sq_facts(require_file(root, _QUESTIONS.format(name), "sq-wikidata"))
            for split, name in SPLIT_FILES.items()}
    facts = list(dict.fromkeys(fact for rows in full.values() for _, fact, *_ in rows))
    labels_path = require_file(root, f"{SQ_FOLDER}/labels_en.json", "sq-wikidata")
    kg = KnowledgeGraph.from_triples([(s, PROPERTY_LABELS.get(p, p), o) for s, p, o in facts],
                                     source=str(Path(root) / SQ_FOLDER))
    labels = {q: label for q, label in _read_labels(labels_path).items() if kg.has_entity(q)}
    kg = KnowledgeGraph(kg.entities, kg.relations, kg.triples, names=[labels.get(e, e) for e in kg.entities],
                        source=kg.source).with_inverses()
    return kg, full, len(facts)


def load_sq_wikidata(root: str | os.PathLike, *, answerable: bool = False) -> QADataset:
    """SimpleQuestions-Wikidata: train / valid / test as given, over the closed graph.

    ``answerable`` reads the ``*_answerable.txt`` files (the questions whose fact is also in
    Wikidata) instead; the graph is the same, built from the full files, which must be present.
    """
    kg, full, n_facts = _closed_graph(root)
    rows = full if not answerable else {
        split: read_sq_facts(require_file(root, _QUESTIONS.format(f"{name}_answerable"), "sq-wikidata"))
        for split, name in SPLIT_FILES.items()}
    answers = _answer_sets(kg)
    parts = {}
    for split, lines in rows.items():
        exs = []
        for question, (s, p, o), inverse, topic, where in lines:
            relation = PROPERTY_LABELS.get(p, p)
            relation = inverse_name(relation) if inverse else relation
            found = answers.get((topic, relation), ())
            if (s if inverse else o) not in found:  # an answerable line whose fact the full files lack
                raise QAFormatError(f"the fact ({s}, {p}, {o}) is not among the facts of the full files",
                                    path=where.rpartition(":")[0], line=int(where.rpartition(":")[2]))
            mention = find_mention(question, (kg.names[kg.entity_index(topic)],), loose_punctuation=True)
            exs.append(QAExample(question, (topic,), (mention,), found, qtype=relation, hops=1, source=where,
                                 paths=((relation,),)))
        parts[split] = exs
    name = "sq-wikidata-answerable" if answerable else "sq-wikidata"
    files = "the *_answerable.txt files" if answerable else "the full files"
    notes = (f"SimpleQuestions-Wikidata ({files}): train / valid / test as given. The graph is closed: the "
             f"{n_facts:,} distinct gold facts of the three full files (Rxxx lines read as their Pxxx fact) "
             "with inverses, so every question is answerable and the graph is far smaller and less ambiguous "
             "than the paper's Wikidata: easier, and not directly comparable with its Hits@1 (Rigel-Baseline "
             "73.4, Rigel-ER 70.1, Rigel-E2E 68.2). Names are English labels (the id where there is none).")
    return QADataset(name, kg, parts["train"], parts["dev"], parts["test"], notes)


def _answer_sets(kg: KnowledgeGraph) -> dict[tuple[str, str], tuple[str, ...]]:
    """(subject id, relation name) → every object, in fact order."""
    out: dict[tuple[str, str], list[str]] = {}
    ents, rels = kg.entities, kg.relations
    for s, r, o in kg.triples.tolist():
        out.setdefault((ents[s], rels[r]), []).append(ents[o])
    return {k: tuple(v) for k, v in out.items()}
