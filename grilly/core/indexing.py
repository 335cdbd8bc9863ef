"""NumPy-style indexing (``x[idx]``) and functional updates (``x.at[idx].set(v)``), lowered to slice,
reshape, rev and gather/scatter primitives."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core.errors import ConcretizationError


def _is_array_index(i) -> bool:
    from grilly.core.array import Array
    from grilly.core.trace import Tracer

    return isinstance(i, Array | Tracer | np.ndarray | list) and not isinstance(i, bool)


def _expand(x, idx):
    """Expand Ellipsis, turn None into inserted axes and boolean masks into integer arrays."""
    from grilly.lax.structural import expand_dims

    idx = idx if isinstance(idx, tuple) else (idx,)
    items = []
    for i in idx:
        if isinstance(i, bool | np.bool_):  # a scalar bool: a new axis of length 1 (True) or 0 (False), as NumPy
            items.append(None if i else _EMPTY_AXIS)
            continue
        if _is_array_index(i):
            arr = i
            dt = getattr(arr, "dtype", None) if not isinstance(arr, list) else np.asarray(arr).dtype
            if dt is not None and np.dtype(dt) == np.bool_:
                try:
                    mask = np.asarray(arr)
                except ConcretizationError as e:
                    raise ConcretizationError(
                        "boolean mask indexing needs a concrete mask (its result shape depends on the data); "
                        "inside jit use gnp.where(mask, x, 0) instead") from e
                items.extend(np.nonzero(mask))
                continue
        items.append(i)
    n_consume = sum(1 for i in items if i is not None and i is not Ellipsis and i is not _EMPTY_AXIS)
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_consume > x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, but {n_consume} were indexed")
    out = []
    for i in items:
        if i is Ellipsis:
            out.extend([slice(None)] * (x.ndim - n_consume))
        else:
            out.append(i)
    if not any(i is Ellipsis for i in items):
        out.extend([slice(None)] * (x.ndim - n_consume))
    new_axes = [k for k, i in enumerate(out) if i is None or i is _EMPTY_AXIS]
    if new_axes:
        x = expand_dims(x, tuple(new_axes))
        out = [slice(None) if i is None else slice(0, 0) if i is _EMPTY_AXIS else i for i in out]
    return x, out


_EMPTY_AXIS = object()  # the index False: a new axis of length 0


def getitem(x, idx):
    from grilly.lax import elementwise as E
    from grilly.lax.gather_scatter import gather
    from grilly.lax.structural import reshape, rev, slice_, squeeze, transpose
    from grilly.numpy._base import asarray

    x, items = _expand(x, idx)
    shape = x.shape
    starts, limits, strides, flips, drop, adv = [], [], [], [], [], []
    for d, (i, n) in enumerate(zip(items, shape)):
        if isinstance(i, slice):
            st, sp, step = i.indices(n)
            if step < 0:
                flips.append(d)  # slice the reversed axis with a positive step
                st, sp, step = n - 1 - st, n - 1 - sp, -step
            starts.append(st)
            limits.append(max(st, sp))
            strides.append(step)
        elif isinstance(i, int | np.integer):
            k = int(i)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for axis {d} with size {n}")
            k %= n
            starts.append(k)
            limits.append(k + 1)
            strides.append(1)
            drop.append(d)
        else:
            starts.append(0)
            limits.append(n)
            strides.append(1)
            adv.append(d)
    if flips:
        x = rev(x, flips)
    x = slice_(x, starts, limits, strides)
    if not adv:
        return squeeze(x, drop) if drop else x
    # advanced indices: broadcast them, fold their axes into one and gather once
    arrs = [asarray(items[d], dtypes.int32 if isinstance(items[d], list) and not items[d] else None) for d in adv]
    for a in arrs:
        if dtypes.kind(a.dtype) not in "iu":
            raise IndexError(f"arrays used as indices must be of integer (or boolean) type, got {a.dtype}")
    bshape = np.broadcast_shapes(*[a.shape for a in arrs])
    from grilly.lax.structural import broadcast_to

    keep = [d for d in range(x.ndim) if d not in adv and d not in drop]
    x = transpose(x, (*adv, *drop, *keep))
    sizes = [x.shape[k] for k in range(len(adv))]
    x = reshape(x, (int(np.prod(sizes, dtype=np.int64)), *x.shape[len(adv) + len(drop):]))
    flat = None
    stride = 1
    for a, n in reversed(list(zip(arrs, sizes))):
        a = broadcast_to(E.convert_element_type(a, dtypes.int32), bshape)
        zero = broadcast_to(asarray(0, dtypes.int32), bshape)
        a = E.select(E.lt_(a, zero), E.add(a, broadcast_to(asarray(n, dtypes.int32), bshape)), a)
        term = E.mul(a, broadcast_to(asarray(stride, dtypes.int32), bshape)) if stride != 1 else a
        flat = term if flat is None else E.add(flat, term)
        stride *= n
    out = gather(x, flat, axis=0)
    contiguous = adv == list(range(adv[0], adv[0] + len(adv))) and not any(adv[0] < d < adv[-1] for d in drop)
    if contiguous and adv[0] > 0:
        lead = sum(1 for d in keep if d < adv[0])
        nb = len(bshape)
        perm = list(range(nb, nb + lead)) + list(range(nb)) + list(range(nb + lead, out.ndim))
        out = transpose(out, perm)
    return out


class _AtRef:
    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self):
        return getitem(self.x, self.idx)

    def _update(self, values, mode):
        from grilly.lax.gather_scatter import scatter
        from grilly.lax.structural import broadcast_to, broadcasted_iota, reshape
        from grilly.numpy._base import asarray

        x = self.x
        positions = getitem(reshape(broadcasted_iota(dtypes.int32, (x.size,), 0), x.shape), self.idx)
        v = asarray(values)
        v = v if v.dtype == x.dtype else v.astype(x.dtype)
        v = broadcast_to(v, positions.shape)
        out = scatter(reshape(x, (x.size,)), reshape(positions, (positions.size,)), reshape(v, (positions.size,)),
                      axis=0, mode=mode)
        return reshape(out, x.shape)

    def set(self, values):
        return self._update(values, "set")

    def add(self, values):
        return self._update(values, "add")

    def multiply(self, values):
        return self._update(values, "mul")

    mul = multiply

    def min(self, values):
        return self._update(values, "min")

    def max(self, values):
        return self._update(values, "max")


class AtIndexer:
    """``x.at[idx]``: functional updates that return a new array, as in JAX."""

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _AtRef(self.x, idx)
