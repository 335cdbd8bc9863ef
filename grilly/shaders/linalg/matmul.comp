#version 460
// Batched C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] with arbitrary element strides for A and B; C rows are
// contiguous, its batch stride is scb; oa, ob, oc are element offsets into A, B and C. Register- and shared-memory-tiled: a workgroup computes a BM x BN tile, each invocation TM x TN
// outputs, K advancing by BK. Tile shapes are specialization constants (ids 1..5; id 0 is the workgroup size,
// which must equal (BM / TM) * (BN / TN)). Defines: A_* operand dtype, O_* result dtype, ACC_T.
#define WG 1
#include "../include/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { O_ST d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf a; InBuf b; OutBuf c; uint M; uint N; uint K; uint b0;
    int sab; int sam; int sak; int sbb; int sbk; int sbn; uint scb; uint oa; uint ob; uint oc;
} pc;
shared ACC_T As[BK * BM];
shared ACC_T Bs[BK * BN];
void main() {
    const uint nthreads = (BM / TM) * (BN / TN);
    const uint tcols = BN / TN;
    uint tid = gl_LocalInvocationID.x;
    uint tr = tid / tcols, tc = tid % tcols;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, bz = gl_WorkGroupID.z + pc.b0;
    int abase = int(pc.oa) + int(bz) * pc.sab, bbase = int(pc.ob) + int(bz) * pc.sbb;
    ACC_T acc[TM * TN];
    for (uint i = 0u; i < TM * TN; ++i) acc[i] = ACC_T(0);
    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        for (uint i = tid; i < BM * BK; i += nthreads) {
            uint mm = i / BK, kk = i % BK;
            uint m = m0 + mm, k = k0 + kk;
            As[kk * BM + mm] = (m < pc.M && k < pc.K)
                ? ACC_T(A_LOAD(pc.a.d[abase + int(m) * pc.sam + int(k) * pc.sak])) : ACC_T(0);
        }
        for (uint i = tid; i < BK * BN; i += nthreads) {
            uint kk = i / BN, nn = i % BN;
            uint n = n0 + nn, k = k0 + kk;
            Bs[kk * BN + nn] = (n < pc.N && k < pc.K)
                ? ACC_T(A_LOAD(pc.b.d[bbase + int(k) * pc.sbk + int(n) * pc.sbn])) : ACC_T(0);
        }
        barrier();
        for (uint kk = 0u; kk < BK; ++kk) {
            ACC_T av[TM], bv[TN];
            for (uint i = 0u; i < TM; ++i) av[i] = As[kk * BM + tr + i * (BM / TM)];
            for (uint j = 0u; j < TN; ++j) bv[j] = Bs[kk * BN + tc + j * tcols];
            for (uint i = 0u; i < TM; ++i)
                for (uint j = 0u; j < TN; ++j) acc[i * TN + j] += av[i] * bv[j];
        }
        barrier();
    }
    for (uint i = 0u; i < TM; ++i) {
        uint m = m0 + tr + i * (BM / TM);
        if (m >= pc.M) continue;
        for (uint j = 0u; j < TN; ++j) {
            uint n = n0 + tc + j * tcols;
            if (n < pc.N) pc.c.d[pc.oc + bz * pc.scb + m * pc.N + n] = O_STORE(O_CT(acc[i * TN + j]));
        }
    }
}
