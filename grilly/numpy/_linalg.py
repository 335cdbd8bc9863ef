"""matmul, dot, tensordot, einsum (contraction order by opt_einsum), outer, inner, and linalg.norm."""

from __future__ import annotations

import numpy as np
import opt_einsum

from grilly.core import dtypes
from grilly.core.errors import ShapeError
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of
from grilly.lax.linalg import dot_general
from grilly.lax.structural import broadcast_to, reshape, transpose
from grilly.numpy._base import asarray, promote


def _same_dtype(a, b):
    a, b = asarray(a), asarray(b)
    from grilly.core import dtypes

    dt = dtypes.result_type(aval_of(a).dtype, aval_of(b).dtype)
    if dtypes.kind(dt) == "b":
        dt = dtypes.default_int()
    return E.convert_element_type(a, dt), E.convert_element_type(b, dt)


def matmul(a, b, precision=None):
    """Matrix product with NumPy's broadcasting of leading dimensions."""
    a, b = _same_dtype(a, b)
    av, bv = aval_of(a), aval_of(b)
    if av.ndim == 0 or bv.ndim == 0:
        raise ShapeError(f"matmul: operands {av}, {bv}; expected arrays of rank >= 1 (use * for scalars)")
    va, vb = av.ndim == 1, bv.ndim == 1
    if va:
        a = reshape(a, (1, av.shape[0]))
    if vb:
        b = reshape(b, (bv.shape[0], 1))
    av, bv = aval_of(a), aval_of(b)
    if av.shape[-1] != bv.shape[-2]:
        raise ShapeError(f"matmul: operands {av}, {bv}; expected a's last dim to equal b's second-to-last")
    batch = np.broadcast_shapes(av.shape[:-2], bv.shape[:-2])
    nb = len(batch)
    if bv.ndim == 2:  # a shared matrix: contract directly, never materialize copies of it per batch member
        out = dot_general(a, b, (((av.ndim - 1,), (0,)), ((), ())), precision)
    elif av.ndim == 2:
        out = dot_general(a, b, (((1,), (bv.ndim - 2,)), ((), ())), precision)  # (M, *batch, N)
        out = transpose(out, (*range(1, nb + 1), 0, nb + 1))
    else:
        a = broadcast_to(a, (*batch, *av.shape[-2:]))
        b = broadcast_to(b, (*batch, *bv.shape[-2:]))
        out = dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))), precision)
    if va and vb:
        return reshape(out, batch)
    if va:
        return reshape(out, (*batch, aval_of(out).shape[-1]))
    if vb:
        return reshape(out, (*batch, aval_of(out).shape[-2]))
    return out


def dot(a, b, precision=None):
    a, b = _same_dtype(a, b)
    av, bv = aval_of(a), aval_of(b)
    if av.ndim == 0 or bv.ndim == 0:
        return E.mul(*promote(a, b))
    if bv.ndim == 1 or av.ndim == 1 or bv.ndim == 2:
        return tensordot(a, b, ((av.ndim - 1,), (max(bv.ndim - 2, 0),)), precision)
    return tensordot(a, b, ((av.ndim - 1,), (bv.ndim - 2,)), precision)


def vdot(a, b):
    return dot(ravel_(a), ravel_(b))


def ravel_(a):
    a = asarray(a)
    return reshape(a, (aval_of(a).size,))


def inner(a, b):
    a, b = _same_dtype(a, b)
    return tensordot(a, b, ((aval_of(a).ndim - 1,), (aval_of(b).ndim - 1,)))


def outer(a, b):
    a, b = ravel_(a), ravel_(b)
    a, b = _same_dtype(a, b)
    return dot_general(reshape(a, (-1, 1)), reshape(b, (1, -1)), (((1,), (0,)), ((), ())))


def tensordot(a, b, axes=2, precision=None):
    a, b = _same_dtype(a, b)
    av, bv = aval_of(a), aval_of(b)
    if isinstance(axes, int):
        ax_a, ax_b = tuple(range(av.ndim - axes, av.ndim)), tuple(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, int) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, int) else tuple(ax_b)
    ax_a = tuple(x % av.ndim for x in ax_a)
    ax_b = tuple(x % bv.ndim for x in ax_b)
    return dot_general(a, b, ((ax_a, ax_b), ((), ())), precision)


