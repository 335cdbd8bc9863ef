"""Suite 4 of BENCHMARKS.md: overheads. Eager dispatch of a tiny op (host us/op), jit replay of a 100-op
elementwise program on 1024 elements (us/call with sync; JAX jit on the same GPU as the peer), upload and
download of 256 MiB (GB/s), first-call latency with and without the pipeline disk cache, and a jitted MLP
training step (64-256-10, batch 128, Adam) against eager grilly and PyTorch (steps/s).

    python benchmarks/overheads.py            # --quick: small sizes (CPU Vulkan)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # run from a checkout
from _timing import attempt, grilly_sync, jax_sync, median_ms

QUICK = "--quick" in sys.argv
N_OPS, N_ELEMS = 100, 1024
BIG = (1 << 20 if QUICK else 256 << 20) // 4  # float32 elements of the transfer test


def chain(np_like):
    """The 100-op elementwise program: sin/cos/tanh/exp/add/mul in a fixed pattern, values kept bounded."""
    def f(x):
        for i in range(N_OPS // 4):
            x = np_like.sin(x) * 0.5 + np_like.tanh(x) if i % 2 else np_like.cos(x) * 0.9 - x * 0.1
        return x

    return f


def eager_tiny_op():
    import grilly.numpy as gnp

    x = gnp.ones(4)
    n = 2000 if not QUICK else 300
    y = x + x
    y.block_until_ready()
    t0 = time.perf_counter()
    for _ in range(n):
        y = x + x
    host = (time.perf_counter() - t0) / n * 1e6
    y.block_until_ready()
    synced = median_ms(lambda: x + x, grilly_sync, warmup=10, reps=200) * 1e3
    return host, synced


def jit_replay():
    import grilly
    import grilly.numpy as gnp
    from grilly.core.backend.vulkan.jit import replay_info

    f = grilly.jit(chain(gnp))
    x = gnp.asarray(np.linspace(-1, 1, N_ELEMS, dtype=np.float32))
    synced = median_ms(lambda: f(x), grilly_sync, warmup=10, reps=300) * 1e3
    n = 300
    out = f(x)
    t0 = time.perf_counter()
    for _ in range(n):
        out = f(x)
    host = (time.perf_counter() - t0) / n * 1e6
    out.block_until_ready()
    want = chain(np)(np.linspace(-1, 1, N_ELEMS, dtype=np.float32))
    err = float(np.abs(np.asarray(out) - want).max())
    (entry,) = f._cache.values()
    eager = median_ms(lambda: chain(gnp)(x), grilly_sync, warmup=3, reps=20) * 1e3
    return synced, host, eager, err, replay_info(entry[0])


def jax_replay():
    import jax
    import jax.numpy as jnp

    f = jax.jit(chain(jnp))
    x = jnp.asarray(np.linspace(-1, 1, N_ELEMS, dtype=np.float32))
    return median_ms(lambda: f(x), jax_sync, warmup=10, reps=300) * 1e3


def transfers():
    import grilly
    import grilly.numpy as gnp

    a = np.random.default_rng(0).standard_normal(BIG).astype(np.float32)
    up = median_ms(lambda: gnp.asarray(a), grilly_sync, warmup=2, reps=5)
    x = gnp.asarray(a)
    grilly.block_until_ready(x)

    def down():
        x._buf.host = None  # measure the transfer, not the cached host copy
        return np.asarray(x)

    dn = median_ms(down, lambda _: None, warmup=2, reps=5)
    return a.nbytes / up / 1e6, a.nbytes / dn / 1e6


_FIRST_CALL = r"""
import time, numpy as np
t0 = time.perf_counter()
import grilly, grilly.numpy as gnp
from grilly import lax
t1 = time.perf_counter()
x = gnp.asarray(np.ones((64, 64), np.float32))
np.asarray(x)
t2 = time.perf_counter()
y = (gnp.tanh(x @ x) + 1.0).sum(axis=0)
s = lax.cumsum(gnp.sort(y))
np.asarray(s)
t3 = time.perf_counter()
print(f"{(t3 - t0) * 1e3:.1f} {(t1 - t0) * 1e3:.1f} {(t2 - t1) * 1e3:.1f} {(t3 - t2) * 1e3:.1f}")
"""


def first_call():
    """A fresh process: import, a matmul, a few elementwise ops, a reduction, sort, cumsum. Per run (ms):
    total, import, device start + first upload, the first ops (pipeline creation)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        times = []
        for _ in range(2):  # cold (empty pipeline cache), then warm (the first run's cache on disk)
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True,
                                 check=True)
            times.append([float(t) for t in out.stdout.strip().splitlines()[-1].split()])
        return times


def mlp_steps():
    from training import grilly_mlp, torch_mlp

    return {
        "grilly eager": attempt("grilly eager", lambda: grilly_mlp(False)),
        "grilly jit": attempt("grilly jit", lambda: grilly_mlp(True)),
        "PyTorch eager": attempt("torch", torch_mlp),
    }


def main():
    import grilly

    if grilly.default_backend() != "vulkan":
        print("overheads: the Vulkan backend is not available; nothing to measure")
        return
    from grilly.core.backend.vulkan import get_runtime

    print(f"== suite 4: overheads on {get_runtime().info.name} ==")
    host, synced = eager_tiny_op()
    print(f"  eager tiny op (add, 4 elements)      {host:8.1f} us/op host   {synced:8.1f} us/op with sync")
    synced, host, eager, err, info = jit_replay()
    print(f"  jit replay, {N_OPS}-op program, {N_ELEMS} el.   {synced:8.1f} us/call with sync "
          f"{host:8.1f} us/call host   (eager: {eager:8.1f} us; max err {err:.1e}; {info})")
    jx = attempt("jax", jax_replay)
    if jx is not None:
        print(f"  JAX jit, same program                {jx:8.1f} us/call with sync   x{synced / jx:.2f} grilly/JAX")
    up, dn = transfers()
    print(f"  upload {BIG * 4 >> 20} MiB                        {up:8.2f} GB/s        download {dn:8.2f} GB/s")
    for label, (total, imp, dev, ops) in zip(("empty pipeline cache", "with the disk cache"), first_call()):
        print(f"  first call (fresh process), {label:<21} {total:8.1f} ms  (import {imp:.1f}, device + first "
              f"upload {dev:.1f}, first ops {ops:.1f})")
    print("== jitted MLP training step, 64-256-10, batch 128, Adam: steps/s ==")
    for k, v in mlp_steps().items():
        print(f"  {k:<16} {'unavailable' if v is None else f'{v:10.1f} steps/s'}")


if __name__ == "__main__":
    main()
