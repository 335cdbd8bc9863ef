"""The building blocks of optimizers (each a ``GradientTransformation``), as in optax.

Update functions are module-level (so two optimizers with the same structure have equal treedefs) and take
their hyperparameters as keywords; the state of each is a NamedTuple of arrays.

>>> import grilly.optim as optim, grilly.numpy as gnp
>>> opt = optim.scale(-0.5)
>>> opt.update(gnp.asarray([2.0]), opt.init(None))[0].tolist()
[-1.0]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import grilly.numpy as gnp
from grilly import tree
from grilly.core import dtypes
from grilly.optim.base import EmptyState, GradientTransformation, global_norm, zeros_like_tree


def _count0():
    return gnp.zeros((), dtypes.int32)


def _empty_init(params, **_):
    return EmptyState()


def _map(f, *trees):
    return tree.map(f, *trees)


# ---- scaling ----------------------------------------------------------------------------------------------


def _scale_update(updates, state, params, *, step_size):
    return _map(lambda g: g * step_size, updates), state


def scale(step_size: float) -> GradientTransformation:
    """Multiply updates by ``step_size``."""
    return GradientTransformation(_empty_init, _scale_update, step_size=float(step_size))


class ScaleByScheduleState(NamedTuple):
    count: Any


def _lr_init(params, **_):
    return ScaleByScheduleState(_count0())


def _lr_update(updates, state, params, *, learning_rate):
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    return _map(lambda g: g * (-lr), updates), ScaleByScheduleState(state.count + 1)


def scale_by_learning_rate(learning_rate) -> GradientTransformation:
    """Multiply updates by ``-learning_rate`` (a float, or a schedule ``count -> value``)."""
    lr = learning_rate if callable(learning_rate) else float(learning_rate)
    return GradientTransformation(_lr_init, _lr_update, learning_rate=lr)


# ---- momentum ---------------------------------------------------------------------------------------------


class TraceState(NamedTuple):
    trace: Any


def _trace_init(params, **_):
    return TraceState(zeros_like_tree(params))


def _trace_update(updates, state, params, *, decay, nesterov):
    new = _map(lambda g, t: g + decay * t, updates, state.trace)
    out = _map(lambda g, t: g + decay * t, updates, new) if nesterov else new
    return out, TraceState(new)


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: ``m = g + decay * m``; the update is ``m`` (or ``g + decay * m`` with Nesterov)."""
    return GradientTransformation(_trace_init, _trace_update, decay=float(decay), nesterov=bool(nesterov))


# ---- adaptive scalings ------------------------------------------------------------------------------------


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any
    b1_power: Any  # b1 ** count and b2 ** count, kept by multiplication: 1 - b ** t through pow/log/expm1
    b2_power: Any  # loses ~1e-4 relative accuracy on GPUs whose log is only accurate to 2^-21 near 1


def _adam_init(params, **_):
    one = gnp.ones((), dtypes.default_float())
    return ScaleByAdamState(_count0(), zeros_like_tree(params), zeros_like_tree(params), one, one)


def _adam_update(updates, state, params, *, b1, b2, eps, eps_root):
    mu = _map(lambda g, m: b1 * m + (1.0 - b1) * g, updates, state.mu)
    nu = _map(lambda g, v: b2 * v + (1.0 - b2) * g * g, updates, state.nu)
    b1_power, b2_power = state.b1_power * b1, state.b2_power * b2

    def direction(m, v):
        m_hat = m / gnp.astype(1.0 - b1_power, m.dtype)
        v_hat = v / gnp.astype(1.0 - b2_power, v.dtype)
        return m_hat / (gnp.sqrt(v_hat + eps_root) + eps)

    return _map(direction, mu, nu), ScaleByAdamState(state.count + 1, mu, nu, b1_power, b2_power)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0):
    """Adam's bias-corrected ``m_hat / (sqrt(v_hat + eps_root) + eps)``."""
    return GradientTransformation(_adam_init, _adam_update, b1=float(b1), b2=float(b2), eps=float(eps),
                                  eps_root=float(eps_root))


class ScaleByRmsState(NamedTuple):
    nu: Any


def _rms_init(params, *, initial_scale, **_):
    return ScaleByRmsState(tree.map(lambda p: gnp.full_like(p, initial_scale), params))


