#version 460
// out[z, c, r] = in[z, r, c] for a contiguous (Z, R, C) array, moving raw bits of BITS_T: each workgroup passes a
// 32 x 32 tile through shared memory (rows padded to 33 words against bank conflicts), so that both the reads
// and the writes are coalesced where the strided copy's are not.
#define WG 1
#include "../include/common.glsl"
layout(local_size_x = 32, local_size_y = 8) in;
layout(buffer_reference, scalar) readonly buffer InBuf { BITS_T d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint R; uint C; uint z0; } pc;
#if BITS == 64
shared uvec2 tile[32][33];
#define TO_SHARED(v) unpackUint2x32(v)
#define FROM_SHARED(v) packUint2x32(v)
#else
shared uint tile[32][33];
#define TO_SHARED(v) uint(v)
#define FROM_SHARED(v) BITS_T(v)
#endif
void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint c0 = gl_WorkGroupID.x * 32u, r0 = gl_WorkGroupID.y * 32u;
    uint base = (gl_WorkGroupID.z + pc.z0) * pc.R * pc.C;
    for (uint j = ty; j < 32u; j += 8u) {
        uint r = r0 + j, c = c0 + tx;
        if (r < pc.R && c < pc.C) tile[j][tx] = TO_SHARED(pc.x.d[base + r * pc.C + c]);
    }
    barrier();
    for (uint j = ty; j < 32u; j += 8u) {
        uint c = c0 + j, r = r0 + tx;
        if (r < pc.R && c < pc.C) pc.y.d[base + c * pc.R + r] = FROM_SHARED(tile[tx][j]);
    }
}
