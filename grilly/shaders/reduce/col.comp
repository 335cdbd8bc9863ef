#version 460
// Column reduction: y[g * M + m] = reduce_{k in chunk g} x[k * M + m] (the reduced axes lead). One invocation per
// output element and chunk of `chunk` rows: G > 1 chunks give partial results (reduced again by a second pass),
// so that few, long columns still occupy the whole device.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint M; uint K; uint chunk; uint G; } pc;
void main() {
    uint i = gid();
    if (i >= pc.M * pc.G) return;
    uint m = i % pc.M, g = i / pc.M;
    uint k1 = min(g * pc.chunk + pc.chunk, pc.K);
    ACC_T acc = IDENT;
    bool nan = false;
    for (uint k = g * pc.chunk; k < k1; ++k) {  // K <= 32768: lavapipe caps an invocation at 65535 loop iterations
        ACC_T v = ACC_T(A_LOAD(pc.x.d[k * pc.M + m]));
#if FNAN
        nan = nan || isnan(v);
#endif
        acc = COMBINE(acc, v);
    }
#if FNAN
    if (nan) acc = ACC_T(F_NAN);
#endif
    pc.y.d[i] = O_STORE(O_CT(acc));
}
