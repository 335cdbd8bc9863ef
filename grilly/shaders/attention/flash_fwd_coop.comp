#version 460
// compiler: glslang
// Flash attention forward on cooperative matrices (float16 q, k, v; float32 accumulation and softmax). A
// workgroup of 4 subgroups takes 64 queries of one (batch, head), 16 per subgroup; K and V tiles of BC keys go
// through shared memory. Per tile a subgroup computes S = Q K^T (16 x BC) on 16x16x16 cooperative matrices,
// stages it in shared memory, where two lanes per row apply the mask and the online softmax (base 2) and write
// P in float16; then P V goes through cooperative matrices again, 16 columns at a time, and each lane rescales
// and accumulates the output elements it owns. Defines: HD (head dim, a multiple of 16), BC (keys per tile).
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : enable
#define WG 1
#include "../include/common.glsl"
layout(local_size_x = 128) in;
const uint T = 16u, NW = 4u, BR = 64u;
const uint SK = (HD + 8u) / 8u;      // row stride of the K / V / Q tiles, in 16-byte vectors
const uint SP = BC + 8u;             // row stride of P, in halves
const uint SS = BC + 4u;             // row stride of S, in floats (padded against bank conflicts)
const uint ND = HD / T, NC = BC / T; // 16-wide chunks of the head dim and of the key tile
const float LOG2E = 1.4426950408889634, LN2 = 0.6931471805599453;
layout(buffer_reference, scalar) readonly buffer InV { uvec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutH { float16_t d[]; };
layout(buffer_reference, scalar) writeonly buffer FBuf { float d[]; };
layout(buffer_reference, scalar) readonly buffer MBuf { uint8_t d[]; };
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; OutH o; FBuf lse; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
} pc;
shared uvec4 KVs[2u * BC * SK];          // K tile then V tile (the Q tile at the start)
shared float Ss[NW * T * SS];            // per subgroup: scores of 16 rows, then 16 x 16 chunks of P V
shared float16_t Ps[NW * T * SP];        // per subgroup: probabilities, float16
shared float Al[NW * T];                 // per subgroup: the rescale factor of each row

// Rows [r0, r0 + n) of head h of a (B, S, H, HD) float16 array into KVs at vector offset `base`, zero-filled,
// each element times `mul`.
void load_rows(InV x, uint b, uint h, uint r0, uint S, uint n, uint base, float mul) {
    for (uint idx = gl_LocalInvocationID.x; idx < n * (HD / 8u); idx += gl_WorkGroupSize.x) {
        uint rr = idx / (HD / 8u), c = idx % (HD / 8u), r = r0 + rr;
        uvec4 val = uvec4(0);
        if (r < S) {
            val = x.d[(((b * S + r) * pc.H + h) * HD) / 8u + c];
            if (mul != 1.0)
                for (uint j = 0u; j < 4u; ++j) val[j] = packHalf2x16(unpackHalf2x16(val[j]) * mul);
        }
        KVs[base + rr * SK + c] = val;
    }
}

