"""GPT-2 as grilly pytree modules, converted from a transformers ``GPT2Model`` / ``GPT2LMHeadModel`` state dict.

GPT-2 stores its projections as ``Conv1D`` with ``(in, out)`` weights; they are transposed once at conversion
so every projection is a ``Linear`` with PyTorch's ``(out, in)`` layout.

>>> import numpy as np
>>> cfg = dict(vocab_size=11, n_embd=4, n_layer=1, n_head=2, n_positions=8, layer_norm_epsilon=1e-5)
>>> rng = np.random.default_rng(0)
>>> sd = {k: rng.normal(size=s).astype(np.float32) for k, s in gpt2_state_shapes(cfg).items()}
>>> GPT2Model.from_state_dict(sd, cfg)(np.array([[1, 2, 3]])).last_hidden_state.shape
(1, 3, 4)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import grilly.functional as F
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
from grilly.utils.tensor_conversion import to_numpy, to_vulkan


class GPT2Output(NamedTuple):
    last_hidden_state: object
    logits: object = None


def _conv1d(sd, p):
    """A GPT-2 Conv1D (``x @ W + b`` with ``W`` of shape (in, out)) as a Linear."""
    return Linear(to_vulkan(np.ascontiguousarray(to_numpy(sd[p + ".weight"]).T)), to_vulkan(sd[p + ".bias"]))


def _norm(sd, p, eps):
    return LayerNorm(to_vulkan(sd[p + ".weight"]), to_vulkan(sd[p + ".bias"]), eps=eps)


class GPT2Block(Module):
    ln_1: LayerNorm
    c_attn: Linear  # (3 * embd, embd): query, key and value in one projection
    attn_proj: Linear
    ln_2: LayerNorm
    c_fc: Linear
    mlp_proj: Linear
    num_heads: int = static()
    act: str = static(default="gelu_new")

    def __call__(self, h, mask):
        qkv = self.c_attn(self.ln_1(h))
        q, k, v = (split_heads(t, self.num_heads) for t in gnp.split(qkv, 3, axis=-1))
        h = h + self.attn_proj(attention(q, k, v, mask, causal=True))
        return h + self.mlp_proj(activation(self.act)(self.c_fc(self.ln_2(h))))


class GPT2Model(Module):
    """GPT-2: ``model(input_ids, attention_mask=None) -> GPT2Output`` (``logits`` when converted with the LM
    head, whose weight is tied to the token embedding as in transformers)."""

    wte: Embedding
    wpe: Embedding
    blocks: tuple
    ln_f: LayerNorm
    lm_head: bool = static(default=False)

    def __call__(self, input_ids, attention_mask=None) -> GPT2Output:
        ids = to_vulkan(input_ids)
        s = ids.shape[1]
        h = self.wte(ids) + self.wpe.weight[:s][None]
        keep = None if attention_mask is None else (to_vulkan(attention_mask) != 0)[:, None, None, :]
        for block in self.blocks:
            h = block(h, keep)
        h = self.ln_f(h)
        return GPT2Output(h, F.linear(h, self.wte.weight) if self.lm_head else None)

    @classmethod
    def from_state_dict(cls, sd: dict, config: dict, prefix: str = "", lm_head: bool = False) -> GPT2Model:
        """Build from a ``GPT2Model`` state dict (``prefix="transformer."`` for ``GPT2LMHeadModel``)."""
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        eps = float(config.get("layer_norm_epsilon", 1e-5))
        blocks = []
        for i in range(int(config["n_layer"])):
            p = f"h.{i}."
            blocks.append(GPT2Block(
                _norm(sd, p + "ln_1", eps), _conv1d(sd, p + "attn.c_attn"), _conv1d(sd, p + "attn.c_proj"),
                _norm(sd, p + "ln_2", eps), _conv1d(sd, p + "mlp.c_fc"), _conv1d(sd, p + "mlp.c_proj"),
                num_heads=int(config["n_head"]), act=str(config.get("activation_function", "gelu_new"))))
        return cls(Embedding(to_vulkan(sd["wte.weight"])), Embedding(to_vulkan(sd["wpe.weight"])), tuple(blocks),
                   _norm(sd, "ln_f", eps), lm_head=lm_head)


def gpt2_state_shapes(config: dict) -> dict:
    """Parameter names and shapes of a ``GPT2Model`` with this config."""
    e, inner = config["n_embd"], config.get("n_inner") or 4 * config["n_embd"]
    out = {"wte.weight": (config["vocab_size"], e), "wpe.weight": (config["n_positions"], e),
           "ln_f.weight": (e,), "ln_f.bias": (e,)}
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        for name, (n, o) in {"attn.c_attn": (e, 3 * e), "attn.c_proj": (e, e), "mlp.c_fc": (e, inner),
                             "mlp.c_proj": (inner, e)}.items():
            out[p + name + ".weight"], out[p + name + ".bias"] = (n, o), (o,)
        for name in ("ln_1", "ln_2"):
            out[p + name + ".weight"], out[p + name + ".bias"] = (e,), (e,)
    return out
