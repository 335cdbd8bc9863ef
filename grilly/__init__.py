"""grilly: JAX's programming model on any GPU through Vulkan compute, with spiking neural networks built in.

>>> import grilly, grilly.numpy as gnp
>>> f = grilly.jit(grilly.grad(lambda w, x: gnp.sum(gnp.tanh(x @ w))))
>>> f(gnp.ones((3, 2)), gnp.ones((4, 3))).shape
(3, 2)
"""

from grilly import (  # noqa: F401
    lax,
    numpy,  # noqa: F401
    random,
    tree,
)
from grilly.core.array import Array
from grilly.core.backend import default_backend, get_backend, set_default_backend, vulkan_available
from grilly.core.dtypes import config
from grilly.core.errors import (
    BackendError,
    ConcretizationError,
    DTypeError,
    GrillyError,
    OutOfMemoryError,
    ShapeError,
    TransformError,
)
from grilly.core.program import Program
from grilly.transforms import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jit,
    jvp,
    make_program,
    remat,
    stop_gradient,
    value_and_grad,
    vjp,
    vmap,
)

__version__ = "0.2.0"
make_jaxpr = make_program


def devices(platform: str | None = None) -> list:
    """The devices of a platform (``"vulkan"`` or ``"numpy"``; default: the default backend's).

    >>> import grilly
    >>> len(grilly.devices()) >= 1
    True
    """
    from grilly.parallel import local_devices

    return local_devices(platform)


def local_device_count(platform: str | None = None) -> int:
    return len(devices(platform))


def device_put(x, device=None):
    """Put ``x`` (a pytree of arrays) on a device: a ``grilly.devices()`` entry, ``"numpy"``, ``"vulkan"``,
    ``"vulkan:1"``, or None (the default device)."""
    import numpy as _np

    from grilly.core.array import Array, asarray_concrete
    from grilly.parallel.devices import resolve

    backend = resolve(device)

    def put(a):
        a = a if isinstance(a, Array) else asarray_concrete(a)
        if a._backend is backend and (a._committed or device is None):
            return a
        return Array(backend.from_numpy(_np.array(_np.asarray(a), order="C")), a.aval, backend, device is not None)

    return tree.map(put, x)


def pmap(fun, axis_name=None, in_axes=0, out_axes=0, devices=None):
    from grilly.parallel import pmap as _pmap

    return _pmap(fun, axis_name=axis_name, in_axes=in_axes, out_axes=out_axes, devices=devices)


def block_until_ready(x):
    return tree.map(lambda a: a.block_until_ready() if isinstance(a, Array) else a, x)


_LAZY_MODULES = ("nn", "functional", "optim", "snn", "memory", "learning", "utils", "compat")
_CLASSIC = ("Compute", "VulkanCompute", "SNNCompute", "Learning", "VulkanLearning", "CapsuleTransformer")


def __getattr__(name):
    # submodules with heavier imports load on first use, so ``import grilly`` stays light
    import importlib

    if name == "VULKAN_AVAILABLE":
        return vulkan_available()
    if name in _LAZY_MODULES:
        return importlib.import_module(f"grilly.{name}")
    if name in _CLASSIC:
        return getattr(importlib.import_module("grilly.compat"), name)
    raise AttributeError(f"module 'grilly' has no attribute {name!r}")


__all__ = [
    "Array", "BackendError", "ConcretizationError", "DTypeError", "GrillyError", "OutOfMemoryError", "Program",
    "ShapeError", "TransformError", "block_until_ready", "checkpoint", "config", "custom_jvp", "custom_vjp",
    "default_backend", "device_put", "devices", "get_backend", "grad", "hessian", "jacfwd", "jacrev", "jit",
    "jvp", "lax", "make_jaxpr", "make_program", "numpy", "random", "remat", "set_default_backend",
    "stop_gradient", "tree", "value_and_grad", "vjp", "vmap", "pmap", "local_device_count",
]
