#version 460
// The score-sized products of the float32 attention that keeps scores in memory (kernels/attention.py
// gemm_forward / gemm_backward), for one 128 x 128 block of one head z of a chunk, on the SIMT GEMM tile
// (simt_tile.glsl) with the softmax algebra fused into the stores. Visible: causal (key <= query) and the mask.
//   FORWARD:  p <- S = scale * Q K^T where the key is visible, else -inf (flash_fwd_probs.comp makes it P)
//   backward: p <- P = exp(scale * Q K^T - lse[row]) where the key is visible, else 0;
//             ds <- dS = scale * P * (dO V^T - delta[row])
// Q and dO (a, a2) are (seq, head_dim) with row stride srow, K and V (b, b2) likewise; head z starts sh elements
// further on. p and ds are (chunk, Sq, ldp) float32, ldp >= Sk a multiple of 4; the backward writes zeros in
// columns Sk..ldp. lse and delta: (chunk, Sq). mask: the chunk's first head of the bool mask; head z's (i, j) at
// z * smz + i * Sk + j.
#define WG 1
#define A_VT vec4
#define A_V2F(v) (v)
#define A_COLMAJOR 0
#define B_COLMAJOR 1
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InV { A_VT d[]; };
// P is read back by the invocation that wrote it, so its buffer is neither readonly nor writeonly
layout(buffer_reference, scalar) buffer PBuf { vec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { vec4 d[]; };
layout(buffer_reference, scalar) readonly buffer FBuf { float d[]; };
layout(buffer_reference, scalar) readonly buffer MBuf { uint8_t d[]; };
layout(push_constant, scalar) uniform PC {
    InV a; InV b; InV a2; InV b2; PBuf p; OutBuf ds; FBuf lse; FBuf delta; MBuf mask;
    uint Sq; uint Sk; uint ldp; uint D; int sh; int srow; float scale; uint causal; uint has_mask; uint smz;
} pc;
#include "../linalg/simt_tile.glsl"
#ifndef FORWARD
#define SIMT_TILE_FN simt_tile2
#define SIMT_A pc.a2
#define SIMT_B pc.b2
#include "../linalg/simt_tile.glsl"
#endif

void main() {
    uint t = gl_LocalInvocationID.x;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, z = gl_WorkGroupID.z;
    int hz = int(z) * pc.sh;
    vec4 acc[8][2];
    if (pc.causal != 0u && n0 >= m0 + BM) {  // every key of the block is after every query: hidden
        [[unroll]] for (uint i = 0u; i < 8u; ++i) {
            uint m = m0 + tile_row(t, i);
            [[unroll]] for (uint j = 0u; j < 2u; ++j) {
                uint n4 = n0 + tile_col(t, j, 0u), at = ((z * pc.Sq + m) * pc.ldp + n4) / 4u;
                if (m < pc.Sq && n4 < pc.ldp) {
#ifdef FORWARD
                    pc.p.d[at] = vec4(-F_INF);
#else
                    pc.p.d[at] = vec4(0);
                    pc.ds.d[at] = vec4(0);
#endif
                }
            }
        }
        return;
    }
    // Each accumulator group holds 4 consecutive columns: one 16-byte store (and load of P) per group; ldp and the
    // group's first column are multiples of 4, so a group lies wholly inside or wholly outside the padded row.
    simt_tile(pc.Sq, pc.Sk, pc.D, hz, pc.srow, 1, hz, 1, pc.srow, m0, n0, acc);  // S = Q K^T
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint m = m0 + tile_row(t, i);
        if (m >= pc.Sq) continue;
#ifdef FORWARD
        float r = 0.0;
        bool seen = true;
#else
        float r = pc.lse.d[z * pc.Sq + m];
        bool seen = !isinf(r);  // a row that sees no key has lse = -inf and P = 0
#endif
        uint base = (z * pc.Sq + m) * pc.ldp;
        [[unroll]] for (uint j = 0u; j < 2u; ++j) {
            uint n4 = n0 + tile_col(t, j, 0u);
            if (n4 >= pc.ldp) continue;
            vec4 x;
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                uint n = n4 + c;
                bool vis = seen && n < pc.Sk && (pc.causal == 0u || n <= m) &&
                           (pc.has_mask == 0u || pc.mask.d[z * pc.smz + m * pc.Sk + n] != uint8_t(0));
#ifdef FORWARD
                x[c] = vis ? pc.scale * acc[i][j][c] : -F_INF;
#else
                x[c] = vis ? exp(pc.scale * acc[i][j][c] - r) : 0.0;
#endif
            }
            pc.p.d[(base + n4) / 4u] = x;
        }
    }
#ifndef FORWARD
    simt_tile2(pc.Sq, pc.Sk, pc.D, hz, pc.srow, 1, hz, 1, pc.srow, m0, n0, acc);  // dP = dO V^T
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint m = m0 + tile_row(t, i);
        if (m >= pc.Sq) continue;
        float r = pc.delta.d[z * pc.Sq + m];
        uint base = (z * pc.Sq + m) * pc.ldp;
        [[unroll]] for (uint j = 0u; j < 2u; ++j) {
            uint n4 = n0 + tile_col(t, j, 0u);
            if (n4 < pc.ldp)  // P (this invocation's own stores above) is 0 past Sk
                pc.ds.d[(base + n4) / 4u] = pc.scale * pc.p.d[(base + n4) / 4u] * (acc[i][j] - r);
        }
    }
#endif
}
