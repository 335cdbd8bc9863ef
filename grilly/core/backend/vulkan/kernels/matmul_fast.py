"""dot_general on cooperative matrices (tensor cores) where the device has VK_KHR_cooperative_matrix.

float16 operands always take this path when their layout allows 16-byte loads; float32 operands take it only
when the caller opts into reduced precision (``precision="fastest"``, ``"float16"``, ``"tensorfloat32"`` or
``"bfloat16"``, as in JAX; the operands are then rounded to float16, accumulation stays float32). Everything
else, and every device without cooperative matrices (lavapipe), runs the portable tiled kernel of linalg.py:
its twin, with the same results up to accumulation order.
"""

from __future__ import annotations

import math

import numpy as np

from grilly.core import primitive as P
from grilly.core.aval import ShapedArray

REDUCED = {"fastest", "float16", "fp16", "tensorfloat32", "tf32", "bfloat16", "bf16", "default_reduced"}
MAX_Z = 65535


def reduced_precision(precision) -> bool:
    """Whether ``precision`` (None, a string, an enum with a name, or an (lhs, rhs) pair) allows float16 math."""
    if precision is None:
        return False
    if isinstance(precision, (tuple, list)):
        return all(reduced_precision(p) for p in precision)
    name = getattr(precision, "name", precision)
    return str(name).lower() in REDUCED


def coop_available(rt) -> bool:
    return bool(rt.features.get("cooperativeMatrix")) and rt.subgroup_size in (32, 64)


def operand_layout(rows: int, cols: int, s_row: int, s_col: int, s_batch: int, batch: int) -> str | None:
    """'r' when the column index is contiguous, 'c' when the row index is, with every other stride and the
    contiguous extent in whole 8-element (16-byte) vectors; None when the operand needs the portable kernel."""
    batch_ok = batch == 1 or s_batch % 8 == 0
    if s_col == 1 and cols % 8 == 0 and (rows == 1 or s_row % 8 == 0) and batch_ok:
        return "r"
    if s_row == 1 and rows % 8 == 0 and (cols == 1 or s_col % 8 == 0) and batch_ok:
        return "c"
    return None


def tile_config(batch: int, M: int, N: int, subgroup: int) -> tuple:
    """Specialization constants (workgroup size, BM, BN, BK, WM, WN): 128 x 128 tiles when there are enough of
    them to fill a large GPU, 64 x 64 otherwise."""
    if batch * math.ceil(M / 128) * math.ceil(N / 128) >= 264:
        wm, wn = (2, 4) if subgroup == 32 else (2, 2)
        return (wm * wn * subgroup, 128, 128, 32, wm, wn)
    return (4 * subgroup, 64, 64, 32, 2, 2)


