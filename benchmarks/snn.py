"""Suites 1 and 2 of BENCHMARKS.md: SNN Linear+LIF training step and the LIF-only microbenchmark, grilly side by
side with SpikingJelly (torch and triton backends), snnTorch and JAX on the same GPU.

    python benchmarks/snn.py [--quick]
"""

from __future__ import annotations

import argparse
import math

from _timing import attempt, grilly_sync, jax_sync, median_ms, row, torch_sync

# ---- grilly -----------------------------------------------------------------------------------------------

def grilly_lif_only(T, N, backward=True):
    import grilly
    import grilly.numpy as gnp
    import grilly.random as gr
    from grilly import snn

    x = gr.uniform(gr.PRNGKey(0), (T, N))
    sur = snn.surrogate.atan(alpha=2.0)

    def loss(x):
        spikes, _ = snn.lif_scan(x, tau=2.0, surrogate=sur)
        return gnp.sum(spikes)

    fn = grilly.jit(grilly.grad(loss)) if backward else grilly.jit(lambda x: snn.lif_scan(x, tau=2.0, surrogate=sur)[0])
    return median_ms(lambda: fn(x), grilly_sync)


def grilly_linear_lif(T, B, N, precision=None):
    import grilly
    import grilly.numpy as gnp
    import grilly.random as gr
    from grilly import snn

    k1, k2 = gr.split(gr.PRNGKey(0))
    x = gr.normal(k1, (T, B, N))
    w = gr.normal(k2, (N, N)) * (1.0 / math.sqrt(N))
    b = gnp.zeros(N)
    sur = snn.surrogate.atan(alpha=2.0)

    def loss(w, b):
        h = gnp.matmul(x, w.T, precision=precision) + b
        spikes, _ = snn.lif_scan(h, tau=2.0, surrogate=sur)
        return gnp.sum(spikes)

    fn = grilly.jit(grilly.grad(loss, argnums=(0, 1)))
    _reset_peak()
    return median_ms(lambda: fn(w, b), grilly_sync, warmup=2, reps=5)


def _reset_peak():
    """Start the high-water mark from the memory held now (inputs included, as torch's max_memory_allocated
    does), after the frees still waiting for the GPU (the input generation's temporaries) have landed."""
    try:
        from grilly.core.backend.vulkan import get_runtime

        rt = get_runtime()
        rt.reclaim(wait=True)
        pool = rt.device_pool
        pool.peak = pool.in_use
    except Exception:  # NumPy backend: no device pool
        pass


# ---- peers ------------------------------------------------------------------------------------------------

def _sj_use(backend):
    """SpikingJelly 2.0 picks its LIF kernels per device (SJ_LIF_CUDA_IMPLEMENTATION=auto|cuda|triton|torch)."""
    import spikingjelly._ops.lif as sj_lif

    sj_lif._selection._requested = backend
    sj_lif._selection._selections.clear()


def sj_lif_only(T, N, backend, backward=True):
    import torch
    from spikingjelly.activation_based import neuron, surrogate

    _sj_use(backend)
    lif = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), step_mode="m").cuda()
    x = torch.rand(T, N, device="cuda", requires_grad=backward)

    def run():
        lif.reset()
        s = lif(x)
        if backward:
            s.sum().backward()
        return s

    return median_ms(run, torch_sync)


def sj_linear_lif(T, B, N, backend):
    import torch
    from spikingjelly.activation_based import neuron, surrogate

    torch.backends.cuda.matmul.allow_tf32 = False
    _sj_use(backend)
    fc = torch.nn.Linear(N, N).cuda()
    lif = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), step_mode="m").cuda()
    x = torch.randn(T, B, N, device="cuda")

    def run():
        lif.reset()
        fc.zero_grad(set_to_none=True)
        s = lif(fc(x))
        s.sum().backward()
        return s

    torch.cuda.reset_peak_memory_stats()
    ms = median_ms(run, torch_sync, warmup=2, reps=5)
    return ms, torch.cuda.max_memory_allocated() / 2**20


def snntorch_linear_lif(T, B, N):
    import snntorch
    import torch
    from snntorch import surrogate

    torch.backends.cuda.matmul.allow_tf32 = False
    fc = torch.nn.Linear(N, N).cuda()
    lif = snntorch.Leaky(beta=0.5, spike_grad=surrogate.atan(), reset_mechanism="subtract").cuda()
    x = torch.randn(T, B, N, device="cuda")

    def run():
        mem = lif.init_leaky()
        fc.zero_grad(set_to_none=True)
        total = 0
        for t in range(T):
            s, mem = lif(fc(x[t]), mem)
            total = total + s.sum()
        total.backward()
        return total

    return median_ms(run, torch_sync, warmup=1, reps=3)


