"""kgqa.minilm against transformers itself: the same weights under the same names, the same tokens,
bit-identical hidden states and attention maps, the same gradients; and no transformers import on
the way to an answer."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from kgqa.encoders import QuestionEncoder, _minilm_path
from kgqa.minilm import Bert, BertConfig, Tokenizer, load_minilm

TEXTS = ["Who wrote films starring Tom Hanks?", "What city is the [Mona Lisa] in?", "",
         "Ünïcode naïve café — 東京, l'œuvre", "word " * 100, "Padmé  Amidala\tin\nStar Wars: Episode II?"]


@pytest.fixture(scope="module")
def both():
    from transformers import AutoModel, AutoTokenizer

    path = _minilm_path()
    tok, bert = load_minilm(path)
    hf_tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    hf = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()
    return tok, bert, hf_tok, hf


def test_same_weights_under_the_same_names(both):
    _, bert, _, hf = both
    mine, theirs = bert.state_dict(), hf.state_dict()
    assert sorted(mine) == sorted(theirs)
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_same_tokens_offsets_word_ids_and_cut(both):
    tok, _, hf_tok, _ = both
    for max_length in (64, 8):
        mine = tok.encode(TEXTS, max_length)
        enc = hf_tok(TEXTS, truncation=True, max_length=max_length, padding=True, return_overflowing_tokens=True,
                     return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt")
        sample = enc["overflow_to_sample_mapping"]
        rows = [int(sample.tolist().index(i)) for i in range(len(TEXTS))]  # each text's first row
        for key in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping"):
            assert torch.equal(mine[key], enc[key][rows]), key
        assert mine["word_ids"] == [[-1 if w is None else w for w in enc.word_ids(r)] for r in rows]
        cut = torch.bincount(sample, minlength=len(TEXTS)) > 1
        assert torch.equal(mine["truncated"], cut) and bool(cut.any())


def test_word_pieces_as_transformers_names_them(both):
    tok, _, hf_tok, _ = both
    for text in TEXTS:
        assert tok.tokenize(text) == hf_tok.tokenize(text)
    ids = tok.encode(TEXTS[:2], 64)["input_ids"]
    assert tok.convert_ids_to_tokens(ids[0]) == hf_tok.convert_ids_to_tokens(ids[0].tolist())
    assert tok.convert_ids_to_tokens(101) == "[CLS]"


def test_bit_identical_hidden_states_and_attention_maps(both):
    tok, bert, _, hf = both
    enc = tok.encode(TEXTS, 64)
    inputs = dict(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"], attention_mask=enc["attention_mask"])
    with torch.no_grad():
        ours = bert(**inputs, output_attentions=True)
        theirs = hf(**inputs, output_attentions=True, return_dict=True)
    assert torch.equal(ours.last_hidden_state, theirs.last_hidden_state)
    assert len(ours.attentions) == 6 and all(torch.equal(a, b) for a, b in zip(ours.attentions, theirs.attentions))
    one = {k: v[:1, :12] for k, v in inputs.items()}  # no padding: no mask at all
    with torch.no_grad():
        assert torch.equal(bert(**one).last_hidden_state, hf(**one).last_hidden_state)


def test_same_gradients(both):
    tok, bert, _, hf = both
    enc = tok.encode(TEXTS[:3], 64)
    inputs = dict(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"], attention_mask=enc["attention_mask"])
    for model in (bert, hf):
        model.zero_grad()
        model(**inputs).last_hidden_state.pow(2).sum().backward()
    for (name, p), (_, q) in zip(sorted(bert.named_parameters()), sorted(hf.named_parameters())):
        if p.grad is None:
            assert q.grad is None or not q.grad.any(), name
        else:
            assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), name
    bert.zero_grad()
    hf.zero_grad()


def test_the_question_encoder_gives_what_it_gave_with_transformers(both):
    _, _, hf_tok, hf = both
    ours = QuestionEncoder("minilm", device="cpu")
    theirs = QuestionEncoder(hf, tokenizer=hf_tok, device="cpu", name="all-MiniLM-L6-v2")
    assert isinstance(ours.transformer, Bert) and isinstance(ours.tokenizer, Tokenizer)
    assert ours.fingerprint() == theirs.fingerprint() and ours.name == theirs.name and ours.dim == 384
    a, b = ours(TEXTS, attentions=True), theirs(TEXTS, attentions=True)
    for field in ("tokens", "mask", "attention_mask", "pooled", "offsets", "word_ids", "input_ids", "truncated"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert all(torch.equal(x, y) for x, y in zip(a.attentions, b.attentions))


def test_answering_never_imports_transformers(toy, tmp_path):
    """What makes ``kgqa ask`` start fast: the packaged encoder is loaded and run without it."""
    from kgqa.model import ModelConfig
    from kgqa.qa import QASystem

    QASystem.build(toy, ModelConfig(hidden=8), QuestionEncoder("minilm", device="cpu")).save_pretrained(tmp_path / "m")
    code = ("import sys; from kgqa.qa import QASystem; "
            f"s = QASystem.from_pretrained({str(tmp_path / 'm')!r}); "
            "s.explain('What city is the Mona Lisa in?', ['mona_lisa']); "
            "print(any(m == 'transformers' or m.startswith('transformers.') for m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_a_config_it_cannot_run_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, '
                                          '"num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "relu"}')
    with pytest.raises(ValueError, match="exact GELU"):
        BertConfig.from_file(tmp_path / "config.json")


def test_loading_draws_no_random_numbers():
    """transformers builds its model without drawing; so must this, or a seeded run that loads the
    encoder before building its model would initialise that model differently."""
    torch.manual_seed(0)
    load_minilm(_minilm_path())
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
