"""custom_vjp traces its function for the output structure once per input signature, not on every call."""

import numpy as np

import grilly
import grilly.numpy as gnp


def test_custom_vjp_traces_once_per_signature():
    calls = []

    @grilly.custom_vjp
    def f(x):
        calls.append(1)
        return gnp.sin(x)

    f.defvjp(lambda x: (gnp.sin(x), x), lambda x, g: (g * gnp.cos(x),))
    x = gnp.asarray(np.linspace(0, 1, 5).astype(np.float32))
    f(x)
    first = len(calls)
    for _ in range(3):
        y = f(x)
    assert len(calls) - first == 3  # one evaluation per call, no extra trace
    np.testing.assert_allclose(np.asarray(y), np.sin(np.asarray(x)), rtol=1e-6)
    g = grilly.grad(lambda v: gnp.sum(f(v)))(x)
    np.testing.assert_allclose(np.asarray(g), np.cos(np.asarray(x)), rtol=1e-6)
