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

The same question, differentiably: weighted sets in, weighted sets out.

    >>> kb = kgqa.ReifiedKG.from_kg(kg)
    >>> x = kgqa.one_hot(kg, ["mona_lisa"])
    >>> r1, r2 = (kgqa.relation_one_hot(kg, [rel]) for rel in ("exhibited_at", "located_in"))
    >>> y = kgqa.follow(kb, kgqa.follow(kb, x, r1), r2)
    >>> kg.entities[int(y.argmax())]
    'paris'

The model, training and datasets (``kgqa.QASystem``, ``kgqa.fit``, ``kgqa.load_dataset``, ...)
load on first use, so ``import kgqa`` stays quick.
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
from .reified import ReifiedKG, follow
from .sets import intersect, normalize, one_hot, relation_one_hot, top_k, union
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
    "ReifiedKG",
    "follow",
    "one_hot",
    "relation_one_hot",
    "intersect",
    "union",
    "normalize",
    "top_k",
    "quick_mode",
    "seed_everything",
    "default_device",
    "data_dir",
]

# Heavier parts (transformers) are imported on first use.
_LAZY = {
    "QASystem": "qa", "Answer": "answers",
    "EndToEndQA": "model", "ModelConfig": "model",
    "fit": "train", "TrainConfig": "train",
    "QuestionEncoder": "encoders",
    "load_dataset": "datasets", "QADataset": "datasets", "QAExample": "datasets",
    "CandidateIndex": "candidates", "EntityResolver": "resolve", "ResolverConfig": "resolve",
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'kgqa' has no attribute {name!r}")
