"""Spike encoders (values -> time-major spike trains) and decoders (spike trains / potentials -> values).

>>> import grilly.numpy as gnp, grilly.random as gr
>>> from grilly import snn
>>> snn.rate_encode(gr.PRNGKey(0), gnp.asarray([0.0, 1.0]), num_steps=3).tolist()
[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
>>> snn.latency_encode(gnp.asarray([1.0, 0.5, 0.0]), num_steps=3).tolist()
[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import math

import grilly.numpy as gnp
import grilly.random as gr
from grilly.snn.lif import _canon


def rate_encode(key, x, num_steps: int, *, gain: float = 1.0, dtype=None):
    """Bernoulli (rate) coding: each step spikes with probability ``clip(gain * x, 0, 1)``; shape (T, *x.shape)."""
    x = _canon(x)
    p = gnp.clip(x * gain, 0.0, 1.0)
    bits = gr.bernoulli(key, p, (int(num_steps), *x.shape))
    return bits.astype(dtype or (x.dtype if x.dtype.kind == "f" else gnp.float32))


def poisson_encode(key, rates, num_steps: int, *, dt: float = 1e-3, dtype=None):
    """Poisson coding of ``rates`` in Hz over steps of ``dt`` seconds (spike probability ``rates * dt``)."""
    return rate_encode(key, rates, num_steps, gain=dt, dtype=dtype)


def latency_encode(x, num_steps: int, *, linear: bool = True, tau: float = 5.0, threshold: float = 0.01,
                   dtype=None):
    """Latency (time-to-first-spike) coding of ``x`` in [0, 1]: one spike per input, earlier for larger values.

    ``linear``: t = round((1 - x)(T - 1)); otherwise the RC form t = tau·ln(x / (x - threshold)), clipped to T-1.
    Inputs at or below ``threshold`` never spike.
    """
    x = gnp.clip(_canon(x), 0.0, 1.0)
    steps = int(num_steps)
    if linear:
        t = gnp.round((1.0 - x) * (steps - 1))
    else:
        safe = gnp.maximum(x, threshold + 1e-7)
        t = gnp.minimum(gnp.round(tau * gnp.log(safe / (safe - threshold))), float(steps - 1))
    fires = x > threshold
    ts = gnp.arange(steps, dtype=t.dtype).reshape((steps,) + (1,) * x.ndim)
    out = (ts == t) & fires
    return out.astype(dtype or x.dtype)


def delta_encode(xs, threshold: float = 0.1, *, off_spikes: bool = False, dtype=None):
    """Delta modulation of a time-major signal: a spike where x[t] - x[t-1] >= threshold (x[-1] = 0);
    with ``off_spikes`` a -1 where it falls by at least ``threshold``."""
    xs = _canon(xs)
    prev = gnp.concatenate([gnp.zeros((1, *xs.shape[1:]), xs.dtype), xs[:-1]], axis=0)
    d = xs - prev
    out = (d >= threshold).astype(dtype or xs.dtype)
    if off_spikes:
        out = out - (d <= -threshold).astype(out.dtype)
    return out


def rate_decode(spikes):
    """The firing rate per neuron: the mean over the time axis 0."""
    return gnp.mean(_canon(spikes), axis=0)


def spike_count(spikes):
    """Spikes per neuron: the sum over the time axis 0."""
    return gnp.sum(_canon(spikes), axis=0)


def first_spike_time(spikes):
    """The step of each neuron's first spike (float), ``T`` where a neuron never fires."""
    spikes = _canon(spikes)
    steps = spikes.shape[0]
    first = gnp.argmax(spikes > 0, axis=0).astype(spikes.dtype)
    return gnp.where(gnp.max(spikes, axis=0) > 0, first, float(steps))


def membrane_readout(v_seq, reduce: str = "max"):
    """A value per neuron from a potential sequence (T, ...): its ``"max"``, ``"mean"`` or ``"last"`` entry."""
    v_seq = _canon(v_seq)
    if reduce == "max":
        return gnp.max(v_seq, axis=0)
    if reduce == "mean":
        return gnp.mean(v_seq, axis=0)
    if reduce == "last":
        return v_seq[-1]
    raise ValueError(f"membrane_readout: reduce must be 'max', 'mean' or 'last', got {reduce!r}")


def leaky_integrate(xs, v0=None, *, tau: float = 2.0, dt: float = 1.0):
    """A non-spiking leaky integrator (readout neuron): v[t] = v[t-1] + (x[t] - v[t-1])·dt/tau; returns v (T, ...).

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> snn.leaky_integrate(gnp.ones((3,))).tolist()
    [0.5, 0.75, 0.875]
    """
    from grilly import lax

    xs = _canon(xs)
    a = float(dt) / float(tau) if not math.isinf(tau) else 0.0
    v0 = gnp.zeros(xs.shape[1:], xs.dtype) if v0 is None else v0

    def body(v, x):
        v = v + (x - v) * a
        return v, v

    return lax.scan(body, v0, xs)[1]
