#version 460
// layer_norm over the last axis: one workgroup per row; mean, then the variance of (x - mean) (two passes for
// accuracy), then y = (x - mean) * rsqrt(var + eps) * gamma + beta.
#include "row_common.glsl"
layout(push_constant, scalar) uniform PC { InBuf x; InBuf gamma; InBuf beta; OutBuf y; uint M; uint K; float eps; } pc;
void main() {
    uint m = group_id();
    if (m >= pc.M) return;
    uint base = m * pc.K;
    float s = 0.0;
    for (uint k = gl_LocalInvocationID.x; k < pc.K; k += gl_WorkGroupSize.x) s += float(A_LOAD(pc.x.d[base + k]));
    float mean = wg_sum(s) / float(pc.K);
    float q = 0.0;
    for (uint k = gl_LocalInvocationID.x; k < pc.K; k += gl_WorkGroupSize.x) {
        float d = float(A_LOAD(pc.x.d[base + k])) - mean;
        q += d * d;
    }
    float rstd = inversesqrt(wg_sum(q) / float(pc.K) + pc.eps);
    for (uint k = gl_LocalInvocationID.x; k < pc.K; k += gl_WorkGroupSize.x) {
        float v = (float(A_LOAD(pc.x.d[base + k])) - mean) * rstd;
        pc.y.d[base + k] = A_STORE(v * float(A_LOAD(pc.gamma.d[k])) + float(A_LOAD(pc.beta.d[k])));
    }
}
