#version 460
// compiler: glslang
// target: vulkan1.3 (SPIR-V 1.6, which GL_NV_cooperative_matrix2 needs)
// Flash attention backward, dQ, float16 on cooperative matrices: a workgroup takes 16 queries per subgroup of one
// (batch, head), and streams K and V in tiles of BC keys. Per 16 x 16 block, S = Q K^T and
// dP = dO V^T; P = exp2(S - lse) and dS = P * (dP - delta) come from per-element operations that read each
// row's statistics from shared memory; dQ += dS K. dQ = scale * dS K with Q pre-scaled by scale * log2 e.
// delta = rowsum(dO * O) comes from flash_bwd_delta. Defines: HD, BC (multiples of 16).
#include "flash_cm2.glsl"
const uint BR = NW * T;
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; InV dout; FBuf lse; FBuf delta; OutV dq; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
} pc;
const uint NC = BC / T;
// The Q and dO tiles, then two buffers of K and V tiles, then the output staging.
shared uvec4 KVs[max(2u * BR * SK, 4u * BC * SK)];
shared float Lse2[BR], Delta[BR];  // per query row: lse * log2 e (-inf: the row sees no key) and delta
#define TILES KVs
const uint NPRE = (2u * BC * (HD / 8u) + WGS - 1u) / WGS;
#include "flash_cm2_tiles.glsl"

// P = exp2(S - lse) where query q0 + row sees key k0 + col, else 0.
float prob(const in uint32_t row, const in uint32_t col, const in float s, const in uint r0, const in uint q0,
           const in uint k0, const in uint mbase) {
    uint qi = q0 + row, key = k0 + col;
    float l2 = Lse2[r0 + row];
    bool vis = key < pc.Sk && qi < pc.Sq && l2 > -F_INF && (pc.causal == 0u || key <= qi) &&
               (pc.has_mask == 0u || pc.mask.d[mbase + qi * pc.Sk + key] != uint8_t(0));
    return vis ? exp2(s - l2) : 0.0;
}

// Row r0 + row's lse * log2 e (which 0) or delta (which 1), to build replicated per-row matrices.
float row_stat(const in uint32_t row, const in uint32_t col, const in float x, const in uint r0, const in uint which) {
    return which == 0u ? Lse2[r0 + row] : Delta[r0 + row];
}

void main() {
    uint w = gl_SubgroupID, tid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint q0 = gl_WorkGroupID.x * BR, qw = q0 + w * T;
    uint mbase = b * pc.smb + h * pc.smh;
    // Q (scaled) and dO rows, and the rows' statistics.
    load_rows(pc.q, b, h, q0, pc.Sq, BR, 0u, pc.scale * LOG2E);
    load_rows(pc.dout, b, h, q0, pc.Sq, BR, BR * SK, 1.0);
    if (tid < BR) {
        uint r = (b * pc.H + h) * pc.Sq + min(q0 + tid, pc.Sq - 1u);
        Lse2[tid] = q0 + tid < pc.Sq ? pc.lse.d[r] * LOG2E : F_INF;  // rows past Sq: P = 0
        Delta[tid] = pc.delta.d[r];
    }
    barrier();
    MAT_A qa[ND], da[ND];
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        coopMatLoad(qa[d], KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
        coopMatLoad(da[d], KVs, (BR + w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    }
    ACC dq[ND], lmat, dmat;
    [[unroll]] for (uint d = 0u; d < ND; ++d) dq[d] = ACC(0.0);
    coopMatPerElementNV(lmat, ACC(0.0), row_stat, w * T, 0u);
    coopMatPerElementNV(dmat, ACC(0.0), row_stat, w * T, 1u);
    uint kend = pc.causal != 0u ? min(pc.Sk, q0 + BR) : pc.Sk;
    fetch_pair(pc.k, pc.v, b, h, 0u, pc.Sk, BC);
    barrier();  // every subgroup has its operands before the first tiles overwrite Q and dO
    store_pair(0u, BC, 1.0);
    barrier();
    uint cur = 0u;
    for (uint k0 = 0u; k0 < kend; k0 += BC) {
        bool more = k0 + BC < kend;
        if (more) fetch_pair(pc.k, pc.v, b, h, k0 + BC, pc.Sk, BC);
        uint kb = cur * 2u * BC * SK, vb = kb + BC * SK;
        // A tile every query of the subgroup sees whole needs no per-element visibility test.
        bool whole = pc.has_mask == 0u && k0 + BC <= pc.Sk && (pc.causal == 0u || k0 + BC <= qw + 1u);
        if (pc.causal == 0u || k0 <= qw + T - 1u) {
            [[unroll]] for (uint j = 0u; j < NC; ++j) {
                ACC s = ACC(0.0), dp = ACC(0.0);
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B kt, vt;
                    coopMatLoad(kt, KVs, kb + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                    coopMatLoad(vt, KVs, vb + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                    s = coopMatMulAdd(qa[d], kt, s);
                    dp = coopMatMulAdd(da[d], vt, dp);
                }
                if (whole) {
                    [[unroll]] for (uint i = 0u; i < s.length(); ++i) s[i] = exp2(s[i] - lmat[i]);
                } else {
                    coopMatPerElementNV(s, s, prob, w * T, qw, k0 + j * T, mbase);
                }
                [[unroll]] for (uint i = 0u; i < s.length(); ++i) s[i] *= dp[i] - dmat[i];
                MAT_A dsa = MAT_A(s);
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B kr;
                    coopMatLoad(kr, KVs, kb + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
                    dq[d] = coopMatMulAdd(dsa, kr, dq[d]);
                }
            }
        }
        if (more) store_pair((cur ^ 1u) * 2u * BC * SK, BC, 1.0);
        barrier();
        cur ^= 1u;
    }
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        [[unroll]] for (uint i = 0u; i < dq[d].length(); ++i) dq[d][i] *= pc.scale;
        ACC_H out16 = ACC_H(dq[d]);
        coopMatStore(out16, KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    }
    barrier();
    write_rows(pc.dq, b, h, q0, pc.Sq, BR, 0u);
}
