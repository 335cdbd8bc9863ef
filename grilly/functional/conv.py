"""Convolutions and pooling with PyTorch layouts: input (N, C, *spatial) or unbatched (C, *spatial),
weight (out_channels, in_channels / groups, *kernel).

>>> import grilly.functional as F, numpy as np
>>> F.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 3))).tolist()
[[[3.0, 3.0, 3.0]]]
"""

from __future__ import annotations

import grilly.numpy as gnp
from grilly.core import dtypes
from grilly.core.errors import ShapeError
from grilly.functional._util import as_float, asarray
from grilly.lax.linalg import conv_general_dilated
from grilly.lax.structural import slice_


def _tuple(v, n: int, what: str) -> tuple[int, ...]:
    t = (int(v),) * n if isinstance(v, int) else tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or {n} ints, got {v!r}")
    return t


def _padding(padding, n: int):
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, int):
        return ((int(padding), int(padding)),) * n
    pads = tuple(padding)
    if len(pads) != n:
        raise ValueError(f"padding must be an int, a string, or {n} entries, got {padding!r}")
    return tuple((int(p), int(p)) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in pads)


def _conv(x, weight, bias, stride, padding, dilation, groups, n: int, name: str):
    x, weight = as_float(x), asarray(weight)
    unbatched = x.ndim == n + 1
    if unbatched:
        x = gnp.expand_dims(x, 0)
    if x.ndim != n + 2 or weight.ndim != n + 2:
        raise ShapeError(f"{name}: expected input (N, C, {n} spatial) and weight (O, C/groups, {n} kernel), "
                         f"got {x.shape} and {weight.shape}")
    dt = dtypes.result_type(x.dtype, weight.dtype)
    y = conv_general_dilated(gnp.astype(x, dt), gnp.astype(weight, dt), _tuple(stride, n, "stride"),
                             _padding(padding, n), rhs_dilation=_tuple(dilation, n, "dilation"),
                             feature_group_count=groups)
    if bias is not None:
        y = y + gnp.reshape(asarray(bias), (-1,) + (1,) * n)
    return y[0] if unbatched else y


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-d convolution (cross-correlation, as PyTorch): x (N, C, L), weight (O, C/groups, K).

    ``padding`` is an int, (left, right) pairs, or "same"/"valid".
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-d convolution (cross-correlation, as PyTorch): x (N, C, H, W), weight (O, C/groups, KH, KW).

    >>> import grilly.functional as F, numpy as np
    >>> F.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), padding=1).shape
    (1, 2, 4, 4)
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _windows(x, kernel, stride, padding, pad_value):
    """The strided views x[..., i::s] (one per kernel offset) over the last len(kernel) dims."""
    n = len(kernel)
    if any(p > 0 for p in padding):
        cfg = [(0, 0)] * (x.ndim - n) + [(p, p) for p in padding]
        x = gnp.pad(x, cfg, constant_values=pad_value)
    lead = x.shape[:x.ndim - n]
    spatial = x.shape[x.ndim - n:]
    out = [(size - k) // s + 1 for size, k, s in zip(spatial, kernel, stride)]
    if any(o <= 0 for o in out):
        raise ShapeError(f"pooling window {kernel} is larger than the (padded) input {spatial}")
    offsets = [()]
    for k in kernel:
        offsets = [o + (i,) for o in offsets for i in range(k)]
    views = []
    for off in offsets:
        start = (0,) * len(lead) + off
        limit = lead + tuple(i + (o - 1) * s + 1 for i, o, s in zip(off, out, stride))
        views.append(slice_(x, start, limit, (1,) * len(lead) + tuple(stride)))
    return views


def _pool(x, kernel_size, stride, padding, n: int, reduce: str):
    x = as_float(x)
    kernel = _tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None else _tuple(stride, n, "stride")
    pads = _tuple(padding, n, "padding")
    if reduce == "max":
        views = _windows(x, kernel, stride, pads, float(gnp.finfo(x.dtype).min))
        out = views[0]
        for v in views[1:]:
            out = gnp.maximum(out, v)
        return out
    views = _windows(x, kernel, stride, pads, 0.0)
    total = views[0]
    for v in views[1:]:
        total = total + v
    return total * (1.0 / len(views))  # zero padding counts, as PyTorch's count_include_pad=True


def max_pool1d(x, kernel_size, stride=None, padding=0):
    """Max over windows of the last dim (stride defaults to kernel_size), as torch's max_pool1d.

    >>> import grilly.functional as F, numpy as np
    >>> F.max_pool1d(np.array([[1.0, 3.0, 2.0, 0.0]]), 2).tolist()
    [[3.0, 2.0]]
    """
    return _pool(x, kernel_size, stride, padding, 1, "max")


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over windows of the last two dims, as torch's max_pool2d."""
    return _pool(x, kernel_size, stride, padding, 2, "max")


def avg_pool1d(x, kernel_size, stride=None, padding=0):
    """Mean over windows of the last dim, as torch's avg_pool1d (zero padding is counted)."""
    return _pool(x, kernel_size, stride, padding, 1, "avg")


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over windows of the last two dims, as torch's avg_pool2d (zero padding is counted).

    >>> import grilly.functional as F, numpy as np
    >>> F.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2).tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    """
    return _pool(x, kernel_size, stride, padding, 2, "avg")
