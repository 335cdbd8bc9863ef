"""Variants of the attention family (read by scripts/compile_shaders.py): flash attention forward and backward,
fused row softmax and layer_norm, per floating dtype; the cooperative-matrix flash forwards (VK_KHR_cooperative_matrix,
and VK_NV_cooperative_matrix2's register-resident softmax) for float16 at head dims 64 and 128."""

# The tiled dK/dV kernel takes 4 KG keys per workgroup and streams 16 queries: "wide" for devices with 48 KiB of
# shared memory, "narrow" (28 KiB) for 32 KiB.
DKDV_TILED = {"wide": "16u", "narrow": "8u"}
KERNELS = ("flash_fwd", "flash_bwd_dq", "flash_bwd_dkdv", "flash_bwd_delta", "softmax", "layer_norm")


def variants(h):
    out = [(f"{k}_{c}", f"attention/{k}.comp", h.dtype_defines("A", c)) for c in h.FLOATS for k in KERNELS]
    # the register-tiled portable forward: 16 x 16 invocations (64 queries, 64-key tiles, 48 KiB of shared memory)
    # where subgroups have 16 lanes or more, 8 x 8 (32 x 32, 24 KiB) where they have 8
    # (f32v: float32 read as 4-vectors, for aligned arrays whose head dim is a multiple of 4)
    tiled = [(c, "0") for c in h.FLOATS] + [("f32", "1")]  # (dtype, VEC)
    for c, vec in tiled:
        for tx in (16, 8):
            out.append((f"flash_fwd_tiled_{c}{'v' if vec == '1' else ''}_x{tx}", "attention/flash_fwd_tiled.comp",
                        h.dtype_defines("A", c) | {"TX": f"{tx}u", "TY": f"{tx}u", "VEC": vec}))
    # the register-tiled portable dK/dV kernel (see kernels/attention.py tiled_backward)
    for c, vec in tiled:
        for cfg, kg in DKDV_TILED.items():
            out.append((f"flash_bwd_dkdv_tiled_{c}{'v' if vec == '1' else ''}_{cfg}",
                        "attention/flash_bwd_dkdv_tiled.comp", h.dtype_defines("A", c) | {"KG": kg, "VEC": vec}))
    for hd, bc in ((64, 64), (128, 32)):
        out.append((f"flash_fwd_coop_f16_d{hd}", "attention/flash_fwd_coop.comp", {"HD": f"{hd}u", "BC": f"{bc}u"}))
    # (head dim, keys per tile, 16-row blocks per subgroup, subgroups): the fastest of sweeps on an H100 (more
    # row blocks spill registers; 16-key tiles and no prefetch are slower; at D64, 8 subgroups sharing each K/V
    # tile take 28% less time than 4; at D128, 8 subgroups' tiles do not fit in 48 KiB of shared memory)
    for hd, bc, rb, nw in ((64, 64, 1, 8), (128, 32, 1, 4)):
        out.append((f"flash_fwd_cm2_f16_d{hd}", "attention/flash_fwd_cm2.comp",
                    {"HD": f"{hd}u", "BC": f"{bc}u", "RB": f"{rb}u", "NW": f"{nw}u"}))
    for hd in (64, 128):  # 32-row tiles: 16 and 64 were 3-30% slower on an H100
        out.append((f"flash_bwd_dq_cm2_f16_d{hd}", "attention/flash_bwd_dq_cm2.comp", {"HD": f"{hd}u", "BC": "32u"}))
        out.append((f"flash_bwd_dkdv_cm2_f16_d{hd}", "attention/flash_bwd_dkdv_cm2.comp",
                    {"HD": f"{hd}u", "BQ": "32u", "FUSED_DQ": "0"}))
    # dK, dV and dQ in one kernel at D64: 8 subgroups (128 keys) per workgroup halve the atomic adds of dQ that 4
    # make (3.95 ms against 7.8 on an H100). At D128 (4 subgroups: 8 do not fit in 48 KiB) it took 22 ms against
    # 13.6 for the dQ and dK/dV kernels, so D128 keeps those.
    out.append(("flash_bwd_fused_cm2_f16_d64", "attention/flash_bwd_dkdv_cm2.comp",
                {"HD": "64u", "BQ": "32u", "FUSED_DQ": "1", "NW": "8u"}))
    # the float32 attention that keeps scores in memory: the score-sized products of the forward and the
    # backward, and the forward's row softmax
    out.append(("attention_scores_fwd_f32", "attention/attention_scores.comp", {"FORWARD": "1"}))
    out.append(("attention_scores_bwd_f32", "attention/attention_scores.comp", {}))
    out.append(("flash_fwd_probs_f32", "attention/flash_fwd_probs.comp", h.dtype_defines("A", "f32")))
    return out
