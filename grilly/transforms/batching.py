"""vmap: a BatchTracer carries a value and the position of its batch dimension (None: not batched)."""

from __future__ import annotations

from grilly import tree
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.errors import ConcretizationError
from grilly.core.trace import Trace, Tracer, full_raise, new_main
from grilly.lax._helpers import aval_of, bdim_to_front, moveaxis


class BatchTracer(Tracer):
    __slots__ = ("_trace", "val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self):
        av = aval_of(self.val)
        if self.bdim is None:
            return av
        return ShapedArray(av.shape[:self.bdim] + av.shape[self.bdim + 1:], av.dtype)

    def full_lower(self):
        return self.val.full_lower() if self.bdim is None and isinstance(self.val, Tracer) else (
            self.val if self.bdim is None else self)

    def _concrete(self, what):
        raise ConcretizationError(f"{what} of a batched value inside vmap: each batch member may differ. Use "
                                  "grilly.lax.cond/select/where instead of Python control flow.")

    def __bool__(self):
        self._concrete("bool()")

    def __int__(self):
        self._concrete("int()")

    def __float__(self):
        self._concrete("float()")

    def __index__(self):
        self._concrete("Using as an index")


class BatchTrace(Trace):
    @property
    def axis_size(self):
        return self.main.global_data[0]

    @property
    def axis_name(self):
        return self.main.global_data[1]

    def pure(self, val):
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        if all(d is None for d in dims) and not (prim in P.collectives and params.get("axis_name") == self.axis_name
                                                 and self.axis_name is not None):
            outs = prim.bind(*vals, **params)
            outs = outs if prim.multiple_results else [outs]
            return [BatchTracer(self, o, None) for o in outs]
        if prim in P.inline_calls:
            from grilly.core.program import eval_program

            return eval_program(params["program"], *tracers)
        if prim in P.collectives and params.get("axis_name") == self.axis_name and self.axis_name is not None:
            out, bdim = P.collectives[prim](prim, vals[0] if vals else None, dims[0] if dims else None, params,
                                            self.axis_size)
            return [BatchTracer(self, out, bdim)]
        rule = P.batch_rules.get(prim)
        if rule is None:
            raise P.rule_missing(prim, "batching (vmap)")
        outs, out_dims = rule(vals, dims, **params)
        return [BatchTracer(self, o, d) for o, d in zip(outs, out_dims)]


def vmap_flat(fun, in_dims, out_dims_fn, axis_size, args, axis_name=None):
    with new_main(BatchTrace, (axis_size, axis_name)) as main:
        trace = BatchTrace(main)
        ins = [BatchTracer(trace, a, d) for a, d in zip(args, in_dims)]
        outs = [full_raise(trace, o) for o in fun(*ins)]
        out_dims = out_dims_fn(len(outs))
        res = []
        for o, od in zip(outs, out_dims):
            if od is None:
                if o.bdim is not None:
                    raise ValueError("vmap: an output with out_axes=None varies along the mapped axis")
                res.append(o.val)
            else:
                v = bdim_to_front(o.val, o.bdim, axis_size)
                res.append(moveaxis(v, 0, od) if od != 0 else v)
        return res


def vmap(fun, in_axes=0, out_axes=0, axis_size: int | None = None, axis_name=None):
    """Vectorize ``fun`` over a new leading (or ``in_axes``) dimension, as ``jax.vmap``.

    >>> import grilly, grilly.numpy as gnp
    >>> grilly.vmap(lambda v: gnp.dot(v, v))(gnp.ones((3, 2))).tolist()
    [2.0, 2.0, 2.0]
    """

    def batched(*args, **kwargs):
        from grilly.core.array import asarray_concrete

        if kwargs:  # keyword arguments are mapped over their axis 0, as in JAX
            pos = tuple(in_axes) if isinstance(in_axes, tuple | list) else (in_axes,) * len(args)
            return vmap(lambda *a: fun(*a[:-1], **a[-1]), (*pos, 0), out_axes, axis_size, axis_name)(*args, kwargs)
        axes = in_axes if isinstance(in_axes, tuple | list) and not isinstance(in_axes, int) else (
            (in_axes,) * len(args))
        if isinstance(in_axes, list):
            axes = tuple(in_axes)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries but the function got {len(args)} arguments")
        flat, treedef = tree.flatten(args)
        dims = tree.prefix_broadcast(tuple(axes), args, "in_axes")
        flat = [a if isinstance(a, Tracer) else asarray_concrete(a) for a in flat]
        sizes = set()
        norm = []
        for a, d in zip(flat, dims):
            if d is None:
                norm.append(None)
                continue
            nd = aval_of(a).ndim
            if not -nd <= d < nd:
                raise ValueError(f"vmap: in_axes={d} is out of range for an argument of shape {aval_of(a).shape}")
            norm.append(d % nd)
            sizes.add(aval_of(a).shape[d % nd])
        if axis_size is not None:
            sizes.add(axis_size)
        if len(sizes) != 1:
            shapes = [aval_of(a).shape for a in flat]
            raise ValueError(f"vmap: mapped axes must have one size, got sizes {sorted(sizes)} from argument "
                             f"shapes {shapes} with in_axes {in_axes}" if sizes else
                             "vmap: no argument is mapped; pass axis_size")
        size = sizes.pop()
        store = {}

        def flat_fun(*xs):
            out = fun(*tree.unflatten(treedef, list(xs)))
            leaves, store["tree"] = tree.flatten(out)
            return leaves

        def out_dims_fn(n):
            return tree.prefix_broadcast(out_axes, tree.unflatten(store["tree"], [0] * n), "out_axes")

        outs = vmap_flat(flat_fun, norm, out_dims_fn, size, flat, axis_name)
        return tree.unflatten(store["tree"], outs)

    batched.__wrapped__ = fun
    return batched


def batch_flat(fun, in_dims, axis_size, args):
    """Run ``fun`` batched; return its outputs with their batch dims (None where an output is unbatched)."""
    with new_main(BatchTrace, (axis_size, None)) as main:
        trace = BatchTrace(main)
        ins = [BatchTracer(trace, a, d) for a, d in zip(args, in_dims)]
        outs = [full_raise(trace, o) for o in fun(*ins)]
        return [o.val for o in outs], [o.bdim for o in outs]
