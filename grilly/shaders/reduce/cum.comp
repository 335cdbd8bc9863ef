#version 460
// Cumulative op along the middle axis of x viewed as [outer, K, inner]. The K steps (in scan order: reversed
// when ``reverse``) are cut into nseg segments of S steps; invocation (o, seg, j) scans its segment sequentially
// and, with a ``tot`` buffer, stores the segment's total (as ACC_T) at tot[(o * nseg + seg) * inner + j].
// A second pass scans the totals and cum_fix.comp folds them in. Defines: A_*, ACC_T, COMBINE(a, b).
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer TotBuf { ACC_T d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf x; OutBuf y; TotBuf tot; uint outer; uint K; uint inner; uint reverse; uint S; uint nseg;
} pc;
void main() {
    uint i = gid();
    if (i >= pc.outer * pc.nseg * pc.inner) return;
    uint j = i % pc.inner, seg = (i / pc.inner) % pc.nseg, o = i / (pc.inner * pc.nseg);
    uint base = o * pc.K * pc.inner + j;
    uint s0 = seg * pc.S, s1 = min(pc.K, s0 + pc.S);
    ACC_T acc;
    for (uint s = s0; s < s1; ++s) {  // S <= 32768: lavapipe caps an invocation at 65535 loop iterations
        uint k = pc.reverse != 0u ? pc.K - 1u - s : s;
        ACC_T v = ACC_T(A_LOAD(pc.x.d[base + k * pc.inner]));
        acc = s == s0 ? v : COMBINE(acc, v);
        pc.y.d[base + k * pc.inner] = A_STORE(A_CT(acc));
    }
    if (uint64_t(pc.tot) != 0ul && s1 > s0) pc.tot.d[(o * pc.nseg + seg) * pc.inner + j] = acc;
}