def _rms_update(updates, state, params, *, decay, eps, initial_scale):
    nu = _map(lambda g, v: decay * v + (1.0 - decay) * g * g, updates, state.nu)
    return _map(lambda g, v: g / (gnp.sqrt(v) + eps), updates, nu), ScaleByRmsState(nu)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0):
    """RMSprop (PyTorch's formula): ``v = decay v + (1 - decay) g^2``; update ``g / (sqrt(v) + eps)``."""
    return GradientTransformation(_rms_init, _rms_update, decay=float(decay), eps=float(eps),
                                  initial_scale=float(initial_scale))


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def _rss_init(params, *, initial_accumulator_value, **_):
    return ScaleByRssState(tree.map(lambda p: gnp.full_like(p, initial_accumulator_value), params))


def _rss_update(updates, state, params, *, initial_accumulator_value, eps):
    acc = _map(lambda g, s: s + g * g, updates, state.sum_of_squares)
    return _map(lambda g, s: g / (gnp.sqrt(s) + eps), updates, acc), ScaleByRssState(acc)


def scale_by_rss(initial_accumulator_value: float = 0.0, eps: float = 1e-10):
    """Adagrad (PyTorch's formula): ``s += g^2``; update ``g / (sqrt(s) + eps)``."""
    return GradientTransformation(_rss_init, _rss_update, initial_accumulator_value=float(initial_accumulator_value),
                                  eps=float(eps))


# ---- weight decay and clipping ----------------------------------------------------------------------------


def _decay_update(updates, state, params, *, weight_decay):
    if params is None:
        raise ValueError("add_decayed_weights needs params: call update(grads, state, params)")
    return _map(lambda g, p: g + weight_decay * p, updates, params), state


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates (decoupled weight decay when placed after Adam)."""
    return GradientTransformation(_empty_init, _decay_update, weight_decay=float(weight_decay))


def _clip_update(updates, state, params, *, max_norm):
    norm = global_norm(updates)
    factor = gnp.where(norm <= max_norm, 1.0, max_norm / gnp.maximum(norm, 1e-30))
    return _map(lambda g: g * gnp.astype(factor, g.dtype), updates), state


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale all updates together so their global L2 norm is at most ``max_norm``."""
    return GradientTransformation(_empty_init, _clip_update, max_norm=float(max_norm))


# ---- the classic grilly rules -----------------------------------------------------------------------------


def _nlms_update(updates, state, params, *, step_size, eps):
    return _map(lambda g: g * (-step_size / (eps + gnp.sum(g * g))), updates), state


def nlms(step_size: float = 0.01, eps: float = 1e-6) -> GradientTransformation:
    """Normalized LMS, per parameter tensor: ``-step_size * g / (eps + ||g||^2)``.

    For a linear filter trained on squared error, ``g = -e x``, so this is the NLMS step normalized by the
    gradient's power (as grilly's classic optimizer does). Near an optimum it behaves as SGD with rate
    ``step_size / eps``: choose ``eps`` accordingly.
    """
    return GradientTransformation(_empty_init, _nlms_update, step_size=float(step_size), eps=float(eps))


class NaturalGradientState(NamedTuple):
    fisher: Any


def _ng_init(params, **_):
    return NaturalGradientState(zeros_like_tree(params))


def _ng_update(updates, state, params, *, learning_rate, fisher_decay, damping):
    fisher = _map(lambda g, f: fisher_decay * f + (1.0 - fisher_decay) * g * g, updates, state.fisher)
    out = _map(lambda g, f: g * (-learning_rate) / (f + damping), updates, fisher)
    return out, NaturalGradientState(fisher)


def natural_gradient(learning_rate: float = 1e-3, fisher_decay: float = 0.9, damping: float = 1e-8):
    """Diagonal natural gradient: ``F = decay F + (1 - decay) g^2`` (empirical Fisher), update
    ``-learning_rate * g / (F + damping)``. ``damping`` (Tikhonov) bounds the step where F is small."""
    return GradientTransformation(_ng_init, _ng_update, learning_rate=float(learning_rate),
                                  fisher_decay=float(fisher_decay), damping=float(damping))
