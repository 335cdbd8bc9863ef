"""Flash attention (forward; backward as delta + dQ + dK/dV kernels), fused row softmax and layer_norm.

The attention kernels are portable (plain fp32 arithmetic, 1-4 invocations per row, K/V tiles in shared memory):
they run on every device, lavapipe included. Tile sizes are specialization constants picked from the head
dimension and the device's shared-memory limit. On devices with cooperative matrices, the float16 forward at
head dims 64 and 128 runs flash_fwd_coop.comp instead (tensor cores for Q K^T and P V), or flash_fwd_cm2.comp
where VK_NV_cooperative_matrix2 keeps the whole online softmax in registers; there the float16 backward runs
flash_bwd_dq_cm2.comp and flash_bwd_dkdv_cm2.comp (tensor cores for all five products), or at head dim 64, where
the device adds floats atomically, flash_bwd_dkdv_cm2.comp alone with dQ added up inside it. Float32 at larger head
dims keeps the scores in memory instead (attention_scores.py).
"""

from __future__ import annotations

import math

import numpy as np

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.attention_scores import gemm_backward, gemm_forward, scores_heads
from grilly.core.backend.vulkan.kernels.common import code, launch, pack, register
from grilly.core.errors import BackendError

FLOATS = ("f32", "f16", "bf16")
ATT_WG = 256  # invocations per attention workgroup: 256 / LANES rows
ROW_WG = 256
DELTA_ROWS = 32  # rows of O per workgroup of flash_bwd_delta.comp (its ROWS)
# Invocations per row (LANES) by head dim: fewer lanes keep more of a row in registers and read each shared
# K/V vector once for more rows; the backward keeps four arrays of a row in registers, the forward two.
FWD_LANES = {64: 1, 128: 2}
BWD_LANES = {64: 2}


def lanes(kind: str, D: int) -> int:
    table = FWD_LANES if kind == "fwd" else BWD_LANES
    for d in sorted(table):
        if D <= d:
            return table[d]
    return 4


