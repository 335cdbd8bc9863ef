"""Creation functions default to the default float: float32, or float64 once x64 is on (as jnp.zeros)."""

import numpy as np

import grilly.numpy as gnp


def test_default_float_follows_x64(x64):
    assert gnp.zeros(2).dtype == gnp.ones((1, 2)).dtype == np.float64
    assert (gnp.zeros(2) + np.float64(1e-12)).tolist() == [1e-12, 1e-12]


def test_default_float_is_float32_without_x64():
    assert gnp.zeros(2).dtype == gnp.ones((1, 2)).dtype == np.float32
