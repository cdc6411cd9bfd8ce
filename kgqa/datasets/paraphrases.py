"""MetaQA 1-hop questions in phrasings MetaQA never uses: a robustness test, and augmentation for training.

MetaQA's questions come from a few templates per question type (``what films did [X] star in``,
``[X] appears in which movies`` ...). A model trained on them may learn the templates rather than
the question: asked in words no template uses, it should still follow the same relation. This
module rewrites MetaQA 1-hop questions with phrasings of its own, in two disjoint banks per
question type:

- ``"held_out"``: the test phrasings. :func:`load_metaqa_paraphrased` replaces the test split with
  them (``metaqa-1hop-para``): same topics, same answers, same graph, only the words change;
- ``"train"``: other phrasings, for augmentation (``metaqa-1hop-aug``): a seeded share of the
  training questions is added again in these words. No held-out phrasing is ever trained on.

Neither bank repeats a MetaQA template (a test checks it against the dev files). Phrasings keep
MetaQA's style (lower case, no question mark); ``X`` marks the topic's mention, which keeps its
surface text from the original question.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from .base import QADataset, QAExample
from .loaders import load_metaqa

__all__ = ["PARAPHRASES", "paraphrase", "load_metaqa_paraphrased"]

Bank = Literal["train", "held_out"]

PARAPHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "movie_to_actor": {
        "train": ("name the cast of X", "which actors appear in X", "who plays in X", "list the actors of X",
                  "who was in the cast of X"),
        "held_out": ("who can be seen in X", "which performers are in X", "X features which actors",
                     "give me the cast of X")},
    "movie_to_director": {
        "train": ("who made X", "X was made by which director", "name the director of X",
                  "who was behind the camera on X"),
        "held_out": ("who helmed X", "which filmmaker directed X", "tell me the director of X",
                     "X is a film by which director")},
    "movie_to_writer": {
        "train": ("who penned X", "name the writer of X", "the script of X was by whom",
                  "which writer is credited on X"),
        "held_out": ("who scripted X", "whose screenplay is X", "tell me who wrote X",
                     "who has the writing credit for X")},
    "movie_to_year": {
        "train": ("in which year did X come out", "when did X premiere", "X came out in what year",
                  "what year is X from"),
        "held_out": ("when did X come out", "in what year was X first shown", "which year saw the release of X",
                     "tell me the year X was released")},
    "movie_to_genre": {
        "train": ("which genre does X belong to", "how would you classify X", "X is what kind of film",
                  "what category of film is X"),
        "held_out": ("X belongs to which genre", "which genre best describes X", "tell me the genre of X",
                     "what style of film is X")},
    "movie_to_language": {
        "train": ("in which language is X", "what language do they speak in X", "X is in what language"),
        "held_out": ("which language was X made in", "what is the language of X", "tell me the language of X")},
    "movie_to_tags": {
        "train": ("what is X about", "give me some keywords for X", "which tags does X have",
                  "what themes does X deal with"),
        "held_out": ("list some tags for X", "what keywords go with X", "which themes come up in X",
                     "tell me what X is about")},
    "actor_to_movie": {
        "train": ("which movies feature X", "name a film with X", "X has been in which films",
                  "in which films did X play"),
        "held_out": ("what has X been in", "list the movies X appeared in", "which films have X in the cast",
                     "tell me a movie starring X")},
    "director_to_movie": {
        "train": ("what films were made by X", "name a movie X directed", "list the films of director X",
                  "which films has X made"),
        "held_out": ("what has X directed", "tell me a film X directed", "which movies were directed by X",
                     "X is the director of which film")},
    "writer_to_movie": {
        "train": ("what did X write", "name a film X wrote", "which screenplays did X write", "X wrote which films"),
        "held_out": ("what has X written", "list the films written by X", "tell me a movie X wrote the script for",
                     "which movies credit X as writer")},
    "tag_to_movie": {
        "train": ("name a film about X", "which movies deal with X", "list films tagged X",
                  "suggest a movie about X"),
        "held_out": ("what are some X movies", "give me films on the topic X", "which films have the tag X",
                     "recommend a movie about X")},
}
"""Question type → ``{"train": phrasings, "held_out": phrasings}``; ``X`` is the topic's mention."""


def paraphrase(examples: Sequence[QAExample], bank: Bank, seed: int = 0) -> list[QAExample]:
    """``examples`` (MetaQA 1-hop, one topic with a located mention) rephrased with a seeded choice
    from ``bank``; a question whose type has no phrasings here (the rare rating and votes
    questions) keeps its words. Topics, answers, type and gold path are unchanged; the mention keeps
    its surface text and its new span."""
    if bank not in ("train", "held_out"):
        raise ValueError(f"bank must be 'train' or 'held_out', got {bank!r}")
    rng = random.Random(seed)
    out = []
    for ex in examples:
        phrasings = PARAPHRASES.get(ex.qtype, {}).get(bank)
        if not phrasings or len(ex.mentions) != 1 or ex.mentions[0][0] < 0:
            out.append(ex)
            continue
        a, b = ex.mentions[0]
        mention = ex.question[a:b]
        before, _, after = rng.choice(phrasings).partition("X")
        out.append(replace(ex, question=before + mention + after, mentions=((len(before), len(before) + len(mention)),),
                           source=f"{ex.source} ({bank} paraphrase)"))
    return out


def load_metaqa_paraphrased(root: str | os.PathLike, *, augment: float = 0.0, seed: int = 0,
                            holdout: float = 0.1) -> QADataset:
    """MetaQA 1-hop (dev-trained) whose test questions are asked in held-out phrasings.

    Train and dev are those of ``metaqa-1hop`` (same seed), so a ``metaqa-1hop`` model can be
    evaluated on this test split as it is. ``augment`` (0..1): that share of the training
    questions, seeded, is added again rephrased with the training bank.
    """
    if not 0.0 <= augment <= 1.0:
        raise ValueError(f"augment must be a share between 0 and 1, got {augment!r}")
    base = load_metaqa(root, 1, holdout=holdout, seed=seed)
    test = paraphrase(base.test, "held_out", seed)
    train = list(base.train)
    if augment:
        picked = random.Random(seed + 1).sample(range(len(train)), round(augment * len(train)))
        train += paraphrase([train[i] for i in sorted(picked)], "train", seed)
    name = "metaqa-1hop-aug" if augment else "metaqa-1hop-para"
    notes = (base.notes + f" Test: qa_test.txt asked in held-out phrasings no MetaQA template and no training "
             f"phrasing uses (kgqa.datasets.paraphrases, seed {seed}); topics and answers unchanged."
             + (f" Train: plus {augment:.0%} of its questions again in the training bank's phrasings." if augment else ""))
    return QADataset(name, base.kg, train, base.dev, test, notes)
