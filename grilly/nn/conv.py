"""Convolution and pooling layers with PyTorch layouts (N, C, *spatial) or unbatched (C, *spatial).

>>> import grilly.nn as nn, numpy as np
>>> nn.Conv2d(1, 4, 3, padding=1)(np.ones((2, 1, 8, 8), np.float32)).shape
(2, 4, 8, 8)
"""

from __future__ import annotations

import math
from typing import Any

import grilly.functional as F
from grilly.nn import init
from grilly.nn.module import Module, static


def _tuple(v, n: int) -> tuple[int, ...]:
    return (int(v),) * n if isinstance(v, int) else tuple(int(a) for a in v)


class _ConvNd(Module):
    weight: Any
    bias: Any
    in_channels: int = static()
    out_channels: int = static()
    kernel_size: tuple = static()
    stride: tuple = static()
    padding: Any = static()
    dilation: tuple = static()
    groups: int = static()

    _n = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, *, key=None, dtype=None):
        n = self._n
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must be divisible by "
                             f"groups={groups}")
        self.kernel_size = _tuple(kernel_size, n)
        wkey, bkey = init.split(key)
        bound = init.fan_in_bound(in_channels // groups * math.prod(self.kernel_size))
        self.weight = init.uniform(wkey, (out_channels, in_channels // groups) + self.kernel_size, bound, dtype)
        self.bias = init.uniform(bkey, (out_channels,), bound, dtype) if bias else None
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.stride, self.dilation = _tuple(stride, n), _tuple(dilation, n)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n)


class Conv1d(_ConvNd):
    """1-d convolution: input (N, C_in, L), weight (C_out, C_in / groups, K)."""

    _n = 1

    def __call__(self, x, *, key=None):
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-d convolution: input (N, C_in, H, W), weight (C_out, C_in / groups, KH, KW)."""

    _n = 2

    def __call__(self, x, *, key=None):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class _Pool(Module):
    kernel_size: Any = static()
    stride: Any = static(default=None)
    padding: Any = static(default=0)


class MaxPool1d(_Pool):
    def __call__(self, x, *, key=None):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding)


class MaxPool2d(_Pool):
    def __call__(self, x, *, key=None):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool1d(_Pool):
    def __call__(self, x, *, key=None):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool):
    def __call__(self, x, *, key=None):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
