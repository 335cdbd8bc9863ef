#version 460
// z = nextafter(a, b) on the storage bits of a float dtype. Defines: BITS_T (unsigned storage type), TOF(u)
// (bits to float32), NANBITS, SIGNBIT.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { BITS_T d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(push_constant, scalar) uniform PC { InBuf a; InBuf b; OutBuf z; uint n; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    uint ua = uint(pc.a.d[i]), ub = uint(pc.b.d[i]);
    float a = TOF(ua), b = TOF(ub);
    uint r;
    if (isnan(a) || isnan(b)) r = NANBITS;
    else if (a == b) r = ub;
    else if (a == 0.0) r = (ub & SIGNBIT) | 1u;
    else if ((a < b) == (a > 0.0)) r = ua + 1u;
    else r = ua - 1u;
    pc.z.d[i] = BITS_T(r);
}
