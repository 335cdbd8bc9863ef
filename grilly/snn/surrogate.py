"""Surrogate gradients: a Heaviside step forward, a smooth pseudo-derivative backward.

A :class:`Surrogate` is called on ``u = v - v_th`` and returns spikes (1 where ``u >= 0``, or ``u > 0`` with
``fire_at_equal=False``). Its VJP multiplies the cotangent by ``derivative(u)``, the derivative of the smooth
shape ``smooth(u)`` that the step approximates. Built-in surrogates are also understood by the fused LIF
kernels (by name and ``alpha``); ``custom`` ones run through the unfused ``lax.scan`` path.

Conventions (SpikingJelly / snnTorch; the value of each derivative at u = 0 is given):

============================  =====================================================  ===========  ==========
name                          derivative(u)                                          default α    at u = 0
============================  =====================================================  ===========  ==========
atan(alpha)                   α/2 / (1 + (π/2·α·u)²)                                 2.0          α/2
sigmoid(alpha)                α·σ(αu)·(1 − σ(αu))                                    4.0          α/4
fast_sigmoid(alpha)           1 / (α|u| + 1)²          (snnTorch, slope=α)            25.0         1
superspike(alpha)             1 / (α|u| + 1)²          (Zenke & Ganguli; Norse)       100.0        1
triangle(alpha)               max(0, 1 − α|u|)         (Bellec et al., peak 1)        1.0          1
piecewise_quadratic(alpha)    α·max(0, 1 − α|u|)       (SpikingJelly, area 1)         1.0          α
erf(alpha)                    α/√π · exp(−α²u²)                                      2.0          α/√π
straight_through(alpha)       α                                                      1.0          α
============================  =====================================================  ===========  ==========

>>> import grilly, grilly.numpy as gnp
>>> from grilly.snn import surrogate
>>> f = surrogate.atan(alpha=2.0)
>>> f(gnp.asarray([-0.5, 0.0, 0.5])).tolist()
[0.0, 1.0, 1.0]
>>> round(float(grilly.grad(lambda u: f(u))(0.0)), 6)
1.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Kind codes shared with the fused kernels (grilly/shaders/snn/snn_lif_scan_bwd.comp).
KINDS = {"atan": 0, "sigmoid": 1, "fast_sigmoid": 2, "superspike": 3, "triangle": 4, "piecewise_quadratic": 5,
         "erf": 6, "straight_through": 7}


def _derivative(name: str, u, alpha: float, xp):
    """The surrogate derivative of a built-in kind on ``u``; ``xp`` is numpy or grilly.numpy."""
    if name == "atan":
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * u) ** 2)
    if name == "sigmoid":  # α σ(αu)(1 − σ(αu)) = α e/(1+e)², e = exp(−|αu|): no overflow
        e = xp.exp(-xp.abs(alpha * u))
        return alpha * e / (1 + e) ** 2
    if name in ("fast_sigmoid", "superspike"):
        return 1 / (alpha * xp.abs(u) + 1) ** 2
    if name == "triangle":
        return xp.maximum(1 - alpha * xp.abs(u), 0)
    if name == "piecewise_quadratic":
        return alpha * xp.maximum(1 - alpha * xp.abs(u), 0)
    if name == "erf":
        return alpha / math.sqrt(math.pi) * xp.exp(-(alpha * u) ** 2)
    if name == "straight_through":
        return u * 0 + alpha
    raise ValueError(f"unknown surrogate {name!r}")


def _smooth(name: str, u, alpha: float):
    """The smooth function whose derivative is the surrogate (grilly ops); it rises from 0 to 1 around u = 0
    where it is bounded."""
    import grilly.numpy as gnp

    if name == "atan":
        return gnp.arctan(math.pi / 2 * alpha * u) / math.pi + 0.5
    if name == "sigmoid":
        return gnp.sigmoid(alpha * u)
    if name in ("fast_sigmoid", "superspike"):
        return u / (alpha * gnp.abs(u) + 1) + 0.5
    if name in ("triangle", "piecewise_quadratic"):  # ∫ max(0, 1 − α|u|): a clipped quadratic
        c = gnp.clip(u, -1 / alpha, 1 / alpha)
        area = c - alpha * c * gnp.abs(c) / 2
        return area * (alpha if name == "piecewise_quadratic" else 1.0) + 0.5
    if name == "erf":
        return (1 + gnp.erf(alpha * u)) / 2
    if name == "straight_through":
        return alpha * u + 0.5
    raise ValueError(f"unknown surrogate {name!r}")


def heaviside(u, fire_at_equal: bool = True):
    """The spike function's forward: 1.0 where ``u >= 0`` (``u > 0`` if not ``fire_at_equal``), else 0.0."""
    return ((u >= 0) if fire_at_equal else (u > 0)).astype(u.dtype)


