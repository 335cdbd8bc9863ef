#version 460
// y = convert(x): A_* source dtype, O_* target dtype, CONV(x) maps A's compute type to O's compute type.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint n; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    A_CT x = A_LOAD(pc.x.d[i]);
    pc.y.d[i] = O_STORE(CONV(x));
}
