#version 460
// One compare-exchange pass (stage k, distance j) of a bitonic sort over rows of P (key, index) pairs,
// ordered lexicographically.
#include "../include/common.glsl"
layout(buffer_reference, scalar) buffer KeyBuf { uvec2 d[]; };
layout(push_constant, scalar) uniform PC { KeyBuf keys; uint M; uint P; uint k; uint j; } pc;
bool less(uvec2 a, uvec2 b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }
void main() {
    uint t = gid();
    uint half_ = pc.P / 2u;
    if (t >= pc.M * half_) return;
    uint m = t / half_, p = t % half_;
    uint lo = (p / pc.j) * 2u * pc.j + (p % pc.j);
    uint hi = lo + pc.j;
    bool up = (lo & pc.k) == 0u;
    uint base = m * pc.P;
    uvec2 a = pc.keys.d[base + lo], b = pc.keys.d[base + hi];
    if (less(b, a) == up) { pc.keys.d[base + lo] = b; pc.keys.d[base + hi] = a; }
}
