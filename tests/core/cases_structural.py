"""Table rows for the shape-changing primitives (dtype-agnostic: every dtype runs), each against NumPy."""

from __future__ import annotations

import numpy as np
from core_helpers import ALL, BF16, F16, F32, I32, INTS, Case, rand

import grilly.lax as lax

NONSCALAR = ((0,), (7,), (3, 5), (2, 3, 4), (1, 4, 1))


def one(rng, s, d):
    return [rand(rng, s, d, -50, 50)]


def _pad_axis(a, axis, lo, hi, interior, val):
    """Pad one axis with Python-level concatenation (a formulation independent of the primitive's)."""
    def filler(k):
        shp = list(a.shape)
        shp[axis] = k
        return np.full(shp, val, a.dtype)

    n = a.shape[axis]
    if interior and n > 1:
        parts = []
        for k in range(n):
            parts.append(np.take(a, [k], axis=axis))
            if k < n - 1:
                parts.append(filler(interior))
        a = np.concatenate(parts, axis)
    a = np.concatenate([filler(lo), a], axis) if lo >= 0 else np.take(a, np.arange(-lo, a.shape[axis]), axis=axis)
    a = np.concatenate([a, filler(hi)], axis) if hi >= 0 else np.take(a, np.arange(a.shape[axis] + hi), axis=axis)
    return a


def _pad_ref(config_fn):
    def ref(x, v):
        for ax, (lo, hi, i) in enumerate(config_fn(x.shape)):
            x = _pad_axis(x, ax, lo, hi, i, v)
        return x

    return ref


def _pad_case(name, config_fn):
    return Case(name, ("pad",), lambda x, v: lax.pad(x, v, config_fn(x.shape)),
                lambda rng, s, d: [rand(rng, s, d, -50, 50), rand(rng, (), d, -50, 50)], _pad_ref(config_fn), ALL,
                NONSCALAR)


def _half(n):
    return (n + 1) // 2


def _dyn_args(rng, s, d):
    x = rand(rng, s, d, -50, 50)
    return [x, rng.integers(-3, max(s, default=0) + 4, size=len(s)).astype(np.int32)]


def _clamped(shape, idx, sizes):
    return [int(np.clip(i, 0, n - k)) for i, n, k in zip(idx, shape, sizes)]


def _dyn_slice_ref(x, idx):
    sizes = [_half(n) for n in x.shape]
    st = _clamped(x.shape, idx, sizes)
    return x[tuple(slice(a, a + k) for a, k in zip(st, sizes))]


def _dyn_update_args(rng, s, d):
    x, idx = _dyn_args(rng, s, d)
    return [x, rand(rng, tuple(_half(n) for n in s), d, -50, 50), idx]


def _dyn_update_ref(x, u, idx):
    out = x.copy()
    st = _clamped(x.shape, idx, u.shape)
    out[tuple(slice(a, a + k) for a, k in zip(st, u.shape))] = u
    return out


def _slice_params(shape):
    start = tuple(min(1, n) for n in shape)
    return start, tuple(shape), tuple(2 if n > 2 else 1 for n in shape)


def _iota_ref(x):
    r = np.arange(x.shape[-1]).astype(x.dtype)
    return np.broadcast_to(r, x.shape)


CASES = [
    Case("broadcast_in_dim_new_axes", ("broadcast_in_dim",),
         lambda x: lax.broadcast_in_dim(x, (2, *x.shape, 3), tuple(range(1, x.ndim + 1))), one,
         lambda x: np.broadcast_to(x[None, ..., None], (2, *x.shape, 3)), ALL),
    Case("broadcast_in_dim_stretch", ("broadcast_in_dim", "reshape"),
         lambda x: lax.broadcast_in_dim(lax.reshape(x, (1, x.size, 1)), (3, x.size, 2), (0, 1, 2)), one,
         lambda x: np.broadcast_to(x.reshape(1, -1, 1), (3, x.size, 2)), ALL),
    Case("reshape", ("reshape",), lambda x: lax.reshape(x, (x.size,) if x.ndim != 1 else (1, x.size, 1)), one,
         lambda x: x.reshape((x.size,) if x.ndim != 1 else (1, x.size, 1)), ALL),
    Case("transpose_reverse", ("transpose",), lambda x: lax.transpose(x, tuple(reversed(range(x.ndim)))), one,
         lambda x: np.transpose(x), ALL, big=False),
    Case("transpose_roll", ("transpose",), lambda x: lax.transpose(x, (1, 2, 0)), one,
         lambda x: np.transpose(x, (1, 2, 0)), ALL, ((2, 3, 4), (1, 5, 3), (0, 2, 3)), big=False),
    Case("rev_all", ("rev",), lambda x: lax.rev(x, tuple(range(x.ndim))), one, lambda x: np.flip(x), ALL),
    Case("rev_last", ("rev",), lambda x: lax.rev(x, (x.ndim - 1,)), one, lambda x: np.flip(x, -1), ALL,
         NONSCALAR),
    Case("concatenate_axis0", ("concatenate",), lambda x, y: lax.concatenate([x, y, x], 0),
         lambda rng, s, d: [rand(rng, s, d, -50, 50), rand(rng, s, d, -50, 50)],
         lambda x, y: np.concatenate([x, y, x], 0), ALL, NONSCALAR),
    Case("concatenate_last", ("concatenate",), lambda x, y: lax.concatenate([x, y], x.ndim - 1),
         lambda rng, s, d: [rand(rng, s, d, -50, 50), rand(rng, (*s[:-1], 2), d, -50, 50)],
         lambda x, y: np.concatenate([x, y], -1), ALL, NONSCALAR),
    _pad_case("pad_low_high_interior", lambda s: [(1, 2, 1)] * len(s)),
    _pad_case("pad_negative", lambda s: [(-1 if n else 0, 1, 0) for n in s]),
    _pad_case("pad_interior_crop", lambda s: [(2, -1 if n else 0, 2) for n in s]),
    Case("slice_strided", ("slice",), lambda x: lax.slice(x, *_slice_params(x.shape)), one,
         lambda x: x[tuple(slice(a, b, c) for a, b, c in zip(*_slice_params(x.shape)))], ALL),
    Case("slice_in_dim", ("slice",), lambda x: lax.slice_in_dim(x, 1, x.shape[0] - 1, 1, 0), one,
         lambda x: x[1:-1], ALL, ((3,), (7,), (4, 5), (2, 3, 4))),
    Case("dynamic_slice_clamped", ("dynamic_slice",),
         lambda x, idx: lax.dynamic_slice(x, [idx[k] for k in range(x.ndim)], [_half(n) for n in x.shape]),
         _dyn_args, _dyn_slice_ref, ALL, NONSCALAR),
    Case("dynamic_update_slice_clamped", ("dynamic_update_slice",),
         lambda x, u, idx: lax.dynamic_update_slice(x, u, [idx[k] for k in range(x.ndim)]),
         _dyn_update_args, _dyn_update_ref, ALL, NONSCALAR),
    Case("iota", ("iota",), lambda x: lax.broadcasted_iota(x.dtype, x.shape, x.ndim - 1), one, _iota_ref,
         (F32, F16, BF16) + INTS, NONSCALAR, big=False),
    Case("iota_1d", ("iota",), lambda x: lax.iota(I32, x.shape[0]), one,
         lambda x: np.arange(x.shape[0], dtype=np.int32), (F32,), ((0,), (5,), (300,)), out=lambda d: I32),
]
