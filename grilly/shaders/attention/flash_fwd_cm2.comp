#version 460
// compiler: glslang
// target: vulkan1.3 (SPIR-V 1.6, which GL_NV_cooperative_matrix2 needs)
// Flash attention forward with the whole online softmax in cooperative-matrix registers (float16 q, k, v;
// float32 scores, statistics and output). Per-row values (running max m, sum l, rescale alpha) live in 16 x 16
// accumulators whose every column holds the row's value (row reductions, VK_NV_cooperative_matrix2), so they
// combine element by element with the 16 x 16 score and output blocks, which share their layout. Masking uses
// per-element operations that see each element's row and column, and P goes from accumulator to A operand by
// conversion: nothing but the K and V tiles passes through shared memory. A workgroup of NW subgroups takes
// NW * RS queries of one (batch, head), each subgroup RS = 16 * RB of them; K and V tiles of BC keys are
// shared and double-buffered, the next pair fetched into registers during the current pair's math. Defines: HD
// (head dim, a multiple of 16), BC (keys per tile, a multiple of 16), RB, NW.
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : enable
#define WG 1
#include "../include/common.glsl"
const uint WGS = 32u * NW;           // 32-wide subgroups
layout(local_size_x = WGS) in;
const uint T = 16u, RS = 16u * RB, BR = NW * RS;
const uint SK = (HD + 8u) / 8u;      // row stride of the K / V / Q tiles, in 16-byte vectors
const uint ND = HD / T, NC = BC / T; // 16-wide chunks of the head dim and of the key tile
const float LOG2E = 1.4426950408889634, LN2 = 0.6931471805599453;
const float M_FLOOR = -1e30;         // the running max never drops below this: fully masked rows stay finite
layout(buffer_reference, scalar) readonly buffer InV { uvec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutV { uvec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer FBuf { float d[]; };
layout(buffer_reference, scalar) readonly buffer MBuf { uint8_t d[]; };
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; OutV o; FBuf lse; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
} pc;
const uint KV_VECS = max(4u * BC * SK, BR * SK);
shared uvec4 KVs[KV_VECS];           // the Q tile, then two buffers of K and V tiles, then the output staging
shared float Stat[NW * 2u * T * T];  // per subgroup: one 16 x 16 block of row maxima and of row sums

#define ACC coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define MAT_A coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define MAT_B coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>

float max_op(const in float a, const in float b) { return max(a, b); }
float add_op(const in float a, const in float b) { return a + b; }

// -inf where query q0 + row may not see key k0 + col (past the keys, causal, or the boolean mask).
float visible(const in uint32_t row, const in uint32_t col, const in float x, const in uint q0, const in uint k0,
              const in uint mbase) {
    uint qi = q0 + row, key = k0 + col;
    bool vis = key < pc.Sk && (pc.causal == 0u || key <= qi) &&
               (pc.has_mask == 0u || qi >= pc.Sq || pc.mask.d[mbase + qi * pc.Sk + key] != uint8_t(0));
    return vis ? x : -F_INF;
}

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

// The next K and V tiles, NV vectors of 8 halves per invocation, fetched into registers ahead of their use.
const uint TILE_V = BC * (HD / 8u), NV = (2u * TILE_V + WGS - 1u) / WGS;
uvec4 pre[NV];

void fetch_kv(uint b, uint h, uint k0) {
    [[unroll]] for (uint i = 0u; i < NV; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i, which = idx / TILE_V, rest = idx % TILE_V;
        uint r = k0 + rest / (HD / 8u), c = rest % (HD / 8u);
        InV x = which == 0u ? pc.k : pc.v;
        pre[i] = idx < 2u * TILE_V && r < pc.Sk ? x.d[(((b * pc.Sk + r) * pc.H + h) * HD) / 8u + c] : uvec4(0);
    }
}

void store_kv(uint base) {
    [[unroll]] for (uint i = 0u; i < NV; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i, which = idx / TILE_V, rest = idx % TILE_V;
        if (idx < 2u * TILE_V) KVs[base + which * BC * SK + (rest / (HD / 8u)) * SK + rest % (HD / 8u)] = pre[i];
    }
}

void main() {
    uint w = gl_SubgroupID;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, qw = q0 + w * RS;  // this subgroup's first query
    uint mbase = b * pc.smb + h * pc.smh;
    // Q, scaled by scale * log2 e so the softmax runs in base 2, through shared memory into A operands.
    load_rows(pc.q, b, h, q0, pc.Sq, BR, 0u, pc.scale * LOG2E);
    barrier();
    MAT_A qa[RB][ND];
    [[unroll]] for (uint r = 0u; r < RB; ++r)
        [[unroll]] for (uint d = 0u; d < ND; ++d)
            coopMatLoad(qa[r][d], KVs, (w * RS + r * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    ACC o[RB][ND], m[RB], l[RB];
    [[unroll]] for (uint r = 0u; r < RB; ++r) {
        m[r] = ACC(M_FLOOR);
        l[r] = ACC(0.0);
        [[unroll]] for (uint d = 0u; d < ND; ++d) o[r][d] = ACC(0.0);
    }
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    fetch_kv(b, h, 0u);
    barrier();  // every subgroup has its Q operands before the first tile overwrites the Q tile
    store_kv(0u);
    barrier();
    uint cur = 0u;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        // The next tile's loads are in flight during this one's math; they land in the other buffer.
        bool more = k0 + BC < kend;
        if (more) fetch_kv(b, h, k0 + BC);
        uint kb0 = cur * 2u * BC * SK;
        // A tile every query of the subgroup sees whole skips the per-element visibility test; one wholly in
        // the subgroup's future is skipped.
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && (pc.causal == 0u || k0 + BC <= qw + 1u);
        if (pc.causal == 0u || k0 <= qw + RS - 1u) {
            // S = Q K^T in 16 x 16 blocks; each K block read from shared memory serves every row block.
            ACC s[RB][NC];
            [[unroll]] for (uint r = 0u; r < RB; ++r) [[unroll]] for (uint j = 0u; j < NC; ++j) s[r][j] = ACC(0.0);
            [[unroll]] for (uint j = 0u; j < NC; ++j)
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B kb;
                    coopMatLoad(kb, KVs, kb0 + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                    [[unroll]] for (uint r = 0u; r < RB; ++r) s[r][j] = coopMatMulAdd(qa[r][d], kb, s[r][j]);
                }
            MAT_A pa[RB][NC];
            [[unroll]] for (uint r = 0u; r < RB; ++r) {
                // The tile's row max, the new running max and the old statistics' rescale.
                ACC tmax = ACC(M_FLOOR);
                [[unroll]] for (uint j = 0u; j < NC; ++j) {
                    if (!whole) coopMatPerElementNV(s[r][j], s[r][j], visible, qw + r * T, k0 + j * T, mbase);
                    ACC bm;
                    coopMatReduceNV(bm, s[r][j], gl_CooperativeMatrixReduceRowNV, max_op);
                    [[unroll]] for (uint i = 0u; i < tmax.length(); ++i) tmax[i] = max(tmax[i], bm[i]);
                }
                ACC alpha, rsum = ACC(0.0);
                [[unroll]] for (uint i = 0u; i < tmax.length(); ++i) {
                    float mn = max(m[r][i], tmax[i]);
                    alpha[i] = exp2(m[r][i] - mn);
                    m[r][i] = mn;
                }
                // P = exp2(S - max), its row sum, and P as float16 A operands.
                [[unroll]] for (uint j = 0u; j < NC; ++j) {
                    [[unroll]] for (uint i = 0u; i < s[r][j].length(); ++i) s[r][j][i] = exp2(s[r][j][i] - m[r][i]);
                    ACC bs;
                    coopMatReduceNV(bs, s[r][j], gl_CooperativeMatrixReduceRowNV, add_op);
                    [[unroll]] for (uint i = 0u; i < rsum.length(); ++i) rsum[i] += bs[i];
                    pa[r][j] = MAT_A(s[r][j]);
                }
                [[unroll]] for (uint i = 0u; i < rsum.length(); ++i) l[r][i] = l[r][i] * alpha[i] + rsum[i];
                [[unroll]] for (uint d = 0u; d < ND; ++d)
                    [[unroll]] for (uint i = 0u; i < alpha.length(); ++i) o[r][d][i] *= alpha[i];
            }
            // O += P V; each V block serves every row block.
            [[unroll]] for (uint j = 0u; j < NC; ++j)
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B vb;
                    coopMatLoad(vb, KVs, kb0 + BC * SK + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
                    [[unroll]] for (uint r = 0u; r < RB; ++r) o[r][d] = coopMatMulAdd(pa[r][j], vb, o[r][d]);
                }
        }
        if (more) store_kv((cur ^ 1u) * 2u * BC * SK);
        barrier();
        cur ^= 1u;
    }
    // Normalise; stage the float16 output and the row statistics in shared memory for bounds-checked writes.
    barrier();
    [[unroll]] for (uint r = 0u; r < RB; ++r) {
        [[unroll]] for (uint d = 0u; d < ND; ++d) {
            [[unroll]] for (uint i = 0u; i < l[r].length(); ++i)
                o[r][d][i] = l[r][i] > 0.0 ? o[r][d][i] / l[r][i] : 0.0;
            coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> oh =
                coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(o[r][d]);
            coopMatStore(oh, KVs, (w * RS + r * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
        }
        // The log-sum-exp of each row, from column 0 of the replicated statistics.
        coopMatStore(m[r], Stat, w * 2u * T * T, T, gl_CooperativeMatrixLayoutRowMajor);
        coopMatStore(l[r], Stat, (w * 2u + 1u) * T * T, T, gl_CooperativeMatrixLayoutRowMajor);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        uint lane = gl_SubgroupInvocationID, qi = qw + r * T + lane;
        if (lane < T && qi < pc.Sq) {
            float mi = Stat[w * 2u * T * T + lane * T], li = Stat[(w * 2u + 1u) * T * T + lane * T];
            pc.lse.d[(b * pc.H + h) * pc.Sq + qi] = li > 0.0 ? (mi + log2(li)) * LN2 : -F_INF;
        }
        subgroupBarrier();
    }
    barrier();
    for (uint idx = gl_LocalInvocationID.x; idx < BR * (HD / 8u); idx += gl_WorkGroupSize.x) {
        uint rr = idx / (HD / 8u), c = idx % (HD / 8u), qi = q0 + rr;
        if (qi < pc.Sq) pc.o.d[(((b * pc.Sq + qi) * pc.H + h) * HD) / 8u + c] = KVs[rr * SK + c];
    }
}
