#version 460
// compiler: glslang
// target: vulkan1.3 (SPIR-V 1.6, which GL_NV_cooperative_matrix2 needs)
// Flash attention backward, dK and dV, float16 on cooperative matrices: a workgroup takes 16 keys per subgroup of one
// (batch, head), and streams Q, dO and the query statistics in tiles of BQ queries. Everything
// is computed transposed (keys as rows), so K and V stay A operands: per 16 x 16 block S^T = K Q^T and
// dP^T = V dO^T; P^T = exp2(S^T - lse) and dS^T = P^T * (dP^T - delta) come from per-element operations that
// read each column's (query's) statistics from shared memory; dV += P^T dO and dK += dS^T Q. Q is pre-scaled
// by scale * log2 e, so dK = scale * dS^T Q is the accumulated sum times ln 2. Defines: HD, BQ.
#include "flash_cm2.glsl"
const uint BK = NW * T;
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; InV dout; FBuf lse; FBuf delta; OutV dk; OutV dv; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
} pc;
const uint NQ = BQ / T;
// The K and V tiles, then two buffers of Q and dO tiles, then the output staging.
shared uvec4 KVs[max(2u * BK * SK, 4u * BQ * SK)];
shared float Lse2[2u * BQ], Delta[2u * BQ];  // per query of each buffer: lse * log2 e (-inf: sees no key), delta
#define TILES KVs
const uint NPRE = (2u * BQ * (HD / 8u) + WGS - 1u) / WGS;
#include "flash_cm2_tiles.glsl"

float pre_lse, pre_delta;  // this invocation's query statistics of the next tile (invocations < BQ)

void fetch_stats(uint b, uint h, uint i0) {
    uint qi = i0 + gl_LocalInvocationID.x, r = (b * pc.H + h) * pc.Sq + qi;
    if (gl_LocalInvocationID.x < BQ) {
        pre_lse = qi < pc.Sq ? pc.lse.d[r] * LOG2E : -F_INF;
        pre_delta = qi < pc.Sq ? pc.delta.d[r] : 0.0;
    }
}

void store_stats(uint buf) {
    if (gl_LocalInvocationID.x < BQ) {
        Lse2[buf * BQ + gl_LocalInvocationID.x] = pre_lse;
        Delta[buf * BQ + gl_LocalInvocationID.x] = pre_delta;
    }
}

// P^T = exp2(S^T - lse) where query i0 + col sees key k0 + row, else 0.
float prob_t(const in uint32_t row, const in uint32_t col, const in float s, const in uint c0, const in uint i0,
             const in uint k0, const in uint mbase) {
    uint qi = i0 + col, key = k0 + row;
    float l2 = Lse2[c0 + col];
    bool vis = key < pc.Sk && qi < pc.Sq && l2 > -F_INF && (pc.causal == 0u || key <= qi) &&
               (pc.has_mask == 0u || pc.mask.d[mbase + qi * pc.Sk + key] != uint8_t(0));
    return vis ? exp2(s - l2) : 0.0;
}

// The same where every query of the block sees every key of the subgroup.
float prob_t_whole(const in uint32_t row, const in uint32_t col, const in float s, const in uint c0) {
    return exp2(s - Lse2[c0 + col]);
}

float minus_delta_t(const in uint32_t row, const in uint32_t col, const in float dp, const in uint c0) {
    return dp - Delta[c0 + col];
}

void main() {
    uint w = gl_SubgroupID, tid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint k0 = gl_WorkGroupID.x * BK, kw = k0 + w * T;
    uint mbase = b * pc.smb + h * pc.smh;
    for (uint idx = tid; idx < BK * (HD / 8u); idx += WGS) {
        uint rr = idx / (HD / 8u), c = idx % (HD / 8u);
        KVs[rr * SK + c] = row_vec(pc.k, b, h, k0 + rr, pc.Sk, c);
        KVs[(BK + rr) * SK + c] = row_vec(pc.v, b, h, k0 + rr, pc.Sk, c);
    }
    barrier();
    MAT_A ka[ND], va[ND];
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        coopMatLoad(ka[d], KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
        coopMatLoad(va[d], KVs, (BK + w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    }
    ACC dk[ND], dv[ND];
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        dk[d] = ACC(0.0);
        dv[d] = ACC(0.0);
    }
    // Causal: queries before this workgroup's first key see none of its keys.
    uint istart = pc.causal != 0u ? (k0 / BQ) * BQ : 0u;
    float qmul = pc.scale * LOG2E;
    fetch_pair(pc.q, pc.dout, b, h, istart, pc.Sq, BQ);
    fetch_stats(b, h, istart);
    barrier();  // every subgroup has its operands before the first tiles overwrite K and V
    store_pair(0u, BQ, qmul);
    store_stats(0u);
    barrier();
    uint cur = 0u;
    for (uint i0 = istart; i0 < pc.Sq; i0 += BQ) {
        bool more = i0 + BQ < pc.Sq;
        if (more) {
            fetch_pair(pc.q, pc.dout, b, h, i0 + BQ, pc.Sq, BQ);
            fetch_stats(b, h, i0 + BQ);
        }
        uint qb = cur * 2u * BQ * SK, db = qb + BQ * SK;
        bool whole = pc.has_mask == 0u && kw + T <= pc.Sk && i0 + BQ <= pc.Sq && (pc.causal == 0u || i0 >= kw + T - 1u);
        if (pc.causal == 0u || i0 + BQ - 1u >= kw) {
            [[unroll]] for (uint j = 0u; j < NQ; ++j) {
                ACC st = ACC(0.0), dpt = ACC(0.0);
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B qt, dt;
                    coopMatLoad(qt, KVs, qb + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                    coopMatLoad(dt, KVs, db + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
                    st = coopMatMulAdd(ka[d], qt, st);
                    dpt = coopMatMulAdd(va[d], dt, dpt);
                }
                if (whole)
                    coopMatPerElementNV(st, st, prob_t_whole, cur * BQ + j * T);
                else
                    coopMatPerElementNV(st, st, prob_t, cur * BQ + j * T, i0 + j * T, kw, mbase);
                MAT_A pa = MAT_A(st);
                coopMatPerElementNV(dpt, dpt, minus_delta_t, cur * BQ + j * T);
                [[unroll]] for (uint i = 0u; i < st.length(); ++i) st[i] *= dpt[i];
                MAT_A dsa = MAT_A(st);
                [[unroll]] for (uint d = 0u; d < ND; ++d) {
                    MAT_B dr, qr;
                    coopMatLoad(dr, KVs, db + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
                    coopMatLoad(qr, KVs, qb + (j * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
                    dv[d] = coopMatMulAdd(pa, dr, dv[d]);
                    dk[d] = coopMatMulAdd(dsa, qr, dk[d]);
                }
            }
        }
        if (more) {
            store_pair((cur ^ 1u) * 2u * BQ * SK, BQ, qmul);
            store_stats(cur ^ 1u);
        }
        barrier();
        cur ^= 1u;
    }
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        [[unroll]] for (uint i = 0u; i < dk[d].length(); ++i) dk[d][i] *= LN2;
        ACC_H k16 = ACC_H(dk[d]), v16 = ACC_H(dv[d]);
        coopMatStore(k16, KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
        coopMatStore(v16, KVs, (BK + w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    }
    barrier();
    write_rows(pc.dk, b, h, k0, pc.Sk, BK, 0u);
    write_rows(pc.dv, b, h, k0, pc.Sk, BK, BK * SK);
}
