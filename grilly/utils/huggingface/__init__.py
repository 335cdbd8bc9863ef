"""The HuggingFace bridge: transformers models (BERT family, GPT-2) and sentence-transformers encoders become
grilly pytree modules that run on the grilly backend and work under ``grilly.jit``. Tokenization stays with
transformers. transformers and torch are never imported here; the bridge reads the model's ``config`` and
``state_dict()``.

>>> bridge = get_huggingface_bridge()
>>> sorted(bridge.supported_model_types)
['bert', 'gpt2']
"""

from __future__ import annotations

from grilly.nn.module import Module, static
from grilly.utils.huggingface.bert import BertModel, BertOutput, bert_state_shapes
from grilly.utils.huggingface.gpt2 import GPT2Model, GPT2Output, gpt2_state_shapes
from grilly.utils.huggingface.layers import l2_normalize, mean_pooling
from grilly.utils.tensor_conversion import to_vulkan

# model_type values whose weights use BERT's layout (MiniLM checkpoints are "bert")
_BERT_TYPES = {"bert"}
_GPT2_TYPES = {"gpt2"}


class SentenceEncoder(Module):
    """A sentence-transformers pipeline: encoder, pooling ("mean" or "cls"), optional L2 normalization.

    ``encoder(input_ids, attention_mask) -> (batch, hidden)`` sentence embeddings.
    """

    model: BertModel
    pooling: str = static(default="mean")
    normalize: bool = static(default=True)

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None):
        import grilly.numpy as gnp

        ids = to_vulkan(input_ids)
        mask = gnp.ones(ids.shape, dtype="int32") if attention_mask is None else to_vulkan(attention_mask)
        h = self.model(ids, mask, token_type_ids).last_hidden_state
        emb = h[:, 0] if self.pooling == "cls" else mean_pooling(h, mask)
        return l2_normalize(emb) if self.normalize else emb


class HuggingFaceBridge:
    """Converts transformers / sentence-transformers models to grilly modules.

    >>> from transformers import BertConfig, BertModel as HFBert      # doctest: +SKIP
    >>> hf = HFBert(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                        intermediate_size=64)).eval()          # doctest: +SKIP
    >>> model = get_huggingface_bridge().convert_transformer(hf)      # doctest: +SKIP
    >>> out = grilly.jit(lambda m, ids: m(ids))(model, ids)           # doctest: +SKIP
    """

    supported_model_types = _BERT_TYPES | _GPT2_TYPES

    def convert_transformer(self, hf_model, dtype=None):
        """A grilly module equivalent to ``hf_model`` (a ``BertModel``/``BertFor*`` or ``GPT2Model``/
        ``GPT2LMHeadModel``); ``dtype`` casts the floating-point weights (default: keep them)."""
        config = _config_dict(hf_model)
        mtype = config.get("model_type")
        sd = _floating_cast(hf_model.state_dict(), dtype)
        if mtype in _BERT_TYPES:
            prefix = "bert." if any(k.startswith("bert.") for k in sd) else ""
            return BertModel.from_state_dict(sd, config, prefix=prefix)
        if mtype in _GPT2_TYPES:
            prefix = "transformer." if any(k.startswith("transformer.") for k in sd) else ""
            return GPT2Model.from_state_dict(sd, config, prefix=prefix, lm_head="lm_head.weight" in sd)
        raise NotImplementedError(f"model_type {mtype!r} is not supported; supported: "
                                  f"{', '.join(sorted(self.supported_model_types))}")

    def from_pretrained(self, model_dir, dtype=None):
        """A grilly module from a local HuggingFace model folder (``config.json`` + ``model.safetensors``), read
        with NumPy alone: neither torch nor transformers is needed. For a sentence-transformers folder (one with
        ``modules.json``) the result is a ``SentenceEncoder`` with its pooling and normalization."""
        import json
        import os

        from grilly.utils.safetensors_io import load_safetensors

        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
        weights = os.path.join(model_dir, "model.safetensors")
        if not os.path.exists(weights):
            raise FileNotFoundError(f"{weights} not found (only safetensors checkpoints load without torch; "
                                    "load others with transformers and use convert_transformer)")
        sd = _floating_cast(load_safetensors(weights), dtype)
        mtype = config.get("model_type")
        if mtype in _GPT2_TYPES:
            return GPT2Model.from_state_dict(sd, config, lm_head="lm_head.weight" in sd)
        if mtype not in _BERT_TYPES:
            raise NotImplementedError(f"model_type {mtype!r} is not supported")
        prefix = "bert." if any(k.startswith("bert.") for k in sd) else ""
        model = BertModel.from_state_dict(sd, config, prefix=prefix)
        modules = os.path.join(model_dir, "modules.json")
        if not os.path.exists(modules):
            return model
        with open(modules) as f:
            kinds = [m["type"].rsplit(".", 1)[-1] for m in json.load(f)]
        pooling = "mean"
        pool_cfg = os.path.join(model_dir, "1_Pooling", "config.json")
        if os.path.exists(pool_cfg):
            with open(pool_cfg) as f:
                pooling = "cls" if json.load(f).get("pooling_mode_cls_token") else "mean"
        return SentenceEncoder(model, pooling=pooling, normalize="Normalize" in kinds)

    def convert_sentence_transformer(self, st_model, dtype=None) -> SentenceEncoder:
        """A ``SentenceEncoder`` from a ``sentence_transformers.SentenceTransformer`` (Transformer, Pooling with
        mean or CLS tokens, optional Normalize)."""
        mods = list(st_model.children()) if hasattr(st_model, "children") else list(st_model)
        names = [type(m).__name__ for m in mods]
        if not names or names[0] != "Transformer":
            raise NotImplementedError(f"expected a Transformer first module, got {names}")
        hf = mods[0].auto_model
        pooling = "mean"
        for m in mods:
            if type(m).__name__ == "Pooling":
                mode = getattr(m, "pooling_mode", None) or _pooling_mode(m)
                if mode not in ("mean", "cls"):
                    raise NotImplementedError(f"pooling mode {mode!r} (supported: mean, cls)")
                pooling = mode
        model = self.convert_transformer(hf, dtype=dtype)
        if not isinstance(model, BertModel):
            raise NotImplementedError("sentence encoders are supported for BERT-family models")
        return SentenceEncoder(model, pooling=pooling, normalize="Normalize" in names)


def _pooling_mode(pooling) -> str:
    cfg = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_mean_tokens", True):
        return "mean"
    return "other"


def _config_dict(hf_model) -> dict:
    cfg = hf_model.config
    return cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)


def _floating_cast(sd: dict, dtype) -> dict:
    if dtype is None:
        return sd
    from grilly.utils.tensor_conversion import to_numpy

    out = {}
    for k, v in sd.items():
        a = to_numpy(v)
        out[k] = a.astype(dtype) if a.dtype.kind == "f" or a.dtype.name == "bfloat16" else a
    return out


_bridge: list[HuggingFaceBridge] = []


def get_huggingface_bridge() -> HuggingFaceBridge:
    """The process-wide ``HuggingFaceBridge``."""
    if not _bridge:
        _bridge.append(HuggingFaceBridge())
    return _bridge[0]


__all__ = [
    "BertModel", "BertOutput", "GPT2Model", "GPT2Output", "HuggingFaceBridge", "SentenceEncoder",
    "bert_state_shapes", "get_huggingface_bridge", "gpt2_state_shapes", "l2_normalize", "mean_pooling",
]
