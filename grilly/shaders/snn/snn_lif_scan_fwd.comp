#version 460
// Fused multi-step LIF forward: one invocation per neuron loops over the T steps (time-major (T, N) buffers).
// Writes spikes S, post-reset potential V and pre-reset potential H per step (H is saved for the backward).
// A_*: the storage dtype (float32, float16 or bfloat16); the potential is carried and computed in float32.
// flags: bit 0 hard reset, bit 1 decay_input, bit 2 fire at equality; bits 4-6: S, V, H are unused (not written).
// Same equations as the NumPy impl in grilly/snn/lif_primitive.py; `precise` keeps each product and sum
// separately rounded, as NumPy does. The inputs of U steps are loaded before any of them is used: with one
// neuron per invocation a load per step leaves too few bytes in flight to cover memory latency.
#extension GL_EXT_control_flow_attributes : require
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf xs; InBuf v0; OutBuf s; OutBuf v; OutBuf h;
    uint n; uint steps; float a; float v_th; float v_r; uint flags;
} pc;
const uint U = 8u;

void step(inout float v, float x, uint k) {
    bool hard = (pc.flags & 1u) != 0u, decay_input = (pc.flags & 2u) != 0u, at_equal = (pc.flags & 4u) != 0u;
    precise float vv = v;
    precise float h = decay_input ? vv + (x - (vv - pc.v_r)) * pc.a : vv - (vv - pc.v_r) * pc.a + x;
    precise float u = h - pc.v_th;
    bool spike = at_equal ? u >= 0.0 : u > 0.0;
    precise float soft = h - pc.v_th;
    v = hard ? (spike ? pc.v_r : h) : (spike ? soft : h);
    if ((pc.flags & 16u) == 0u) pc.s.d[k] = A_STORE(spike ? 1.0 : 0.0);
    if ((pc.flags & 32u) == 0u) pc.v.d[k] = A_STORE(v);
    if ((pc.flags & 64u) == 0u) pc.h.d[k] = A_STORE(h);
}

void main() {
    uint i = gid();
    if (i >= pc.n) return;
    float v = A_LOAD(pc.v0.d[i]);
    uint t = 0u;
    for (; t + U <= pc.steps; t += U) {
        float x[U];
        [[unroll]] for (uint u = 0u; u < U; ++u) x[u] = A_LOAD(pc.xs.d[(t + u) * pc.n + i]);
        [[unroll]] for (uint u = 0u; u < U; ++u) step(v, x[u], (t + u) * pc.n + i);
    }
    for (; t < pc.steps; ++t) step(v, A_LOAD(pc.xs.d[t * pc.n + i]), t * pc.n + i);
}
