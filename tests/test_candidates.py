"""Candidate generation: hand cases, a brute-force oracle on random graphs, and recall on real data."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest
import torch

from kgqa.resolve.candidates import FEATURE_NAMES, CandidateIndex
from kgqa.text import match_key
from kgqa.kg import KnowledgeGraph


def col(cands, name: str) -> list[list[float]]:
    return cands.features[..., FEATURE_NAMES.index(name)].tolist()


# ---------------------------------------------------------------------------- normalize
@pytest.mark.parametrize("text, expected", [
    ("Grégoire Colin", "gregoire colin"),
    ("Montbéliard", "montbeliard"),
    ("Alan_PULIDO", "alan pulido"),
    ("frederica_of_mecklenburg-strelitz", "frederica of mecklenburg strelitz"),
    ("Ginger Rogers", "ginger rogers"),
    ("Star Wars: Episode I – The Phantom Menace", "star wars episode i the phantom menace"),
    ("Schindler's List", "schindlers list"),
    ("  Dr.   Strangelove!? ", "dr strangelove"),
    ("Straße", "strasse"),
    ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("", ""),
    (" \t\n", ""),
    ("!!!", ""),
])
def test_match_key(text: str, expected: str) -> None:
    assert match_key(text) == expected


def test_normalize_keeps_other_scripts_and_digits() -> None:
    assert match_key("Тарковский 1972") == "тарковскии 1972"  # "й" is "и" + a combining breve
    assert match_key("東京_物語") == "東京 物語"


# ---------------------------------------------------------------------------- hand-made graphs
def small_kg(names: dict[str, str], aliases: dict[str, list[str]] | None = None) -> KnowledgeGraph:
    ids = list(names)
    triples = [(ids[i], "r", ids[(i + 1) % len(ids)]) for i in range(len(ids))]
    return KnowledgeGraph.from_triples(triples, names=names, aliases=aliases or {})


def test_exact_name_returns_every_entity_of_that_name(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    cands = index.query(["Tom Hanks"], k=8)
    hanks = set(toy.entities_named("Tom Hanks"))
    assert len(hanks) == 3
    top3 = cands.entity[0, :3].tolist()
    assert set(top3) == hanks
    assert col(cands, "exact")[0][:3] == [1.0, 1.0, 1.0]
    assert col(cands, "normalized_exact")[0][:3] == [1.0, 1.0, 1.0]
    assert col(cands, "exact")[0][3] == 0.0
    deg = toy.degree().tolist()  # same-name entities come by degree, the entity prior
    assert [deg[e] for e in top3] == sorted((deg[e] for e in top3), reverse=True)
    assert len(set(cands.entity[0].tolist()) - {-1}) == int(cands.mask[0].sum())  # no entity twice


def test_alias_and_accent_free_spelling(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    cands = index.query(["La Joconde", "musee du louvre", "padme amidala"], k=3)
    assert [toy.entities[e] for e in cands.entity[:, 0].tolist()] == ["mona_lisa", "louvre_museum", "padme_amidala"]
    assert [row[0] for row in col(cands, "exact")] == [1.0, 0.0, 0.0]
    assert [row[0] for row in col(cands, "normalized_exact")] == [1.0, 1.0, 1.0]


def test_case_only_duplicates_are_separated_by_the_exact_feature() -> None:
    kg = small_kg({"p": "Ginger Rogers", "t": "ginger rogers", "x": "Fred Astaire"})
    index = CandidateIndex.build(kg)
    cands = index.query(["Ginger Rogers", "ginger rogers", "GINGER ROGERS"], k=3)
    p, t = kg.entity_index("p"), kg.entity_index("t")
    assert cands.entity[0, :2].tolist() == [p, t] and col(cands, "exact")[0][:2] == [1.0, 0.0]
    assert cands.entity[1, :2].tolist() == [t, p] and col(cands, "exact")[1][:2] == [1.0, 0.0]
    assert set(cands.entity[2, :2].tolist()) == {p, t} and col(cands, "exact")[2][:2] == [0.0, 0.0]
    for row in range(3):
        assert col(cands, "normalized_exact")[row][:2] == [1.0, 1.0]
        assert col(cands, "ngram_cosine")[row][:2] == pytest.approx([1.0, 1.0])


def test_misspelled_mention_found_by_fuzzy_match(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    for weighting in ("tfidf", "count"):
        cands = CandidateIndex.build(toy, weighting=weighting).query(["Mona Lise"], k=3)
        assert "mona_lisa" in [toy.entities[e] for e in cands.entity[0].tolist()]
    found = index.lookup("Mona Lise", k=3)
    assert found[0][:2] == ("mona_lisa", "Mona Lisa") and 0 < found[0][2] < 1


def test_word_features_on_a_partial_mention() -> None:
    kg = small_kg({"a": "Natalie Portman", "b": "Gary Oldman"})
    cands = CandidateIndex.build(kg).query(["Portman"], k=1)
    assert cands.entity[0, 0].item() == kg.entity_index("a")
    assert col(cands, "token_jaccard")[0][0] == pytest.approx(0.5)
    assert col(cands, "name_coverage")[0][0] == pytest.approx(0.5)
    assert col(cands, "length_ratio")[0][0] == pytest.approx(len("portman") / len("natalie portman"))
    assert col(cands, "log_degree")[0][0] == pytest.approx(math.log(2))  # one fact leaves it


def test_padding_and_odd_input(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    cands = index.query(["", "   ", "\t", "qqqqzzzz", "Mona Lisa " * 500, "Padmé", "東京"], k=4)
    assert cands.entity.shape == (7, 4) and cands.entity.dtype == torch.int64
    assert cands.features.shape == (7, 4, len(FEATURE_NAMES)) and cands.features.dtype == torch.float32
    assert (cands.entity[:4] == -1).all() and (cands.features[:4] == 0).all()
    assert toy.entities[int(cands.entity[4, 0])] == "mona_lisa"  # very long mention
    assert toy.entities[int(cands.entity[5, 0])] == "padme_amidala"  # non-ASCII
    assert (cands.features[~cands.mask] == 0).all()
    empty = index.query([], k=3)
    assert empty.entity.shape == (0, 3) and empty.features.shape == (0, 3, len(FEATURE_NAMES))
    assert index.lookup("", k=3) == []
    small = index.query(["Tom Hanks"], k=500)  # more than there are entities
    assert small.entity.shape == (1, 500) and len(set(small.entity[0].tolist()) - {-1}) == int(small.mask.sum())


def test_surface_matrix_has_unit_rows(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    m = index.matrix.to_dense()  # (N, V): one row per distinct normalised surface of an entity
    assert m.shape == (len(index.row_text), len(index.vocab)) and len(index.row_text) > toy.num_entities
    assert torch.allclose(m.norm(dim=1), torch.ones(m.shape[0]))
    assert index.row_entity.tolist().count(toy.entity_index("louvre_museum")) == 4  # id ~ name, 3 aliases
    assert "141 entities" in repr(index)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "8"])
def test_k_must_be_a_positive_integer(toy: KnowledgeGraph, k) -> None:
    with pytest.raises(ValueError, match="k .* positive integer"):
        CandidateIndex.build(toy).query(["Paris"], k=k)


def test_bad_arguments(toy: KnowledgeGraph) -> None:
    index = CandidateIndex.build(toy)
    with pytest.raises(TypeError, match="wrap one mention in a list"):
        index.query("Paris")
    with pytest.raises(TypeError, match="must be a string"):
        index.query(["Paris", 3])
    with pytest.raises(ValueError, match="weighting"):
        CandidateIndex.build(toy, weighting="bm25")
    with pytest.raises(ValueError, match="n-gram size"):
        CandidateIndex.build(toy, n=0)
    with pytest.raises(ValueError, match="unknown feature"):
        index.query(["Paris"]).feature("popularity")


# ---------------------------------------------------------------------------- brute-force oracle
def grams(text: str, n: int = 3) -> Counter:
    padded = " " + text + " "
    return Counter(padded[i:i + n] for i in range(len(padded) - n + 1)) if text else Counter()


def brute_force(kg: KnowledgeGraph, mention: str, weighting: str) -> dict[int, tuple[float, ...]]:
    """Features of every entity for ``mention``, by Python loops over all entities and surfaces.

    A surface is an entity's id, name or alias; n-gram vectors are of the distinct normalised
    surfaces of each entity (the rows whose document frequency TF-IDF counts)."""
    surfaces = [list(dict.fromkeys((kg.entities[e], kg.names[e], *kg.aliases[e]))) for e in range(kg.num_entities)]
    rows = [list(dict.fromkeys(match_key(s) for s in ss if match_key(s))) for ss in surfaces]
    df: Counter = Counter()
    for rs in rows:
        for r in rs:
            df.update(set(grams(r)))
    n_rows = sum(len(rs) for rs in rows)

    def weight(g: str) -> float:
        return math.log((1 + n_rows) / (1 + df[g])) + 1 if weighting == "tfidf" else 1.0

    def vec(text: str) -> dict[str, float]:
        return {g: c * weight(g) for g, c in grams(text).items()}

    def cos(a: dict[str, float], b: dict[str, float]) -> float:
        na, nb = math.sqrt(sum(v * v for v in a.values())), math.sqrt(sum(v * v for v in b.values()))
        return sum(v * b.get(g, 0.0) for g, v in a.items()) / (na * nb) if na and nb else 0.0

    m = mention.strip()
    mn = match_key(m)
    mv, mt = vec(mn), set(mn.split())
    degree = Counter(s for s, _, _ in kg.triples.tolist())
    out = {}
    for e in range(kg.num_entities):
        cs = [cos(mv, vec(r)) for r in rows[e]]
        best = max(cs)
        options = []
        for r, c in zip(rows[e], cs):
            if c >= best - 1e-6:
                st = set(r.split())
                options.append((len(mt & st) / len(mt | st), len(mt & st) / len(st), min(len(mn) / len(r), 4.0)))
        out[e] = (float(m in surfaces[e]), float(mn in rows[e]), best, options, math.log1p(degree[e]))
    return out


def random_kg(rng: random.Random) -> KnowledgeGraph:
    syllables = ["ka", "ro", "mi", "ta", "ne", "lu", "so", "ké", "Ba", "x"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))

    n = rng.randint(5, 40)
    names = {f"e{i}": " ".join(word() for _ in range(rng.randint(1, 3))) for i in range(n)}
    for i in rng.sample(range(n), n // 5):  # case-only and exact duplicates
        names[f"e{i}"] = rng.choice([names[f"e{rng.randrange(n)}"].upper(), names[f"e{rng.randrange(n)}"]])
    aliases = {f"e{i}": [word() + "_" + word()] for i in rng.sample(range(n), n // 4)}
    triples = {(f"e{rng.randrange(n)}", rng.choice("pq"), f"e{rng.randrange(n)}") for _ in range(2 * n)}
    return KnowledgeGraph.from_triples(sorted(triples), entities=list(names), names=names, aliases=aliases)


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    kg = random_kg(rng)
    weighting = "tfidf" if seed % 2 else "count"
    index = CandidateIndex.build(kg, weighting=weighting)
    names = kg.names + [a for al in kg.aliases for a in al]
    mentions = [rng.choice(names) for _ in range(4)]
    mentions += [rng.choice(names).lower().replace(" ", "_") for _ in range(2)]
    mentions += [rng.choice(names)[1:] + "z" for _ in range(2)]  # misspelled
    mentions += [rng.choice(names).split()[0], "zzz", "", kg.entities[0]]
    k = rng.choice([1, 3, 8])
    cands = index.query(mentions, k=k)
    for s, m in enumerate(mentions):
        brute = brute_force(kg, m, weighting)
        key = {e: f[0] + f[1] + f[2] for e, f in brute.items()}  # the order: exact, normalised, cosine
        expect = sorted((v for v in key.values() if v > 0), reverse=True)[:k]
        got = [e for e in cands.entity[s].tolist() if e >= 0]
        assert len(got) == len(set(got)) == len(expect), (m, got)
        # the same scores as the brute-force top k (so the same set, up to ties at the k-th score)
        assert cands.score[s, :len(got)].tolist() == pytest.approx(expect, abs=1e-5), m
        for j, e in enumerate(got):
            x, nx, c, options, logd = brute[e]
            f = cands.features[s, j].tolist()
            assert f[:3] == pytest.approx([x, nx, c], abs=1e-5), (m, e)
            assert any(f[3:6] == pytest.approx(list(o), abs=1e-5) for o in options), (m, e, f, options)
            assert f[6] == pytest.approx(logd, abs=1e-5)
        dense = index.cosines([m])[0]  # (E,) the fuzzy score of every entity, also against the oracle
        assert dense.tolist() == pytest.approx([brute[e][2] for e in range(kg.num_entities)], abs=1e-5)


# ---------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name", ["metaqa-1hop", "wc-p1", "pq-2h"])
def test_gold_topic_in_top8_on_real_data(name: str, data_root: Path) -> None:
    from kgqa.datasets import load_dataset

    data = load_dataset(name, root=data_root)
    index = CandidateIndex.build(data.kg)
    sample = random.Random(0).sample(data.test, min(2000, len(data.test)))
    mentions = [ex.question[ex.mentions[0][0]:ex.mentions[0][1]] for ex in sample]
    gold = [data.kg.entity_index(ex.topics[0]) for ex in sample]
    hits = 0
    for i in range(0, len(sample), 256):
        cands = index.query(mentions[i:i + 256], k=8)
        hits += sum(g in row for g, row in zip(gold[i:i + 256], cands.entity.tolist()))
    assert hits / len(sample) >= 0.995, f"{name}: recall@8 {hits}/{len(sample)}"