def _jax_heaviside():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def spike(u):
        return (u >= 0).astype(u.dtype)

    def fwd(u):
        return spike(u), u

    def bwd(u, g):
        a = 2.0
        return (g * a / 2 / (1 + (math.pi / 2 * a * u) ** 2),)

    spike.defvjp(fwd, bwd)
    return spike, jnp


def jax_lif_only(T, N, backward=True):
    import jax

    spike, jnp = _jax_heaviside()

    def run(x):
        def step(v, xt):
            h = v + (xt - v) / 2.0
            s = spike(h - 1.0)
            return h * (1 - s), s

        _, s = jax.lax.scan(step, jnp.zeros(N), x)
        return s.sum()

    x = jax.random.uniform(jax.random.PRNGKey(0), (T, N))
    fn = jax.jit(jax.grad(run)) if backward else jax.jit(run)
    return median_ms(lambda: fn(x), jax_sync)


def jax_linear_lif(T, B, N, precision="highest"):
    import jax

    spike, jnp = _jax_heaviside()
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(k1, (T, B, N))
    w = jax.random.normal(k2, (N, N)) / math.sqrt(N)
    b = jnp.zeros(N)

    def loss(w, b):
        h = jnp.matmul(x, w.T, precision=precision) + b

        def step(v, ht):
            hh = v + (ht - v) / 2.0
            s = spike(hh - 1.0)
            return hh * (1 - s), s

        _, s = jax.lax.scan(step, jnp.zeros((B, N)), h)
        return s.sum()

    fn = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return median_ms(lambda: fn(w, b), jax_sync, warmup=2, reps=5)


def grilly_peak_mib():
    try:
        from grilly.core.backend.vulkan import get_runtime

        return get_runtime().device_pool.peak / 2**20
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--suites", default="1,2", help="which suites to run, e.g. 2")
    args = ap.parse_args()
    suites = {int(v) for v in args.suites.split(",")}
    n_big = 2**16 if args.quick else 2**20
    if 2 not in suites:
        T_list = ()
    else:
        T_list = (8, 32, 128)
        print(f"== suite 2: LIF only, N={n_big}, tau=2, ATan, sum(spikes) ==")
    for T in T_list:
        for bwd in (False, True):
            tag = "fwd+bwd" if bwd else "fwd"
            g = attempt("grilly", lambda: grilly_lif_only(T, n_big, bwd))
            print(row(f"T={T} {tag} grilly", g))
            for be in ("torch", "triton"):
                print(row(f"T={T} {tag} SpikingJelly {be}", attempt(f"SJ {be}", lambda: sj_lif_only(T, n_big, be, bwd)),
                          g))
            print(row(f"T={T} {tag} JAX lax.scan + custom_vjp", attempt("JAX", lambda: jax_lif_only(T, n_big, bwd)), g))
    if 1 not in suites:
        return
    T, B = (50, 16) if args.quick else (500, 16)
    sizes = (1024,) if args.quick else (4096, 8192, 16384)
    print(f"== suite 1: Linear(N,N)+LIF, T={T}, B={B}, fwd+bwd of sum(spikes), grads of W and b ==")
    for N in sizes:
        g = attempt("grilly", lambda: grilly_linear_lif(T, B, N))
        print(row(f"N={N} grilly fp32", g, extra=f"peak {grilly_peak_mib()} MiB"))
        g16 = attempt("grilly reduced", lambda: grilly_linear_lif(T, B, N, precision="fastest"))
        print(row(f"N={N} grilly reduced precision", g16, g))
        for be in ("torch", "triton"):
            r = attempt(f"SJ {be}", lambda: sj_linear_lif(T, B, N, be))
            print(row(f"N={N} SpikingJelly {be}", r[0] if r else None, g, f"peak {r[1]:.0f} MiB" if r else ""))
        if N <= 4096:
            st = attempt("snnTorch", lambda: snntorch_linear_lif(T, B, N))
            print(row(f"N={N} snnTorch Leaky (loop over T)", st, g))
        print(row(f"N={N} JAX jit(grad) precision=highest", attempt("JAX", lambda: jax_linear_lif(T, B, N)), g))
        print(row(f"N={N} JAX jit(grad) TF32", attempt("JAX", lambda: jax_linear_lif(T, B, N, "tensorfloat32")), g))


if __name__ == "__main__":
    main()
