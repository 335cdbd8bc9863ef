#version 460
// Element offsets of a dynamic slice: out[which] = sum_d clamp(idx_d, 0, limit_d) * stride_d, idx_d read from
// scalar int32 buffers (up to 6). which = 0 for the read side, 1 for the write side (dynamic_update_slice).
#define WG 1
#include "../include/common.glsl"
layout(local_size_x = 1) in;
layout(buffer_reference, scalar) readonly buffer IdxBuf { int d[]; };
layout(buffer_reference, scalar) buffer OutBuf { int d[]; };
layout(push_constant, scalar) uniform PC {
    OutBuf out_; IdxBuf idx[6]; uint ndim; uint which; int limit[6]; int stride[6];
} pc;
void main() {
    int off = 0;
    for (uint d = 0u; d < pc.ndim; ++d) off += clamp(pc.idx[d].d[0], 0, pc.limit[d]) * pc.stride[d];
    pc.out_.d[pc.which] = off;
    pc.out_.d[1u - pc.which] = 0;
}
