"""dot_general on cooperative matrices (tensor cores) where the device has VK_KHR_cooperative_matrix.

float16 operands always take this path when their layout allows 16-byte loads, bfloat16 operands too where the
device has bfloat16 cooperative matrices (VK_KHR_shader_bfloat16); float32 operands take it only
when the caller opts into reduced precision (``precision="fastest"``, ``"float16"``, ``"tensorfloat32"`` or
``"bfloat16"``, as in JAX; the operands are then rounded to float16, accumulation stays float32). Its portable
twin, on every device (lavapipe included), is matmul_simt.comp: float32 arithmetic with 4-vector loads and
8 x 8 outputs per invocation, for float32, float16 and bfloat16 operands whose layout allows it. Anything else
runs the general strided kernel of linalg.py. All agree up to accumulation order.
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


BF16_FEATURES = ("shaderBFloat16Type", "shaderBFloat16CooperativeMatrix")


def coop_bf16_available(rt) -> bool:
    """Whether bfloat16 cooperative matrices are there too (VK_KHR_shader_bfloat16)."""
    return coop_available(rt) and all(rt.features.get(k) for k in BF16_FEATURES)


def operand_layout(rows: int, cols: int, s_row: int, s_col: int, s_batch: int, batch: int,
                   vec: int = 8) -> str | None:
    """'r' when the column index is contiguous, 'c' when the row index is, with every other stride and the
    contiguous extent in whole ``vec``-element vectors; None when the operand needs the portable kernel."""
    batch_ok = batch == 1 or s_batch % vec == 0
    if s_col == 1 and cols % vec == 0 and (rows == 1 or s_row % vec == 0) and batch_ok:
        return "r"
    if s_row == 1 and rows % vec == 0 and (cols == 1 or s_col % vec == 0) and batch_ok:
        return "c"
    return None


def tile_config(batch: int, M: int, N: int, subgroup: int) -> tuple:
    """Specialization constants (workgroup size, BM, BN, BK, WM, WN, NBUF) of matmul_coopmat.comp: 128 x 128
    tiles, K by 64, when there are enough of them to fill a large GPU (the fastest of a sweep on an H100 at
    8192^3: 251 TFLOP/s against 186-239 for 128x128x32, 128x256x32, 256x128x32 and double-buffered 128x128x32;
    284 since tiles inside the operands load without bounds tests), 64 x 64 otherwise."""
    if batch * math.ceil(M / 128) * math.ceil(N / 128) >= 264:
        wm, wn = (2, 4) if subgroup == 32 else (2, 2)
        return (wm * wn * subgroup, 128, 128, 64, wm, wn, 1)
    return (4 * subgroup, 64, 64, 32, 2, 2, 1)


def coop_matmul(rt, a, b, out, batch: int, M: int, N: int, K: int, sa, sb, la: str, lb: str, spec=None) -> None:
    """out[z, m, n] = sum_k a[...] b[...] on cooperative matrices (float16 or bfloat16 operands, float32
    accumulation)."""
    ci = "f16" if np.dtype(a.dtype) == np.float16 else "bf16"
    co = "f32" if np.dtype(out.dtype) == np.float32 else ci
    spec = spec or tile_config(batch, M, N, rt.subgroup_size)
    BM, BN = spec[1], spec[2]
    name = f"matmul_coopmat_{ci}_{co}_{la}{lb}"
    for z0 in range(0, batch, MAX_Z):
        from grilly.core.backend.vulkan.kernels.common import pack

        pc = pack("QQQIIIIiiiiii", a.addr, b.addr, out.addr, M, N, K, z0, *sa, *sb)
        rt.dispatch(name, spec, (-(-N // BN), -(-M // BM), min(MAX_Z, batch - z0)), pc, (a, b), (out,))


def _to_f16(rt, x):
    from grilly.core.backend.vulkan.kernels.common import launch, pack

    t = rt.empty(ShapedArray(x.shape, np.float16))
    n = math.prod(x.shape)
    launch(rt, "convert_f32_f16", n, pack("QQI", x.addr, t.addr, n), (x,), (t,))
    return t


def plan(dtype, out_dtype, batch, M, N, K, sa, sb, coop: bool, precision=None, coop_bf16: bool = False) -> tuple:
    """Which kernel computes this GEMM: ("coop", la, lb), ("simt", la, lb) or ("portable",).

    ``sa`` / ``sb`` are the (batch, row, column) element strides of A (M x K) and B (K x N)."""
    dt, ot = np.dtype(dtype), np.dtype(out_dtype)
    f16, f32 = np.dtype(np.float16), np.dtype(np.float32)
    if K == 0:
        return ("portable",)
    half = coop and (dt == f16 or (dt == f32 and reduced_precision(precision))) and ot in (f16, f32)
    if half or (coop_bf16 and dt.name == "bfloat16" and ot in (dt, f32)):
        la, lb = operand_layout(M, K, sa[1], sa[2], sa[0], batch), operand_layout(K, N, sb[1], sb[2], sb[0], batch)
        if la and lb:
            return ("coop", la, lb)
    if dt.name in ("float32", "float16", "bfloat16") and ot in (dt, f32) and min(M, N) >= 32:
        la = operand_layout(M, K, sa[1], sa[2], sa[0], batch, vec=4)
        lb = operand_layout(K, N, sb[1], sb[2], sb[0], batch, vec=4)
        if la and lb:
            return ("simt", la, lb)
    return ("portable",)


def simt_matmul(rt, a, b, out, batch, M, N, K, sa, sb, la, lb, sc=None, addrs=None, writes=()) -> None:
    """matmul_simt.comp: float32 arithmetic, 128 x 128 tiles (128 x 64 where N <= 64), 4-vector loads.

    ``sc``: the (batch, row) element strides of ``out`` (dense by default); ``addrs``: the byte addresses of A, B
    and C when they start inside their buffers; ``writes``: buffers the kernel reads that must count as written
    (so a later write to them waits for this read)."""
    from grilly.core.backend.vulkan.kernels.common import code, pack

    ca, co = code("dot_general", a.dtype), code("dot_general", out.dtype)
    bn = 64 if N <= 64 else 128
    name = f"matmul_simt_{ca}_{co}_{la}{lb}" + ("_n64" if bn == 64 else "")
    sc = sc or (M * N, N)
    pa, pb, po = addrs or (a.addr, b.addr, out.addr)
    for z0 in range(0, batch, MAX_Z):
        pc = pack("QQQIIIIiiiiiiii", pa, pb, po, M, N, K, z0, *sa, *sb, *sc)
        rt.dispatch(name, (), (-(-N // bn), -(-M // 128), min(MAX_Z, batch - z0)), pc, (a, b), (out, *writes))


def make_dot_general(portable):
    """The dot_general dispatcher: cooperative matrices or the fast SIMT GEMM where they apply, else
    ``portable`` (linalg.py's)."""
    from grilly.core.backend.vulkan.kernels.linalg import _layout

    def impl(rt, bufs, out_avals, *, dimension_numbers, precision=None, preferred_element_type=None):
        x, y = bufs
        av = out_avals[0]
        (lc, rc), (lb, rb) = dimension_numbers
        lf = [i for i in range(len(x.shape)) if i not in lc and i not in lb]
        rf = [i for i in range(len(y.shape)) if i not in rc and i not in rb]
        batch = math.prod(x.shape[i] for i in lb)
        M = math.prod(x.shape[i] for i in lf)
        K = math.prod(x.shape[i] for i in lc)
        N = math.prod(y.shape[i] for i in rf)
        coop = coop_available(rt)
        dense = [list(lb), lf, list(lc)], [list(rb), list(rc), rf]
        sa = _group_strides(x.shape, dense[0])
        sb = _group_strides(y.shape, dense[1])
        how = ("portable",) if None in sa + sb or np.dtype(x.dtype) != np.dtype(y.dtype) else plan(
            x.dtype, av.dtype, batch, M, N, K, sa, sb, coop, precision, coop_bf16_available(rt))
        if how[0] == "portable" or not batch * M * N:
            return portable(rt, bufs, out_avals, dimension_numbers=dimension_numbers, precision=precision,
                            preferred_element_type=preferred_element_type)
        out = rt.empty(av)
        if how[0] == "coop" and np.dtype(x.dtype) == np.float32:
            x, y = _to_f16(rt, x), _to_f16(rt, y)
        xb, sa = _layout(rt, x, dense[0])
        yb, sb = _layout(rt, y, dense[1])
        if xb.addr % 16 or yb.addr % 16:
            return portable(rt, bufs, out_avals, dimension_numbers=dimension_numbers, precision=precision,
                            preferred_element_type=preferred_element_type)
        la, lb = how[1], how[2]
        if how[0] == "simt":
            (xb, sa, la), (yb, sb, lb) = _simt_operands(rt, xb, sa, la, yb, sb, lb, batch, M, N, K)
        kernel = coop_matmul if how[0] == "coop" else simt_matmul
        kernel(rt, xb, yb, out, batch, M, N, K, tuple(sa), tuple(sb), la, lb)
        return [out]

    return impl


# The SIMT kernel is fastest with A column-major and B row-major (no operand is transposed on its way into
# shared memory, and its K step is 16): on an H100, 0.77-0.80 of cuBLAS against 0.65-0.73 for the other layouts
# at 4096^3 and at the Linear+LIF shapes (measured before tiles inside the operands loaded without bounds tests;
# this layout now runs at 0.90). An operand in the other layout is transposed first where the product
# is large enough to repay the copy: the saving grows with the other operand's free dimension.
TRANSPOSE_MIN = 2048  # the other operand's free dimension
TRANSPOSE_MIN_K = 512


def _simt_operands(rt, xb, sa, la, yb, sb, lb, batch, M, N, K):
    """((A, strides, layout), (B, strides, layout)) for the SIMT kernel, with A made column-major and B row-major
    by a tiled transpose where that pays (see TRANSPOSE_MIN)."""
    from grilly.core.backend.vulkan.kernels.structural import transpose_matrices

    big = K >= TRANSPOSE_MIN_K
    if big and la == "r" and N >= TRANSPOSE_MIN and list(sa[1:]) == [K, 1] and (batch == 1 or sa[0] == M * K):
        t = rt.empty(ShapedArray((batch, K, M), xb.dtype))
        transpose_matrices(rt, xb, t, batch, M, K)
        xb, sa, la = t, [K * M, 1, M], "c"
    if big and lb == "c" and M >= TRANSPOSE_MIN and list(sb[1:]) == [1, K] and (batch == 1 or sb[0] == N * K):
        t = rt.empty(ShapedArray((batch, K, N), yb.dtype))
        transpose_matrices(rt, yb, t, batch, N, K)
        yb, sb, lb = t, [K * N, N, 1], "r"
    return (xb, sa, la), (yb, sb, lb)


def _group_strides(shape, groups):
    """The element stride of each group of dims of a contiguous array (None where a group does not merge)."""
    from grilly.core.backend.vulkan.kernels.linalg import _group_stride
    from grilly.core.backend.vulkan.kernels.structural import contiguous_strides

    st = contiguous_strides(shape)
    return tuple(_group_stride(shape, st, g) for g in groups)


def register_matmul_fast() -> None:
    from grilly.lax import linalg as L

    portable = P.impl_rules["vulkan"][L.dot_general_p]
    if getattr(portable, "coop_wrapper", False):
        return
    impl = make_dot_general(portable)
    impl.coop_wrapper = True
    P.impl_rules["vulkan"][L.dot_general_p] = impl
