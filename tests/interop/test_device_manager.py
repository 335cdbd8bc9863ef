import numpy as np
import pytest

import grilly
import grilly.utils as utils
from grilly.core.errors import BackendError


def test_devices_lists_the_host_last_and_vulkan_first():
    dm = utils.get_device_manager()
    assert dm is utils.get_device_manager()
    devs = dm.devices()
    assert devs[-1].kind == "numpy" and devs[-1].name == "numpy:cpu"
    assert all(d.kind == "vulkan" for d in devs[:-1])
    assert bool(devs[:-1]) == grilly.VULKAN_AVAILABLE or not any(d.usable for d in devs[:-1])


def test_current_device_follows_the_default_backend():
    dm = utils.get_device_manager()
    cur = dm.current()
    assert cur.kind == grilly.default_backend() == dm.backend
    x = utils.to_vulkan(np.ones(3, np.float32))
    assert x.backend == cur.kind


def test_memory_info_reports_budget_and_use():
    dm = utils.get_device_manager()
    keep = utils.zeros((256, 256))  # 256 KiB in use while the stats are read
    info = dm.memory_info()
    assert info["backend"] == dm.backend
    assert info["total"] > 0 and 0 < info["budget"] <= max(info["total"], info["budget"])
    if dm.backend == "vulkan":
        assert info["in_use"] >= keep.nbytes and info["reserved"] >= info["in_use"]
    dm.synchronize()
    dm.empty_cache()


def test_select_switches_backend_and_rejects_unknown_devices():
    dm = utils.get_device_manager()
    prev = dm.backend
    try:
        assert dm.select("numpy").kind == "numpy"
        assert utils.tensor([1.0]).backend == "numpy"
        if grilly.VULKAN_AVAILABLE:
            cur = dm.select("vulkan")
            assert cur.kind == "vulkan" and cur.usable
            assert dm.select(f"vulkan:{cur.index}") == cur == dm.select(cur.index)
            assert dm.select(cur.name[:5]) == cur
            with pytest.raises(BackendError, match="no Vulkan device matches"):
                dm.select("no-such-gpu-name")
        else:
            with pytest.raises(BackendError, match="no usable Vulkan device"):
                dm.select("vulkan")
    finally:
        grilly.set_default_backend(prev)


def test_get_vulkan_backend():
    if grilly.VULKAN_AVAILABLE:
        assert utils.get_vulkan_backend().name == "vulkan"
    else:
        with pytest.raises(BackendError):
            utils.get_vulkan_backend()


def test_readme_utils_section():
    """The seed README's grilly.utils example as written."""
    batch_size, features, hidden_dim = 4, 3, 5
    device = utils.get_device_manager()
    if grilly.VULKAN_AVAILABLE:  # without a Vulkan device this raises BackendError (tested above)
        backend = utils.get_vulkan_backend()
        assert backend.name == "vulkan"
    numpy_array = np.arange(6, dtype=np.float32).reshape(2, 3)
    vulkan_tensor = utils.to_vulkan(numpy_array)
    numpy_array = utils.from_vulkan(vulkan_tensor)
    tensor = utils.tensor([1, 2, 3])
    zeros = utils.zeros((batch_size, features))
    randn = utils.randn((hidden_dim,))
    assert device.backend == vulkan_tensor.backend
    assert numpy_array.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tensor.tolist() == [1, 2, 3] and zeros.shape == (4, 3) and randn.shape == (5,)
