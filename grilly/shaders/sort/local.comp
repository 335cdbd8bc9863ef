#version 460
// All bitonic passes with distance j < 2 * WG inside shared memory: each workgroup owns 2 * WG consecutive
// pairs of one row. With FULL = 1 it runs stages k = 2 .. 2*WG (a complete local sort); otherwise it finishes
// stage k (given) for j = WG .. 1.
#define WG 1
#include "../include/common.glsl"
layout(local_size_x_id = 0) in;
layout(buffer_reference, scalar) buffer KeyBuf { uvec2 d[]; };
layout(push_constant, scalar) uniform PC { KeyBuf keys; uint M; uint P; uint k; uint full_; } pc;
shared uvec2 s[2048];
bool less(uvec2 a, uvec2 b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }
void main() {
    uint T = gl_WorkGroupSize.x, L = 2u * T;
    uint blocks = pc.P / L;
    uint g = group_id();
    if (g >= pc.M * blocks) return;
    uint base = (g / blocks) * pc.P + (g % blocks) * L;
    uint t = gl_LocalInvocationID.x;
    s[t] = pc.keys.d[base + t];
    s[t + T] = pc.keys.d[base + t + T];
    barrier();
    uint off = (g % blocks) * L;  // position of this block in its row (direction bits of k)
    uint k0 = pc.full_ != 0u ? 2u : pc.k, k1 = pc.full_ != 0u ? L : pc.k;
    for (uint k = k0; k <= k1; k <<= 1) {
        for (uint j = min(k >> 1, T); j > 0u; j >>= 1) {
            uint lo = (t / j) * 2u * j + (t % j), hi = lo + j;
            bool up = ((off + lo) & k) == 0u;
            uvec2 a = s[lo], b = s[hi];
            if (less(b, a) == up) { s[lo] = b; s[hi] = a; }
            barrier();
        }
    }
    pc.keys.d[base + t] = s[t];
    pc.keys.d[base + t + T] = s[t + T];
}
