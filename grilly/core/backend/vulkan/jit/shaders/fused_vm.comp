#version 460
// Fused elementwise chains: one precompiled kernel interprets a short register program per element.
// Code words come in pairs: (op | dst << 8 | a << 16 | b << 24, immediate). Slots 0..11 are buffer addresses
// (inputs, then outputs); a load's immediate m != 0 reads element i % m (scalars, trailing-axis broadcasts).
// Two register files: r (float32; booleans as 0.0 / 1.0, never stored) and q (int32).
// The float functions are the ones the single-op kernels use (math.glsl), so fused and eager results agree.
#include "common.glsl"
#include "math.glsl"
layout(buffer_reference, scalar) buffer FBuf { float d[]; };
layout(buffer_reference, scalar) buffer IBuf { int d[]; };
layout(buffer_reference, scalar) readonly buffer Code { uint w[]; };
layout(push_constant, scalar) uniform PC { Code code; uint64_t slot[12]; uint n; uint ncode; } pc;
void main() {
    uint i = gid();
    if (i >= pc.n) return;
    float r[16];
    int q[16];
    for (int k = 0; k < 16; ++k) { r[k] = 0.0; q[k] = 0; }
    for (uint p = 0u; p < pc.ncode; p += 2u) {
        uint w = pc.code.w[p];
        uint op = w & 0xFFu, d = (w >> 8) & 0xFFu, a = (w >> 16) & 0xFFu, b = w >> 24;
        uint imm = pc.code.w[p + 1u];
        float x = r[a & 15u], y = r[b & 15u], z = 0.0;
        int xi = q[a & 15u], yi = q[b & 15u];
        switch (op) {
            case 0u: z = FBuf(pc.slot[a]).d[imm == 0u ? i : i % imm]; break;
            case 1u: FBuf(pc.slot[d]).d[i] = x; continue;
            case 2u: z = uintBitsToFloat(imm); break;
            case 3u: q[d & 15u] = IBuf(pc.slot[a]).d[imm == 0u ? i : i % imm]; continue;
            case 4u: IBuf(pc.slot[d]).d[i] = xi; continue;
            case 5u: q[d & 15u] = int(imm); continue;
            case 10u: z = -x; break;
            case 11u: z = exp(x); break;
            case 12u: z = x < 0.0 ? F_NAN : log(x); break;
            case 13u: z = sin(x); break;
            case 14u: z = cos(x); break;
            case 15u: z = tanh_(x); break;
            case 16u: z = 1.0 / (1.0 + exp(-x)); break;
            case 17u: z = x < 0.0 ? F_NAN : sqrt(x); break;
            case 18u: z = x < 0.0 ? F_NAN : 1.0 / sqrt(x); break;
            case 19u: z = abs(x); break;
            case 20u: z = sign_(x); break;
            case 21u: z = floor(x); break;
            case 22u: z = ceil(x); break;
            case 23u: z = expm1_(x); break;
            case 24u: z = x < -1.0 ? F_NAN : log1p_(x); break;
            case 25u: z = ipow_f(x, int(imm)); break;
            case 26u: z = exp2(x); break;
            case 27u: z = roundEven(x); break;
            case 40u: z = x + y; break;
            case 41u: z = x - y; break;
            case 42u: z = x * y; break;
            case 43u: z = x / y; break;
            case 44u: z = max_(x, y); break;
            case 45u: z = min_(x, y); break;
            case 46u: z = pow_(x, y); break;
            case 50u: z = float(x > y); break;
            case 51u: z = float(x < y); break;
            case 52u: z = float(x >= y); break;
            case 53u: z = float(x <= y); break;
            case 54u: z = float(x == y); break;
            case 55u: z = float(!(x == y)); break;
            case 56u: z = x; break;
            case 57u: z = r[imm & 15u] != 0.0 ? y : x; break;
            case 58u: z = 1.0 - x; break;
            case 60u: q[d & 15u] = xi + yi; continue;
            case 61u: q[d & 15u] = xi - yi; continue;
            case 62u: q[d & 15u] = xi * yi; continue;
            case 63u: q[d & 15u] = min(xi, yi); continue;
            case 64u: q[d & 15u] = max(xi, yi); continue;
            case 65u: q[d & 15u] = -xi; continue;
            case 66u: z = float(xi > yi); break;
            case 67u: z = float(xi < yi); break;
            case 68u: z = float(xi >= yi); break;
            case 69u: z = float(xi <= yi); break;
            case 70u: z = float(xi == yi); break;
            case 71u: z = float(xi != yi); break;
            case 72u: q[d & 15u] = r[imm & 15u] != 0.0 ? yi : xi; continue;
            case 73u: z = float(xi); break;
            case 74u: q[d & 15u] = int(x); continue;
            default: z = F_NAN; break;
        }
        r[d & 15u] = z;
    }
}
