#version 460
// z = OP(a, b) for one dtype. Defines: A_* (operand dtype), O_* (result dtype), OP(a, b) on the compute type.
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf a; InBuf b; OutBuf z; uint n; } pc;
layout(constant_id = 1) const uint EW_PER = 4u;  // elements per invocation (kernels/elementwise.py)
#ifdef VEC4
// float32 in 16-byte vectors: pc.n counts vec4s (the dispatcher uses this variant when the size is a multiple of 4)
layout(buffer_reference, scalar) readonly buffer In4 { vec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer Out4 { vec4 d[]; };
void main() {
    uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    uint i = gid();
    In4 as = In4(pc.a);
    In4 bs = In4(pc.b);
    Out4 zs = Out4(pc.z);
    for (uint k = 0u; k < EW_PER; ++k, i += stride) {
        if (i >= pc.n) return;
        vec4 a4 = as.d[i];
        vec4 b4 = bs.d[i];
        zs.d[i] = vec4(OP(a4.x, b4.x), OP(a4.y, b4.y), OP(a4.z, b4.z), OP(a4.w, b4.w));
    }
}
#else
void main() {
    // EW_PER elements, one grid apart: coalesced, with several loads in flight per invocation
    uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    uint i = gid();
    for (uint k = 0u; k < EW_PER; ++k, i += stride) {
        if (i >= pc.n) return;
        A_CT a = A_LOAD(pc.a.d[i]);
        A_CT b = A_LOAD(pc.b.d[i]);
        pc.z.d[i] = O_STORE(OP(a, b));
    }
}
#endif
