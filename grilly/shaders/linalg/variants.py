"""Cooperative-matrix matmul variants (read by scripts/compile_shaders.py): float16 operands, float32
accumulation, float16 or float32 result, per contiguous dimension of A and B (r: row-major, c: column-major)."""


def variants(h):
    out = []
    for o in ("f16", "f32"):
        for la in "rc":
            for lb in "rc":
                defs = h.dtype_defines("O", o) | {"A_COLMAJOR": str(int(la == "c")), "B_COLMAJOR": str(int(lb == "c"))}
                out.append((f"matmul_coopmat_f16_{o}_{la}{lb}", "linalg/matmul_coopmat.comp", defs))
    return out
