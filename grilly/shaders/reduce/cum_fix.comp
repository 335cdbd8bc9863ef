#version 460
// Third pass of a segmented scan: y[o, k, j] = COMBINE(pre[o, seg(k) - 1, j], y[o, k, j]) for steps outside the
// first segment, where pre holds the scanned segment totals (ACC_T). Defines: A_*, ACC_T, COMBINE(a, b).
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) buffer OutBuf { A_ST d[]; };
layout(buffer_reference, scalar) readonly buffer PreBuf { ACC_T d[]; };
layout(push_constant, scalar) uniform PC {
    OutBuf y; PreBuf pre; uint outer; uint K; uint inner; uint reverse; uint S; uint nseg;
} pc;
void main() {
    uint i = gid();
    if (i >= pc.outer * pc.K * pc.inner) return;
    uint j = i % pc.inner, k = (i / pc.inner) % pc.K, o = i / (pc.inner * pc.K);
    uint s = pc.reverse != 0u ? pc.K - 1u - k : k;
    uint seg = s / pc.S;
    if (seg == 0u) return;
    ACC_T p = pc.pre.d[(o * pc.nseg + seg - 1u) * pc.inner + j];
    pc.y.d[i] = A_STORE(A_CT(COMBINE(p, ACC_T(A_LOAD(pc.y.d[i])))));
}
