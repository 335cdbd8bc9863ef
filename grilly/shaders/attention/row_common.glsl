// Workgroup-wide sum and max for the fused row kernels (one workgroup per row): subgroup ops, then shared memory.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
shared float red[128];

float wg_sum(float v) {
    v = subgroupAdd(v);
    barrier();
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float t = 0.0;
    for (uint s = 0u; s < gl_NumSubgroups; ++s) t += red[s];
    return t;
}

float wg_max(float v) {
    v = subgroupMax(v);
    barrier();
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float t = -F_INF;
    for (uint s = 0u; s < gl_NumSubgroups; ++s) t = max(t, red[s]);
    return t;
}
