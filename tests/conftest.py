"""Test-suite setup. The suite runs once per backend: ``GRILLY_BACKEND=numpy`` and ``GRILLY_BACKEND=vulkan``
(with ``ALLOW_CPU_VULKAN=1 GRILLY_VK_VALIDATION=1`` on lavapipe); a Vulkan validation message fails the test."""

from __future__ import annotations

import os

import numpy as np
import pytest

import grilly


def pytest_report_header(config):
    return f"grilly backend: {grilly.default_backend()}"


@pytest.fixture(autouse=True)
def _no_validation_messages():
    before = _messages()
    yield
    after = _messages()
    new = after[len(before):]
    if new:
        pytest.fail("Vulkan validation messages:\n" + "\n".join(map(str, new)))


def _messages():
    if grilly.default_backend() != "vulkan" or os.environ.get("GRILLY_VK_VALIDATION") != "1":
        return []
    from grilly.core.backend.vulkan import validation_messages

    return list(validation_messages())


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def x64():
    """Run a test in float64 on the NumPy backend (finite-difference gradient checks need it)."""
    from grilly.core.backend import _default

    prev = grilly.default_backend()
    grilly.config.update("enable_x64", True)
    grilly.set_default_backend("numpy")
    try:
        yield
    finally:
        grilly.config.update("enable_x64", False)
        _default[0] = prev


def on_vulkan() -> bool:
    return grilly.default_backend() == "vulkan"
