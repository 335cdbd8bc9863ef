"""Vulkan backend tests: run on any Vulkan device, lavapipe included, with the validation layer on.

The environment is set before the runtime starts; every test fails on any validation message.
"""

from __future__ import annotations

import os

os.environ.setdefault("ALLOW_CPU_VULKAN", "1")
os.environ.setdefault("GRILLY_VK_VALIDATION", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from grilly.core import backend as _B  # noqa: E402

_B._vulkan_probe.clear()  # probe again now that CPU devices are allowed


def _available() -> bool:
    try:
        return _B.vulkan_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _available():
        return
    skip = pytest.mark.skip(reason="no usable Vulkan device")
    for item in items:
        if "tests/vulkan" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vk():
    """The Vulkan backend (created with validation on)."""
    return _B.get_backend("vulkan")


@pytest.fixture(autouse=True)
def _fail_on_validation_messages():
    from grilly.core.backend.vulkan import validation_messages

    start = len(validation_messages())
    yield
    new = validation_messages()[start:]
    if new:
        pytest.fail("Vulkan validation messages:\n" + "\n".join(new))


@pytest.fixture
def dev(vk):
    """Upload a NumPy array (0-d included) as a Vulkan Array."""
    from grilly.core.array import Array
    from grilly.core.aval import ShapedArray

    def make(a):
        a = np.asarray(a)
        return Array(vk.from_numpy(a), ShapedArray(a.shape, a.dtype), vk)

    return make


@pytest.fixture
def run(dev):
    """run(prim, *numpy_args, **params) -> (vulkan outputs, numpy reference outputs), as lists of ndarrays."""
    from grilly.core import primitive as P

    def go(prim, *args, **params):
        outs = prim.bind(*[dev(a) for a in args], **params)
        refs = P.impl_rules["numpy"][prim](*[np.asarray(a) for a in args], **params)
        if not prim.multiple_results:
            outs, refs = [outs], [refs]
        got = [np.asarray(o) for o in outs]
        want = [np.asarray(r).astype(g.dtype) for r, g in zip(refs, got, strict=True)]
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape, (prim.name, g.shape, w.shape)
        return got, want

    return go
