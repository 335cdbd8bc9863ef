"""Creation and shape manipulation with NumPy's signatures."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core.errors import ShapeError
from grilly.lax import structural as S
from grilly.lax._helpers import aval_of
from grilly.lax._helpers import full as _full
from grilly.numpy._base import asarray, canon_axes, dtype_of


def _shape(shape):
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)


def zeros(shape, dtype=None):
    return _full(_shape(shape), 0, dtypes.canonicalize(dtype))


def ones(shape, dtype=None):
    return _full(_shape(shape), 1, dtypes.canonicalize(dtype))


def full(shape, fill_value, dtype=None):
    if dtype is None:
        dtype = dtype_of(fill_value)
    fv = asarray(fill_value, dtype)
    return S.broadcast_to(fv, _shape(shape))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def zeros_like(a, dtype=None, shape=None):
    return _full(aval_of(asarray(a)).shape if shape is None else _shape(shape), 0, dtype or dtype_of(a))


def ones_like(a, dtype=None, shape=None):
    return _full(aval_of(asarray(a)).shape if shape is None else _shape(shape), 1, dtype or dtype_of(a))


def full_like(a, fill_value, dtype=None, shape=None):
    return full(aval_of(asarray(a)).shape if shape is None else shape, fill_value, dtype or dtype_of(a))


empty_like = zeros_like


def arange(start, stop=None, step=None, dtype=None):
    """As ``numpy.arange`` (the bounds must be concrete)."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    vals = np.arange(start, stop, step)
    if dtype is None:
        dtype = dtypes.default_float() if dtypes.kind(vals.dtype) == "f" else dtypes.default_int()
    dtype = dtypes.canonicalize(dtype)
    if dtypes.kind(vals.dtype) in "iu" and step == 1 and start == 0:
        return S.iota(dtype, len(vals)) if len(vals) else asarray(np.zeros(0, dtype))
    return asarray(vals.astype(dtype))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return asarray(np.linspace(start, stop, num, endpoint=endpoint), dtype or dtypes.default_float())


def eye(n, m=None, k=0, dtype=None):
    return asarray(np.eye(n, m, k), dtype or dtypes.default_float())


identity = eye


def reshape(a, newshape, order="C"):
    return S.reshape(asarray(a), _shape(newshape))


def ravel(a):
    return S.reshape(asarray(a), (-1,) if aval_of(asarray(a)).size else (0,))


def transpose(a, axes=None):
    a = asarray(a)
    perm = tuple(range(a.ndim))[::-1] if axes is None else tuple(int(p) % a.ndim for p in axes)
    return S.transpose(a, perm)


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    perm = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return S.transpose(a, perm)


