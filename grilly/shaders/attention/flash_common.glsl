// Shared by the flash-attention kernels. Layout (batch, seq, heads, head_dim), contiguous. LANES invocations share
// one row of Q (or K): lane l holds the vec4 chunks t4 * LANES + l of the padded head dim DP, so a row's lanes
// read consecutive shared-memory words; dot products are reduced across them with subgroup shuffles. Fewer lanes
// per row hold more of it in registers and read each shared K/V vector for more rows. Spec constants: 0
// workgroup size (= BR * LANES), 1 BR rows per workgroup, 2 BC rows per shared tile, 3 DP4 = padded head dim / 4
// (a multiple of LANES), 4 LANES (1, 2 or 4).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "flash_io.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BR = 64;
layout(constant_id = 2) const uint BC = 32;
layout(constant_id = 3) const uint DP4 = 16;
layout(constant_id = 4) const uint LANES = 4;
const uint NT4 = DP4 / LANES;  // vec4 chunks per lane

float lane_sum(vec4 a) {
    float x = (a.x + a.y) + (a.z + a.w);
    if (LANES > 1u) x += subgroupShuffleXor(x, 1u);
    if (LANES > 2u) x += subgroupShuffleXor(x, 2u);
    return x;
}

// A row chunk of a (B, S, H, D) array into registers (zero past D or past the sequence).
void load_row(InBuf x, uint base, bool ok, uint D, uint lane, float mul, out vec4 r[NT4]) {
    for (uint t = 0u; t < NT4; ++t) {
        vec4 v = vec4(0);
        uint d0 = (t * LANES + lane) * 4u;
        for (uint c = 0u; c < 4u; ++c)
            if (ok && d0 + c < D) v[c] = float(A_LOAD(x.d[base + d0 + c])) * mul;
        r[t] = v;
    }
}

// Rows r0 .. r0+BC of head h of x into a shared tile (vec4 per 4 dims), zero-filled.
#define LOAD_TILE(TILE, X, B_, R0, NROWS, S_, H_, D_, MUL)                                       \
    for (uint idx = gl_LocalInvocationID.x; idx < BC * DP4; idx += gl_WorkGroupSize.x) {         \
        uint jj = idx / DP4, q4 = idx % DP4, rr = (R0) + jj;                                     \
        vec4 v = vec4(0);                                                                        \
        if (rr < (NROWS)) {                                                                      \
            uint base = at(B_, rr, H_, S_, pc.H, D_) + q4 * 4u;                                  \
            for (uint c = 0u; c < 4u; ++c)                                                       \
                if (q4 * 4u + c < (D_)) v[c] = float(A_LOAD(X.d[base + c])) * (MUL);             \
        }                                                                                        \
        TILE[idx] = v;                                                                           \
    }
