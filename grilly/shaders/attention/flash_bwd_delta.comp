#version 460
// delta[b, h, i] = sum_d dO[b, i, h, d] * O[b, i, h, d] (float32). A workgroup takes ROWS consecutive rows of O
// (row r = (b * Sq + i) * H + h), each subgroup one row at a time: its lanes read consecutive elements (coalesced)
// and the subgroup adds them up. Correct for any subgroup size. With `clear` set it also zeroes the float32 array
// `zero` of O's shape (the dQ accumulator of the kernels that add dQ up atomically).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define WG 1
#include "../include/common.glsl"
layout(local_size_x = 256) in;
const uint ROWS = 32u;
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer FBuf { float d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf o; InBuf dout; FBuf delta; FBuf zero; uint B; uint Sq; uint H; uint D; uint clear;
} pc;
void main() {
    uint r0 = group_id() * ROWS, rows = pc.B * pc.Sq * pc.H;
    for (uint r = r0 + gl_SubgroupID; r < min(r0 + ROWS, rows); r += gl_NumSubgroups) {
        float acc = 0.0;
        for (uint d = gl_SubgroupInvocationID; d < pc.D; d += gl_SubgroupSize) {
            acc += float(A_LOAD(pc.o.d[r * pc.D + d])) * float(A_LOAD(pc.dout.d[r * pc.D + d]));
            if (pc.clear != 0u) pc.zero.d[r * pc.D + d] = 0.0;
        }
        acc = subgroupAdd(acc);
        uint h = r % pc.H, i = (r / pc.H) % pc.Sq, b = r / (pc.H * pc.Sq);
        if (subgroupElect()) pc.delta.d[(b * pc.H + h) * pc.Sq + i] = acc;
    }
}
