"""Surrogate spike functions: Heaviside forward, reference derivative values, VJP vs the smooth shape."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly.snn import surrogate
from grilly.test_util import check_grads

POINTS = np.array([-1.0, -0.1, 0.0, 0.1, 1.0], np.float32)
ALL = ["atan", "sigmoid", "fast_sigmoid", "superspike", "triangle", "piecewise_quadratic", "erf",
       "straight_through"]


def _grad_at(sg, u):
    return np.asarray(grilly.vjp(lambda x: sg(x), gnp.asarray(u))[1](gnp.ones(u.shape, u.dtype))[0])


@pytest.mark.parametrize("sg, want", [
    (surrogate.atan(2.0), [0.092, 0.910, 1.0, 0.910, 0.092]),
    (surrogate.sigmoid(4.0), [0.0707, 0.961, 1.0, 0.961, 0.0707]),
    (surrogate.fast_sigmoid(25.0), [0.0015, 0.0816, 1.0, 0.0816, 0.0015]),
    (surrogate.superspike(1.0), [0.25, 0.826, 1.0, 0.826, 0.25]),  # Norse 1.1.0's alpha-less "super" shape
])
def test_reference_derivatives_at_five_points(sg, want):
    np.testing.assert_allclose(_grad_at(sg, POINTS), want, rtol=6e-3, atol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_forward_is_heaviside_with_pinned_equality(name):
    sg = getattr(surrogate, name)()
    u = gnp.asarray(POINTS)
    assert sg(u).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert sg(u, fire_at_equal=False).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name", ALL)
def test_alpha_is_honoured(name):
    lo, hi = getattr(surrogate, name)(1.5), getattr(surrogate, name)(3.0)
    u = np.array([0.0, 0.2], np.float32)
    assert not np.allclose(_grad_at(lo, u), _grad_at(hi, u))


@pytest.mark.parametrize("name", ALL)
def test_vjp_matches_finite_differences_of_smooth_shape(name, x64):
    sg = getattr(surrogate, name)(1.3)
    # away from the kinks of triangle / piecewise_quadratic (|u| = 1/alpha) and from u = 0 (|u| in fast_sigmoid)
    u = np.array([-1.7, -0.5, -0.11, 0.07, 0.33, 0.6, 2.2])
    eps = 1e-6
    fd = (np.asarray(sg.smooth(gnp.asarray(u + eps))) - np.asarray(sg.smooth(gnp.asarray(u - eps)))) / (2 * eps)
    np.testing.assert_allclose(_grad_at(sg, u), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(sg.derivative(u)), fd, rtol=1e-6, atol=1e-8)  # the NumPy form too
    check_grads(sg.smooth, (u,), order=1, modes=("rev",))


def test_custom_surrogate(x64):
    box = surrogate.custom(lambda u: (gnp.abs(u) < 0.5).astype(u.dtype), smooth=lambda u: gnp.clip(u, -0.5, 0.5),
                           name="box")
    assert not box.fusable
    assert _grad_at(box, np.array([-0.7, 0.0, 0.4, 0.9])).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert box(gnp.asarray([-0.1, 0.1])).tolist() == [0.0, 1.0]


def test_get_rejects_unknown():
    assert surrogate.get("sigmoid") == surrogate.sigmoid()
    with pytest.raises(TypeError, match="surrogate"):
        surrogate.get("nope")
