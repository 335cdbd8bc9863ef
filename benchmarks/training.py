"""Suite 5 of BENCHMARKS.md: training steps per second, grilly (eager and jit) against PyTorch and JAX on the
same GPU, for the MLP of BENCHMARKS.md (64-256-10, batch 128, Adam), the MLP of examples/mlp_digits.py
(64-128-10) and a spiking MLP (64-128-10 LIF, T=16, BPTT with an ATan surrogate).

    python benchmarks/training.py
"""

from __future__ import annotations

import math

import numpy as np
from _timing import attempt, grilly_sync, jax_sync, median_ms, torch_sync

B, D_IN, D_H, D_OUT, T = 128, 64, 256, 10, 16


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((B, D_IN)).astype(np.float32), rng.integers(0, D_OUT, B).astype(np.int32)


def grilly_mlp(use_jit: bool, spiking: bool = False):
    import grilly
    import grilly.numpy as gnp
    from grilly import optim

    x_np, y_np = _data()
    x, y = gnp.asarray(x_np), gnp.asarray(y_np)
    rng = np.random.default_rng(1)
    h = D_H // 2 if spiking else D_H
    params = {"w1": gnp.asarray(rng.standard_normal((D_IN, h)).astype(np.float32) / 8),
              "b1": gnp.zeros(h), "w2": gnp.asarray(rng.standard_normal((h, D_OUT)).astype(np.float32) / 16),
              "b2": gnp.zeros(D_OUT)}
    opt = optim.adam(1e-3)
    state = opt.init(params)

    def forward(p):
        z = x @ p["w1"] + p["b1"]
        if spiking:
            from grilly import snn

            spikes, _ = snn.lif_scan(gnp.broadcast_to(z, (T, *z.shape)), tau=2.0, surrogate=snn.surrogate.atan())
            z = gnp.mean(spikes, axis=0)
        else:
            z = gnp.maximum(z, 0.0)
        logits = z @ p["w2"] + p["b2"]
        logp = logits - gnp.logsumexp(logits, axis=1, keepdims=True)
        return -gnp.mean(gnp.take_along_axis(logp, y[:, None], axis=1))

    def step(p, s):
        g = grilly.grad(forward)(p)
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s

    fn = grilly.jit(step, donate_argnums=(0, 1)) if use_jit else step
    box = [params, state]

    def run():
        box[0], box[1] = fn(box[0], box[1])
        return box[0]

    return 1e3 / median_ms(run, grilly_sync, warmup=5, reps=50)


def torch_mlp(spiking: bool = False):
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    x_np, y_np = _data()
    x, y = torch.tensor(x_np, device=dev), torch.tensor(y_np, device=dev).long()
    h = D_H // 2 if spiking else D_H
    model = torch.nn.Sequential(torch.nn.Linear(D_IN, h), torch.nn.ReLU(), torch.nn.Linear(h, D_OUT)).to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return (u >= 0).float()

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            return g / (1 + (math.pi * u) ** 2)

    def loss_fn():
        if not spiking:
            return torch.nn.functional.cross_entropy(model(x), y)
        z = model[0](x)
        v, acc = torch.zeros_like(z), 0
        for _ in range(T):
            hh = v + (z - v) / 2
            s = Spike.apply(hh - 1)
            v = hh * (1 - s)
            acc = acc + s
        return torch.nn.functional.cross_entropy(model[2](acc / T), y)

    def run():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    return 1e3 / median_ms(run, torch_sync, warmup=5, reps=50)


def jax_mlp(spiking: bool = False):
    import jax
    import jax.numpy as jnp
    import optax

    x_np, y_np = _data()
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    rng = np.random.default_rng(1)
    h = D_H // 2 if spiking else D_H
    params = {"w1": jnp.asarray(rng.standard_normal((D_IN, h)).astype(np.float32) / 8), "b1": jnp.zeros(h),
              "w2": jnp.asarray(rng.standard_normal((h, D_OUT)).astype(np.float32) / 16), "b2": jnp.zeros(D_OUT)}
    opt = optax.adam(1e-3)
    state = opt.init(params)

    @jax.custom_vjp
    def spike(u):
        return (u >= 0).astype(u.dtype)

    spike.defvjp(lambda u: (spike(u), u), lambda u, g: (g / (1 + (math.pi * u) ** 2),))

    def loss(p):
        z = x @ p["w1"] + p["b1"]
        if spiking:
            def stepf(v, _):
                hh = v + (z - v) / 2
                s = spike(hh - 1)
                return hh * (1 - s), s

            _, s = jax.lax.scan(stepf, jnp.zeros_like(z), None, length=T)
            z = s.mean(0)
        else:
            z = jax.nn.relu(z)
        logits = z @ p["w2"] + p["b2"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @jax.jit
    def step(p, s):
        g = jax.grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    box = [params, state]

    def run():
        box[0], box[1] = step(box[0], box[1])
        return box[0]

    return 1e3 / median_ms(run, jax_sync, warmup=5, reps=50)


def main():
    global D_H
    for spiking, hidden in ((False, 256), (False, 128), (True, 256)):
        D_H = hidden
        name = "spiking MLP 64-128-10, T=16" if spiking else f"MLP 64-{hidden}-10"
        print(f"== suite 5: {name}, batch {B}, Adam: steps/s ==")
        res = {
            "grilly eager": attempt("grilly eager", lambda: grilly_mlp(False, spiking)),
            "grilly jit": attempt("grilly jit", lambda: grilly_mlp(True, spiking)),
            "PyTorch eager": attempt("torch", lambda: torch_mlp(spiking)),
            "JAX jit": attempt("jax", lambda: jax_mlp(spiking)),
        }
        for k, v in res.items():
            print(f"  {k:<16} {'unavailable' if v is None else f'{v:10.1f} steps/s'}")


if __name__ == "__main__":
    main()
