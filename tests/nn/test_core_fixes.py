"""Core fixes found while building the NN library (kept beside the tests that needed them)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from grilly.lax.elementwise import _erf_inv_np


@pytest.mark.parametrize("scipy_available", [True, False])
def test_erf_inv_numpy_impl_is_vectorized_and_exact(monkeypatch, scipy_available):
    # random.normal over a large embedding table used a per-element Python loop; both paths must agree
    if not scipy_available:
        monkeypatch.setitem(sys.modules, "scipy.special", None)  # makes `from scipy.special import` fail
    v = np.concatenate([np.linspace(-0.999999, 0.999999, 4001), [-1.0, 1.0, 0.0]])
    x = _erf_inv_np(v)
    np.testing.assert_allclose([math.erf(t) for t in x[:-3]], v[:-3], rtol=1e-12, atol=1e-15)
    assert x[-3] == -np.inf and x[-2] == np.inf and x[-1] == 0.0
    assert np.isnan(_erf_inv_np(np.array([1.5]))[0])
    f32 = _erf_inv_np(v[:-3].astype(np.float32))
    assert f32.dtype == np.float32
