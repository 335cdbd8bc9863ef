#version 460
// Flash attention forward (FlashAttention-2, portable: no cooperative matrices). A workgroup takes BR queries of
// one (batch, head); K and V stream through shared memory in tiles of BC keys; the softmax is online (running
// max and sum, base-2 exponentials). Writes O and the row log-sum-exp (natural log, float32, (B, H, Sq)).
#include "flash_common.glsl"
layout(push_constant, scalar) uniform PC { InBuf q; InBuf k; InBuf v; OutBuf o; FBuf lse; MBuf mask; ATTN_SIZES; } pc;
shared vec4 Ks[BC * DP4];
shared vec4 Vs[BC * DP4];
void main() {
    uint tid = gl_LocalInvocationID.x, row = tid / LANES, lane = tid % LANES;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, i = q0 + row;
    vec4 qr[NT4], acc[NT4];
    load_row(pc.q, at(b, i, h, pc.Sq, pc.H, pc.D), i < pc.Sq, pc.D, lane, pc.scale * LOG2E, qr);
    for (uint t = 0u; t < NT4; ++t) acc[t] = vec4(0);
    float m = -F_INF, l = 0.0;
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        barrier();
        LOAD_TILE(Ks, pc.k, b, k0, pc.Sk, pc.Sk, h, pc.D, 1.0)
        LOAD_TILE(Vs, pc.v, b, k0, pc.Sk, pc.Sk, h, pc.D, 1.0)
        barrier();
        float s[BC];
        float mt = -F_INF;
        for (uint j = 0u; j < BC; ++j) {
            vec4 a = vec4(0);
            for (uint t = 0u; t < NT4; ++t) a += qr[t] * Ks[j * DP4 + t * LANES + lane];
            float x = lane_sum(a);
            s[j] = VISIBLE(b, h, i, k0 + j) ? x : -F_INF;
            mt = max(mt, s[j]);
        }
        float mn = max(m, mt);
        if (mn == -F_INF) continue;  // nothing visible yet
        float alpha = exp2(m - mn);
        l *= alpha;
        for (uint t = 0u; t < NT4; ++t) acc[t] *= alpha;
        for (uint j = 0u; j < BC; ++j) {
            float p = exp2(s[j] - mn);
            l += p;
            for (uint t = 0u; t < NT4; ++t) acc[t] += p * Vs[j * DP4 + t * LANES + lane];
        }
        m = mn;
    }
    if (i >= pc.Sq) return;
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    uint base = at(b, i, h, pc.Sq, pc.H, pc.D);
    for (uint t = 0u; t < NT4; ++t) {
        uint d0 = (t * LANES + lane) * 4u;
        for (uint c = 0u; c < 4u; ++c)
            if (d0 + c < pc.D) pc.o.d[base + d0 + c] = A_STORE(acc[t][c] * inv);
    }
    if (lane == 0u) pc.lse.d[(b * pc.H + h) * pc.Sq + i] = l > 0.0 ? (m + log2(l)) * LN2 : -F_INF;
}
