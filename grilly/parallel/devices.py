"""Devices: each is one backend instance (a Vulkan runtime on one logical device, or a NumPy host "device").

Several physical GPUs give one device each. ``GRILLY_LOGICAL_DEVICES=N`` (or ``set_logical_devices(N)`` before
first use) splits one physical device into N logical ones (separate VkDevices, or separate NumPy backends), so
the multi-device code path runs and is tested on one GPU or on a CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from grilly.core.backend import _backends, default_backend, get_backend
from grilly.core.backend.numpy_backend import NumpyBackend
from grilly.core.errors import BackendError


@dataclass(frozen=True)
class Device:
    platform: str  # "vulkan" or "numpy"
    id: int
    backend: object

    def __repr__(self):
        desc = getattr(self.backend, "device_name", None)
        return f"{self.platform}:{self.id}" + (f" ({desc})" if desc else "")


_devices: dict[str, list[Device]] = {}
_logical: list[int | None] = [None]


def set_logical_devices(n: int) -> None:
    """Split one physical device into ``n`` logical devices (arrays already placed keep their devices)."""
    _logical[0] = int(n)
    _devices.clear()


def _logical_count() -> int:
    return _logical[0] or int(os.environ.get("GRILLY_LOGICAL_DEVICES", "1"))


def local_devices(platform: str | None = None) -> list[Device]:
    """The devices of a platform (default: the default backend's), device 0 first."""
    platform = platform or default_backend()
    if platform not in _devices:
        _devices[platform] = _make(platform)
    return list(_devices[platform])


def _make(platform: str) -> list[Device]:
    n = _logical_count()
    if platform == "numpy":
        first = get_backend("numpy")
        return [Device("numpy", 0, first)] + [Device("numpy", i, NumpyBackend()) for i in range(1, n)]
    if platform == "vulkan":
        from grilly.core.backend.vulkan import extra_backends

        first = get_backend("vulkan")
        return [Device("vulkan", i, b) for i, b in enumerate([first, *extra_backends(n)])]
    raise BackendError(f"unknown platform {platform!r}; known: numpy, vulkan")


def local_device_count(platform: str | None = None) -> int:
    return len(local_devices(platform))


def resolve(device) -> object:
    """A backend instance from a Device, ``"numpy"``/``"vulkan"``, ``"vulkan:1"`` or None (the default)."""
    if device is None:
        return get_backend()
    if isinstance(device, Device):
        return device.backend
    name, _, idx = str(device).partition(":")
    if idx and idx.isdigit():
        devs = local_devices(name)
        if int(idx) >= len(devs):
            raise BackendError(f"device {device!r} does not exist; {name} has {len(devs)} device(s)")
        return devs[int(idx)].backend
    if name not in ("numpy", "vulkan"):
        raise BackendError(f"unknown device {device!r}")
    return get_backend(name) if name in _backends or name == "vulkan" else get_backend(name)
