#!/usr/bin/env python3
"""Compile grilly's GLSL compute shaders to SPIR-V (grilly/shaders/spv) and keep manifest.json current.

Every ``grilly/shaders/<family>/<name>.comp`` is one kernel, or a template expanded into variants (per dtype,
per op) by the tables below: each variant is the template's text with ``#define`` lines inserted after
``#version``, compiled to ``spv/<variant>.spv``. The manifest maps each variant to the sha256 of its generated
text plus the text of every file it includes, so ``--check`` can tell stale or missing SPIR-V without a
compiler. Shaders whose first lines say ``// compiler: glslang`` (cooperative matrices) use
/work/shared/glslang/glslang or $GLSLANG; the rest use glslc. Target: Vulkan 1.2.

usage: python scripts/compile_shaders.py [--check] [--only SUBSTRING] [-j N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "grilly" / "shaders"
SPV = ROOT / "spv"
MANIFEST = SPV / "manifest.json"

# ---- dtypes: storage type, compute type, load/store conversions
DTYPES = {
    "f32": ("float", "float", "(v)", "(v)", "f", 32),
    "f16": ("float16_t", "float", "float(v)", "float16_t(v)", "f", 16),
    "bf16": ("uint16_t", "float", "bf16_to_f32(v)", "f32_to_bf16(v)", "f", 16),
    "i32": ("int", "int", "(v)", "(v)", "i", 32),
    "u32": ("uint", "uint", "(v)", "(v)", "u", 32),
    "i16": ("int16_t", "int", "int(v)", "int16_t(v)", "i", 16),
    "u16": ("uint16_t", "uint", "uint(v)", "uint16_t(v)", "u", 16),
    "i8": ("int8_t", "int", "int(v)", "int8_t(v)", "i", 8),
    "u8": ("uint8_t", "uint", "uint(v)", "uint8_t(v)", "u", 8),
    "bool": ("uint8_t", "uint", "uint(v)", "uint8_t(v)", "b", 8),
}
FLOATS = ("f32", "f16", "bf16")
INTS = ("i32", "u32", "i16", "u16", "i8", "u8")
ALL = FLOATS + INTS + ("bool",)
BITS_T = {8: "uint8_t", 16: "uint16_t", 32: "uint", 64: "uint64_t"}


def dtype_defines(prefix: str, code: str) -> dict:
    st, ct, load, store, kind, bits = DTYPES[code]
    return {
        f"{prefix}_ST": st,
        f"{prefix}_CT": ct,
        f"{prefix}_LOAD(v)": load,
        f"{prefix}_STORE(v)": store,
        f"{prefix}_BITS": str(bits),
        f"{prefix}_UMASK": f"0x{(1 << bits) - 1:X}u",
        f"{prefix}_IS_FLOAT": "1" if kind == "f" else "0",
        f"{prefix}_IS_BOOL": "1" if kind == "b" else "0",
    }


# ---- elementwise op tables: kind ("f", "i", "u", "b") -> GLSL expression on the compute type
F = lambda e: {"f": e}  # noqa: E731
UNARY = {
    "neg": {"f": "-x", "i": "-x", "u": "(0u - x)"},
    "sign": {"f": "sign_(x)", "i": "sign(x)", "u": "(x > 0u ? 1u : 0u)"},
    "floor": F("floor(x)"),
    "ceil": F("ceil(x)"),
    "round": F("roundEven(x)"),
    "exp": F("exp(x)"),
    "exp2": F("exp2(x)"),
    "log": F("(x < 0.0 ? F_NAN : log(x))"),
    "expm1": F("expm1_(x)"),
    "log1p": F("(x < -1.0 ? F_NAN : log1p_(x))"),
    "tanh": F("tanh_(x)"),
    "logistic": F("(1.0 / (1.0 + exp(-x)))"),
    "sin": F("sin(x)"),
    "cos": F("cos(x)"),
    "tan": F("tan(x)"),
    "asin": F("asin_(x)"),
    "acos": F("acos_(x)"),
    "atan": F("atan_(x)"),
    "sinh": F("sinh_(x)"),
    "cosh": F("cosh_(x)"),
    "asinh": F("asinh_(x)"),
    "acosh": F("acosh_(x)"),
    "atanh": F("atanh_(x)"),
    "sqrt": F("(x < 0.0 ? F_NAN : sqrt(x))"),
    "rsqrt": F("(x < 0.0 ? F_NAN : 1.0 / sqrt(x))"),
    "cbrt": F("cbrt_(x)"),
    "abs": {"f": "abs(x)", "i": "abs(x)", "u": "x"},
    "erf": F("erf_(x)"),
    "erf_inv": F("erf_inv_(x)"),
    "not": {"i": "~x", "u": "~x", "b": "(x ^ 1u)"},
    "integer_pow": {"f": "ipow_f(x, pc.k)", "i": "ipow_i(x, pc.k)", "u": "ipow_u(x, pc.k)"},
}
BOOL_OUT_UNARY = {"is_finite": F("((isinf(x) || isnan(x)) ? 0u : 1u)")}
_arith = lambda e: {"f": e, "i": e, "u": e}  # noqa: E731
BINARY = {
    "add": _arith("a + b"),
    "sub": _arith("a - b"),
    "mul": _arith("a * b"),
    "div": {"f": "a / b", "i": "idiv_(a, b, A_BITS)", "u": "udiv_(a, b)"},
    "rem": {"f": "rem_(a, b)", "i": "irem_(a, b)", "u": "urem_(a, b)"},
    "pow": F("pow_(a, b)"),
    "atan2": F("atan2_(a, b)"),
    "max": {"f": "max_(a, b)", "i": "max(a, b)", "u": "max(a, b)", "b": "max(a, b)"},
    "min": {"f": "min_(a, b)", "i": "min(a, b)", "u": "min(a, b)", "b": "min(a, b)"},
    "and": {"i": "a & b", "u": "a & b", "b": "a & b"},
    "or": {"i": "a | b", "u": "a | b", "b": "a | b"},
    "xor": {"i": "a ^ b", "u": "a ^ b", "b": "a ^ b"},
    "shift_left": {
        "i": "((b >= 0 && b < A_BITS) ? (a << b) : 0)",
        "u": "((b < uint(A_BITS)) ? (a << b) : 0u)",
    },
    "shift_right_arithmetic": {
        "i": "(a >> ((b < 0 || b >= A_BITS) ? A_BITS - 1 : b))",
        # the bit pattern as signed (XLA): the sign bit moved to bit 31, shifted arithmetically, masked back
        "u": "(uint(int(a << (32u - uint(A_BITS))) >> int(min(b, uint(A_BITS - 1)) + (32u - uint(A_BITS)))) "
             "& A_UMASK)",
    },
    "shift_right_logical": {
        "i": "((b >= 0 && b < A_BITS) ? int((uint(a) & A_UMASK) >> uint(b)) : 0)",
        "u": "((b < uint(A_BITS)) ? (a >> b) : 0u)",
    },
}
_cmp = lambda e: {"f": e, "i": e, "u": e, "b": e}  # noqa: E731
COMPARE = {
    "eq": _cmp("uint(a == b)"),
    "ne": _cmp("uint(!(a == b))"),
    "lt": _cmp("uint(a < b)"),
    "le": _cmp("uint(a <= b)"),
    "gt": _cmp("uint(a > b)"),
    "ge": _cmp("uint(a >= b)"),
}


def _conv_expr(src: str, dst: str) -> str:
    sk, dk = DTYPES[src][4], DTYPES[dst][4]
    dct = DTYPES[dst][1]
    if dk == "b":
        return {"f": "uint(!(x == 0.0))", "i": "uint(x != 0)", "u": "uint(x != 0u)", "b": "x"}[sk]
    if sk == "f" and (dk, DTYPES[dst][5]) == ("i", 32):  # saturate: the float bounds are not representable
        return ("(isnan(x) ? 0 : (x >= 2147483648.0 ? 2147483647 : (x <= -2147483648.0 ? (-2147483647 - 1) "
                ": int(trunc(x)))))")
    if sk == "f" and (dk, DTYPES[dst][5]) == ("u", 32):
        return "(isnan(x) ? 0u : (x >= 4294967296.0 ? 4294967295u : (x <= 0.0 ? 0u : uint(trunc(x)))))"
    if sk == "f" and dk in "iu":
        bits = DTYPES[dst][5]
        lo, hi = {
            ("i", 32): ("-2147483648.0", "2147483520.0"),
            ("u", 32): ("0.0", "4294967040.0"),
            ("i", 16): ("-32768.0", "32767.0"),
            ("u", 16): ("0.0", "65535.0"),
            ("i", 8): ("-128.0", "127.0"),
            ("u", 8): ("0.0", "255.0"),
        }[(dk, bits)]
        return f"{dct}(clamp(trunc(isnan(x) ? 0.0 : x), {lo}, {hi}))"
    return f"{dct}(x)"


def elementwise_variants() -> list[tuple[str, str, dict]]:
    out = []
    for table, out_bool, tmpl in (
        (UNARY, False, "unary"),
        (BOOL_OUT_UNARY, True, "unary"),
        (BINARY, False, "binary"),
        (COMPARE, True, "binary"),
    ):
        for op, exprs in table.items():
            for code in ALL:
                kind = DTYPES[code][4]
                if kind not in exprs:
                    continue
                d = dtype_defines("A", code) | dtype_defines("O", "bool" if out_bool else code)
                d["OP(x)" if tmpl == "unary" else "OP(a, b)"] = exprs[kind]
                out.append((f"{tmpl}_{op}_{code}", f"elementwise/{tmpl}.comp", d))
                if code == "f32" and not out_bool:  # 16-byte loads and stores for float32 arrays
                    out.append((f"{tmpl}4_{op}_{code}", f"elementwise/{tmpl}.comp", d | {"VEC4": "1"}))
    for src in ALL:
        for dst in ALL:
            if src != dst:
                d = dtype_defines("A", src) | dtype_defines("O", dst) | {"CONV(x)": _conv_expr(src, dst)}
                out.append((f"convert_{src}_{dst}", "elementwise/convert.comp", d))
    nb = {
        "f32": ("uint", "uintBitsToFloat(u)", "0x7FC00000u", "0x80000000u"),
        "f16": ("uint16_t", "unpackHalf2x16(u).x", "0x7E00u", "0x8000u"),
        "bf16": ("uint16_t", "uintBitsToFloat(u << 16)", "0x7FC0u", "0x8000u"),
    }
    for code, (bt, tof, nan, sign) in nb.items():
        out.append(
            (
                f"nextafter_{code}",
                "elementwise/nextafter.comp",
                {"BITS_T": bt, "TOF(u)": tof, "NANBITS": nan, "SIGNBIT": sign},
            )
        )
    for bits in (8, 16, 32, 64):
        for w, wst in (("bool", "uint8_t"), ("i32", "int")):
            out.append(
                (f"select_n_b{bits}_{w}", "elementwise/select_n.comp", {"BITS_T": BITS_T[bits], "W_ST": wst})
            )
    return out


def bits_variants(template: str, prefix: str, widths=(8, 16, 32, 64)):
    """One variant per element width, moving raw bits (copies, gathers, permutations)."""
    return [(f"{prefix}_b{w}", template, {"BITS_T": BITS_T[w], "BITS": str(w)}) for w in widths]


def dtype_variants(template: str, prefix: str, codes, extra=None):
    return [(f"{prefix}_{c}", template, dtype_defines("A", c) | (extra or {})) for c in codes]


ACC = {"f": "f32", "i": "i32", "u": "u32", "b": "bool"}
_INT_LIMITS = {"i32": (-2147483648, 2147483647), "i16": (-32768, 32767), "i8": (-128, 127),
               "u32": (0, 4294967295), "u16": (0, 65535), "u8": (0, 255), "bool": (0, 1)}


def _reduce_defs(op: str, code: str) -> dict | None:
    kind = DTYPES[code][4]
    acc_t = {"f": "float", "i": "int", "u": "uint", "b": "uint"}[kind]
    if op in ("sum", "prod") and kind == "b" or op in ("and", "or") and kind != "b":
        return None
    lit = (lambda v: f"{v}u") if acc_t == "uint" else (lambda v: f"({v})" if v >= 0 else f"(-{-v - 1} - 1)")
    if kind == "f":
        ident = {"sum": "0.0", "prod": "1.0", "max": "-F_INF", "min": "F_INF"}[op]
    elif op in ("max", "min"):
        lo, hi = _INT_LIMITS[code]
        ident = lit(lo) if op == "max" else lit(hi)
    else:
        ident = {"sum": lit(0), "prod": lit(1), "and": "1u", "or": "0u"}[op]
    comb = {"sum": "((a) + (b))", "prod": "((a) * (b))", "max": "max(a, b)", "min": "min(a, b)",
            "and": "((a) & (b))", "or": "((a) | (b))"}[op]
    sg = {"sum": "subgroupAdd", "prod": "subgroupMul", "max": "subgroupMax", "min": "subgroupMin",
          "and": "subgroupAnd", "or": "subgroupOr"}[op]
    return {"ACC_T": acc_t, "IDENT": ident, "COMBINE(a, b)": comb, "SG(v)": f"{sg}(v)",
            "FNAN": "1" if kind == "f" and op in ("max", "min") else "0"}


def reduce_variants() -> list:
    out = []
    for op in ("sum", "prod", "max", "min", "and", "or"):
        for code in ALL:
            d = _reduce_defs(op, code)
            if d is None:
                continue
            acc = ACC[DTYPES[code][4]]
            for a, o in {(code, code), (code, acc), (acc, code)}:
                out.append((f"reduce_row_{op}_{a}_{o}", "reduce/row.comp",
                            dtype_defines("A", a) | dtype_defines("O", o) | d))
            out.append((f"reduce_col_{op}_{code}", "reduce/col.comp",
                        dtype_defines("A", code) | dtype_defines("O", code) | d))
    for op, better in (("argmax", "((a) > (b))"), ("argmin", "((a) < (b))")):
        for code in ALL:
            out.append((f"{op}_{code}", "reduce/arg.comp", dtype_defines("A", code) | {"BETTER(a, b)": better}))
    for op in ("sum", "prod", "max", "min"):
        for code in FLOATS + INTS:
            d = _reduce_defs(op, code)
            if DTYPES[code][4] == "f" and op in ("max", "min"):
                d["COMBINE(a, b)"] = f"{op}_(a, b)"
            out.append((f"cum{op}_{code}", "reduce/cum.comp", dtype_defines("A", code) | d))
            out.append((f"cumfix_{op}_{code}", "reduce/cum_fix.comp", dtype_defines("A", code) | d))
    return out


def matmul_variants() -> list:
    pairs = [(c, c) for c in FLOATS + INTS] + [("f16", "f32"), ("bf16", "f32"), ("i8", "i32"), ("u8", "u32"),
                                                ("i16", "i32"), ("u16", "u32")]
    acc = {"f": "float", "i": "int", "u": "uint"}
    return [(f"matmul_{a}_{o}", "linalg/matmul.comp",
             dtype_defines("A", a) | dtype_defines("O", o) | {"ACC_T": acc[DTYPES[a][4]]}) for a, o in pairs]


_BITS = {
    "f32": ("uintBitsToFloat(u)", "floatBitsToUint(v)"),
    "f16": ("float(uint16BitsToFloat16(uint16_t(u)))", "uint(float16BitsToUint16(float16_t(v)))"),
    "bf16": ("uintBitsToFloat((u) << 16)", "uint(f32_to_bf16(v))"),
    "i32": ("int(u)", "uint(v)"), "u32": ("(u)", "(v)"), "i16": ("(int((u) << 16) >> 16)", "uint(v)"),
    "u16": ("(u)", "(v)"), "i8": ("(int((u) << 24) >> 24)", "uint(v)"), "u8": ("(u)", "(v)"), "bool": ("(u)", "(v)"),
}
_UNSIGNED_OF = {8: "u8", 16: "u16", 32: "u32"}


def indexing_variants() -> list:
    out = []
    for idx, it in (("i32", "int"), ("u32", "uint")):
        for w in (8, 16, 32, 64):
            out.append((f"gather_b{w}_{idx}", "indexing/gather.comp", {"BITS_T": BITS_T[w], "IDX_T": it}))
        for w in (8, 16, 32):
            out.append((f"scatter_set_b{w}_{idx}", "indexing/scatter.comp",
                        dtype_defines("A", _UNSIGNED_OF[w]) | {"IDX_T": it, "MODE_SET": "1", "COMBINE(a, b)": "b",
                                                              "FROMBITS(u)": "u", "TOBITS(v)": "v"}))
        for mode in ("add", "mul", "min", "max"):
            for code in ALL:
                kind = DTYPES[code][4]
                comb = {"add": "((a) + (b))", "mul": "((a) * (b))", "min": "min(a, b)", "max": "max(a, b)"}[mode]
                if kind == "f" and mode in ("min", "max"):
                    comb = f"{mode}_(a, b)"
                if kind == "b":
                    comb = {"add": "((a) | (b))", "mul": "((a) & (b))"}.get(mode, comb)
                fb, tb = _BITS[code]
                out.append((f"scatter_{mode}_{code}_{idx}", "indexing/scatter.comp",
                            dtype_defines("A", code) | {"IDX_T": it, "MODE_SET": "0", "COMBINE(a, b)": comb,
                                                        "FROMBITS(u)": fb, "TOBITS(v)": tb}))
    return out


def sort_variants() -> list:
    out = []
    for code in ALL:
        key = "(uint(v) ^ 0x80000000u)" if DTYPES[code][4] == "i" else "uint(v)"
        out.append((f"sort_init_{code}", "sort/init.comp", dtype_defines("A", code) | {"A_KEY(v)": key}))
    out += bits_variants("sort/finish.comp", "sort_finish", (8, 16, 32))
    return out


# Families other than elementwise register their variants here: template path -> list of variants.
EXTRA: list = [
    *bits_variants("copy/strided.comp", "copy_strided"),
    *bits_variants("copy/transpose.comp", "copy_transpose"),
    *dtype_variants("copy/iota.comp", "iota", ALL),
    *reduce_variants(),
    *matmul_variants(),
    *indexing_variants(),
    *sort_variants(),
]


def family_variants() -> list:
    """Variants declared next to their templates: ``shaders/<family>/variants.py`` defines ``variants(h)``,
    where ``h`` is this module (for ``dtype_defines``, ``DTYPES``, ``FLOATS``, ``BITS_T`` ...), returning a list
    of (name, template path relative to shaders/, defines)."""
    out = []
    for p in sorted(ROOT.glob("*/variants.py")):
        ns: dict = {}
        exec(compile(p.read_text(), str(p), "exec"), ns)
        out += list(ns["variants"](types.SimpleNamespace(**globals())))
    return out


def all_variants() -> list[tuple[str, str, dict]]:
    """(variant name, template path relative to shaders/, defines) for every kernel."""
    vs = elementwise_variants() + list(EXTRA) + family_variants()
    templated = {t for _, t, _ in vs}
    for p in sorted(ROOT.rglob("*.comp")):
        rel = p.relative_to(ROOT).as_posix()
        if rel not in templated and not rel.startswith("include/"):
            fam = p.parent.name
            vs.append((p.stem if p.stem.startswith(fam) else f"{fam}_{p.stem}", rel, {}))
    return vs


# ---- generation, hashing, compilation
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def _includes(path: Path, seen=None) -> list[Path]:
    seen = seen if seen is not None else []
    for inc in _INCLUDE.findall(path.read_text()):
        q = (path.parent / inc).resolve()
        if q not in seen:
            seen.append(q)
            _includes(q, seen)
    return seen


def generate(template: str, defines: dict) -> str:
    text = (ROOT / template).read_text()
    lines = text.split("\n")
    assert lines[0].startswith("#version"), f"{template}: the first line must be #version"
    defs = [f"#define {k} {v}" for k, v in defines.items()]
    return "\n".join([lines[0], "#extension GL_GOOGLE_include_directive : require", *defs, *lines[1:]])


def variant_hash(template: str, defines: dict) -> str:
    h = hashlib.sha256(generate(template, defines).encode())
    for inc in _includes(ROOT / template):
        h.update(inc.relative_to(ROOT).as_posix().encode())
        h.update(inc.read_text().encode())
    return h.hexdigest()


# ---- descriptor variants: the same kernel with storage-buffer bindings instead of buffer device addresses
_REF_DECL = re.compile(
    r"layout\s*\(([^)]*buffer_reference[^)]*)\)\s*((?:\w+\s+)*?)buffer\s+(\w+)\s*\{(.*?)\}\s*;", re.S)
_PC_BLOCK = re.compile(r"layout\s*\(\s*push_constant[^)]*\)\s*uniform\s+\w+\s*\{(.*?)\}\s*(\w+)\s*;", re.S)


def descriptor_source(pre: str) -> tuple[str, list[int]] | None:
    """Rewrite preprocessed GLSL so that the buffer references leading the push constants become storage
    buffers (binding k for the k-th reference; arrays become descriptor arrays). The push constants then start
    with ``uint ref_mask_, pad_`` (bit k: reference k was non-null) followed by the remaining members.
    Returns (source, descriptor count per binding), or None when the kernel does not fit that pattern."""
    refs = {m.group(3): (m.group(2).strip(), m.group(4).strip()) for m in _REF_DECL.finditer(pre)}
    pcm = _PC_BLOCK.search(pre)
    if not refs or pcm is None:
        return None
    members = [m.strip() for m in pcm.group(1).split(";") if m.strip()]
    lead, rest = [], []
    for m in members:
        parts = m.replace("[", " [").split()
        if parts[0] in refs and not rest:
            count = int(parts[2].strip("[]")) if len(parts) > 2 else 1
            lead.append((parts[0], parts[1], count))
        elif parts[0] in refs:
            return None
        else:
            rest.append(m)
    if not lead:
        return None
    inst = pcm.group(2)
    decls = []
    for k, (typ, name, count) in enumerate(lead):
        quals, body = refs[typ]
        arr = f"[{count}]" if count > 1 else ""
        decls.append(f"layout(set = 0, binding = {k}, scalar) {quals} buffer GB{k}_ {{ {body} }} g_{name}{arr};")
    members = " ".join(m + ";" for m in rest)
    new_pc = f"layout(push_constant, scalar) uniform PCD_ {{ uint ref_mask_; uint pad_; {members} }} {inst};"
    out = pre[:pcm.start()] + "\n".join(decls) + "\n" + new_pc + pre[pcm.end():]
    out = _REF_DECL.sub("", out)
    for k, (_, name, _) in enumerate(lead):
        out = re.sub(rf"uint64_t\s*\(\s*{inst}\s*\.\s*{name}\s*\)", f"uint64_t(({inst}.ref_mask_ >> {k}u) & 1u)", out)
        out = re.sub(rf"\b{inst}\s*\.\s*{name}\b", f"g_{name}", out)
    out = re.sub(r"#extension\s+GL_EXT_buffer_reference2?\s*:\s*\w+", "", out)
    return out, [c for _, _, c in lead]


def _compiler(text: str) -> list[str]:
    if "// compiler: glslang" in text[:400]:
        tool = os.environ.get("GLSLANG", "/work/shared/glslang/glslang")
        env = "vulkan1.3" if "// target: vulkan1.3" in text[:400] else "vulkan1.2"
        return [tool, "-V", "--target-env", env, "-S", "comp"]
    tool = shutil.which("glslc") or "glslc"
    return [tool, "--target-env=vulkan1.2", "-fshader-stage=compute", "-O"]


# ---- bfloat16 re-encoding: glslang 15 has no GL_EXT_bfloat16, so a bfloat16 kernel is compiled with float16 and
# its 16-bit float type is re-encoded in the SPIR-V (SPV_KHR_bfloat16). Only kernels whose float16 values are
# loaded, stored, converted and fed to cooperative matrices qualify: those are the operations bfloat16 allows.
OP_CAPABILITY, OP_EXTENSION, OP_TYPE_FLOAT = 17, 10, 22
CAP_BFLOAT16_TYPE, CAP_BFLOAT16_COOPMAT = 5116, 5118
FP_ENCODING_BFLOAT16 = 0


def _spirv_string(text: str) -> list[int]:
    raw = text.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 4)
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]


def reencode_bf16(words: list[int]) -> list[int]:
    """SPIR-V words with every 16-bit OpTypeFloat given the bfloat16 encoding, plus its capabilities."""
    out, i, caps_done, found = list(words[:5]), 5, False, 0
    while i < len(words):
        n, op = words[i] >> 16, words[i] & 0xFFFF
        inst = words[i:i + n]
        if not caps_done and op != OP_CAPABILITY:
            ext = _spirv_string("SPV_KHR_bfloat16")
            out += [(2 << 16) | OP_CAPABILITY, CAP_BFLOAT16_TYPE, (2 << 16) | OP_CAPABILITY, CAP_BFLOAT16_COOPMAT,
                    ((1 + len(ext)) << 16) | OP_EXTENSION, *ext]
            caps_done = True
        if op == OP_TYPE_FLOAT and n == 3 and inst[2] == 16:
            inst = [(4 << 16) | OP_TYPE_FLOAT, inst[1], 16, FP_ENCODING_BFLOAT16]
            found += 1
        out += inst
        i += n
    if found != 1:
        raise ValueError(f"expected one 16-bit float type to re-encode, found {found}")
    return out


def _reencode_file(path: Path) -> None:
    data = path.read_bytes()
    words = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    path.write_bytes(b"".join(w.to_bytes(4, "little") for w in reencode_bf16(words)))


def compile_one(name: str, template: str, defines: dict) -> str | None:
    text = generate(template, defines)
    src_dir = (ROOT / template).parent
    with tempfile.TemporaryDirectory() as td:
        src = Path(td) / f"{name}.comp"
        src.write_text(text)
        cmd = _compiler(text) + [f"-I{src_dir}", str(src), "-o", str(SPV / f"{name}.spv")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return f"{name} ({template}):\n{r.stdout}{r.stderr}"
        if "REENCODE_F16_AS_BF16" in defines:
            _reencode_file(SPV / f"{name}.spv")
        _compile_descriptor_variant(name, src, src_dir, Path(td))
    return None


def _compile_descriptor_variant(name: str, src: Path, src_dir: Path, td: Path) -> None:
    """Best effort: ``<name>__desc.spv`` and its binding counts in ``<name>__desc.json`` (kept out of the
    manifest's hash); kernels that do not fit the pattern simply have no descriptor variant."""
    spv, meta = SPV / f"{name}__desc.spv", SPV / f"{name}__desc.json"
    spv.unlink(missing_ok=True)
    meta.unlink(missing_ok=True)
    glslc = shutil.which("glslc") or "glslc"
    r = subprocess.run([glslc, "-E", "-fshader-stage=compute", f"-I{src_dir}", str(src)], capture_output=True,
                       text=True)
    got = descriptor_source(r.stdout) if r.returncode == 0 else None
    if got is None:
        return
    dsrc = td / f"{name}__desc.comp"
    dsrc.write_text(got[0])
    r = subprocess.run(_compiler(src.read_text()) + [str(dsrc), "-o", str(spv)], capture_output=True, text=True)
    if r.returncode == 0:
        if "REENCODE_F16_AS_BF16" in src.read_text():
            _reencode_file(spv)
        meta.write_text(json.dumps({"bindings": got[1]}))
    else:
        spv.unlink(missing_ok=True)


def load_manifest() -> dict:
    try:
        return json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return {"variants": {}}


def stale(variants) -> list[str]:
    man = load_manifest()["variants"]
    bad = []
    for name, tmpl, defs in variants:
        entry = man.get(name)
        if (
            entry is None
            or entry.get("sha256") != variant_hash(tmpl, defs)
            or not (SPV / f"{name}.spv").exists()
        ):
            bad.append(name)
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if any SPIR-V is missing or stale")
    ap.add_argument("--only", default="", help="compile only variants whose name contains this")
    ap.add_argument("--force", action="store_true", help="recompile even if the manifest says current")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    variants = all_variants()
    names = [v[0] for v in variants]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        print(f"duplicate variant names: {sorted(dup)}", file=sys.stderr)
        return 2
    todo = set(stale(variants)) if not args.force else set(names)
    if args.check:
        extra = set(load_manifest()["variants"]) - set(names)
        if todo or extra:
            print(
                f"stale or missing SPIR-V: {sorted(todo)[:20]}{' ...' if len(todo) > 20 else ''}; "
                f"removed variants still listed: {sorted(extra)[:20]}",
                file=sys.stderr,
            )
            return 1
        print(f"{len(names)} SPIR-V variants are current")
        return 0
    work = [v for v in variants if v[0] in todo and args.only in v[0]]
    SPV.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.j) as ex:
        errors = [e for e in ex.map(lambda v: compile_one(*v), work) if e]
    for e in errors:
        print(e, file=sys.stderr)
    man = load_manifest()["variants"]
    failed = {e.split(" ", 1)[0] for e in errors}
    for name, tmpl, defs in variants:
        if name in todo and args.only in name and name not in failed:
            man[name] = {"source": tmpl, "defines": defs, "sha256": variant_hash(tmpl, defs)}
    man = {k: man[k] for k in sorted(man) if k in set(names)}
    for p in list(SPV.glob("*.spv")) + list(SPV.glob("*__desc.json")):
        if p.stem.removesuffix("__desc") not in man:
            p.unlink()
    MANIFEST.write_text(json.dumps({"target": "vulkan1.2", "variants": man}, indent=1, sort_keys=True) + "\n")
    print(f"compiled {len(work) - len(errors)} of {len(work)} variants ({len(names)} in all)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
