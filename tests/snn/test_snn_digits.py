"""The digits example trains a spiking network to >= 90% test accuracy in a few epochs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "snn_digits.py"


def _example():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("snn_digits_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_snn_reaches_90_percent(tmp_path):
    ex = _example()
    res = ex.train(epochs=4, progress=False)
    assert res["accuracy"] >= 0.90, res["accuracy"]
    if importlib.util.find_spec("matplotlib") is not None:
        out = tmp_path / "raster.png"
        assert ex.save_raster(res, str(out)) and out.stat().st_size > 1000
