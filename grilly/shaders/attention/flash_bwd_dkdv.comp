#version 460
// Flash attention backward, dK and dV: a workgroup takes BR keys of one (batch, head) and streams Q, dO, lse
// and delta in tiles of BC queries: dV = P^T dO, dK = scale * dS^T Q with P and dS recomputed per tile.
#include "flash_common.glsl"
layout(push_constant, scalar) uniform PC {
    InBuf q; InBuf k; InBuf v; InBuf dout; FBuf lse; FBuf delta; OutBuf dk; OutBuf dv; MBuf mask; ATTN_SIZES;
} pc;
shared vec4 Qs[BC * DP4];
shared vec4 Os[BC * DP4];
shared float Ls[BC];
shared float Dl[BC];
void main() {
    uint tid = gl_LocalInvocationID.x, row = tid / LANES, lane = tid % LANES;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint k0 = gl_WorkGroupID.x * BR, j = k0 + row;
    bool ok = j < pc.Sk;
    uint base = at(b, j, h, pc.Sk, pc.H, pc.D);
    vec4 kr[NT4], vr[NT4], dk[NT4], dv[NT4];
    load_row(pc.k, base, ok, pc.D, lane, 1.0, kr);
    load_row(pc.v, base, ok, pc.D, lane, 1.0, vr);
    for (uint t = 0u; t < NT4; ++t) { dk[t] = vec4(0); dv[t] = vec4(0); }
    uint qstart = pc.causal != 0u ? (k0 / BC) * BC : 0u;
    for (uint i0 = qstart; i0 < pc.Sq; i0 += BC) {
        barrier();
        LOAD_TILE(Qs, pc.q, b, i0, pc.Sq, pc.Sq, h, pc.D, pc.scale * LOG2E)
        LOAD_TILE(Os, pc.dout, b, i0, pc.Sq, pc.Sq, h, pc.D, 1.0)
        for (uint ii = gl_LocalInvocationID.x; ii < BC; ii += gl_WorkGroupSize.x) {
            uint r = (b * pc.H + h) * pc.Sq + min(i0 + ii, pc.Sq - 1u);
            Ls[ii] = pc.lse.d[r] * LOG2E;
            Dl[ii] = pc.delta.d[r];
        }
        barrier();
        for (uint ii = 0u; ii < BC; ++ii) {
            vec4 a = vec4(0), e = vec4(0);
            for (uint t = 0u; t < NT4; ++t) {
                a += kr[t] * Qs[ii * DP4 + t * LANES + lane];
                e += vr[t] * Os[ii * DP4 + t * LANES + lane];
            }
            float s = lane_sum(a), dp = lane_sum(e);
            float p = (VISIBLE(b, h, i0 + ii, j) && Ls[ii] > -F_INF) ? exp2(s - Ls[ii]) : 0.0;
            float ds = p * (dp - Dl[ii]);
            for (uint t = 0u; t < NT4; ++t) {
                dv[t] += p * Os[ii * DP4 + t * LANES + lane];
                dk[t] += ds * Qs[ii * DP4 + t * LANES + lane];
            }
        }
    }
    if (!ok) return;
    for (uint t = 0u; t < NT4; ++t) {
        uint d0 = (t * LANES + lane) * 4u;
        for (uint c = 0u; c < 4u; ++c)
            if (d0 + c < pc.D) {
                pc.dk.d[base + d0 + c] = A_STORE(dk[t][c] * LN2);  // Qs holds q * scale * log2(e)
                pc.dv.d[base + d0 + c] = A_STORE(dv[t][c]);
            }
    }
}
