#version 460
// Fused multi-step LIF backward: one invocation per neuron walks the T steps in reverse over the saved
// pre-reset potential H, with cotangents for S, V and H, and writes dL/dx per step and dL/dV0.
// kind: the surrogate (grilly/snn/surrogate.py KINDS). flags: bit 0 hard reset, bit 1 decay_input,
// bit 2 fire at equality, bit 3 detach_reset; bits 4-6: the S, V, H cotangents are present (else zero, unread).
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { float d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { float d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf h; InBuf gs; InBuf gv; InBuf gh; OutBuf gx; OutBuf gv0;
    uint n; uint steps; float a; float v_th; float v_r; float alpha; uint kind; uint flags;
} pc;

const float PI = 3.14159265358979;

float surrogate(float u) {
    float al = pc.alpha;
    switch (pc.kind) {
    case 0u: { float z = 0.5 * PI * al * u; return (0.5 * al) / (1.0 + z * z); }            // atan
    case 1u: { float e = exp(-abs(al * u)); return al * e / ((1.0 + e) * (1.0 + e)); }     // sigmoid
    case 2u:                                                                                 // fast_sigmoid
    case 3u: { float d = al * abs(u) + 1.0; return 1.0 / (d * d); }                         // superspike
    case 4u: return max(1.0 - al * abs(u), 0.0);                                             // triangle
    case 5u: return al * max(1.0 - al * abs(u), 0.0);                                        // piecewise_quadratic
    case 6u: return al / sqrt(PI) * exp(-(al * u) * (al * u));                               // erf
    default: return al;                                                                      // straight_through
    }
}

void main() {
    uint i = gid();
    if (i >= pc.n) return;
    bool hard = (pc.flags & 1u) != 0u, decay_input = (pc.flags & 2u) != 0u;
    bool at_equal = (pc.flags & 4u) != 0u, detach = (pc.flags & 8u) != 0u;
    bool has_gs = (pc.flags & 16u) != 0u, has_gv = (pc.flags & 32u) != 0u, has_gh = (pc.flags & 64u) != 0u;
    float dhdx = decay_input ? pc.a : 1.0;
    float g = 0.0;  // dL/dV[t] arriving from step t+1
    for (uint r = 0u; r < pc.steps; ++r) {
        uint k = (pc.steps - 1u - r) * pc.n + i;
        float h = pc.h.d[k];
        precise float u = h - pc.v_th;
        float psi = surrogate(u);
        float gvt = (has_gv ? pc.gv.d[k] : 0.0) + g;
        bool spike = at_equal ? u >= 0.0 : u > 0.0;
        float dvdh = hard ? (spike ? 0.0 : 1.0) : 1.0;
        float dvds = detach ? 0.0 : (hard ? pc.v_r - h : -pc.v_th);
        float gh = ((has_gs ? pc.gs.d[k] : 0.0) + gvt * dvds) * psi + gvt * dvdh + (has_gh ? pc.gh.d[k] : 0.0);
        pc.gx.d[k] = gh * dhdx;
        g = gh * (1.0 - pc.a);
    }
    pc.gv0.d[i] = g;
}
