#version 460
// compiler: glslang
// target: vulkan1.3 (SPIR-V 1.6, which GL_NV_cooperative_matrix2 needs)
// Flash attention backward, dK and dV, float16 on cooperative matrices: a workgroup takes 16 keys per subgroup of one
// (batch, head), and streams Q, dO and the query statistics in tiles of BQ queries (two buffers; the next tile is
// loaded after the current one's math, which ran faster on an H100 than loading it before). Everything
// is computed transposed (keys as rows), so K and V stay A operands: per 16 x 16 block S^T = K Q^T and
// dP^T = V dO^T; P^T = exp2(S^T - lse) and dS^T = P^T * (dP^T - delta) come from per-element operations that
// read each column's (query's) statistics from shared memory; dV += P^T dO and dK += dS^T Q. Q is pre-scaled
// by scale * log2 e, so dK = scale * dS^T Q is the accumulated sum times ln 2. Defines: HD, BQ, FUSED_DQ.
// With FUSED_DQ the kernel computes dQ too, so no kernel recomputes S and dP for it (five products where the
// dQ kernel and this one run seven): each query tile's dS^T blocks go to shared memory (two buffers), and while
// the next tile is computed the subgroups split that tile's dQ^T = K^T dS^T over its 16 x 16 blocks (K^T held
// as A operands from the start) and add them (times scale) from registers to the float32 array dq, which starts
// at zero, with atomic adds (VK_EXT_shader_atomic_float). The order of those adds varies, so dQ's last bits may
// vary from run to run. More keys per workgroup (NW) mean fewer adds: each workgroup adds to every row of dQ.
#include "flash_cm2.glsl"
#if FUSED_DQ != 0
#extension GL_EXT_shader_atomic_float : require
#endif
const uint BK = NW * T;
layout(push_constant, scalar) uniform PC {
    InV q; InV k; InV v; InV dout; FBuf lse; FBuf delta; OutV dk; OutV dv; MBuf mask;
    uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; uint has_mask;
#if FUSED_DQ != 0
    FBuf dq;
#endif
} pc;
const uint NQ = BQ / T;
// K, then V (one at a time, into A operands), then two buffers of Q and dO tiles, then the output staging.
shared uvec4 KVs[max(BK * SK, 4u * BQ * SK)];
shared float Lse2[2u * BQ], Delta[2u * BQ];  // per query of each buffer: lse * log2 e (-inf: sees no key), delta
#if FUSED_DQ != 0
const uint SDS = (BQ + 8u) / 8u;  // row stride of dS^T (16-byte vectors)
// dQ^T's ND x NQ blocks, OB per subgroup, by head-dim block first: DPW head-dim blocks x QPW query blocks.
const uint OB = ND * NQ / NW, DPW = max(OB / NQ, 1u), QPW = min(OB, NQ);
shared uvec4 DSs[2u * BK * SDS];  // the workgroup's dS^T of a query tile (float16), per Q/dO buffer
// row * 16 + col of each element of a 16 x 16 accumulator (the layout of accumulator elements is the driver's)
float coord(const in uint32_t row, const in uint32_t col, const in float x) { return float(row * 16u + col); }
#endif
#define TILES KVs
#define FETCH_SKIPS_TESTS 0
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

#if FUSED_DQ != 0
// QACC = block (d0 + E, JQ) of dQ^T = K^T dS^T from the dS^T buffer at DSB.
#define DQ_BLOCK(QACC, DSB, JQ, E)                                                                              \
    QACC = ACC(0.0);                                                                                            \
    [[unroll]] for (uint kb = 0u; kb < NW; ++kb) {                                                              \
        MAT_B dsm;                                                                                              \
        coopMatLoad(dsm, DSs, (DSB) + (kb * T) * SDS + (JQ) * 2u, SDS, gl_CooperativeMatrixLayoutRowMajor);     \
        QACC = coopMatMulAdd(kt[E][kb], dsm, QACC);                                                             \
    }
#endif
#if FUSED_DQ != 0
// Adds this subgroup's blocks of dQ^T for query tile I0 (dS^T buffer DSB) to dq, from registers: for each
// element index, the lanes hold 32-byte runs of head dims.
#define ADD_DQ(DSB, I0)                                                                                         \
    [[unroll]] for (uint jj = 0u; jj < QPW; ++jj)                                                               \
        [[unroll]] for (uint e = 0u; e < DPW; ++e) {                                                            \
            ACC qacc;                                                                                           \
            DQ_BLOCK(qacc, DSB, jq0 + jj, e)                                                                    \
            [[unroll]] for (uint i = 0u; i < qacc.length(); ++i) {                                              \
                uint rc = uint(pos[i]), qi = (I0) + (jq0 + jj) * T + (rc & 15u);                                \
                if (qi < pc.Sq)                                                                                 \
                    atomicAdd(pc.dq.d[((b * pc.Sq + qi) * pc.H + h) * HD + (d0 + e) * T + (rc >> 4u)],          \
                              qacc[i] * pc.scale);                                                              \
            }                                                                                                   \
        }
