#version 460
// Fused multi-step LIF forward: one invocation per neuron loops over the T steps (time-major (T, N) buffers).
// Writes spikes S, post-reset potential V and pre-reset potential H per step (H is saved for the backward).
// flags: bit 0 hard reset, bit 1 decay_input, bit 2 fire at equality. Same equations as the NumPy impl in
// grilly/snn/lif_primitive.py; `precise` keeps each product and sum separately rounded, as NumPy does.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { float d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { float d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf xs; InBuf v0; OutBuf s; OutBuf v; OutBuf h;
    uint n; uint steps; float a; float v_th; float v_r; uint flags;
} pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    bool hard = (pc.flags & 1u) != 0u, decay_input = (pc.flags & 2u) != 0u, at_equal = (pc.flags & 4u) != 0u;
    precise float v = pc.v0.d[i];
    for (uint t = 0u; t < pc.steps; ++t) {
        uint k = t * pc.n + i;
        float x = pc.xs.d[k];
        precise float h = decay_input ? v + (x - (v - pc.v_r)) * pc.a : v - (v - pc.v_r) * pc.a + x;
        precise float u = h - pc.v_th;
        bool spike = at_equal ? u >= 0.0 : u > 0.0;
        v = hard ? (spike ? pc.v_r : h) : (spike ? h - pc.v_th : h);
        pc.s.d[k] = spike ? 1.0 : 0.0;
        pc.v.d[k] = v;
        pc.h.d[k] = h;
    }
}
