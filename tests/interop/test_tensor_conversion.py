"""NumPy <-> grilly conversion and the torch-style constructors (no torch needed)."""

import ml_dtypes
import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
import grilly.utils as utils
from grilly.utils import tensor_conversion


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16, np.int32, np.int8, np.uint8, np.bool_])
def test_numpy_round_trip_keeps_dtype_and_values(dtype, rng):
    a = (rng.normal(size=(3, 5)) * 4).astype(dtype)
    x = utils.to_vulkan(a)
    assert isinstance(x, grilly.Array) and x.dtype == np.dtype(dtype) and x.backend == grilly.default_backend()
    back = utils.from_vulkan(x)
    assert back.dtype == np.dtype(dtype) and back.flags.writeable
    np.testing.assert_array_equal(back, a)
    back[0, 0] = 0  # the result is the caller's copy: the array is unchanged
    np.testing.assert_array_equal(np.asarray(x), a)


def test_64_bit_inputs_narrow_unless_x64():
    assert utils.to_vulkan(np.arange(3, dtype=np.int64)).dtype == np.int32
    assert utils.to_vulkan(np.ones(2)).dtype == np.float32
    assert utils.to_vulkan(np.ones(2), dtype=np.float16).dtype == np.float16


def test_x64_keeps_64_bit(x64):
    assert utils.to_vulkan(np.arange(3, dtype=np.int64)).dtype == np.int64
    assert utils.to_vulkan(np.ones(2)).dtype == np.float64


def test_non_contiguous_and_scalar_inputs(rng):
    a = rng.normal(size=(4, 6)).astype(np.float32)[:, ::2].T
    np.testing.assert_array_equal(utils.from_vulkan(utils.to_vulkan(a)), a)
    assert utils.to_vulkan(2.5).shape == () and utils.to_vulkan([[1, 2]]).dtype == np.int32


def test_arrays_and_tracers_pass_through():
    x = gnp.arange(4.0)
    assert utils.to_vulkan(x) is x
    out = grilly.jit(lambda v: utils.to_vulkan(v) * 2)(x)
    np.testing.assert_array_equal(np.asarray(out), [0, 2, 4, 6])
    with pytest.raises(TypeError, match="traced"):
        grilly.jit(lambda v: utils.from_vulkan(v))(x)


def test_dlpack_producer_is_read_through_dlpack(rng):
    class Producer:  # any object that exports DLPack, as JAX/CuPy/torch arrays do
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    a = rng.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(utils.to_vulkan(Producer(a))), a)


def test_pytrees_and_batches(rng):
    params = {"w": rng.normal(size=(2, 2)).astype(np.float32), "b": [np.zeros(2, np.float32)]}
    g = utils.tree_to_vulkan(params)
    assert isinstance(g["w"], grilly.Array) and isinstance(g["b"][0], grilly.Array)
    back = utils.tree_from_vulkan(g)
    np.testing.assert_array_equal(back["w"], params["w"])
    assert isinstance(utils.to_vulkan_batch((params["w"], params["w"])), tuple)
    assert tensor_conversion.to_vulkan is utils.to_vulkan


def test_from_vulkan_rejects_unknown_target():
    with pytest.raises(ValueError, match="numpy' or 'torch"):
        utils.from_vulkan(gnp.ones(2), to="cupy")


def test_constructors_match_numpy():
    assert utils.tensor([1, 2, 3]).tolist() == [1, 2, 3]
    assert utils.tensor([1.5], dtype=np.float16).dtype == np.float16
    assert utils.zeros((2, 3)).shape == (2, 3) and float(gnp.sum(utils.zeros(2, 3))) == 0.0
    assert utils.ones(4).tolist() == [1.0] * 4
    np.testing.assert_array_equal(np.asarray(utils.arange(1, 7, 2)), np.arange(1, 7, 2))
    np.testing.assert_array_equal(np.asarray(utils.cat([np.ones(2), utils.zeros(1)])), [1, 1, 0])
    assert utils.stack([np.ones(2, np.float32)] * 3, dim=1).shape == (2, 3)


def test_randn_is_seeded_and_standard_normal():
    utils.manual_seed(1)
    a = np.asarray(utils.randn((4000,)))
    b = np.asarray(utils.randn((4000,)))
    utils.manual_seed(1)
    np.testing.assert_array_equal(np.asarray(utils.randn((4000,))), a)
    assert not np.array_equal(a, b)
    assert abs(a.mean()) < 0.1 and abs(a.std() - 1) < 0.1
    u = np.asarray(utils.rand(2000))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.05


def test_classic_checkpoint_names(tmp_path):
    params = {"w": gnp.arange(3.0), "b": [gnp.zeros(2)]}
    utils.save_checkpoint(tmp_path / "ckpt.npz", params)
    back = utils.load_checkpoint(tmp_path / "ckpt.npz", like=params)
    np.testing.assert_array_equal(np.asarray(back["w"]), [0, 1, 2])
