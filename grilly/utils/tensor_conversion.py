"""Moving data between grilly arrays, NumPy arrays, PyTorch tensors and anything that speaks DLPack.

``to_vulkan`` makes a grilly ``Array`` on the default backend (the Vulkan GPU when there is one) from a NumPy
array, a torch tensor (any device, through DLPack), any ``__dlpack__`` object, a scalar or a nested list.
``from_vulkan`` returns NumPy (default) or a torch tensor. Dtypes are kept: float16, bfloat16, float32, the
integer types and bool map one to one; 64-bit types narrow to 32 bits unless ``grilly.config.enable_x64`` is
on, as everywhere in grilly. torch is imported only when a torch tensor is asked for or given.

>>> import numpy as np
>>> x = to_vulkan(np.arange(3, dtype=np.float16))
>>> x.dtype, x.backend in ("numpy", "vulkan")
(dtype('float16'), True)
>>> from_vulkan(x * 2).tolist()
[0.0, 2.0, 4.0]
"""

from __future__ import annotations

import sys

import ml_dtypes
import numpy as np

from grilly.core.array import Array, asarray_concrete
from grilly.core.trace import Tracer

_BF16 = np.dtype(ml_dtypes.bfloat16)


def is_torch_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch when it has not been imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _torch_to_numpy(t) -> np.ndarray:
    """A NumPy view (or, off the CPU, a copy) of a torch tensor, through DLPack where NumPy accepts it."""
    import torch

    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg()
    if t.dtype == torch.bfloat16:  # NumPy has no bfloat16 DLPack code: move the bits, then view them
        return _torch_to_numpy(t.view(torch.int16)).view(_BF16)
    try:
        return np.from_dlpack(t)
    except (BufferError, TypeError, RuntimeError):
        return t.numpy()


def to_numpy(x) -> np.ndarray:
    """NumPy data of ``x`` (a grilly Array, torch tensor, DLPack object or array-like); may share memory.

    >>> to_numpy([1.0, 2.0]).dtype
    dtype('float64')
    """
    if isinstance(x, Tracer):
        raise TypeError("to_numpy got a traced value (inside jit/grad/vmap); convert outside the transform")
    if isinstance(x, Array | np.ndarray | np.generic):
        return np.asarray(x)
    if is_torch_tensor(x):
        return _torch_to_numpy(x)
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError):
            pass
    return np.asarray(x)


def to_vulkan(x, dtype=None, backend: str | None = None) -> Array:
    """A grilly ``Array`` holding ``x`` on ``backend`` (default: the default backend, the GPU when present).

    Arrays (and tracers inside ``jit``/``grad``) pass through unchanged unless ``dtype`` asks for a cast.

    >>> to_vulkan([[1, 2], [3, 4]]).shape
    (2, 2)
    """
    if isinstance(x, Tracer):
        return x if dtype is None else x.astype(dtype)
    if isinstance(x, Array) and backend is None:
        return x if dtype is None or np.dtype(dtype) == x.dtype else x.astype(dtype)
    return asarray_concrete(to_numpy(x), dtype=dtype, backend=backend)


def from_vulkan(x, to: str = "numpy", device: str | None = None):
    """Bring ``x`` back to the host: a writable NumPy array (``to="numpy"``) or a torch tensor (``to="torch"``,
    on ``device``; giving a ``device`` implies torch). The dtype is kept (bfloat16 included).

    >>> import grilly.numpy as gnp
    >>> from_vulkan(gnp.ones((2,), dtype="int32")).dtype
    dtype('int32')
    """
    if isinstance(x, Tracer):
        raise TypeError("from_vulkan got a traced value (inside jit/grad/vmap); convert outside the transform")
    if device is not None:
        to = "torch"
    if to not in ("numpy", "torch"):
        raise ValueError(f"from_vulkan: to must be 'numpy' or 'torch', got {to!r}")
    if is_torch_tensor(x):
        return x.to(device) if to == "torch" and device is not None else (x if to == "torch" else to_numpy(x))
    a = np.array(to_numpy(x), copy=True, order="C")
    if to == "numpy":
        return a
    return numpy_to_torch(a, device)


def numpy_to_torch(a: np.ndarray, device: str | None = None):
    """A torch tensor with ``a``'s data and dtype (bfloat16 kept); shares memory with ``a`` on the CPU."""
    import torch

    if a.dtype == _BF16:
        t = torch.from_numpy(np.ascontiguousarray(a).view(np.int16)).view(torch.bfloat16)
    else:
        if not a.flags.writeable:
            a = a.copy()
        t = torch.from_numpy(np.ascontiguousarray(a))
    return t if device is None else t.to(device)


def to_torch(x, device: str | None = None):
    """``from_vulkan(x, to="torch", device=device)``."""
    return from_vulkan(x, to="torch", device=device)


def to_vulkan_batch(xs):
    """``to_vulkan`` over a list or tuple (the same container type comes back)."""
    return type(xs)(to_vulkan(x) for x in xs) if isinstance(xs, list | tuple) else to_vulkan(xs)


def tree_to_vulkan(tree):
    """``to_vulkan`` on every leaf of a pytree whose leaves are arrays or tensors (dicts of weights, ...)."""
    from grilly import tree as gtree

    return gtree.map(to_vulkan, tree, is_leaf=is_torch_tensor)


def tree_from_vulkan(tree, to: str = "numpy", device: str | None = None):
    """``from_vulkan`` on every array leaf of a pytree."""
    from grilly import tree as gtree

    return gtree.map(lambda a: from_vulkan(a, to=to, device=device), tree, is_leaf=is_torch_tensor)


__all__ = [
    "from_vulkan", "is_torch_tensor", "numpy_to_torch", "to_numpy", "to_torch", "to_vulkan", "to_vulkan_batch",
    "tree_from_vulkan", "tree_to_vulkan",
]
