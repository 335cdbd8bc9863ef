"""Backend selection: Vulkan when a usable device exists, the NumPy reference backend otherwise.

``GRILLY_BACKEND=numpy|vulkan`` forces one; a CPU Vulkan device (lavapipe) counts only with
``ALLOW_CPU_VULKAN=1``. Nothing is printed on import.
"""

from __future__ import annotations

import os

from grilly.core.backend.base import Backend
from grilly.core.backend.numpy_backend import NumpyBackend
from grilly.core.errors import BackendError

_backends: dict[str, Backend] = {"numpy": NumpyBackend()}
_default: list[str | None] = [None]
_vulkan_probe: list = []


def vulkan_available() -> bool:
    """Whether a usable Vulkan device exists (probed once, quietly)."""
    if not _vulkan_probe:
        try:
            from grilly.core.backend.vulkan import probe
        except ImportError:
            _vulkan_probe.append(False)
        else:
            _vulkan_probe.append(bool(probe()))
    return _vulkan_probe[0]


def default_backend() -> str:
    """The name of the backend new arrays go to: ``"vulkan"`` or ``"numpy"``."""
    if _default[0] is None:
        forced = os.environ.get("GRILLY_BACKEND", "").strip().lower()
        if forced and forced not in ("numpy", "vulkan"):
            raise BackendError(f"GRILLY_BACKEND must be 'numpy' or 'vulkan', got {forced!r}")
        if forced == "vulkan" and not vulkan_available():
            raise BackendError("GRILLY_BACKEND=vulkan but no usable Vulkan device was found "
                               "(set ALLOW_CPU_VULKAN=1 to use a CPU implementation such as lavapipe)")
        _default[0] = forced or ("vulkan" if vulkan_available() else "numpy")
    return _default[0]


def set_default_backend(name: str) -> None:
    """Send new arrays to backend ``name`` from now on (tests use this to run a suite on each backend)."""
    get_backend(name)
    _default[0] = name


def get_backend(name: str | None = None) -> Backend:
    name = name or default_backend()
    if name not in _backends:
        if name != "vulkan":
            raise BackendError(f"unknown backend {name!r}; known: numpy, vulkan")
        if not vulkan_available():
            raise BackendError("the Vulkan backend was requested but no usable Vulkan device was found")
        from grilly.core.backend.vulkan import VulkanBackend

        _backends[name] = VulkanBackend()
    return _backends[name]


def follow(a, backend: Backend):
    """Array ``a`` on ``backend``: itself if it is there, else a copy through the host (an uncommitted operand
    follows the committed ones)."""
    if a._backend is backend:
        return a
    import numpy as np

    from grilly.core.array import Array

    return Array(backend.from_numpy(np.array(np.asarray(a), order="C")), a.aval, backend)


def backend_of(prim, arrays) -> Backend:
    """The backend an op runs on: its operands' one backend, or the one committed operands were put on."""
    found = {id(a._backend): a._backend for a in arrays}
    if not found:
        return get_backend()
    if len(found) == 1:
        return next(iter(found.values()))
    committed = {id(a._backend): a._backend for a in arrays if a._committed}
    if len(committed) != 1:
        names = sorted(b.device_of(a._buf) for a in arrays for b in [a._backend])
        raise BackendError(f"'{prim.name}' got arrays on different devices ({', '.join(sorted(set(names)))}); "
                           "move them with grilly.device_put first")
    return next(iter(committed.values()))
