#version 460
// Row reduction: y[m * G + seg] = reduce(x[m, seg*chunk : (seg+1)*chunk]) for x viewed as [M, K]. One workgroup
// per (row, segment); subgroup ops, then shared memory across subgroups. G > 1 writes partials (a second
// pass reduces them). Defines: A_* input, O_* output, ACC_T, IDENT, COMBINE(a, b), SG(v), FNAN (NaN wins).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_vote : require
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint M; uint K; uint chunk; uint G; } pc;
shared ACC_T sh[128];
shared bool shnan[128];
void main() {
    uint g = group_id();
    uint m = g / pc.G, seg = g % pc.G;
    if (m >= pc.M) return;
    uint k0 = seg * pc.chunk, k1 = min(pc.K, k0 + pc.chunk);
    uint base = m * pc.K;
    ACC_T acc = IDENT;
    bool nan = false;
    for (uint k = k0 + gl_LocalInvocationID.x; k < k1; k += gl_WorkGroupSize.x) {
        ACC_T v = ACC_T(A_LOAD(pc.x.d[base + k]));
#if FNAN
        nan = nan || isnan(v);
#endif
        acc = COMBINE(acc, v);
    }
    acc = SG(acc);
#if FNAN
    nan = subgroupAny(nan);
#endif
    if (subgroupElect()) { sh[gl_SubgroupID] = acc; shnan[gl_SubgroupID] = nan; }
    barrier();
    if (gl_LocalInvocationID.x == 0u) {
        for (uint s = 1u; s < gl_NumSubgroups; ++s) { acc = COMBINE(acc, sh[s]); nan = nan || shnan[s]; }
#if FNAN
        if (nan) acc = ACC_T(F_NAN);
#endif
        pc.y.d[m * pc.G + seg] = O_STORE(O_CT(acc));
    }
}
