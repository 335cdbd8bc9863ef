"""SNN modules: neuron layers, spiking Linear/Conv blocks, a recurrent LIF layer and a leaky readout.

Modules are ``grilly.nn.Module`` pytrees: weights are leaves, neuron settings are static. They take
time-major input ``(T, batch, ...)`` and return spikes ``(T, batch, ...)``; ``.scan`` also returns the state
sequence, so layers chain in ``nn.Sequential`` and compose with ``grad``/``jit``/``vmap``.

>>> import grilly.numpy as gnp, grilly.random as gr
>>> from grilly import snn
>>> layer = snn.SpikingLinear(4, 3, key=gr.PRNGKey(0))
>>> layer(gnp.ones((5, 2, 4))).shape
(5, 2, 3)
"""

from __future__ import annotations

import math
from typing import Any

import grilly.numpy as gnp
import grilly.random as gr
from grilly import lax
from grilly.nn.module import Module, static
from grilly.snn import neurons
from grilly.snn import surrogate as _sg
from grilly.snn.coding import leaky_integrate
from grilly.snn.lif import lif_scan, lif_step


class LIF(Module):
    """Leaky integrate-and-fire layer (no weights). ``LIF()(xs)`` gives spikes; ``.scan(xs, v0)`` gives
    ``(spikes, v_seq)``; ``.step(v, x)`` one step. Settings as ``snn.lif_scan``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> snn.LIF(tau=2.0)(gnp.full((3, 1), 1.5)).tolist()
    [[0.0], [1.0], [0.0]]
    """

    tau: float = static(default=2.0)
    dt: float = static(default=1.0)
    v_th: float = static(default=1.0)
    v_reset: float | None = static(default=0.0)
    decay_input: bool = static(default=True)
    fire_at_equal: bool = static(default=True)
    detach_reset: bool = static(default=False)
    surrogate: Any = static(default=None)

    def _kw(self):
        return dict(tau=self.tau, dt=self.dt, v_th=self.v_th, v_reset=self.v_reset, decay_input=self.decay_input,
                    fire_at_equal=self.fire_at_equal, detach_reset=self.detach_reset,
                    surrogate=_sg.get(self.surrogate))

    def scan(self, xs, v0=None):
        return lif_scan(xs, v0, **self._kw())

    def step(self, v, x):
        return lif_step(v, x, **self._kw())

    def __call__(self, xs, *, key=None):
        return self.scan(xs)[0]


class IF(LIF):
    """Integrate-and-fire layer: LIF without leak (tau = inf, input added directly)."""

    tau: float = static(default=math.inf)
    decay_input: bool = static(default=False)


class ALIF(Module):
    """Adaptive-threshold LIF layer (``snn.alif_scan``); ``.scan(xs)`` gives ``(spikes, v_seq, b_seq)``."""

    tau: float = static(default=2.0)
    tau_adapt: float = static(default=20.0)
    beta: float = static(default=0.2)
    dt: float = static(default=1.0)
    v_th: float = static(default=1.0)
    v_reset: float | None = static(default=0.0)
    surrogate: Any = static(default=None)

    def scan(self, xs, v0=None, b0=None):
        return neurons.alif_scan(xs, v0, b0, tau=self.tau, tau_adapt=self.tau_adapt, beta=self.beta, dt=self.dt,
                                 v_th=self.v_th, v_reset=self.v_reset, surrogate=_sg.get(self.surrogate))

    def __call__(self, xs, *, key=None):
        return self.scan(xs)[0]


def _uniform(key, shape, bound):
    return gr.uniform(key, shape, gnp.float32, -bound, bound)


class SpikingLinear(Module):
    """``LIF(xs @ weight.T + bias)``: a dense layer driving LIF neurons, over time-major input (T, ..., in)."""

    weight: Any
    bias: Any
    neuron: LIF

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, neuron: LIF | None = None,
                 key=None, **neuron_kw):
        from grilly.nn.init import resolve_key

        wk, bk = gr.split(resolve_key(key))
        bound = 1.0 / math.sqrt(in_features)
        self.weight = _uniform(wk, (out_features, in_features), bound)
        self.bias = _uniform(bk, (out_features,), bound) if bias else None
        self.neuron = neuron if neuron is not None else LIF(**neuron_kw)

    def current(self, xs):
        y = xs @ self.weight.T
        return y if self.bias is None else y + self.bias

    def scan(self, xs, v0=None):
        return self.neuron.scan(self.current(xs), v0)

    def __call__(self, xs, *, key=None):
        return self.scan(xs)[0]


