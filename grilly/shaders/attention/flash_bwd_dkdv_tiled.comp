#version 460
// Flash attention backward, dK and dV, register-tiled (portable: float32 arithmetic), head dims up to 64. A
// workgroup of 16 KG invocations takes BK = 4 KG keys of one (batch, head) and streams Q and dO in tiles of
// BQ = 16 queries, in two phases per tile.
// - Scores: each quad of invocations recomputes S^T = K Q^T and dP^T = V dO^T at keys 4 kg + i and queries
//   qg + 4 j, each lane over a quarter of the head dims (4-vectors 4 e + lane), and sums them over the quad so
//   that lane j holds column j. Q is scaled by scale * log2 e, so P^T = exp2(S^T - lse log2 e); P^T and
//   dS^T = P^T (dP^T - delta) go to shared memory query-major.
// - Gradients: invocation (kg, d4g) accumulates dV += P^T dO and dK += dS^T Q at keys 4 kg + i and head dims
//   4 d4g..; dK = scale * dS^T Q is the accumulated sum times ln 2.
// Splitting the head dim over a quad gives every invocation one quarter of the products of a 4 x 4 score block,
// so a workgroup holds 4x more invocations than one block per invocation would (a version with 4 x 4 blocks
// and 64 invocations took 2.7x as long on an H100). Defines: KG, VEC (see flash_tiled.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : enable
#include "flash_io.glsl"
const uint BK = 4u * KG, BQ = 16u, WGS = 16u * KG, HOT = BQ;
layout(local_size_x = WGS) in;
layout(push_constant, scalar) uniform PC {
    InBuf q; InBuf k; InBuf v; InBuf dout; FBuf lse; FBuf delta; OutBuf dk; OutBuf dv; MBuf mask; ATTN_SIZES;
} pc;
// K and V: BK rows each (SWZ); Q and dO: BQ rows each (SWZ4); P^T and dS^T: BQ rows of KG 4-vectors (keys 4 kg..),
// slot kg ^ (r % KG).
const uint KB = 0u, VB = BK * 16u, QB = 2u * BK * 16u, OB = QB + BQ * 16u, PB = OB + BQ * 16u, SB = PB + BQ * KG;
shared vec4 SH[2u * BK * 16u + 2u * BQ * 16u + 2u * BQ * KG];
#include "flash_tiled.glsl"

uint pslot(uint r, uint kg) { return r * KG + (kg ^ (r % KG)); }

// x[j] summed over the 4 lanes of a quad; lane l keeps column l.
float quad_scatter(vec4 x, uint l) {
    bool b0 = (l & 1u) != 0u, b1 = (l & 2u) != 0u;
    float a0 = (b0 ? x[1] : x[0]) + subgroupShuffleXor(b0 ? x[0] : x[1], 1u);  // column b0
    float a1 = (b0 ? x[3] : x[2]) + subgroupShuffleXor(b0 ? x[2] : x[3], 1u);  // column 2 + b0
    return (b1 ? a1 : a0) + subgroupShuffleXor(b1 ? a0 : a1, 2u);
}

void main() {
    uint t = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint k0 = gl_WorkGroupID.x * BK;
    // both phases: keys 4 kg + i; scores: queries qg + 4 j, dims 4 e + lane; gradients: dims 4 d4g..
    uint kg = t / 16u, lane = t % 4u, qg = (t / 4u) % 4u, d4g = t % 16u;
    load_rows(pc.k, b, h, k0, pc.Sk, BK, KB, SWZ, 1.0);
    load_rows(pc.v, b, h, k0, pc.Sk, BK, VB, SWZ, 1.0);
    vec4 dk[4], dv[4];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        dk[i] = vec4(0);
        dv[i] = vec4(0);
    }
    // Causal: queries before this workgroup's first key see none of its keys.
    uint istart = pc.causal != 0u ? (k0 / BQ) * BQ : 0u;
    for (uint i0 = istart; i0 < pc.Sq; i0 += BQ) {
        stage_pair(pc.q, pc.dout, b, h, i0, pc.Sq, QB, OB, SWZ4, SWZ4, pc.scale * LOG2E);
        uint rl = qg + 4u * lane, qi = i0 + rl, sr = (b * pc.H + h) * pc.Sq + qi;  // this lane's query
        float l2 = qi < pc.Sq ? pc.lse.d[sr] * LOG2E : -F_INF, dl = qi < pc.Sq ? pc.delta.d[sr] : 0.0;
        barrier();
        vec4 s[4], dp[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            s[i] = vec4(0);
            dp[i] = vec4(0);
        }
        [[unroll]] for (uint e = 0u; e < D4 / 4u; ++e) {
            uint d4 = 4u * e + lane;
            vec4 qq[4], oo[4];
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                qq[j] = SH[tile_slot(QB, SWZ4, qg + 4u * j, d4)];
                oo[j] = SH[tile_slot(OB, SWZ4, qg + 4u * j, d4)];
            }
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                vec4 kr = SH[KB + kslot(4u * kg + i, d4)], vr = SH[VB + kslot(4u * kg + i, d4)];
                [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                    s[i][j] += dot(kr, qq[j]);
                    dp[i][j] += dot(vr, oo[j]);
                }
            }
        }
        // A tile whose every query sees every key of the workgroup needs no per-element test.
        bool whole = pc.has_mask == 0u && i0 + BQ <= pc.Sq && k0 + BK <= pc.Sk &&
                     (pc.causal == 0u || i0 >= k0 + BK - 1u);
        vec4 p, ds;
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            float sc = quad_scatter(s[i], lane), dpc = quad_scatter(dp[i], lane);
            bool vis = l2 > -F_INF && (whole || VISIBLE(b, h, qi, k0 + 4u * kg + i));
            p[i] = vis ? exp2(sc - l2) : 0.0;
            ds[i] = p[i] * (dpc - dl);
        }
        SH[PB + pslot(rl, kg)] = p;
        SH[SB + pslot(rl, kg)] = ds;
        barrier();
        [[unroll]] for (uint r = 0u; r < BQ; ++r) {
            vec4 pr = SH[PB + pslot(r, kg)], dsr = SH[SB + pslot(r, kg)];
            vec4 o = SH[tile_slot(OB, SWZ4, r, d4g)], qv = SH[tile_slot(QB, SWZ4, r, d4g)];
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                dv[i] += pr[i] * o;
                dk[i] += dsr[i] * qv;
            }
        }
        barrier();  // every invocation is done with this tile
    }
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        uint c = k0 + 4u * kg + i;
        if (c >= pc.Sk) continue;
        uint base = at(b, c, h, pc.Sk, pc.H, pc.D), d0 = d4g * 4u;
        [[unroll]] for (uint e = 0u; e < 4u; ++e)
            if (d0 + e < pc.D) {
                pc.dk.d[base + d0 + e] = A_STORE(dk[i][e] * LN2);
                pc.dv.d[base + d0 + e] = A_STORE(dv[i][e]);
            }
    }
}
