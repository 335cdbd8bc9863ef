#version 460
// Copies listed in a table of (src address, dst address, 16-byte units): entry first + gl_WorkGroupID.y per
// row of workgroups. Binds a recorded program's inputs and outputs without re-recording its command buffer.
#include "common.glsl"
layout(buffer_reference, scalar) buffer V4 { uvec4 d[]; };
layout(buffer_reference, scalar) readonly buffer Table { uint64_t e[]; };
layout(push_constant, scalar) uniform PC { Table table; uint first; } pc;
void main() {
    uint k = pc.first + gl_WorkGroupID.y;
    V4 src = V4(pc.table.e[3u * k]);
    V4 dst = V4(pc.table.e[3u * k + 1u]);
    uint n = uint(pc.table.e[3u * k + 2u]);
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint j = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x; j < n; j += stride)
        dst.d[j] = src.d[j];
}
