"""MetaQA questions in phrasings MetaQA never uses: a robustness test, and augmentation for training.

MetaQA's questions come from a few templates per question type (``what films did [X] star in``,
``[X] appears in which movies`` ...). A model trained on them may learn the templates rather than
the question: asked in words no template uses, it should still follow the same relation. This
module rewrites MetaQA questions with phrasings of its own, in disjoint banks per question
type (1-hop types in :data:`PARAPHRASES`; 2- and 3-hop types composed, see :func:`phrasings`):

- ``"held_out"``: the test phrasings. :func:`load_metaqa_paraphrased` replaces the test split with
  them (``metaqa-1hop-para``, ``metaqa-all-para`` ...): same topics, same answers, same graph,
  only the words change;
- ``"train"``: other phrasings, for augmentation (``metaqa-1hop-aug``, ``metaqa-all-aug``): a
  seeded share of the training questions is added again in these words. No held-out phrasing is
  ever trained on;
- ``"held_out_2"`` and ``"train_2"``: a second held-out bank, written once the first had been
  studied phrase by phrase, and a widened training bank (the first plus additions aimed at what a
  model of the first one misreads). ``metaqa-{1,2,3}hop-para2`` and ``metaqa-all-para2`` test in the
  second held-out bank, ``metaqa-all-aug2`` trains with the widened one. The first banks are not
  changed, so what was measured on them stays valid.

No bank repeats a MetaQA template (a test checks it against the dev and test files). Phrasings keep
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

__all__ = ["PARAPHRASES", "FILMS", "ASK", "RETURNS", "BANKS", "TRAIN_BANKS", "BANK_SUFFIX", "phrasings", "paraphrase",
           "load_metaqa_paraphrased"]

Bank = Literal["train", "held_out", "train_2", "held_out_2"]
BANKS: tuple[Bank, ...] = ("train", "held_out", "train_2", "held_out_2")
"""The phrasing banks: the first training and held-out banks, then a widened training bank (the
first plus additions) and a second held-out bank, the fresh test of a model trained on the widened one."""
TRAIN_BANKS: dict[Bank, Bank] = {"held_out": "train", "held_out_2": "train_2"}
"""Each held-out bank → the training bank augmentation uses beside it."""
BANK_SUFFIX: dict[Bank, str] = {"held_out": "", "held_out_2": "2"}
"""Each held-out bank → the suffix of its dataset names (``-para``, ``-aug``; ``-para2``, ``-aug2``)."""

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
"""Question type → ``{bank: phrasings}`` (the second banks are added below); ``X`` is the topic's mention."""

# A 2- or 3-hop question walks to a set of films and asks one thing about them: "who directed [the
# films X acted in]". Its phrasings are composed from the same banks, one part for each: a noun
# phrase for the films reached from X (FILMS, by the question type's steps up to the last film) and
# a question about films F (ASK, by the last step's kind). A held-out phrasing is made of held-out
# parts only, so neither part of it was ever trained on.
FILMS: dict[str, dict[str, tuple[str, ...]]] = {
    "actor_to_movie": {
        "train": ("the films X has acted in", "the movies featuring X", "the films X had a role in"),
        "held_out": ("the movies X appeared in", "the films with X in the cast")},
    "director_to_movie": {
        "train": ("the films X has directed", "the movies made by X", "the films X was director of"),
        "held_out": ("the movies X directed", "the films helmed by X")},
    "writer_to_movie": {
        "train": ("the films X has written", "the movies scripted by X", "the films X was a writer on"),
        "held_out": ("the movies X wrote", "the films whose script X wrote")},
    "movie_to_actor_to_movie": {
        "train": ("the films that share a cast member with X", "the movies in which an actor of X also plays",
                  "the films made with someone from the cast of X"),
        "held_out": ("the movies starring someone who is in X", "the films where a performer from X appears")},
    "movie_to_director_to_movie": {
        "train": ("the films by whoever directed X", "the movies made by the director of X",
                  "the films from the filmmaker behind X"),
        "held_out": ("the movies the director of X has made", "the films directed by the one who directed X")},
    "movie_to_writer_to_movie": {
        "train": ("the films by whoever wrote X", "the movies scripted by the writer of X",
                  "the films from the screenwriter behind X"),
        "held_out": ("the movies the writer of X has written", "the films written by the one who wrote X")},
}
"""The films a question walks to, as a noun phrase: its steps up to the last film → bank → phrases."""

