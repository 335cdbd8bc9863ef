"""threefry2x32: bit-exact with the NumPy reference."""

from __future__ import annotations

import math

from grilly.core.backend.vulkan.kernels.common import launch, pack, register


def _threefry(rt, bufs, out_avals):
    k1, k2, x1, x2 = bufs
    y1, y2 = rt.empty(out_avals[0]), rt.empty(out_avals[1])
    n = math.prod(out_avals[0].shape)
    launch(rt, "random_threefry", n, pack("QQQQQQI", k1.addr, k2.addr, x1.addr, x2.addr, y1.addr, y2.addr, n),
           (k1, k2, x1, x2), (y1, y2))
    return [y1, y2]


def register_random() -> None:
    from grilly.lax import random_bits as R

    register(R.threefry2x32_p, _threefry)
