#version 460
// top_k by selection, for small k over long rows. Workgroup g takes slice (g % S) of row (g / S) of x ([M, K]):
// every invocation keeps the KC best (key, index) pairs of its strided share of the slice in registers, sorted
// best first; the workgroup then merges those lists pairwise in shared memory, and the first k pairs of the slice
// go to out[M, S, k]. A pair is better when its key is smaller, equal keys by lower index: the key is the
// descending sort key of sort/init.comp (NaN last, -0 equal to +0), so the order is exactly top_k's.
// FROM_KEYS: the input is already (key, index) pairs (a previous pass's candidates, rows of K pairs).
// thr (optional, first passes only): per row, k best pairs of a sample of the row (every thr_stride-th entry,
// indices in sample units). The k-th of them bounds the answer: a pair worse than it has k better ones, so it is
// never buffered, and on long rows almost nothing but the loads and one comparison per entry remains.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_vote : require
#include "../include/common.glsl"
layout(constant_id = 1) const uint KC = 16;         // candidates per invocation: k rounded up to a power of 2
layout(constant_id = 2) const uint SHARED_N = 2048;  // workgroup size * KC
#if FROM_KEYS
layout(buffer_reference, scalar) readonly buffer InBuf { uvec2 d[]; };
#else
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
#endif
layout(buffer_reference, scalar) writeonly buffer OutBuf { uvec2 d[]; };
layout(buffer_reference, scalar) readonly buffer ThrBuf { uvec2 d[]; };
layout(push_constant, scalar) uniform PC {
    InBuf x; OutBuf out_; ThrBuf thr; uint M; uint K; uint S; uint slice; uint k; uint thr_stride;
} pc;
shared uvec2 s[SHARED_N];
const uint UNROLL = 8u;
const uint NB = 4u;  // buffered candidates per invocation

bool less(uvec2 a, uvec2 b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }

uvec2 load(uint base, uint j) {
#if FROM_KEYS
    return pc.x.d[base + j];
#else
    A_CT v = A_LOAD(pc.x.d[base + j]);
#if A_IS_FLOAT
    uint u = floatBitsToUint(float(v));
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uvec2(0xFFFFFFFFu, j);  // NaN: after every number
    if ((u & 0x7FFFFFFFu) == 0u) u = 0u;                                  // -0 ties with +0, as in NumPy
    return uvec2(~((u >> 31) != 0u ? ~u : (u | 0x80000000u)), j);
#elif A_IS_BOOL
    return uvec2(~uint(v), j);
#else
    return uvec2(~A_KEY(v), j);
#endif
#endif
}

// Sorted insertion of v into the list c (best first); v must be better than the list's last pair.
void insert(inout uvec2 c[KC], uvec2 v) {
    bool lt[KC];
    [[unroll]] for (uint i = 0u; i < KC; ++i) lt[i] = less(v, c[i]);
    [[unroll]] for (uint i = KC - 1u; i > 0u; --i) c[i] = lt[i - 1u] ? c[i - 1u] : (lt[i] ? v : c[i]);
    if (lt[0]) c[0] = v;
}

void main() {
    uint g = group_id();
    if (g >= pc.M * pc.S) return;  // grid padding: the whole workgroup leaves
    uint m = g / pc.S, t = gl_LocalInvocationID.x, T = gl_WorkGroupSize.x;
    uint lo = (g % pc.S) * pc.slice, hi = min(lo + pc.slice, pc.K), base = m * pc.K;
    uvec2 c[KC];
    [[unroll]] for (uint i = 0u; i < KC; ++i) c[i] = uvec2(0xFFFFFFFFu);  // worse than any real pair
    // A pair better than this invocation's last is not inserted at once but buffered (NB pairs, registers):
    // an insertion costs KC compare-and-moves, and an invocation of a subgroup that inserts makes the others
    // wait for it. The subgroup inserts its buffers together, when one of them is full, so it pays about one
    // insertion per NB candidates of its busiest invocation instead of one per step where any invocation has one.
    uvec2 buf[NB];
    uint nb = 0u;
    uvec2 bound = uvec2(0xFFFFFFFFu);  // no sample: every pair may be buffered
    if (pc.thr_stride != 0u) {
        bound = pc.thr.d[m * pc.k + pc.k - 1u];
        bound.y *= pc.thr_stride;
    }
    for (uint b0 = lo; b0 < hi; b0 += UNROLL * T) {  // the same trip count for the whole workgroup
        uvec2 v[UNROLL];  // UNROLL loads in flight before the first comparison
        [[unroll]] for (uint u = 0u; u < UNROLL; ++u) {
            uint j = b0 + u * T + t;
            v[u] = j < hi ? load(base, j) : uvec2(0xFFFFFFFFu);  // past the slice: never inserted
        }
        [[unroll]] for (uint u = 0u; u < UNROLL; ++u) {
            bool keep = less(v[u], c[KC - 1u]) && !less(bound, v[u]);
            [[unroll]] for (uint i = 0u; i < NB; ++i) buf[i] = (keep && nb == i) ? v[u] : buf[i];
            nb += keep ? 1u : 0u;
            if (subgroupAny(nb == NB)) {
                [[unroll]] for (uint i = 0u; i < NB; ++i) {
                    if (i < nb && less(buf[i], c[KC - 1u])) insert(c, buf[i]);
                }
                nb = 0u;
            }
        }
    }
    [[unroll]] for (uint i = 0u; i < NB; ++i) {
        if (i < nb && less(buf[i], c[KC - 1u])) insert(c, buf[i]);
    }
    // Shared lists are interleaved (entry i of list t at s[i * T + t]) so that consecutive invocations touch
    // consecutive pairs: no bank conflicts on the stores, few on the merge reads.
    [[unroll]] for (uint i = 0u; i < KC; ++i) s[i * T + t] = c[i];
    barrier();
    for (uint n = T >> 1; n > 0u; n >>= 1) {  // invocation t < n merges lists 2t and 2t+1 into list t
        if (t < n) {
            uint a = 2u * t, b = a + 1u;  // positions of the heads of lists 2t and 2t+1
            [[unroll]] for (uint i = 0u; i < KC; ++i) {  // ia + ib = i < KC: reads stay inside both lists
                uvec2 x = s[a], y = s[b];
                bool takeb = less(y, x);
                c[i] = takeb ? y : x;
                a += takeb ? 0u : T;
                b += takeb ? T : 0u;
            }
        }
        barrier();
        if (t < n) {
            [[unroll]] for (uint i = 0u; i < KC; ++i) s[i * T + t] = c[i];
        }
        barrier();
    }
    for (uint i = t; i < pc.k; i += T) pc.out_.d[g * pc.k + i] = s[i * T];  // list 0
}