ASK: dict[str, dict[str, tuple[str, ...]]] = {
    "year": {"train": ("in which years did F come out", "when did F premiere", "what years are F from"),
             "held_out": ("when did F come out", "tell me the years F were released")},
    "genre": {"train": ("which genres do F belong to", "how would you classify F", "what kind of films are F"),
              "held_out": ("what genres are F", "tell me the genres of F")},
    "language": {"train": ("in which languages are F", "what language do they speak in F", "what languages are used in F"),
                 "held_out": ("which languages were F made in", "tell me the languages of F")},
    "actor": {"train": ("who plays in F", "name the actors of F", "which actors appear in F"),
              "held_out": ("who can be seen in F", "which performers are in F")},
    "director": {"train": ("who made F", "name the directors of F", "who was behind the camera on F"),
                 "held_out": ("who helmed F", "which filmmakers directed F")},
    "writer": {"train": ("who penned F", "name the writers of F", "which writers are credited on F"),
               "held_out": ("who scripted F", "tell me who wrote F")},
}
"""What a question asks about the films ``F``: the last step's kind → bank → phrasings."""

RETURNS: dict[str, dict[str, tuple[str, ...]]] = {
    "actor_to_movie_to_actor": {
        "train": ("who has shared the screen with X", "name the co-stars of X", "which actors have played alongside X"),
        "held_out": ("who has acted with X", "which performers have worked with X",
                     "tell me who has starred with X")},
    "director_to_movie_to_director": {
        "train": ("who has co-directed a film with X", "name the co-directors of X",
                  "which directors have shared a film with X"),
        "held_out": ("who directed a movie alongside X", "which filmmakers have worked with X as co-director",
                     "tell me who has directed with X")},
    "writer_to_movie_to_writer": {
        "train": ("who has co-written a film with X", "name the co-writers of X", "which writers have shared a script with X"),
        "held_out": ("who wrote a movie alongside X", "which screenwriters have worked with X on a script",
                     "tell me who has written with X")},
    "movie_to_actor_to_movie": {
        "train": ("which other films have cast members of X", "name movies that share a cast member with X",
                  "what else have the actors of X played in"),
        "held_out": ("what else has the cast of X been in", "which movies feature someone from the cast of X",
                     "tell me the other films of the actors of X")},
    "movie_to_director_to_movie": {
        "train": ("which other films did the director of X make", "name movies by whoever directed X",
                  "what else did the director of X direct"),
        "held_out": ("what else has the director of X made", "list the films of the person who directed X",
                     "tell me the other films of the director of X")},
    "movie_to_writer_to_movie": {
        "train": ("which other films did the writer of X write", "name movies by whoever wrote X",
                  "what else did the writer of X write"),
        "held_out": ("what else has the writer of X written", "list the films of the person who wrote X",
                     "tell me the other films of the writer of X")},
}
"""2-hop types that go out along one relation and back (co-stars; films sharing a director), which
a noun phrase for "the films" would say badly: question type → bank → phrasings."""


# A second held-out bank, written as a fresh test after the first one had been read phrase by phrase
# (benchmarks/paraphrase.py lists which held-out phrasings a model loses and why) and before any model
# was trained on the widened training bank below. It shares no phrasing, and no composed part, with
# the other banks; the first held-out bank stays as it was, so the results measured on it stay valid.
_HELD_OUT_2: dict[str, dict[str, tuple[str, ...]]] = {
    # 1-hop, by question type
    "movie_to_actor": ("who acts in X", "what actors does X have", "i want to know who starred in X"),
    "movie_to_director": ("who sat in the director's chair for X", "X was directed by whom",
                          "could you name whoever directed X"),
    "movie_to_writer": ("who did the screenplay for X", "the screenplay of X was written by whom",
                        "name the screenwriter behind X"),
    "movie_to_year": ("what is the release year of X", "when was X made", "in which year was X released"),
    "movie_to_genre": ("X would count as what sort of movie", "X falls into which genre", "name the genre X is in"),
    "movie_to_language": ("X was filmed in which language", "in what tongue is X", "which language is spoken in X"),
    "movie_to_tags": ("what topics does X touch on", "sum up X in a few keywords", "what is X known for"),
    "actor_to_movie": ("where has X acted", "name the pictures X starred in", "which titles include X as an actor"),
    "director_to_movie": ("name the pictures X directed", "which titles did X direct", "X directed what"),
    "writer_to_movie": ("which pictures were scripted by X", "X did the screenplay for which films",
                        "name the titles X wrote"),
    "tag_to_movie": ("i am looking for a film about X", "any films dealing with X", "show me movies about X"),
}
_FILMS_HELD_OUT_2: dict[str, tuple[str, ...]] = {
    "actor_to_movie": ("the pictures X starred in", "the films that had X in them"),
    "director_to_movie": ("the pictures X directed", "the films that list X as director"),
    "writer_to_movie": ("the pictures X wrote", "the films that list X as writer"),
    "movie_to_actor_to_movie": ("the pictures that an actor of X starred in", "the films featuring any actor from X"),
    "movie_to_director_to_movie": ("the pictures by the director of X", "the films from the same director as X"),
    "movie_to_writer_to_movie": ("the pictures by the screenwriter of X", "the films from the same writer as X"),
}
_ASK_HELD_OUT_2: dict[str, tuple[str, ...]] = {
    "year": ("what were the release years of F", "in what years were F released"),
    "genre": ("what sorts of film are F", "which genres do F fall into"),
    "language": ("what languages are spoken in F", "in what languages were F filmed"),
    "actor": ("who starred in F", "which actors were cast in F"),
    "director": ("who directed F", "who was the director of F"),
    "writer": ("who wrote the screenplays for F", "who were the writers of F"),
}
_RETURNS_HELD_OUT_2: dict[str, tuple[str, ...]] = {
    "actor_to_movie_to_actor": ("who starred alongside X", "name actors who have appeared with X",
                                "which actors share a film with X"),
    "director_to_movie_to_director": ("who shared directing duties with X", "name directors who have worked with X",
                                      "which directors share a film with X"),
    "writer_to_movie_to_writer": ("who shared writing duties with X", "name writers who have worked with X",
                                  "which writers share a film with X"),
    "movie_to_actor_to_movie": ("what other pictures have actors from X starred in",
                                "name films with an actor who was also in X", "where else did the actors of X appear"),
    "movie_to_director_to_movie": ("what other pictures did the director of X direct",
                                   "name films by the same director as X", "what else did whoever directed X make"),
    "movie_to_writer_to_movie": ("what other pictures did the writer of X write", "name films by the same writer as X",
                                 "what else did whoever wrote X write"),
}
for _table, _bank in ((PARAPHRASES, _HELD_OUT_2), (FILMS, _FILMS_HELD_OUT_2), (ASK, _ASK_HELD_OUT_2),
                      (RETURNS, _RETURNS_HELD_OUT_2)):
    assert set(_table) == set(_bank), "the second held-out bank covers every entry of its table"
    for _key, _phrases in _bank.items():
        _table[_key]["held_out_2"] = _phrases


