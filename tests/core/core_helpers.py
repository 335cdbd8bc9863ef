"""Shared pieces of the core test tables: random inputs per dtype, tolerances, comparisons, backend switching."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import ml_dtypes
import numpy as np

import grilly
import grilly.numpy as gnp

F32, F16, BF16 = np.dtype(np.float32), np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)
I32, U32, I8, U8, BOOL = (np.dtype(d) for d in (np.int32, np.uint32, np.int8, np.uint8, np.bool_))
FLOATS = (F32, F16, BF16)
INTS = (I32, U32, I8, U8)
ALL = FLOATS + INTS + (BOOL,)

# (rtol, atol) of a result against a float64 NumPy formula, per result dtype
TOL_NUMPY = {F32: (2e-6, 1e-6), F16: (2e-3, 1e-3), BF16: (1.6e-2, 1e-2), np.dtype(np.float64): (1e-12, 1e-12)}
TOL_VULKAN = {F32: (1e-4, 1e-5), F16: (4e-3, 2e-3), BF16: (2e-2, 2e-2), np.dtype(np.float64): (1e-12, 1e-12)}

SMALL_SHAPES = ((), (0,), (7,), (3, 5), (2, 3, 4))
BIG_SHAPE = (70_001,)  # spans many workgroups (Vulkan runs only)


def on_vulkan() -> bool:
    return grilly.default_backend() == "vulkan"


def shapes(small=SMALL_SHAPES, big=True):
    """The shapes a case runs on: small odd/empty/scalar ones, plus one many-workgroup size on Vulkan."""
    return tuple(small) + ((BIG_SHAPE,) if big and on_vulkan() else ())


def tol(dtype, rtol=None, atol=None):
    table = TOL_VULKAN if on_vulkan() else TOL_NUMPY
    r, a = table.get(np.dtype(dtype), (0, 0))
    if rtol == 0 and atol == 0:  # bit-exact rows
        return 0, 0
    return max(r, rtol or 0), max(a, atol or 0)  # a row may loosen, never tighten, the dtype's tolerance


def rand(rng, shape, dtype, lo=-2.0, hi=2.0):
    """Random values of ``dtype`` (floats uniform in [lo, hi], ints in [lo, hi] within the dtype's range)."""
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo_i, hi_i = max(int(np.floor(lo)), info.min), min(int(np.ceil(hi)), info.max)
        return rng.integers(lo_i, hi_i, size=shape, endpoint=True).astype(dtype)
    return np.asarray(rng.uniform(lo, hi, size=shape)).astype(dtype)


def to_f64(x):
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind == "f" or x.dtype == BF16 else x


def assert_matches(got, want, dtype=None, rtol=None, atol=None, msg=""):
    """Compare a grilly result with a reference: exact for ints/bools, within dtype tolerances for floats."""
    got_np = np.asarray(got)
    want = np.asarray(want)
    assert got_np.shape == want.shape, f"{msg}: shape {got_np.shape} != expected {want.shape}"
    dtype = np.dtype(dtype or got_np.dtype)
    if dtype.kind == "f" or dtype == BF16:
        r, a = tol(dtype, rtol, atol)
        with np.errstate(over="ignore"):  # the reference rounded once to the result dtype (overflow -> inf)
            want = want.astype(dtype)
        np.testing.assert_allclose(to_f64(got_np), to_f64(want), rtol=r, atol=a, err_msg=msg, equal_nan=True)
    else:
        np.testing.assert_array_equal(got_np, want.astype(got_np.dtype) if want.dtype != got_np.dtype else want,
                                      err_msg=msg)


@contextlib.contextmanager
def default_backend(name: str):
    """Make ``name`` the default backend for the block (constants created inside ops follow it)."""
    from grilly.core.backend import _default

    prev = grilly.default_backend()
    grilly.set_default_backend(name)
    try:
        yield
    finally:
        _default[0] = prev


def run_on_numpy(fn, np_args):
    """Run ``fn`` with its inputs put on the NumPy backend; returns NumPy arrays (a list for several outputs)."""
    with default_backend("numpy"):
        args = [grilly.device_put(gnp.asarray(a), "numpy") for a in np_args]
        out = fn(*args)
        return [np.asarray(o) for o in grilly.tree.leaves(out)]


@dataclass
class Case:
    """One row of a primitive table: ``fn(*grilly arrays)`` must equal ``ref(*numpy arrays)``."""

    name: str
    prims: tuple  # names of the primitives this row exercises
    fn: Callable
    args: Callable  # (rng, shape, dtype) -> list of NumPy arrays
    ref: Callable  # NumPy formula on the same arrays -> array or tuple of arrays
    dtypes: tuple = (F32,)
    shapes: tuple = SMALL_SHAPES
    big: bool = True  # also run the many-workgroup size on Vulkan
    rtol: float | None = None
    atol: float | None = None
    vmap: bool = True  # the generic vmap test applies (batch over a leading axis of every argument)
    out: Callable | None = None  # input dtype -> result dtype (or a tuple, one per output); default: the same

    def __repr__(self):
        return self.name


def check_case(case: Case, dtype, wrap, rng) -> None:
    """Run one table row on each of its shapes; on Vulkan also compare with the NumPy backend's result."""
    fn = wrap(case.fn)
    for shape in shapes(case.shapes, case.big):
        np_args = case.args(rng, shape, dtype)
        got = fn(*[gnp.asarray(a) for a in np_args])
        want = case.ref(*np_args)
        got_l, want_l = grilly.tree.leaves(got), (list(want) if isinstance(want, tuple | list) else [want])
        assert len(got_l) == len(want_l), f"{case.name}: {len(got_l)} outputs, expected {len(want_l)}"
        out_dts = case.out(np.dtype(dtype)) if case.out else np.dtype(dtype)
        out_dts = out_dts if isinstance(out_dts, tuple) else (out_dts,) * len(got_l)
        for k, (g, w) in enumerate(zip(got_l, want_l)):
            msg = f"{case.name} dtype={np.dtype(dtype)} shape={shape} output {k}"
            assert g.dtype == np.dtype(out_dts[k]), f"{msg}: dtype {g.dtype}, expected {np.dtype(out_dts[k])}"
            assert_matches(g, w, rtol=case.rtol, atol=case.atol, msg=msg)
        if on_vulkan():
            ref_np = run_on_numpy(case.fn, np_args)
            for k, (g, w) in enumerate(zip(got_l, ref_np)):
                msg = f"{case.name} dtype={np.dtype(dtype)} shape={shape} output {k}: vulkan vs numpy backend"
                assert np.asarray(g).dtype == w.dtype, msg
                assert_matches(g, w, rtol=case.rtol, atol=case.atol, msg=msg)
