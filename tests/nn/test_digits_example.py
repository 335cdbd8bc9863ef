"""examples/mlp_digits.py trains to >= 95% test accuracy (the jitted step; the example's default run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mlp_digits.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("mlp_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_mlp_reaches_95_percent():
    pytest.importorskip("sklearn")
    example = _load_example()
    accuracy = example.train(epochs=10, use_jit=True, progress=False)
    assert accuracy >= 0.95, accuracy


def test_digits_eager_and_jit_steps_agree():
    pytest.importorskip("sklearn")
    example = _load_example()
    assert example.train(epochs=1, use_jit=False, progress=False) == example.train(epochs=1, use_jit=True,
                                                                                     progress=False)
