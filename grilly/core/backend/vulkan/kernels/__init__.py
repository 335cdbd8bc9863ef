"""The Vulkan kernel table: each family module registers its dispatchers into ``impl_rules["vulkan"]``.

A dispatcher is ``impl(rt, bufs, out_avals, **params) -> list[DeviceBuffer]``: it allocates outputs with
``rt.empty(aval)`` and records dispatches with ``launch``/``rt.dispatch``; nothing runs until a host read.
"""

from __future__ import annotations

import importlib

_FAMILIES = ("elementwise", "structural", "reductions", "linalg", "indexing", "sorting", "random", "attention",
             "matmul_fast")
_done: list[bool] = []


def register_all() -> None:
    """Register every family whose grilly.lax module exists (idempotent)."""
    if _done:
        return
    for fam in _FAMILIES:
        mod = importlib.import_module(f"grilly.core.backend.vulkan.kernels.{fam}")
        getattr(mod, f"register_{fam}")()
    _done.append(True)
