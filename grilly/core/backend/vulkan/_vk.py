"""The Vulkan binding (cffi), imported once: ``vk`` for structs and constants, ``lib``/``ffi`` for calls."""

from __future__ import annotations

try:
    import vulkan as vk
    from vulkan._vulkan import ffi, lib
except Exception as e:  # no loader, no binding: the backend is simply unavailable
    vk = ffi = lib = None
    IMPORT_ERROR: Exception | None = e
else:
    IMPORT_ERROR = None


def check(result: int, what: str) -> None:
    """Raise for a failed raw ``lib`` call (the binding only checks its own wrappers)."""
    if result != 0:
        from grilly.core.errors import BackendError, OutOfMemoryError

        if result in (-1, -2):  # VK_ERROR_OUT_OF_HOST_MEMORY, VK_ERROR_OUT_OF_DEVICE_MEMORY
            raise OutOfMemoryError(f"Vulkan ran out of memory in {what}")
        raise BackendError(f"{what} failed with VkResult {result}")
