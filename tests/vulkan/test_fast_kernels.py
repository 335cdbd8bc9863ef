"""The fast matmul and attention kernels against the NumPy reference, on shapes that are not multiples of any
tile size. On devices without cooperative matrices (lavapipe) these exercise the portable twins; the selection
logic between the two paths is checked directly."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from grilly.core.backend.vulkan.kernels import attention_scores as KS
from grilly.core.backend.vulkan.kernels import matmul_fast as MF
from grilly.lax import attention as A
from grilly.lax.linalg import dot_general_p

TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float16): 3e-3, np.dtype(ml_dtypes.bfloat16): 2e-2}
NN = (((2,), (1,)), ((0,), (0,)))  # batched A[b, m, k] @ B[b, k, n]
NT = (((2,), (2,)), ((0,), (0,)))  # batched A[b, m, k] @ B[b, n, k]^T
TN = (((1,), (1,)), ((0,), (0,)))  # batched A[b, k, m]^T @ B[b, k, n]


def _operands(rng, dn, b, m, n, k, dtype):
    (lc, rc), _ = dn
    a = rng.standard_normal((b, m, k) if lc == (2,) else (b, k, m))
    c = rng.standard_normal((b, k, n) if rc == (1,) else (b, n, k))
    return a.astype(dtype), c.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("dn", [NN, NT, TN])
@pytest.mark.parametrize("shape", [(3, 37, 29, 45), (1, 130, 67, 136), (2, 1, 9, 8)])
def test_dot_general_odd_shapes(run, rng, dtype, dn, shape):
    a, c = _operands(rng, dn, *shape, dtype)
    (got,), (want,) = run(dot_general_p, a, c, dimension_numbers=dn)
    tol = TOL[np.dtype(dtype)] * np.sqrt(shape[-1])
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=tol, rtol=tol)


@pytest.mark.parametrize("precision", [None, "highest", "fastest", ("tensorfloat32", "bfloat16")])
def test_fp32_precision_argument(run, rng, precision):
    a, c = _operands(rng, NN, 2, 41, 35, 72, np.float32)
    (got,), (want,) = run(dot_general_p, a, c, dimension_numbers=NN, precision=precision,
                          preferred_element_type=None)
    exact = np.einsum("bmk,bkn->bmn", a.astype(np.float64), c.astype(np.float64))
    # fp32 stays fp32 unless reduced precision is asked for; then float16 rounding of the operands is allowed
    tol = 2e-2 if MF.reduced_precision(precision) else 1e-4
    np.testing.assert_allclose(got, exact, atol=tol, rtol=tol)
    np.testing.assert_allclose(want, exact, atol=1e-4, rtol=1e-4)


def test_float16_operands_float32_result(run, rng):
    a, c = _operands(rng, NT, 2, 33, 47, 40, np.float16)
    (got,), (want,) = run(dot_general_p, a, c, dimension_numbers=NT, preferred_element_type=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)


def test_precision_names():
    assert not MF.reduced_precision(None)
    assert not MF.reduced_precision("highest")
    assert MF.reduced_precision("fastest") and MF.reduced_precision("TENSORFLOAT32")
    assert MF.reduced_precision(("bfloat16", "fastest"))
    assert not MF.reduced_precision(("bfloat16", "highest"))


def test_operand_layouts():
    assert MF.operand_layout(37, 48, 48, 1, 37 * 48, 3) == "r"  # k contiguous, rows in whole vectors
    assert MF.operand_layout(37, 45, 45, 1, 37 * 45, 3) is None  # 45 halves: rows not 16-byte aligned
    assert MF.operand_layout(40, 37, 1, 40, 0, 1) == "c"  # m contiguous
    assert MF.operand_layout(37, 37, 1, 37, 0, 1) is None
    assert MF.tile_config(1, 8192, 8192, 32)[:3] == (256, 128, 128)
    assert MF.tile_config(1, 100, 100, 32)[:3] == (128, 64, 64)


def test_cooperative_path_selected_by_device_features(vk):
    rt = vk.rt
    has = bool(rt.features.get("cooperativeMatrix"))
    assert MF.coop_available(rt) == (has and rt.subgroup_size in (32, 64))
    if rt.info.is_cpu:
        assert not MF.coop_available(rt)  # lavapipe: the portable twin runs


def test_optional_extension_features_are_reported(vk):
    """VK_NV_cooperative_matrix2, VK_KHR_shader_bfloat16 and VK_EXT_shader_atomic_float features come through raw
    structs: every name is reported, and the paths that need them follow them."""
    from grilly.core.backend.vulkan import device as D
    from grilly.core.backend.vulkan.kernels import attention as KA

    rt = vk.rt
    for _, _, names in D.OPTIONAL_EXTENSIONS:
        assert all(isinstance(rt.features.get(n), bool) for n in names)
    f = rt.features
    bf16 = MF.coop_available(rt) and f["shaderBFloat16CooperativeMatrix"] and f["shaderBFloat16Type"]
    assert MF.coop_bf16_available(rt) == bool(bf16)
    cm2 = all(rt.features.get(f) for f in KA.CM2_FEATURES) and rt.subgroup_size == 32 and MF.coop_available(rt)
    assert KA.use_cm2_forward(rt, "f16", 64) == (cm2 and rt.info.api >= (1 << 22 | 3 << 12))
    assert not KA.use_cm2_forward(rt, "f32", 64) and not KA.use_cm2_forward(rt, "f16", 80)
    assert KA.fused_cm2_backward(rt, 64) == f["shaderBufferFloat32AtomicAdd"]
    assert not KA.fused_cm2_backward(rt, 80)


@pytest.mark.parametrize("clear", [0, 1])
def test_delta_kernel_zeroes_the_dq_accumulator(vk, rng, clear):
    """flash_bwd_delta computes rowsum(dO * O) and, when asked, zeroes a float32 array of O's shape (the dQ
    accumulator of the fused float16 backward), across many workgroups and an odd head dim."""
    from grilly.core.aval import ShapedArray
    from grilly.core.backend.vulkan.kernels import attention as KA
    from grilly.core.backend.vulkan.kernels.common import pack

    rt = vk.rt
    B, S, H, D = 2, 37, 3, 37
    o, do = (rng.standard_normal((B, S, H, D)).astype(np.float32) for _ in range(2))
    bo, bdo = vk.from_numpy(o), vk.from_numpy(do)
    acc = vk.from_numpy(np.full((B, S, H, D), 7.0, np.float32))
    delta = rt.empty(ShapedArray((B, H, S), np.float32))
    rt.dispatch("flash_bwd_delta_f32", (), rt.grid(-(-B * S * H // KA.DELTA_ROWS)),
                pack("QQQQIIIII", bo.addr, bdo.addr, delta.addr, acc.addr, B, S, H, D, clear), (bo, bdo),
                (delta, acc))
    want = np.einsum("bshd,bshd->bhs", o, do)
    np.testing.assert_allclose(rt.download(delta, np.float32, (B, H, S)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(rt.download(acc, np.float32, (B, S, H, D)), 0.0 if clear else 7.0)


def test_raw_feature_struct_layout():
    from grilly.core.backend.vulkan import device as D
    from grilly.core.backend.vulkan._vk import ffi

    words = D._raw_struct(1000141000, 3, [True, False, True])
    assert list(words) == [1000141000, 0, 0, 0, 1, 0, 1]
    assert ffi.sizeof(words) == 28


def test_kernel_plan():
    f32, f16, bf16 = np.float32, np.float16, ml_dtypes.bfloat16
    row = lambda m, k: (m * k, k, 1)  # noqa: E731  (batch, row, column) strides of a row-major m x k operand
    col = lambda m, k: (m * k, 1, m)  # noqa: E731
    assert MF.plan(f16, f32, 2, 256, 256, 64, row(256, 64), row(64, 256), True) == ("coop", "r", "r")
    assert MF.plan(f16, f16, 1, 256, 256, 64, col(256, 64), col(64, 256), True) == ("coop", "c", "c")
    assert MF.plan(f32, f32, 1, 256, 256, 64, row(256, 64), row(64, 256), True) == ("simt", "r", "r")
    assert MF.plan(f32, f32, 1, 256, 256, 64, row(256, 64), row(64, 256), True, "fastest") == ("coop", "r", "r")
    assert MF.plan(bf16, bf16, 1, 256, 256, 64, row(256, 64), col(64, 256), True) == ("simt", "r", "c")
    assert MF.plan(bf16, bf16, 1, 256, 256, 64, row(256, 64), col(64, 256), True, None, True) == ("coop", "r", "c")
    assert MF.plan(bf16, f32, 1, 256, 256, 64, row(256, 64), row(64, 256), True, None, True) == ("coop", "r", "r")
    assert MF.plan(f16, f32, 1, 256, 256, 64, row(256, 64), row(64, 256), False) == ("simt", "r", "r")
    assert MF.plan(f32, f32, 1, 256, 256, 63, row(256, 63), row(63, 256), False) == ("portable",)
    assert MF.plan(np.int32, np.int32, 1, 256, 256, 64, row(256, 64), row(64, 256), True) == ("portable",)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("dn", [NN, NT, TN, (((1,), (2,)), ((0,), (0,)))])
@pytest.mark.parametrize("shape", [(2, 132, 260, 76), (2, 260, 132, 80), (2, 260, 60, 76), (1, 132, 64, 80)])
def test_simt_gemm_odd_shapes(run, rng, dtype, dn, shape):
    """Shapes that take the fast SIMT kernel (contiguous extents in 4-vectors) but fill no tile evenly; in the
    second and fourth, K is a multiple of the K step, so workgroups whose tiles lie inside A and B load without
    bounds tests beside ones that test every load. The last two have 64 columns or fewer (128 x 64 tiles)."""
    b, m, n, k = shape
    (lc, rc), _ = dn
    a = rng.standard_normal((b, m, k) if lc == (2,) else (b, k, m)).astype(dtype)
    c = rng.standard_normal((b, k, n) if rc == (1,) else (b, n, k)).astype(dtype)
    for pet in (None, np.float32):
        (got,), (want,) = run(dot_general_p, a, c, dimension_numbers=dn, preferred_element_type=pet)
        tol = TOL[np.dtype(got.dtype)] * np.sqrt(k)
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=tol, rtol=tol)


@pytest.mark.parametrize("dn", [NN, NT, TN, (((1,), (2,)), ((0,), (0,)))])
def test_simt_gemm_transposes_operands_first(run, rng, dn, monkeypatch):
    """Large products move A to column-major and B to row-major through the tiled transpose before the SIMT
    kernel (thresholds lowered here so that odd shapes take that path)."""
    monkeypatch.setattr(MF, "TRANSPOSE_MIN", 64)
    monkeypatch.setattr(MF, "TRANSPOSE_MIN_K", 8)
    from grilly.core.backend.vulkan.kernels import structural

    calls = []
    real = structural.transpose_matrices
    monkeypatch.setattr(structural, "transpose_matrices", lambda *a: calls.append(a[3:]) or real(*a))
    b, m, n, k = 2, 132, 100, 76
    (lc, rc), _ = dn
    a = rng.standard_normal((b, m, k) if lc == (2,) else (b, k, m)).astype(np.float32)
    c = rng.standard_normal((b, k, n) if rc == (1,) else (b, n, k)).astype(np.float32)
    (got,), (want,) = run(dot_general_p, a, c, dimension_numbers=dn)
    np.testing.assert_allclose(got, want, atol=2e-5 * np.sqrt(k), rtol=2e-5 * np.sqrt(k))
    # A row-major (k contiguous) is transposed, B column-major (k contiguous) too
    expect = ([(b, m, k)] if lc == (2,) else []) + ([(b, n, k)] if rc == (2,) else [])
    assert calls == expect


# ---- attention kernels against the NumPy reference ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("shape", [(2, 5, 9, 3, 7), (1, 70, 33, 2, 64), (1, 19, 66, 1, 128)])
@pytest.mark.parametrize("causal", [False, True])
def test_flash_forward_and_backward(run, rng, dtype, shape, causal):
    B, Sq, Sk, H, D = shape
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((B, Sq, H, D), (B, Sk, H, D), (B, Sk, H, D)))
    mask = rng.random((B, 1, Sq, Sk)) > 0.2
    params = dict(causal=causal, scale=0.7 / np.sqrt(D), has_mask=True)
    (o, lse), (o_ref, lse_ref) = run(A.flash_attention_p, q, k, v, mask, **params)
    tol = TOL[np.dtype(dtype)] * 10
    np.testing.assert_allclose(o.astype(np.float32), o_ref.astype(np.float32), atol=tol, rtol=tol)
    np.testing.assert_allclose(lse, lse_ref, atol=tol, rtol=tol)
    do = rng.standard_normal(o.shape).astype(dtype)
    got, want = run(A.flash_attention_bwd_p, q, k, v, o_ref.astype(dtype), lse_ref, do, mask, **params)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=tol * 4, rtol=tol * 4)


# (dtype, head dim, kernel flavour) of the register-tiled kernels: aligned float32 with a head dim that is a
# multiple of 4 reads 4-vectors ("f32v"), the rest elements
TILED_CASES = pytest.mark.parametrize("dtype,D,kernel", [(np.float32, 64, "f32v"), (np.float32, 37, "f32"),
                                                         (np.float16, 48, "f16"), (ml_dtypes.bfloat16, 61, "bf16")])


def _attention_case(rt, monkeypatch, rng, dtype, D, Sq, Sk):
    """(names of the kernels dispatched from now on, q, k, v, dO, mask): a mask that hides some keys from every
    query and every key from query 3."""
    names = []
    real = rt.dispatch
    monkeypatch.setattr(rt, "dispatch", lambda name, *a, **k: names.append(name) or real(name, *a, **k))
    B, H = 2, 3
    arrays = (rng.standard_normal((B, n, H, D)).astype(dtype) for n in (Sq, Sk, Sk, Sq))
    mask = rng.random((B, 1, Sq, Sk)) > 0.2
    mask[:, :, 3] = False
    return (names, *arrays, mask)


@TILED_CASES
@pytest.mark.parametrize("causal", [False, True])
def test_register_tiled_forward(vk, run, rng, monkeypatch, dtype, D, kernel, causal):
    """Head dims in (32, 64] take the register-tiled forward (4-vector reads for aligned float32 whose head dim
    is a multiple of 4): many workgroups, partial query and key tiles, a mask, rows that see no key."""
    from grilly.core.backend.vulkan.kernels import attention as KA

    rt = vk.rt
    tx = KA.tiled_forward(rt, D)
    if not tx:
        pytest.skip("this device runs the row-per-invocation forward")
    names, q, k, v, _, mask = _attention_case(rt, monkeypatch, rng, dtype, D, 4 * tx * 3 + 5, 4 * tx * 2 + 3)
    (o, lse), (o_ref, lse_ref) = run(A.flash_attention_p, q, k, v, mask, causal=causal, scale=0.5, has_mask=True)
    tol = TOL[np.dtype(dtype)] * 10
    np.testing.assert_allclose(o.astype(np.float32), o_ref.astype(np.float32), atol=tol, rtol=tol)
    np.testing.assert_allclose(lse, lse_ref, atol=tol, rtol=tol)
    assert f"flash_fwd_tiled_{kernel}_x{tx}" in names


@TILED_CASES
@pytest.mark.parametrize("causal", [False, True])
def test_register_tiled_dkdv(vk, run, rng, monkeypatch, dtype, D, kernel, causal):
    """Head dims in (32, 64] take the register-tiled dK/dV kernel: many workgroups, partial key and query tiles,
    a mask, a query that sees no key."""
    from grilly.core.backend.vulkan.kernels import attention as KA

    rt = vk.rt
    cfg = KA.tiled_backward(rt, D)
    if not cfg:
        pytest.skip("this device runs the row-per-invocation backward")
    monkeypatch.setattr(KS, "SCORES_SCRATCH", 0)  # float32 would keep P and dS in memory
    names, q, k, v, do, mask = _attention_case(rt, monkeypatch, rng, dtype, D, 16 * 3 + 5,
                                               KA.TILED_DKDV_KEYS[cfg] * 2 + 3)
    params = dict(causal=causal, scale=0.5, has_mask=True)
    _, (o, lse) = run(A.flash_attention_p, q, k, v, mask, **params)
    got, want = run(A.flash_attention_bwd_p, q, k, v, o.astype(dtype), lse, do, mask, **params)
    tol = TOL[np.dtype(dtype)] * 40
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=tol, rtol=tol)
    assert f"flash_bwd_dkdv_tiled_{kernel}_{cfg}" in names


@pytest.mark.parametrize("D,Sq,Sk,per_head_mask,chunk", [(64, 133, 262, False, 2), (128, 261, 7, True, 3),
                                                          (36, 9, 130, True, 1), (68, 130, 133, False, 2)])
@pytest.mark.parametrize("causal", [False, True])
def test_float32_attention_with_scores_in_memory(vk, run, rng, monkeypatch, D, Sq, Sk, per_head_mask, chunk,
                                                 causal):
    """The float32 attention that keeps scores in memory (the forward above head dim 64, the backward above
    32): partial tiles everywhere, a key count that is not a multiple of 4 (padded score rows), heads in chunks
    that do not divide H, per-head or shared masks, a query that sees no key; causal blocks wholly after the
    diagonal skip their products."""
    rt = vk.rt
    H = 5
    # chunk heads per backward chunk (P and dS), twice as many per forward chunk (S only)
    monkeypatch.setattr(KS, "SCORES_SCRATCH", chunk * 8 * Sq * -(-Sk // 4) * 4)
    names = _attention_case(rt, monkeypatch, rng, np.float32, D, Sq, Sk)[0]
    q, k, v, do = (rng.standard_normal((2, n, H, D)).astype(np.float32) for n in (Sq, Sk, Sk, Sq))
    mask = rng.random((2, H if per_head_mask else 1, Sq, Sk)) > 0.2
    mask[:, :, 3] = False
    params = dict(causal=causal, scale=0.3, has_mask=True)
    (o, lse), (o_ref, lse_ref) = run(A.flash_attention_p, q, k, v, mask, **params)
    np.testing.assert_allclose(o, o_ref, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(lse, lse_ref, atol=1e-5, rtol=1e-5)
    fwd_chunks = 2 * -(-H // (2 * chunk)) if D >= KS.FWD_MIN_D else 0
    assert names.count("attention_scores_fwd_f32") == names.count("flash_fwd_probs_f32") == fwd_chunks
    names.clear()
    got, want = run(A.flash_attention_bwd_p, q, k, v, o_ref, lse_ref, do, mask, **params)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)
    chunks = 2 * -(-H // chunk)
    assert names.count("attention_scores_bwd_f32") == chunks
    tile = "_n64" if D <= 64 else ""
    assert names.count(f"matmul_simt_f32_f32_cr{tile}") == 2 * chunks
    assert names.count(f"matmul_simt_f32_f32_rr{tile}") == chunks


@pytest.mark.parametrize("fits", [2, 0])
def test_scores_in_memory_halve_their_chunk_when_out_of_memory(vk, run, rng, monkeypatch, fits):
    """A scratch allocation that runs out of memory halves the chunk of heads (4 -> 2 here); where not even one
    head's scratch fits, the flash kernels run instead. The results stay those of the reference."""
    from grilly.core.errors import OutOfMemoryError

    rt = vk.rt
    D, Sq, Sk, H = 68, 133, 262, 4
    monkeypatch.setattr(KS, "SCORES_SCRATCH", 1 << 30)
    names = _attention_case(rt, monkeypatch, rng, np.float32, D, Sq, Sk)[0]
    real = rt.empty

    def empty(aval):
        if tuple(aval.shape[1:]) == (Sq, 264) and aval.shape[0] > fits:
            raise OutOfMemoryError("test: no room for the scratch")
        return real(aval)

    monkeypatch.setattr(rt, "empty", empty)
    q, k, v, do = (rng.standard_normal((1, n, H, D)).astype(np.float32) for n in (Sq, Sk, Sk, Sq))
    params = dict(causal=False, scale=0.3, has_mask=False)
    (o, lse), (o_ref, lse_ref) = run(A.flash_attention_p, q, k, v, **params)
    np.testing.assert_allclose(o, o_ref, atol=1e-5, rtol=1e-5)
    got, want = run(A.flash_attention_bwd_p, q, k, v, o_ref, lse_ref, do, **params)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)
    chunks = H // fits if fits else 0
    assert names.count("attention_scores_fwd_f32") == chunks and names.count("attention_scores_bwd_f32") == chunks
    assert any(n.startswith("flash_fwd_") and n != "flash_fwd_probs_f32" for n in names) == (not fits)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_softmax_layer_norm_kernels(run, rng, dtype):
    x = (rng.standard_normal((7, 300)) * 3).astype(dtype)
    g, b = rng.standard_normal((2, 300)).astype(dtype)
    tol = TOL[np.dtype(dtype)] * 4
    (got,), (want,) = run(A.softmax_p, x)
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=tol, rtol=tol)
    (got,), (want,) = run(A.layer_norm_p, x, g, b, eps=1e-5)
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=tol * 4, rtol=tol * 4)


