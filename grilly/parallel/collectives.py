"""Collectives over a named axis: psum, pmean, pmax, pmin, all_gather, axis_index.

Inside ``vmap(..., axis_name=n)`` they act across the batch; inside ``pmap(..., axis_name=n)`` the pmap
interpreter runs them across devices (staged through the host: the portable path). Anywhere else an unbound
axis name is an error.
"""

from __future__ import annotations

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.errors import GrillyError
from grilly.core.primitive import Primitive
from grilly.lax import elementwise as E
from grilly.lax import reductions as R
from grilly.lax._helpers import aval_of
from grilly.lax.structural import broadcast_in_dim, broadcasted_iota, concatenate, expand_dims

psum_p = Primitive("psum")
pmax_p = Primitive("pmax")
pmin_p = Primitive("pmin")
all_gather_p = Primitive("all_gather")
axis_index_p = Primitive("axis_index")
COLLECTIVES = (psum_p, pmax_p, pmin_p, all_gather_p, axis_index_p)


def _unbound(prim, axis_name):
    raise GrillyError(f"{prim.name}: axis name {axis_name!r} is not bound; use it inside "
                      f"grilly.pmap(..., axis_name={axis_name!r}) or grilly.vmap(..., axis_name={axis_name!r})")


for _p in COLLECTIVES:
    P.generic_impls[_p] = (lambda prim: lambda *a, axis_name, **k: _unbound(prim, axis_name))(_p)

P.abstract_eval_rules[psum_p] = P.abstract_eval_rules[pmax_p] = P.abstract_eval_rules[pmin_p] = (
    lambda x, *, axis_name: x)


def _all_gather_abstract(x, *, axis_name, axis_size, axis):
    shape = list(x.shape)
    shape.insert(axis, axis_size)
    return x.update(shape=tuple(shape))


P.abstract_eval_rules[all_gather_p] = _all_gather_abstract
P.abstract_eval_rules[axis_index_p] = lambda *, axis_name: aval_of(0).update(shape=(), dtype=dtypes.int32)
P.nondiff.add(axis_index_p)
P.nondiff.add(pmax_p)  # like JAX: no derivative through pmax/pmin
P.nondiff.add(pmin_p)

# psum is linear, and its transpose is itself (every member receives the sum of the cotangents)
P.jvp_rules[psum_p] = lambda primals, tangents, *, axis_name: (
    [psum_p.bind(primals[0], axis_name=axis_name)],
    [None if tangents[0] is None else psum_p.bind(tangents[0], axis_name=axis_name)])
P.vjp_rules[psum_p] = lambda cts, primals, outs, *, axis_name: [
    None if cts[0] is None else psum_p.bind(cts[0], axis_name=axis_name)]


def _all_gather_jvp(primals, tangents, **kw):
    out = all_gather_p.bind(primals[0], **kw)
    return [out], [None if tangents[0] is None else all_gather_p.bind(tangents[0], **kw)]


def _all_gather_vjp(cts, primals, outs, *, axis_name, axis_size, axis):
    from grilly.lax.structural import dynamic_index_in_dim

    if cts[0] is None:
        return [None]
    summed = psum_p.bind(cts[0], axis_name=axis_name)
    return [dynamic_index_in_dim(summed, axis_index_p.bind(axis_name=axis_name), axis, keepdims=False)]


P.jvp_rules[all_gather_p] = _all_gather_jvp
P.vjp_rules[all_gather_p] = _all_gather_vjp


def reduce_over_batch(prim, val, bdim, params, size):
    """A collective over the vmapped axis itself: returns (value, bdim)."""
    if prim is axis_index_p:
        return broadcasted_iota(dtypes.int32, (size,), 0), 0
    if prim is all_gather_p:
        from grilly.lax._helpers import bdim_to_front, moveaxis

        v = bdim_to_front(val, bdim, size)
        g = moveaxis(v, 0, params["axis"]) if params["axis"] else v
        av = aval_of(g)
        return broadcast_in_dim(g, (size, *av.shape), tuple(range(1, av.ndim + 1))), 0
    red = {psum_p: R.reduce_sum, pmax_p: R.reduce_max, pmin_p: R.reduce_min}[prim]
    if bdim is None:
        return (E.mul(val, E.convert(aval_of(val).dtype.type(size), aval_of(val).dtype)) if prim is psum_p
                else val), None
    return red(val, (bdim,)), None


def psum(x, axis_name):
    """Sum ``x`` over the members of a named axis; every member gets the total."""
    from grilly import tree

    return tree.map(lambda v: psum_p.bind(v, axis_name=axis_name), x)


def pmean(x, axis_name):
    from grilly import tree

    n = axis_size(axis_name)
    return tree.map(lambda v: E.div(psum_p.bind(v, axis_name=axis_name), _const(v, n)), x)


def pmax(x, axis_name):
    return pmax_p.bind(x, axis_name=axis_name)


def pmin(x, axis_name):
    return pmin_p.bind(x, axis_name=axis_name)


def all_gather(x, axis_name, axis: int = 0):
    """Stack every member's ``x`` along a new axis ``axis``."""
    return all_gather_p.bind(x, axis_name=axis_name, axis_size=axis_size(axis_name), axis=axis)


def axis_index(axis_name):
    """This member's position along the named axis (int32)."""
    from grilly.core.trace import trace_stack
    from grilly.transforms.batching import BatchTrace, BatchTracer

    for main in reversed(trace_stack):  # it has no operand to find the vmap by: look the axis up by name
        if main.trace_type is BatchTrace and main.global_data[1] == axis_name:
            size = main.global_data[0]
            return BatchTracer(BatchTrace(main), broadcasted_iota(dtypes.int32, (size,), 0), 0)
    return axis_index_p.bind(axis_name=axis_name)


def _const(v, n):
    from grilly.lax._helpers import full

    av = aval_of(v)
    return full(av.shape, n, av.dtype)


_axis_sizes: list[dict] = [{}]


def axis_size(axis_name) -> int:
    for env in reversed(_axis_sizes):
        if axis_name in env:
            return env[axis_name]
    from grilly.core.trace import trace_stack

    for main in reversed(trace_stack):
        gd = main.global_data
        if isinstance(gd, tuple) and len(gd) == 2 and gd[1] == axis_name:
            return gd[0]
    raise GrillyError(f"axis name {axis_name!r} is not bound (use it inside pmap or vmap with axis_name)")


_ = (expand_dims, concatenate)


def _other_axis_batch(prim):
    """A collective over an outer axis acts on every batch member alike: keep the batch dim where it is."""

    def rule(vals, dims, **params):
        out = prim.bind(*vals, **params)
        d = dims[0] if dims else None
        if prim is all_gather_p and d is not None and params["axis"] <= d:
            d += 1
        return [out], [d]

    return rule


for _p in COLLECTIVES:
    P.collectives[_p] = reduce_over_batch
    P.batch_rules[_p] = _other_axis_batch(_p)
