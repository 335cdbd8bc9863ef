#version 460
// The row softmax of the float32 attention forward that keeps the scores in memory (kernels/attention.py
// gemm_forward): one workgroup per row of S (scaled scores, -inf where hidden; row stride ldp), which becomes
// P = exp(S - lse) in place (zeros in the padding columns Sk..ldp) with lse its log-sum-exp (-inf, and P = 0,
// for a row that sees no key).
#include "row_common.glsl"
layout(buffer_reference, scalar) buffer RowBuf { float d[]; };
layout(buffer_reference, scalar) writeonly buffer LseBuf { float d[]; };
layout(push_constant, scalar) uniform PC { RowBuf s; LseBuf lse; uint rows; uint Sk; uint ldp; } pc;
void main() {
    uint r = group_id();
    if (r >= pc.rows) return;
    uint base = r * pc.ldp;
    float mx = -F_INF, sum = 0.0;
    for (uint k = gl_LocalInvocationID.x; k < pc.Sk; k += gl_WorkGroupSize.x) {
        float v = pc.s.d[base + k];
        float mn = max(mx, v);
        sum = (mn == -F_INF) ? 0.0 : sum * exp(mx - mn) + exp(v - mn);
        mx = mn;
    }
    float gm = wg_max(mx);
    float g = gm == -F_INF ? 0.0 : gm;
    float total = wg_sum(mx == -F_INF ? 0.0 : sum * exp(mx - g));
    float lse = total > 0.0 ? g + log(total) : -F_INF;
    if (gl_LocalInvocationID.x == 0u) pc.lse.d[r] = lse;
    for (uint k = gl_LocalInvocationID.x; k < pc.ldp; k += gl_WorkGroupSize.x)
        pc.s.d[base + k] = k < pc.Sk && total > 0.0 ? exp(pc.s.d[base + k] - lse) : 0.0;
}
