"""stop_gradient, checkpoint (rematerialization), and Jacobians / Hessians built from vjp, jvp and vmap."""

from __future__ import annotations

import functools

import numpy as np

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.primitive import Primitive
from grilly.core.program import eval_program, trace_to_program
from grilly.core.trace import Tracer
from grilly.lax._helpers import aval_of

stop_gradient_p = Primitive("stop_gradient")
P.abstract_eval_rules[stop_gradient_p] = lambda x: x
P.impl_rules["numpy"][stop_gradient_p] = lambda x: x
P.generic_impls[stop_gradient_p] = lambda x: x
P.jvp_rules[stop_gradient_p] = lambda primals, tangents: ([primals[0]], [None])
P.vjp_rules[stop_gradient_p] = lambda cts, primals, outs: [None]
P.batch_rules[stop_gradient_p] = lambda vals, dims: ([stop_gradient_p.bind(vals[0])], [dims[0]])


def stop_gradient(x):
    """The identity whose derivative is zero (applied to every leaf of a pytree)."""
    return tree.map(stop_gradient_p.bind, x)


# ---- checkpoint: keep only the inputs on the tape and recompute the function in the backward pass ------------

checkpoint_p = Primitive("checkpoint", multiple_results=True)


def _remat_tape(primals, parents, *, program):
    from grilly.transforms.tape import vjp_flat

    outs = eval_program(program, *primals)  # below the tape: nothing inside is recorded

    def vjp(cts):
        from grilly.lax._helpers import zeros_like

        _, back = vjp_flat(lambda *a: eval_program(program, *a), list(primals))
        in_cts = back([zeros_like(o) if c is None else c for c, o in zip(cts, outs)])
        return [c if dtypes.kind(aval_of(p).dtype) == "f" else None for c, p in zip(in_cts, primals)]

    return outs, vjp


P.abstract_eval_rules[checkpoint_p] = lambda *avals, program: program.out_avals
P.generic_impls[checkpoint_p] = lambda *args, program: eval_program(program, *args)
P.tape_rules[checkpoint_p] = _remat_tape
P.vjp_rules[checkpoint_p] = _remat_tape
P.jvp_rules[checkpoint_p] = P.batch_rules[checkpoint_p] = "inline"


def _inline_unless_tape(prim):
    """jvp and vmap look through checkpoint; only reverse mode treats it specially."""
    from grilly.transforms.batching import BatchTrace
    from grilly.transforms.jvp import JVPTrace

    for trace_type in (JVPTrace, BatchTrace):
        orig = trace_type.process_primitive

        def process(self, p, tracers, params, _orig=orig):
            if p is prim:
                return eval_program(params["program"], *tracers)
            return _orig(self, p, tracers, params)

        trace_type.process_primitive = process


_inline_unless_tape(checkpoint_p)


def checkpoint(fun, *, policy=None, static_argnums=()):
    """Save memory in reverse mode: store only ``fun``'s inputs and recompute it during the backward pass.

    >>> import grilly, grilly.numpy as gnp
    >>> f = grilly.checkpoint(lambda x: gnp.sin(gnp.sin(x)))
    >>> round(float(grilly.grad(f)(0.5)), 4)  # cos(sin(0.5)) * cos(0.5)
    0.7786
    """

    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args):
        from grilly.core.array import asarray_concrete

        static = {i % len(args): args[i] for i in static_argnums} if args else {}
        flat, in_tree = tree.flatten(tuple(a for i, a in enumerate(args) if i not in static))
        flat = [a if isinstance(a, Tracer) else asarray_concrete(a) for a in flat]
        store = {}

        def flat_fun(*leaves):
            dyn = iter(tree.unflatten(in_tree, list(leaves)))
            full = [static[i] if i in static else next(dyn) for i in range(len(args))]
            out_flat, store["tree"] = tree.flatten(fun(*full))
            return out_flat

        program, consts = trace_to_program(flat_fun, [aval_of(a) for a in flat])
        outs = checkpoint_p.bind(*consts, *flat, program=program)
        return tree.unflatten(store["tree"], outs)

    return wrapped


