"""Table rows for reductions, argmax/argmin and cumulative ops, with axes variations, against NumPy."""

from __future__ import annotations

import numpy as np
from cases_elementwise import _wrap
from core_helpers import ALL, BF16, BOOL, FLOATS, I32, INTS, SMALL_SHAPES, Case, rand, to_f64

import grilly.lax as lax

NUMERIC = FLOATS + INTS
AXES = {"all": lambda nd: tuple(range(nd)), "first": lambda nd: (0,) if nd else (),
        "last": lambda nd: (nd - 1,) if nd else (), "outer": lambda nd: (0, nd - 1) if nd > 1 else ()}


def _identity(fn, dtype):
    if dtype.kind == "f" or dtype == BF16:
        return {"sum": 0, "prod": 1, "max": -np.inf, "min": np.inf}[fn]
    if dtype == BOOL:
        return fn == "min"
    info = np.iinfo(dtype)
    return {"sum": 0, "prod": 1, "max": info.min, "min": info.max}[fn]


def _reduce_ref(fn, axes_fn):
    np_fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[fn]

    def ref(x):
        axes = axes_fn(x.ndim)
        if x.dtype.kind in "iu":
            return _wrap(np_fn(x.astype(np.int64), axis=axes, initial=_identity(fn, x.dtype)), x.dtype)
        v = x if x.dtype == BOOL else to_f64(x)
        return np_fn(v, axis=axes, initial=_identity(fn, x.dtype))

    return ref


def _reduce_case(fn, axes_name, dtypes, lo, hi, big=True):
    lax_fn = {"sum": lax.reduce_sum, "prod": lax.reduce_prod, "max": lax.reduce_max, "min": lax.reduce_min}[fn]
    axes_fn = AXES[axes_name]
    return Case(f"reduce_{fn}_{axes_name}", (f"reduce_{fn}",), lambda x: lax_fn(x, axes_fn(x.ndim)),
                lambda rng, s, d: [rand(rng, s, d, lo, hi)], _reduce_ref(fn, axes_fn), dtypes, big=big)


def _bool_reduce_case(fn, axes_name):
    lax_fn, np_fn = {"and": (lax.reduce_and, np.all), "or": (lax.reduce_or, np.any)}[fn]
    axes_fn = AXES[axes_name]
    # mostly-True (and) / mostly-False (or) inputs, so both results occur
    p = 0.97 if fn == "and" else 0.03
    return Case(f"reduce_{fn}_{axes_name}", (f"reduce_{fn}",), lambda x: lax_fn(x, axes_fn(x.ndim)),
                lambda rng, s, d: [rng.random(s) < p], lambda x: np_fn(x, axis=axes_fn(x.ndim)), (BOOL,))


def _coarse(rng, s, d):
    if d == BOOL:
        return [rng.random(s) < 0.3]
    return [np.round(rand(rng, s, np.float32, 0, 5)).astype(d)]  # ties: the first index must win


ARG_SHAPES = ((1,), (7,), (3, 5), (2, 3, 4))


def _arg_case(fn, axis_name):
    lax_fn, np_fn = {"argmax": (lax.argmax, np.argmax), "argmin": (lax.argmin, np.argmin)}[fn]
    ax = (lambda nd: 0) if axis_name == "first" else (lambda nd: nd - 1)
    return Case(f"{fn}_{axis_name}", (fn,), lambda x: lax_fn(x, ax(x.ndim)), _coarse,
                lambda x: np_fn(to_f64(x) if x.dtype.kind != "b" else x, axis=ax(x.ndim)).astype(np.int32),
                NUMERIC + (BOOL,), ARG_SHAPES, out=lambda d: I32)


def _cum_ref(fn, axis_fn, reverse):
    def ref(x):
        ax = axis_fn(x.ndim)
        v = x.astype(np.int64) if x.dtype.kind in "iu" else to_f64(x)
        v = np.flip(v, ax) if reverse else v
        out = {"cumsum": np.cumsum, "cumprod": np.cumprod, "cummax": np.maximum.accumulate,
               "cummin": np.minimum.accumulate}[fn](v, axis=ax)
        out = np.flip(out, ax) if reverse else out
        return _wrap(out, x.dtype) if x.dtype.kind in "iu" else out

    return ref


def _cum_case(fn, axis_name, reverse, lo, hi, big=True):
    lax_fn = getattr(lax, fn)
    axis_fn = (lambda nd: 0) if axis_name == "first" else (lambda nd: nd - 1)
    name = f"{fn}_{axis_name}" + ("_reverse" if reverse else "")
    return Case(name, (fn,), lambda x: lax_fn(x, axis_fn(x.ndim), reverse),
                lambda rng, s, d: [rand(rng, s, d, lo, hi)], _cum_ref(fn, axis_fn, reverse), NUMERIC,
                SMALL_SHAPES[1:], big=big)


CASES = [
    *[_reduce_case("sum", a, NUMERIC, 0, 3) for a in AXES],
    *[_reduce_case("prod", a, FLOATS, 0.7, 1.3, big=False) for a in AXES],
    _reduce_case("prod", "all", INTS, -2, 2, big=False),
    _reduce_case("prod", "last", INTS, -3, 3, big=False),
    *[_reduce_case(fn, a, ALL, -50, 50) for fn in ("max", "min") for a in AXES],
    *[_bool_reduce_case(fn, a) for fn in ("and", "or") for a in ("all", "last")],
    *[_arg_case(fn, a) for fn in ("argmax", "argmin") for a in ("first", "last")],
    *[_cum_case("cumsum", a, r, 0, 1) for a in ("first", "last") for r in (False, True)],
    *[_cum_case("cumprod", a, r, 0.5, 1.5, big=False) for a in ("first", "last") for r in (False, True)],
    *[_cum_case(fn, a, r, -50, 50) for fn in ("cummax", "cummin") for a in ("first", "last")
      for r in (False, True)],
]