def einsum(subscripts, *operands, optimize="auto", precision=None):
    """Einstein summation; the contraction order comes from opt_einsum and each step is one dot_general.

    >>> import grilly.numpy as gnp
    >>> gnp.einsum("ij,j->i", gnp.ones((2, 3)), gnp.arange(3.0)).tolist()
    [3.0, 3.0]
    """
    ops = [asarray(o) for o in operands]
    from grilly.core import dtypes

    dt = dtypes.result_type(*[aval_of(o).dtype for o in ops])
    ops = [E.convert_element_type(o, dt) for o in ops]
    shapes = [aval_of(o).shape for o in ops]
    _, contractions = opt_einsum.contract_path(subscripts, *[np.empty(s, np.float32) for s in shapes],
                                               optimize=optimize, einsum_call=True)
    ops = list(ops)
    for positions, _, eq, _, _ in contractions:
        picked = [ops.pop(p) for p in positions]  # opt_einsum lists positions in its pop order
        ops.append(_einsum_step(eq, picked, precision))
    return ops[0]


def _einsum_step(eq, ops, precision):
    """One contraction: sum out dims that appear once, then a dot_general for a pair."""
    from grilly.lax.reductions import reduce_sum

    ins, out = eq.split("->")
    ins = ins.split(",")
    ops = list(ops)
    # remove repeated letters within one operand (diagonals) and letters used nowhere else
    for k, (spec, op) in enumerate(zip(ins, ops)):
        if len(set(spec)) != len(spec):
            op, spec = _take_diagonals(op, spec)
        others = "".join(s for j, s in enumerate(ins) if j != k) + out
        drop = tuple(i for i, c in enumerate(spec) if c not in others)
        if drop:
            op = reduce_sum(op, drop)
            spec = "".join(c for i, c in enumerate(spec) if i not in drop)
        ins[k], ops[k] = spec, op
    if len(ops) == 1:
        spec, op = ins[0], ops[0]
        return transpose(op, tuple(spec.index(c) for c in out))
    (sa, sb), (a, b) = ins, ops
    batch = [c for c in sa if c in sb and c in out]
    contract = [c for c in sa if c in sb and c not in out]
    dn = ((tuple(sa.index(c) for c in contract), tuple(sb.index(c) for c in contract)),
          (tuple(sa.index(c) for c in batch), tuple(sb.index(c) for c in batch)))
    res = dot_general(a, b, dn, precision)
    res_spec = "".join(batch) + "".join(c for c in sa if c not in batch and c not in contract) + "".join(
        c for c in sb if c not in batch and c not in contract)
    return transpose(res, tuple(res_spec.index(c) for c in out))


def _take_diagonals(op, spec):
    from grilly.core import dtypes
    from grilly.lax.elementwise import mul
    from grilly.lax.reductions import reduce_sum
    from grilly.lax.structural import broadcasted_iota

    while len(set(spec)) != len(spec):
        c = next(ch for ch in spec if spec.count(ch) > 1)
        i = spec.index(c)
        j = spec.index(c, i + 1)
        shape = aval_of(op).shape
        eye = E.convert(E.eq_(broadcasted_iota(dtypes.int32, shape, i), broadcasted_iota(dtypes.int32, shape, j)),
                        aval_of(op).dtype)
        op = reduce_sum(mul(op, eye), (j,))
        spec = spec[:j] + spec[j + 1:]
    return op, spec


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector and matrix norms: 2 (default), 1, inf, -inf, 0, p, and 'fro' for matrices."""
    from grilly.numpy._reductions import max as max_
    from grilly.numpy._reductions import min as min_
    from grilly.numpy._reductions import sum as sum_

    x = asarray(x)
    if dtypes.kind(x.dtype) != "f":
        x = asarray(x, float)
    if axis is None and ord is None:
        return E.sqrt(sum_(E.mul(x, x), axis=None, keepdims=keepdims))
    if isinstance(axis, tuple) and len(axis) == 2:
        if ord in (None, "fro"):
            return E.sqrt(sum_(E.mul(x, x), axis=axis, keepdims=keepdims))
        raise ValueError(f"norm: matrix ord {ord!r} is not supported; use 'fro'")
    if axis is None:
        x, axis = ravel_(x), 0
    ax = (axis,) if isinstance(axis, int) else tuple(axis)
    a = E.abs(x)
    if ord is None or ord == 2:
        return E.sqrt(sum_(E.mul(x, x), axis=ax, keepdims=keepdims))
    if ord == np.inf:
        return max_(a, axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return min_(a, axis=ax, keepdims=keepdims)
    if ord == 0:
        return sum_(E.convert(E.ne_(x, E.mul(x, asarray(np.zeros(aval_of(x).shape, aval_of(x).dtype)))),
                              aval_of(x).dtype), axis=ax, keepdims=keepdims)
    if ord == 1:
        return sum_(a, axis=ax, keepdims=keepdims)
    from grilly.numpy._math import power

    return power(sum_(power(a, float(ord)), axis=ax, keepdims=keepdims), 1.0 / ord)
