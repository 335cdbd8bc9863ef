#version 460
// z = OP(a, b) for one dtype. Defines: A_* (operand dtype), O_* (result dtype), OP(a, b) on the compute type.
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf a; InBuf b; OutBuf z; uint n; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    A_CT a = A_LOAD(pc.a.d[i]);
    A_CT b = A_LOAD(pc.b.d[i]);
    pc.z.d[i] = O_STORE(OP(a, b));
}