def _tiles(rt, D: int) -> tuple[int, int]:
    """(DP4, BC): the head dim padded to a multiple of 16, as vec4 count, and the largest shared tile that fits."""
    dp4 = 4 * -(-D // 16)
    for bc in (32, 16, 8, 4):
        if 2 * bc * dp4 * 16 + 8 * bc <= rt.limits["maxShared"]:
            return dp4, bc
    raise BackendError(f"flash_attention: head_dim {D} needs more shared memory than the device has")


def _spec(dp4: int, bc: int, ln: int) -> tuple:
    return (ATT_WG, ATT_WG // ln, bc, dp4, ln)


def _sizes(q, k, mask) -> tuple:
    B, Sq, H, D = q.shape
    if mask is None:
        return B, H, Sq, k.shape[1], D, 0, 0, 0
    mb, mh = mask.shape[0], mask.shape[1]
    Sk = k.shape[1]
    return B, H, Sq, Sk, D, (mh * Sq * Sk if mb > 1 else 0), (Sq * Sk if mh > 1 else 0), 1


def _check(q, k, v):
    if v.shape[3] != q.shape[3]:
        raise BackendError("flash_attention on Vulkan needs v's head_dim equal to q's and k's")
    return code("flash_attention", q.dtype, FLOATS)


def _flash_fwd(rt, bufs, out_avals, *, causal, scale, has_mask):
    q, k, v = bufs[:3]
    mask = bufs[3] if has_mask else None
    c = _check(q, k, v)
    o, lse = rt.empty(out_avals[0]), rt.empty(out_avals[1])
    B, H, Sq, Sk, D, smb, smh, hm = _sizes(q, k, mask)
    if not B * H * Sq * D:
        return [o, lse]
    heads = scores_heads(c, Sq, Sk, D, H, (q, k, v), backward=False)
    if gemm_forward(rt, (q, k, v, mask), (o, lse), (B, H, Sq, Sk, D, smb, smh, hm), causal, scale, heads):
        return [o, lse]
    dp4, bc = _tiles(rt, D)
    m = mask if mask is not None else q
    pc = pack("QQQQQQIIIIIIfIII", q.addr, k.addr, v.addr, o.addr, lse.addr, m.addr, B, H, Sq, Sk, D,
              int(causal), scale, smb, smh, hm)
    reads = (q, k, v) + ((mask,) if mask is not None else ())
    if use_cm2_forward(rt, c, D):  # the whole online softmax in cooperative-matrix registers
        rt.dispatch(f"flash_fwd_cm2_f16_d{D}", (), (-(-Sq // FWD_CM2_ROWS[D]), B * H, 1), pc, reads, (o, lse))
        return [o, lse]
    if use_coop_forward(rt, c, D):  # tensor cores: 64 queries per workgroup of 4 subgroups
        rt.dispatch(f"flash_fwd_coop_f16_d{D}", (), (-(-Sq // 64), B * H, 1), pc, reads, (o, lse))
        return [o, lse]
    tx = tiled_forward(rt, D)
    if tx:  # register-tiled: 4 x 4 scores per invocation
        rt.dispatch(f"flash_fwd_tiled_{_tiled_flavour(c, D, (q, k, v))}_x{tx}", (), (-(-Sq // (4 * tx)), B * H, 1),
                    pc, reads, (o, lse))
        return [o, lse]
    ln = lanes("fwd", D)
    rt.dispatch(f"flash_fwd_{c}", _spec(dp4, bc, ln), (-(-Sq // (ATT_WG // ln)), B * H, 1), pc, reads, (o, lse))
    return [o, lse]


# flash_fwd_tiled.comp pads the head dim to 64; at 32 and below the row-per-invocation kernel is faster (B4 H16
# S4096 D32 fp32 on an H100: 5.4 ms against 10.3; D64: 13.1 against 9.6)
TILED_MIN_D, TILED_MAX_D = 32, 64
TILED_FWD_SHARED = {16: 49152, 8: 24576}  # TX -> shared memory of flash_fwd_tiled.comp (Q, K and V tiles)


def tiled_forward(rt, D: int) -> int:
    """TX of the register-tiled forward this device runs at head dim D (16: 64 queries per workgroup, 48 KiB of
    shared memory; 8: 32 queries, 24 KiB), or 0 for the row-per-invocation kernel. A row's TX invocations
    reduce its max with subgroup shuffles, so TX must not exceed the subgroup size."""
    if not TILED_MIN_D < D <= TILED_MAX_D:
        return 0
    for tx, need in TILED_FWD_SHARED.items():
        if rt.subgroup_size >= tx and need <= rt.limits["maxShared"]:
            return tx
    return 0


def _tiled_flavour(c: str, D: int, arrays) -> str:
    """The variant suffix of a tiled kernel: "f32v" (4-vector reads) for float32 arrays that are all 16-byte
    aligned with a head dim that is a multiple of 4, else the dtype code."""
    return "f32v" if c == "f32" and D % 4 == 0 and all(x.addr % 16 == 0 for x in arrays) else c


# Queries per workgroup of flash_fwd_cm2.comp by head dim (NW subgroups of 16 * RB rows; see attention/variants.py).
FWD_CM2_ROWS = {64: 128, 128: 64}
BWD_CM2_ROWS = 64  # queries per workgroup of the dQ kernel, keys of the dK/dV kernel (4 subgroups of 16)
CM2_FEATURES = ("cooperativeMatrixReductions", "cooperativeMatrixPerElementOperations",
                "cooperativeMatrixConversions", "vulkanMemoryModel", "vulkanMemoryModelDeviceScope")


def use_cm2_forward(rt, dtype_code: str, D: int) -> bool:
    """The register-resident kernels (forward, dQ, dK/dV): float16, head dim 64 or 128, and a Vulkan 1.3 device
    with VK_NV_cooperative_matrix2's reductions, per-element operations and conversions."""
    import vulkan as vk

    return (use_coop_forward(rt, dtype_code, D) and rt.info.api >= vk.VK_MAKE_VERSION(1, 3, 0)
            and all(rt.features.get(f) for f in CM2_FEATURES))


def use_coop_forward(rt, dtype_code: str, D: int) -> bool:
    """The cooperative-matrix forward: float16, head dim 64 or 128, a device with cooperative matrices and
    32-wide subgroups; everything else runs the portable kernel."""
    from grilly.core.backend.vulkan.kernels.matmul_fast import coop_available

    return dtype_code == "f16" and D in (64, 128) and coop_available(rt) and rt.subgroup_size == 32


def _flash_bwd(rt, bufs, out_avals, *, causal, scale, has_mask):
    q, k, v, o, lse, do = bufs[:6]
    mask = bufs[6] if has_mask else None
    c = _check(q, k, v)
    dq, dk, dv = (rt.empty(a) for a in out_avals)
    B, H, Sq, Sk, D, smb, smh, hm = _sizes(q, k, mask)
    if not B * H * D:
        return [dq, dk, dv]
    cm2 = use_cm2_forward(rt, c, D)
    heads = scores_heads(c, Sq, Sk, D, H, (q, k, v, do), backward=True)  # (0 for float16, where cm2 runs)
    if gemm_backward(rt, (q, k, v, o, do, lse, mask), (dq, dk, dv), (B, H, Sq, Sk, D, smb, smh, hm), causal, scale,
                     heads):
        return [dq, dk, dv]
    tiled = None if cm2 else tiled_backward(rt, D)
    dp4, bc = _tiles(rt, D)
    ln = lanes("bwd", D)
    spec, per_wg = ((), BWD_CM2_ROWS) if cm2 else (_spec(dp4, bc, ln), ATT_WG // ln)
    # The dK/dV kernel, and whether it adds dQ up too (atomically, into a float32 array the delta kernel zeroes)
    if cm2:
        fused = fused_cm2_backward(rt, D)
        kv_name = f"flash_bwd_fused_cm2_f16_d{D}" if fused else f"flash_bwd_dkdv_cm2_f16_d{D}"
        kv_spec, kv_per_wg = (), FUSED_CM2_KEYS[D] if fused else per_wg
    elif tiled:  # register-tiled dK/dV (the dQ kernel overlaps it)
        fused, kv_name = False, f"flash_bwd_dkdv_tiled_{_tiled_flavour(c, D, (q, k, v, do))}_{tiled}"
        kv_spec, kv_per_wg = (), TILED_DKDV_KEYS[tiled]
    else:
        fused, kv_name, kv_spec, kv_per_wg = False, f"flash_bwd_dkdv_{c}", spec, per_wg
    dq_acc = rt.empty(ShapedArray(q.shape, np.float32)) if fused else None
    delta = bwd_delta(rt, c, o, do, (B, H, Sq, D), zero=dq_acc)
    m = mask if mask is not None else q
    reads = (q, k, v, do, lse, delta) + ((mask,) if mask is not None else ())
    tail = (B, H, Sq, Sk, D, int(causal), scale, smb, smh, hm)
    if Sq and not fused:
        dq_name = f"flash_bwd_dq_cm2_f16_d{D}" if cm2 else f"flash_bwd_dq_{c}"
        pc = pack("QQQQQQQQIIIIIIfIII", q.addr, k.addr, v.addr, do.addr, lse.addr, delta.addr, dq.addr, m.addr, *tail)
        rt.dispatch(dq_name, spec, (-(-Sq // per_wg), B * H, 1), pc, reads, (dq,))
    pc = pack("QQQQQQQQQIIIIIIfIII", q.addr, k.addr, v.addr, do.addr, lse.addr, delta.addr, dk.addr, dv.addr,
              m.addr, *tail)
    if fused:
        pc += pack("Q", dq_acc.addr)
    if Sk:
        rt.dispatch(kv_name, kv_spec, (-(-Sk // kv_per_wg), B * H, 1), pc, reads,
                    (dk, dv, dq_acc) if fused else (dk, dv))
    if fused:
        n = math.prod(q.shape)
        launch(rt, f"convert_f32_{c}", n, pack("QQI", dq_acc.addr, dq.addr, n), (dq_acc,), (dq,))
    return [dq, dk, dv]


def bwd_delta(rt, c: str, o, do, dims, zero=None):
    """delta[b, h, i] = sum over the head dim of dO * O, as a float32 (B, H, Sq) array (32 rows of O per
    workgroup, a subgroup per row). Where ``zero`` is given (the fused backward's float32 dQ accumulator), the
    kernel zeroes it too."""
    B, H, Sq, D = dims
    delta = rt.empty(ShapedArray((B, H, Sq), np.float32))
    if Sq:
        z = delta if zero is None else zero
        rt.dispatch(f"flash_bwd_delta_{c}", (), rt.grid(-(-B * Sq * H // DELTA_ROWS)),
                    pack("QQQQIIIII", o.addr, do.addr, delta.addr, z.addr, B, Sq, H, D, int(zero is not None)),
                    (o, do), (delta, z))
    return delta


# Keys per workgroup of the float16 backward that adds dQ up inside the dK/dV kernel (flash_bwd_fused_cm2_f16_d*),
# by the head dims where it runs.
FUSED_CM2_KEYS = {64: 128}


def fused_cm2_backward(rt, D: int) -> bool:
    """Whether the cooperative-matrix-2 backward at head dim D computes dQ in the dK/dV kernel, with atomic float
    adds (VK_EXT_shader_atomic_float), instead of a dQ kernel that recomputes S and dP."""
    return D in FUSED_CM2_KEYS and bool(rt.features.get("shaderBufferFloat32AtomicAdd"))


# The tiled dK/dV kernel (attention/variants.py DKDV_TILED) takes 64 keys per workgroup (wide: 48 KiB of shared
# memory) or 32 (narrow: 28 KiB, for devices with 32 KiB). On an H100 at B4 H16 S4096 D64 fp32 it took 22.3 ms
# against 27.8 for the row-per-invocation kernel, and the backward (with the row-per-invocation dQ kernel, which
# overlaps it) 40 ms against 45. A tiled dQ kernel (4 x 4 blocks, 128 invocations) ran alone in 24.8 ms but
# overlapped nothing: 46.6 ms for the pair. A dQ phase inside the tiled dK/dV kernel (float atomics; per
# invocation 4 queries x 4 dims over 16 keys, summed over lanes by shuffles) took that kernel from 22.7 to 38.9 ms
# (2.5 of them the atomics, 4 the shuffles): the backward went from 40.2 to 38.3-39.0 ms at D64 but from 34.0 to
# 38.0 at D48 (the kernel pads the head dim to 64), so the dQ kernel stays.
TILED_DKDV_KEYS = {"wide": 64, "narrow": 32}
TILED_BWD_SHARED = {"wide": 49152, "narrow": 32768}


def tiled_backward(rt, D: int) -> str | None:
    """The configuration of the register-tiled dK/dV kernel this device runs at head dim D, or None for the
    row-per-invocation kernel (head dims outside 33-64, or too little shared memory). Its score phase sums over
    quads of a subgroup (4 lanes)."""
    if not TILED_MIN_D < D <= TILED_MAX_D or rt.subgroup_size < 4:
        return None
    for cfg, need in TILED_BWD_SHARED.items():
        if rt.limits["maxShared"] >= need:
            return cfg
    return None


def _rows(x):
    K = x.shape[-1] if x.shape else 1
    return math.prod(x.shape) // max(K, 1), K


def _softmax(rt, bufs, out_avals):
    x = bufs[0]
    c = code("softmax", x.dtype, FLOATS)
    y = rt.empty(out_avals[0])
    M, K = _rows(x)
    if M and K:
        rt.dispatch(f"softmax_{c}", (ROW_WG,), rt.grid(M), pack("QQII", x.addr, y.addr, M, K), (x,), (y,))
    return [y]


def _layer_norm(rt, bufs, out_avals, *, eps):
    x, g, b = bufs
    c = code("layer_norm", x.dtype, FLOATS)
    y = rt.empty(out_avals[0])
    M, K = _rows(x)
    if M and K:
        rt.dispatch(f"layer_norm_{c}", (ROW_WG,), rt.grid(M),
                    pack("QQQQIIf", x.addr, g.addr, b.addr, y.addr, M, K, eps), (x, g, b), (y,))
    return [y]


def register_attention() -> None:
    from grilly.lax import attention as A

    register(A.flash_attention_p, _flash_fwd)
    register(A.flash_attention_bwd_p, _flash_bwd)
    register(A.softmax_p, _softmax)
    register(A.layer_norm_p, _layer_norm)
