"""Plasticity: trace-based STDP and Hebbian rules as pure functions (usable inside ``lax.scan``) and as
update directions beside an optimizer.

Weights are ``(n_post, n_pre)`` (as a Linear layer's ``weight``); spikes and traces are ``(batch, n)`` or ``(n,)``.
STDP follows SpikingJelly's ``stdp_linear_single_step``:

    trace_pre  <- trace_pre  - trace_pre / tau_pre   + s_pre        (decay="linear"; "exp": * exp(-dt/tau))
    trace_post <- trace_post - trace_post / tau_post + s_post
    dW = -f_pre(W) * (trace_post ⊗ s_pre) + f_post(W) * (s_post ⊗ trace_pre)      (summed over the batch)

``dW`` is the change to add to ``W``: long-term potentiation when a post spike follows pre activity, depression
when a pre spike follows post activity. SpingJelly applies it as ``weight.grad -= dW`` so that an optimizer
step performs the update; ``as_gradient(dW)`` gives that gradient here. With ``decay="exp"`` the traces are
BindsNET's (``PostPre`` with nu = (f_pre, f_post) constants).

>>> import grilly.numpy as gnp
>>> from grilly import snn
>>> w = gnp.ones((1, 1))
>>> tr = snn.stdp_init(1, 1)
>>> tr, dw = snn.stdp_step(w, tr, gnp.ones((1,)), gnp.zeros((1,)), tau_pre=2.0, tau_post=2.0)   # pre spikes
>>> tr, dw = snn.stdp_step(w, tr, gnp.zeros((1,)), gnp.ones((1,)), tau_pre=2.0, tau_post=2.0)   # then post
>>> dw.tolist()   # potentiation by the pre trace 1 - 1/2
[[0.5]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import grilly.numpy as gnp
from grilly.snn.lif import _canon


class STDPTraces(NamedTuple):
    pre: object
    post: object


def stdp_init(n_pre: int, n_post: int, batch: tuple = (), dtype=None) -> STDPTraces:
    """Zero traces for ``n_pre`` inputs and ``n_post`` outputs (with optional leading batch shape)."""
    dt = dtype or gnp.float32
    return STDPTraces(gnp.zeros((*batch, n_pre), dt), gnp.zeros((*batch, n_post), dt))


def trace_update(trace, spikes, tau: float, *, decay: str = "linear", dt: float = 1.0):
    """trace - trace/tau + s (``"linear"``, SpikingJelly/snnTorch) or trace·exp(-dt/tau) + s (``"exp"``)."""
    trace, spikes = _canon(trace), _canon(spikes)
    if decay == "linear":
        return trace - trace / tau + spikes
    if decay == "exp":
        return trace * math.exp(-dt / tau) + spikes
    raise ValueError(f"decay must be 'linear' or 'exp', got {decay!r}")


def _outer_sum(post, pre):
    """Σ_batch post ⊗ pre as (n_post, n_pre)."""
    post2, pre2 = post.reshape((-1, post.shape[-1])), pre.reshape((-1, pre.shape[-1]))
    return post2.T @ pre2


def _const(f):
    return f if callable(f) else (lambda w, _c=float(f): _c)


def stdp_step(w, traces: STDPTraces, s_pre, s_post, *, tau_pre: float = 2.0, tau_post: float = 2.0,
              f_pre: Callable | float = 1.0, f_post: Callable | float = 1.0, decay: str = "linear",
              dt: float = 1.0):
    """One STDP step: new traces and the weight change ``dW`` (shape of ``w``). ``f_pre``/``f_post`` are the
    depression/potentiation amplitudes, constants or functions of ``W`` (SpikingJelly's defaults are identity:
    pass ``lambda w: w``)."""
    w, s_pre, s_post = _canon(w), _canon(s_pre), _canon(s_post)
    pre = trace_update(traces.pre, s_pre, tau_pre, decay=decay, dt=dt)
    post = trace_update(traces.post, s_post, tau_post, decay=decay, dt=dt)
    dw = -_const(f_pre)(w) * _outer_sum(post, s_pre) + _const(f_post)(w) * _outer_sum(s_post, pre)
    return STDPTraces(pre, post), dw


def stdp_scan(w, pre_seq, post_seq, traces: STDPTraces | None = None, **kw):
    """STDP over time-major spike trains (T, ..., n); returns ``(traces, dW summed over time)`` (W held fixed)."""
    from grilly import lax

    w, pre_seq, post_seq = _canon(w), _canon(pre_seq), _canon(post_seq)
    if traces is None:
        traces = STDPTraces(gnp.zeros(pre_seq.shape[1:], pre_seq.dtype), gnp.zeros(post_seq.shape[1:], w.dtype))

    def body(carry, sp):
        tr, acc = carry
        tr, dw = stdp_step(w, tr, sp[0], sp[1], **kw)
        return (tr, acc + dw), None

    (traces, dw), _ = lax.scan(body, (traces, gnp.zeros(w.shape, w.dtype)), (pre_seq, post_seq))
    return traces, dw


def hebbian_step(w, pre, post, *, lr: float = 0.01, decay: float = 0.0):
    """Hebbian change ``lr·(post ⊗ pre) - decay·W`` (summed over a batch); returns dW."""
    w, pre, post = _canon(w), _canon(pre), _canon(post)
    return lr * _outer_sum(post, pre) - decay * w


def oja_step(w, pre, post, *, lr: float = 0.01):
    """Oja's rule ``lr·(y ⊗ x - y²·W)`` (keeps each row's norm bounded); returns dW."""
    w, pre, post = _canon(w), _canon(pre), _canon(post)
    y2 = gnp.sum((post * post).reshape((-1, post.shape[-1])), axis=0)
    return lr * (_outer_sum(post, pre) - y2[:, None] * w)


def as_gradient(dw):
    """The gradient an optimizer must see to apply ``dw`` (``w <- w - lr·g`` adds ``lr·dw``), as SpikingJelly's
    ``weight.grad -= dW``; works on pytrees: combine with a loss gradient by adding."""
    from grilly import tree

    return tree.map(lambda d: -d, dw)
