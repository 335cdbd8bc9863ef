"""A spiking network trained with surrogate-gradient BPTT on scikit-learn's 8x8 digits.

Pixels are rate coded (Bernoulli spikes, probability = intensity) over T steps, drive a layer of LIF neurons
(the fused multi-step LIF kernel forward and backward), and a linear readout of the hidden spikes is averaged
over time into class scores. Training is Adam on the cross-entropy through the surrogate gradient (atan).

Run:  python examples/snn_digits.py [--epochs 15] [--steps 8] [--plot snn_digits_raster.png]
Needs scikit-learn; tqdm (progress bar) and matplotlib (raster plot) are optional.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import grilly
import grilly.functional as F
import grilly.nn as nn
import grilly.numpy as gnp
import grilly.optim as optim
import grilly.random as gr
from grilly import snn


class DigitsSNN(nn.Module):
    """Rate-coded input (T, B, 64) -> LIF hidden layer -> linear readout averaged over time -> logits (B, 10)."""

    hidden: snn.SpikingLinear
    readout: nn.Linear

    def __init__(self, n_hidden: int = 128, *, key=None):
        k1, k2 = gr.split(key if key is not None else gr.PRNGKey(0))
        self.hidden = snn.SpikingLinear(64, n_hidden, key=k1, tau=2.0, v_reset=None,
                                        surrogate=snn.surrogate.atan(2.0))
        self.readout = nn.Linear(n_hidden, 10, key=k2)

    def spikes(self, x_spikes):
        return self.hidden(x_spikes)

    def __call__(self, x_spikes, *, key=None):
        return gnp.mean(self.readout(self.spikes(x_spikes)), axis=0)


def load_data(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    return train_test_split(x, digits.target.astype(np.int32), test_size=0.25, random_state=seed,
                            stratify=digits.target)


def train(epochs: int = 15, steps: int = 8, n_hidden: int = 128, batch: int = 64, lr: float = 5e-3, seed: int = 0,
          progress: bool = True) -> dict:
    """Train and return ``{"model", "accuracy", "x_test", "y_test", "seconds"}``."""
    x_train, x_test, y_train, y_test = load_data(seed)
    key = gr.PRNGKey(seed)
    key, k_model = gr.split(key)
    model = DigitsSNN(n_hidden, key=k_model)
    opt = optim.adam(lr)
    opt_state = opt.init(model)

    def loss_fn(m, k, x, y):
        return F.cross_entropy(m(snn.rate_encode(k, x, steps)), y)

    @grilly.jit
    def update(m, s, k, x, y):
        loss, g = grilly.value_and_grad(loss_fn)(m, k, x, y)
        upd, s = opt.update(g, s, m)
        return optim.apply_updates(m, upd), s, loss

    predict = grilly.jit(lambda m, k, x: gnp.argmax(m(snn.rate_encode(k, x, steps)), axis=-1))
    n_batches = len(x_train) // batch
    rng = np.random.default_rng(seed)
    bar = _progress(epochs * n_batches, progress)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for b in range(n_batches):
            idx = order[b * batch:(b + 1) * batch]
            key, k = gr.split(key)
            model, opt_state, loss = update(model, opt_state, k, x_train[idx], y_train[idx])
            if bar is not None:
                bar.update(1)
                if b == n_batches - 1:
                    bar.set_postfix(loss=f"{float(loss):.3f}")
    if bar is not None:
        bar.close()
    pred = np.asarray(predict(model, gr.PRNGKey(seed + 1), x_test))
    return {"model": model, "accuracy": float(np.mean(pred == y_test)), "x_test": x_test, "y_test": y_test,
            "seconds": time.perf_counter() - t0, "steps": steps}


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="training", unit="batch")


def save_raster(result: dict, path: str) -> bool:
    """Plot the input and hidden spike rasters of one test digit; False (with a message) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the raster plot (pip install matplotlib)")
        return False
    x = result["x_test"][:1]
    in_spikes = snn.rate_encode(gr.PRNGKey(7), x, result["steps"])
    hid = np.asarray(result["model"].spikes(in_spikes))[:, 0]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 2, 2]})
    axes[0].imshow(x[0].reshape(8, 8), cmap="gray_r")
    axes[0].set_title(f"digit {result['y_test'][0]}")
    axes[0].axis("off")
    for ax, spikes, name in ((axes[1], np.asarray(in_spikes)[:, 0], "input"), (axes[2], hid, "hidden LIF")):
        t, n = np.nonzero(spikes)
        ax.scatter(t, n, s=4, marker="|", color="k")
        ax.set_xlabel("time step")
        ax.set_ylabel("neuron")
        ax.set_title(f"{name} spikes ({int(spikes.sum())})")
        ax.set_xlim(-0.5, spikes.shape[0] - 0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--steps", type=int, default=8, help="time steps per sample")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="snn_digits_raster.png", help="raster plot path ('' to skip)")
    args = ap.parse_args()
    print(f"grilly {grilly.__version__} on backend: {grilly.default_backend()}")
    res = train(args.epochs, args.steps, args.hidden, seed=args.seed)
    print(f"test accuracy: {100 * res['accuracy']:.1f}% ({len(res['y_test'])} digits, {args.steps} steps, "
          f"{res['seconds']:.1f} s training)")
    if args.plot and save_raster(res, args.plot):
        print(f"raster plot saved to {args.plot}")


if __name__ == "__main__":
    main()
