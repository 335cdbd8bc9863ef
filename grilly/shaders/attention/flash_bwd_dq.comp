#version 460
// Flash attention backward, dQ: a workgroup takes BR queries of one (batch, head) and streams K and V. With
// P = exp(S - lse) recomputed, dS = P * (dO V^T - delta) and dQ = scale * dS K (no atomics: dK and dV come from
// flash_bwd_dkdv). delta = rowsum(dO * O) is precomputed (flash_bwd_delta).
#include "flash_common.glsl"
layout(push_constant, scalar) uniform PC {
    InBuf q; InBuf k; InBuf v; InBuf dout; FBuf lse; FBuf delta; OutBuf dq; MBuf mask; ATTN_SIZES;
} pc;
shared vec4 Ks[BC * DP4];
shared vec4 Vs[BC * DP4];
void main() {
    uint tid = gl_LocalInvocationID.x, row = tid / LANES, lane = tid % LANES;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, i = q0 + row;
    bool ok = i < pc.Sq;
    uint base = at(b, i, h, pc.Sq, pc.H, pc.D);
    vec4 qr[NT4], dor[NT4], acc[NT4];
    load_row(pc.q, base, ok, pc.D, lane, pc.scale * LOG2E, qr);
    load_row(pc.dout, base, ok, pc.D, lane, 1.0, dor);
    for (uint t = 0u; t < NT4; ++t) acc[t] = vec4(0);
    uint r = (b * pc.H + h) * pc.Sq + min(i, pc.Sq - 1u);
    float lse2 = pc.lse.d[r] * LOG2E, dl = pc.delta.d[r];
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        barrier();
        LOAD_TILE(Ks, pc.k, b, k0, pc.Sk, pc.Sk, h, pc.D, 1.0)
        LOAD_TILE(Vs, pc.v, b, k0, pc.Sk, pc.Sk, h, pc.D, 1.0)
        barrier();
        for (uint j = 0u; j < BC; ++j) {
            vec4 a = vec4(0), e = vec4(0);
            for (uint t = 0u; t < NT4; ++t) {
                a += qr[t] * Ks[j * DP4 + t * LANES + lane];
                e += dor[t] * Vs[j * DP4 + t * LANES + lane];
            }
            float s = lane_sum(a), dp = lane_sum(e);
            float p = (VISIBLE(b, h, i, k0 + j) && lse2 > -F_INF) ? exp2(s - lse2) : 0.0;
            float ds = p * (dp - dl);
            for (uint t = 0u; t < NT4; ++t) acc[t] += ds * Ks[j * DP4 + t * LANES + lane];
        }
    }
    if (!ok) return;
    for (uint t = 0u; t < NT4; ++t) {
        uint d0 = (t * LANES + lane) * 4u;
        for (uint c = 0u; c < 4u; ++c)
            if (d0 + c < pc.D) pc.dq.d[base + d0 + c] = A_STORE(acc[t][c] * pc.scale);
    }
}
