#version 460
// Cumulative op along the middle axis of x viewed as [outer, K, inner], sequential per (outer, inner) as NumPy.
// One dispatch covers steps [s0, s1) of the scan; a later dispatch continues from the value stored at step
// s0 - 1 (long axes are split so that no invocation loops more than 32768 times). Defines: A_*, ACC_T,
// COMBINE(a, b).
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) buffer OutBuf { A_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf x; OutBuf y; uint outer; uint K; uint inner; uint reverse; uint s0; uint s1;
} pc;
uint step_index(uint s) { return pc.reverse != 0u ? pc.K - 1u - s : s; }
void main() {
    uint i = gid();
    if (i >= pc.outer * pc.inner) return;
    uint o = i / pc.inner, j = i % pc.inner;
    uint base = o * pc.K * pc.inner + j;
    ACC_T acc;
    if (pc.s0 > 0u) acc = ACC_T(A_LOAD(pc.y.d[base + step_index(pc.s0 - 1u) * pc.inner]));
    for (uint s = pc.s0; s < pc.s1; ++s) {
        uint k = step_index(s);
        ACC_T v = ACC_T(A_LOAD(pc.x.d[base + k * pc.inner]));
        acc = s == 0u ? v : COMBINE(acc, v);
        pc.y.d[base + k * pc.inner] = A_STORE(A_CT(acc));
    }
}
