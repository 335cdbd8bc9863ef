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
#include "flash_cm2.glsl"
const uint RS = 16u * RB, BR = NW * RS;
const uint NC = BC / T;              // 16-key blocks of a tile
const float M_FLOOR = -1e30;         // the running max never drops below this: fully masked rows stay finite
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; OutV o; FBuf lse; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
} pc;
// The Q tile, then two buffers of K and V tiles, then the output staging followed by the row statistics (per
// subgroup one 16 x 16 block of row maxima and one of row sums, at vector STAT).
const uint STAT = BR * SK;
shared uvec4 KVs[max(4u * BC * SK, STAT + NW * T * T / 2u)];
#define TILES KVs
const uint NPRE = (2u * BC * (HD / 8u) + WGS - 1u) / WGS;
#include "flash_cm2_tiles.glsl"

// -inf where query q0 + row may not see key k0 + col (past the keys, causal, or the boolean mask).
float visible(const in uint32_t row, const in uint32_t col, const in float x, const in uint q0, const in uint k0,
              const in uint mbase) {
    uint qi = q0 + row, key = k0 + col;
    bool vis = key < pc.Sk && (pc.causal == 0u || key <= qi) &&
               (pc.has_mask == 0u || qi >= pc.Sq || pc.mask.d[mbase + qi * pc.Sk + key] != uint8_t(0));
    return vis ? x : -F_INF;
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
    fetch_pair(pc.k, pc.v, b, h, 0u, pc.Sk, BC);
    barrier();  // every subgroup has its Q operands before the first tile overwrites the Q tile
    store_pair(0u, BC, 1.0);
    barrier();
    uint cur = 0u;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        // The next tile's loads are in flight during this one's math; they land in the other buffer.
        bool more = k0 + BC < kend;
        if (more) fetch_pair(pc.k, pc.v, b, h, k0 + BC, pc.Sk, BC);
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
                // The tile's row max (the blocks combined element by element, then one row reduction), the
                // new running max and the old statistics' rescale.
                ACC bm = ACC(M_FLOOR), tmax;
                [[unroll]] for (uint j = 0u; j < NC; ++j) {
                    if (!whole) coopMatPerElementNV(s[r][j], s[r][j], visible, qw + r * T, k0 + j * T, mbase);
                    [[unroll]] for (uint i = 0u; i < bm.length(); ++i) bm[i] = max(bm[i], s[r][j][i]);
                }
                coopMatReduceNV(tmax, bm, gl_CooperativeMatrixReduceRowNV, max_op);
                ACC alpha, psum = ACC(0.0), rsum;
                [[unroll]] for (uint i = 0u; i < tmax.length(); ++i) {
                    float mn = max(m[r][i], tmax[i]);
                    alpha[i] = exp2(m[r][i] - mn);
                    m[r][i] = mn;
                }
                // P = exp2(S - max), its row sum, and P as float16 A operands.
                [[unroll]] for (uint j = 0u; j < NC; ++j) {
                    [[unroll]] for (uint i = 0u; i < s[r][j].length(); ++i) {
                        s[r][j][i] = exp2(s[r][j][i] - m[r][i]);
                        psum[i] += s[r][j][i];
                    }
                    pa[r][j] = MAT_A(s[r][j]);
                }
                coopMatReduceNV(rsum, psum, gl_CooperativeMatrixReduceRowNV, add_op);
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
        if (more) store_pair((cur ^ 1u) * 2u * BC * SK, BC, 1.0);
        barrier();
        cur ^= 1u;
    }
    // Normalise; stage the float16 output and the row statistics in shared memory for bounds-checked writes.
    barrier();
    [[unroll]] for (uint r = 0u; r < RB; ++r) {
        [[unroll]] for (uint d = 0u; d < ND; ++d) {
            [[unroll]] for (uint i = 0u; i < l[r].length(); ++i)
                o[r][d][i] = l[r][i] > 0.0 ? o[r][d][i] / l[r][i] : 0.0;
            ACC_H oh = ACC_H(o[r][d]);
            coopMatStore(oh, KVs, (w * RS + r * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
        }
        // The log-sum-exp of each row, from column 0 of the replicated statistics.
        coopMatStore(m[r], KVs, STAT + w * T * T / 2u, T / 4u, gl_CooperativeMatrixLayoutRowMajor);
        coopMatStore(l[r], KVs, STAT + w * T * T / 2u + T * T / 4u, T / 4u, gl_CooperativeMatrixLayoutRowMajor);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        uint lane = gl_SubgroupInvocationID, qi = qw + r * T + lane;
        if (lane < T && qi < pc.Sq) {
            uint sv = STAT + w * T * T / 2u + lane * (T / 4u);  // column 0 of row `lane`
            float mi = uintBitsToFloat(KVs[sv].x), li = uintBitsToFloat(KVs[sv + T * T / 4u].x);
            pc.lse.d[(b * pc.H + h) * pc.Sq + qi] = li > 0.0 ? (mi + log2(li)) * LN2 : -F_INF;
        }
        subgroupBarrier();
    }
    barrier();
    write_rows(pc.o, b, h, q0, pc.Sq, BR, 0u);
}
