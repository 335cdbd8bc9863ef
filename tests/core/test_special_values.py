"""Edge semantics the tables avoid on purpose: NaN/inf handling, signed zeros, integer division by zero,
out-of-range conversions and indices. The NumPy backend defines them; every backend must agree."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import BF16, F16, F32, on_vulkan, run_on_numpy

import grilly.lax as lax
import grilly.numpy as gnp

SPECIAL = np.array([0.0, -0.0, 1.5, -2.5, np.inf, -np.inf, np.nan, 3.0], np.float32)


def _check(fn, *args, expect=None):
    got = fn(*[gnp.asarray(a) for a in args])
    if expect is not None:
        wide = (lambda a: np.asarray(a).astype(np.float64)) if np.asarray(got).dtype.kind not in "iub" else np.asarray
        np.testing.assert_array_equal(wide(got), wide(expect))
    if on_vulkan():
        want = run_on_numpy(fn, args)[0]
        if want.dtype.kind in "iub":
            np.testing.assert_array_equal(np.asarray(got), want, err_msg="vulkan vs numpy backend")
        else:
            np.testing.assert_allclose(np.asarray(got).astype(np.float64), want.astype(np.float64), rtol=1e-6,
                                       atol=1e-30, equal_nan=True, err_msg="vulkan vs numpy backend")
    return np.asarray(got)


@pytest.mark.parametrize("dtype", [F32, F16, BF16])
def test_max_min_propagate_nan(dtype):
    x, y = SPECIAL.astype(dtype), np.roll(SPECIAL, 3).astype(dtype)
    _check(lax.max, x, y, expect=np.maximum(x, y))
    _check(lax.min, x, y, expect=np.minimum(x, y))


def test_reductions_with_nan_and_inf():
    x = SPECIAL.reshape(2, 4)
    _check(lambda a: lax.reduce_max(a, (1,)), x, expect=np.max(x, 1))
    _check(lambda a: lax.reduce_min(a, (0,)), x, expect=np.min(x, 0))
    _check(lambda a: lax.reduce_sum(a, (1,)), x, expect=np.sum(x, 1))
    _check(lambda a: lax.argmax(a, 1), x, expect=np.argmax(x, 1).astype(np.int32))  # the first NaN wins
    _check(lambda a: lax.argmin(a, 0), x, expect=np.argmin(x, 0).astype(np.int32))
    _check(lambda a: lax.cummax(a, 0), SPECIAL, expect=_cum_nan(SPECIAL))


def _cum_nan(x):
    out, m = [], -np.inf
    for v in x:
        m = np.nan if np.isnan(v) or np.isnan(m) else max(m, v)
        out.append(m)
    return np.array(out, np.float32)


def test_sort_puts_nans_last_and_is_stable():
    x = np.array([3.0, np.nan, 1.0, -np.inf, 1.0, np.nan, np.inf, -1.0], np.float32)
    _check(lambda a: lax.sort(a), x, expect=np.sort(x))
    _check(lambda a: lax.argsort(a), x, expect=np.argsort(x, kind="stable").astype(np.int32))
    _check(lambda a: lax.argsort(a, descending=True), x,
           expect=np.array([6, 0, 2, 4, 7, 3, 1, 5], np.int32))


def test_sort_signed_zeros():
    """-0.0 and 0.0 compare equal: a stable sort keeps their order (as NumPy's stable argsort)."""
    x = np.array([0.0, -0.0, 1.0, -0.0, 0.0, -1.0], np.float32)
    _check(lambda a: lax.argsort(a), x, expect=np.argsort(x, kind="stable").astype(np.int32))
    _check(lambda a: lax.argsort(a, descending=True), x, expect=np.array([2, 0, 1, 3, 4, 5], np.int32))


def test_signed_zero_arithmetic():
    z = np.array([0.0, -0.0], np.float32)
    got = _check(lambda a: lax.div(gnp.ones(2), a), z)
    assert got.tolist() == [np.inf, -np.inf]
    got = _check(lambda a: lax.neg(a), z)
    assert np.signbit(got).tolist() == [True, False]


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint32, np.uint8])
def test_integer_division_and_remainder_by_zero_give_zero(dtype):
    x = np.array([7, 0, 5, 100], dtype)
    y = np.array([0, 0, 2, 0], dtype)
    _check(lax.div, x, y, expect=np.array([0, 0, 2, 0], dtype))
    _check(lax.rem, x, y, expect=np.array([0, 0, 1, 0], dtype))


