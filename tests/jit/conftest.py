"""jit tests record, replay and fuse on every device (CPU Vulkan leaves fusion off by default)."""

from __future__ import annotations

import pytest

import grilly


@pytest.fixture(autouse=True)
def _fusion_on():
    if grilly.default_backend() != "vulkan":
        yield
        return
    from grilly.core.backend.vulkan import jit

    before = jit.FUSION[0], jit.REPLAY[0]
    jit.FUSION[0] = jit.REPLAY[0] = True
    try:
        yield
    finally:
        jit.FUSION[0], jit.REPLAY[0] = before
