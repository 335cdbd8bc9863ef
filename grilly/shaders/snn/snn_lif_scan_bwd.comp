#version 460
// Fused multi-step LIF backward: one invocation per neuron walks the T steps in reverse over the saved
// pre-reset potential H, with cotangents for S, V and H, and writes dL/dx per step and dL/dV0. A_*: the storage
// dtype (float32, float16 or bfloat16); the arithmetic is float32.
// kind: the surrogate (grilly/snn/surrogate.py KINDS). flags: bit 0 hard reset, bit 1 decay_input,
// bit 2 fire at equality, bit 3 detach_reset; bits 4-6: the S, V, H cotangents are full arrays (else scalars
// standing for their broadcast). The loads of U steps are issued before any is used, as in the forward.
#extension GL_EXT_control_flow_attributes : require
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf h; InBuf gs; InBuf gv; InBuf gh; OutBuf gx; OutBuf gv0;
    uint n; uint steps; float a; float v_th; float v_r; float alpha; uint kind; uint flags;
} pc;

const float PI = 3.14159265358979;
const uint U = 8u;

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

// The cotangent's element k if `load`, else `scalar`. A branch, not a ?: (which may compile to a select that
// loads both sides): a scalar's buffer holds one element, and loading past it may fault. One function per buffer
// (not a buffer parameter) keeps the kernel in the form that has a descriptor-binding variant.
#define LOAD_OR(NAME, BUF) float NAME(bool load, uint k, float scalar) { float x = scalar; if (load) x = A_LOAD(pc.BUF.d[k]); return x; }
LOAD_OR(gs_or, gs)
LOAD_OR(gv_or, gv)
LOAD_OR(gh_or, gh)

// One reverse step at index k: dL/dx[k] and the dL/dV carried to the previous step.
float step(float g, float h, float gs, float gv, float gh, uint k) {
    bool hard = (pc.flags & 1u) != 0u, decay_input = (pc.flags & 2u) != 0u;
    bool at_equal = (pc.flags & 4u) != 0u, detach = (pc.flags & 8u) != 0u;
    precise float u = h - pc.v_th;
    float psi = surrogate(u);
    float gvt = gv + g;
    bool spike = at_equal ? u >= 0.0 : u > 0.0;
    float dvdh = hard ? (spike ? 0.0 : 1.0) : 1.0;
    float dvds = detach ? 0.0 : (hard ? pc.v_r - h : -pc.v_th);
    float ght = (gs + gvt * dvds) * psi + gvt * dvdh + gh;
    pc.gx.d[k] = A_STORE(ght * (decay_input ? pc.a : 1.0));
    return ght * (1.0 - pc.a);
}

void main() {
    uint i = gid();
    if (i >= pc.n) return;
    bool full_gs = (pc.flags & 16u) != 0u, full_gv = (pc.flags & 32u) != 0u, full_gh = (pc.flags & 64u) != 0u;
    bool any_step = pc.steps > 0u;  // with no steps every cotangent is empty: nothing may be read
    float gs0 = gs_or(!full_gs && any_step, 0u, 0.0);  // the values of scalar cotangents
    float gv0 = gv_or(!full_gv && any_step, 0u, 0.0);
    float gh0 = gh_or(!full_gh && any_step, 0u, 0.0);
    float g = 0.0;  // dL/dV[t] arriving from step t+1
    uint r = 0u;
    for (; r + U <= pc.steps; r += U) {  // U steps' loads in flight before the first is used
        float h[U], gs[U], gv[U], gh[U];
        [[unroll]] for (uint u = 0u; u < U; ++u) {
            uint k = (pc.steps - 1u - r - u) * pc.n + i;
            h[u] = A_LOAD(pc.h.d[k]);
            gs[u] = gs_or(full_gs, k, gs0);
            gv[u] = gv_or(full_gv, k, gv0);
            gh[u] = gh_or(full_gh, k, gh0);
        }
        [[unroll]] for (uint u = 0u; u < U; ++u)
            g = step(g, h[u], gs[u], gv[u], gh[u], (pc.steps - 1u - r - u) * pc.n + i);
    }
    for (; r < pc.steps; ++r) {
        uint k = (pc.steps - 1u - r) * pc.n + i;
        g = step(g, A_LOAD(pc.h.d[k]), gs_or(full_gs, k, gs0), gv_or(full_gv, k, gv0),
                 gh_or(full_gh, k, gh0), k);
    }
    pc.gv0.d[i] = A_STORE(g);
}
