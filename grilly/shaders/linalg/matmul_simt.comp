#version 460
// Batched C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] in float32 arithmetic (no tensor cores): the portable fast
// GEMM, 128 x SIMT_BN tiles (see simt_tile.glsl). Defines: A_* operand dtype (A_VT: its 4-vector type, A_V2F(v):
// to vec4), O_* result dtype, A_COLMAJOR / B_COLMAJOR (0: k of A / n of B contiguous; 1: m of A / k of B
// contiguous), SIMT_BK, SIMT_BN. C's element (b, m, n) is at b * scb + m * scm + n.
#define WG 1
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InV { A_VT d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InV a; InV b; OutBuf c; uint M; uint N; uint K; uint b0;
    int sab; int sam; int sak; int sbb; int sbk; int sbn; int scb; int scm;
} pc;
#include "simt_tile.glsl"

void main() {
    uint t = gl_LocalInvocationID.x;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, bz = gl_WorkGroupID.z + pc.b0;
    vec4 acc[8][2];
    simt_tile(pc.M, pc.N, pc.K, int(bz) * pc.sab, pc.sam, pc.sak, int(bz) * pc.sbb, pc.sbk, pc.sbn,
              m0, n0, acc);
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint m = m0 + tile_row(t, i);
        if (m >= pc.M) continue;
        [[unroll]] for (uint j = 0u; j < 2u; ++j)
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                uint n = n0 + tile_col(t, j, c);
                if (n < pc.N) pc.c.d[int(bz) * pc.scb + int(m) * pc.scm + int(n)] = O_STORE(O_CT(acc[i][j][c]));
            }
    }
}
