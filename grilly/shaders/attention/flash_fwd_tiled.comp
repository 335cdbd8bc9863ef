#version 460
// Flash attention forward, register-tiled (portable: float32 arithmetic, no cooperative matrices), head dims up
// to DP = 64 (zero padded). A workgroup of TX * TY invocations takes BR = 4 TY queries of one (batch, head) and
// streams the keys in tiles of BC = 4 TX. Invocation (ty, tx) holds the scores S = Q K^T of rows 4 ty + i and
// keys tx + TX j (i, j < 4), and the output of the same rows at head dims 4 (tx + TX v).., so the eight vec4 it
// reads from shared memory per four dims feed 64 multiply-adds (the row-per-invocation kernel, flash_fwd.comp,
// reads one per four). Q (scaled by scale * log2 e: the softmax runs in base 2), K and V are staged row-major;
// K's 4-vectors are swizzled (flash_tiled.glsl) so that rows read together hit distinct banks. P goes over K's
// storage key-major (swizzled the same way) once S is done. The running row max is reduced over a row's TX
// invocations with subgroup shuffles (the host keeps TX within the subgroup size); the row sums stay per
// invocation until the end. Defines: TX, TY, VEC (1: float32 arrays, 16-byte aligned, head dim a multiple of 4,
// read as 4-vectors: 8% faster on an H100).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : enable
#include "flash_io.glsl"
const uint BR = 4u * TY, BC = 4u * TX, WGS = TX * TY, HOT = BC;
layout(local_size_x = WGS) in;
layout(push_constant, scalar) uniform PC { InBuf q; InBuf k; InBuf v; OutBuf o; FBuf lse; MBuf mask; ATTN_SIZES; } pc;
// Q: BR rows; K, swizzled (P^T over it once S is done: [c][(r / 4) ^ (c % 16)]); V: BC rows.
const uint QB = 0u, KB = BR * 16u, VB = KB + BC * 16u;
shared vec4 SH[BR * 16u + 2u * BC * 16u];
#include "flash_tiled.glsl"

float row_max(float x) {
    [[unroll]] for (uint s = 1u; s < TX; s *= 2u) x = max(x, subgroupShuffleXor(x, s));
    return x;
}

float row_sum(float x) {
    [[unroll]] for (uint s = 1u; s < TX; s *= 2u) x += subgroupShuffleXor(x, s);
    return x;
}

void main() {
    uint t = gl_LocalInvocationID.x, tx = t % TX, ty = t / TX;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, r0 = ty * 4u;  // this invocation's first row in the workgroup
    float qmul = pc.scale * LOG2E;
    load_rows(pc.q, b, h, q0, pc.Sq, BR, QB, PLAIN, qmul);
    float m[4u], l[4u];
    vec4 acc[4u][NV];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        m[i] = -F_INF;
        l[i] = 0.0;
        [[unroll]] for (uint v = 0u; v < NV; ++v) acc[i][v] = vec4(0);
    }
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        // (loading the next tile into registers during this one's math was 8% slower on an H100: registers)
        stage_pair(pc.k, pc.v, b, h, k0, pc.Sk, KB, VB, SWZ, PLAIN, 1.0);
        barrier();
        vec4 s[4u];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) s[i] = vec4(0);
        [[unroll]] for (uint d4 = 0u; d4 < D4; ++d4) {
            vec4 kk[4];
            [[unroll]] for (uint j = 0u; j < 4u; ++j) kk[j] = SH[KB + kslot(tx + TX * j, d4)];
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                vec4 a = SH[QB + (r0 + i) * D4 + d4];
                [[unroll]] for (uint j = 0u; j < 4u; ++j) s[i][j] += dot(a, kk[j]);
            }
        }
        // A tile that every query of the workgroup sees whole needs no per-element test.
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && (pc.causal == 0u || k0 + BC <= q0 + 1u);
        if (!whole)
            [[unroll]] for (uint i = 0u; i < 4u; ++i)
                [[unroll]] for (uint j = 0u; j < 4u; ++j)
                    if (!VISIBLE(b, h, q0 + r0 + i, k0 + tx + TX * j)) s[i][j] = -F_INF;
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            float mn = max(m[i], row_max(max(max(s[i].x, s[i].y), max(s[i].z, s[i].w))));
            float base = mn == -F_INF ? 0.0 : mn;  // a row that has seen no key yet keeps p = 0
            float alpha = exp2(m[i] - base);
            m[i] = mn;
            s[i] = exp2(s[i] - base);
            l[i] = l[i] * alpha + (s[i].x + s[i].y) + (s[i].z + s[i].w);
            [[unroll]] for (uint v = 0u; v < NV; ++v) acc[i][v] *= alpha;
        }
        barrier();  // every invocation is done with K
        [[unroll]] for (uint j = 0u; j < 4u; ++j)
            SH[KB + kslot(tx + TX * j, ty)] = vec4(s[0][j], s[1][j], s[2][j], s[3][j]);
        barrier();
        [[unroll]] for (uint c = 0u; c < BC; ++c) {
            vec4 p = SH[KB + kslot(c, ty)];
            [[unroll]] for (uint v = 0u; v < NV; ++v) {
                vec4 vv = SH[VB + c * D4 + tx + TX * v];
                [[unroll]] for (uint i = 0u; i < 4u; ++i) acc[i][v] += p[i] * vv;
            }
        }
        barrier();  // every invocation is done with P and V
    }
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        float li = row_sum(l[i]);
        uint r = q0 + r0 + i;
        if (r >= pc.Sq) continue;
        float inv = li > 0.0 ? 1.0 / li : 0.0;
        uint base = at(b, r, h, pc.Sq, pc.H, pc.D);
        [[unroll]] for (uint v = 0u; v < NV; ++v) {
            uint d0 = (tx + TX * v) * 4u;
            [[unroll]] for (uint e = 0u; e < 4u; ++e)
                if (d0 + e < pc.D) pc.o.d[base + d0 + e] = A_STORE(acc[i][v][e] * inv);
        }
        if (tx == 0u) pc.lse.d[(b * pc.H + h) * pc.Sq + r] = li > 0.0 ? (m[i] + log2(li)) * LN2 : -F_INF;
    }
}
