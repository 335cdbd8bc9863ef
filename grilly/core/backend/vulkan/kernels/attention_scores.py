"""Float32 attention that keeps the scores in memory, per chunk of heads, on the SIMT GEMM tile.

Where the flash kernels recompute scores inside register-tiled loops, these run every product at GEMM speed:
- forward (head dims above 64): attention_scores_fwd writes S = scale Q K^T (-inf where hidden), flash_fwd_probs
  turns each row into P and its log-sum-exp, and O = P V is a SIMT GEMM;
- backward (head dims above 32): attention_scores_bwd runs Q K^T and dO V^T for each 128 x 128 block and stores
  P and dS = scale P (dP - delta), then dV = P^T dO, dK = dS^T Q and dQ = dS K are SIMT GEMMs (128 x 64 tiles at
  head dims up to 64): five products where the flash kernels run seven.
Causal blocks wholly after the diagonal skip their products. A chunk is halved while the device has no memory for
its scratch; a head whose scratch exceeds SCORES_SCRATCH (or cannot be allocated) runs the flash kernels. On an
H100 at B4 H16 S4096 (docs/benchmarks.md): backward D64 19.0 ms against 40.2 for the flash kernels, D128 34.8
against 137; forward D128 19.7 against 32.5, D80 17.6 against 19.3; at D64 the flash forward is faster, at D32
the flash backward.
"""

from __future__ import annotations

import numpy as np

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.common import pack

SCORES_SCRATCH = 1 << 30  # bytes of score-sized scratch per chunk of heads (2 GiB gained 2% at D64)
FWD_MIN_D, BWD_MIN_D = 65, 33


