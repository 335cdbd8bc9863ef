#version 460
// out[i] = (i / inner) % n along one dimension, converted to the output dtype (A_*).
#include "../include/common.glsl"
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
layout(push_constant, scalar) uniform PC { OutBuf y; uint n; uint inner; uint dim; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    uint k = (i / pc.inner) % pc.dim;
#if A_IS_FLOAT
    pc.y.d[i] = A_STORE(float(k));
#elif A_IS_BOOL
    pc.y.d[i] = A_STORE(min(k, 1u));
#else
    pc.y.d[i] = A_STORE(A_CT(k));
#endif
}
