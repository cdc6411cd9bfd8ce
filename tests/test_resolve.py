"""Learned entity resolution: spans against brute force, x_0 against a dense loop, gradients,
and a small learning run on the toy world."""

from __future__ import annotations

import doctest
import re

import pytest
import torch

from kgqa.resolve.candidates import CandidateIndex
from kgqa.kg import KnowledgeGraph
from kgqa.resolve import EntityResolver, ResolverConfig, ResolverOutput, relation_profile
from kgqa.resolve.metrics import candidate_recall, entity_accuracy, span_accuracy
from kgqa.resolve.spans import enumerate_spans, masked_softmax, span_embeddings
from kgqa.toy import toy_kg

QUESTIONS = [
    "Who directed films starring Tom Hanks?",
    "What is the research field of the Tom Hanks who was born in Wellington?",
    "What books did the theologian Tom Hanks write?",
    "What city is the Mona Lisa in?",
]
TOM_HANKS = {  # one training question for each of the three entities named "Tom Hanks"
    "What films did Tom Hanks star in?": "tom_hanks_actor",
    "What is the research field of the Tom Hanks who was born in Wellington?": "tom_hanks_seismologist",
    "What books did the theologian Tom Hanks write?": "tom_hanks_theologian",
}


@pytest.fixture(scope="module")
def encoder(tiny_enc):
    return tiny_enc  # on the CPU: the checks compare with CPU tensors built here


@pytest.fixture(scope="module")
def kg():
    return toy_kg()


@pytest.fixture(scope="module")
def index(kg):
    return CandidateIndex.build(kg)


@pytest.fixture(scope="module")
def opaque_kg(kg):
    """The toy world with meaningless ids (``e0``, ``e1``, ...), names and aliases kept.

    The toy ids spell what an entity is (``tom_hanks_seismologist``) and the candidate index
    matches ids too, so there a span like "the seismologist Tom Hanks" picks the right Tom Hanks
    by string alone. With opaque ids, as in Freebase or Wikidata, the three Tom Hanks have the
    same surfaces and only the question's context can tell them apart.
    """
    return KnowledgeGraph([f"e{i}" for i in range(kg.num_entities)], kg.relations, kg.triples,
                          names=kg.names, aliases=kg.aliases, source="toy world, opaque ids")


@pytest.fixture()
def one_thread():
    """Small CPU tensors run faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def quick(**changes) -> ResolverConfig:
    return ResolverConfig.quick().with_(**changes)


# ---------------------------------------------------------------------------- span enumeration
def bert_words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words a span is made of: BERT's pre-tokeniser makes runs of
    letters/digits and each punctuation character on its own (``_`` included); runs that touch
    across an underscore are one word. Together: runs of ``\\w`` and single punctuation."""
    return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


@pytest.mark.parametrize("max_words", [1, 3, 6])
def test_spans_match_brute_force_enumeration(encoder, max_words):
    texts = ["Who wrote films starring Tom Hanks?", "Amélie Poulain's café, 1994!",
             "What is the birthplace of the seismologist Tom Hanks?", "Hi",
             "the child of archduke_johann_of_austria 's father ?", "_x_ y__z _ w_ _ a-b_c"]
    enc = encoder(texts)
    spans = enumerate_spans(enc, texts, max_words)
    word_ids, offsets = enc.word_ids.tolist(), enc.offsets.tolist()
    for b, text in enumerate(texts):
        words = bert_words(text)
        expected = [(words[i][0], words[j][1]) for i in range(len(words))
                    for j in range(i, min(i + max_words, len(words)))]
        n = len(words)
        assert len(expected) == sum(n - w + 1 for w in range(1, min(max_words, n) + 1))
        got = [tuple(c) for c in spans.chars[b, : len(spans.texts[b])].tolist()]
        assert got == expected
        assert spans.texts[b] == [text[a:e] for a, e in expected]
        assert not spans.valid[b, len(expected):].any()  # padding
        wordy = {w: bool(re.search(r"[^\W_]", text[w[0]:w[1]])) for w in words}
        first = {w[0]: wordy[w] for w in words}
        last = {w[1]: wordy[w] for w in words}
        for s, (a, e) in enumerate(expected):
            i, j = int(spans.piece_start[b, s]), int(spans.piece_end[b, s])
            assert offsets[b][i][0] == a and offsets[b][j][1] == e
            # never splits a word: the pieces just outside belong to other words
            assert word_ids[b][i - 1] != word_ids[b][i] and word_ids[b][j + 1] != word_ids[b][j]
            assert 1 <= int(spans.width[b, s]) <= max_words
            # valid: begins and ends with a word of letters or digits ("Hanks?" is not a mention)
            assert bool(spans.valid[b, s]) == (first[a] and last[e])


