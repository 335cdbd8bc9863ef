#version 460
// threefry2x32 with 20 rounds (Salmon et al. 2011), bit-exact with the NumPy reference.
#include "../include/common.glsl"
layout(buffer_reference, scalar) readonly buffer UBuf { uint d[]; };
layout(buffer_reference, scalar) writeonly buffer OBuf { uint d[]; };
layout(push_constant, scalar) uniform PC { UBuf k1; UBuf k2; UBuf x1; UBuf x2; OBuf y1; OBuf y2; uint n; } pc;
uint rotl(uint v, uint d) { return (v << d) | (v >> (32u - d)); }
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    uint ks[3];
    ks[0] = pc.k1.d[0];
    ks[1] = pc.k2.d[0];
    ks[2] = ks[0] ^ ks[1] ^ 0x1BD11BDAu;
    uint a = pc.x1.d[i] + ks[0], b = pc.x2.d[i] + ks[1];
    const uint R0[4] = uint[4](13u, 15u, 26u, 6u);
    const uint R1[4] = uint[4](17u, 29u, 16u, 24u);
    for (uint blk = 0u; blk < 5u; ++blk) {
        for (uint r = 0u; r < 4u; ++r) {
            a += b;
            b = rotl(b, (blk % 2u == 0u) ? R0[r] : R1[r]) ^ a;
        }
        a += ks[(blk + 1u) % 3u];
        b += ks[(blk + 2u) % 3u] + blk + 1u;
    }
    pc.y1.d[i] = a;
    pc.y2.d[i] = b;
}
