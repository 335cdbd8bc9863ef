"""HuggingFace bridge against transformers on tiny randomly initialized BERT and GPT-2 models (built here,
nothing downloaded): hidden states, pooled output and logits within 1e-4 in fp32, eager and under jit."""

import numpy as np
import pytest

import grilly
from grilly.utils import get_huggingface_bridge
from grilly.utils.huggingface import BertModel, GPT2Model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
TOL = dict(rtol=1e-4, atol=1e-4)


def _bert(hidden_act="gelu", cls_name="BertModel"):
    from transformers import BertConfig

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
                     max_position_embeddings=16, type_vocab_size=2, hidden_act=hidden_act)
    return getattr(transformers, cls_name)(cfg).eval()


def _inputs(batch=2, seq=7, vocab=40):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, seq - 2:] = 0
    return ids, mask, torch.randint(0, 2, (batch, seq), generator=g)


@pytest.mark.parametrize("act", ["gelu", "relu"])
def test_bert_matches_transformers(act):
    hf = _bert(act)
    ids, mask, tt = _inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=tt)
    model = get_huggingface_bridge().convert_transformer(hf)
    assert isinstance(model, BertModel)
    for out in (model(ids, mask, tt), grilly.jit(lambda m, a, b, c: m(a, b, c))(model, ids.numpy(), mask.numpy(),
                                                                             tt.numpy())):
        np.testing.assert_allclose(np.asarray(out.last_hidden_state), ref.last_hidden_state.numpy(), **TOL)
        np.testing.assert_allclose(np.asarray(out.pooler_output), ref.pooler_output.numpy(), **TOL)


def test_bert_head_models_convert_their_encoder():
    hf = _bert(cls_name="BertForMaskedLM")
    ids, mask, _ = _inputs()
    with torch.no_grad():
        ref = hf.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    out = get_huggingface_bridge().convert_transformer(hf)(ids, mask)
    np.testing.assert_allclose(np.asarray(out.last_hidden_state), ref.numpy(), **TOL)


def test_readme_huggingface_example():
    hf_model = _bert()
    input_ids, _, _ = _inputs()
    bridge = get_huggingface_bridge()
    vulkan_model = bridge.convert_transformer(hf_model)
    embedding = vulkan_model(input_ids)
    with torch.no_grad():
        ref = hf_model(input_ids)
    np.testing.assert_allclose(np.asarray(embedding.last_hidden_state), ref.last_hidden_state.numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(embedding[1]), ref.pooler_output.numpy(), **TOL)


@pytest.mark.parametrize("lm_head", [False, True])
def test_gpt2_matches_transformers(lm_head):
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers import GPT2Model as HFGPT2

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=40, n_embd=16, n_layer=2, n_head=4, n_positions=16, bos_token_id=0, eos_token_id=0)
    hf = (GPT2LMHeadModel if lm_head else HFGPT2)(cfg).eval()
    ids, mask, _ = _inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    model = get_huggingface_bridge().convert_transformer(hf)
    assert isinstance(model, GPT2Model) and model.lm_head == lm_head
    out = grilly.jit(lambda m, a, b: m(a, b))(model, ids.numpy(), mask.numpy())
    keep = mask.numpy().astype(bool)  # right padding: compare the real tokens
    np.testing.assert_allclose(np.asarray(out.last_hidden_state)[keep], ref.hidden_states[-1].numpy()[keep], **TOL)
    if lm_head:
        np.testing.assert_allclose(np.asarray(out.logits)[keep], ref.logits.numpy()[keep], **TOL)


def test_dtype_cast_and_unsupported_models():
    hf = _bert()
    model = get_huggingface_bridge().convert_transformer(hf, dtype=np.float16)
    assert model.embeddings.word.weight.dtype == np.float16
    from transformers import DistilBertConfig, DistilBertModel

    tiny = DistilBertModel(DistilBertConfig(vocab_size=20, dim=8, n_layers=1, n_heads=2, hidden_dim=16))
    with pytest.raises(NotImplementedError, match="distilbert"):
        get_huggingface_bridge().convert_transformer(tiny)


def test_bert_gradients_match_torch_autograd():
    """Converted models are differentiable: grilly.grad of a loss equals torch autograd's weight gradients."""
    import grilly.numpy as gnp

    hf = _bert()
    ids, mask, _ = _inputs()
    r = torch.randn(2, 7, 16, generator=torch.Generator().manual_seed(2))
    out = hf(input_ids=ids, attention_mask=mask)
    ((out.last_hidden_state * r).sum() + out.pooler_output.sum()).backward()
    model = get_huggingface_bridge().convert_transformer(hf)
    rg = gnp.asarray(r.numpy())

    def loss(m):
        o = m(ids.numpy(), mask.numpy())
        return gnp.sum(o.last_hidden_state * rg) + gnp.sum(o.pooler_output)

    g = grilly.jit(grilly.grad(loss))(model)
    pairs = [(g.layers[0].query.weight, hf.encoder.layer[0].attention.self.query.weight),
             (g.embeddings.word.weight, hf.embeddings.word_embeddings.weight),
             (g.layers[1].out_norm.weight, hf.encoder.layer[1].output.LayerNorm.weight),
             (g.pooler.weight, hf.pooler.dense.weight)]
    for ours, p in pairs:
        want = p.grad.numpy()
        np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