def test_spans_doctest():
    import kgqa.resolve.spans

    assert doctest.testmod(kgqa.resolve.spans).failed == 0


def test_span_embeddings_match_a_loop():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 7, 5, generator=g)
    start = torch.tensor([[1, 2, 0], [3, 1, 6]])
    end = torch.tensor([[1, 4, 0], [5, 6, 6]])
    first, last, mean = span_embeddings(tokens, start, end)
    for b in range(2):
        for s in range(3):
            i, j = int(start[b, s]), int(end[b, s])
            torch.testing.assert_close(first[b, s], tokens[b, i])
            torch.testing.assert_close(last[b, s], tokens[b, j])
            torch.testing.assert_close(mean[b, s], tokens[b, i:j + 1].mean(0))


def test_masked_softmax_zero_off_mask_and_on_empty_rows():
    logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, False, True], [False, False, False]])
    p = masked_softmax(logits, mask)
    torch.testing.assert_close(p[0], torch.tensor([1.0, 0.0, torch.e ** 2]) / (1 + torch.e ** 2))
    assert p[1].eq(0).all()


# ---------------------------------------------------------------------------- resolver outputs
def test_probabilities_are_distributions(encoder, kg, index):
    resolver = EntityResolver(kg, encoder.dim, quick(), index=index)
    out = resolver(QUESTIONS, encoder(QUESTIONS))
    assert out.x0.shape == (len(QUESTIONS), kg.num_entities)
    for b in range(len(QUESTIONS)):
        assert out.span_mask[b].any()
        torch.testing.assert_close(out.span_probs[b][out.span_mask[b]].sum(), torch.tensor(1.0))
        assert out.span_probs[b][~out.span_mask[b]].eq(0).all()
        for s in out.span_mask[b].nonzero().flatten().tolist():
            real = out.candidates[b, s] >= 0
            torch.testing.assert_close(out.entity_probs[b, s][real].sum(), torch.tensor(1.0))
            assert out.entity_probs[b, s][~real].eq(0).all()
        torch.testing.assert_close(out.x0[b].sum(), torch.tensor(1.0))
    assert (out.x0 >= 0).all()


def test_x0_equals_a_dense_loop(encoder, kg, index):
    resolver = EntityResolver(kg, encoder.dim, quick(), index=index)
    with torch.no_grad():
        out = resolver(QUESTIONS, encoder(QUESTIONS))
    dense = torch.zeros(len(QUESTIONS), kg.num_entities)
    B, S, K = out.candidates.shape
    for b in range(B):
        for s in range(S):
            for k in range(K):
                e = int(out.candidates[b, s, k])
                if e >= 0:
                    dense[b, e] += float(out.span_probs[b, s]) * float(out.entity_probs[b, s, k])
    torch.testing.assert_close(out.x0, dense)


def test_candidates_come_from_the_index_and_are_cached(encoder, kg, index, monkeypatch):
    resolver = EntityResolver(kg, encoder.dim, quick(), index=index)
    enc = encoder(QUESTIONS)
    out = resolver(QUESTIONS, enc)
    k = resolver.config.candidates
    names = ("exact", "normalized_exact", "ngram_cosine")
    for b, texts in enumerate(out.span_texts):
        for s, text in enumerate(texts):
            if out.span_mask[b, s]:
                ents, feats = resolver.cache.lookup([text])
                assert out.candidates[b, s].tolist() == ents[0].tolist()
                direct = index.query([text], k)
                # equal scores may come in another order in a batch than alone: compare the
                # score profile, and the entities that score strictly above the K-th
                ours = feats[0][:, [0, 1, 2]].sum(-1)
                theirs = sum(direct.feature(n)[0] for n in names)
                torch.testing.assert_close(ours, theirs)
                cut = float(theirs[-1])
                assert ({e for e, v in zip(ents[0].tolist(), ours.tolist()) if v > cut + 1e-6}
                        == {e for e, v in zip(direct.entity[0].tolist(), theirs.tolist()) if v > cut + 1e-6})
    calls = []
    monkeypatch.setattr(index, "query", lambda *a, **kw: calls.append(a) or pytest.fail("not cached"))
    again = resolver(QUESTIONS, enc)
    assert not calls
    torch.testing.assert_close(again.x0, out.x0)


