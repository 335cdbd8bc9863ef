#version 460
// delta[b, h, i] = sum_d dO[b, i, h, d] * O[b, i, h, d] (float32), one invocation per row.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer FBuf { float d[]; };
layout(push_constant, scalar) uniform PC { InBuf o; InBuf dout; FBuf delta; uint B; uint Sq; uint H; uint D; } pc;
void main() {
    uint r = gid();  // r = (b * Sq + i) * H + h, the row order of O
    if (r >= pc.B * pc.Sq * pc.H) return;
    uint h = r % pc.H, i = (r / pc.H) % pc.Sq, b = r / (pc.H * pc.Sq);
    float acc = 0.0;
    for (uint d = 0u; d < pc.D; ++d) acc += float(A_LOAD(pc.o.d[r * pc.D + d])) * float(A_LOAD(pc.dout.d[r * pc.D + d]));
    pc.delta.d[(b * pc.H + h) * pc.Sq + i] = acc;
}
