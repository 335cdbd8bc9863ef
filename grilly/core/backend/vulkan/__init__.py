"""The Vulkan backend: device selection, memory, command stream, pipelines and the kernel table.

``probe()`` says quietly whether a usable device exists; ``VulkanBackend`` is created on first use.
"""

from __future__ import annotations

from grilly.core.backend.vulkan.device import validation_messages
from grilly.core.backend.vulkan.multi import extra_backends
from grilly.core.backend.vulkan.runtime import get_runtime, probe


def __getattr__(name):
    if name == "VulkanBackend":
        from grilly.core.backend.vulkan.backend import VulkanBackend

        return VulkanBackend
    raise AttributeError(name)


__all__ = ["VulkanBackend", "extra_backends", "get_runtime", "probe", "validation_messages"]
