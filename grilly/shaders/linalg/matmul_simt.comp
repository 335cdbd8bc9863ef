#version 460
// Batched C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] in float32 arithmetic (no tensor cores): the portable fast
// GEMM. 256 invocations compute a 128 x 128 tile, each an 8 x 8 block (two 4-row by two 4-column groups, so
// shared-memory reads are vec4); K advances by SIMT_BK (8 unless defined; 16 suits operands whose loads need no
// transpose) through
// double-buffered shared memory, with the next tile's global loads (4 elements each) in flight during the
// multiply. Tile sizes are compile-time constants so every register array stays in registers. Defines: A_* operand dtype (A_VT: its 4-vector type,
// A_V2F(v): to vec4), O_* result dtype, A_COLMAJOR / B_COLMAJOR (0: k of A / n of B contiguous; 1: m of A / k of
// B contiguous). The host guarantees that the contiguous extent and every other stride are multiples of 4.
#extension GL_EXT_control_flow_attributes : enable
#define WG 1
#include "../include/common.glsl"
layout(local_size_x = 256) in;
#ifndef SIMT_BK
#define SIMT_BK 8
#endif
const uint BM = 128u, BN = 128u, BK = SIMT_BK;
const uint LOADS = BK / 8u;  // 4-vectors of A (and of B) each invocation loads per K step
layout(buffer_reference, scalar) readonly buffer InV { A_VT d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InV a; InV b; OutBuf c; uint M; uint N; uint K; uint b0;
    int sab; int sam; int sak; int sbb; int sbk; int sbn;
} pc;
shared vec4 As[2][BK][BM / 4u];  // k-major: As[k][m / 4][m % 4]
shared vec4 Bs[2][BK][BN / 4u];  // k-major: Bs[k][n / 4][n % 4]

void main() {
    uint t = gl_LocalInvocationID.x;
    // This invocation's two 4-row groups (ra, in 4-vectors of the tile's m) and two 4-column groups (cb): the
    // 8 subgroups tile the block 4 (m) x 2 (n), each a 32 x 64 tile with its lanes 4 (m) x 8 (n), so a subgroup's
    // shared-memory reads of one k touch 4 distinct A vectors and 8 distinct B vectors.
    uint w = t / 32u, l = t % 32u;
    uint ra0 = (w / 2u) * 8u + l / 8u, ra1 = ra0 + 4u, cb0 = (w % 2u) * 16u + l % 8u, cb1 = cb0 + 8u;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, bz = gl_WorkGroupID.z + pc.b0;
    int abase = int(bz) * pc.sab, bbase = int(bz) * pc.sbb;
    // This invocation's share of each tile load: LOADS 4-vectors of A and of B; (ao, ai) is 4-vector q's (outer,
    // inner) position in the tile, the inner dimension being the contiguous one.
    uint ao[LOADS], ai[LOADS], bo[LOADS], bi[LOADS];
    [[unroll]] for (uint r = 0u; r < LOADS; ++r) {
        uint q = t + 256u * r;
#if A_COLMAJOR
        ao[r] = q / (BM / 4u); ai[r] = (q % (BM / 4u)) * 4u;  // k, m
#else
        ao[r] = q / (BK / 4u); ai[r] = (q % (BK / 4u)) * 4u;  // m, k
#endif
#if B_COLMAJOR
        bo[r] = q / (BK / 4u); bi[r] = (q % (BK / 4u)) * 4u;  // n, k
#else
        bo[r] = q / (BN / 4u); bi[r] = (q % (BN / 4u)) * 4u;  // k, n
#endif
    }
    vec4 ra[LOADS], rb[LOADS];
    // Whether the workgroup's tiles lie wholly inside A and B: then the loads skip their bounds tests (on an
    // H100, 0.77 -> 0.90 of cuBLAS at 4096^3).
    bool inside = m0 + BM <= pc.M && n0 + BN <= pc.N && pc.K % BK == 0u;
#define FETCH_TILES(K0, CHECKED) [[unroll]] for (uint r = 0u; r < LOADS; ++r) {                             \
        uint mm = A_COLMAJOR != 0 ? m0 + ai[r] : m0 + ao[r], ka = A_COLMAJOR != 0 ? (K0) + ao[r] : (K0) + ai[r]; \
        ra[r] = !(CHECKED) || (mm < pc.M && ka < pc.K) ?                                                \
            A_V2F(pc.a.d[(abase + int(mm) * pc.sam + int(ka) * pc.sak) / 4]) : vec4(0);                 \
        uint nn = B_COLMAJOR != 0 ? n0 + bo[r] : n0 + bi[r], kb = B_COLMAJOR != 0 ? (K0) + bi[r] : (K0) + bo[r]; \
        rb[r] = !(CHECKED) || (nn < pc.N && kb < pc.K) ?                                                \
            A_V2F(pc.b.d[(bbase + int(kb) * pc.sbk + int(nn) * pc.sbn) / 4]) : vec4(0); }
