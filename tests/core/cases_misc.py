"""Table rows for dot_general, conv_general_dilated, gather/scatter, sort/argsort/top_k and threefry2x32.
Here a row's "shape" is a size configuration of the op; references are written out independently."""

from __future__ import annotations

import itertools

import numpy as np
from cases_elementwise import _wrap
from core_helpers import ALL, BF16, BOOL, F16, F32, FLOATS, I32, INTS, U32, Case, rand, to_f64

import grilly.lax as lax

NUMERIC = FLOATS + INTS


def _f(x):
    return x.astype(np.int64) if x.dtype.kind in "iu" else to_f64(x)


def _einsum_ref(spec):
    def ref(x, y):
        out = np.einsum(spec, _f(x), _f(y))
        return _wrap(out, x.dtype) if x.dtype.kind in "iu" else out

    return ref


def _two(shape_x, shape_y, lo=-3, hi=3):
    return lambda rng, s, d: [rand(rng, shape_x(s), d, lo, hi), rand(rng, shape_y(s), d, lo, hi)]


MM_SIZES = ((1, 1, 1), (3, 5, 2), (0, 4, 3), (4, 0, 3), (17, 33, 9), (67, 129, 33))
DOT = [
    Case("matmul", ("dot_general",), lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ()))),
         _two(lambda s: s[:2], lambda s: s[1:]), _einsum_ref("mk,kn->mn"), FLOATS + INTS, MM_SIZES, big=False,
         rtol=2e-5, atol=2e-4),
    Case("dot_general_batch_perm", ("dot_general",),
         lambda x, y: lax.dot_general(x, y, (((0,), (2,)), ((1,), (0,)))),
         _two(lambda s: (s[1], s[2], s[0]), lambda s: (s[2], s[3], s[1])), _einsum_ref("kbm,bnk->bmn"),
         FLOATS + (I32,), ((2, 3, 4, 5), (1, 1, 1, 1), (3, 0, 2, 2), (5, 7, 3, 9)), big=False, atol=2e-4),
    Case("dot_vector", ("dot_general",), lambda x, y: lax.dot(x, y), _two(lambda s: s, lambda s: s),
         _einsum_ref("k,k->"), FLOATS + (I32,), ((0,), (1,), (7,), (1000,)), big=False, atol=2e-4),
    Case("dot_preferred_f32", ("dot_general",),
         lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())), preferred_element_type=F32),
         _two(lambda s: s[:2], lambda s: s[1:]), _einsum_ref("mk,kn->mn"), (F16, BF16), MM_SIZES[:5], big=False,
         out=lambda d: F32, rtol=1e-4, atol=1e-4),
]


# ---- convolution: a direct loop over output positions --------------------------------------------------------

def _conv_ref(lhs, rhs, strides, padding, lhs_dil, rhs_dil, groups):
    from cases_structural import _pad_axis

    x, w = to_f64(lhs), to_f64(rhs)
    ns = x.ndim - 2
    for ax in range(ns):  # dilate the input, then pad (negative pads crop)
        d = lhs_dil[ax]
        if d > 1 and x.shape[2 + ax]:
            x = _pad_axis(x, 2 + ax, 0, 0, d - 1, 0.0)
        x = _pad_axis(x, 2 + ax, padding[ax][0], padding[ax][1], 0, 0.0)
    for ax in range(ns):
        if rhs_dil[ax] > 1:
            w = _pad_axis(w, 2 + ax, 0, 0, rhs_dil[ax] - 1, 0.0)
    n, o, cg = x.shape[0], w.shape[0], w.shape[1]
    out_sp = [max((x.shape[2 + i] - w.shape[2 + i]) // strides[i] + 1, 0) for i in range(ns)]
    out = np.zeros((n, o, *out_sp))
    for b, oc in itertools.product(range(n), range(o)):
        g = oc // (o // groups)
        for pos in itertools.product(*[range(k) for k in out_sp]):
            win = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, w.shape[2:]))
            out[(b, oc, *pos)] = np.sum(x[(b, slice(g * cg, (g + 1) * cg), *win)] * w[oc])
    return out


