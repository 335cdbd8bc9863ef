"""torch <-> grilly conversion (DLPack, dtypes, devices) and the README's PyTorch interoperability example."""

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
import grilly.utils as utils
from grilly.utils import tensor_conversion

torch = pytest.importorskip("torch")

DTYPES = [
    (torch.float32, np.float32), (torch.float16, np.float16), (torch.bfloat16, "bfloat16"),
    (torch.int32, np.int32), (torch.int16, np.int16), (torch.int8, np.int8), (torch.uint8, np.uint8),
    (torch.bool, np.bool_),
]


@pytest.mark.parametrize("tdtype,ndtype", DTYPES)
def test_torch_round_trip_keeps_dtype(tdtype, ndtype):
    t = (torch.arange(12).reshape(3, 4) % 5 - 2).to(tdtype)
    x = utils.to_vulkan(t)
    assert x.dtype == np.dtype(ndtype) and x.shape == (3, 4)
    back = utils.from_vulkan(x, to="torch")
    assert isinstance(back, torch.Tensor) and back.dtype == tdtype
    assert torch.equal(back, t)


def test_int64_and_float64_follow_grilly_precision():
    assert utils.to_vulkan(torch.arange(3)).dtype == np.int32
    assert utils.to_vulkan(torch.ones(2, dtype=torch.float64)).dtype == np.float32


def test_views_grad_tensors_and_non_contiguous():
    base = torch.randn(4, 6, requires_grad=True)
    view = base[:, ::2].t()
    np.testing.assert_array_equal(np.asarray(utils.to_vulkan(view)), view.detach().numpy())
    neg = torch.randn(3).neg()  # lazily negated view
    np.testing.assert_array_equal(np.asarray(utils.to_vulkan(neg)), neg.numpy())


def test_from_vulkan_device_and_writability():
    x = gnp.arange(3.0)
    t = utils.from_vulkan(x, device="cpu")
    assert isinstance(t, torch.Tensor) and t.device.type == "cpu"
    t[0] = 7.0  # the tensor owns its memory
    assert np.asarray(x).tolist() == [0.0, 1.0, 2.0]
    assert utils.to_torch(x).tolist() == [0.0, 1.0, 2.0]
    assert utils.from_vulkan(torch.ones(2)).dtype == np.float32  # a tensor given back goes to NumPy
    assert utils.tensor(torch.tensor([1, 2])).tolist() == [1, 2]


def test_readme_pytorch_interoperability():
    """The seed README's example as written (``to="torch"`` asks for a tensor back; the default is NumPy)."""
    pytest.importorskip("grilly.functional")
    input_data = np.random.default_rng(0).normal(size=(4, 768)).astype(np.float32)

    pt_model = torch.nn.Linear(768, 512)
    grilly_weights = tensor_conversion.to_vulkan(pt_model.weight)
    output = grilly.functional.linear(input_data, grilly_weights)
    pt_output = tensor_conversion.from_vulkan(output)
    as_torch = tensor_conversion.from_vulkan(output, to="torch")

    with torch.no_grad():
        want = torch.from_numpy(input_data) @ pt_model.weight.t()
    assert isinstance(pt_output, np.ndarray) and isinstance(as_torch, torch.Tensor)
    torch.testing.assert_close(as_torch, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(pt_output, want.numpy(), rtol=1e-5, atol=1e-4)


def test_grilly_functional_linear_when_present():
    F = pytest.importorskip("grilly.functional")
    pt_model = torch.nn.Linear(16, 8)
    x = torch.randn(3, 16)
    out = F.linear(tensor_conversion.to_vulkan(x), tensor_conversion.to_vulkan(pt_model.weight),
                   tensor_conversion.to_vulkan(pt_model.bias))
    with torch.no_grad():
        torch.testing.assert_close(tensor_conversion.from_vulkan(out, to="torch"), pt_model(x), rtol=1e-5,
                                   atol=1e-5)


def test_device_manager_torch_device():
    assert utils.get_device_manager().torch_device() in ("cpu", "cuda")
    assert isinstance(utils.get_device_manager().to_vulkan(torch.ones(1)), grilly.Array)