void main() {
    uint tid = gl_LocalInvocationID.x, w = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, qw = q0 + w * T;  // this subgroup's first query
    // Q (scaled by scale * log2 e) through shared memory into ND A-matrices per subgroup.
    load_rows(pc.q, b, h, q0, pc.Sq, BR, 0u, pc.scale * LOG2E);
    barrier();
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> qa[ND];
    [[unroll]] for (uint d = 0u; d < ND; ++d)
        coopMatLoad(qa[d], KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    // Lane ownership: softmax rows (2 lanes per row, each half of the tile's columns); output elements
    // e = lane + 32 i of each 16 x 16 chunk (row e / 16, column e % 16).
    uint srow = lane / 2u, shalf = lane % 2u, sq = qw + srow;
    float m = -F_INF, l = 0.0;
    float o[ND][8];
    [[unroll]] for (uint d = 0u; d < ND; ++d) [[unroll]] for (uint i = 0u; i < 8u; ++i) o[d][i] = 0.0;
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        barrier();
        load_rows(pc.k, b, h, k0, pc.Sk, BC, 0u, 1.0);
        load_rows(pc.v, b, h, k0, pc.Sk, BC, BC * SK, 1.0);
        barrier();
        // S = Q K^T, 16 key columns at a time.
        [[unroll]] for (uint j = 0u; j < NC; ++j) {
            coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> s =
                coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
            [[unroll]] for (uint d = 0u; d < ND; ++d) {
                coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> kb;
                coopMatLoad(kb, KVs, (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                s = coopMatMulAdd(qa[d], kb, s);
            }
            coopMatStore(s, Ss, w * T * SS + j * T, SS, gl_CooperativeMatrixLayoutRowMajor);
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        // Online softmax of this row's half of the tile (columns 2 c + shalf), the values kept in registers. A
        // tile that every query of the subgroup sees whole skips the visibility tests.
        const uint HALF = BC / 2u;
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && qw + T <= pc.Sq && (pc.causal == 0u || k0 + BC <= qw + 1u);
        float xs[HALF];
        float tmax = -F_INF;
        [[unroll]] for (uint c = 0u; c < HALF; ++c) {
            uint col = 2u * c + shalf, key = k0 + col;
            float x = Ss[w * T * SS + srow * SS + col];
            if (!whole) {
                bool vis = key < pc.Sk && sq < pc.Sq && (pc.causal == 0u || key <= sq) &&
                           (pc.has_mask == 0u || pc.mask.d[b * pc.smb + h * pc.smh + sq * pc.Sk + key] != uint8_t(0));
                x = vis ? x : -F_INF;
            }
            xs[c] = x;
            tmax = max(tmax, x);
        }
        tmax = max(tmax, subgroupShuffleXor(tmax, 1u));
        float mn = max(m, tmax);
        float alpha = mn == -F_INF ? 1.0 : exp2(m - mn);
        float mref = mn == -F_INF ? 0.0 : mn;  // exp2(-inf - 0) = 0 for masked entries
        float sum = 0.0;
        [[unroll]] for (uint c = 0u; c < HALF; ++c) {
            float p = exp2(xs[c] - mref);
            sum += p;
            Ps[w * T * SP + srow * SP + 2u * c + shalf] = float16_t(p);
        }
        sum += subgroupShuffleXor(sum, 1u);
        l = l * alpha + sum;
        m = mn;
        if (shalf == 0u) Al[w * T + srow] = alpha;
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        // O = O * alpha + P V, 16 head-dim columns at a time.
        coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> pa[NC];
        [[unroll]] for (uint c = 0u; c < NC; ++c)
            coopMatLoad(pa[c], Ps, w * T * SP + c * T, SP, gl_CooperativeMatrixLayoutRowMajor);
        float al[8];
        [[unroll]] for (uint i = 0u; i < 8u; ++i) al[i] = Al[w * T + lane / 16u + 2u * i];
        [[unroll]] for (uint d = 0u; d < ND; ++d) {
            coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> pv =
                coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
            [[unroll]] for (uint c = 0u; c < NC; ++c) {
                coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> vb;
                coopMatLoad(vb, KVs, BC * SK + (c * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
                pv = coopMatMulAdd(pa[c], vb, pv);
            }
            coopMatStore(pv, Ss, w * T * SS, T, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint i = 0u; i < 8u; ++i) o[d][i] = o[d][i] * al[i] + Ss[w * T * SS + lane + 32u * i];
            subgroupBarrier();
        }
    }
    // Normalise and write: the row sums go through shared memory to the lanes that own each output element.
    if (shalf == 0u) Al[w * T + srow] = l;
    if (shalf == 0u && sq < pc.Sq) pc.lse.d[(b * pc.H + h) * pc.Sq + sq] = l > 0.0 ? (m + log2(l)) * LN2 : -F_INF;
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint row = lane / 16u + 2u * i, qi = qw + row;
        float li = Al[w * T + row];
        float inv = li > 0.0 ? 1.0 / li : 0.0;
        if (qi < pc.Sq)
            [[unroll]] for (uint d = 0u; d < ND; ++d)
                pc.o.d[((b * pc.Sq + qi) * pc.H + h) * HD + d * T + lane % 16u] = float16_t(o[d][i] * inv);
    }
}
