"""custom_vjp and custom_jvp: user-defined derivative rules, as primitives so every transform sees them.

The primitives carry the user's Python callables (flattened) as params: ``fun`` for evaluation, ``fwd``/``bwd``
for reverse mode, ``jvp`` for forward mode. vmap batches all of them together.
"""

from __future__ import annotations

import functools

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.errors import TransformError
from grilly.core.primitive import Primitive
from grilly.core.program import trace_to_program
from grilly.core.trace import Tracer
from grilly.lax._helpers import aval_of, bdim_to_front, zeros_like

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


def _canon(x):
    from grilly.core.array import asarray_concrete

    return x if isinstance(x, Tracer) else asarray_concrete(x)


def _out_avals(fun, avals, num_out):
    prog, _ = trace_to_program(fun, avals)
    return prog.out_avals


def _flatten_call(user_fun, nondiff_argnums, args):
    """Split a call into static (nondiff) and differentiable arguments, and flatten the latter to leaves.

    Returns the nondiff map, the differentiable args, their leaves and tree, ``full(leaves)`` rebuilding the
    argument list, the flat version of ``user_fun`` and the dict where it records its output structure."""
    nd = {i: args[i] for i in nondiff_argnums}
    dyn = [a for i, a in enumerate(args) if i not in nd]
    flat, in_tree = tree.flatten(tuple(dyn))
    flat = [_canon(x) for x in flat]
    store = {}

    def full(leaves):
        it = iter(tree.unflatten(in_tree, list(leaves)))
        return [nd[i] if i in nd else next(it) for i in range(len(args))]

    def fun(*leaves):
        out_flat, store["out"] = tree.flatten(user_fun(*full(leaves)))
        return [_canon(o) for o in out_flat]

    return nd, dyn, flat, in_tree, full, fun, store


# ---- custom_vjp -----------------------------------------------------------------------------------------------

def _cvjp_abstract(*avals, fun, fwd, bwd, num_out):
    return _out_avals(fun, list(avals), num_out)


def _cvjp_impl(*args, fun, fwd, bwd, num_out):
    return fun(*args)


def _cvjp_tape(primals, parents, *, fun, fwd, bwd, num_out):
    res = fwd(*primals)
    outs, residuals = res[:num_out], res[num_out:]

    def vjp(cts):
        cts = [zeros_like(o) if c is None else c for c, o in zip(cts, outs)]
        in_cts = bwd(residuals, cts)
        return [c if dtypes.kind(aval_of(p).dtype) == "f" else None for c, p in zip(in_cts, primals)]

    return outs, vjp


def _cvjp_jvp(primals, tangents, **params):
    raise TransformError("forward-mode differentiation (jvp, jacfwd, hessian) of a custom_vjp function is not "
                         "supported; define a custom_jvp rule, or use reverse mode (grad, jacrev)")


def _batched(f, size, in_dims, force=True):
    """Wrap flat ``f`` to run batched along axis 0 of the inputs marked in ``in_dims``."""
    from grilly.transforms.batching import batch_flat

    def g(*args):
        outs, dims = batch_flat(f, in_dims, size, list(args))
        return [bdim_to_front(o, d, size) if (force or d is not None) else o for o, d in zip(outs, dims)]

    return g


def _cvjp_batch(vals, dims, *, fun, fwd, bwd, num_out):
    from grilly.lax._helpers import batch_size

    size = batch_size(vals, dims)
    vals = [bdim_to_front(v, d, size) if d is not None else v for v, d in zip(vals, dims)]
    in_dims = [0 if d is not None else None for d in dims]
    bfun = _batched(fun, size, in_dims)
    bfwd = _batched(fwd, size, in_dims)

    def bbwd(residuals, cts):
        n_res = len(residuals)
        flat_bwd = lambda *a: bwd(list(a[:n_res]), list(a[n_res:]))  # noqa: E731
        return _batched(flat_bwd, size, [0] * (n_res + len(cts)))(*residuals, *cts)

    outs = custom_vjp_call_p.bind(*vals, fun=bfun, fwd=bfwd, bwd=bbwd, num_out=num_out)
    return outs, [0] * len(outs)


P.abstract_eval_rules[custom_vjp_call_p] = _cvjp_abstract
P.generic_impls[custom_vjp_call_p] = _cvjp_impl
P.tape_rules[custom_vjp_call_p] = _cvjp_tape
P.vjp_rules[custom_vjp_call_p] = _cvjp_tape
P.jvp_rules[custom_vjp_call_p] = _cvjp_jvp
P.batch_rules[custom_vjp_call_p] = _cvjp_batch


