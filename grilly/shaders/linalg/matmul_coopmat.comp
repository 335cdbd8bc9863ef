#version 460
// compiler: glslang
// Batched C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] for float16 A and B with float32 accumulation on
// cooperative matrices (VK_KHR_cooperative_matrix, 16x16x16 tiles). A workgroup of WM x WN subgroups computes a
// BM x BN tile; K advances by BK through shared memory, the next tile's global loads (8 halves per load) are in
// flight while the current one is multiplied. Defines: O_* result dtype; A_COLMAJOR / B_COLMAJOR say which
// dimension of A / B is contiguous (0: k of A, n of B; 1: m of A, k of B). The host guarantees that the
// contiguous extent and every other stride are multiples of 8 (whole 16-byte vectors). Spec constants: 0
// workgroup size (WM * WN * subgroup size), 1 BM, 2 BN, 3 BK, 4 WM, 5 WN, 6 NBUF (1: one shared tile, loaded
// between two barriers; 2: double-buffered, one barrier per step).
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : enable
#define WG 1
#include "../include/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 2;
layout(constant_id = 5) const uint WN = 4;
layout(constant_id = 6) const uint NBUF = 1;
const uint T = 16u;
const uint TM = BM / (WM * T);
const uint TN = BN / (WN * T);
layout(buffer_reference, scalar) readonly buffer InV { uvec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InV a; InV b; OutBuf c; uint M; uint N; uint K; uint b0;
    int sab; int sam; int sak; int sbb; int sbk; int sbn;
} pc;
// Shared tiles, outer dimension x (inner dimension + 8 halves of padding), in 16-byte vectors.
#if A_COLMAJOR
const uint AO = BK, AI = BM;  // rows k, contiguous m
#else
const uint AO = BM, AI = BK;  // rows m, contiguous k
#endif
#if B_COLMAJOR
const uint BO = BN, BI = BK;  // rows n, contiguous k
#else
const uint BO = BK, BI = BN;  // rows k, contiguous n
#endif
const uint SA = (AI + 8u) / 8u, SB = (BI + 8u) / 8u;  // row strides in vectors
const uint AV = AO * (AI / 8u), BV = BO * (BI / 8u);  // vectors per tile
shared uvec4 As[NBUF * AO * SA];
shared uvec4 Bs[NBUF * BO * SB];
shared float Cs[WM * WN * T * T];

const uint NT = WM * WN * 32u;  // upper bound of the workgroup size, for register arrays
const uint RA = (AV + NT - 1u) / NT + 1u, RB = (BV + NT - 1u) / NT + 1u;

