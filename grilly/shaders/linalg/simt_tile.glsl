// The product loop of the SIMT GEMM, shared by matmul_simt.comp and the kernels that fuse an epilogue into it.
// A workgroup computes a 128 x BN tile (BN 128: 256 invocations; BN 64: 128), each invocation an 8 x 8 block
// (two 4-row by two 4-column groups, so shared-memory reads are vec4); K advances by SIMT_BK (8 unless defined;
// 16 suits operands whose loads need no transpose) through double-buffered shared memory, with the next tile's
// global loads (4 elements each) in flight during the multiply. Tile sizes are compile-time constants so every
// register array stays in registers. The includer defines A_V2F(v) (an operand 4-vector to vec4), A_COLMAJOR /
// B_COLMAJOR (0: k of A / n of B contiguous; 1: m of A / k of B contiguous) and optionally SIMT_BN, and includes
// this file after its push-constant block `pc`, whose members a and b are the operands (buffer references to
// 4-vectors; read through pc so that descriptor variants can rewrite them). The host guarantees that the
// contiguous extent and every other stride are multiples of 4. A kernel with two products includes the file
// again with SIMT_TILE_FN (the function's name), SIMT_A and SIMT_B (its operands) defined.
#ifndef SIMT_TILE_DECLS
#define SIMT_TILE_DECLS
#extension GL_EXT_control_flow_attributes : enable
#ifndef SIMT_BK
#define SIMT_BK 8
#endif
#ifndef SIMT_BN
#define SIMT_BN 128
#endif
const uint BM = 128u, BN = SIMT_BN, BK = SIMT_BK;
const uint NG = BN / 64u;  // groups of 32 invocations across n; each group owns a 32 x 64 sub-tile
const uint NT = 128u * NG;  // invocations per workgroup
layout(local_size_x = NT) in;
const uint LOADS_A = BM * BK / (4u * NT), LOADS_B = BN * BK / (4u * NT);  // 4-vectors per invocation per K step
shared vec4 As[2][BK][BM / 4u];  // k-major: As[k][m / 4][m % 4]
shared vec4 Bs[2][BK][BN / 4u];  // k-major: Bs[k][n / 4][n % 4]

// This invocation's two 4-row groups (in 4-vectors of the tile's m) and two 4-column groups: the 4 x NG groups
// of 32 invocations tile the block, each a 32 x 64 sub-tile with its lanes 4 (m) x 8 (n), so a group's
// shared-memory reads of one k touch 4 distinct A vectors and 8 distinct B vectors.
uint tile_ra(uint t) { return (t / 32u / NG) * 8u + (t % 32u) / 8u; }
uint tile_cb(uint t) { return ((t / 32u) % NG) * 16u + t % 8u; }

// Row (within the tile) of accumulator row i of invocation t, and column of component c of accumulator group j.
uint tile_row(uint t, uint i) { return (tile_ra(t) + (i < 4u ? 0u : 4u)) * 4u + i % 4u; }
uint tile_col(uint t, uint j, uint c) { return (tile_cb(t) + (j == 0u ? 0u : 8u)) * 4u + c; }
#endif