def moveaxis(a, source, destination):
    a = asarray(a)
    src = [s % a.ndim for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % a.ndim for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return S.transpose(a, order)


def squeeze(a, axis=None):
    a = asarray(a)
    if axis is None:
        axis = tuple(i for i, s in enumerate(a.shape) if s == 1)
    return S.squeeze(a, canon_axes(axis, a.ndim, "squeeze"))


def expand_dims(a, axis):
    a = asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return S.expand_dims(a, axes)


def broadcast_to(a, shape):
    return S.broadcast_to(asarray(a), _shape(shape))


def broadcast_arrays(*args):
    shape = np.broadcast_shapes(*[aval_of(asarray(a)).shape for a in args])
    return [S.broadcast_to(asarray(a), shape) for a in args]


def atleast_1d(a):
    a = asarray(a)
    return S.reshape(a, (1,)) if a.ndim == 0 else a


def atleast_2d(a):
    a = asarray(a)
    return S.reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a


def concatenate(arrays, axis=0):
    arrays = _same_dtype(arrays)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    nd = aval_of(arrays[0]).ndim
    if nd == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    return S.concatenate(arrays, canon_axes(axis, nd, "concatenate")[0])


def _same_dtype(arrays):
    arrays = [asarray(a) for a in arrays]
    dt = dtypes.result_type(*[aval_of(a).dtype for a in arrays])
    from grilly.lax.elementwise import convert_element_type

    return [convert_element_type(a, dt) for a in arrays]


def stack(arrays, axis=0):
    arrays = _same_dtype(arrays)
    if not arrays:
        raise ShapeError("stack: need at least one array")
    shapes = {aval_of(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all arrays must have one shape, got {sorted(shapes)}")
    nd = aval_of(arrays[0]).ndim + 1
    ax = canon_axes(axis, nd, "stack")[0]
    return S.concatenate([S.expand_dims(a, (ax,)) for a in arrays], ax)


def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, 0 if aval_of(arrays[0]).ndim == 1 else 1)


def vstack(arrays):
    return concatenate([atleast_2d(a) for a in arrays], 0)


def split(a, indices_or_sections, axis=0):
    a = asarray(a)
    ax = canon_axes(axis, a.ndim, "split")[0]
    n = a.shape[ax]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis of size {n} does not divide into {indices_or_sections} equal parts")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step)) if step else [0] * (indices_or_sections + 1)
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    return [S.slice_in_dim(a, min(lo, n), min(max(hi, lo), n), axis=ax) for lo, hi in zip(bounds[:-1], bounds[1:])]


def array_split(a, sections, axis=0):
    a = asarray(a)
    n = a.shape[axis % a.ndim]
    q, r = divmod(n, sections)
    bounds = np.cumsum([0] + [q + 1] * r + [q] * (sections - r))
    return split(a, list(bounds[1:-1]), axis)


def flip(a, axis=None):
    a = asarray(a)
    return S.rev(a, canon_axes(axis, a.ndim, "flip"))


def roll(a, shift, axis=None):
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    if isinstance(axis, tuple | list) or isinstance(shift, tuple | list):  # several axes, as NumPy
        axes = axis if isinstance(axis, tuple | list) else (axis,) * len(shift)
        shifts = shift if isinstance(shift, tuple | list) else (shift,) * len(axes)
        for sh, ax_ in zip(shifts, axes):
            a = roll(a, sh, ax_)
        return a
    ax = axis % a.ndim
    n = a.shape[ax]
    if n == 0:
        return a
    s = int(shift) % n
    if s == 0:
        return a
    return S.concatenate([S.slice_in_dim(a, n - s, n, axis=ax), S.slice_in_dim(a, 0, n - s, axis=ax)], ax)


def tile(a, reps):
    a = asarray(a)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(a.ndim, len(reps))
    a = S.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    reps = (1,) * (nd - len(reps)) + reps
    shape2 = []
    for r, s in zip(reps, a.shape):
        shape2 += [r, s]
    b = S.broadcast_in_dim(a, tuple(shape2), tuple(range(1, 2 * nd, 2)))
    return S.reshape(b, tuple(r * s for r, s in zip(reps, a.shape)))


def repeat(a, repeats, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    ax = axis % a.ndim
    if not isinstance(repeats, int):
        from grilly.numpy._indexing import take

        idx = np.repeat(np.arange(a.shape[ax]), np.asarray(repeats))
        return take(a, asarray(idx.astype(np.int32)), axis=ax)
    shape = list(a.shape)
    b = S.broadcast_in_dim(a, (*shape[:ax + 1], repeats, *shape[ax + 1:]),
                           tuple(range(ax + 1)) + tuple(range(ax + 2, a.ndim + 1)))
    shape[ax] *= repeats
    return S.reshape(b, shape)


_PAD_MODES = ("constant", "edge", "wrap", "reflect", "symmetric")


def pad(a, pad_width, mode="constant", constant_values=0):
    """``numpy.pad`` for modes "constant", "edge", "wrap", "reflect" and "symmetric" (pads wider than the axis
    extend the pattern periodically, as NumPy does). Non-constant modes gather along each padded axis, so they
    are differentiable like any indexing.

    >>> import grilly.numpy as gnp
    >>> gnp.pad(gnp.array([1, 2, 3]), (2, 1), mode="reflect").tolist()
    [3, 2, 1, 2, 3, 2]
    """
    a = asarray(a)
    if mode not in _PAD_MODES:
        raise NotImplementedError_(f"pad: mode {mode!r}; grilly supports {', '.join(map(repr, _PAD_MODES))}")
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.asarray([[pad_width, pad_width]]), (a.ndim, 2))
    if (pw < 0).any():
        raise ValueError(f"pad: pad widths must be non-negative, got {pw.tolist()}")
    if mode == "constant":
        return S.pad(a, asarray(constant_values, a.dtype), [(int(lo), int(hi), 0) for lo, hi in pw])
    from grilly.numpy._indexing import take

    for ax, (lo, hi) in enumerate(pw):
        if lo == hi == 0:
            continue
        n = a.shape[ax]
        if n == 0:
            raise ValueError(f"pad: mode {mode!r} cannot extend the empty axis {ax} of shape {a.shape}")
        a = take(a, asarray(_pad_source(mode, n, int(lo), int(hi))), axis=ax)
    return a


def _pad_source(mode: str, n: int, lo: int, hi: int) -> np.ndarray:
    """For each position of the padded axis, the position of the input it copies (int32)."""
    i = np.arange(-lo, n + hi, dtype=np.int64)
    if mode == "edge":
        j = np.clip(i, 0, n - 1)
    elif mode == "wrap":
        j = np.mod(i, n)
    elif mode == "reflect":  # mirror about the edge elements: period 2n - 2
        period = max(2 * n - 2, 1)
        j = np.mod(i, period)
        j = np.where(j < n, j, period - j) if n > 1 else np.zeros_like(i)
    else:  # symmetric: mirror including the edge elements, period 2n
        j = np.mod(i, 2 * n)
        j = np.where(j < n, j, 2 * n - 1 - j)
    return j.astype(np.int32)


class NotImplementedError_(ValueError):
    pass


def tril(m, k=0):
    m = asarray(m)
    from grilly.lax.elementwise import ge_, select
    from grilly.lax.structural import broadcasted_iota

    n, mm = m.shape[-2:]
    i = broadcasted_iota(dtypes.int32, (n, mm), 0)
    j = broadcasted_iota(dtypes.int32, (n, mm), 1)
    from grilly.lax.elementwise import add

    mask = S.broadcast_to(ge_(add(i, _full((n, mm), k, dtypes.int32)), j), m.shape)
    return select(mask, m, _full(m.shape, 0, m.dtype))


def triu(m, k=0):
    m = asarray(m)
    from grilly.lax.elementwise import select

    lower = tril(_full(m.shape, 1, dtypes.int32), k - 1)
    from grilly.lax.elementwise import eq_

    return select(eq_(lower, _full(m.shape, 0, dtypes.int32)), m, _full(m.shape, 0, m.dtype))


def meshgrid(*xs, indexing="xy"):
    xs = [ravel(asarray(x)) for x in xs]
    shape = [aval_of(x).shape[0] for x in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        d = i
        if indexing == "xy" and len(xs) >= 2 and i < 2:
            d = 1 - i
        out.append(S.broadcast_in_dim(x, tuple(shape), (d,)))
    return out


def diag(v, k=0):
    v = asarray(v)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        from grilly.lax.elementwise import mul

        e = eye(n, k=k, dtype=v.dtype)
        row = S.broadcast_in_dim(S.pad(v, asarray(0, v.dtype), [(max(k, 0), max(-k, 0), 0)]), (n, n), (1,))
        return mul(e, row)
    from grilly.numpy._indexing import diagonal

    return diagonal(v, k)
