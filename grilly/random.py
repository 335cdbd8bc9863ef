"""Explicit-key random numbers on threefry2x32, as ``jax.random``: the same key gives the same bits on every
backend. A key is a uint32 array of shape (2,).

>>> import grilly.random as gr
>>> k1, k2 = gr.split(gr.PRNGKey(0))
>>> gr.normal(k1, (2,)).shape
(2,)
"""

from __future__ import annotations

import math

import numpy as np

from grilly.core import dtypes
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, full
from grilly.lax.random_bits import threefry2x32
from grilly.lax.structural import broadcasted_iota, concatenate, reshape, slice_in_dim
from grilly.numpy._base import asarray


def PRNGKey(seed: int):  # noqa: N802  (the JAX name)
    """A key from an integer seed (64-bit seeds use both words, as in JAX)."""
    seed = int(seed)
    hi, lo = (seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF
    return asarray(np.array([hi, lo], dtype=np.uint32))


key = PRNGKey


def _check_key(k, op):
    av = aval_of(k)
    if av.shape != (2,) or av.dtype != dtypes.uint32:
        raise TypeError(f"random.{op}: expected a key (uint32[2], from random.PRNGKey), got {av}")


def _words(k):
    return reshape(slice_in_dim(k, 0, 1), ()), reshape(slice_in_dim(k, 1, 2), ())


def random_bits(k, n: int):
    """``n`` uint32 words from key ``k`` (counter mode, as JAX's threefry_random_bits)."""
    _check_key(k, "bits")
    k1, k2 = _words(k)
    half = (n + 1) // 2
    if half == 0:
        return full((0,), 0, dtypes.uint32)
    ctr = broadcasted_iota(dtypes.uint32, (2 * half,), 0)
    y1, y2 = threefry2x32(k1, k2, slice_in_dim(ctr, 0, half), slice_in_dim(ctr, half, 2 * half))
    return slice_in_dim(concatenate([y1, y2], 0), 0, n)


def split(k, num: int = 2):
    """``num`` new independent keys, shape (num, 2)."""
    _check_key(k, "split")
    return reshape(random_bits(k, 2 * num), (num, 2))


def fold_in(k, data: int):
    """A new key determined by ``k`` and an integer."""
    _check_key(k, "fold_in")
    k1, k2 = _words(k)
    d = asarray(np.uint32(int(data) & 0xFFFFFFFF)) if isinstance(data, int) else E.convert(asarray(data),
                                                                                          dtypes.uint32)
    z = full((1,), 0, dtypes.uint32)
    y1, y2 = threefry2x32(k1, k2, z, reshape(d, (1,)))
    return concatenate([y1, y2], 0)


def _shape(shape):
    return (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)


def _uniform_bits_to_float(bits, dtype):
    """Mantissa trick: 23 random bits under exponent 0 give a float in [1, 2); subtract 1."""
    mant = E.shift_right_logical(bits, full(aval_of(bits).shape, 9, dtypes.uint32))
    one = E.or_(mant, full(aval_of(bits).shape, 0x3F800000, dtypes.uint32))
    f = E.sub(E.bitcast_convert_type(one, dtypes.float32), full(aval_of(bits).shape, 1.0, dtypes.float32))
    return f if dtype == dtypes.float32 else E.convert(f, dtype)


def uniform(k, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval)."""
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    u = reshape(_uniform_bits_to_float(random_bits(k, n), dtype), shape)
    lo, hi = asarray(minval, dtype), asarray(maxval, dtype)
    from grilly.lax.structural import broadcast_to

    lo, hi = broadcast_to(lo, shape), broadcast_to(hi, shape)
    return E.max_(lo, E.add(lo, E.mul(u, E.sub(hi, lo))))


def normal(k, shape=(), dtype=None):
    """Standard normal floats (inverse-CDF of a uniform in (-1, 1), as JAX)."""
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
    u = uniform(k, shape, dtypes.float32, lo, 1.0)
    out = E.mul(full(aval_of(u).shape, math.sqrt(2.0), dtypes.float32), E.erf_inv(u))
    return out if dtype == dtypes.float32 else E.convert(out, dtype)


def truncated_normal(k, lower, upper, shape=(), dtype=None):
    """Normal floats conditioned on lower < x < upper."""
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    shape = _shape(shape)
    sq2 = math.sqrt(2.0)
    a, b = math.erf(lower / sq2), math.erf(upper / sq2)
    u = uniform(k, shape, dtypes.float32, a, b)
    out = E.mul(full(shape, sq2, dtypes.float32), E.erf_inv(u))
    lo = np.nextafter(np.float32(lower), np.float32(np.inf))
    hi = np.nextafter(np.float32(upper), np.float32(-np.inf))
    out = E.max_(E.min_(out, full(shape, hi, dtypes.float32)), full(shape, lo, dtypes.float32))
    return out if dtype == dtypes.float32 else E.convert(out, dtype)


def bernoulli(k, p=0.5, shape=None):
    """Booleans that are True with probability ``p``."""
    p = asarray(p, dtypes.float32)
    shape = aval_of(p).shape if shape is None else _shape(shape)
    from grilly.lax.structural import broadcast_to

    return E.lt_(uniform(k, shape, dtypes.float32), broadcast_to(p, shape))


def randint(k, shape, minval, maxval, dtype=None):
    """Integers in [minval, maxval)."""
    dtype = dtypes.canonicalize(dtype or dtypes.int32)
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    k1, k2 = split(k)
    hi_bits = random_bits(k1, n)
    lo_bits = random_bits(k2, n)
    span = int(maxval) - int(minval)
    if span <= 0:
        raise ValueError(f"randint: need maxval > minval, got [{minval}, {maxval})")
    # (hi * 2^32 + lo) mod span, computed with 32-bit words: hi * (2^32 mod span) + lo, each reduced mod span
    s = full((n,), span, dtypes.uint32)
    mult = full((n,), (2 ** 32) % span, dtypes.uint32)
    r = E.rem(E.add(E.mul(E.rem(hi_bits, s), mult), E.rem(lo_bits, s)), s) if span < 2 ** 16 else E.rem(lo_bits, s)
    out = E.add(E.convert(r, dtypes.int32), full((n,), int(minval), dtypes.int32))
    return reshape(E.convert(out, dtype) if dtype != dtypes.int32 else out, shape)


def permutation(k, x):
    """A random permutation of ``range(x)`` (int) or of ``x`` along axis 0."""
    from grilly.lax.sorting import argsort

    n = int(x) if isinstance(x, int) else aval_of(asarray(x)).shape[0]
    order = argsort(random_bits(k, n), 0)
    if isinstance(x, int):
        return order
    from grilly.lax.gather_scatter import gather

    return gather(asarray(x), order, 0)


def shuffle(k, x, axis=0):
    return permutation(k, x)


def choice(k, a, shape=(), replace=True, p=None):
    n = int(a) if isinstance(a, int) else aval_of(asarray(a)).shape[0]
    shape = _shape(shape)
    if p is not None:
        idx = categorical(k, E.log(asarray(p, dtypes.float32)), shape=shape)
    elif replace:
        idx = randint(k, shape, 0, n)
    else:
        idx = reshape(slice_in_dim(permutation(k, n), 0, int(np.prod(shape, dtype=np.int64))), shape)
    if isinstance(a, int):
        return idx
    from grilly.lax.gather_scatter import gather

    return gather(asarray(a), idx, 0)


def categorical(k, logits, axis=-1, shape=None):
    """Samples from a categorical distribution given unnormalized log-probabilities (Gumbel-max)."""
    logits = asarray(logits)
    av = aval_of(logits)
    axis = axis % av.ndim
    batch = av.shape[:axis] + av.shape[axis + 1:]
    shape = batch if shape is None else _shape(shape)
    from grilly.lax._helpers import moveaxis
    from grilly.lax.reductions import argmax
    from grilly.lax.structural import broadcast_in_dim

    lg = moveaxis(logits, axis, -1)
    lg = broadcast_in_dim(lg, (*shape, av.shape[axis]), tuple(range(len(shape) - len(batch), len(shape) + 1)))
    g = gumbel(k, aval_of(lg).shape)
    return argmax(E.add(lg, g), len(shape))


def gumbel(k, shape=(), dtype=None):
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    tiny = float(np.finfo(np.float32).tiny)
    u = uniform(k, shape, dtypes.float32, tiny, 1.0)
    out = E.neg(E.log(E.neg(E.log(u))))
    return out if dtype == dtypes.float32 else E.convert(out, dtype)


def exponential(k, shape=(), dtype=None):
    u = uniform(k, shape, dtype)
    return E.neg(E.log1p(E.neg(u)))


def poisson_spikes(k, rates, dt: float = 1.0):
    """Spike trains: True with probability rate*dt per entry (rate coding)."""
    r = asarray(rates, dtypes.float32)
    return bernoulli(k, E.mul(r, full(aval_of(r).shape, dt, dtypes.float32)))