# The widened training bank: the first one plus these additions. The per-phrasing breakdown of the
# first held-out bank (benchmarks/results/paraphrase-all-phrasings.md) shows where the mixed-hop model
# loses it: words the first training bank uses in one role only are read in that role wherever they
# stand. "scripted" and "wrote" appear there only in the films reached ("the movies scripted by X"),
# so "who scripted F" is read as films reached from a writer; "made" only as directing ("who made X"),
# so "what else has the director of X made" is read as asking for the director. The additions put
# each relation's verbs (starred / cast / performer, directed / made / helmed, wrote / scripted) both in
# the films reached and in what is asked about them, and ask for co-workers and for the other films of
# a film's director or writer in more frames. None repeats a phrasing or part of either held-out bank.
_FILMS_TRAIN_2: dict[str, tuple[str, ...]] = {
    "actor_to_movie": ("the films starring X", "the movies X was cast in", "the films X performed in"),
    "director_to_movie": ("the films X made", "the movies helmed by X", "the films directed by X"),
    "writer_to_movie": ("the films X scripted", "the movies written by X", "the films X wrote the script for"),
    "movie_to_actor_to_movie": ("the films starring a performer from X",
                                "the movies with someone from the cast of X", "the films an actor in X was cast in"),
    "movie_to_director_to_movie": ("the films made by the person who directed X",
                                   "the movies helmed by the director of X", "the films the director of X made"),
    "movie_to_writer_to_movie": ("the films written by the person who wrote X",
                                 "the films scripted by the screenwriter of X", "the films the writer of X wrote"),
}
_ASK_TRAIN_2: dict[str, tuple[str, ...]] = {
    "year": ("what year were F released", "when were F made"),
    "genre": ("what genre are F", "which genres describe F"),
    "language": ("what language are F in", "which languages are F in"),
    "actor": ("who is in the cast of F", "which performers appear in F", "who has a role in F"),
    "director": ("which directors helmed F", "which directors were behind F", "which filmmakers made F"),
    "writer": ("who wrote F", "which writers scripted F", "who did the script for F"),
}
_RETURNS_TRAIN_2: dict[str, tuple[str, ...]] = {
    "actor_to_movie_to_actor": ("who has been cast with X", "which performers have acted with X",
                                "name the actors who worked with X"),
    "director_to_movie_to_director": ("who has directed a film together with X", "which filmmakers have co-directed with X",
                                      "name the directors who directed with X"),
    "writer_to_movie_to_writer": ("who has written a film together with X", "which screenwriters have co-written with X",
                                  "name the writers who wrote with X"),
    "movie_to_actor_to_movie": ("what other films has the cast of X played in", "list the movies of the actors of X",
                                "which films star someone who is in X"),
    "movie_to_director_to_movie": ("what else has the director of X directed",
                                   "list the movies of the person who directed X",
                                   "which other films has the director of X made"),
    "movie_to_writer_to_movie": ("what else has the writer of X scripted", "list the movies of the person who wrote X",
                                 "which other films has the writer of X written"),
}
for _table, _bank in ((FILMS, _FILMS_TRAIN_2), (ASK, _ASK_TRAIN_2), (RETURNS, _RETURNS_TRAIN_2)):
    for _key, _phrases in _bank.items():
        _table[_key]["train_2"] = _phrases