def test_relation_profile_is_the_set_of_outgoing_relations(kg):
    prof = relation_profile(kg)
    for name in ("tom_hanks_actor", "tom_hanks_theologian", "mona_lisa"):
        e = kg.entity_index(name)
        expected = {kg.relations[r] for r in kg.out_facts(e)[:, 1].tolist()}
        assert {kg.relations[r] for r in prof[e].nonzero().flatten().tolist()} == expected
        torch.testing.assert_close(prof[e].norm(), torch.tensor(1.0))
    assert "starred_in" in {kg.relations[r] for r in prof[kg.entity_index("tom_hanks_actor")].nonzero().flatten()}


# ---------------------------------------------------------------------------- gradients
def test_gradients_reach_both_scorers(encoder, kg, index):
    resolver = EntityResolver(kg, encoder.dim, quick(), index=index)
    out = resolver(QUESTIONS, encoder(QUESTIONS))
    gold = [kg.entity_index(TOM_HANKS.get(q, "mona_lisa")) for q in QUESTIONS]
    loss = -torch.log(out.x0[torch.arange(len(gold)), gold] + 1e-9).sum()
    loss.backward()
    for name, p in resolver.named_parameters():
        if name == "attend.bias":  # adds one constant to every logit of a softmax: no effect, gradient 0
            assert p.grad is None or float(p.grad.abs().sum()) < 1e-5, name  # (up to rounding)
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradcheck_float64(encoder, kg, index):
    config = ResolverConfig(hidden=6, width_dim=3, context_dim=3, max_words=3, candidates=4)
    resolver = EntityResolver(kg, encoder.dim, config, index=index).double()
    questions = ["Who directed films starring Tom Hanks?"]
    enc = encoder(questions)
    enc.tokens, enc.pooled = enc.tokens.double(), enc.pooled.double()
    names = ["span_scorer.mlp.2.weight", "span_scorer.mlp.0.bias", "span_scorer.width.weight",
             "entity_scorer.match.2.weight", "entity_scorer.popularity_weight.weight",
             "entity_scorer.context.bias", "entity_scorer.relations.weight", "prior.weight", "attend.weight"]
    params = dict(resolver.named_parameters())
    inputs = tuple(params[n].detach().clone().requires_grad_(True) for n in names)

    def x0(*values):
        return torch.func.functional_call(resolver, dict(zip(names, values)), (questions, enc)).x0

    assert x0(*inputs).dtype == torch.float64
    assert torch.autograd.gradcheck(x0, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


# ---------------------------------------------------------------------------- context
def tom_hanks_rows(out: ResolverOutput, questions: list[str]) -> torch.Tensor:
    """``(Q, K)`` p(e | span) at the span "Tom Hanks" of each question."""
    rows = []
    for b, q in enumerate(questions):
        s = out.span_texts[b].index("Tom Hanks")
        rows.append(out.entity_probs[b, s])
    return torch.stack(rows)


def test_without_context_same_names_rank_alike_in_every_question(encoder, opaque_kg):
    questions = list(TOM_HANKS)
    enc = encoder(questions)
    index = CandidateIndex.build(opaque_kg)
    torch.manual_seed(0)
    plain = EntityResolver(opaque_kg, encoder.dim, quick(use_context=False), index=index)
    rows = tom_hanks_rows(plain(questions, enc), questions)
    # the same span text gets the same p(e | span) whatever the question: one argmax for all three
    torch.testing.assert_close(rows, rows[:1].expand_as(rows))
    torch.manual_seed(0)
    ctx = EntityResolver(opaque_kg, encoder.dim, quick(), index=index)
    rows = tom_hanks_rows(ctx(questions, enc), questions)
    assert not torch.allclose(rows, rows[:1].expand_as(rows))  # the context path moves the scores


def train(resolver: EntityResolver, questions, enc, targets: torch.Tensor, steps: int) -> None:
    opt = torch.optim.Adam(resolver.parameters(), lr=1e-2)
    for _ in range(steps):
        out = resolver(questions, enc)
        loss = -torch.log((out.x0 * targets).sum(dim=1) + 1e-10).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_resolver_learns_the_toy_topics_from_the_x0_loss(encoder, opaque_kg, one_thread):
    from kgqa.datasets import load_toy

    ds = load_toy()
    toy = ds.kg
    hand = [ex for ex in ds.train + ds.dev if "toy_questions.tsv" in ex.source]  # the hand-written ones
    questions = [ex.question for ex in hand]
    assert set(TOM_HANKS) <= set(questions)
    topics = [[toy.entity_index(t) for t in ex.topics] for ex in hand]  # same indices in opaque_kg
    targets = torch.zeros(len(questions), opaque_kg.num_entities)
    for b, ts in enumerate(topics):
        targets[b, ts] = 1.0
    with torch.no_grad():
        enc = encoder(questions)  # frozen: encode once
    torch.manual_seed(0)
    resolver = EntityResolver(opaque_kg, encoder.dim, quick())
    before = entity_accuracy(resolver(questions, enc), topics, opaque_kg)
    train(resolver, questions, enc, targets, steps=100)
    with torch.no_grad():
        out = resolver(questions, enc)
    acc = entity_accuracy(out, topics, opaque_kg)
    assert acc > 0.9 and acc > before
    assert span_accuracy(out, [ex.mentions for ex in hand]) > 0.5
    best = out.x0.argmax(dim=1).tolist()
    for q, gold in TOM_HANKS.items():
        assert toy.entities[best[questions.index(q)]] == gold, q


# ---------------------------------------------------------------------------- bad inputs
def test_awkward_questions_run(encoder, kg, index):
    texts = ["", "???", ("Who directed films starring Tom Hanks? " * 60)[:2000], "Amélie Poulain's café", "a" * 2000]
    resolver = EntityResolver(kg, encoder.dim, quick(), index=index)
    enc = encoder(texts)
    out = resolver(texts, enc)
    assert out.x0.shape == (len(texts), kg.num_entities) and torch.isfinite(out.x0).all()
    assert out.span_texts[0] == [] and out.x0[0].eq(0).all() and out.best(0) == []
    assert not out.span_mask[1].any() and out.x0[1].eq(0).all()
    assert bool(enc.truncated[2]) and torch.isclose(out.x0[2].sum(), torch.tensor(1.0))
    assert "Amélie Poulain" in out.span_texts[3] and "café" in out.span_texts[3]
    for b in range(len(texts)):
        for text, (a, e), p, cands in out.best(b):
            assert texts[b][a:e] == text and 0 <= p <= 1
    empty = resolver([], encoder([]))
    assert empty.x0.shape == (0, kg.num_entities)
    with pytest.raises(TypeError):
        resolver("Who?", encoder(["Who?"]))
    with pytest.raises(ValueError):
        resolver(["Who?", "What?"], encoder(["Who?"]))
    with pytest.raises(ValueError):
        ResolverConfig(max_words=0)


# ---------------------------------------------------------------------------- metrics
def hand_made_output(kg: KnowledgeGraph) -> ResolverOutput:
    """Two questions, two spans, two candidates each, with weights set by hand."""
    a, b, c = (kg.entity_index(e) for e in ("tom_hanks_actor", "tom_hanks_theologian", "mona_lisa"))
    candidates = torch.tensor([[[a, b], [c, -1]], [[c, -1], [a, -1]]])
    span_probs = torch.tensor([[0.7, 0.3], [1.0, 0.0]])
    entity_probs = torch.tensor([[[0.4, 0.6], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])
    x0 = torch.zeros(2, kg.num_entities)
    x0[0, a], x0[0, b], x0[0, c] = 0.28, 0.42, 0.3
    x0[1, c] = 1.0
    return ResolverOutput(x0=x0, span_logits=span_probs.log(), span_probs=span_probs,
                          span_mask=torch.tensor([[True, True], [True, False]]),
                          span_chars=torch.tensor([[[10, 19], [0, 4]], [[5, 9], [20, 29]]]),
                          span_texts=[["Tom Hanks", "Mona"], ["Mona", "Tom Hanks"]], candidates=candidates,
                          entity_logits=entity_probs, entity_probs=entity_probs, kg=kg)


def test_metrics_on_a_hand_made_output(kg):
    out = hand_made_output(kg)
    assert span_accuracy(out, [[(10, 19)], [(20, 29)]]) == 0.5
    assert span_accuracy(out, [[(-1, -1)], [(5, 9)]]) == 1.0  # unknown gold spans are left out
    assert entity_accuracy(out, [["tom_hanks_actor"], ["mona_lisa"]], kg) == 0.5  # argmax is the theologian
    assert entity_accuracy(out, [["tom_hanks_theologian"], [kg.entity_index("mona_lisa")]], kg) == 1.0
    assert candidate_recall(out, [["tom_hanks_actor"], ["mona_lisa"]]) == 1.0  # any linkable span
    assert candidate_recall(out, [["tom_hanks_actor"], ["tom_hanks_actor"]]) == 0.5  # q1: not linkable
    assert candidate_recall(out, [["tom_hanks_actor"], ["tom_hanks_actor"]], [[(10, 19)], [(5, 9)]]) == 0.5
    assert candidate_recall(out, [["paris"]]) == 0.0
    best = out.best(0)
    assert best[0][:3] == ("Tom Hanks", (10, 19), pytest.approx(0.7))
    assert [e for e, _, _ in best[0][3]] == ["tom_hanks_theologian", "tom_hanks_actor"]


# ---------------------------------------------------------------------------- longest match
def test_enclosing_best_matches_a_loop():
    from kgqa.resolve.resolver import enclosing_best

    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        B, S = 3, 9
        start = torch.randint(0, 20, (B, S), generator=gen)
        chars = torch.stack([start, start + torch.randint(1, 8, (B, S), generator=gen)], dim=-1)
        chars[0, 1] = chars[0, 0]  # the same characters twice: neither holds the other
        score = torch.rand(B, S, generator=gen)
        mask = torch.rand(B, S, generator=gen) < 0.8
        want = torch.zeros(B, S)
        for b in range(B):
            for s in range(S):
                for t in range(S):
                    (a, e), (a2, e2) = chars[b, s].tolist(), chars[b, t].tolist()
                    if t != s and mask[b, t] and a2 <= a and e <= e2 and (a2, e2) != (a, e):
                        want[b, s] = max(want[b, s], score[b, t])
        torch.testing.assert_close(enclosing_best(score, chars, mask), want)


def test_longest_match_takes_the_head_start_from_a_title_inside_a_title(encoder):
    """"Glory" spells a film, and so does "Days of Glory", which holds it: with ``longest_match`` the
    shorter span's logit loses ``prior_init`` at the start, the whole title's does not move."""
    films = KnowledgeGraph(["days_of_glory", "glory", "samy_naceri", "denzel_washington"], ["starring"],
                           torch.tensor([[0, 0, 2], [1, 0, 3]]),
                           names=["Days of Glory", "Glory", "Samy Naceri", "Denzel Washington"])
    question = ["Who acted in Days of Glory?"]
    logits = {}
    for longest in (False, True):
        torch.manual_seed(0)
        resolver = EntityResolver(films, encoder.dim, quick(longest_match=longest))
        with torch.no_grad():
            out = resolver(question, encoder(question))
        logits[longest] = {text: float(out.span_logits[0, s]) for s, text in enumerate(out.span_texts[0])
                           if out.span_mask[0, s]}
    moved = {text: logits[True][text] - logits[False][text] for text in logits[False]}
    assert moved["Glory"] == pytest.approx(-ResolverConfig.prior_init)
    assert moved["Days of Glory"] == pytest.approx(0.0)
    assert all(v <= 1e-6 for v in moved.values())
