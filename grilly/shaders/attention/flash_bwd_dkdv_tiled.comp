#version 460
// Flash attention backward, dK and dV, register-tiled (portable: float32 arithmetic), head dims up to 64. A
// workgroup of TX * TY invocations takes BK = 4 TY keys of one (batch, head) and streams Q and dO in tiles of
// BQ = 4 TX queries. Invocation (ty, tx) recomputes S^T = K Q^T and dP^T = V dO^T at keys 4 ty + i and queries
// tx + TX j (Q scaled by scale * log2 e, so P^T = exp2(S^T - lse log2 e)); P^T and dS^T = P^T (dP^T - delta) go
// to shared memory query-major, and the invocation accumulates dV += P^T dO and dK += dS^T Q at the same keys
// and head dims 4 (tx + TX v)..; as Q is scaled, dK = scale * dS^T Q is the accumulated sum times ln 2.
// Defines: TX, TY, VEC (see flash_tiled.glsl).
#extension GL_EXT_control_flow_attributes : enable
#include "flash_io.glsl"
const uint BK = 4u * TY, BQ = 4u * TX, WGS = TX * TY, HOT = BQ;
layout(local_size_x = WGS) in;
layout(push_constant, scalar) uniform PC {
    InBuf q; InBuf k; InBuf v; InBuf dout; FBuf lse; FBuf delta; OutBuf dk; OutBuf dv; MBuf mask; ATTN_SIZES;
} pc;
// K and V: BK rows each; Q and dO: BQ rows each, swizzled; P and dS: BQ rows of BK / 4 4-vectors, swizzled
// within the row ([r][(c / 4) ^ (r % TY)]).
const uint KB = 0u, VB = BK * 16u, QB = 2u * BK * 16u, OB = QB + BQ * 16u, PB = OB + BQ * 16u, SB = PB + BQ * TY;
shared vec4 SH[2u * BK * 16u + 2u * BQ * 16u + 2u * BQ * TY];
#include "flash_tiled.glsl"

uint pslot(uint r, uint c4) { return r * TY + (c4 ^ (r % TY)); }

void main() {
    uint t = gl_LocalInvocationID.x, tx = t % TX, ty = t / TX;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint k0 = gl_WorkGroupID.x * BK, c0 = ty * 4u;  // this invocation's first key in the workgroup
    load_rows(pc.k, b, h, k0, pc.Sk, BK, KB, false, 1.0);
    load_rows(pc.v, b, h, k0, pc.Sk, BK, VB, false, 1.0);
    vec4 dk[4][NV], dv[4][NV];
    [[unroll]] for (uint i = 0u; i < 4u; ++i)
        [[unroll]] for (uint v = 0u; v < NV; ++v) {
            dk[i][v] = vec4(0);
            dv[i][v] = vec4(0);
        }
    // Causal: queries before this workgroup's first key see none of its keys.
    uint istart = pc.causal != 0u ? (k0 / BQ) * BQ : 0u;
    for (uint i0 = istart; i0 < pc.Sq; i0 += BQ) {
        stage_pair(pc.q, pc.dout, b, h, i0, pc.Sq, QB, OB, true, true, pc.scale * LOG2E);
        float l2[4], dl[4];  // per query: lse in base 2 (-inf: sees no key, P = 0), delta
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            uint qi = i0 + tx + TX * j, r = (b * pc.H + h) * pc.Sq + qi;
            l2[j] = qi < pc.Sq ? pc.lse.d[r] * LOG2E : -F_INF;
            dl[j] = qi < pc.Sq ? pc.delta.d[r] : 0.0;
        }
        barrier();
        vec4 s[4], dp[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            s[i] = vec4(0);
            dp[i] = vec4(0);
        }
        [[unroll]] for (uint d4 = 0u; d4 < D4; ++d4) {
            vec4 qq[4], oo[4];
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                qq[j] = SH[QB + kslot(tx + TX * j, d4)];
                oo[j] = SH[OB + kslot(tx + TX * j, d4)];
            }
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                vec4 kr = SH[KB + (c0 + i) * D4 + d4], vr = SH[VB + (c0 + i) * D4 + d4];
                [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                    s[i][j] += dot(kr, qq[j]);
                    dp[i][j] += dot(vr, oo[j]);
                }
            }
        }
        // A tile whose every query sees every key of the workgroup needs no per-element test.
        bool whole = pc.has_mask == 0u && i0 + BQ <= pc.Sq && k0 + BK <= pc.Sk && (pc.causal == 0u || i0 >= k0 + BK - 1u);
        [[unroll]] for (uint i = 0u; i < 4u; ++i)
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                bool vis = l2[j] > -F_INF && (whole || VISIBLE(b, h, i0 + tx + TX * j, k0 + c0 + i));
                s[i][j] = vis ? exp2(s[i][j] - l2[j]) : 0.0;
                dp[i][j] = s[i][j] * (dp[i][j] - dl[j]);
            }
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            SH[PB + pslot(tx + TX * j, ty)] = vec4(s[0][j], s[1][j], s[2][j], s[3][j]);
            SH[SB + pslot(tx + TX * j, ty)] = vec4(dp[0][j], dp[1][j], dp[2][j], dp[3][j]);
        }
        barrier();
        [[unroll]] for (uint r = 0u; r < BQ; ++r) {
            vec4 p = SH[PB + pslot(r, ty)], ds = SH[SB + pslot(r, ty)];
            [[unroll]] for (uint v = 0u; v < NV; ++v) {
                vec4 o = SH[OB + kslot(r, tx + TX * v)], qv = SH[QB + kslot(r, tx + TX * v)];
                [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                    dv[i][v] += p[i] * o;
                    dk[i][v] += ds[i] * qv;
                }
            }
        }
        barrier();  // every invocation is done with this tile
    }
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        uint c = k0 + c0 + i;
        if (c >= pc.Sk) continue;
        uint base = at(b, c, h, pc.Sk, pc.H, pc.D);
        [[unroll]] for (uint v = 0u; v < NV; ++v) {
            uint d0 = (tx + TX * v) * 4u;
            [[unroll]] for (uint e = 0u; e < 4u; ++e)
                if (d0 + e < pc.D) {
                    pc.dk.d[base + d0 + e] = A_STORE(dk[i][v][e] * LN2);
                    pc.dv.d[base + d0 + e] = A_STORE(dv[i][v][e]);
                }
        }
    }
}
