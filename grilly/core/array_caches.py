"""Caches of concrete arrays kept across calls, such as grilly.numpy's broadcast scalar constants.

A jit recording creates arrays whose buffers are placeholders; when it ends it drops those from every cache
registered here, so no cache has to be known by name.
"""

from __future__ import annotations

from collections.abc import Callable

_CACHES: list[dict] = []


def register(cache: dict) -> dict:
    """Registers ``cache`` (a dict whose values are arrays) and returns it.

    >>> from grilly.core import array_caches
    >>> c = array_caches.register({})
    >>> c is array_caches._CACHES[-1]
    True
    """
    _CACHES.append(cache)
    return cache


def forget(stale: Callable[[object], bool]) -> None:
    """Drops every cached array whose buffer ``stale(buffer)`` rejects (the buffer is None for arrays without one).

    >>> from grilly.core import array_caches
    >>> class A:
    ...     _buf = "placeholder"
    >>> c = array_caches.register({"x": A()})
    >>> array_caches.forget(lambda buf: isinstance(buf, str))
    >>> c
    {}
    """
    for cache in _CACHES:
        for k in [k for k, v in cache.items() if stale(getattr(v, "_buf", None))]:
            del cache[k]