// acc[i][j][c] = sum_k A[m0 + tile_row(i), k] * B[k, n0 + tile_col(j, c)] for this invocation's 8 x 8 block.
// A's element (m, k) is SIMT_A.d[(abase + m * sam + k * sak) / 4] (one 4-vector); B's (k, n) likewise.
#ifndef SIMT_TILE_FN
#define SIMT_TILE_FN simt_tile
#define SIMT_A pc.a
#define SIMT_B pc.b
#endif
void SIMT_TILE_FN(uint M, uint N, uint K, int abase, int sam, int sak, int bbase, int sbk, int sbn,
               uint m0, uint n0, out vec4 acc[8][2]) {
    uint t = gl_LocalInvocationID.x;
    uint ra0 = tile_ra(t), ra1 = ra0 + 4u, cb0 = tile_cb(t), cb1 = cb0 + 8u;
    // This invocation's share of each tile load; (ao, ai) is 4-vector q's (outer, inner) position in the tile,
    // the inner dimension being the contiguous one: (k, m) for a column-major A, else (m, k); (n, k) for a
    // column-major B, else (k, n).
    const uint AIN = A_COLMAJOR != 0 ? BM : BK, BIN = B_COLMAJOR != 0 ? BK : BN;  // contiguous extents
    uint ao[LOADS_A], ai[LOADS_A], bo[LOADS_B], bi[LOADS_B];
    [[unroll]] for (uint r = 0u; r < LOADS_A; ++r) {
        uint q = t + NT * r;
        ao[r] = q / (AIN / 4u); ai[r] = (q % (AIN / 4u)) * 4u;
    }
    [[unroll]] for (uint r = 0u; r < LOADS_B; ++r) {
        uint q = t + NT * r;
        bo[r] = q / (BIN / 4u); bi[r] = (q % (BIN / 4u)) * 4u;
    }
    vec4 ra[LOADS_A], rb[LOADS_B];
    // Whether the workgroup's tiles lie wholly inside A and B: then the loads skip their bounds tests (on an
    // H100, 0.77 -> 0.90 of cuBLAS at 4096^3).
    bool inside = m0 + BM <= M && n0 + BN <= N && K % BK == 0u;
#define FETCH_TILES(K0, CHECKED)                                                                            \
    [[unroll]] for (uint r = 0u; r < LOADS_A; ++r) {                                                        \
        uint mm = A_COLMAJOR != 0 ? m0 + ai[r] : m0 + ao[r], ka = A_COLMAJOR != 0 ? (K0) + ao[r] : (K0) + ai[r]; \
        ra[r] = !(CHECKED) || (mm < M && ka < K) ? A_V2F(SIMT_A.d[(abase + int(mm) * sam + int(ka) * sak) / 4]) : vec4(0); \
    }                                                                                                       \
    [[unroll]] for (uint r = 0u; r < LOADS_B; ++r) {                                                        \
        uint nn = B_COLMAJOR != 0 ? n0 + bo[r] : n0 + bi[r], kb = B_COLMAJOR != 0 ? (K0) + bi[r] : (K0) + bo[r]; \
        rb[r] = !(CHECKED) || (nn < N && kb < K) ? A_V2F(SIMT_B.d[(bbase + int(kb) * sbk + int(nn) * sbn) / 4]) : vec4(0); \
    }
#define FETCH(K0)                                                                                           \
    if (inside) {                                                                                           \
        FETCH_TILES(K0, false)                                                                              \
    } else {                                                                                                \
        FETCH_TILES(K0, true)                                                                               \
    }
#if A_COLMAJOR
#define STORE_A(BUF) [[unroll]] for (uint r = 0u; r < LOADS_A; ++r) As[BUF][ao[r]][ai[r] / 4u] = ra[r];
#else
#define STORE_A(BUF) [[unroll]] for (uint r = 0u; r < LOADS_A; ++r) \
        [[unroll]] for (uint c = 0u; c < 4u; ++c) As[BUF][ai[r] + c][ao[r] / 4u][ao[r] % 4u] = ra[r][c];
#endif
#if B_COLMAJOR
#define STORE_B(BUF) [[unroll]] for (uint r = 0u; r < LOADS_B; ++r) \
        [[unroll]] for (uint c = 0u; c < 4u; ++c) Bs[BUF][bi[r] + c][bo[r] / 4u][bo[r] % 4u] = rb[r][c];
#else
#define STORE_B(BUF) [[unroll]] for (uint r = 0u; r < LOADS_B; ++r) Bs[BUF][bo[r]][bi[r] / 4u] = rb[r];
#endif
    [[unroll]] for (uint i = 0u; i < 8u; ++i) { acc[i][0] = vec4(0); acc[i][1] = vec4(0); }
    FETCH(0u)
    STORE_A(0) STORE_B(0)
    barrier();
#define STEP(CUR, KS) {                                                                                    \
        bool more = (KS) + BK < K;                                                                      \
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
    for (uint k0 = 0u; k0 < K; k0 += 2u * BK) {
        STEP(0u, k0)
        if (k0 + BK >= K) break;
        STEP(1u, k0 + BK)
    }
#undef FETCH_TILES
#undef FETCH
#undef STORE_A
#undef STORE_B
#undef STEP
}
#undef SIMT_TILE_FN
#undef SIMT_A
#undef SIMT_B
