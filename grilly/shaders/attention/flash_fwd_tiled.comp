#version 460
// Flash attention forward, register-tiled (portable: float32 arithmetic, no cooperative matrices), head dims up
// to DP = 64 (zero padded). A workgroup of TX * TY invocations takes BR = 4 TY queries of one (batch, head) and
// streams the keys in tiles of BC = 4 TX. Invocation (ty, tx) holds the 4 x 4 block of scores S = Q K^T at rows
// 4 ty.. and keys 4 tx.., and the 4 x (DP / TX) block of the output at the same rows, so each pair of vec4 it
// reads from shared memory feeds 16 multiply-adds (the row-per-invocation kernel, flash_fwd.comp, feeds 4).
// Q (scaled by scale * log2 e: the softmax runs in base 2) and K are stored d-major, V row-major; P goes over
// K's storage key-major once S is done. The running row max is reduced over a row's TX invocations with
// subgroup shuffles (the host keeps TX within the subgroup size); the row sums stay per invocation until the
// end. The next K and V tiles are loaded into registers during the current tile's math. Defines: TX, TY.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : enable
#include "flash_io.glsl"
const uint DP = 64u, BR = 4u * TY, BC = 4u * TX, WGS = TX * TY;
const uint NV = DP / (4u * TX);        // output vec4s per invocation along the head dim
const uint NPRE = BC * DP / 4u / WGS;  // vec4s of K (and of V) each invocation moves per tile
layout(local_size_x = WGS) in;
layout(push_constant, scalar) uniform PC { InBuf q; InBuf k; InBuf v; OutBuf o; FBuf lse; MBuf mask; ATTN_SIZES; } pc;
shared vec4 Qs[DP * BR / 4u];  // Q^T: [d][r / 4]
shared vec4 KPs[DP * BC / 4u]; // K^T: [d][c / 4] while S is computed, then P^T: [c][r / 4] (BR <= DP)
shared vec4 Vs[BC * DP / 4u];  // V: [c][d / 4]

// Four consecutive elements (from d0) of row r of head h, zero past the row or the sequence.
vec4 row4(InBuf x, uint b, uint h, uint r, uint S, uint d0) {
    vec4 v = vec4(0);
    if (r < S) {
        uint base = at(b, r, h, S, pc.H, pc.D) + d0;
        [[unroll]] for (uint e = 0u; e < 4u; ++e)
            if (d0 + e < pc.D) v[e] = float(A_LOAD(x.d[base + e]));
    }
    return v;
}

vec4 kpre[NPRE], vpre[NPRE];

// Element (row, 4-vector) of the idx-th vec4 of a K tile (rows fastest: the d-major stores do not conflict) and of
// a V tile (4-vectors fastest: coalesced reads, row-major stores).
void fetch(uint b, uint h, uint k0) {
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i;
        kpre[i] = row4(pc.k, b, h, k0 + idx % BC, pc.Sk, (idx / BC) * 4u);
        vpre[i] = row4(pc.v, b, h, k0 + idx / (DP / 4u), pc.Sk, (idx % (DP / 4u)) * 4u);
    }
}

void store() {
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i, c = idx % BC, d0 = (idx / BC) * 4u;
        [[unroll]] for (uint e = 0u; e < 4u; ++e) KPs[(d0 + e) * (BC / 4u) + c / 4u][c % 4u] = kpre[i][e];
        Vs[idx] = vpre[i];
    }
}

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
    uint q0 = gl_WorkGroupID.x * BR;
    float qmul = pc.scale * LOG2E;
    for (uint idx = t; idx < BR * DP / 4u; idx += WGS) {
        uint r = idx % BR, d0 = (idx / BR) * 4u;
        vec4 x = row4(pc.q, b, h, q0 + r, pc.Sq, d0) * qmul;
        [[unroll]] for (uint e = 0u; e < 4u; ++e) Qs[(d0 + e) * (BR / 4u) + r / 4u][r % 4u] = x[e];
    }
    float m[4], l[4];
    vec4 acc[4][NV];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        m[i] = -F_INF;
        l[i] = 0.0;
        [[unroll]] for (uint v = 0u; v < NV; ++v) acc[i][v] = vec4(0);
    }
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    if (kend > 0u) {
        fetch(b, h, 0u);
        store();
    }
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        barrier();  // this tile is in shared memory
        bool more = k0 + BC < kend;
        if (more) fetch(b, h, k0 + BC);
        vec4 s[4] = vec4[4](vec4(0), vec4(0), vec4(0), vec4(0));
        [[unroll]] for (uint d = 0u; d < DP; ++d) {
            vec4 a = Qs[d * (BR / 4u) + ty], kk = KPs[d * (BC / 4u) + tx];
            [[unroll]] for (uint i = 0u; i < 4u; ++i) s[i] += a[i] * kk;
        }
        // A tile that every query of the workgroup sees whole needs no per-element test.
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && (pc.causal == 0u || k0 + BC <= q0 + 1u);
        if (!whole)
            [[unroll]] for (uint i = 0u; i < 4u; ++i)
                [[unroll]] for (uint j = 0u; j < 4u; ++j)
                    if (!VISIBLE(b, h, q0 + ty * 4u + i, k0 + tx * 4u + j)) s[i][j] = -F_INF;
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            float mn = max(m[i], row_max(max(max(s[i].x, s[i].y), max(s[i].z, s[i].w))));
            float base = mn == -F_INF ? 0.0 : mn;  // a row that has seen no key yet keeps p = 0
            float alpha = exp2(m[i] - base);
            m[i] = mn;
            s[i] = exp2(s[i] - base);
            l[i] = l[i] * alpha + (s[i].x + s[i].y) + (s[i].z + s[i].w);
            [[unroll]] for (uint v = 0u; v < NV; ++v) acc[i][v] *= alpha;
        }
        barrier();  // every invocation is done with K^T
        [[unroll]] for (uint j = 0u; j < 4u; ++j)
            KPs[(tx * 4u + j) * (BR / 4u) + ty] = vec4(s[0][j], s[1][j], s[2][j], s[3][j]);
        barrier();
        [[unroll]] for (uint c = 0u; c < BC; ++c) {
            vec4 p = KPs[c * (BR / 4u) + ty];
            [[unroll]] for (uint v = 0u; v < NV; ++v) {
                vec4 vv = Vs[c * (DP / 4u) + tx + TX * v];
                [[unroll]] for (uint i = 0u; i < 4u; ++i) acc[i][v] += p[i] * vv;
            }
        }
        barrier();  // every invocation is done with P and V
        if (more) store();
    }
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        float li = row_sum(l[i]);
        uint r = q0 + ty * 4u + i;
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
