"""More logical devices: extra runtimes (each its own VkInstance and VkDevice) on the selected physical device,
or on the next physical GPUs when the machine has several."""

from __future__ import annotations

_extra: list = []


def extra_backends(n: int) -> list:
    """Backends for logical devices 1..n-1 (device 0 is the default backend)."""
    from grilly.core.backend.vulkan.backend import VulkanBackend
    from grilly.core.backend.vulkan.runtime import Runtime

    while len(_extra) < n - 1:
        b = VulkanBackend(Runtime())
        b.logical_id = len(_extra) + 1
        _extra.append(b)
    return _extra[: n - 1]