#define FETCH(K0)                                                                                       \
    if (inside) {                                                                                       \
        FETCH_TILES(K0, false)                                                                          \
    } else {                                                                                            \
        FETCH_TILES(K0, true)                                                                           \
    }
#if A_COLMAJOR
#define STORE_A(BUF) [[unroll]] for (uint r = 0u; r < LOADS; ++r) As[BUF][ao[r]][ai[r] / 4u] = ra[r];
#else
#define STORE_A(BUF) [[unroll]] for (uint r = 0u; r < LOADS; ++r) \
        [[unroll]] for (uint c = 0u; c < 4u; ++c) As[BUF][ai[r] + c][ao[r] / 4u][ao[r] % 4u] = ra[r][c];
#endif
#if B_COLMAJOR
#define STORE_B(BUF) [[unroll]] for (uint r = 0u; r < LOADS; ++r) \
        [[unroll]] for (uint c = 0u; c < 4u; ++c) Bs[BUF][bi[r] + c][bo[r] / 4u][bo[r] % 4u] = rb[r][c];
#else
#define STORE_B(BUF) [[unroll]] for (uint r = 0u; r < LOADS; ++r) Bs[BUF][bo[r]][bi[r] / 4u] = rb[r];
#endif
    vec4 acc[8][2];
    [[unroll]] for (uint i = 0u; i < 8u; ++i) { acc[i][0] = vec4(0); acc[i][1] = vec4(0); }
    FETCH(0u)
    STORE_A(0) STORE_B(0)
    barrier();
#define STEP(CUR, KS) {                                                                                    \
        bool more = (KS) + BK < pc.K;                                                                   \
        if (more) { FETCH((KS) + BK) }                                                                  \
        [[unroll]] for (uint k = 0u; k < BK; ++k) {                                                     \
            vec4 a0 = As[CUR][k][ra0], a1 = As[CUR][k][ra1];                                            \
            vec4 b0 = Bs[CUR][k][cb0], b1 = Bs[CUR][k][cb1];                                            \
            float ar[8] = float[8](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);                     \
            [[unroll]] for (uint i = 0u; i < 8u; ++i) {                                                 \
                acc[i][0] += ar[i] * b0;                                                                \
                acc[i][1] += ar[i] * b1;                                                                \
            }                                                                                           \
        }                                                                                               \
        if (more) { STORE_A((CUR) ^ 1u) STORE_B((CUR) ^ 1u) }                                           \
        barrier(); }
    // Two K steps per iteration, so each step's shared-memory buffer is a constant (7% faster on an H100).
    for (uint k0 = 0u; k0 < pc.K; k0 += 2u * BK) {
        STEP(0u, k0)
        if (k0 + BK >= pc.K) break;
        STEP(1u, k0 + BK)
    }
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint m = m0 + (i < 4u ? ra0 : ra1) * 4u + i % 4u;
        if (m >= pc.M) continue;
        [[unroll]] for (uint j = 0u; j < 2u; ++j)
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                uint n = n0 + (j == 0u ? cb0 : cb1) * 4u + c;
                if (n < pc.N) pc.c.d[(bz * pc.M + m) * pc.N + n] = O_STORE(O_CT(acc[i][j][c]));
            }
    }
}
