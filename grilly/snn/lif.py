"""Functional leaky integrate-and-fire neurons with explicit state and time-major input ``(T, ...)``.

``lif_step`` is one step written with grilly ops (it composes with any transform and any surrogate, custom
ones included); ``lif_scan`` runs a whole sequence through the fused ``lif_scan`` primitive (one Vulkan dispatch
forward, one backward) when the surrogate is built in, else through ``lax.scan`` over ``lif_step``.

Time constants are given as ``(dt, tau)`` with a = dt/tau per step. The defaults (dt=1, tau=2) are
SpikingJelly's ``LIFNode`` (τ in steps); Norse's ``LIFBox`` is ``dt=1e-3, tau=1/tau_mem_inv`` with v_leak =
v_reset. See docs/snn.md for the equations and conventions.
"""

from __future__ import annotations

import math

from grilly import lax
from grilly.core.array import asarray_concrete
from grilly.core.trace import Tracer
from grilly.snn import surrogate as _sg
from grilly.snn.lif_primitive import _charge, lif_scan_p
from grilly.transforms import stop_gradient


def _canon(x):
    return x if isinstance(x, Tracer) else asarray_concrete(x)


def decay_factor(dt: float, tau: float) -> float:
    """a = dt / tau (0 for tau = inf: no leak)."""
    if tau <= 0 or dt < 0:
        raise ValueError(f"need tau > 0 and dt >= 0, got tau={tau}, dt={dt}")
    return 0.0 if math.isinf(tau) else float(dt) / float(tau)


def _reset(h, s, v_th, v_reset, detach_reset):
    s_r = stop_gradient(s) if detach_reset else s
    if v_reset is None:
        return h - v_th * s_r
    return h * (1.0 - s_r) + v_reset * s_r


def lif_step(v, x, *, tau: float = 2.0, dt: float = 1.0, v_th: float = 1.0, v_reset: float | None = 0.0,
             decay_input: bool = True, fire_at_equal: bool = True, detach_reset: bool = False,
             surrogate: _sg.Surrogate | str | None = None):
    """One LIF step: charge, fire, reset. Returns ``(spike, v_new)`` with ``v_new`` the post-reset potential.

    ``v_reset=None`` is the soft reset (subtract ``v_th``); ``surrogate`` defaults to ``atan(alpha=2)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> s, v = snn.lif_step(gnp.zeros(2), gnp.asarray([0.6, 2.5]))
    >>> s.tolist(), v.tolist()
    ([0.0, 1.0], [0.30000001192092896, 0.0])
    """
    sg = _sg.get(surrogate)
    v, x = _canon(v), _canon(x)
    a = decay_factor(dt, tau)
    v_r = 0.0 if v_reset is None else float(v_reset)
    h = _charge(v, x, a, v_r, decay_input)
    s = sg(h - v_th, fire_at_equal)
    return s, _reset(h, s, v_th, v_reset, detach_reset)


def lif_scan(xs, v0=None, *, tau: float = 2.0, dt: float = 1.0, v_th: float = 1.0, v_reset: float | None = 0.0,
             decay_input: bool = True, fire_at_equal: bool = True, detach_reset: bool = False,
             surrogate: _sg.Surrogate | str | None = None, fused: bool | None = None, return_h: bool = False):
    """Run LIF neurons over time-major input ``xs`` of shape ``(T, ...)``; returns ``(spikes, v_seq)``.

    ``v_seq[t]`` is the post-reset potential after step t; with ``return_h=True`` the pre-reset potential H is
    returned third. ``fused`` (default: whenever the surrogate is built in) picks the fused primitive over
    ``lax.scan(lif_step)``; both give the same values and gradients.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> s, v = snn.lif_scan(gnp.asarray([0.6, 0.6, 0.6, 0.6, 1.5, 0.0, 0.6, 0.6]))
    >>> s.tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    """
    sg = _sg.get(surrogate)
    xs = _canon(xs)
    if xs.ndim < 1:
        raise ValueError(f"lif_scan: xs needs a leading time axis, got shape {xs.shape}")
    if v0 is None:
        from grilly.numpy import zeros

        v0 = zeros(xs.shape[1:], xs.dtype)
    v0 = _canon(v0).astype(xs.dtype)
    if v0.shape != xs.shape[1:]:
        from grilly.numpy import broadcast_to

        v0 = broadcast_to(v0, xs.shape[1:])
    a = decay_factor(dt, tau)
    fused = sg.fusable if fused is None else bool(fused)
    if fused:
        if not sg.fusable:
            raise ValueError(f"lif_scan(fused=True) needs a built-in surrogate, got {sg!r}")
        spikes, vs, hs = lif_scan_p.bind(xs, v0, a=a, v_th=float(v_th),
                                         v_reset=None if v_reset is None else float(v_reset),
                                         decay_input=bool(decay_input), fire_at_equal=bool(fire_at_equal),
                                         detach_reset=bool(detach_reset), surrogate=sg)
        return (spikes, vs, hs) if return_h else (spikes, vs)
    v_r = 0.0 if v_reset is None else float(v_reset)

    def body(v, x):
        h = _charge(v, x, a, v_r, decay_input)
        s = sg(h - v_th, fire_at_equal)
        v_new = _reset(h, s, v_th, v_reset, detach_reset)
        return v_new, (s, v_new, h)

    _, (spikes, vs, hs) = lax.scan(body, v0, xs)
    return (spikes, vs, hs) if return_h else (spikes, vs)


def if_step(v, x, *, v_th: float = 1.0, v_reset: float | None = 0.0, fire_at_equal: bool = True,
            detach_reset: bool = False, surrogate=None):
    """Integrate-and-fire (no leak): H = V + x. Returns ``(spike, v_new)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> snn.if_step(gnp.asarray([0.5]), gnp.asarray([0.5]))[0].tolist()
    [1.0]
    """
    return lif_step(v, x, tau=math.inf, v_th=v_th, v_reset=v_reset, decay_input=False,
                    fire_at_equal=fire_at_equal, detach_reset=detach_reset, surrogate=surrogate)


def if_scan(xs, v0=None, *, v_th: float = 1.0, v_reset: float | None = 0.0, fire_at_equal: bool = True,
            detach_reset: bool = False, surrogate=None, fused: bool | None = None):
    """Integrate-and-fire over time-major ``xs`` (the fused LIF kernel with a = 0); returns ``(spikes, v_seq)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> snn.if_scan(gnp.full((4,), 0.4))[0].tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    return lif_scan(xs, v0, tau=math.inf, v_th=v_th, v_reset=v_reset, decay_input=False,
                    fire_at_equal=fire_at_equal, detach_reset=detach_reset, surrogate=surrogate, fused=fused)
