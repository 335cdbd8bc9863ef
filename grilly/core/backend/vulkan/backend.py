"""``VulkanBackend``: arrays in device buffers, primitives run as recorded compute dispatches."""

from __future__ import annotations

import numpy as np

from grilly.core.backend.base import Backend
from grilly.core.backend.vulkan.memory import DeviceBuffer
from grilly.core.backend.vulkan.runtime import get_runtime


class VulkanBackend(Backend):
    """Kernels: ``impl(rt, bufs, out_avals, **params) -> list[DeviceBuffer]`` in ``impl_rules["vulkan"]``."""

    name = "vulkan"

    def __init__(self, rt=None):
        self.rt = rt or get_runtime()
        self.logical_id = 0  # set for extra logical devices (grilly.parallel)
        from grilly.core.backend.vulkan.kernels import register_all

        register_all()

    def from_numpy(self, a: np.ndarray) -> DeviceBuffer:
        return self.rt.upload(a if a.flags.c_contiguous else np.array(a, order="C"))

    def to_numpy(self, buf: DeviceBuffer, aval) -> np.ndarray:
        if buf.host is not None:
            return buf.host
        out = self.rt.download(buf, aval.dtype, aval.shape)
        if out.nbytes <= (1 << 20):  # small results are read repeatedly (item(), repr): keep the host copy
            out.flags.writeable = False
            buf.host = out
            return out
        return out

    def execute(self, prim, impl, bufs, params, out_avals) -> list:
        return impl(self.rt, bufs, out_avals, **params)

    def block_until_ready(self, buf: DeviceBuffer) -> None:
        self.rt.stream.wait(buf.last_use)

    def device_of(self, buf) -> str:
        return f"vulkan:{self.logical_id} ({self.rt.info.name})"
