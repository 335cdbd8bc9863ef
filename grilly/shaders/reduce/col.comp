#version 460
// Column reduction: y[m] = reduce_k x[k * M + m] (the reduced axes lead). One invocation per output element.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint M; uint K; } pc;
void main() {
    uint m = gid();
    if (m >= pc.M) return;
    ACC_T acc = IDENT;
    bool nan = false;
    for (uint k = 0u; k < pc.K; ++k) {  // K <= 32768: lavapipe caps an invocation at 65535 loop iterations
        ACC_T v = ACC_T(A_LOAD(pc.x.d[k * pc.M + m]));
#if FNAN
        nan = nan || isnan(v);
#endif
        acc = COMBINE(acc, v);
    }
#if FNAN
    if (nan) acc = ACC_T(F_NAN);
#endif
    pc.y.d[m] = O_STORE(O_CT(acc));
}