def coop_matmul(rt, a, b, out, batch: int, M: int, N: int, K: int, sa, sb, la: str, lb: str) -> None:
    """out[z, m, n] = sum_k a[...] b[...] on cooperative matrices (float16 operands, float32 accumulation)."""
    co = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32"}[np.dtype(out.dtype)]
    spec = tile_config(batch, M, N, rt.subgroup_size)
    BM, BN = spec[1], spec[2]
    name = f"matmul_coopmat_f16_{co}_{la}{lb}"
    for z0 in range(0, batch, MAX_Z):
        from grilly.core.backend.vulkan.kernels.common import pack

        pc = pack("QQQIIIIiiiiii", a.addr, b.addr, out.addr, M, N, K, z0, *sa, *sb)
        rt.dispatch(name, spec, (-(-N // BN), -(-M // BM), min(MAX_Z, batch - z0)), pc, (a, b), (out,))


TILE_HUGE = (256, 128, 128, 16, 8, 8)  # (workgroup size, BM, BN, BK, TM, TN) of linalg/matmul.comp


def _large(x, y, dimension_numbers) -> bool:
    """Enough 128 x 128 output tiles to fill a large GPU twice over (the portable kernel then takes big tiles)."""
    (lc, rc), (lb, rb) = dimension_numbers
    batch = math.prod(x.shape[i] for i in lb)
    M = math.prod(x.shape[i] for i in range(len(x.shape)) if i not in lc and i not in lb)
    N = math.prod(y.shape[i] for i in range(len(y.shape)) if i not in rc and i not in rb)
    return np.dtype(x.dtype) == np.dtype(y.dtype) and batch * math.ceil(M / 128) * math.ceil(N / 128) >= 264


def portable_matmul(rt, a, b, out, batch, M, N, K, sa, sb, tile) -> None:
    """linalg/matmul.comp with the given tile shape (the portable twin of the cooperative-matrix kernel)."""
    from grilly.core.backend.vulkan.kernels.common import code, pack

    name = f"matmul_{code('dot_general', a.dtype)}_{code('dot_general', out.dtype)}"
    for z0 in range(0, batch, MAX_Z):
        pc = pack("QQQIIIIiiiiiiI", a.addr, b.addr, out.addr, M, N, K, z0, *sa, *sb, M * N)
        rt.dispatch(name, tile, (-(-N // tile[2]), -(-M // tile[1]), min(MAX_Z, batch - z0)), pc, (a, b), (out,))


def _to_f16(rt, x):
    from grilly.core.backend.vulkan.kernels.common import launch, pack

    t = rt.empty(ShapedArray(x.shape, np.float16))
    n = math.prod(x.shape)
    launch(rt, "convert_f32_f16", n, pack("QQI", x.addr, t.addr, n), (x,), (t,))
    return t


def make_dot_general(portable):
    """The dot_general dispatcher: cooperative matrices when possible, else ``portable`` (linalg.py's)."""
    from grilly.core.backend.vulkan.kernels.linalg import _layout

    def impl(rt, bufs, out_avals, *, dimension_numbers, precision=None, preferred_element_type=None):
        x, y = bufs
        av = out_avals[0]
        f16, f32 = np.dtype(np.float16), np.dtype(np.float32)
        dt = np.dtype(x.dtype)
        want = dt == f16 or (dt == f32 and reduced_precision(precision))
        coop = want and np.dtype(y.dtype) == dt and np.dtype(av.dtype) in (f16, f32) and coop_available(rt)
        (lc, rc), (lb, rb) = dimension_numbers
        if not coop and not _large(x, y, dimension_numbers):
            return portable(rt, bufs, out_avals, dimension_numbers=dimension_numbers, precision=precision,
                            preferred_element_type=preferred_element_type)
        lf = [i for i in range(len(x.shape)) if i not in lc and i not in lb]
        rf = [i for i in range(len(y.shape)) if i not in rc and i not in rb]
        batch = math.prod(x.shape[i] for i in lb)
        M = math.prod(x.shape[i] for i in lf)
        K = math.prod(x.shape[i] for i in lc)
        N = math.prod(y.shape[i] for i in rf)
        out = rt.empty(av)
        if not batch * M * N:
            return [out]
        if not coop:  # large problems: the portable kernel with 128 x 128 tiles, 8 x 8 outputs per invocation
            xb, sa = _layout(rt, x, [list(lb), lf, list(lc)])
            yb, sb = _layout(rt, y, [list(rb), list(rc), rf])
            portable_matmul(rt, xb, yb, out, batch, M, N, K, sa, sb, TILE_HUGE)
            return [out]
        if dt == f32:
            x, y = _to_f16(rt, x), _to_f16(rt, y)
        xb, (sab, sam, sak) = _layout(rt, x, [list(lb), lf, list(lc)])
        yb, (sbb, sbk, sbn) = _layout(rt, y, [list(rb), list(rc), rf])
        la = operand_layout(M, K, sam, sak, sab, batch)
        lb_ = operand_layout(K, N, sbk, sbn, sbb, batch)
        if K == 0 or la is None or lb_ is None or xb.addr % 16 or yb.addr % 16:
            from grilly.core.backend.vulkan.kernels.linalg import matmul

            matmul(rt, xb, yb, out, batch, M, N, K, (sab, sam, sak), (sbb, sbk, sbn))
            return [out]
        coop_matmul(rt, xb, yb, out, batch, M, N, K, (sab, sam, sak), (sbb, sbk, sbn), la, lb_)
        return [out]

    return impl


def register_matmul_fast() -> None:
    from grilly.lax import linalg as L

    portable = P.impl_rules["vulkan"][L.dot_general_p]
    if getattr(portable, "coop_wrapper", False):
        return
    impl = make_dot_general(portable)
    impl.coop_wrapper = True
    P.impl_rules["vulkan"][L.dot_general_p] = impl