class SpikingConv2d(Module):
    """``LIF(conv2d(x))`` per time step over time-major NCHW input (T, N, C, H, W); weight (out, in, kh, kw)."""

    weight: Any
    bias: Any
    neuron: LIF
    stride: tuple = static(default=(1, 1))
    padding: Any = static(default="SAME")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple = 3, *, stride=1,
                 padding="SAME", bias: bool = True, neuron: LIF | None = None, key=None, **neuron_kw):
        from grilly.nn.init import resolve_key

        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        wk, bk = gr.split(resolve_key(key))
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = _uniform(wk, (out_channels, in_channels, kh, kw), bound)
        self.bias = _uniform(bk, (out_channels,), bound) if bias else None
        self.neuron = neuron if neuron is not None else LIF(**neuron_kw)
        self.stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.padding = padding if isinstance(padding, str) else tuple(tuple(p) for p in padding)

    def current(self, xs):
        steps, n = xs.shape[:2]
        flat = xs.reshape((steps * n, *xs.shape[2:]))  # time folded into the batch: one convolution
        y = lax.conv_general_dilated(flat, self.weight, self.stride, self.padding)
        if self.bias is not None:
            y = y + self.bias.reshape((1, -1, 1, 1))
        return y.reshape((steps, n, *y.shape[1:]))

    def scan(self, xs, v0=None):
        return self.neuron.scan(self.current(xs), v0)

    def __call__(self, xs, *, key=None):
        return self.scan(xs)[0]


class RecurrentLIF(Module):
    """A recurrent LIF layer: I[t] = x[t] @ w_in.T + S[t-1] @ w_rec.T + bias, then one LIF step (unfused scan).

    ``.scan(xs)`` gives ``(spikes, v_seq)`` for input (T, batch, in)."""

    w_in: Any
    w_rec: Any
    bias: Any
    neuron: LIF

    def __init__(self, in_features: int, hidden: int, *, neuron: LIF | None = None, key=None, **neuron_kw):
        from grilly.nn.init import resolve_key

        k1, k2, k3 = gr.split(resolve_key(key), 3)
        self.w_in = _uniform(k1, (hidden, in_features), 1.0 / math.sqrt(in_features))
        self.w_rec = _uniform(k2, (hidden, hidden), 1.0 / math.sqrt(hidden))
        self.bias = _uniform(k3, (hidden,), 1.0 / math.sqrt(in_features))
        self.neuron = neuron if neuron is not None else LIF(**neuron_kw)

    def scan(self, xs, state=None):
        hidden = self.w_rec.shape[0]
        if state is None:
            z = gnp.zeros((*xs.shape[1:-1], hidden), xs.dtype)
            state = (z, z)
        w_in, w_rec, bias, neuron = self.w_in, self.w_rec, self.bias, self.neuron

        def body(carry, x):
            v, s = carry
            s, v = neuron.step(v, x @ w_in.T + s @ w_rec.T + bias)
            return (v, s), (s, v)

        return lax.scan(body, state, xs)[1]

    def __call__(self, xs, *, key=None):
        return self.scan(xs)[0]


class LeakyReadout(Module):
    """A non-spiking leaky integrator over time (``snn.leaky_integrate``), read out as max/mean/last."""

    tau: float = static(default=2.0)
    dt: float = static(default=1.0)
    reduce: str = static(default="max")

    def __call__(self, xs, *, key=None):
        from grilly.snn.coding import membrane_readout

        return membrane_readout(leaky_integrate(xs, tau=self.tau, dt=self.dt), self.reduce)

__all__ = ["ALIF", "IF", "LIF", "LeakyReadout", "RecurrentLIF", "SpikingConv2d", "SpikingLinear"]