def test_under_jit_match_eager(dev, rng):
    """The fast kernels record into jit programs (placeholder buffers, planned arena) like any other."""
    import grilly
    import grilly.lax as lax
    import grilly.numpy as gnp

    if grilly.default_backend() != "vulkan":
        pytest.skip("jit constants (scalars, iotas) live on the default backend: run with GRILLY_BACKEND=vulkan")

    q = dev(rng.standard_normal((1, 9, 2, 64)).astype(np.float32))
    a = dev(rng.standard_normal((3, 132, 76)).astype(np.float32))
    b = dev(rng.standard_normal((3, 76, 260)).astype(np.float32))
    assert "vulkan" in str(q.device)
    loss = lambda q: gnp.sum(lax.flash_attention(q, q, q, causal=True) ** 2)  # noqa: E731
    np.testing.assert_allclose(np.asarray(grilly.jit(grilly.grad(loss))(q)), np.asarray(grilly.grad(loss)(q)),
                               atol=1e-5, rtol=1e-5)
    want = 2 * np.asarray(a) @ np.asarray(b)
    np.testing.assert_allclose(np.asarray(grilly.jit(lambda a, b: gnp.matmul(a * 2, b))(a, b)), want,
                               atol=1e-4, rtol=1e-4)
    f = lambda x: lax.layer_norm(lax.softmax(x))  # noqa: E731
    np.testing.assert_allclose(np.asarray(grilly.jit(f)(a)), np.asarray(f(a)), atol=1e-5, rtol=1e-5)
