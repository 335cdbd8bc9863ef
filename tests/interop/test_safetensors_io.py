import ml_dtypes
import numpy as np
import pytest

import grilly.numpy as gnp
from grilly.utils.safetensors_io import load_safetensors, save_safetensors


def test_round_trip_all_dtypes(tmp_path, rng):
    tensors = {f"t{i}": (rng.normal(size=(3, 2)) * 5).astype(d)
               for i, d in enumerate([np.float32, np.float16, ml_dtypes.bfloat16, np.int64, np.int8, np.bool_])}
    tensors["scalar"] = np.array(2.5, np.float64)
    tensors["grilly"] = gnp.arange(4.0)
    save_safetensors(tmp_path / "a.safetensors", tensors)
    back = load_safetensors(tmp_path / "a.safetensors")
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        v = np.asarray(v)
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)


def test_reads_files_written_by_the_safetensors_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    w = rng.normal(size=(4, 3)).astype(np.float32)
    st.save_file({"w": w, "i": np.arange(5, dtype=np.int32)}, str(tmp_path / "b.safetensors"))
    back = load_safetensors(tmp_path / "b.safetensors")
    np.testing.assert_array_equal(back["w"], w)
    np.testing.assert_array_equal(back["i"], np.arange(5))
    save_safetensors(tmp_path / "c.safetensors", {"w": w})
    np.testing.assert_array_equal(st.load_file(str(tmp_path / "c.safetensors"))["w"], w)
