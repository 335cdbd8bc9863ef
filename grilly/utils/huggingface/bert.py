"""BERT-family encoders (BERT, MiniLM, ...) as grilly pytree modules, converted from a transformers
``BertModel`` state dict. Outputs match transformers' ``last_hidden_state`` and ``pooler_output``.

>>> import numpy as np
>>> cfg = dict(vocab_size=10, hidden_size=4, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
...            max_position_embeddings=8, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")
>>> rng = np.random.default_rng(0)
>>> sd = {k: rng.normal(size=s).astype(np.float32) for k, s in bert_state_shapes(cfg).items()}
>>> out = BertModel.from_state_dict(sd, cfg)(np.array([[1, 2, 3]]))
>>> out.last_hidden_state.shape, out.pooler_output.shape
((1, 3, 4), (1, 4))
"""

from __future__ import annotations

from typing import NamedTuple

import grilly.numpy as gnp
from grilly.nn.module import Module, static
from grilly.utils.huggingface.layers import (
    Embedding,
    LayerNorm,
    Linear,
    activation,
    attention,
    split_heads,
)
from grilly.utils.tensor_conversion import to_vulkan


class BertOutput(NamedTuple):
    last_hidden_state: object
    pooler_output: object


def _get(sd, name):
    if name not in sd:
        raise KeyError(f"state dict has no {name!r} (is this a BERT-family model?)")
    return to_vulkan(sd[name])


def _linear(sd, p):
    return Linear(_get(sd, p + ".weight"), _get(sd, p + ".bias"))


def _norm(sd, p, eps):
    return LayerNorm(_get(sd, p + ".weight"), _get(sd, p + ".bias"), eps=eps)


class BertEmbeddings(Module):
    word: Embedding
    position: Embedding
    token_type: Embedding
    norm: LayerNorm

    def __call__(self, input_ids, token_type_ids):
        s = input_ids.shape[1]
        pos = self.position.weight[:s][None]
        return self.norm(self.word(input_ids) + pos + self.token_type(token_type_ids))


class BertLayer(Module):
    query: Linear
    key: Linear
    value: Linear
    attn_out: Linear
    attn_norm: LayerNorm
    intermediate: Linear
    output: Linear
    out_norm: LayerNorm
    num_heads: int = static()
    act: str = static(default="gelu")

    def __call__(self, h, mask):
        q, k, v = (split_heads(f(h), self.num_heads) for f in (self.query, self.key, self.value))
        h = self.attn_norm(h + self.attn_out(attention(q, k, v, mask)))
        return self.out_norm(h + self.output(activation(self.act)(self.intermediate(h))))


class BertModel(Module):
    """A BERT encoder: ``model(input_ids, attention_mask=None, token_type_ids=None) -> BertOutput``.

    Inputs may be grilly arrays, NumPy arrays or torch tensors (as a tokenizer returns them).
    """

    embeddings: BertEmbeddings
    layers: tuple
    pooler: Linear | None = None

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None) -> BertOutput:
        ids = to_vulkan(input_ids)
        tt = gnp.zeros_like(ids) if token_type_ids is None else to_vulkan(token_type_ids)
        h = self.embeddings(ids, tt)
        keep = None if attention_mask is None else (to_vulkan(attention_mask) != 0)[:, None, None, :]
        for layer in self.layers:
            h = layer(h, keep)
        pooled = None if self.pooler is None else gnp.tanh(self.pooler(h[:, 0]))
        return BertOutput(h, pooled)

    @classmethod
    def from_state_dict(cls, sd: dict, config: dict, prefix: str = "") -> BertModel:
        """Build from a ``BertModel`` state dict (name -> array or tensor) and its config as a dict."""
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise NotImplementedError(f"position_embedding_type {config['position_embedding_type']!r}")
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        eps = float(config.get("layer_norm_eps", 1e-12))
        e = "embeddings."
        emb = BertEmbeddings(
            Embedding(_get(sd, e + "word_embeddings.weight")), Embedding(_get(sd, e + "position_embeddings.weight")),
            Embedding(_get(sd, e + "token_type_embeddings.weight")), _norm(sd, e + "LayerNorm", eps))
        layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            layers.append(BertLayer(
                _linear(sd, p + "attention.self.query"), _linear(sd, p + "attention.self.key"),
                _linear(sd, p + "attention.self.value"), _linear(sd, p + "attention.output.dense"),
                _norm(sd, p + "attention.output.LayerNorm", eps), _linear(sd, p + "intermediate.dense"),
                _linear(sd, p + "output.dense"), _norm(sd, p + "output.LayerNorm", eps),
                num_heads=int(config["num_attention_heads"]), act=str(config.get("hidden_act", "gelu"))))
        pooler = _linear(sd, "pooler.dense") if "pooler.dense.weight" in sd else None
        return cls(emb, tuple(layers), pooler)


def bert_state_shapes(config: dict) -> dict:
    """Parameter names and shapes of a ``BertModel`` with this config (to build test models without torch)."""
    h, f = config["hidden_size"], config["intermediate_size"]
    out = {"embeddings.word_embeddings.weight": (config["vocab_size"], h),
           "embeddings.position_embeddings.weight": (config["max_position_embeddings"], h),
           "embeddings.token_type_embeddings.weight": (config["type_vocab_size"], h),
           "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,),
           "pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name, (o, n) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                             "attention.self.value": (h, h), "attention.output.dense": (h, h),
                             "intermediate.dense": (f, h), "output.dense": (h, f)}.items():
            out[p + name + ".weight"], out[p + name + ".bias"] = (o, n), (o,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            out[p + name + ".weight"], out[p + name + ".bias"] = (h,), (h,)
    return out
