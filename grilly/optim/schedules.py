"""Learning-rate schedules: functions ``count -> value`` (count is an int or an int array, so they work
under ``jit``). Pass one as ``learning_rate`` to any optimizer.

>>> import grilly.optim as optim
>>> s = optim.warmup_cosine(0.0, 1.0, warmup_steps=10, decay_steps=110)
>>> [round(float(s(n)), 3) for n in (0, 5, 10, 60, 110)]
[0.0, 0.5, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import grilly.numpy as gnp

Schedule = Callable[[object], object]


def _count(count):
    return gnp.astype(gnp.asarray(count), gnp.float32) if not isinstance(count, int) else float(count)


def _clip01(x):
    return gnp.clip(x, 0.0, 1.0)


def constant(value: float) -> Schedule:
    """Always ``value``."""
    return lambda count: gnp.full((), value) if not isinstance(count, int) else value


def linear(init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """From ``init_value`` to ``end_value`` linearly over ``transition_steps`` (after ``transition_begin``)."""

    def schedule(count):
        frac = _clip01((_count(count) - transition_begin) / max(transition_steps, 1) + gnp.zeros(()))
        return init_value + (end_value - init_value) * frac

    return schedule


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float, staircase: bool = False,
                      transition_begin: int = 0, end_value: float | None = None) -> Schedule:
    """``init_value * decay_rate ** (steps / transition_steps)`` (integer exponent when ``staircase``),
    bounded by ``end_value`` when given."""

    def schedule(count):
        p = gnp.maximum(_count(count) - transition_begin, 0.0) / transition_steps
        if staircase:
            p = gnp.floor(p)
        v = init_value * gnp.exp(p * math.log(decay_rate))
        if end_value is not None:
            v = gnp.maximum(v, end_value) if decay_rate < 1 else gnp.minimum(v, end_value)
        return v

    return schedule


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """``init_value * ((1 - alpha) * (1 + cos(pi * t / decay_steps)) / 2 + alpha)``, constant after."""

    def schedule(count):
        frac = _clip01(_count(count) / decay_steps + gnp.zeros(()))
        return init_value * ((1.0 - alpha) * 0.5 * (1.0 + gnp.cos(math.pi * frac)) + alpha)

    return schedule


def warmup_cosine(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                  end_value: float = 0.0) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then cosine decay to ``end_value`` at
    ``decay_steps`` (counted from the start, as optax's warmup_cosine_decay_schedule)."""

    def schedule(count):
        c = _count(count) + gnp.zeros(())
        warm = init_value + (peak_value - init_value) * _clip01(c / max(warmup_steps, 1))
        frac = _clip01((c - warmup_steps) / max(decay_steps - warmup_steps, 1))
        cos = end_value + (peak_value - end_value) * 0.5 * (1.0 + gnp.cos(math.pi * frac))
        return gnp.where(c < warmup_steps, warm, cos)

    return schedule


constant_schedule = constant
linear_schedule = linear
cosine_decay_schedule = cosine_decay
warmup_cosine_decay_schedule = warmup_cosine
