#version 460
// out[o, idx[i], r] = COMBINE(out[o, idx[i], r], upd[o, i, r]) for in-range indices; ``out`` already holds x.
// MODE_SET stores directly (one of the colliding updates wins); other modes update the 32-bit word holding the
// element with a compare-and-swap loop, which works for every element width. Defines: A_* dtype, IDX_T,
// COMBINE(a, b), FROMBITS(u) (-> A_CT), TOBITS(v) (-> uint), MODE_SET.
#include "../include/common.glsl"
#include "../include/math.glsl"
layout(buffer_reference, scalar) readonly buffer UpdBuf { A_ST d[]; };
layout(buffer_reference, scalar) readonly buffer IdxBuf { IDX_T d[]; };
layout(buffer_reference, scalar) buffer OutBuf { A_ST d[]; };
layout(buffer_reference, scalar) buffer WordBuf { uint d[]; };
layout(push_constant, scalar) uniform PC {
    UpdBuf u; IdxBuf idx; OutBuf y; WordBuf w; uint n; uint I; uint R; uint N;
} pc;
void main() {
    uint t = gid();
    if (t >= pc.n) return;
    uint r = t % pc.R, i = (t / pc.R) % pc.I, o = t / (pc.R * pc.I);
    IDX_T j = pc.idx.d[i];
    if (j < IDX_T(0) || j >= IDX_T(pc.N)) return;
    uint e = (o * pc.N + uint(j)) * pc.R + r;
#if MODE_SET
    pc.y.d[e] = pc.u.d[t];
#else
    A_CT v = A_LOAD(pc.u.d[t]);
    uint byte_off = e * uint(A_BITS / 8);
    uint word = byte_off / 4u, shift = (byte_off % 4u) * 8u;
    uint mask = A_UMASK << shift;
    uint old = pc.w.d[word];
    for (uint tries = 0u; tries < 60000u; ++tries) {
        A_CT cur = FROMBITS((old & mask) >> shift);
        uint nw = (old & ~mask) | ((TOBITS(COMBINE(cur, v)) << shift) & mask);
        uint seen = atomicCompSwap(pc.w.d[word], old, nw);
        if (seen == old) break;
        old = seen;
    }
#endif
}
