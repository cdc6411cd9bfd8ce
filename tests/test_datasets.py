"""QA loaders: hand-counted facts of the real files, and hand-made files for every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgqa.datasets import (
    DATASETS,
    DataWarning,
    QAExample,
    QADataset,
    load_dataset,
    load_metaqa,
    load_pathquestion,
    load_questions,
    load_toy,
    load_user,
    load_worldcup,
    metaqa_path,
    split_examples,
)
from kgqa.errors import (
    AmbiguousEntityError,
    KGFormatError,
    KGQAError,
    MissingDataError,
    QAFormatError,
    UnknownDatasetError,
    UnknownEntityError,
)
from kgqa.kg import KnowledgeGraph
from kgqa.traverse import walk_path, path_ceiling


def raw_lines(path: Path) -> list[str]:
    """Lines of a file, read without the package (the independent count)."""
    return path.read_text(encoding="utf-8").splitlines()


def line_of(ex: QAExample) -> int:
    return int(ex.source.rsplit(":", 1)[1])


def check_mentions(ds: QADataset, *, by_id: bool) -> None:
    """Every located mention spells its topic (the id with spaces for underscores, or a name)."""
    for ex in ds.train + ds.dev + ds.test:
        assert len(ex.mentions) == len(ex.topics)
        for t, (a, b) in zip(ex.topics, ex.mentions):
            if by_id:
                assert ex.question[a:b] == t, ex.source


# ---------------------------------------------------------------------------- real data: MetaQA
@pytest.fixture(scope="module")
def mq1(data_root: Path) -> QADataset:
    return load_metaqa(data_root, 1)


def test_metaqa_1hop_counts_and_first_question(mq1: QADataset, data_root: Path) -> None:
    dev_file, test_file = data_root / "metaqa/1-hop/qa_dev.txt", data_root / "metaqa/1-hop/qa_test.txt"
    assert len(raw_lines(dev_file)) == 9_992 and len(raw_lines(test_file)) == 9_947
    assert len(mq1.train) + len(mq1.dev) == 9_992 and len(mq1.test) == 9_947
    assert (len(mq1.train), len(mq1.dev)) == (8_993, 999)  # 10% of the dev file held out
    assert {ex.source for ex in mq1.train}.isdisjoint(ex.source for ex in mq1.dev)
    first = next(ex for ex in mq1.train + mq1.dev if ex.source.endswith("qa_dev.txt:1"))
    assert first.question == "what movies did Temuera Morrison act in"
    assert first.topics == ("Temuera Morrison",)
    a, b = first.mentions[0]
    assert first.question[a:b] == "Temuera Morrison"
    assert set(first.answers) == {"Once Were Warriors", "Tracker", "River Queen"}
    assert first.qtype == "actor_to_movie" and first.hops == 1
    assert "dev-trained" in mq1.notes and "97.2%" in mq1.notes and "seed 0" in mq1.notes


def test_metaqa_qtypes_aligned_with_question_lines(mq1: QADataset, data_root: Path) -> None:
    for split, exs in (("dev", mq1.train + mq1.dev), ("test", mq1.test)):
        qtypes = raw_lines(data_root / f"metaqa/1-hop/qa_{split}_qtype.txt")
        questions = raw_lines(data_root / f"metaqa/1-hop/qa_{split}.txt")
        assert len(qtypes) == len(questions) == len(exs)
        for ex in exs:
            n = line_of(ex)
            assert ex.qtype == qtypes[n - 1]
            assert ex.question == questions[n - 1].split("\t")[0].replace("[", "").replace("]", "")
            assert ex.qtype.count("_to_") == 1


def test_metaqa_topics_and_answers_in_vocabulary(mq1: QADataset) -> None:
    check_mentions(mq1, by_id=True)  # MetaQA names are ids
    every = mq1.train + mq1.dev + mq1.test
    assert all(mq1.kg.has_entity(t) for ex in every for t in ex.topics)
    stats = mq1.stats()
    assert stats["test"].all_in_vocab == 1.0  # entities.txt lists every MetaQA entity
    assert 0.99 < stats["test"].all_connected < 1.0  # but kb_partial.txt misses some facts
    assert "metaqa-1hop" in repr(mq1) and "9,947" in repr(mq1)


def test_real_splits_are_deterministic(data_root: Path) -> None:
    first, again = load_pathquestion(data_root, "2H"), load_pathquestion(data_root, "2H", seed=0)
    assert (first.train, first.dev, first.test) == (again.train, again.dev, again.test)
    other = load_pathquestion(data_root, "2H", seed=1)
    assert other.test != first.test and len(other.test) == len(first.test)
    assert sorted(ex.source for ex in other.train + other.dev + other.test) == \
        sorted(ex.source for ex in first.train + first.dev + first.test)


@pytest.mark.parametrize("hops,n_dev,n_test", [(2, 14_872, 14_872), (3, 14_274, 14_274)])
def test_metaqa_multi_hop_counts(data_root: Path, hops: int, n_dev: int, n_test: int) -> None:
    ds = load_dataset(f"metaqa-{hops}hop", data_root)
    assert len(ds.train) + len(ds.dev) == n_dev == len(raw_lines(data_root / f"metaqa/{hops}-hop/qa_dev.txt"))
    assert len(ds.test) == n_test
    assert all(ex.hops == hops and ex.qtype.count("_to_") == hops for ex in ds.test)
    assert all(t not in ex.answers for ex in ds.test for t in ex.topics)  # README: topic excluded


def test_metaqa_all_is_the_three_hop_sets_split_alike(data_root: Path) -> None:
    every = load_dataset("metaqa-all", data_root)
    per_hop = [load_dataset(f"metaqa-{k}hop", data_root) for k in (1, 2, 3)]
    for split in ("train", "dev", "test"):
        assert getattr(every, split) == [ex for ds in per_hop for ex in getattr(ds, split)]
    assert {ex.hops for ex in every.test} == {1, 2, 3} and len(every.test) == 9_947 + 14_872 + 14_274
    assert every.kg.fingerprint() == per_hop[0].kg.fingerprint() and "1-, 2- and 3-hop" in every.notes
    with pytest.raises(ValueError, match="'all' for the three"):
        load_metaqa(data_root, 4)


def test_metaqa_gold_paths_reach_the_data_readmes_ceiling(mq1: QADataset) -> None:
    """The question types' relation paths, run symbolically on kb_partial.txt, reach a gold answer
    for 97.2% of the 1-hop test questions: the ceiling the data README states."""
    assert mq1.test[0].paths == (metaqa_path(mq1.test[0].qtype),)
    ceiling = path_ceiling(mq1.kg, mq1.test, exclude_topics=True)
    assert round(ceiling["reachable"], 1) == 97.2
    assert 90 < ceiling["set_oracle"] < ceiling["reachable"]  # same-title films tie


def test_metaqa_path_from_question_type() -> None:
    assert metaqa_path("movie_to_director") == ("directed_by",)
    assert metaqa_path("tag_to_movie") == ("has_tags^-1",)
    assert metaqa_path("movie_to_actor_to_movie_to_language") == ("starred_actors", "starred_actors^-1", "in_language")
    with pytest.raises(QAFormatError, match=r"qa_test.txt:7: unknown MetaQA question type 'movie_to_budget'"):
        metaqa_path("movie_to_budget", where="metaqa/1-hop/qa_test.txt:7")
    with pytest.raises(QAFormatError, match="actor_to_director"):
        metaqa_path("actor_to_director")


# ---------------------------------------------------------------------------- real data: PQ and WC
@pytest.mark.parametrize("name,n", [("pq-2h", 1_908), ("pq-3h", 5_198)])
def test_pathquestion_counts_split_and_gold_paths(data_root: Path, name: str, n: int) -> None:
    ds = load_dataset(name, data_root)
    assert len(raw_lines(data_root / f"pathquestion/PQ-{name[-2:].upper()}.txt")) == n
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (round(0.8 * n), round(0.1 * n), n - round(0.8 * n) - round(0.1 * n))
    check_mentions(ds, by_id=True)
    unreached = [ex.source for ex in ds.train + ds.dev + ds.test
                 if {ds.kg.entity_index(a) for a in ex.answers} != walk_path(ds.kg, ex.topics, ex.paths[0])]
    assert unreached == []  # every gold path leads exactly to the answer set
    assert ds.stats()["test"].paths_exact == 1.0
    assert "seed 0" in ds.notes


def test_pathquestion_answer_alternatives(data_root: Path) -> None:
    ds = load_pathquestion(data_root, "3H")
    first = next(ex for ex in ds.train + ds.dev + ds.test if ex.source.endswith("PQ-3H.txt:1"))
    assert first.topics == ("sylvia_brett",) and first.answers == ("burnham-on-sea",)
    assert first.paths == (("spouse", "parents", "place_of_birth"),) and first.hops == 3
    assert max(len(ex.answers) for ex in ds.test + ds.train) == 5


def test_worldcup_conjunctive_is_intersection_of_two_lookups(data_root: Path) -> None:
    ds = load_dataset("wc-c", data_root)
    lines = raw_lines(data_root / "wc2014/WC-C.txt")
    every = ds.train + ds.dev + ds.test
    assert len(lines) == len(every) == 2_208
    for ex in every:
        topics = lines[line_of(ex) - 1].split("\t")[-1].strip("/").split("/")
        assert ex.topics == tuple(topics) and len(topics) == 2
        reached = [walk_path(ds.kg, [t], p) for t, p in zip(ex.topics, ex.paths)]
        assert {ds.kg.entity_index(a) for a in ex.answers} == reached[0] & reached[1], ex.source
    check_mentions(ds, by_id=True)
    assert all(ex.qtype == "conjunctive" and ex.hops == 1 for ex in every)


def test_worldcup_files_kg_and_mix(data_root: Path) -> None:
    kg = KnowledgeGraph.load(data_root / "wc2014/kb.txt", add_inverses=False)
    assert not kg.has_relation("is_aged_inverse") and not kg.has_relation("wears_number_inverse")
    counts = {p: len(raw_lines(data_root / f"wc2014/WC-{p}.txt")) for p in ("P1", "P2", "C")}
    assert counts == {"P1": 6_482, "P2": 1_472, "C": 2_208}
    ds = load_worldcup(data_root, "P1+P2+C")
    assert ds.name == "wc-all" and len(ds) == sum(counts.values())
    # the file's r_inverse relations are the book's r^-1, in the graph and in the gold paths; none is added
    assert ds.kg.relations == [r[: -len("_inverse")] + "^-1" if r.endswith("_inverse") else r for r in kg.relations]
    assert torch.equal(ds.kg.triples, kg.triples)
    assert ds.kg.inverse("plays_in_club") == ds.kg.relation_index("plays_in_club^-1")
    used = {r for ex in ds.train + ds.dev + ds.test for p in ex.paths for r in p}
    assert "plays_in_club^-1" in used and not any(r.endswith("_inverse") for r in used)
    assert "is_aged^-1" not in used and "wears_number^-1" not in used
    stats = ds.stats()
    assert all(s.paths_exact == 1.0 and s.mention_found == 1.0 for s in stats.values())
    assert stats["test"].seen_in_train > 0.2  # the files repeat questions verbatim
    deduped = load_worldcup(data_root, "C", dedupe=True)
    assert len(deduped) == len({(ln.split("\t")[0], ln.split("\t")[3]) for ln in raw_lines(data_root / "wc2014/WC-C.txt")})
    assert deduped.stats()["test"].seen_in_train == 0.0


def test_load_dataset_finds_data_through_env(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGQA_DATA", str(data_root))
    ds = load_dataset("wc-p2")
    assert len(ds) == 1_472 and all(ex.hops == 2 for ex in ds.test)


# ---------------------------------------------------------------------------- registry and splits
def test_registry_names() -> None:
    assert set(DATASETS) == {"toy", "toy-full", "metaqa-1hop", "metaqa-2hop", "metaqa-3hop", "pq-2h", "pq-3h",
                             "wc-p1", "wc-p2", "wc-c", "wc-all", "metaqa-multi", "metaqa-ops", "wc-ops", "metaqa-all", "metaqa-1hop-para", "metaqa-1hop-aug",
                             "metaqa-2hop-para", "metaqa-3hop-para", "metaqa-all-para", "metaqa-all-aug", "metaqa-1hop-para2",
                             "metaqa-2hop-para2", "metaqa-3hop-para2", "metaqa-all-para2", "metaqa-all-aug2", "sq-wikidata",
                             "sq-wikidata-answerable"}
    with pytest.raises(UnknownDatasetError, match="did you mean 'metaqa-1hop'"):
        load_dataset("metaqa-1-hop")


def test_missing_data_says_what_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGQA_DATA", raising=False)
    with pytest.raises(MissingDataError, match="KGQA_DATA is not set.*IRN"):
        load_dataset("wc-c")
    with pytest.raises(MissingDataError, match=r"metaqa/kb_partial.txt.*KGQA_DATA.*yuyuz/MetaQA"):
        load_dataset("metaqa-1hop", tmp_path)
    (tmp_path / "pathquestion").mkdir()
    (tmp_path / "pathquestion/2H-kb.txt").write_text("a\tr\tb\n")
    with pytest.raises(FileNotFoundError, match=r"pathquestion/PQ-2H.txt.*zmtkeke/IRN"):
        load_dataset("pq-2h", tmp_path)


def test_split_examples_partition_and_seed() -> None:
    exs = [QAExample(f"q{i}", ("a",), ((-1, -1),), ("b",), source=f"f:{i}") for i in range(101)]
    train, dev, test = split_examples(exs, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(dev), len(test)) == (81, 10, 10)
    assert sorted(train + dev + test, key=line_of) == exs
    assert all(line_of(a) < line_of(b) for part in (train, dev, test) for a, b in zip(part, part[1:]))
    assert split_examples(exs, seed=3) == (train, dev, test) and split_examples(exs, seed=4) != (train, dev, test)
    with pytest.raises(ValueError, match="summing to 1"):
        split_examples(exs, (0.8, 0.3, 0.1))


def test_toy_dataset() -> None:
    from kgqa.toy import toy_questions

    ds = load_dataset("toy")
    assert len(ds.train) + len(ds.dev) == len(toy_questions("train")) and len(ds.dev) == round(0.1 * len(ds.train + ds.dev))
    assert [ex.question for ex in ds.test] == [q.question for q in toy_questions("test")]
    first = ds.train[0]
    assert first.question[slice(*first.mentions[0])] == "Mona Lisa" and first.source.endswith(":2")
    for ex in ds.train + ds.dev + ds.test:
        assert ex.program is not None and {ds.kg.entities[i] for i in ex.program.execute(ds.kg)} == set(ex.answers)
    assert load_toy(seed=1).dev != ds.dev


# ---------------------------------------------------------------------------- hand-made files
KG_TEXT = "Padmé Amidala|appears_in|Attack of the Clones\nNatalie Portman|played|Padmé Amidala\n" \
          "Natalie Portman|played|Nina Sayers\nNina Sayers|appears_in|Black Swan\n"


@pytest.fixture()
def user_kg(tmp_path: Path) -> Path:
    p = tmp_path / "kg.txt"
    p.write_text(KG_TEXT, encoding="utf-8")
    return p


def write(tmp_path: Path, text: str, name: str = "q.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text,error,message", [
    ("who did [Natalie Portman] play\tNina Sayers\nno tab here\n", QAFormatError, r"q.txt:2: expected question"),
    ("who did Natalie Portman play\tNina Sayers\n", QAFormatError, r"q.txt:1: no \[bracketed\] topic"),
    ("who did [Natalie Portman play\tNina Sayers\n", QAFormatError, r"q.txt:1: '\[' at column 9 is never closed"),
    ("who did [Natalie Portman]] play\tNina Sayers\n", QAFormatError, r"q.txt:1: '\]' at column 26"),
    ("who did [Natalie Portman] play\t|\n", QAFormatError, r"q.txt:1: no answers"),
    ("who did [Natalie Portmann] play\tNina Sayers\n", UnknownEntityError,
     r"unknown entity 'Natalie Portmann' in .*q.txt:1; did you mean 'Natalie Portman'"),
    ("who did [Natalie Portman] play\tNina Sayers|Padme Amidala\n", UnknownEntityError,
     r"'Padme Amidala' in .*q.txt:1; did you mean 'Padmé Amidala'"),
    ("", QAFormatError, r"q.txt: no questions found \(the file is empty\)"),
    ("\n  \n", QAFormatError, r"empty"),
])
def test_bad_question_files(tmp_path: Path, user_kg: Path, text: str, error: type, message: str) -> None:
    kg = KnowledgeGraph.load(user_kg)
    with pytest.raises(error, match=message) as info:
        load_questions(write(tmp_path, text), kg)
    assert isinstance(info.value, KGQAError)


def test_not_utf8_and_missing_question_file(tmp_path: Path, user_kg: Path) -> None:
    kg = KnowledgeGraph.load(user_kg)
    p = tmp_path / "latin1.txt"
    p.write_bytes("who is [Natalie Portman]\tNina Sayers\nwho is [Padm\xe9 Amidala]\tX\n".encode("latin-1"))
    with pytest.raises(QAFormatError, match="latin1.txt:2: not UTF-8"):
        load_questions(p, kg)
    with pytest.raises(MissingDataError, match="nope.txt: no such question file"):
        load_questions(tmp_path / "nope.txt", kg)


def test_non_ascii_ids_bom_and_crlf(tmp_path: Path, user_kg: Path) -> None:
    kg = KnowledgeGraph.load(user_kg)
    p = tmp_path / "q.txt"
    p.write_bytes("\ufeffwhere does [Padmé Amidala] appear\tAttack of the Clones\r\n".encode("utf-8"))
    (ex,) = load_questions(p, kg)
    assert ex.question == "where does Padmé Amidala appear" and ex.topics == ("Padmé Amidala",)
    assert ex.question[slice(*ex.mentions[0])] == "Padmé Amidala" and ex.source.endswith("q.txt:1")


def test_bring_your_own_kg_resolves_display_names(tmp_path: Path) -> None:
    kg = KnowledgeGraph.from_triples(
        [("natalie_portman", "played", "padme"), ("padme", "appears_in", "sw2"),
         ("natalie_portman", "played", "nina"), ("nina", "appears_in", "black_swan"),
         ("tom_hanks_1", "starred_in", "big"), ("tom_hanks_2", "born_in", "paris")],
        names={"natalie_portman": "Natalie Portman", "padme": "Padmé Amidala", "nina": "Nina Sayers",
               "sw2": "Star Wars: Episode II", "black_swan": "Black Swan", "tom_hanks_1": "Tom Hanks",
               "tom_hanks_2": "Tom Hanks"})
    folder = kg.save(tmp_path / "my_kg")
    questions = write(tmp_path, "who did [Natalie Portman] play in [Star Wars: Episode II]\tPadmé Amidala\n"
                                "who did [natalie_portman] play in [Black Swan]\tnina\n" * 5)
    with pytest.warns(DataWarning, match="2 of 2 test questions have their topics and answers in training"):
        ds = load_user(folder, questions, split=(0.6, 0.2, 0.2), seed=0, dedupe=False, grouped=False)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (6, 2, 2) and ds.kg.has_relation("played^-1")
    first = next(ex for ex in ds.train + ds.dev + ds.test if ex.source.endswith(":1"))
    assert first.question == "who did Natalie Portman play in Star Wars: Episode II"
    assert first.topics == ("natalie_portman", "sw2") and first.answers == ("padme",)
    assert [first.question[a:b] for a, b in first.mentions] == ["Natalie Portman", "Star Wars: Episode II"]
    assert "seed 0" in ds.notes
    with pytest.raises(AmbiguousEntityError, match=r"q2.txt:1 is shared by 2 entities .*'tom_hanks_1'"):
        load_questions(write(tmp_path, "what did [Tom Hanks] star in\tbig\n", "q2.txt"), ds.kg)


def test_user_triple_file(tmp_path: Path, user_kg: Path) -> None:
    questions = write(tmp_path, "".join(f"q{i} [Natalie Portman]\tNina Sayers\n" for i in range(10)))
    with pytest.warns(DataWarning, match="1 of 1 test questions"):
        ds = load_user(user_kg, questions, grouped=False)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (8, 1, 1) and ds.name == "q"
    with pytest.raises(MissingDataError, match="no such knowledge-graph"):
        load_user(tmp_path / "missing.txt", questions)


def make_metaqa(root: Path, *, qtype_lines: int = 2) -> None:
    (root / "metaqa/1-hop").mkdir(parents=True)
    (root / "metaqa/kb_partial.txt").write_text("Big|written_by|Gary Ross\nBig|starred_actors|Tom Hanks\n")
    (root / "metaqa/entities.txt").write_text("Big\nGary Ross\nTom Hanks\nAnne Spielberg\n")
    for split in ("dev", "test"):
        (root / f"metaqa/1-hop/qa_{split}.txt").write_text(
            "who wrote [Big]\tGary Ross|Anne Spielberg\nwhat did [Tom Hanks] act in\tBig\n")
        (root / f"metaqa/1-hop/qa_{split}_qtype.txt").write_text(
            "".join(t + "\n" for t in ["movie_to_writer", "actor_to_movie"][:qtype_lines]))


def test_metaqa_format_on_hand_made_files(tmp_path: Path) -> None:
    make_metaqa(tmp_path)
    ds = load_metaqa(tmp_path, 1, holdout=0.5)
    assert len(ds.train) == len(ds.dev) == 1 and [ex.qtype for ex in ds.test] == ["movie_to_writer", "actor_to_movie"]
    assert ds.test[0].answers == ("Gary Ross", "Anne Spielberg")  # in entities.txt, in no fact
    assert ds.stats()["test"].all_in_vocab == 1.0 and ds.stats()["test"].all_connected == 0.5
    (tmp_path / "metaqa/1-hop/qa_test_qtype.txt").write_text("movie_to_writer\n")
    (tmp_path / "metaqa/1-hop/qa_test.txt").write_text("who wrote [Big] with [Tom Hanks]\tGary Ross\n")
    with pytest.raises(QAFormatError, match="qa_test.txt:1: expected exactly one"):
        load_metaqa(tmp_path, 1)
    (tmp_path / "metaqa/1-hop/qa_test.txt").write_text("who wrote [Bigg]\tGary Ross\n")
    with pytest.raises(UnknownEntityError, match="qa_test.txt:1; did you mean 'Big'"):
        load_metaqa(tmp_path, 1)


def test_metaqa_misaligned_qtype_file(tmp_path: Path) -> None:
    make_metaqa(tmp_path, qtype_lines=1)
    with pytest.raises(QAFormatError, match=r"qa_dev_qtype.txt: has 1 lines but qa_dev.txt has 2"):
        load_metaqa(tmp_path, 1)


def test_pathquestion_format_on_hand_made_files(tmp_path: Path) -> None:
    (tmp_path / "pathquestion").mkdir()
    (tmp_path / "pathquestion/2H-kb.txt").write_text("ann_b\tspouse\tcarl_d\ncarl_d\t\tnationality\tfrance\n"
                                                     "carl_d\tnationality\tspain\n")
    q = ("which nationality is ann_b 's husband ?\tfrance(france/spain/)\tann_b#spouse#carl_d#nationality#france#<end>#france\n"
         "the nation of ann_b 's spouse ?\tfrance()\tann_b#spouse#carl_d#nationality#france#<end>#france\n")
    (tmp_path / "pathquestion/PQ-2H.txt").write_text(q * 5)
    ds = load_pathquestion(tmp_path, "2H")
    assert ds.test[0].answers in {("france", "spain"), ("france",)} and len(ds) == 10
    ex = next(e for e in ds.train + ds.dev + ds.test if e.source.endswith(":1"))
    assert ex.answers == ("france", "spain") and ex.question[slice(*ex.mentions[0])] == "ann_b"
    (tmp_path / "pathquestion/PQ-2H.txt").write_text(q + "who is ann_b 's child ?\tcarl_d(carl_d/)\tann_b#children#carl_d\n")
    stats = load_pathquestion(tmp_path, "2H", split=(1.0, 0.0, 0.0)).stats()["train"]
    assert (stats.with_paths, stats.paths_reach_all, stats.paths_exact) == (3, 2 / 3, 1 / 3)
    (tmp_path / "pathquestion/PQ-2H.txt").write_text("q ann_b ?\tfrance(france/)\tann_b#spouse\n")
    with pytest.raises(QAFormatError, match=r"PQ-2H.txt:1: gold path 'ann_b#spouse'"):
        load_pathquestion(tmp_path, "2H")
    (tmp_path / "pathquestion/PQ-2H.txt").write_text("q ann ?\tfrance(france/)\tann#spouse#carl_d#<end>#carl_d\n")
    with pytest.raises(UnknownEntityError, match=r"'ann' in .*PQ-2H.txt:1; did you mean 'ann_b'"):
        load_pathquestion(tmp_path, "2H")


def test_worldcup_format_on_hand_made_files(tmp_path: Path) -> None:
    (tmp_path / "wc2014").mkdir()
    (tmp_path / "wc2014/kb.txt").write_text(
        "Al_P\tplays_in_club\tTigres\nTigres\tplays_in_club_inverse\tAl_P\nAl_P\tplays_for_country\tMexico\n"
        "Mexico\tplays_for_country_inverse\tAl_P\nAl_P\tis_aged\t23\n")
    ctx = "Al_P#plays_in_club#Tigres///Al_P#is_aged#23"
    (tmp_path / "wc2014/WC-P1.txt").write_text(f"how old is Al_P ?\t23\tAl_P#is_aged#23#<end>#23\t23/\t{ctx}\n")
    (tmp_path / "wc2014/WC-P2.txt").write_text(
        f"where is the club of Al_P ?\tMexico\tAl_P#plays_in_club#Tigres#plays_for_country#Mexico\tMexico/\t{ctx}\n")
    (tmp_path / "wc2014/WC-C.txt").write_text(
        "which player of Tigres is from Mexico ?\tAl_P\tTigres#plays_in_club_inverse#Al_P#<end>#Al_P*"
        f"Mexico#plays_for_country_inverse#Al_P#<end>#Al_P\tAl_P/\t{ctx}\tTigres/Mexico\n")
    ds = load_worldcup(tmp_path, "P1+P2+C", split=(1.0, 0.0, 0.0))
    assert [ex.qtype for ex in ds.train] == ["1-hop", "2-hop", "conjunctive"]
    conj = ds.train[2]
    assert conj.topics == ("Tigres", "Mexico") and [conj.question[a:b] for a, b in conj.mentions] == ["Tigres", "Mexico"]
    assert ds.train[1].paths == (("plays_in_club", "plays_for_country"),) and ds.train[1].hops == 2
    assert conj.paths == (("plays_in_club^-1",), ("plays_for_country^-1",))  # the file's r_inverse, renamed
    assert ds.kg.relations == ["plays_in_club", "plays_in_club^-1", "plays_for_country", "plays_for_country^-1",
                               "is_aged"]
    kb = (tmp_path / "wc2014/kb.txt").read_text()
    (tmp_path / "wc2014/kb.txt").write_text(kb + "Tigres\tplays_in_club^-1\tAl_P\n")
    with pytest.raises(KGFormatError, match=r"kb.txt: the graph holds both 'plays_in_club\^-1' and an '_inverse'"):
        load_worldcup(tmp_path, "P1")
    (tmp_path / "wc2014/kb.txt").write_text(kb)
    (tmp_path / "wc2014/WC-C.txt").write_text(
        "q Tigres Mexico ?\tAl_P\tTigres#plays_in_club_inverse#Al_P*Mexico#plays_for_country_inverse#Al_P"
        f"\tAl_P/\t{ctx}\tMexico/Tigres\n")
    with pytest.raises(QAFormatError, match=r"WC-C.txt:1: topics field lists \['Mexico', 'Tigres'\]"):
        load_worldcup(tmp_path, "C")
    with pytest.raises(QAFormatError, match=r"WC-C.txt:1: expected .*6 tab-separated fields\), got 5"):
        (tmp_path / "wc2014/WC-C.txt").write_text(f"q\tAl_P\tTigres#plays_in_club_inverse#Al_P\tAl_P/\t{ctx}\n")
        load_worldcup(tmp_path, "C")
    with pytest.raises(ValueError, match="parts must be"):
        load_worldcup(tmp_path, "P3")
