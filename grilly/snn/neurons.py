"""More neuron models as explicit-state step functions (grilly ops with a surrogate spike) and their scans.

Each ``*_step(state..., x)`` returns ``(spike, *new_state)``; each ``*_scan(xs, ...)`` runs ``lax.scan`` over
time-major ``xs`` and returns ``(spikes, state sequences...)``. Time constants are (dt, tau), a = dt/tau.

- ``cuba_lif``: current-based LIF (Norse ``LIF``): i ← i + x; H = V + a_mem((v_leak − V) + i); i ← i − a_syn·i.
- ``alif``: adaptive threshold (Bellec et al. 2018): θ_eff = v_th + β·b; b ← b − a_adapt·b + S.
- ``lif_refrac``: LIF with a refractory period (Norse ``lif_refrac``): a counter of steps, reset to
  ``refractory`` on a spike; while it is positive, V is frozen and spikes are masked.
- ``izhikevich``: Izhikevich (2003) with (a, b, c, d) and Euler steps of ``dt`` ms.
"""

from __future__ import annotations

from grilly import lax
from grilly.snn import surrogate as _sg
from grilly.snn.lif import _canon, _reset, decay_factor


def _zeros(xs):
    """A zero state for one step of time-major ``xs``."""
    from grilly.numpy import zeros

    return zeros(xs.shape[1:], xs.dtype)


def cuba_lif_step(v, i, x, *, tau_mem: float = 2.0, tau_syn: float = 1.0, dt: float = 1.0, v_th: float = 1.0,
                  v_reset: float | None = 0.0, v_leak: float = 0.0, fire_at_equal: bool = True,
                  detach_reset: bool = False, surrogate=None):
    """Current-based LIF step; returns ``(spike, v, i)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> s, v, i = snn.cuba_lif_step(gnp.zeros(1), gnp.zeros(1), gnp.ones(1) * 4.0)
    >>> s.tolist(), i.tolist()
    ([1.0], [0.0])
    """
    sg = _sg.get(surrogate)
    v, i, x = _canon(v), _canon(i), _canon(x)
    i = i + x
    h = v + decay_factor(dt, tau_mem) * ((v_leak - v) + i)
    s = sg(h - v_th, fire_at_equal)
    return s, _reset(h, s, v_th, v_reset, detach_reset), i - decay_factor(dt, tau_syn) * i


def cuba_lif_scan(xs, v0=None, i0=None, **kw):
    """Current-based LIF over time-major ``xs``; returns ``(spikes, v_seq, i_seq)``."""
    return _scan_two_states(cuba_lif_step, xs, v0, i0, kw)


def alif_step(v, b, x, *, tau: float = 2.0, tau_adapt: float = 20.0, beta: float = 0.2, dt: float = 1.0,
              v_th: float = 1.0, v_reset: float | None = 0.0, decay_input: bool = True, fire_at_equal: bool = True,
              detach_reset: bool = False, surrogate=None):
    """Adaptive-threshold LIF step; ``b`` is the adaptation variable. Returns ``(spike, v, b)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> s, v, b = snn.alif_step(gnp.zeros(1), gnp.ones(1) * 5.0, gnp.ones(1) * 2.5)
    >>> s.tolist()  # the raised threshold 1 + 0.2 * 5 = 2 is not reached by H = 1.25
    [0.0]
    """
    sg = _sg.get(surrogate)
    v, b, x = _canon(v), _canon(b), _canon(x)
    a = decay_factor(dt, tau)
    v_r = 0.0 if v_reset is None else v_reset
    h = v + (x - (v - v_r)) * a if decay_input else v - (v - v_r) * a + x
    th = v_th + beta * b
    s = sg(h - th, fire_at_equal)
    s_r = lax.stop_gradient(s) if detach_reset else s
    v_new = h - th * s_r if v_reset is None else h * (1.0 - s_r) + v_reset * s_r
    return s, v_new, b - decay_factor(dt, tau_adapt) * b + s


def alif_scan(xs, v0=None, b0=None, **kw):
    """Adaptive LIF over time-major ``xs``; returns ``(spikes, v_seq, b_seq)``."""
    return _scan_two_states(alif_step, xs, v0, b0, kw)


