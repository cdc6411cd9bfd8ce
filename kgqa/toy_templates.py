"""The toy world's generated questions: templates per relation path, with held-out phrasings.

The hand-written toy questions (``toy_questions.tsv``) are few — one or two per relation path —
too few for a model to learn that "Who penned ...", "Who wrote the screenplay of ..." and "Which
writers worked on ..." ask the same thing. This module states, for every question *type* (a
relation path from one topic, or two paths whose ends intersect, and the kind of entity the
topic is), several phrasings; :func:`generate_questions` fills them with every topic the
graph allows and computes each answer by symbolic traversal.

**Held-out phrasings.** A template written with a leading ``~`` is a *test* phrasing: it never
appears in the training split, so the test measures whether a model understood the question or
memorised its wording. The book's three seed questions are test phrasings of this kind.

**Mentions.** A topic is spelled by its name or one of its aliases ("Attack of the Clones",
"Episode II", "the Louvre", "Hanks"), sometimes in lower case, in varied positions. A name shared
by several entities ("Tom Hanks") is written bare only where the question's relations fit one of
them alone ("What films did Tom Hanks star in?" — only the actor starred in films); elsewhere
the question says which one is meant ("the seismologist Tom Hanks").

:mod:`kgqa.toy_generate` fills the templates; ``python -m kgqa.toy_generate`` rewrites
``kgqa/data/toy_generated.tsv``, and a test checks that the committed file is what it writes.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["TEMPLATES", "DESCRIPTIONS", "THE", "THE_ALIASES", "held_out_phrasing", "phrasing_pattern"]

# (program, topic entity types separated by ";" or "" for any) -> phrasings; "~" marks a held-out
# (test) phrasing. {A} is the first topic, {B} the second.
TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    # ---------------------------------------------------------------- art
    ("exhibited_at", "artwork"): (
        "Where is {A} exhibited?", "Which museum has {A}?", "In which museum is {A} displayed?",
        "Where can I see {A}?", "{A} hangs in which museum?", "What museum holds {A}?", "Which museum keeps {A}?",
        "~Where is {A} on display?", "~In which museum can I see {A}?"),
    ("exhibited_at^-1", "museum"): (
        "Which artworks are exhibited at {A}?", "What can you see at {A}?", "What does {A} have on display?",
        "Which paintings hang in {A}?", "{A} exhibits which works?", "Which works of art are shown at {A}?",
        "~What art is in the collection of {A}?", "~Which works of art does {A} exhibit?"),
    ("created", "person"): (
        "What did {A} create?", "Which painting is {A} known for?", "What did {A} paint?",
        "Which works of art are by {A}?", "{A} made which artwork?",
        "~Name a work by {A}.", "~What artwork did {A} produce?"),
    ("created^-1", "artwork"): (
        "Who painted {A}?", "Who created {A}?", "Who is the artist behind {A}?", "Who made {A}?",
        "{A} is the work of which artist?", "~Which artist produced {A}?", "~Whose work is {A}?"),
    ("exhibited_at>located_in", "artwork"): (
        "In which city can you see {A}?", "In which city is {A} exhibited?", "Which city has {A}?",
        "Where in the world is {A} displayed, which city?", "{A} is on display in which city?",
        "In what city is the museum holding {A}?", "In which city is {A} kept?",
        "~What city is {A} in?", "~Which city would I travel to to see {A}?"),
    ("exhibited_at>located_in>located_in", "artwork"): (
        "In which country can you see {A}?", "Which country is {A} exhibited in?",
        "What country has {A} on display?", "{A} is displayed in which country?",
        "~Which country would I visit to see {A}?", "~In which nation is {A} kept?"),
    ("created^-1>born_in", "artwork"): (
        "Where was the painter of {A} born?", "What is the birthplace of the artist who made {A}?",
        "In which city was the creator of {A} born?", "The artist of {A} was born where?",
        "What is the birthplace of whoever painted {A}?",
        "~Where does the artist behind {A} come from?", "~What is the home town of whoever painted {A}?"),
    ("created^-1>born_in>located_in", "artwork"): (
        "In which country was the painter of {A} born?", "What country was the artist of {A} born in?",
        "The creator of {A} was born in which country?",
        "~What is the native country of the artist who made {A}?"),
    ("created>exhibited_at", "person"): (
        "Where are the works of {A} exhibited?", "Which museum shows paintings by {A}?",
        "In which museum can you see art by {A}?", "~Where would I go to see a painting of {A}?"),
    ("exhibited_at^-1>created^-1", "museum"): (
        "Which artists have works at {A}?", "Whose paintings hang in {A}?",
        "Which painters are exhibited at {A}?", "Who created the art on display at {A}?",
        "~Who made the artworks on display at {A}?"),
    ("located_in^-1>exhibited_at^-1", "city"): (
        "What artworks can be seen in {A}?", "Which paintings are on display in {A}?",
        "What art is exhibited in the museums of {A}?", "On a trip to {A}, which paintings could I see?",
        "~Which famous works could I see in {A}?"),
    # ---------------------------------------------------------------- places
    ("located_in", "museum"): (
        "Which city is {A} in?", "Where is {A} located?", "In which city is {A}?",
        "{A} is located in which city?", "In what town is {A}?", "~What city is {A} located in?", "~Where would I find {A}?"),
    ("located_in", "city"): (
        "What country is {A} in?", "Which country is {A} located in?", "{A} is a city in which country?",
        "In which country is {A}?", "~{A} belongs to which nation?", "~Which nation is {A} part of?"),
    ("located_in>located_in", "museum"): (
        "In which country is {A}?", "Which country is {A} located in?", "{A} is in which country?",
        "In which nation is {A}?", "~What country is {A} located in?"),
    ("located_in^-1", "city"): (
        "Which museums are in {A}?", "What museum is located in {A}?", "Name the museums of {A}.",
        "~Which galleries does {A} have?"),
    ("located_in^-1", "country"): (
        "Which cities are in {A}?", "What cities does {A} have?", "Name a city in {A}.",
        "~Which towns are located in {A}?"),
    ("capital_of", "city"): (
        "{A} is the capital of which country?", "Of which country is {A} the capital?",
        "Which country has {A} as its capital?", "~Which nation's capital is {A}?"),
    ("capital_of^-1", "country"): (
        "What is the capital of {A}?", "Which city is the capital of {A}?", "Name the capital of {A}.",
        "~What is {A}'s capital city?", "~Where is the seat of government of {A}?"),
    ("located_in>located_in>capital_of^-1", "museum"): (
        "What is the capital of the country where {A} is?", "Which city is the capital of the country of {A}?",
        "Name the capital of the nation that {A} is in.", "~What is the capital city of the country {A} is in?"),
    # ---------------------------------------------------------------- films
    ("directed_by", "film"): (
        "Who directed {A}?", "Who was the director of {A}?", "{A} was directed by whom?",
        "Who is the director of {A}?", "Which director made {A}?",
        "~Who was behind the camera for {A}?", "~Whose direction was {A} made under?"),
    ("directed_by^-1", "person"): (
        "Which films did {A} direct?", "What movies were directed by {A}?", "{A} directed which films?",
        "Name a film directed by {A}.", "~What has {A} directed?", "~Which pictures did {A} make as director?"),
    ("written_by", "film"): (
        "Who wrote {A}?", "Who wrote the screenplay for {A}?", "Who is the screenwriter of {A}?",
        "{A} was written by whom?", "Which writers worked on {A}?",
        "~Who penned {A}?", "~Whose script is {A} based on?"),
    ("written_by^-1", "person"): (
        "Which films did {A} write?", "What movies were written by {A}?", "{A} wrote which films?",
        "Which screenplays is {A} credited for?", "~What did {A} write for the screen?",
        "~Name a film scripted by {A}."),
    ("starred_in", "person"): (
        "What films did {A} star in?", "Which movies feature {A}?", "Which films has {A} acted in?",
        "{A} starred in which movies?", "What movies did {A} appear in?", "Name the films with {A}.",
        "~In which films can you see {A} act?", "~What are the movies of {A}?"),
    ("starred_in^-1", "film"): (
        "Who starred in {A}?", "Who acted in {A}?", "Which actors are in {A}?", "Who was in the cast of {A}?",
        "{A} starred which actors?", "Who were the stars of {A}?", "Which performers starred in {A}?", "~Who are the actors of {A}?", "~Which performers appeared in {A}?"),
    ("played", "person"): (
        "Who did {A} play?", "Which characters did {A} play?", "What roles has {A} played?",
        "{A} played which characters?", "~Which parts did {A} perform?", "~What characters has {A} portrayed?"),
    ("played^-1", "character"): (
        "Who played {A}?", "Which actor played {A}?", "Who portrayed {A}?", "{A} was played by whom?",
        "~Who was cast as {A}?", "~Which actor took the role of {A}?"),
    ("appears_in", "character"): (
        "In which films does {A} appear?", "Which movies feature the character {A}?",
        "{A} appears in which films?", "What films is {A} in?",
        "~In what movies can {A} be seen?", "~Which films have {A} as a character?"),
    ("appears_in^-1", "film"): (
        "Which characters appear in {A}?", "Who are the characters of {A}?", "What characters are in {A}?",
        "{A} has which characters?", "~Which roles are written into {A}?", "~Name the characters of {A}."),
    ("release_year", "film"): (
        "When was {A} released?", "In which year did {A} come out?", "What year is {A} from?",
        "{A} was released in which year?", "When did {A} hit theaters?", "~When did {A} premiere?",
        "~In what year did {A} hit cinemas?"),
    ("release_year^-1", "year"): (
        "What movies were released in {A}?", "Which films came out in {A}?", "Name a film from {A}.",
        "Which movies premiered in {A}?", "~What films were made in {A}?", "~Which {A} films are there?"),
    ("has_genre", "film"): (
        "What kind of film is {A}?", "What genre is {A}?", "Which genres does {A} belong to?",
        "{A} is what type of movie?", "~How would you classify {A}?", "~What sort of movie is {A}?"),
    ("has_genre^-1", "genre"): (
        "Which films are {A} films?", "Name a {A} movie.", "What movies have the genre {A}?",
        "Which films belong to {A}?", "~Which movies are examples of {A}?", "~List {A} films."),
    ("starred_in>written_by", "person"): (
        "Which screenwriters wrote films with {A}?", "Who wrote the movies that {A} starred in?",
        "Who are the writers of films featuring {A}?", "Which writers wrote for {A}?",
        "The films of {A} were written by whom?", "Who scripted the films of {A}?",
        "~Who wrote films starring {A}?", "~Who wrote the screenplays of films with {A}?"),
    ("starred_in>directed_by", "person"): (
        "Which directors has {A} worked with?", "Who directed the films {A} starred in?",
        "Who directed movies featuring {A}?", "The films of {A} were directed by whom?",
        "~Which filmmakers have directed {A}?", "~Who directed films starring {A}?"),
    ("starred_in>release_year", "person"): (
        "When were the movies starring {A} released?", "In which years were films with {A} released?",
        "What years did films featuring {A} come out?", "~When did the films of {A} premiere?"),
    ("starred_in>has_genre", "person"): (
        "What genres has {A} acted in?", "Which kinds of films has {A} starred in?",
        "What genres are the movies of {A}?", "~What type of movies does {A} make?"),
    ("starred_in^-1>starred_in", "film"): (
        "Which films have the actors of {A} starred in?", "What other movies did the cast of {A} appear in?",
        "Which films share actors with {A}?", "In which other films did the stars of {A} act?",
        "~What else have the actors of {A} starred in?"),
    ("directed_by>born_in", "film"): (
        "Where was the director of {A} born?", "What is the birthplace of the director of {A}?",
        "In which city was the director of {A} born?", "~Where does the man who directed {A} come from?"),
    ("directed_by>born_in>located_in", "film"): (
        "In which country was the director of {A} born?", "What country is the director of {A} from?",
        "The director of {A} was born in which country?", "What is the native country of whoever directed {A}?",
        "~What country was the director of {A} born in?"),
    ("directed_by^-1>starred_in^-1", "person"): (
        "Which actors starred in films directed by {A}?", "Who acted in the movies of {A}?",
        "Which actors has {A} directed?", "Who appears in the films of the director {A}?",
        "~Who acted in films directed by {A}?"),
    ("directed_by^-1>written_by", "person"): (
        "Who wrote the films directed by {A}?", "Which writers worked on the movies of {A}?",
        "Who scripted the movies directed by {A}?", "~Who wrote the screenplays of the films {A} directed?"),
    ("directed_by>directed_by^-1", "film"): (
        "Which films were directed by the director of {A}?", "What else did the director of {A} direct?",
        "Which movies share a director with {A}?", "Which films did the maker of {A} direct?",
        "~What other films did whoever made {A} direct?"),
    ("directed_by>directed_by^-1>written_by", "film"): (
        "Which writers worked on films by the director of {A}?",
        "Who wrote the movies directed by the director of {A}?",
        "Who scripted the films of whoever directed {A}?", "~Who wrote the films of the director of {A}?"),
    ("release_year>release_year^-1", "film"): (
        "What films came out the same year as {A}?", "Which movies were released in the same year as {A}?",
        "What else was released the year {A} came out?", "~Which films premiered in {A}'s year?"),
    ("played^-1>starred_in", "character"): (
        "Which films has the actor who played {A} starred in?", "What movies did the actor playing {A} act in?",
        "In which films did the performer of {A} appear?", "What else has the actor who played {A} acted in?",
        "~Which movies did the actor of {A} star in?"),
    ("played>appears_in", "person"): (
        "In which films does the character played by {A} appear?",
        "Which movies feature characters played by {A}?", "In which films do the roles of {A} appear?",
        "~What films are the characters of {A} in?"),
    ("played^-1>starred_in>release_year", "character"): (
        "When were the films featuring the actor who played {A} released?",
        "In which years did the movies of the actor playing {A} come out?",
        "When did the films of the performer of {A} premiere?", "~When were the movies of the actor who played {A} released?"),
    ("played^-1>starred_in>has_genre", "character"): (
        "What genres has the actor who played {A} worked in?",
        "Which kinds of film has the actor playing {A} starred in?",
        "What type of movies does the performer of {A} make?", "~What genres are the films of the actor who played {A}?"),
    ("starred_in>directed_by>born_in", "person"): (
        "Where were the directors of films starring {A} born?", "Where were the directors of {A}'s films born?",
        "What are the birthplaces of the people who directed {A}?", "~In which cities were the directors of {A}'s movies born?"),
    ("release_year^-1>appears_in^-1>played^-1", "year"): (
        "Which actors have played characters appearing in films released in {A}?",
        "Who played the characters of the {A} films?", "Who portrayed the characters of films from {A}?",
        "~Which actors portrayed characters in movies from {A}?"),
    # ---------------------------------------------------------------- people
    ("born_in", "person"): (
        "Where was {A} born?", "What is the birthplace of {A}?", "In which city was {A} born?",
        "{A} was born in which city?", "What is the home town of {A}?", "~Where does {A} come from?",
        "~In what city was {A} born?"),
    ("born_in^-1", "city"): (
        "Who was born in {A}?", "Which people were born in {A}?", "Name someone born in {A}.",
        "~Who is a native of {A}?", "~Which famous people come from {A}?"),
    ("born_in>located_in", "person"): (
        "Which country was {A} born in?", "In what country was {A} born?", "{A} was born in which country?",
        "Which nation is {A} from by birth?", "~What is the native country of {A}?",
        "~In which country was {A} born?"),
    ("citizen_of", "person"): (
        "What is the nationality of {A}?", "Which country is {A} a citizen of?", "What citizenship does {A} hold?",
        "{A} is a citizen of which country?", "~Which passport does {A} carry?", "~What nation is {A} a national of?"),
    ("citizen_of^-1", "country"): (
        "Who is a citizen of {A}?", "Which people hold the citizenship of {A}?", "Name a citizen of {A}.",
        "~Who has {A} nationality?"),
    ("works_at", "person"): (
        "Where does {A} work?", "Which organisation employs {A}?", "Who is the employer of {A}?",
        "{A} works at which institution?", "At which university is {A} employed?", "~Where is {A} employed?",
        "~At which university does {A} work?"),
    ("works_at>located_in", "person"): (
        "Which city does {A} work in?", "In which city is the employer of {A}?",
        "In what city is the workplace of {A}?", "~In what city is {A}'s workplace?"),
    ("works_at>located_in>located_in", "person"): (
        "In which country does {A} work?", "What country is the employer of {A} in?",
        "In which nation does {A} work?", "~In which country is {A}'s workplace?"),
    ("field", "person"): (
        "What field does {A} study?", "What is the research field of {A}?", "What does {A} research?",
        "Which discipline does {A} work in?", "~What subject does {A} research?", "~What is {A} an expert in?"),
    ("wrote", "person"): (
        "What books did {A} write?", "Which books has {A} written?", "What is {A} the author of?",
        "~Name a book by {A}.", "~What has {A} published?"),
    ("wrote^-1", "book"): (
        "Who wrote {A}?", "Who is the author of {A}?", "{A} was written by whom?",
        "~Whose book is {A}?", "~Who penned {A}?"),
    ("wrote^-1>works_at", "book"): (
        "Where does the author of {A} work?", "Which university employs the writer of {A}?",
        "~Where is the author of {A} employed?"),
    # ---------------------------------------------------------------- two topics: intersections
    ("played;appears_in^-1", "person;film"): (
        "Which character did {A} play in {B}?", "What role did {A} have in {B}?", "Who was {A} in {B}?",
        "In {B}, who did {A} play?", "What part did {A} play in {B}?",
        "~Who did {A} play in {B}?", "~Whom did {A} portray in {B}?"),
    ("played^-1;starred_in^-1", "character;film"): (
        "Who played {A} in {B}?", "Which actor played {A} in {B}?", "In {B}, who played {A}?",
        "Who portrayed {A} in {B}?", "~Who was cast as {A} in {B}?", "~Which actor took the role of {A} in {B}?"),
    ("starred_in;has_genre^-1", "person;genre"): (
        "Which {B} films did {A} star in?", "What {B} movies feature {A}?", "Which films with {A} are {B} films?",
        "~Name a {B} movie starring {A}.", "~In which {B} films has {A} acted?"),
    ("starred_in;release_year^-1", "person;year"): (
        "Which films starring {A} were released in {B}?", "What movie with {A} came out in {B}?",
        "In {B}, which films featuring {A} were released?", "~Which of {A}'s films came out in {B}?",
        "~What did {A} act in in {B}?"),
    ("directed_by^-1;starred_in", "person;person"): (
        "Which films directed by {A} star {B}?", "What movies did {A} direct with {B} in the cast?",
        "Which {A} films did {B} star in?", "~In which films did {B} act for {A}?"),
    ("starred_in;starred_in", "person;person"): (
        "Which films star both {A} and {B}?", "In which movies do {A} and {B} appear together?",
        "What films feature {A} and {B}?", "~Which movies did {A} make with {B}?"),
    ("appears_in^-1;appears_in^-1", "film;film"): (
        "Which characters appear in both {A} and {B}?", "Who is a character in {A} and in {B}?",
        "What characters do {A} and {B} share?", "~Which characters are in {A} as well as {B}?"),
    ("starred_in;written_by^-1", "person;person"): (
        "Which films starring {A} were written by {B}?", "What movies with {A} did {B} write?",
        "~Which films written by {B} feature {A}?"),
    ("starred_in>directed_by;born_in^-1", "person;city"): (
        "Which director of a {A} film was born in {B}?", "Who directed {A} and was born in {B}?", "Which director of {A} comes from {B}?",
        "~Which of {A}'s directors comes from {B}?"),
}

# how a question may say which of several same-named entities it means
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "tom_hanks_actor": ("the actor {n}", "{n} the actor", "actor {n}", "the film star {n}"),
    "tom_hanks_seismologist": ("the seismologist {n}", "{n} the seismologist", "seismologist {n}",
                               "the earthquake scientist {n}"),
    "tom_hanks_theologian": ("the theologian {n}", "{n} the theologian", "theologian {n}",
                             "the theology professor {n}"),
}

# entities that read with "the" in running text ("at the Louvre", "in the Netherlands"): their name
# and these aliases get it
THE = {"mona_lisa", "venus_de_milo", "louvre_museum", "museum_of_modern_art", "mauritshuis",
       "university_of_washington", "university_of_oxford", "united_states", "united_kingdom", "netherlands"}
THE_ALIASES = {"Louvre", "UK", "USA", "United States of America"}


def phrasing_pattern(template: str) -> re.Pattern[str]:
    """The questions ``template`` phrases, whatever its entities (a leading ``~`` ignored; any case)."""
    return re.compile(re.escape(template.lstrip("~")).replace(r"\{A\}", ".+").replace(r"\{B\}", ".+"),
                      re.IGNORECASE)


@lru_cache(maxsize=1)
def _held_out_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(phrasing_pattern(t) for templates in TEMPLATES.values() for t in templates if t.startswith("~"))


def held_out_phrasing(question: str) -> bool:
    """Whether ``question`` is phrased by one of the held-out (test) templates, whatever its entities:
    "Who did Ewan McGregor play in Trainspotting?" is, like the seed question it shares its phrasing with."""
    return any(p.fullmatch(question) for p in _held_out_patterns())
