// Tile movement of the cooperative-matrix-2 flash kernels (see flash_cm2.glsl).
// The index of 16-byte vector c of row r of head h of a (B, S, H, HD) float16 array.
uint row_at(uint b, uint h, uint r, uint S, uint c) { return (((b * S + r) * pc.H + h) * HD) / 8u + c; }

// Vector c of row r of head h, zero past the sequence.
uvec4 row_vec(InV x, uint b, uint h, uint r, uint S, uint c) { return r < S ? x.d[row_at(b, h, r, S, c)] : uvec4(0); }

uvec4 scale_vec(uvec4 v, float mul) {
    if (mul != 1.0)
        [[unroll]] for (uint j = 0u; j < 4u; ++j) v[j] = packHalf2x16(unpackHalf2x16(v[j]) * mul);
    return v;
}

// Rows [r0, r0 + n) of x (times mul) into TILES at `base`, zero past the sequence.
void load_rows(InV x, uint b, uint h, uint r0, uint S, uint n, uint base, float mul) {
    for (uint idx = gl_LocalInvocationID.x; idx < n * (HD / 8u); idx += WGS)
        TILES[base + (idx / (HD / 8u)) * SK + idx % (HD / 8u)] =
            scale_vec(row_vec(x, b, h, r0 + idx / (HD / 8u), S, idx % (HD / 8u)), mul);
}

// Rows wholly inside the sequence are fetched without bounds tests, unless the kernel defines
// FETCH_SKIPS_TESTS 0 (the fused dK/dV/dQ kernel ran 1.5% faster with the tests, the forward 1.5% slower).
#ifndef FETCH_SKIPS_TESTS
#define FETCH_SKIPS_TESTS 1
#endif
#define FETCH_ROWS(CHECKED)                                                                             \
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {                                                       \
        uint idx = gl_LocalInvocationID.x + WGS * i, which = idx / per, rest = idx % per;               \
        InV x = which == 0u ? x1 : x2;                                                                  \
        uint r = r0 + rest / (HD / 8u), c = rest % (HD / 8u);                                           \
        pre[i] = idx < 2u * per ? ((CHECKED) ? row_vec(x, b, h, r, S, c) : x.d[row_at(b, h, r, S, c)]) : uvec4(0); \
    }

// Rows [r0, r0 + n) of two arrays (x1 scaled by mul1) into registers, NPRE vectors per invocation, then into
// TILES at `base` (x1's rows first, x2's after them).
uvec4 pre[NPRE];

void fetch_pair(InV x1, InV x2, uint b, uint h, uint r0, uint S, uint n) {
    uint per = n * (HD / 8u);
    if (FETCH_SKIPS_TESTS != 0 && r0 + n <= S) {
        FETCH_ROWS(false)
    } else {
        FETCH_ROWS(true)
    }
}

void store_pair(uint base, uint n, float mul1) {
    uint per = n * (HD / 8u);
    [[unroll]] for (uint i = 0u; i < NPRE; ++i) {
        uint idx = gl_LocalInvocationID.x + WGS * i, which = idx / per, rest = idx % per;
        if (idx < 2u * per)
            TILES[base + which * n * SK + (rest / (HD / 8u)) * SK + rest % (HD / 8u)] =
                which == 0u ? scale_vec(pre[i], mul1) : pre[i];
    }
}

// Rows [r0, r0 + n) of TILES at `base` to rows of a (B, S, H, HD) array, those below S.
void write_rows(OutV x, uint b, uint h, uint r0, uint S, uint n, uint base) {
    for (uint idx = gl_LocalInvocationID.x; idx < n * (HD / 8u); idx += WGS) {
        uint rr = idx / (HD / 8u), c = idx % (HD / 8u), r = r0 + rr;
        if (r < S) x.d[row_at(b, h, r, S, c)] = TILES[base + rr * SK + c];
    }
}
