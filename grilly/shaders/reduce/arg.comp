#version 460
// argmax / argmin along the last axis of x viewed as [M, K]: first index of the extreme, NaN counting as the
// extreme (as NumPy). One workgroup per row. Defines: A_* input, BETTER(a, b) (strict), int32 output.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { int d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint M; uint K; } pc;
shared A_CT sv[256];
shared uint si[256];
bool isnan_(A_CT v) {
#if A_IS_FLOAT
    return isnan(v);
#else
    return false;
#endif
}
// does (va, ia) beat (vb, ib)?
bool wins(A_CT va, uint ia, A_CT vb, uint ib) {
    if (ib == 0xFFFFFFFFu) return true;
    if (ia == 0xFFFFFFFFu) return false;
    bool na = isnan_(va), nb = isnan_(vb);
    if (na || nb) return na && (!nb || ia < ib);
    if (BETTER(va, vb)) return true;
    if (BETTER(vb, va)) return false;
    return ia < ib;
}
void main() {
    uint m = group_id();
    if (m >= pc.M) return;
    uint t = gl_LocalInvocationID.x;
    A_CT best = A_CT(0);
    uint bi = 0xFFFFFFFFu;
    for (uint k = t; k < pc.K; k += gl_WorkGroupSize.x) {
        A_CT v = A_LOAD(pc.x.d[m * pc.K + k]);
        if (wins(v, k, best, bi)) { best = v; bi = k; }
    }
    sv[t] = best; si[t] = bi;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (t < s && wins(sv[t + s], si[t + s], sv[t], si[t])) { sv[t] = sv[t + s]; si[t] = si[t + s]; }
        barrier();
    }
    if (t == 0u) pc.y.d[m] = int(si[0] == 0xFFFFFFFFu ? 0u : si[0]);
}