def lif_refrac_step(v, rho, x, *, refractory: int = 5, tau: float = 2.0, dt: float = 1.0, v_th: float = 1.0,
                    v_reset: float | None = 0.0, decay_input: bool = True, fire_at_equal: bool = True,
                    detach_reset: bool = False, surrogate=None):
    """LIF step with a refractory period of ``refractory`` steps; ``rho`` counts the steps left.

    Returns ``(spike, v, rho)``. While ``rho > 0`` the potential is frozen and no spike is emitted.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> s, v, rho = snn.lif_refrac_step(gnp.zeros(1), gnp.zeros(1), gnp.ones(1) * 3.0, refractory=2)
    >>> s.tolist(), rho.tolist()
    ([1.0], [2.0])
    """
    from grilly.numpy import maximum, where

    sg = _sg.get(surrogate)
    v, rho, x = _canon(v), _canon(rho), _canon(x)
    a = decay_factor(dt, tau)
    v_r = 0.0 if v_reset is None else v_reset
    h = v + (x - (v - v_r)) * a if decay_input else v - (v - v_r) * a + x
    active = (rho <= 0).astype(h.dtype)
    h = where(rho > 0, v, h)
    s = sg(h - v_th, fire_at_equal) * active
    v_new = _reset(h, s, v_th, v_reset, detach_reset)
    s_c = lax.stop_gradient(s)
    rho_new = s_c * float(refractory) + (1.0 - s_c) * maximum(rho - 1.0, 0.0)
    return s, v_new, rho_new


def lif_refrac_scan(xs, v0=None, rho0=None, **kw):
    """LIF with a refractory period over time-major ``xs``; returns ``(spikes, v_seq, rho_seq)``.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> snn.lif_refrac_scan(gnp.full((6,), 3.0), refractory=2)[0].tolist()
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """
    return _scan_two_states(lif_refrac_step, xs, v0, rho0, kw)


def izhikevich_step(v, u, x, *, a: float = 0.02, b: float = 0.2, c: float = -65.0, d: float = 8.0,
                    dt: float = 1.0, v_peak: float = 30.0, detach_reset: bool = True, surrogate=None):
    """Izhikevich neuron step (v in mV, x in the model's current units, dt in ms). Returns ``(spike, v, u)``.

    v' = 0.04v² + 5v + 140 − u + x; u' = a(bv − u); on v ≥ v_peak: v ← c, u ← u + d.

    >>> import grilly.numpy as gnp
    >>> from grilly import snn
    >>> v, u = gnp.full((1,), -65.0), gnp.full((1,), -13.0)
    >>> spikes = 0.0
    >>> for _ in range(100):
    ...     s, v, u = snn.izhikevich_step(v, u, gnp.full((1,), 10.0))
    ...     spikes += float(s[0])
    >>> spikes > 0
    True
    """
    sg = _sg.get(surrogate)
    v, u, x = _canon(v), _canon(u), _canon(x)
    v_new = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + x)
    u_new = u + dt * a * (b * v - u)
    s = sg(v_new - v_peak)
    s_r = lax.stop_gradient(s) if detach_reset else s
    return s, v_new * (1.0 - s_r) + c * s_r, u_new + d * s_r


def izhikevich_scan(xs, v0=None, u0=None, **kw):
    """Izhikevich neurons over time-major ``xs``; returns ``(spikes, v_seq, u_seq)``. Defaults: v = c, u = b·c."""
    xs = _canon(xs)
    c, b = kw.get("c", -65.0), kw.get("b", 0.2)
    return _scan_two_states(izhikevich_step, xs, _zeros(xs) + c if v0 is None else v0,
                            _zeros(xs) + b * c if u0 is None else u0, kw)


def _scan_two_states(step, xs, a0, b0, kw):
    """``step(a, b, x, **kw) -> (spike, a, b)`` over time-major ``xs`` from ``(a0, b0)`` (zeros where None);
    returns ``(spikes, a_seq, b_seq)``."""
    xs = _canon(xs)
    a0 = _zeros(xs) if a0 is None else a0
    b0 = _zeros(xs) if b0 is None else b0

    def body(carry, x):
        s, a, b = step(*carry, x, **kw)
        return (a, b), (s, a, b)

    return lax.scan(body, (a0, b0), xs)[1]
