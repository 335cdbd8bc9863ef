"""Elementwise kernels: unary/binary ops per dtype, select_n, convert_element_type, bitcast_convert_type."""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from grilly.core.backend.vulkan.kernels.common import WG, bits, code, launch, pack, register, size
from grilly.core.errors import BackendError

F32 = np.dtype(np.float32)

# elements per invocation of the unary/binary kernels (the EW_PER specialization constant); tunable per device
PER_INVOCATION = int(os.environ.get("GRILLY_EW_PER", "8"))  # 8: near the best of 2/4/8/16 on an H100


def _vec4(rt, n: int, av, bufs) -> bool:
    """float32 arrays whose size ``n`` is a multiple of 4 use the 16-byte-access variants (buffer addresses
    only)."""
    if n & 3 or av.dtype != F32 or not getattr(rt, "bda", True):
        return False
    for b in bufs:
        if b.dtype != F32 or b.addr & 15:
            return False
    return True


_SPEC = (WG, PER_INVOCATION)
_PC_UNARY, _PC_BINARY = struct.Struct("<QQIi").pack, struct.Struct("<QQQI").pack
_GROUPS_X = 65535  # rt.grid keeps grids of up to this many workgroups 1-D (every device allows 65535)


def _kernel(table: dict, family: str, name: str, dtype, vec4: bool) -> str:
    """The kernel of ``name`` for an operand dtype (BackendError without one), memoised in ``table``."""
    k = table[dtype, vec4] = f"{family}{'4' if vec4 else ''}_{name}_{code(name, dtype)}"
    return k


def _unary(name: str):
    kernels: dict = {}

    def impl(rt, bufs, out_avals, **params):
        x, (av,) = bufs[0], out_avals
        out = rt.empty(av)
        n = math.prod(av.shape)
        wide = _vec4(rt, n, av, (x, out))
        k = kernels.get((x.dtype, wide)) or _kernel(kernels, "unary", name, x.dtype, wide)
        if wide:
            n //= 4
        if n:
            g = -(-n // (PER_INVOCATION * WG))
            pc = _PC_UNARY(x.addr, out.addr, n, int(params.get("y", 0)))
            rt.dispatch(k, _SPEC, (g, 1, 1) if g <= _GROUPS_X else rt.grid(g), pc, (x,), (out,))
        return [out]

    return impl


def _binary(name: str):
    kernels: dict = {}

    def impl(rt, bufs, out_avals, **params):
        a, b = bufs
        av = out_avals[0]
        out = rt.empty(av)
        n = math.prod(av.shape)
        wide = _vec4(rt, n, av, (a, b, out))
        k = kernels.get((a.dtype, wide)) or _kernel(kernels, "binary", name, a.dtype, wide)
        if wide:
            n //= 4
        if n:
            g = -(-n // (PER_INVOCATION * WG))
            pc = _PC_BINARY(a.addr, b.addr, out.addr, n)
            rt.dispatch(k, _SPEC, (g, 1, 1) if g <= _GROUPS_X else rt.grid(g), pc, (a, b), (out,))
        return [out]

    return impl


def _nextafter(rt, bufs, out_avals):
    a, b = bufs
    av = out_avals[0]
    out = rt.empty(av)
    launch(
        rt,
        "nextafter_" + code("nextafter", a.dtype, ("f32", "f16", "bf16")),
        size(av),
        pack("QQQI", a.addr, b.addr, out.addr, size(av)),
        (a, b),
        (out,),
    )
    return [out]


def _select_n(rt, bufs, out_avals):
    which, cases = bufs[0], bufs[1:]
    av = out_avals[0]
    if len(cases) == 1:
        return [cases[0]]
    if len(cases) > 8:
        raise BackendError(f"select_n on Vulkan takes at most 8 cases, got {len(cases)}")
    out = rt.empty(av)
    addrs = [c.addr for c in cases] + [0] * (8 - len(cases))
    w = "bool" if which.dtype.kind == "b" else "i32"
    pc = pack(
        "QQ8QIII",
        which.addr,
        out.addr,
        *addrs,
        size(av),
        len(cases),
        int(which.nbytes // which.dtype.itemsize == 1 and size(av) != 1),
    )
    launch(rt, f"select_n_b{bits(av.dtype)}_{w}", size(av), pc, (which, *cases), (out,))
    return [out]


def _convert(rt, bufs, out_avals, *, new_dtype):
    x, av = bufs[0], out_avals[0]
    src, dst = code("convert_element_type", x.dtype), code("convert_element_type", new_dtype)
    if src == dst:
        return [x]
    out = rt.empty(av)
    launch(rt, f"convert_{src}_{dst}", size(av), pack("QQI", x.addr, out.addr, size(av)), (x,), (out,))
    return [out]


def _bitcast(rt, bufs, out_avals, *, new_dtype):
    return [bufs[0].alias(out_avals[0].dtype, out_avals[0].shape)]


def register_elementwise() -> None:
    from grilly.lax import elementwise as E

    for name in (
        "neg",
        "sign",
        "floor",
        "ceil",
        "round",
        "exp",
        "exp2",
        "log",
        "expm1",
        "log1p",
        "tanh",
        "logistic",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "asinh",
        "acosh",
        "atanh",
        "sqrt",
        "rsqrt",
        "cbrt",
        "abs",
        "erf",
        "erf_inv",
        "not",
        "is_finite",
        "integer_pow",
    ):
        register(getattr(E, f"{name}_p"), _unary(name))
    for name in (
        "add",
        "sub",
        "mul",
        "div",
        "rem",
        "pow",
        "max",
        "min",
        "atan2",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "and",
        "or",
        "xor",
        "shift_left",
        "shift_right_arithmetic",
        "shift_right_logical",
    ):
        register(getattr(E, f"{name}_p"), _binary(name))
    register(E.nextafter_p, _nextafter)
    register(E.select_n_p, _select_n)
    register(E.convert_element_type_p, _convert)
    register(E.bitcast_convert_type_p, _bitcast)
