"""The NumPy reference backend: buffers are read-only contiguous ndarrays."""

from __future__ import annotations

import numpy as np

from grilly.core.backend.base import Backend
from grilly.core.errors import BackendError


class NumpyBackend(Backend):
    name = "numpy"

    def from_numpy(self, a: np.ndarray):
        a = np.array(a, copy=True, order="C")
        a.flags.writeable = False
        return a

    def to_numpy(self, buf, aval) -> np.ndarray:
        return buf

    def execute(self, prim, impl, bufs, params, out_avals) -> list:
        outs = impl(*bufs, **params)
        outs = list(outs) if prim.multiple_results else [outs]
        result = []
        for o, av in zip(outs, out_avals):
            o = np.asarray(o)
            if o.shape != av.shape:
                raise BackendError(f"numpy impl of '{prim.name}' gave shape {o.shape}, expected {av.shape}")
            o = np.array(o, dtype=av.dtype, order="C", copy=not o.flags.c_contiguous or o.flags.writeable)
            o.flags.writeable = False
            result.append(o)
        return result
