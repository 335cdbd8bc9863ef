"""A tour of grilly on the best available backend: grad, vmap, jit and a scan (a LIF neuron population).

Run:  python examples/demo.py
"""

from __future__ import annotations

import time

import numpy as np

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
import grilly.random as gr


def main() -> None:
    print(f"grilly {grilly.__version__} on backend: {grilly.default_backend()}  devices: {grilly.devices()}")
    key = gr.PRNGKey(0)
    k_w, k_x, k_in = gr.split(key, 3)

    # grad: a least-squares fit by gradient descent
    x = gr.normal(k_x, (256, 8))
    w_true = gnp.arange(8.0) / 8.0
    y = x @ w_true

    def loss(w):
        return gnp.mean((x @ w - y) ** 2)

    step = grilly.jit(lambda w: w - 0.1 * grilly.grad(loss)(w))
    w = gnp.zeros(8)
    for _ in range(200):
        w = step(w)
    print(f"grad+jit: least-squares fit, loss {float(loss(w)):.2e}, max |w - w_true| "
          f"{float(gnp.max(gnp.abs(w - w_true))):.2e}")

    # vmap: per-example gradients without a Python loop
    per_example = grilly.vmap(grilly.grad(lambda w, xi, yi: (xi @ w - yi) ** 2), in_axes=(None, 0, 0))
    g = per_example(w, x, y)
    print(f"vmap(grad): per-example gradients {g.shape}, mean equals the batch gradient: "
          f"{np.allclose(np.asarray(g).mean(0), np.asarray(grilly.grad(loss)(w)), atol=1e-5)}")

    # scan: 1000 leaky integrate-and-fire neurons over 100 steps, and the gradient through time
    currents = gr.uniform(k_in, (100, 1000), minval=0.5, maxval=2.0)

    def simulate(scale):
        def lif(v, i_t):
            h = v + (scale * i_t - v) / 2.0  # tau = 2
            s = (h >= 1.0).astype(gnp.float32)
            return h * (1.0 - s), s

        _, spikes = lax.scan(lif, gnp.zeros(1000), currents)
        return spikes

    t0 = time.perf_counter()
    spikes = grilly.jit(simulate)(1.0)
    rate = float(gnp.mean(spikes))
    print(f"scan: 1000 LIF neurons x 100 steps, mean firing rate {rate:.3f} "
          f"({(time.perf_counter() - t0) * 1e3:.0f} ms with compilation)")
    smooth = grilly.grad(lambda s: gnp.mean(lax.scan(lambda v, i: (0.5 * v + s * i, v), gnp.zeros(1000),
                                                    currents)[1]))(1.0)
    print(f"grad through scan: d(mean potential)/d(scale) = {float(smooth):.4f}")
    print(grilly.make_program(lambda a, b: gnp.tanh(a @ b).sum())(gnp.ones((2, 3)), gnp.ones((3, 4))))


if __name__ == "__main__":
    main()