def test_integer_division_rounds_toward_zero_and_overflow_wraps():
    x = np.array([-7, 7, -7, np.iinfo(np.int32).min], np.int32)
    y = np.array([2, -2, -2, -1], np.int32)
    got = _check(lax.div, x[:3], y[:3], expect=np.array([-3, -3, 3], np.int32))
    assert got.dtype == np.int32
    _check(lax.rem, x[:3], y[:3], expect=np.array([-1, 1, -1], np.int32))
    _check(lax.add, np.array([2 ** 31 - 1], np.int32), np.array([1], np.int32),
           expect=np.array([-(2 ** 31)], np.int32))


@pytest.mark.parametrize("target", [np.int32, np.int8, np.uint8, np.uint32])
def test_float_to_int_conversion_saturates_and_maps_nan_to_zero(target):
    x = np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 2.7, -2.7], np.float32)
    info = np.iinfo(target)
    want = np.array([0, info.max, info.min, info.max, info.min, 2, max(-2, info.min)], target)
    _check(lambda a: lax.convert_element_type(a, target), x, expect=want)


def test_int_to_narrow_int_wraps_and_to_bool_is_nonzero():
    x = np.array([300, -1, 255, 128, 0], np.int32)
    _check(lambda a: lax.convert_element_type(a, np.uint8), x, expect=x.astype(np.uint8))
    _check(lambda a: lax.convert_element_type(a, np.int8), x, expect=x.astype(np.int8))
    _check(lambda a: lax.convert_element_type(a, np.bool_), x, expect=x != 0)
    _check(lambda a: lax.convert_element_type(a, np.bool_), SPECIAL, expect=SPECIAL != 0)


def test_float_narrowing_overflows_to_inf():
    x = np.array([70000.0, -1e6, 1e-9, 3.0e38], np.float32)
    _check(lambda a: lax.convert_element_type(a, F16), x, expect=x.astype(F16))
    _check(lambda a: lax.convert_element_type(a, BF16), x, expect=x.astype(BF16))


def test_out_of_range_indices_clamp_in_gather_and_drop_in_scatter():
    x = np.arange(5, dtype=np.float32)
    idx = np.array([-3, 0, 4, 5, 99], np.int32)
    _check(lambda a, i: lax.gather(a, i, 0), x, idx, expect=np.array([0, 0, 4, 4, 4], np.float32))
    _check(lambda a, i: lax.scatter(a, i, gnp.full((5,), 9.0), 0, "set"), x, idx,
           expect=np.array([9, 1, 2, 3, 9], np.float32))
    _check(lambda a, i: lax.dynamic_slice(a, (i[4],), (2,)), x, idx, expect=np.array([3, 4], np.float32))


def test_transcendentals_at_domain_edges():
    x = np.array([-1.0, 0.0, 1.0, np.inf], np.float32)
    got = _check(lax.log, x)
    assert np.isnan(got[0]) and got[1] == -np.inf and got[2] == 0 and got[3] == np.inf
    got = _check(lax.sqrt, np.array([-1.0, 0.0, np.inf], np.float32))
    assert np.isnan(got[0]) and got[1] == 0 and got[2] == np.inf
    got = _check(lax.exp, np.array([-np.inf, 100.0, np.nan], np.float32))
    assert got[0] == 0 and got[1] == np.inf and np.isnan(got[2])
    got = _check(lax.tanh, np.array([-np.inf, 50.0, np.inf], np.float32))
    assert got.tolist() == [-1.0, 1.0, 1.0]
    got = _check(lax.logistic, np.array([-np.inf, -100.0, 100.0, np.inf], np.float32))
    assert got[0] == 0 and 0 <= got[1] < 1e-30 and got[2] == 1 and got[3] == 1
