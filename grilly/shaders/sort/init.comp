#version 460
// Sort keys for a bitonic sort of x viewed as [M, K], padded to P = 2^p columns: an order-preserving uint key
// (NaN largest, -0 equal to +0; descending flips every non-NaN key so NaNs still come last) and the original
// index, which breaks ties (the sort is stable). Padding gets key and index 0xFFFFFFFF.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer KeyBuf { uvec2 d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; KeyBuf keys; uint M; uint K; uint P; uint descending; } pc;
void main() {
    uint t = gid();
    if (t >= pc.M * pc.P) return;
    uint m = t / pc.P, k = t % pc.P;
    if (k >= pc.K) { pc.keys.d[t] = uvec2(0xFFFFFFFFu); return; }
    A_CT v = A_LOAD(pc.x.d[m * pc.K + k]);
    uint key;
    bool nan = false;
#if A_IS_FLOAT
    uint u = floatBitsToUint(float(v));
    nan = isnan(float(v));
    if ((u & 0x7FFFFFFFu) == 0u) u = 0u;  // -0 ties with +0, as in NumPy
    key = (u >> 31) != 0u ? ~u : (u | 0x80000000u);
#elif A_IS_BOOL
    key = uint(v);
#else
    key = A_KEY(v);
#endif
    if (nan) key = 0xFFFFFFFFu;
    else if (pc.descending != 0u) key = ~key;
    pc.keys.d[t] = uvec2(key, k);
}
