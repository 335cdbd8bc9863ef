#version 460
// After the sort: values[m, i] = x[m, idx] and indices[m, i] = idx for the first Kout columns of each row.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { BITS_T d[]; };
layout(buffer_reference, scalar) readonly buffer KeyBuf { uvec2 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(buffer_reference, scalar) writeonly buffer IdxBuf { int d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf x; KeyBuf keys; OutBuf vals; IdxBuf idx; uint M; uint K; uint P; uint Kout;
} pc;
void main() {
    uint t = gid();
    if (t >= pc.M * pc.Kout) return;
    uint m = t / pc.Kout, i = t % pc.Kout;
    uint j = pc.keys.d[m * pc.P + i].y;
    if (uint64_t(pc.vals) != 0ul) pc.vals.d[t] = pc.x.d[m * pc.K + j];
    if (uint64_t(pc.idx) != 0ul) pc.idx.d[t] = int(j);
}
