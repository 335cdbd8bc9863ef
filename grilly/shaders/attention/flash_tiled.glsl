// Shared by the register-tiled portable flash kernels (flash_fwd_tiled, flash_bwd_dkdv_tiled): head dims up to
// DP = 64 (zero padded), tiles of rows staged in the shared array SH as D4 4-vectors per row, plain or swizzled
// (the tile layouts below: invocations reading different rows at one d4 hit distinct banks). The including
// kernel defines WGS (its workgroup size) and HOT (rows of each of the two tiles it stages every step), declares
// `pc` and `shared vec4 SH[]`, then includes this file. Define VEC 1 for float32 arrays that are 16-byte aligned
// with a head dim that is a multiple of 4: they are read as 4-vectors.
const uint DP = 64u, D4 = DP / 4u;
#ifdef TX
const uint NV = D4 / TX;  // output 4-vectors per invocation along the head dim (at 4 (tx + TX v)..)
#endif

// Tile layouts (the slot of 4-vector q4 of row r): rows of D4 4-vectors, plain (PLAIN), with q4 ^ (r % 16)
// (SWZ: rows read together at one q4 hit distinct banks), or with q4 ^ 4 (r % 4) (SWZ4: for invocations that
// read 4 rows at 4 interleaved q4 each).
const uint PLAIN = 0u, SWZ = 1u, SWZ4 = 2u;
uint kslot(uint c, uint q4) { return c * D4 + (q4 ^ (c % 16u)); }
uint tile_slot(uint base, uint mode, uint r, uint q4) {
    return base + r * D4 + (mode == SWZ ? q4 ^ (r % 16u) : mode == SWZ4 ? q4 ^ ((r % 4u) << 2u) : q4);
}

#if VEC
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer InV4 { vec4 d[]; };
#endif

// Four consecutive elements (from d0) of row r of head h, zero past the row or the sequence.
vec4 row4(InBuf x, uint b, uint h, uint r, uint S, uint d0) {
#if VEC
    return r < S && d0 < pc.D ? InV4(uint64_t(x)).d[(at(b, r, h, S, pc.H, pc.D) + d0) / 4u] : vec4(0);
#else
    vec4 v = vec4(0);
    if (r < S) {
        uint base = at(b, r, h, S, pc.H, pc.D) + d0;
        [[unroll]] for (uint e = 0u; e < 4u; ++e)
            if (d0 + e < pc.D) v[e] = float(A_LOAD(x.d[base + e]));
    }
    return v;
#endif
}

// Rows [r0, r0 + n) of x, times mul, into SH at base. The idx-th 4-vector is row idx / D4, dims 4 (idx % D4)..:
// consecutive invocations read consecutive memory.
void load_rows(InBuf x, uint b, uint h, uint r0, uint S, uint n, uint base, uint mode, float mul) {
    for (uint idx = gl_LocalInvocationID.x; idx < n * D4; idx += WGS)
        SH[tile_slot(base, mode, idx / D4, idx % D4)] = row4(x, b, h, r0 + idx / D4, S, (idx % D4) * 4u) * mul;
}

// The same for HOT rows of two arrays (x1 times mul1), every load issued before the first store (loads and
// stores interleaved in a loop were 14% slower on an H100).
const uint NPRE = HOT * D4 / WGS;
void stage_pair(InBuf x1, InBuf x2, uint b, uint h, uint r0, uint S, uint base1, uint base2, uint mode1, uint mode2,
                float mul1) {
    vec4 p1[NPRE], p2[NPRE];
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i;
        p1[i] = row4(x1, b, h, r0 + idx / D4, S, (idx % D4) * 4u);
        p2[i] = row4(x2, b, h, r0 + idx / D4, S, (idx % D4) * 4u);
    }
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i;
        SH[tile_slot(base1, mode1, idx / D4, idx % D4)] = p1[i] * mul1;
        SH[tile_slot(base2, mode2, idx / D4, idx % D4)] = p2[i];
    }
}