CONV_CONFIGS = {  # name: (lhs shape, rhs shape, strides, padding, lhs_dilation, rhs_dilation, groups)
    "conv1d_stride_pad": ((2, 3, 11), (4, 3, 3), (2,), ((1, 2),), (1,), (1,), 1),
    "conv2d_rhs_dilation": ((1, 2, 7, 6), (3, 2, 3, 2), (1, 1), ((2, 2), (1, 0)), (1, 1), (2, 1), 1),
    "conv2d_lhs_dilation": ((2, 2, 4, 5), (2, 2, 3, 3), (1, 2), ((2, 2), (2, 1)), (2, 2), (1, 1), 1),
    "conv2d_groups_negpad": ((1, 4, 6, 6), (6, 2, 2, 3), (1, 1), ((-1, 0), (1, 1)), (1, 1), (1, 1), 2),
    "conv1d_empty_batch": ((0, 2, 5), (3, 2, 2), (1,), ((0, 0),), (1,), (1,), 1),
}


def _conv_case(name, cfg):
    ls, rs, st, pad, ld, rd, g = cfg
    return Case(name, ("conv_general_dilated",),
                lambda x, w: lax.conv_general_dilated(x, w, st, pad, ld, rd, feature_group_count=g),
                lambda rng, s, d: [rand(rng, ls, d, -2, 2), rand(rng, rs, d, -2, 2)],
                lambda x, w: _conv_ref(x, w, st, pad, ld, rd, g), FLOATS, ((),), big=False, vmap=False)


CONV = [_conv_case(n, c) for n, c in CONV_CONFIGS.items()]


# ---- gather / scatter -----------------------------------------------------------------------------------------

def _gather_args(axis):
    def args(rng, s, d):
        n = s[axis]
        idx_shape = (min(n + 3, 3000),) if len(s) == 1 else (2, 3)
        return [rand(rng, s, d, -50, 50), rng.integers(-2, n + 2, size=idx_shape).astype(np.int32)]

    return args


def _gather_ref(axis):
    return lambda x, idx: np.take(x, np.clip(idx, 0, x.shape[axis] - 1), axis=axis)


