"""kgqa — end-to-end question answering over differentiable knowledge graphs.

A short tour (the toy world ships with the package)::

    >>> import kgqa
    >>> kg = kgqa.toy_kg()
    >>> kg.name_of("padme_amidala")
    'Padmé Amidala'
    >>> sorted(kg.entities[i] for i in kgqa.follow_path(kg, ["mona_lisa"], ["exhibited_at", "located_in"]))
    ['paris']
    >>> program = kgqa.Program.parse(["natalie_portman", "star_wars_episode_ii"], "played;appears_in^-1")
    >>> program.answer_ids(kg)
    ['padme_amidala']
"""

from .errors import (
    DuplicateTripleError,
    EmptyKGError,
    KGFormatError,
    KGQAError,
    UnknownEntityError,
    UnknownRelationError,
)
from .kg import KGStats, KnowledgeGraph, inverse_name
from .pipeline import Pipeline, StringLinker, TemplateParser
from .runtime import data_dir, default_device, quick_mode, seed_everything
from .toy import SEED_QUESTIONS, ToyQuestion, toy_kg, toy_questions
from .traverse import Program, follow_path, follow_set, intersect_sets, trace_path

__version__ = "0.1.0"

__all__ = [
    "KGQAError",
    "KGFormatError",
    "DuplicateTripleError",
    "EmptyKGError",
    "UnknownEntityError",
    "UnknownRelationError",
    "KnowledgeGraph",
    "KGStats",
    "inverse_name",
    "toy_kg",
    "toy_questions",
    "ToyQuestion",
    "SEED_QUESTIONS",
    "follow_set",
    "follow_path",
    "intersect_sets",
    "trace_path",
    "Program",
    "StringLinker",
    "TemplateParser",
    "Pipeline",
    "quick_mode",
    "seed_everything",
    "default_device",
    "data_dir",
]
