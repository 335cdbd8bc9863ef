#version 460
// y = OP(x) for one dtype. Defines: A_* (operand dtype), O_* (result dtype), OP(x) on the compute type.
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint n; int k; } pc;
layout(constant_id = 1) const uint EW_PER = 4u;  // elements per invocation (kernels/elementwise.py)
#ifdef VEC4
// float32 in 16-byte vectors: pc.n counts vec4s (the dispatcher uses this variant when the size is a multiple of 4)
layout(buffer_reference, scalar) readonly buffer In4 { vec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer Out4 { vec4 d[]; };
void main() {
    uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    uint i = gid();
    In4 xs = In4(pc.x);
    Out4 ys = Out4(pc.y);
    for (uint k = 0u; k < EW_PER; ++k, i += stride) {
        if (i >= pc.n) return;
        vec4 v = xs.d[i];
        ys.d[i] = vec4(OP(v.x), OP(v.y), OP(v.z), OP(v.w));
    }
}
#else
void main() {
    // EW_PER elements, one grid apart: coalesced, with several loads in flight per invocation
    uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    uint i = gid();
    for (uint k = 0u; k < EW_PER; ++k, i += stride) {
        if (i >= pc.n) return;
        A_CT x = A_LOAD(pc.x.d[i]);
        pc.y.d[i] = O_STORE(OP(x));
    }
}
#endif
