"""Regression: d min(x, y) flows to the smaller operand (it went to the larger one), so clip's gradient is 1
inside the interval and 0 outside."""

import numpy as np

import grilly
import grilly.numpy as gnp


def test_minimum_gradient_goes_to_the_smaller_operand():
    x = gnp.asarray(np.array([0.1, 0.7, 0.2], np.float32))
    g = grilly.grad(lambda u: gnp.sum(gnp.minimum(u, 0.5 * u + 0.1)))(x)
    np.testing.assert_allclose(np.asarray(g), [1.0, 0.5, 0.75])


def test_clip_gradient():
    x = gnp.asarray(np.array([0.1, 0.7, -0.9], np.float32))
    g = grilly.grad(lambda u: gnp.sum(gnp.clip(u, -0.5, 0.5)))(x)
    assert np.asarray(g).tolist() == [1.0, 0.0, 0.0]
