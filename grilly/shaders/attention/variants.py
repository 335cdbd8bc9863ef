"""Variants of the attention family (read by scripts/compile_shaders.py): flash attention forward and backward,
fused row softmax and layer_norm, per floating dtype."""

KERNELS = ("flash_fwd", "flash_bwd_dq", "flash_bwd_dkdv", "flash_bwd_delta", "softmax", "layer_norm")


def variants(h):
    return [(f"{k}_{c}", f"attention/{k}.comp", h.dtype_defines("A", c)) for c in h.FLOATS for k in KERNELS]
