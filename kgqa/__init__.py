"""kgqa — end-to-end question answering over differentiable knowledge graphs.

A short tour (the toy world ships with the package)::

    >>> import kgqa
    >>> kg = kgqa.toy_kg()
    >>> kg.name_of("padme_amidala")
    'Padmé Amidala'
    >>> sorted(kg.entities[i] for i in kgqa.walk_path(kg, ["mona_lisa"], ["exhibited_at", "located_in"]))
    ['paris']
    >>> program = kgqa.Program.parse(["natalie_portman", "star_wars_episode_ii"], "played;appears_in^-1")
    >>> program.answer_ids(kg)
    ['padme_amidala']

The same question, differentiably: weighted sets in, weighted sets out (:mod:`kgqa.follow`).

    >>> from kgqa.follow import ReifiedKG, follow
    >>> kb = ReifiedKG.from_kg(kg)
    >>> x = kgqa.one_hot(kg, ["mona_lisa"])
    >>> r1, r2 = (kgqa.relation_one_hot(kg, [rel]) for rel in ("exhibited_at", "located_in"))
    >>> y = follow(kb, follow(kb, x, r1), r2)
    >>> kg.entities[int(y.argmax())]
    'paris'

Every name but the errors loads its module on first use (``kgqa.one_hot`` imports torch then), so
``import kgqa`` is quick, and ``kgqa`` on the command line can answer Ctrl-C from its first moment.
"""

from .threads import prefer_passive_wait

prefer_passive_wait()  # before anything imports torch: see kgqa.threads

from .errors import (  # noqa: E402
    DuplicateTripleError,
    EmptyKGError,
    KGFormatError,
    KGQAError,
    UnknownEntityError,
    UnknownRelationError,
)

def _version() -> str:
    """The installed distribution's version (pyproject.toml is its one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kgqa")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


__version__ = _version()

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
    "walk_path",
    "intersect_sets",
    "trace_path",
    "Program",
    "StringLinker",
    "TemplateParser",
    "Pipeline",
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

# Imported on first use: name -> module.
_LAZY = {
    "KGStats": "kg_stats", "KnowledgeGraph": "kg", "inverse_name": "kg",
    "Pipeline": "pipeline", "StringLinker": "pipeline", "TemplateParser": "pipeline",
    "intersect": "sets", "normalize": "sets", "one_hot": "sets", "relation_one_hot": "sets", "top_k": "sets",
    "union": "sets",
    "data_dir": "runtime", "default_device": "runtime", "quick_mode": "runtime", "seed_everything": "runtime",
    "SEED_QUESTIONS": "toy", "ToyQuestion": "toy", "toy_kg": "toy", "toy_questions": "toy",
    "Program": "traverse", "walk_path": "traverse", "follow_set": "traverse", "intersect_sets": "traverse",
    "trace_path": "traverse",
    "QASystem": "qa", "Trace": "trace",
    "EndToEndQA": "model", "ModelConfig": "model",
    "fit": "train", "TrainConfig": "train",
    "QuestionEncoder": "encoders",
    "load_dataset": "datasets", "QADataset": "datasets", "QAExample": "datasets",
    "CandidateIndex": "resolve.candidates", "EntityResolver": "resolve", "ResolverConfig": "resolve",
}
__all__ += [name for name in _LAZY if name not in __all__]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'kgqa' has no attribute {name!r}")
