#version 460
// y = OP(x) for one dtype. Defines: A_* (operand dtype), O_* (result dtype), OP(x) on the compute type.
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint n; int k; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    A_CT x = A_LOAD(pc.x.d[i]);
    pc.y.d[i] = O_STORE(OP(x));
}
