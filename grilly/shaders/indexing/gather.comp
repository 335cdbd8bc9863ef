#version 460
// out[o, i, r] = x[o, clamp(idx[i], 0, N - 1), r]: take along one axis, raw bits BITS_T, index type IDX_T.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { BITS_T d[]; };
layout(buffer_reference, scalar) readonly buffer IdxBuf { IDX_T d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(push_constant, scalar) uniform PC { InBuf x; IdxBuf idx; OutBuf y; uint n; uint I; uint R; uint N; } pc;
void main() {
    uint t = gid();
    if (t >= pc.n) return;
    uint r = t % pc.R, i = (t / pc.R) % pc.I, o = t / (pc.R * pc.I);
    IDX_T j = pc.idx.d[i];
    uint jj = uint(clamp(j, IDX_T(0), IDX_T(pc.N - 1u)));
    pc.y.d[t] = pc.x.d[(o * pc.N + jj) * pc.R + r];
}