def _scatter_args(axis, unique):
    def args(rng, s, d):
        n = s[axis]
        if unique:
            idx = rng.permutation(n + 2)[: max(n // 2, 1)].astype(np.int32)  # some past the end: dropped
        else:
            idx = rng.integers(-1, n + 1, size=min(2 * n, 3000)).astype(np.int32)
        upd_shape = (*s[:axis], idx.size, *s[axis + 1:])
        lo, hi = (0.5, 1.5) if d.kind == "f" else (-3, 3)
        return [rand(rng, s, d, lo, hi), idx, rand(rng, upd_shape, d, lo, hi)]

    return args


def _scatter_ref(axis, mode):
    def ref(x, idx, upd):
        out = np.moveaxis(_f(x) if x.dtype != BOOL else x.copy(), axis, 0).copy()
        u = np.moveaxis(_f(upd) if upd.dtype != BOOL else upd, axis, 0)
        for k, i in enumerate(idx):
            if 0 <= i < out.shape[0]:
                if mode == "set":
                    out[i] = u[k]
                elif mode == "add":
                    out[i] = out[i] + u[k]
                elif mode == "mul":
                    out[i] = out[i] * u[k]
                elif mode == "min":
                    out[i] = np.minimum(out[i], u[k])
                else:
                    out[i] = np.maximum(out[i], u[k])
        out = np.moveaxis(out, 0, axis)
        return _wrap(out, x.dtype) if x.dtype.kind in "iu" else out

    return ref


GATHER_SHAPES = ((5,), (4, 3), (2, 5, 3))
INDEXING = [
    Case("gather_axis0", ("gather",), lambda x, i: lax.gather(x, i, 0), _gather_args(0), _gather_ref(0), ALL,
         GATHER_SHAPES),
    Case("gather_axis1", ("gather",), lambda x, i: lax.gather(x, i, 1), _gather_args(1), _gather_ref(1), ALL,
         GATHER_SHAPES[1:], big=False),
    Case("scatter_set_unique", ("scatter",), lambda x, i, u: lax.scatter(x, i, u, 0, "set"),
         _scatter_args(0, True), _scatter_ref(0, "set"), ALL, GATHER_SHAPES),
    *[Case(f"scatter_{m}", ("scatter",), lambda x, i, u, m=m: lax.scatter(x, i, u, 0, m), _scatter_args(0, False),
           _scatter_ref(0, m), NUMERIC if m != "mul" else FLOATS + (I32,), GATHER_SHAPES)
      for m in ("add", "mul", "min", "max")],
    Case("scatter_add_axis1", ("scatter",), lambda x, i, u: lax.scatter(x, i, u, 1, "add"), _scatter_args(1, False),
         _scatter_ref(1, "add"), (F32, I32), GATHER_SHAPES[1:], big=False),
]


# ---- sorting ----------------------------------------------------------------------------------------------------

def _sort_args(rng, s, d):
    # + 0.0 turns -0.0 into 0.0: signed-zero ties have their own test (test_sort_signed_zeros)
    x = (np.round(rand(rng, s, F32, -4, 4)) + 0.0).astype(d) if d != BOOL else rand(rng, s, d)
    if d.kind == "f" and x.size:
        x.reshape(-1)[::5] = np.nan
    return [x]


def _sort_perm(x, axis, descending):
    v = _f(x) if x.dtype != BOOL else x.astype(np.int64)
    nan = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
    key = np.where(nan, 0, -v if descending else v)
    vm, km = np.moveaxis(v, axis, -1), np.moveaxis(key, axis, -1)
    nm = np.moveaxis(nan, axis, -1)
    perm = np.empty(vm.shape, np.int64)
    for pos in np.ndindex(vm.shape[:-1]):
        perm[pos] = np.lexsort((km[pos], nm[pos]))  # NaNs last, then by key; lexsort is stable
    return np.moveaxis(perm, -1, axis)


SORT_SHAPES = ((1,), (9,), (3, 5), (2, 3, 4))


def _sort_case(kind, axis_name, descending):
    ax = (lambda nd: 0) if axis_name == "first" else (lambda nd: nd - 1)
    name = f"{kind}_{axis_name}" + ("_desc" if descending else "")
    if kind == "sort":
        fn = lambda x: lax.sort(x, ax(x.ndim), descending)  # noqa: E731
        ref = lambda x: np.take_along_axis(x, _sort_perm(x, ax(x.ndim), descending), ax(x.ndim))  # noqa: E731
        return Case(name, ("sort",), fn, _sort_args, ref, NUMERIC + (BOOL,), SORT_SHAPES)
    fn = lambda x: lax.argsort(x, ax(x.ndim), descending)  # noqa: E731
    ref = lambda x: _sort_perm(x, ax(x.ndim), descending).astype(np.int32)  # noqa: E731
    return Case(name, ("argsort",), fn, _sort_args, ref, NUMERIC + (BOOL,), SORT_SHAPES, out=lambda d: I32)


def _top_k_ref(x):
    k = min(3, x.shape[-1])
    perm = _sort_perm(x, x.ndim - 1, True)[..., :k]
    return np.take_along_axis(x, perm, -1), perm.astype(np.int32)


SORTING = [
    *[_sort_case(k, a, desc) for k in ("sort", "argsort") for a in ("first", "last") for desc in (False, True)],
    Case("top_k", ("top_k",), lambda x: lax.top_k(x, min(3, x.shape[-1])),
         lambda rng, s, d: [np.round(rand(rng, s, F32, -4, 4)).astype(d)], _top_k_ref, NUMERIC, SORT_SHAPES,
         out=lambda d: (d, I32)),
]


# ---- threefry2x32: a plain-Python reference ---------------------------------------------------------------------

def _threefry_py(k0, k1, x0, x1):
    m = 0xFFFFFFFF
    rot = ((13, 15, 26, 6), (17, 29, 16, 24))
    ks = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA)
    x0, x1 = (x0 + ks[0]) & m, (x1 + ks[1]) & m
    for i in range(5):
        for r in rot[i % 2]:
            x0 = (x0 + x1) & m
            x1 = (((x1 << r) | (x1 >> (32 - r))) & m) ^ x0
        x0 = (x0 + ks[(i + 1) % 3]) & m
        x1 = (x1 + ks[(i + 2) % 3] + i + 1) & m
    return x0, x1


def _threefry_ref(k0, k1, x0, x1):
    pairs = [_threefry_py(int(k0), int(k1), int(a), int(b)) for a, b in zip(x0.reshape(-1), x1.reshape(-1))]
    out = np.array(pairs, dtype=np.uint32).reshape(-1, 2) if pairs else np.zeros((0, 2), np.uint32)
    return out[:, 0].reshape(x0.shape), out[:, 1].reshape(x0.shape)


def _threefry_args(rng, s, d):
    big = s and s[0] > 1000
    x0 = np.arange(int(np.prod(s)), dtype=np.uint32).reshape(s) if big else rand(rng, s, U32, 0, 2**32 - 1)
    return [np.uint32(rng.integers(0, 2**32)), np.uint32(rng.integers(0, 2**32)), x0, x0 ^ np.uint32(0x9E3779B9)]


RANDOM = [
    Case("threefry2x32", ("threefry2x32",), lambda *a: lax.threefry2x32(*a), _threefry_args, _threefry_ref, (U32,),
         vmap=False),
]

CASES = DOT + CONV + INDEXING + SORTING + RANDOM
