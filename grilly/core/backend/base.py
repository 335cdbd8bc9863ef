"""What a backend provides: buffers, transfers, and running a primitive's impl."""

from __future__ import annotations

import numpy as np


class Backend:
    """A place where arrays live and primitives run.

    ``execute(prim, impl, bufs, params, out_avals)`` runs ``impl`` (from ``impl_rules[self.name]``) on the
    backend's buffers and returns one buffer per output aval.
    """

    name = "?"

    def from_numpy(self, a: np.ndarray):
        raise NotImplementedError

    def to_numpy(self, buf, aval) -> np.ndarray:
        raise NotImplementedError

    def execute(self, prim, impl, bufs, params, out_avals) -> list:
        raise NotImplementedError

    def block_until_ready(self, buf) -> None:
        pass

    def device_of(self, buf):
        return self.name
