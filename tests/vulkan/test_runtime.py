"""Device selection, transfers, memory reuse, out-of-memory recovery, the command stream."""

from __future__ import annotations

import gc

import ml_dtypes
import numpy as np
import pytest

from grilly.core.backend.vulkan import device as D
from grilly.core.backend.vulkan import probe
from grilly.core.backend.vulkan._vk import vk
from grilly.core.errors import BackendError, OutOfMemoryError


def test_probe_is_quiet(capfd):
    assert probe() is True
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _fake(i, name, vendor, t):
    f = dict.fromkeys(D.REQUIRED, True) | {"bufferDeviceAddress": True}
    return D.PhysicalInfo(None, i, name, vendor, t, vk.VK_MAKE_VERSION(1, 3, 0), f)


def test_selection_order(monkeypatch):
    devs = [_fake(0, "llvmpipe", 0x10005, vk.VK_PHYSICAL_DEVICE_TYPE_CPU),
            _fake(1, "Intel UHD", 0x8086, vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
            _fake(2, "Intel Arc", 0x8086, vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
            _fake(3, "Radeon", 0x1002, vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
            _fake(4, "NVIDIA H100", 0x10DE, vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)]
    monkeypatch.delenv("VK_GPU_INDEX", raising=False)
    monkeypatch.delenv("VK_GPU_NAME", raising=False)
    assert D.select(devs).name == "NVIDIA H100"
    assert D.select(devs[:4]).name == "Radeon"
    assert D.select(devs[:3]).name == "Intel Arc"
    assert D.select(devs[:2]).name == "Intel UHD"
    monkeypatch.setenv("ALLOW_CPU_VULKAN", "0")
    assert D.select(devs[:1]) is None
    monkeypatch.setenv("ALLOW_CPU_VULKAN", "1")
    assert D.select(devs[:1]).name == "llvmpipe"
    monkeypatch.setenv("VK_GPU_NAME", "radeon")
    assert D.select(devs).name == "Radeon"
    monkeypatch.delenv("VK_GPU_NAME")
    monkeypatch.setenv("VK_GPU_INDEX", "2")
    assert D.select(devs).name == "Intel Arc"
    missing = _fake(5, "old", 0x10DE, vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
    monkeypatch.delenv("VK_GPU_INDEX")
    monkeypatch.delenv("GRILLY_VK_DESCRIPTORS", raising=False)
    assert D.descriptor_mode(missing) == "bda"
    missing.features["bufferDeviceAddress"] = False  # then descriptors: pushed, or sets from pools
    missing.features["pushDescriptor"] = True
    assert D.select([missing]).name == "old" and D.descriptor_mode(missing) == "push"
    missing.features["pushDescriptor"] = False
    assert D.descriptor_mode(missing) == "pool"
    missing.features["shaderInt8"] = False
    assert D.select([missing]) is None


DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.int32, np.uint32, np.int16, np.uint16, np.int8, np.uint8,
          np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7, 3), (70_001,)])
def test_roundtrip(dev, rng, dtype, shape):
    a = (rng.standard_normal(shape) * 50).astype(dtype)
    assert np.array_equal(np.asarray(dev(a)), a)


def test_empty_arrays_dispatch_nothing(vk, dev):
    import grilly.lax.elementwise as E

    rt = vk.rt
    rt.stream.finish()
    before = rt.stream.count
    z = E.exp(dev(np.zeros((0, 5), np.float32)))
    assert rt.stream.count == before and np.asarray(z).shape == (0, 5)


def test_memory_does_not_grow(vk, dev):
    import grilly.lax.elementwise as E

    rt = vk.rt
    x = dev(np.ones(250_000, np.float32))

    def churn(n):
        for _ in range(n):
            y = E.exp(E.neg(x))
            del y
        rt.stream.finish()
        gc.collect()
        rt.reclaim(wait=True)  # return finished ranges and drop empty blocks: what is left is really held
        return rt.memory_stats()

    churn(50)
    first = churn(50)
    second = churn(300)
    assert second["in_use"] <= first["in_use"]
    assert second["reserved"] <= first["reserved"]
    assert second["deferred"] == 0


def test_out_of_memory_then_continue(vk, dev):
    import grilly.lax.elementwise as E
    import grilly.lax.structural as S

    rt = vk.rt
    heap = rt.device_pool.heap_size
    with pytest.raises(OutOfMemoryError):
        rt.alloc(heap + (1 << 20))
    n = heap // 4 + (1 << 20)
    with pytest.raises(OutOfMemoryError):
        S.broadcast_in_dim(dev(np.float32(1.0).reshape(1)), (n,), (0,))
    a = np.arange(1000, dtype=np.float32)
    assert np.allclose(np.asarray(E.add(dev(a), dev(a))), 2 * a)


def test_block_until_ready_and_reads(vk, dev):
    import grilly.lax.elementwise as E

    x = dev(np.arange(10, dtype=np.float32))
    y = E.mul(x, x).block_until_ready()
    assert vk.rt.stream.completed >= y._buf.last_use
    assert np.asarray(y).tolist() == [float(i * i) for i in range(10)]


def test_missing_kernel_raises(vk):
    from grilly.core.backend.vulkan.kernels.common import code

    with pytest.raises(BackendError, match="'exp'.*float64"):
        code("exp", np.float64)


def test_long_command_stream(vk, dev):
    import grilly.lax.elementwise as E

    x = dev(np.ones(33, np.float32))
    y = x
    for _ in range(1000):  # several submissions, barriers between dependent dispatches
        y = E.add(y, x)
    assert np.all(np.asarray(y) == 1001)


def test_every_primitive_has_a_kernel(vk):
    from grilly.core import primitive as P

    missing = [p.name for p in P.ALL_PRIMITIVES
               if p in P.impl_rules["numpy"] and p not in P.generic_impls and p not in P.impl_rules["vulkan"]]
    assert not missing, f"primitives without a Vulkan kernel: {missing}"


def test_profile_table_at_exit(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from grilly.core.backend import get_backend\n"
            "from grilly.core.array import Array\n"
            "from grilly.core.aval import ShapedArray\n"
            "import grilly.lax.elementwise as E\n"
            "b = get_backend('vulkan')\n"
            "a = np.ones(1000, np.float32)\n"
            "x = Array(b.from_numpy(a), ShapedArray(a.shape, a.dtype), b)\n"
            "print(float(np.asarray(E.exp(x))[0]))\n")
    env = dict(os.environ, GRILLY_PROFILE="1", GRILLY_VK_VALIDATION="0", XDG_CACHE_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                       cwd=str(tmp_path.parent))
    assert r.returncode == 0, r.stderr
    assert "exp_f32" in r.stderr and "grilly GPU profile" in r.stderr  # unary_exp_f32 or its vec4 twin
    assert list(tmp_path.glob("grilly/pipelines-*.bin")), "the pipeline cache was not written"


def test_probe_without_a_usable_device_is_quiet():
    import os
    import subprocess
    import sys

    env = dict(os.environ, ALLOW_CPU_VULKAN="0", VK_GPU_NAME="no-such-device-anywhere")
    code = "from grilly.core.backend.vulkan import probe; print(probe())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False" and r.stderr == "", r.stderr