def _parts(entry: dict[str, tuple[str, ...]], bank: Bank) -> tuple[str, ...]:
    """One table entry's phrasings in ``bank``: the widened training bank is the first one plus its additions."""
    if bank == "train_2":
        return entry["train"] + entry.get("train_2", ())
    return entry[bank]


def phrasings(qtype: str, bank: Bank) -> tuple[str, ...]:
    """The phrasings of ``bank`` for a MetaQA question type (``X`` marks the topic's mention); none
    for a type this module does not rephrase (the rare rating and votes questions)."""
    if bank not in BANKS:
        raise ValueError(f"bank must be one of {', '.join(BANKS)}; got {bank!r}")
    if qtype in PARAPHRASES:
        return _parts(PARAPHRASES[qtype], bank)
    if qtype in RETURNS:
        return _parts(RETURNS[qtype], bank)
    films, _, last = qtype.rpartition("_to_")
    if films in FILMS and last in ASK:
        return tuple(ask.replace("F", f) for ask in _parts(ASK[last], bank) for f in _parts(FILMS[films], bank))
    return ()


def paraphrase(examples: Sequence[QAExample], bank: Bank, seed: int = 0) -> list[QAExample]:
    """``examples`` (MetaQA, one topic with a located mention) rephrased with a seeded choice
    from ``bank`` (:func:`phrasings`); a question whose type has none keeps its words. Topics,
    answers, type and gold path are unchanged; the mention keeps its surface text and its new span."""
    if bank not in BANKS:
        raise ValueError(f"bank must be one of {', '.join(BANKS)}; got {bank!r}")
    rng = random.Random(seed)
    out = []
    for ex in examples:
        options = phrasings(ex.qtype or "", bank)
        if not options or len(ex.mentions) != 1 or ex.mentions[0][0] < 0:
            out.append(ex)
            continue
        a, b = ex.mentions[0]
        mention = ex.question[a:b]
        before, _, after = rng.choice(options).partition("X")
        out.append(replace(ex, question=before + mention + after, mentions=((len(before), len(before) + len(mention)),),
                           source=f"{ex.source} ({bank} paraphrase)"))
    return out


def load_metaqa_paraphrased(root: str | os.PathLike, hops: int | Literal["all"] = 1, *, augment: float = 0.0,
                            seed: int = 0, holdout: float = 0.1, bank: Bank = "held_out") -> QADataset:
    """MetaQA ``hops`` (1, 2, 3 or ``"all"``; dev-trained) whose test questions are asked in held-out phrasings.

    Train and dev are those of ``metaqa-{hops}hop`` / ``metaqa-all`` (same seed), so a model of that
    dataset can be evaluated on this test split as it is. ``bank``: the held-out bank of the test,
    ``"held_out"`` (``-para``, ``-aug``) or ``"held_out_2"`` (``-para2``, ``-aug2``). ``augment``
    (0..1): that share of the training questions, seeded, is added again rephrased with the training
    bank that goes with it (:data:`TRAIN_BANKS`).
    """
    if not 0.0 <= augment <= 1.0:
        raise ValueError(f"augment must be a share between 0 and 1, got {augment!r}")
    if bank not in TRAIN_BANKS:
        raise ValueError(f"bank must be a held-out bank, one of {', '.join(TRAIN_BANKS)}; got {bank!r}")
    base = load_metaqa(root, hops, holdout=holdout, seed=seed)
    test = paraphrase(base.test, bank, seed)
    train = list(base.train)
    if augment:
        picked = random.Random(seed + 1).sample(range(len(train)), round(augment * len(train)))
        train += paraphrase([train[i] for i in sorted(picked)], TRAIN_BANKS[bank], seed)
    name = f"{base.name}-{'aug' if augment else 'para'}{BANK_SUFFIX[bank]}"
    notes = (base.notes + f" Test: qa_test.txt asked in the phrasings of the held-out bank {bank!r}, which no "
             f"MetaQA template and no training phrasing uses (kgqa.datasets.paraphrases, seed {seed}); topics and "
             f"answers unchanged."
             + (f" Train: plus {augment:.0%} of its questions again in the phrasings of the training bank "
                f"{TRAIN_BANKS[bank]!r}." if augment else ""))
    return QADataset(name, base.kg, train, base.dev, test, notes)