def scores_heads(dtype_code: str, Sq: int, Sk: int, D: int, H: int, arrays, backward: bool) -> int:
    """Heads per chunk, or 0 where the flash kernels run: other dtypes, head dims below FWD_MIN_D / BWD_MIN_D or
    not multiples of 4 (4-vector loads), arrays not 16-byte aligned, or a head whose score-sized scratch (S for
    the forward; P and dS for the backward) exceeds SCORES_SCRATCH."""
    min_d = BWD_MIN_D if backward else FWD_MIN_D
    if dtype_code != "f32" or D % 4 or D < min_d or not Sq * Sk or any(x.addr % 16 for x in arrays):
        return 0
    per_head = (8 if backward else 4) * Sq * _pad4(Sk)
    return min(H, SCORES_SCRATCH // per_head)


def _pad4(n: int) -> int:
    return -(-n // 4) * 4


def _scratch(rt, heads: int, Sq: int, ld: int, count: int):
    """(heads, buffers): ``count`` float32 (heads, Sq, ld) buffers, with the chunk halved while the device is out
    of memory; (0, ()) where not even one head fits (the flash kernels need no scratch)."""
    from grilly.core.errors import OutOfMemoryError

    while heads:
        try:
            return heads, tuple(rt.empty(ShapedArray((heads, Sq, ld), np.float32)) for _ in range(count))
        except OutOfMemoryError:
            heads //= 2
    return 0, ()


def _chunks(dims, heads):
    """Per chunk of heads (within one batch member): (heads in the chunk, byte offsets of its first head in
    q-shaped arrays, in k-shaped arrays, in (B, H, Sq) arrays, and element offset in the bool mask)."""
    B, H, Sq, Sk, D, smb, smh, _ = dims
    for b in range(B):
        for h0 in range(0, H, heads):
            yield (min(heads, H - h0), 4 * (b * Sq * H + h0) * D, 4 * (b * Sk * H + h0) * D, 4 * (b * H + h0) * Sq,
                   b * smb + h0 * smh)


def _scores(rt, name, dims, causal, scale, ld, n, a, out, rows, extra=(), reads=(), writes=()):
    """One dispatch of attention_scores_{fwd,bwd}_f32 over a chunk: a = (Q, K[, dO, V]) addresses, out = (p[,
    ds]), rows = (lse, delta, mask) addresses."""
    _, H, Sq, Sk, D, _, smh, hm = dims
    a2 = extra or a
    pc = pack("QQQQQQQQQIIIIiifIII", *a, *a2, *out, *rows, Sq, Sk, ld, D, D, H * D, scale, int(causal), hm, smh)
    rt.dispatch(name, (), (-(-Sk // 128), -(-Sq // 128), n), pc, reads, writes)


def gemm_forward(rt, ins, outs, dims, causal, scale, heads) -> bool:
    """O and lse of attention (layout (batch, seq, heads, head_dim)) with the scores of up to ``heads`` heads at
    a time in memory; False (nothing recorded) where the device has no memory for one head's scores."""
    from grilly.core.backend.vulkan.kernels.attention import ROW_WG
    from grilly.core.backend.vulkan.kernels.matmul_fast import simt_matmul

    q, k, v, mask = ins
    o, lse = outs
    _, H, Sq, Sk, D, _, _, _ = dims
    ld = _pad4(Sk)  # row stride of S / P: 4-vector loads need it a multiple of 4
    heads, scratch = _scratch(rt, heads, Sq, ld, 1)
    if not heads:
        return False
    (p,) = scratch
    m = mask if mask is not None else q
    reads = (q, k) + ((mask,) if mask is not None else ())
    for n, qo, ko, ro, mo in _chunks(dims, heads):
        _scores(rt, "attention_scores_fwd_f32", dims, causal, scale, ld, n, (q.addr + qo, k.addr + ko),
                (p.addr, p.addr), (lse.addr, lse.addr, m.addr + mo), reads=reads, writes=(p,))
        rt.dispatch("flash_fwd_probs_f32", (ROW_WG,), rt.grid(n * Sq),
                    pack("QQIII", p.addr, lse.addr + ro, n * Sq, Sk, ld), (p,), (p, lse))
        # O = P V; listing P as written makes the next chunk's overwrite wait for this read
        simt_matmul(rt, p, v, o, n, Sq, D, Sk, (Sq * ld, ld, 1), (D, H * D, 1), "r", "r", sc=(D, H * D),
                    addrs=(p.addr, v.addr + ko, o.addr + qo), writes=(p,))
    return True


def gemm_backward(rt, ins, outs, dims, causal, scale, heads) -> bool:
    """dQ, dK and dV of attention with P and dS of up to ``heads`` heads at a time in memory; False (nothing
    recorded) where the device has no memory for one head's."""
    from grilly.core.backend.vulkan.kernels.attention import bwd_delta
    from grilly.core.backend.vulkan.kernels.matmul_fast import simt_matmul

    q, k, v, o, do, lse, mask = ins
    dq, dk, dv = outs
    B, H, Sq, Sk, D, _, _, _ = dims
    ld = _pad4(Sk)
    heads, scratch = _scratch(rt, heads, Sq, ld, 2)
    if not heads:
        return False
    p, ds = scratch
    delta = bwd_delta(rt, "f32", o, do, (B, H, Sq, D))
    m = mask if mask is not None else q
    reads = (q, k, do, v, lse, delta) + ((mask,) if mask is not None else ())
    row = H * D
    for n, qo, ko, ro, mo in _chunks(dims, heads):
        _scores(rt, "attention_scores_bwd_f32", dims, causal, scale, ld, n, (q.addr + qo, k.addr + ko),
                (p.addr, ds.addr), (lse.addr + ro, delta.addr + ro, m.addr + mo), extra=(do.addr + qo, v.addr + ko),
                reads=reads, writes=(p, ds))
        # dV = P^T dO and dK = dS^T Q (A column-major: m = key is contiguous), dQ = dS K. The last readers of
        # P and dS list them as written, so the next chunk's overwrite waits for them.
        sp, sr = (Sq * ld, 1, ld), (D, row, 1)
        simt_matmul(rt, p, do, dv, n, Sk, D, Sq, sp, sr, "c", "r", sc=(D, row),
                    addrs=(p.addr, do.addr + qo, dv.addr + ko), writes=(p,))
        simt_matmul(rt, ds, q, dk, n, Sk, D, Sq, sp, sr, "c", "r", sc=(D, row),
                    addrs=(ds.addr, q.addr + qo, dk.addr + ko))
        simt_matmul(rt, ds, k, dq, n, Sq, D, Sk, (Sq * ld, ld, 1), sr, "r", "r", sc=(D, row),
                    addrs=(ds.addr, k.addr + ko, dq.addr + qo), writes=(ds,))
    return True
