"""Regression: grad/vjp with has_aux return the aux values as plain arrays, not tracers of the finished tape."""

import numpy as np

import grilly
import grilly.numpy as gnp


def test_aux_is_concrete():
    g, aux = grilly.grad(lambda x: (gnp.sum(x ** 2), x * 3.0), has_aux=True)(gnp.ones(2))
    assert isinstance(aux, grilly.Array)
    np.testing.assert_array_equal(np.asarray(aux), [3.0, 3.0])
    np.testing.assert_array_equal(np.asarray(g), [2.0, 2.0])


def test_aux_inside_an_outer_grad_keeps_its_derivative():
    def f(w):
        _, aux = grilly.grad(lambda u: (gnp.sum(u ** 2 * w), u * w), has_aux=True)(gnp.ones(2))
        return gnp.sum(aux)

    assert float(grilly.grad(f)(3.0)) == 2.0
