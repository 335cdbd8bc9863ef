"""Fast matmul variants (read by scripts/compile_shaders.py).

matmul_coopmat_f16_{out}_{la}{lb}: float16 operands on cooperative matrices, float32 accumulation.
matmul_coopmat_bf16_{out}_{la}{lb}: the same module with its 16-bit float type re-encoded as bfloat16.
matmul_simt_{in}_{out}_{la}{lb}[_n64]: float32 arithmetic with 4-vector loads (the portable fast GEMM), 128 x 128
(or 128 x 64) tiles.
la / lb say which dimension of A / B is contiguous: r (k of A, n of B) or c (m of A, k of B).
"""

VEC = {"f32": ("vec4", "(v)"), "f16": ("f16vec4", "vec4(v)"),
       "bf16": ("u16vec4", "vec4(bf16_to_f32(v.x), bf16_to_f32(v.y), bf16_to_f32(v.z), bf16_to_f32(v.w))")}


def _lay(la, lb):
    return {"A_COLMAJOR": str(int(la == "c")), "B_COLMAJOR": str(int(lb == "c"))}


def variants(h):
    out = []
    for la in "rc":
        for lb in "rc":
            for o in ("f16", "f32"):
                out.append((f"matmul_coopmat_f16_{o}_{la}{lb}", "linalg/matmul_coopmat.comp",
                            h.dtype_defines("O", o) | _lay(la, lb)))
                bo = "bf16" if o == "f16" else o
                out.append((f"matmul_coopmat_bf16_{bo}_{la}{lb}", "linalg/matmul_coopmat.comp",
                            h.dtype_defines("O", o) | _lay(la, lb) | {"REENCODE_F16_AS_BF16": "1"}))
            for a in h.FLOATS:
                for o in sorted({a, "f32"}):
                    vt, v2f = VEC[a]
                    # BK 16 where neither operand's loads are transposed into shared memory (faster on an H100)
                    defs = h.dtype_defines("A", a) | h.dtype_defines("O", o) | _lay(la, lb) | {
                        "SIMT_BK": "16" if (la, lb) == ("c", "r") else "8"}
                    out.append((f"matmul_simt_{a}_{o}_{la}{lb}", "linalg/matmul_simt.comp",
                                defs | {"A_VT": vt, "A_V2F(v)": v2f}))
                    # 128 x 64 tiles (128 invocations) for products with 64 columns or fewer; K step 8 in every
                    # layout (16 took 0.75 ms against 0.42 for dV of the float32 attention backward on an H100)
                    out.append((f"matmul_simt_{a}_{o}_{la}{lb}_n64", "linalg/matmul_simt.comp",
                                defs | {"A_VT": vt, "A_V2F(v)": v2f, "SIMT_BN": "64", "SIMT_BK": "8"}))
    return out
