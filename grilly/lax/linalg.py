"""dot_general and conv_general_dilated with their transposes."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax._helpers import add_any, aval_of, dtype_error, full, moveaxis, shape_error
from grilly.lax.structural import concatenate, loop_batch, reshape, rev, slice_in_dim, transpose

dot_general_p = Primitive("dot_general")


def _free_dims(nd, contract, batch):
    return [i for i in range(nd) if i not in contract and i not in batch]


def _dot_general_abstract(x, y, *, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    ok = len(lc) == len(rc) and len(lb) == len(rb) and all(
        0 <= a < x.ndim for a in (*lc, *lb)) and all(0 <= b < y.ndim for b in (*rc, *rb))
    if not ok or any(x.shape[a] != y.shape[b] for a, b in zip((*lc, *lb), (*rc, *rb))):
        raise shape_error("dot_general", [x, y], f"contracting dims {lc}~{rc} and batch dims {lb}~{rb} of equal "
                          "sizes")
    if x.dtype != y.dtype:
        raise dtype_error("dot_general", [x, y], "operands of one dtype")
    if x.dtype == dtypes.bool_:
        raise dtype_error("dot_general", [x, y], "numeric operands")
    shape = ([x.shape[i] for i in lb] + [x.shape[i] for i in _free_dims(x.ndim, lc, lb)]
             + [y.shape[i] for i in _free_dims(y.ndim, rc, rb)])
    return ShapedArray(shape, preferred_element_type or x.dtype)


def _dot_general_np(x, y, *, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    out_dtype = preferred_element_type or x.dtype
    acc = np.float64 if out_dtype == np.float64 else (np.float32 if dtypes.kind(x.dtype) == "f" else np.int64)
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    xs, ys = [None] * x.ndim, [None] * y.ndim
    for a, b in zip(lb, rb):
        xs[a] = ys[b] = next(letters)
    for a, b in zip(lc, rc):
        xs[a] = ys[b] = next(letters)
    for i in range(x.ndim):
        xs[i] = xs[i] or next(letters)
    for i in range(y.ndim):
        ys[i] = ys[i] or next(letters)
    out = [xs[i] for i in lb] + [xs[i] for i in _free_dims(x.ndim, lc, lb)] + [
        ys[i] for i in _free_dims(y.ndim, rc, rb)]
    spec = f"{''.join(xs)},{''.join(ys)}->{''.join(out)}"
    return np.einsum(spec, x.astype(acc), y.astype(acc)).astype(out_dtype)


def _ranks(nd, dims):
    return [d for d in range(nd) if d not in dims]


def _dot_transpose_lhs(ct, x, y, dimension_numbers, precision, swap=False):
    (lc, rc), (lb, rb) = dimension_numbers
    if swap:
        lc, rc, lb, rb = rc, lc, rb, lb
        x, y = y, x
    nb = len(lb)
    x_free, y_free = _free_dims(x.ndim, lc, lb), _free_dims(y.ndim, rc, rb)
    # ct layout: batch, (lhs free, rhs free) or, when swapped, batch, (rhs free, lhs free)
    if swap:
        ct_y_free = list(range(nb, nb + len(y_free)))
    else:
        ct_y_free = list(range(nb + len(x_free), nb + len(x_free) + len(y_free)))
    y_kept = sorted(rc)  # y dims left after contracting y_free with ct
    res = dot_general(ct, y, ((tuple(ct_y_free), tuple(y_free)), (tuple(range(nb)), tuple(rb))), precision)
    # res layout: batch, ct remaining (x_free order), y_kept (-> matching lc)
    pair = dict(zip(rc, lc))
    res_to_x = list(lb) + x_free + [pair[d] for d in y_kept]
    perm = tuple(int(i) for i in np.argsort(res_to_x))
    out = transpose(res, perm)
    return out if out.dtype == x.dtype else _convert(out, x.dtype)


def _convert(x, dtype):
    from grilly.lax.elementwise import convert

    return convert(x, dtype)


def bilinear_jvp(prim):
    """The JVP of a primitive linear in each of its two operands: d(x*y) = dx*y + x*dy."""

    def jvp(primals, tangents, **params):
        x, y = primals
        tx, ty = tangents
        t = None if tx is None else prim.bind(tx, y, **params)
        return [prim.bind(x, y, **params)], [add_any(t, None if ty is None else prim.bind(x, ty, **params))]

    return jvp


def _dot_general_vjp(cts, primals, outs, *, dimension_numbers, precision=None, preferred_element_type=None):
    ct, (x, y) = cts[0], primals
    if ct is None:
        return [None, None]
    if preferred_element_type is not None and ct.dtype != x.dtype:
        ct = _convert(ct, x.dtype)
    return [_dot_transpose_lhs(ct, x, y, dimension_numbers, precision),
            _dot_transpose_lhs(ct, x, y, dimension_numbers, precision, swap=True)]


def _dot_general_batch(vals, dims, *, dimension_numbers, precision=None, preferred_element_type=None):
    (x, y), (xd, yd) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers
    kw = dict(precision=precision, preferred_element_type=preferred_element_type)
    if xd is not None and yd is not None:
        x, y = moveaxis(x, xd, 0), moveaxis(y, yd, 0)
        sh = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
        dn = ((sh(lc), sh(rc)), ((0, *sh(lb)), (0, *sh(rb))))
        return [dot_general_p.bind(x, y, dimension_numbers=dn, **kw)], [0]
    if xd is not None:  # the batch dim becomes a free dim of the lhs
        x = moveaxis(x, xd, x.ndim - 1)
        out = dot_general_p.bind(x, y, dimension_numbers=dimension_numbers, **kw)
        pos = len(lb) + len(_free_dims(x.ndim, lc, lb)) - 1
        return [out], [pos]
    y = moveaxis(y, yd, y.ndim - 1)
    out = dot_general_p.bind(x, y, dimension_numbers=dimension_numbers, **kw)
    return [out], [out.ndim - 1]


P.abstract_eval_rules[dot_general_p] = _dot_general_abstract
P.impl_rules["numpy"][dot_general_p] = _dot_general_np
P.jvp_rules[dot_general_p] = bilinear_jvp(dot_general_p)
P.vjp_rules[dot_general_p] = _dot_general_vjp
P.batch_rules[dot_general_p] = _dot_general_batch


def dot_general(x, y, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    ints = lambda ds: tuple(int(i) for i in ds)  # noqa: E731
    dn = ((ints(lc), ints(rc)), (ints(lb), ints(rb)))
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return dot_general_p.bind(x, y, dimension_numbers=dn, precision=precision, preferred_element_type=pet)


def dot(x, y, precision=None):
    ax, ay = aval_of(x), aval_of(y)
    if ax.ndim == 0 or ay.ndim == 0 or ax.ndim > 2 or ay.ndim > 2:
        raise shape_error("dot", [ax, ay], "vectors or matrices")
    return dot_general(x, y, (((ax.ndim - 1,), (0,)), ((), ())), precision)


# ---- conv_general_dilated: lhs (N, C, *spatial), rhs (O, C/groups, *window), out (N, O, *spatial) -----------

conv_general_dilated_p = Primitive("conv_general_dilated")


def _dilate(n, d):
    return 0 if n == 0 else 1 + d * (n - 1)


def _conv_abstract(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
                   precision=None):
    ns = lhs.ndim - 2
    g = feature_group_count
    ok = (lhs.ndim == rhs.ndim and ns >= 1 and len(window_strides) == len(padding) == len(lhs_dilation)
          == len(rhs_dilation) == ns and g >= 1 and lhs.shape[1] == rhs.shape[1] * g and rhs.shape[0] % g == 0)
    if not ok:
        raise shape_error("conv_general_dilated", [lhs, rhs], "lhs (N, C, *spatial) and rhs (O, C/groups, *window) "
                          f"with O divisible by groups={g} and one stride/padding/dilation per spatial dim")
    if lhs.dtype != rhs.dtype or dtypes.kind(lhs.dtype) != "f":
        raise dtype_error("conv_general_dilated", [lhs, rhs], "floating operands of one dtype")
    out = []
    for i in range(ns):
        n = _dilate(lhs.shape[2 + i], lhs_dilation[i]) + padding[i][0] + padding[i][1]
        k = _dilate(rhs.shape[2 + i], rhs_dilation[i])
        out.append(max(0, (n - k) // window_strides[i] + 1) if n >= k else 0)
    return ShapedArray((lhs.shape[0], rhs.shape[0], *out), lhs.dtype)


def _conv_np(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
             precision=None):
    from grilly.lax.structural import _pad_np

    out_aval = _conv_abstract(ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype),
                              window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                              rhs_dilation=rhs_dilation, feature_group_count=feature_group_count)
    ns = lhs.ndim - 2
    acc = np.float64 if lhs.dtype == np.float64 else np.float32
    cfg = [(0, 0, 0), (0, 0, 0)] + [(lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dilation)]
    x = _pad_np(lhs.astype(acc), np.zeros((), acc), padding_config=cfg)
    wcfg = [(0, 0, 0), (0, 0, 0)] + [(0, 0, d - 1) for d in rhs_dilation]
    w = _pad_np(rhs.astype(acc), np.zeros((), acc), padding_config=wcfg)
    if 0 in out_aval.shape:
        return np.zeros(out_aval.shape, lhs.dtype)
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=tuple(range(2, 2 + ns)))
    win = win[(slice(None), slice(None), *(slice(None, o * s, s) for o, s in zip(out_aval.shape[2:], window_strides)))]
    win = win[(slice(None), slice(None), *(slice(0, o) for o in out_aval.shape[2:]))]
    g = feature_group_count
    n, c = x.shape[:2]
    o = w.shape[0]
    sp = "".join("xyz"[: ns])
    kp = "".join("uvw"[: ns])
    winr = win.reshape(n, g, c // g, *win.shape[2:])
    wr = w.reshape(g, o // g, c // g, *w.shape[2:])
    out = np.einsum(f"ngc{sp}{kp},goc{kp}->ngo{sp}", winr, wr)
    return out.reshape(n, o, *out.shape[3:]).astype(lhs.dtype)


def _conv_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    res = []
    for i in range(len(in_shape)):
        ld, rd, od = _dilate(in_shape[i], lhs_dilation[i]), _dilate(window[i], rhs_dilation[i]), _dilate(
            out_shape[i], strides[i])
        before = rd - padding[i][0] - 1
        res.append((before, ld + rd - 1 - od - before))
    return tuple(res)


def _conv_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    res = []
    for i in range(len(in_shape)):
        ld, rd, od = _dilate(in_shape[i], lhs_dilation[i]), _dilate(window[i], rhs_dilation[i]), _dilate(
            out_shape[i], strides[i])
        lo = padding[i][0]
        res.append((lo, (od - ld) + (rd - lo - 1)))
    return tuple(res)


def _conv_transpose_lhs(ct, lhs, rhs, p):
    g = p["feature_group_count"]
    ns = lhs.ndim - 2
    spatial = tuple(range(2, 2 + ns))
    pad = _conv_lhs_padding(lhs.shape[2:], rhs.shape[2:], p["window_strides"], ct.shape[2:], p["padding"],
                            p["lhs_dilation"], p["rhs_dilation"])
    o, cg = rhs.shape[0], rhs.shape[1]
    w = reshape(rhs, (g, o // g, cg, *rhs.shape[2:]))
    w = transpose(w, (0, 2, 1, *(i + 1 for i in spatial)))
    w = rev(reshape(w, (g * cg, o // g, *rhs.shape[2:])), spatial)
    out = conv_general_dilated(ct, w, p["lhs_dilation"], pad, lhs_dilation=p["window_strides"],
                               rhs_dilation=p["rhs_dilation"], feature_group_count=g)
    return _fit(out, lhs.shape)


def _fit(x, shape):
    """Crop or zero-pad trailing spatial positions that strides left unreached."""
    from grilly.lax.structural import pad as pad_

    av = aval_of(x)
    if av.shape == tuple(shape):
        return x
    cfg = [(0, s - a, 0) for a, s in zip(av.shape, shape)]
    return pad_(x, full((), 0, av.dtype), cfg)


def _conv_transpose_rhs(ct, lhs, rhs, p):
    g = p["feature_group_count"]
    if g > 1:
        cg, og = lhs.shape[1] // g, rhs.shape[0] // g
        parts = []
        for i in range(g):
            lhs_i = slice_in_dim(lhs, i * cg, (i + 1) * cg, axis=1)
            ct_i = slice_in_dim(ct, i * og, (i + 1) * og, axis=1)
            parts.append(_conv_transpose_rhs(ct_i, lhs_i, ShapedArray((og, *rhs.shape[1:]), rhs.dtype),
                                             {**p, "feature_group_count": 1}))
        return concatenate(parts, 0)
    ns = lhs.ndim - 2
    pad = _conv_rhs_padding(lhs.shape[2:], rhs.shape[2:], p["window_strides"], ct.shape[2:], p["padding"],
                            p["lhs_dilation"], p["rhs_dilation"])
    lt = transpose(lhs, (1, 0, *range(2, 2 + ns)))  # (C, N, ...): channels act as the batch
    ctt = transpose(ct, (1, 0, *range(2, 2 + ns)))  # (O, N, ...): a kernel over N
    out = conv_general_dilated(lt, ctt, p["rhs_dilation"], pad, lhs_dilation=p["lhs_dilation"],
                               rhs_dilation=p["window_strides"])
    out = transpose(out, (1, 0, *range(2, 2 + ns)))
    return _fit(slice_window(out, rhs.shape), rhs.shape)


def slice_window(x, shape):
    from grilly.lax.structural import slice_

    av = aval_of(x)
    return slice_(x, (0,) * av.ndim, tuple(min(a, s) for a, s in zip(av.shape, shape)))


def _conv_vjp(cts, primals, outs, **p):
    ct, (lhs, rhs) = cts[0], primals
    if ct is None:
        return [None, None]
    return [_conv_transpose_lhs(ct, lhs, rhs, p), _conv_transpose_rhs(ct, lhs, rhs, p)]


def _conv_batch(vals, dims, **p):
    (lhs, rhs), (ld, rd) = vals, dims
    if rd is None:
        lhs = moveaxis(lhs, ld, 0)
        b, n = aval_of(lhs).shape[:2]
        out = conv_general_dilated_p.bind(reshape(lhs, (b * n, *aval_of(lhs).shape[2:])), rhs, **p)
        return [reshape(out, (b, n, *aval_of(out).shape[1:]))], [0]
    return loop_batch(conv_general_dilated_p)(vals, dims, **p)


P.abstract_eval_rules[conv_general_dilated_p] = _conv_abstract
P.impl_rules["numpy"][conv_general_dilated_p] = _conv_np
P.jvp_rules[conv_general_dilated_p] = bilinear_jvp(conv_general_dilated_p)
P.vjp_rules[conv_general_dilated_p] = _conv_vjp
P.batch_rules[conv_general_dilated_p] = _conv_batch


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         feature_group_count=1, precision=None):
    """N-d convolution, layouts lhs (N, C, *spatial), rhs (O, C/groups, *window), out (N, O, *spatial).

    ``padding`` is "SAME", "VALID" or one (low, high) pair per spatial dimension.
    """
    la, ra = aval_of(lhs), aval_of(rhs)
    ns = la.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * ns)
    rhs_dilation = tuple(rhs_dilation or (1,) * ns)
    window_strides = tuple(window_strides)
    if isinstance(padding, str):
        padding = _padding_from_string(padding, la.shape[2:], ra.shape[2:], window_strides, rhs_dilation)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    return conv_general_dilated_p.bind(lhs, rhs, window_strides=window_strides, padding=padding,
                                       lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                                       feature_group_count=int(feature_group_count), precision=precision)


def _padding_from_string(mode, in_shape, window, strides, rhs_dilation):
    mode = mode.upper()
    if mode == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if mode != "SAME":
        raise ValueError(f"conv padding must be 'SAME', 'VALID' or explicit pairs, got {mode!r}")
    pads = []
    for n, k, s, d in zip(in_shape, window, strides, rhs_dilation):
        out = -(-n // s)
        total = max((out - 1) * s + _dilate(k, d) - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)
