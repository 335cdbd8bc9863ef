"""Shared memory a kernel declares, read from its SPIR-V, and the clear error when a device has less."""

import pytest

from grilly.core.backend.vulkan import pipelines
from grilly.core.backend.vulkan.spirv_info import shared_bytes
from grilly.core.errors import BackendError


def _code(name):
    return (pipelines.SPV_DIR / f"{name}.spv").read_bytes()


def test_constant_sizes_match_the_sources():
    # flash_fwd_cm2 at D64: 64-key K/V tiles, double-buffered, rows of 9 16-byte vectors
    assert shared_bytes(_code("flash_fwd_cm2_f16_d64")) == 4 * 64 * 9 * 16
    # matmul_simt with BK 16 (A column-major, B row-major): two buffers of 16 x 128 floats for A and for B
    assert shared_bytes(_code("matmul_simt_f32_f32_cr")) == 2 * (2 * 16 * 128 * 4)
    assert shared_bytes(_code("matmul_simt_f32_f32_rr")) == 2 * (2 * 8 * 128 * 4)


def test_specialization_constants_size_arrays():
    code = _code("matmul_coopmat_f16_f32_rr")
    a = lambda bm, bk: bm * ((bk + 8) // 8) * 16  # noqa: E731 - rows x padded 16-byte vectors
    b = lambda bk, bn: bk * ((bn + 8) // 8) * 16  # noqa: E731
    c = 2 * 4 * 16 * 16 * 4  # one 16 x 16 float staging tile per subgroup
    assert shared_bytes(code) == a(128, 32) + b(32, 128) + c  # the defaults
    assert shared_bytes(code, (256, 128, 128, 64, 2, 4, 1)) == a(128, 64) + b(64, 128) + c


def test_every_kernel_has_a_known_size():
    unknown = [p.stem for p in pipelines.SPV_DIR.glob("*.spv") if shared_bytes(p.read_bytes()) is None]
    assert not unknown


def test_not_spirv():
    assert shared_bytes(b"") is None
    assert shared_bytes(b"\0" * 24) is None


def test_too_much_shared_memory_is_a_clear_error(vk, monkeypatch):
    rt = vk.rt
    monkeypatch.setitem(rt.limits, "maxShared", 1024)
    with pytest.raises(BackendError, match=r"matmul_simt_f32_f32_rr.*needs 16384 bytes of shared memory.*allows 1024"):
        rt.pipelines._create("matmul_simt_f32_f32_rr", ())