@dataclass(frozen=True)
class Surrogate:
    """A spike function with a surrogate derivative. Hashable: it is a static parameter of the LIF primitive.

    ``name`` and ``alpha`` identify a built-in kind; ``fn`` (and optionally ``smooth_fn``) define a custom one.
    """

    name: str
    alpha: float = 1.0
    fn: Callable | None = None
    smooth_fn: Callable | None = None

    @property
    def fusable(self) -> bool:
        """Whether the fused LIF kernels implement this surrogate."""
        return self.fn is None and self.name in KINDS

    def derivative(self, u):
        """The surrogate derivative at ``u`` (grilly arrays; NumPy arrays for built-in kinds give NumPy)."""
        if self.fn is not None:
            return self.fn(u)
        xp = np if isinstance(u, np.ndarray | np.generic) else _gnp()
        return _derivative(self.name, u, self.alpha, xp)

    def smooth(self, u):
        """The smooth function whose derivative ``derivative`` is (for custom surrogates: ``smooth_fn``)."""
        if self.fn is not None:
            if self.smooth_fn is None:
                raise ValueError(f"custom surrogate {self.name!r} was defined without smooth_fn")
            return self.smooth_fn(u)
        return _smooth(self.name, u, self.alpha)

    def __call__(self, u, fire_at_equal: bool = True):
        """Spikes ``Θ(u)`` with this surrogate's derivative in reverse mode."""
        from grilly.core.array import asarray_concrete
        from grilly.core.trace import Tracer

        u = u if isinstance(u, Tracer) else asarray_concrete(u)
        return _spike_fn(self, bool(fire_at_equal))(u)

    def __repr__(self) -> str:
        return f"surrogate.{self.name}(alpha={self.alpha})" if self.fn is None else f"surrogate.custom({self.name})"


def _gnp():
    import grilly.numpy as gnp

    return gnp


@functools.cache
def _spike_fn(sg: Surrogate, fire_at_equal: bool):
    from grilly.transforms import custom_vjp

    @custom_vjp
    def spike(u):
        return heaviside(u, fire_at_equal)

    spike.defvjp(lambda u: (heaviside(u, fire_at_equal), u), lambda u, g: (g * sg.derivative(u).astype(g.dtype),))
    return spike


def atan(alpha: float = 2.0) -> Surrogate:
    """Arctangent surrogate (SpikingJelly ATan, snnTorch atan): α/2 / (1 + (π/2·α·u)²)."""
    return Surrogate("atan", float(alpha))


def sigmoid(alpha: float = 4.0) -> Surrogate:
    """Sigmoid surrogate (SpikingJelly Sigmoid): α·σ(αu)(1 − σ(αu))."""
    return Surrogate("sigmoid", float(alpha))


def fast_sigmoid(alpha: float = 25.0) -> Surrogate:
    """snnTorch fast_sigmoid(slope=α): 1 / (α|u| + 1)²."""
    return Surrogate("fast_sigmoid", float(alpha))


def superspike(alpha: float = 100.0) -> Surrogate:
    """SuperSpike (Zenke & Ganguli 2018; Norse "super" after its α fix): 1 / (α|u| + 1)²."""
    return Surrogate("superspike", float(alpha))


def triangle(alpha: float = 1.0) -> Surrogate:
    """Triangle (Bellec et al. 2018, peak 1, half-width 1/α): max(0, 1 − α|u|)."""
    return Surrogate("triangle", float(alpha))


def piecewise_quadratic(alpha: float = 1.0) -> Surrogate:
    """SpikingJelly PiecewiseQuadratic (unit area): α·max(0, 1 − α|u|)."""
    return Surrogate("piecewise_quadratic", float(alpha))


def erf(alpha: float = 2.0) -> Surrogate:
    """SpikingJelly Erf: α/√π · exp(−α²u²), the derivative of (1 + erf(αu))/2."""
    return Surrogate("erf", float(alpha))


def straight_through(alpha: float = 1.0) -> Surrogate:
    """Straight-through estimator: a constant derivative α."""
    return Surrogate("straight_through", float(alpha))


def custom(derivative: Callable, smooth: Callable | None = None, name: str | None = None) -> Surrogate:
    """A surrogate from a derivative function of ``u`` written with grilly ops (and optionally its smooth shape).

    Custom surrogates run through the unfused ``lax.scan`` path of ``lif_scan``.

    >>> import grilly, grilly.numpy as gnp
    >>> from grilly.snn import surrogate
    >>> box = surrogate.custom(lambda u: (gnp.abs(u) < 0.5).astype(u.dtype), name="box")
    >>> float(grilly.grad(lambda u: box(u))(0.2))
    1.0
    """
    return Surrogate(name or getattr(derivative, "__name__", "custom"), 1.0, derivative, smooth)


def get(spec) -> Surrogate:
    """A Surrogate from a Surrogate, a built-in name (``"atan"``) or None (the default, atan(2))."""
    if spec is None:
        return atan()
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec in KINDS:
        return globals()[spec]()
    raise TypeError(f"surrogate must be a grilly.snn.surrogate.Surrogate or one of {sorted(KINDS)}, got {spec!r}")


__all__ = ["KINDS", "Surrogate", "atan", "custom", "erf", "fast_sigmoid", "get", "heaviside",
           "piecewise_quadratic", "sigmoid", "straight_through", "superspike", "triangle"]