#endif

void main() {
    uint w = gl_SubgroupID, tid = gl_LocalInvocationID.x;
    uint b = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;
    uint k0 = gl_WorkGroupID.x * BK, kw = k0 + w * T;
    uint mbase = b * pc.smb + h * pc.smh;
    MAT_A ka[ND], va[ND];
#if FUSED_DQ != 0
    uint d0 = (w * OB) / NQ, jq0 = (w * OB) % NQ;  // this subgroup's first block of dQ^T
    MAT_A kt[DPW][NW];  // K^T: this subgroup's head-dim blocks by the workgroup's key blocks
#endif
    load_rows(pc.k, b, h, k0, pc.Sk, BK, 0u, 1.0);
    barrier();
    [[unroll]] for (uint d = 0u; d < ND; ++d)
        coopMatLoad(ka[d], KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
#if FUSED_DQ != 0
    [[unroll]] for (uint e = 0u; e < DPW; ++e)
        [[unroll]] for (uint kb = 0u; kb < NW; ++kb)
            coopMatLoad(kt[e][kb], KVs, (kb * T) * SK + (d0 + e) * 2u, SK, gl_CooperativeMatrixLayoutColumnMajor);
#endif
    barrier();
    load_rows(pc.v, b, h, k0, pc.Sk, BK, 0u, 1.0);
    barrier();
    [[unroll]] for (uint d = 0u; d < ND; ++d)
        coopMatLoad(va[d], KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
#if FUSED_DQ != 0
    ACC pos;
    coopMatPerElementNV(pos, ACC(0.0), coord);
#endif
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
        uint qb = cur * 2u * BQ * SK, db = qb + BQ * SK;
#if FUSED_DQ != 0
        uint dsb = cur * BK * SDS;
#endif
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
#if FUSED_DQ != 0
                coopMatStore(ACC_H(st), DSs, dsb + (w * T) * SDS + j * 2u, SDS, gl_CooperativeMatrixLayoutRowMajor);
#endif
            }
        }
#if FUSED_DQ != 0
        else {  // keys after every query of the tile: dS^T = 0
            [[unroll]] for (uint j = 0u; j < NQ; ++j)
                coopMatStore(ACC_H(0.0), DSs, dsb + (w * T) * SDS + j * 2u, SDS, gl_CooperativeMatrixLayoutRowMajor);
        }
#endif
#if FUSED_DQ != 0
        if (i0 > istart) {  // the previous tile's dS^T is complete
            ADD_DQ((cur ^ 1u) * BK * SDS, i0 - BQ)
        }
#endif
        if (more) {  // (the dK/dV kernel at D64: 2.5 ms, against 2.75 with the loads before the math)
            fetch_pair(pc.q, pc.dout, b, h, i0 + BQ, pc.Sq, BQ);
            fetch_stats(b, h, i0 + BQ);
            store_pair((cur ^ 1u) * 2u * BQ * SK, BQ, qmul);
            store_stats(cur ^ 1u);
        }
        barrier();
        cur ^= 1u;
    }
#if FUSED_DQ != 0
    if (istart < pc.Sq) {  // the last tile's
        ADD_DQ((cur ^ 1u) * BK * SDS, istart + ((pc.Sq - 1u - istart) / BQ) * BQ)
    }
#endif
    // dK, then dV, staged in shared memory for bounds-checked writes.
    [[unroll]] for (uint d = 0u; d < ND; ++d) {
        [[unroll]] for (uint i = 0u; i < dk[d].length(); ++i) dk[d][i] *= LN2;
        coopMatStore(ACC_H(dk[d]), KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    }
    barrier();
    write_rows(pc.dk, b, h, k0, pc.Sk, BK, 0u);
    barrier();
    [[unroll]] for (uint d = 0u; d < ND; ++d)
        coopMatStore(ACC_H(dv[d]), KVs, (w * T) * SK + d * 2u, SK, gl_CooperativeMatrixLayoutRowMajor);
    barrier();
    write_rows(pc.dv, b, h, k0, pc.Sk, BK, 0u);
}
