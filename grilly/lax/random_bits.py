"""The threefry2x32 block cipher (Salmon et al. 2011, 20 rounds): the source of every random bit."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.primitive import Primitive
from grilly.lax._helpers import batch_size, bdim_to_front, defnondiff, dtype_error, shape_error

threefry2x32_p = Primitive("threefry2x32", multiple_results=True)

ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry_abstract(k1, k2, x1, x2):
    avals = (k1, k2, x1, x2)
    if any(a.dtype != dtypes.uint32 for a in avals):
        raise dtype_error("threefry2x32", avals, "uint32 operands")
    if k1.shape != () or k2.shape != () or x1.shape != x2.shape:
        raise shape_error("threefry2x32", avals, "scalar keys and counters of one shape")
    return [x1, x2]


def threefry2x32_np(k1, k2, x1, x2):
    def rotl(v, d):
        return (v << np.uint32(d)) | (v >> np.uint32(32 - d))

    k1, k2 = np.uint32(k1), np.uint32(k2)
    ks = (k1, k2, np.uint32(k1 ^ k2 ^ np.uint32(0x1BD11BDA)))
    x = [x1.astype(np.uint32) + ks[0], x2.astype(np.uint32) + ks[1]]
    with np.errstate(over="ignore"):
        for block in range(5):
            for r in ROTATIONS[block % 2]:
                x[0] = x[0] + x[1]
                x[1] = rotl(x[1], r) ^ x[0]
            x[0] = x[0] + ks[(block + 1) % 3]
            x[1] = x[1] + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x[0], x[1]


def _threefry_batch(vals, dims):
    size = batch_size(vals, dims)
    if dims[0] is None and dims[1] is None:
        x1, x2 = (bdim_to_front(v, d, size) for v, d in zip(vals[2:], dims[2:]))
        return threefry2x32_p.bind(vals[0], vals[1], x1, x2), [0, 0]
    from grilly.lax.structural import loop_batch

    return loop_batch(threefry2x32_p)(vals, dims)


P.abstract_eval_rules[threefry2x32_p] = _threefry_abstract
P.impl_rules["numpy"][threefry2x32_p] = threefry2x32_np
P.batch_rules[threefry2x32_p] = _threefry_batch
defnondiff(threefry2x32_p)


def threefry2x32(k1, k2, x1, x2):
    return tuple(threefry2x32_p.bind(k1, k2, x1, x2))
