"""QA datasets: questions with topic entities and answers, split into train/dev/test, with their KG.

>>> from kgqa.datasets import load_dataset
>>> ds = load_dataset("toy")
>>> ds.train[0].question, ds.train[0].topics
('Where is the Mona Lisa exhibited?', ('mona_lisa',))

This module is the registry (:data:`DATASETS`, :func:`load_dataset`, and :data:`KG_FILES`, the
real graphs by short name); the pieces below it are :mod:`.base` (the records and how a set is
split), :mod:`.files` (the question file formats, parsed with errors at file:line),
:mod:`.loaders` (one per dataset, and your own files), :mod:`.simplequestions` and :mod:`.derived` (two-entity questions
generated over the MetaQA KB).

Registered names: ``toy``, ``toy-full`` (with the generated questions); ``metaqa-{1,2,3}hop`` (MetaQA,
"dev-trained"), ``metaqa-all`` (the three together), ``metaqa-{1,2,3}hop-para``, ``metaqa-all-para``,
``metaqa-1hop-aug`` and ``metaqa-all-aug`` (held-out phrasings), ``metaqa-{1,2,3}hop-para2``,
``metaqa-all-para2`` and ``metaqa-all-aug2`` (the second held-out bank, the widened training bank); ``pq-2h``, ``pq-3h`` (PathQuestion); ``wc-p1``, ``wc-p2``, ``wc-c``, ``wc-all``
(WorldCup2014); ``metaqa-multi``; ``metaqa-ops``, ``wc-ops``; ``sq-wikidata``, ``sq-wikidata-answerable`` (SimpleQuestions-Wikidata).
Real data is found under ``root`` or the folder named by ``KGQA_DATA``; :func:`load_user` and
:func:`load_questions` read your own graph and questions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import MissingDataError, UnknownDatasetError, close_matches
from ..kg import KnowledgeGraph
from ..runtime import data_dir
from .base import (NO_SPAN, ORIGINS, SPLITS, DataWarning, QADataset, QAExample, Span, SplitStats, dedupe_questions,
                   seen_in_train, split_examples)
from .derived import load_metaqa_multi
from .operations import load_metaqa_ops, load_wc_ops
from .paraphrases import load_metaqa_paraphrased
from .simplequestions import load_sq_graph, load_sq_wikidata
from .loaders import (load_metaqa, load_pathquestion, load_questions, load_toy, load_user, load_worldcup,
                      load_worldcup_kg, metaqa_path)

__all__ = ["QAExample", "Span", "NO_SPAN", "QADataset", "SplitStats", "DataWarning", "SPLITS", "split_examples",
           "seen_in_train", "dedupe_questions", "load_toy", "load_metaqa", "load_pathquestion", "load_worldcup",
           "load_worldcup_kg", "load_user", "load_questions", "load_metaqa_multi", "load_metaqa_ops", "load_wc_ops", "load_sq_wikidata", "load_metaqa_paraphrased", "metaqa_path", "DatasetSpec",
           "DATASETS", "KG_FILES", "load_dataset"]

KG_FILES: dict[str, tuple[str, Callable[[str | os.PathLike], KnowledgeGraph]]] = {
    "metaqa": ("metaqa/kb_partial.txt", KnowledgeGraph.load),
    "wc2014": ("wc2014/kb.txt", load_worldcup_kg),  # the file holds its own inverses: renamed r^-1, none added
    "pq-2h": ("pathquestion/2H-kb.txt", KnowledgeGraph.load),
    "pq-3h": ("pathquestion/3H-kb.txt", KnowledgeGraph.load),
    "sq-wikidata": ("simplequestions-wikidata", load_sq_graph),  # the closed graph of the questions' gold facts
}
"""The real knowledge graphs by short name: (path under the data folder, how to read it with its ``r^-1`` inverses)."""


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
    "toy-full": DatasetSpec(lambda root, **o: load_toy(questions="all", **o),
                            "the toy world with its generated questions (held-out test phrasings)"),
    **{f"metaqa-{k}hop": DatasetSpec(lambda root, k=k, **o: load_metaqa(root, k, **o),
                                     f"MetaQA {k}-hop (dev-trained), KG kb_partial.txt", "metaqa") for k in (1, 2, 3)},
    "metaqa-all": DatasetSpec(lambda root, **o: load_metaqa(root, "all", **o),
                              "MetaQA 1-, 2- and 3-hop together (dev-trained): one model for every hop count", "metaqa"),
    "pq-2h": DatasetSpec(lambda root, **o: load_pathquestion(root, "2H", **o), "PathQuestion 2-hop", "pathquestion"),
    "pq-3h": DatasetSpec(lambda root, **o: load_pathquestion(root, "3H", **o), "PathQuestion 3-hop", "pathquestion"),
    "wc-p1": DatasetSpec(lambda root, **o: load_worldcup(root, "P1", **o), "WorldCup2014 1-hop", "wc2014"),
    "wc-p2": DatasetSpec(lambda root, **o: load_worldcup(root, "P2", **o), "WorldCup2014 2-hop", "wc2014"),
    "wc-c": DatasetSpec(lambda root, **o: load_worldcup(root, "C", **o), "WorldCup2014 conjunctive (2 topics)",
                        "wc2014"),
    "wc-all": DatasetSpec(lambda root, **o: load_worldcup(root, "P1+P2+C", **o), "WorldCup2014 P1+P2+C mixed",
                          "wc2014"),
    "metaqa-multi": DatasetSpec(lambda root, **o: load_metaqa_multi(root, **o),
                                "MetaQA-derived two-entity questions (generated) mixed with MetaQA 1-hop", "metaqa"),
    "metaqa-ops": DatasetSpec(lambda root, **o: load_metaqa_ops(root, **o),
                              "MetaQA-derived union, difference, count, argmax and argmin questions (generated) mixed "
                              "with intersections and MetaQA 1-hop", "metaqa"),
    "wc-ops": DatasetSpec(lambda root, **o: load_wc_ops(root, **o),
                          "WorldCup2014-derived union, difference, count, argmax and argmin questions (generated) mixed "
                          "with WorldCup2014 conjunctive, 1- and 2-hop questions", "wc2014"),
    "metaqa-1hop-para": DatasetSpec(lambda root, **o: load_metaqa_paraphrased(root, **o),
                                    "MetaQA 1-hop, test questions in held-out phrasings (robustness)", "metaqa"),
    "metaqa-1hop-aug": DatasetSpec(lambda root, **o: load_metaqa_paraphrased(root, **{"augment": 0.5, **o}),
                                   "MetaQA 1-hop, training questions also rephrased; held-out test phrasings",
                                   "metaqa"),
    **{f"metaqa-{k}hop-para": DatasetSpec(lambda root, k=k, **o: load_metaqa_paraphrased(root, k, **o),
                                          f"MetaQA {k}-hop, test questions in held-out phrasings (robustness)",
                                          "metaqa") for k in (2, 3)},
    "metaqa-all-para": DatasetSpec(lambda root, **o: load_metaqa_paraphrased(root, "all", **o),
                                   "MetaQA 1-, 2- and 3-hop, test questions in held-out phrasings (robustness)",
                                   "metaqa"),
    "metaqa-all-aug": DatasetSpec(lambda root, **o: load_metaqa_paraphrased(root, "all", **{"augment": 0.5, **o}),
                                  "MetaQA 1-, 2- and 3-hop, training questions also rephrased; held-out test "
                                  "phrasings", "metaqa"),
    # the second held-out bank, and the widened training bank that goes with it
    **{f"metaqa-{k}hop-para2": DatasetSpec(lambda root, k=k, **o: load_metaqa_paraphrased(root, k, bank="held_out_2", **o),
                                           f"MetaQA {k}-hop, test questions in the second held-out bank's phrasings",
                                           "metaqa") for k in (1, 2, 3)},
    "metaqa-all-para2": DatasetSpec(lambda root, **o: load_metaqa_paraphrased(root, "all", bank="held_out_2", **o),
                                    "MetaQA 1-, 2- and 3-hop, test questions in the second held-out bank's phrasings",
                                    "metaqa"),
    "metaqa-all-aug2": DatasetSpec(
        lambda root, **o: load_metaqa_paraphrased(root, "all", bank="held_out_2", **{"augment": 0.5, **o}),
        "MetaQA 1-, 2- and 3-hop, training questions also rephrased with the widened training bank; test in the "
        "second held-out bank's phrasings", "metaqa"),
    "sq-wikidata": DatasetSpec(lambda root, **o: load_sq_wikidata(root, **o),
                               "SimpleQuestions-Wikidata over the closed graph of its gold facts", "sq-wikidata"),
    "sq-wikidata-answerable": DatasetSpec(lambda root, **o: load_sq_wikidata(root, answerable=True, **o),
                                          "SimpleQuestions-Wikidata, the questions whose fact is in Wikidata",
                                          "sq-wikidata"),
}
"""Dataset names → :class:`DatasetSpec` (callable as ``DATASETS[name](root, **options)``)."""


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
