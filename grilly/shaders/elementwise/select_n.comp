#version 460
// out = cases[which]; up to 8 cases moved as raw bits (BITS_T) and a bool (uint8) or int32 selector (W_ST).
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer CaseBuf { BITS_T d[]; };
layout(buffer_reference, scalar) readonly buffer WhichBuf { W_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(push_constant, scalar) uniform PC {
    WhichBuf which; OutBuf y; CaseBuf c[8]; uint n; uint ncases; uint which_scalar;
} pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    int w = int(pc.which.d[pc.which_scalar != 0u ? 0u : i]);
    w = clamp(w, 0, int(pc.ncases) - 1);
    BITS_T v = pc.c[0].d[i];
    for (uint c = 1u; c < pc.ncases; ++c)  // a uniform index (descriptor arrays need one)
        if (uint(w) == c) v = pc.c[c].d[i];
    pc.y.d[i] = v;
}
