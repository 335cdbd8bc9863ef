#version 460
// out[out_off + sum(i_d * ostride_d)] = in[in_off + sum(i_d * istride_d)] over an index space of up to 6 dims,
// moving raw bits of BITS_T. Strides may be 0 (broadcast) or negative (rev). With a nonzero ``dyn`` address the
// offsets are shifted by dyn[0] (input) and dyn[1] (output), computed on the GPU (dynamic_slice).
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer InBuf { BITS_T d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { BITS_T d[]; };
layout(buffer_reference, scalar) readonly buffer DynBuf { int d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf x; OutBuf y; DynBuf dyn; uint n; uint ndim; int in_off; int out_off;
    uint shape[6]; int istride[6]; int ostride[6];
} pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    int src = pc.in_off, dst = pc.out_off;
    uint rest = i;
    for (int d = int(pc.ndim) - 1; d >= 0; --d) {
        uint c = rest % pc.shape[d];
        rest /= pc.shape[d];
        src += int(c) * pc.istride[d];
        dst += int(c) * pc.ostride[d];
    }
    if (uint64_t(pc.dyn) != 0ul) { src += pc.dyn.d[0]; dst += pc.dyn.d[1]; }
    pc.y.d[dst] = pc.x.d[src];
}
