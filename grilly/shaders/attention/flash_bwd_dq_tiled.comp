#version 460
// Flash attention backward, dQ, register-tiled (portable: float32 arithmetic), head dims up to 64. A workgroup
// of TX * TY invocations takes BR = 4 TY queries of one (batch, head) and streams K and V in tiles of BC = 4 TX
// keys. Invocation (ty, tx) recomputes S = Q K^T and dP = dO V^T at rows 4 ty + i and keys tx + TX j (Q scaled by
// scale * log2 e, so P = exp2(S - lse log2 e)); dS = P (dP - delta) goes over V's storage key-major, and the
// invocation accumulates dQ += dS K at the same rows and head dims 4 (tx + TX v)..; dQ = scale * that sum.
// delta = rowsum(dO * O) comes from flash_bwd_delta. Defines: TX, TY, VEC (see flash_tiled.glsl).
#extension GL_EXT_control_flow_attributes : enable
#include "flash_io.glsl"
const uint BR = 4u * TY, BC = 4u * TX, WGS = TX * TY, HOT = BC;
layout(local_size_x = WGS) in;
layout(push_constant, scalar) uniform PC {
    InBuf q; InBuf k; InBuf v; InBuf dout; FBuf lse; FBuf delta; OutBuf dq; MBuf mask; ATTN_SIZES;
} pc;
// Q and dO: BR rows each; K and V: BC rows each, swizzled (dS^T over V once dP is done: [c][(r / 4) ^ (c % 16)]).
const uint QB = 0u, OB = BR * 16u, KB = 2u * BR * 16u, VB = KB + BC * 16u;
shared vec4 SH[2u * BR * 16u + 2u * BC * 16u];
#include "flash_tiled.glsl"

void main() {
    uint t = gl_LocalInvocationID.x, tx = t % TX, ty = t / TX;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, r0 = ty * 4u;  // this invocation's first row in the workgroup
    load_rows(pc.q, b, h, q0, pc.Sq, BR, QB, false, pc.scale * LOG2E);
    load_rows(pc.dout, b, h, q0, pc.Sq, BR, OB, false, 1.0);
    float l2[4], dl[4];  // per row: lse in base 2 (-inf: the row sees no key, P = 0), delta
    vec4 acc[4][NV];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        uint qi = q0 + r0 + i, r = (b * pc.H + h) * pc.Sq + qi;
        l2[i] = qi < pc.Sq ? pc.lse.d[r] * LOG2E : -F_INF;
        dl[i] = qi < pc.Sq ? pc.delta.d[r] : 0.0;
        [[unroll]] for (uint v = 0u; v < NV; ++v) acc[i][v] = vec4(0);
    }
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        stage_pair(pc.k, pc.v, b, h, k0, pc.Sk, KB, VB, true, true, 1.0);
        barrier();
        vec4 s[4], dp[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            s[i] = vec4(0);
            dp[i] = vec4(0);
        }
        [[unroll]] for (uint d4 = 0u; d4 < D4; ++d4) {
            vec4 kk[4], vv[4];
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                kk[j] = SH[KB + kslot(tx + TX * j, d4)];
                vv[j] = SH[VB + kslot(tx + TX * j, d4)];
            }
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                vec4 a = SH[QB + (r0 + i) * D4 + d4], o = SH[OB + (r0 + i) * D4 + d4];
                [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                    s[i][j] += dot(a, kk[j]);
                    dp[i][j] += dot(o, vv[j]);
                }
            }
        }
        // A tile that every query of the workgroup sees whole needs no per-element test.
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && (pc.causal == 0u || k0 + BC <= q0 + 1u);
        [[unroll]] for (uint i = 0u; i < 4u; ++i)
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                bool vis = l2[i] > -F_INF && (whole || VISIBLE(b, h, q0 + r0 + i, k0 + tx + TX * j));
                s[i][j] = vis ? exp2(s[i][j] - l2[i]) * (dp[i][j] - dl[i]) : 0.0;
            }
        barrier();  // every invocation is done with V
        [[unroll]] for (uint j = 0u; j < 4u; ++j)
            SH[VB + kslot(tx + TX * j, ty)] = vec4(s[0][j], s[1][j], s[2][j], s[3][j]);
        barrier();
        [[unroll]] for (uint c = 0u; c < BC; ++c) {
            vec4 ds = SH[VB + kslot(c, ty)];
            [[unroll]] for (uint v = 0u; v < NV; ++v) {
                vec4 kk = SH[KB + kslot(c, tx + TX * v)];
                [[unroll]] for (uint i = 0u; i < 4u; ++i) acc[i][v] += ds[i] * kk;
            }
        }
        barrier();  // every invocation is done with K and dS
    }
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        uint r = q0 + r0 + i;
        if (r >= pc.Sq) continue;
        uint base = at(b, r, h, pc.Sq, pc.H, pc.D);
        [[unroll]] for (uint v = 0u; v < NV; ++v) {
            uint d0 = (tx + TX * v) * 4u;
            [[unroll]] for (uint e = 0u; e < 4u; ++e)
                if (d0 + e < pc.D) pc.dq.d[base + d0 + e] = A_STORE(acc[i][v][e] * pc.scale);
        }
    }
}
