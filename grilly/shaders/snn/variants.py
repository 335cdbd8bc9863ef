"""Fused LIF variants (read by scripts/compile_shaders.py).

snn_lif_scan_{fwd,bwd}_<dtype> for float32, float16 and bfloat16 storage: loads widen to float32, every step is
computed in float32 (the potential is carried in float32), stores round to the storage dtype.
"""


def variants(h):
    return [(f"snn_lif_scan_{d}_{c}", f"snn/snn_lif_scan_{d}.comp", h.dtype_defines("A", c))
            for d in ("fwd", "bwd") for c in h.FLOATS]