remat = checkpoint


# ---- Jacobians -----------------------------------------------------------------------------------------------

def _std_basis(flat):
    from grilly.core.array import asarray_concrete

    sizes = [aval_of(x).size for x in flat]
    total = int(sum(sizes))
    dtype = aval_of(flat[0]).dtype if flat else np.float32
    eye = np.eye(total, dtype=dtype)
    out, start = [], 0
    for x, n in zip(flat, sizes):
        out.append(asarray_concrete(eye[:, start:start + n].reshape((total, *aval_of(x).shape))))
        start += n
    return out, total


def jacrev(fun, argnums=0, has_aux: bool = False):
    """The Jacobian by reverse mode: one VJP per output element, batched with vmap."""
    from grilly.transforms.batching import vmap
    from grilly.transforms.tape import vjp

    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def jac(*args):
        def f_sel(*sel):
            full = list(args)
            for n, s in zip(nums, sel):
                full[n] = s
            return fun(*full)

        res = vjp(f_sel, *[args[n] for n in nums], has_aux=has_aux)
        out, pull = res[0], res[1]
        out_flat, out_tree = tree.flatten(out)
        basis, total = _std_basis([_canon(o) for o in out_flat])
        grads = vmap(lambda *ct: pull(tree.unflatten(out_tree, list(ct))))(*basis)
        # grads: tuple over argnums, each leaf (total, *arg.shape) -> split per output leaf
        result = []
        for g in grads:
            def split(leaf):
                parts, start = [], 0
                for o in out_flat:
                    n = aval_of(_canon(o)).size
                    from grilly.lax.structural import reshape, slice_in_dim

                    part = slice_in_dim(leaf, start, start + n, axis=0)
                    parts.append(reshape(part, (*aval_of(_canon(o)).shape, *aval_of(leaf).shape[1:])))
                    start += n
                return tree.unflatten(out_tree, parts)

            result.append(tree.map(split, g))
        j = result[0] if single else tuple(result)
        return (j, res[2]) if has_aux else j

    return jac


def jacfwd(fun, argnums=0, has_aux: bool = False):
    """The Jacobian by forward mode: one JVP per input element, batched with vmap."""
    from grilly.transforms.batching import vmap
    from grilly.transforms.jvp import jvp

    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def jac(*args):
        sel = tuple(_canon_tree(args[n]) for n in nums)
        in_flat, in_tree = tree.flatten(sel)
        basis, total = _std_basis(in_flat)

        def f_sel(*s):
            full = list(args)
            for n, v in zip(nums, s):
                full[n] = v
            return fun(*full)

        def push(*t_flat):
            t = tree.unflatten(in_tree, list(t_flat))
            r = jvp(f_sel, sel, t, has_aux=has_aux)
            return r[1] if not has_aux else (r[1], r[2])

        outs = vmap(push, out_axes=-1)(*basis)
        aux = None
        if has_aux:
            outs, aux = outs
            aux = tree.map(lambda a: a[..., 0] if hasattr(a, "shape") else a, aux)
        # each output leaf: (*out.shape, total) -> per input leaf (*out.shape, *in.shape)
        from grilly.lax.structural import reshape, slice_in_dim

        def split(leaf):
            parts, start = [], 0
            av = aval_of(leaf)
            for x in in_flat:
                n = aval_of(x).size
                part = slice_in_dim(leaf, start, start + n, axis=av.ndim - 1)
                parts.append(reshape(part, (*av.shape[:-1], *aval_of(x).shape)))
                start += n
            per = tree.unflatten(in_tree, parts)
            return per[0] if single else per

        j = tree.map(split, outs)
        return (j, aux) if has_aux else j

    return jac


def hessian(fun, argnums=0):
    """Second derivatives: forward over reverse (``jacfwd(jacrev(f))``)."""
    return jacfwd(jacrev(fun, argnums), argnums)


def _canon(x):
    from grilly.core.array import asarray_concrete

    return x if isinstance(x, Tracer) else asarray_concrete(x)


def _canon_tree(x):
    return tree.map(_canon, x)