class custom_vjp:  # noqa: N801  (the JAX name)
    """A function with a user-defined VJP.

    >>> import grilly, grilly.numpy as gnp
    >>> @grilly.custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> _ = clip_grad.defvjp(lambda x: (x, None), lambda res, g: (gnp.clip(g, -1.0, 1.0),))
    >>> float(grilly.grad(lambda x: 5.0 * clip_grad(x))(2.0))
    1.0
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums = fun, tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._signatures: dict = {}

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def _output_signature(self, fun, flat, in_tree, nd, store):
        """(number of outputs, output treedef), traced once per input signature rather than on every call."""
        avals = tuple(aval_of(x) for x in flat)
        try:
            key = (in_tree, avals, tuple(nd.items()))
            hash(key)
        except TypeError:  # an unhashable nondiff argument: trace every time
            key = None
        hit = self._signatures.get(key) if key is not None else None
        if hit is None:
            hit = (len(_out_avals(fun, list(avals), None)), store["out"])
            if key is not None:
                self._signatures[key] = hit
        return hit

    def __call__(self, *args):
        if self.fwd is None:
            raise TransformError(f"custom_vjp function {self.fun.__name__} has no rule: call .defvjp(fwd, bwd)")
        nd, dyn, flat, in_tree, full, fun, store = _flatten_call(self.fun, self.nondiff_argnums, args)

        def fwd(*leaves):
            out, res = self.fwd(*full(leaves))
            out_flat, store["out"] = tree.flatten(out)
            res_flat, store["res"] = tree.flatten(res)
            return [_canon(o) for o in out_flat] + [_canon(r) for r in res_flat]

        def bwd(res_leaves, cts):
            res = tree.unflatten(store["res"], list(res_leaves))
            ct = tree.unflatten(store["out"], list(cts))
            g = self.bwd(*[nd[i] for i in self.nondiff_argnums], res, ct)
            if not isinstance(g, tuple):
                raise TypeError(f"custom_vjp bwd of {self.fun.__name__} must return a tuple with one entry per "
                                f"differentiable argument, got {type(g).__name__}")
            g = list(g)
            for i, (d, gi) in enumerate(zip(dyn, g)):
                if gi is None:
                    g[i] = tree.map(lambda v: zeros_like(_canon(v)), d)
            g_flat = tree.leaves(tuple(g))
            return [_canon(x) for x in g_flat]

        num_out, store["out"] = self._output_signature(fun, flat, in_tree, nd, store)
        outs = custom_vjp_call_p.bind(*flat, fun=fun, fwd=fwd, bwd=bwd, num_out=num_out)
        return tree.unflatten(store["out"], outs)


# ---- custom_jvp -----------------------------------------------------------------------------------------------

def _cjvp_abstract(*avals, fun, jvp):
    return _out_avals(fun, list(avals), None)


def _cjvp_impl(*args, fun, jvp):
    return fun(*args)


def _cjvp_jvp(primals, tangents, *, fun, jvp):
    tangents = [zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
    outs, touts = jvp(list(primals), tangents)
    return outs, touts


def _cjvp_tape(primals, parents, *, fun, jvp):
    from grilly.transforms.tape import vjp_flat

    outs = custom_jvp_call_p.bind(*primals, fun=fun, jvp=jvp)

    def back(cts):
        cts = [zeros_like(o) if c is None else c for c, o in zip(cts, outs)]
        # the tangent map is linear: its VJP (transpose) is reverse mode over it at zero tangents
        _, pull = vjp_flat(lambda *ts: jvp(list(primals), list(ts))[1], [zeros_like(p) for p in primals])
        in_cts = pull(cts)
        return [c if dtypes.kind(aval_of(p).dtype) == "f" else None for c, p in zip(in_cts, primals)]

    return outs, back


def _cjvp_batch(vals, dims, *, fun, jvp):
    from grilly.lax._helpers import batch_size

    size = batch_size(vals, dims)
    vals = [bdim_to_front(v, d, size) if d is not None else v for v, d in zip(vals, dims)]
    in_dims = [0 if d is not None else None for d in dims]
    n = len(vals)

    def bjvp(primals, tangents):
        flat = lambda *a: (lambda r: list(r[0]) + list(r[1]))(jvp(list(a[:n]), list(a[n:])))  # noqa: E731
        res = _batched(flat, size, in_dims + [0] * n)(*primals, *[bdim_to_front(t, None, size)
                                                                if aval_of(t).shape == aval_of(p).shape[1:] else t
                                                                for t, p in zip(tangents, primals)])
        k = len(res) // 2
        return res[:k], res[k:]

    outs = custom_jvp_call_p.bind(*vals, fun=_batched(fun, size, in_dims), jvp=bjvp)
    return outs, [0] * len(outs)


P.abstract_eval_rules[custom_jvp_call_p] = _cjvp_abstract
P.generic_impls[custom_jvp_call_p] = _cjvp_impl
P.jvp_rules[custom_jvp_call_p] = _cjvp_jvp
P.tape_rules[custom_jvp_call_p] = _cjvp_tape
P.vjp_rules[custom_jvp_call_p] = _cjvp_tape
P.batch_rules[custom_jvp_call_p] = _cjvp_batch


class custom_jvp:  # noqa: N801
    """A function with a user-defined JVP; reverse mode transposes it.

    >>> import grilly, grilly.numpy as gnp
    >>> @grilly.custom_jvp
    ... def f(x):
    ...     return gnp.sin(x)
    >>> _ = f.defjvp(lambda primals, tangents: (f(primals[0]), 2.0 * tangents[0]))
    >>> float(grilly.grad(f)(0.3))
    2.0
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums, self.rule = fun, tuple(nondiff_argnums), None

    def defjvp(self, rule):
        self.rule = rule
        return self

    def __call__(self, *args):
        if self.rule is None:
            raise TransformError(f"custom_jvp function {self.fun.__name__} has no rule: call .defjvp(rule)")
        nd, dyn, flat, in_tree, full, fun, store = _flatten_call(self.fun, self.nondiff_argnums, args)

        def jvp(primals, tangents):
            p = tree.unflatten(in_tree, list(primals))
            t = tree.unflatten(in_tree, list(tangents))
            out, tout = self.rule(*[nd[i] for i in self.nondiff_argnums], tuple(p), tuple(t))
            out_flat, store["out"] = tree.flatten(out)
            return [_canon(o) for o in out_flat], [_canon(o) for o in tree.leaves(tout)]

        outs = custom_jvp_call_p.bind(*flat, fun=fun, jvp=jvp)
        if "out" not in store:
            fun(*flat)
        return tree.unflatten(store["out"], outs)
