#version 460
// Row softmax over the last axis: one workgroup per row; the running (max, sum) of each invocation is merged
// across the workgroup, then the row is read once more to write exp(x - max) / sum.
#include "row_common.glsl"
layout(push_constant, scalar) uniform PC { InBuf x; OutBuf y; uint M; uint K; } pc;
void main() {
    uint m = group_id();
    if (m >= pc.M) return;
    uint base = m * pc.K;
    float mx = -F_INF, s = 0.0;
    for (uint k = gl_LocalInvocationID.x; k < pc.K; k += gl_WorkGroupSize.x) {
        float v = float(A_LOAD(pc.x.d[base + k]));
        float mn = max(mx, v);
        s = (mn == -F_INF) ? 0.0 : s * exp(mx - mn) + exp(v - mn);
        mx = mn;
    }
    float gm = wg_max(mx);
    float g = gm == -F_INF ? 0.0 : gm;
    float gs = wg_sum(mx == -F_INF ? 0.0 : s * exp(mx - g));
    float inv = 1.0 / gs;
    for (uint k = gl_LocalInvocationID.x; k < pc.K; k += gl_WorkGroupSize.x)
        pc.y.d[base + k] = A_STORE(exp(float(A_LOAD(pc.x.d[base + k])) - g) * inv);
}