void main() {
    uint tid = gl_LocalInvocationID.x, nthreads = gl_WorkGroupSize.x;
    uint warp = gl_SubgroupID, wm = warp / WN, wn = warp % WN;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, bz = gl_WorkGroupID.z + pc.b0;
    int abase = int(bz) * pc.sab, bbase = int(bz) * pc.sbb;
    coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> acc[TM * TN];
    [[unroll]] for (uint i = 0u; i < TM * TN; ++i) acc[i] = coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
    uvec4 ra[RA], rb[RB];

    // Whether the workgroup's tiles lie wholly inside A and B: then the loads skip their bounds tests (a test
    // on every load took 15% longer at 8192^3 on an H100).
    bool inside = m0 + BM <= pc.M && n0 + BN <= pc.N && pc.K % BK == 0u;
    // This invocation's vectors of the tiles at K0 into ra / rb (CHECKED: zero outside the matrices).
#define FETCH_TILES(K0, CHECKED)                                                                        \
    for (uint r = 0u; r < RA; ++r) {                                                                    \
        uint v = tid + r * nthreads; uvec4 x = uvec4(0);                                                \
        if (v < AV) {                                                                                   \
            uint o = v / (AI / 8u), i = (v % (AI / 8u)) * 8u;                                           \
            uint mm = A_COLMAJOR != 0 ? m0 + i : m0 + o, kk = A_COLMAJOR != 0 ? (K0) + o : (K0) + i;    \
            if (!(CHECKED) || (mm < pc.M && kk < pc.K))                                                 \
                x = pc.a.d[(abase + int(mm) * pc.sam + int(kk) * pc.sak) / 8];                          \
        }                                                                                               \
        ra[r] = x;                                                                                      \
    }                                                                                                   \
    for (uint r = 0u; r < RB; ++r) {                                                                    \
        uint v = tid + r * nthreads; uvec4 x = uvec4(0);                                                \
        if (v < BV) {                                                                                   \
            uint o = v / (BI / 8u), i = (v % (BI / 8u)) * 8u;                                           \
            uint nn = B_COLMAJOR != 0 ? n0 + o : n0 + i, kk = B_COLMAJOR != 0 ? (K0) + i : (K0) + o;    \
            if (!(CHECKED) || (nn < pc.N && kk < pc.K))                                                 \
                x = pc.b.d[(bbase + int(kk) * pc.sbk + int(nn) * pc.sbn) / 8];                          \
        }                                                                                               \
        rb[r] = x;                                                                                      \
    }
#define FETCH(K0)                                                                                       \
    if (inside) {                                                                                       \
        FETCH_TILES(K0, false)                                                                          \
    } else {                                                                                            \
        FETCH_TILES(K0, true)                                                                           \
    }

#define STORE_TILES(BUF)                                                                                \
    for (uint r = 0u; r < RA; ++r) {                                                                    \
        uint v = tid + r * nthreads;                                                                    \
        if (v < AV) As[(BUF) * AO * SA + (v / (AI / 8u)) * SA + v % (AI / 8u)] = ra[r];                 \
    }                                                                                                   \
    for (uint r = 0u; r < RB; ++r) {                                                                    \
        uint v = tid + r * nthreads;                                                                    \
        if (v < BV) Bs[(BUF) * BO * SB + (v / (BI / 8u)) * SB + v % (BI / 8u)] = rb[r];                 \
    }

    FETCH(0u)
    if (NBUF == 2u) {
        STORE_TILES(0u)
        barrier();
    }
    uint cur = 0u;
    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        bool more = k0 + BK < pc.K;
        if (NBUF == 1u) {
            barrier();
            STORE_TILES(0u)
            barrier();
        }
        if (more) { FETCH(k0 + BK) }
        uint abuf = cur * AO * SA, bbuf = cur * BO * SB;
        [[unroll]] for (uint kk = 0u; kk < BK; kk += T) {
            coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> fa[TM];
            coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> fb[TN];
            [[unroll]] for (uint i = 0u; i < TM; ++i) {
                uint mt = (wm * TM + i) * T;
#if A_COLMAJOR
                coopMatLoad(fa[i], As, abuf + kk * SA + mt / 8u, SA, gl_CooperativeMatrixLayoutColumnMajor);
#else
                coopMatLoad(fa[i], As, abuf + mt * SA + kk / 8u, SA, gl_CooperativeMatrixLayoutRowMajor);
#endif
            }
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                uint nt = (wn * TN + j) * T;
#if B_COLMAJOR
                coopMatLoad(fb[j], Bs, bbuf + nt * SB + kk / 8u, SB, gl_CooperativeMatrixLayoutColumnMajor);
#else
                coopMatLoad(fb[j], Bs, bbuf + kk * SB + nt / 8u, SB, gl_CooperativeMatrixLayoutRowMajor);
#endif
            }
            [[unroll]] for (uint i = 0u; i < TM; ++i)
                [[unroll]] for (uint j = 0u; j < TN; ++j) acc[i * TN + j] = coopMatMulAdd(fa[i], fb[j], acc[i * TN + j]);
        }
        if (NBUF == 2u) {
            if (more) { STORE_TILES(cur ^ 1u) }
            barrier();
            cur ^= 1u;
        }
    }
    // Epilogue: each subgroup stages one 16 x 16 tile at a time in shared memory and writes it with bounds checks.
    uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
    [[unroll]] for (uint i = 0u; i < TM; ++i)
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            coopMatStore(acc[i * TN + j], Cs, warp * T * T, T, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            uint mt = m0 + (wm * TM + i) * T, nt = n0 + (wn * TN + j) * T;
            for (uint e = lane; e < T * T; e += lanes) {
                uint m = mt + e / T, n = nt + e % T;
                if (m < pc.M && n < pc.N) pc.c.d[(bz * pc.M + m) * pc.N + n] = O_STORE(Cs[warp * T * T + e]);
            }
            subgroupBarrier();
        }
}
