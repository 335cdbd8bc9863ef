"""Forward mode: a JVPTracer carries a primal and its tangent (None is a symbolic zero)."""

from __future__ import annotations

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.trace import PrimalTracer, Trace, Tracer, full_lower, new_main


class JVPTracer(PrimalTracer):
    __slots__ = ("_trace", "primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent


class JVPTrace(Trace):
    def pure(self, val):
        return JVPTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(t is None for t in tangents) or prim in P.nondiff:
            outs = prim.bind(*primals, **params)
            outs = outs if prim.multiple_results else [outs]
            return [JVPTracer(self, o, None) for o in outs]
        if prim in P.inline_calls:
            from grilly.core.program import eval_program

            return eval_program(params["program"], *tracers)
        rule = P.jvp_rules.get(prim)
        if rule is None:
            raise P.rule_missing(prim, "forward-mode (jvp)")
        primals_out, tangents_out = rule(primals, tangents, **params)
        tangents_out = [t if t is None or _is_float(o) else None for o, t in zip(primals_out, tangents_out)]
        return [JVPTracer(self, p, t) for p, t in zip(primals_out, tangents_out)]


def _is_float(x):
    from grilly.lax._helpers import aval_of

    return dtypes.kind(aval_of(x).dtype) == "f"


def jvp_flat(fun, primals, tangents):
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*ins)
        out_primals, out_tangents = [], []
        from grilly.core.trace import full_raise
        from grilly.lax._helpers import zeros_like

        for o in outs:
            o = full_raise(trace, o)
            out_primals.append(full_lower(o.primal))
            out_tangents.append(full_lower(zeros_like(o.primal) if o.tangent is None else o.tangent))
    return out_primals, out_tangents


def jvp(fun, primals, tangents, has_aux: bool = False):
    """Forward-mode derivative: ``(fun(*primals), d fun(primals)[tangents])``.

    >>> import grilly, grilly.numpy as gnp
    >>> y, t = grilly.jvp(gnp.sin, (0.0,), (1.0,))
    >>> float(t)
    1.0
    """
    from grilly.core.array import asarray_concrete

    p_flat, p_tree = tree.flatten(tuple(primals))
    t_flat, t_tree = tree.flatten(tuple(tangents))
    if p_tree != t_tree:
        raise ValueError(f"jvp: primals and tangents must have one structure, got {p_tree} and {t_tree}")
    p_flat = [_canon(p) for p in p_flat]
    t_flat = [_canon(t) for t in t_flat]
    for p, t in zip(p_flat, t_flat):
        if p.shape != t.shape:
            raise ValueError(f"jvp: tangent shape {t.shape} does not match primal shape {p.shape}")
    store = {}

    def flat_fun(*args):
        out = fun(*tree.unflatten(p_tree, list(args)))
        if has_aux:
            out, store["aux"] = out
            store["main"] = args[0]._trace.main if args else None
        leaves, store["tree"] = tree.flatten(out)
        return leaves

    out_p, out_t = jvp_flat(flat_fun, p_flat, t_flat)
    res = (tree.unflatten(store["tree"], out_p), tree.unflatten(store["tree"], out_t))
    del asarray_concrete
    if not has_aux:
        return res
    # aux values leave as plain values (as in JAX), not as tracers of the finished trace
    aux = tree.map(lambda a: full_lower(a.primal) if isinstance(a, JVPTracer) and a._trace.main is store["main"]
                   else a, store["aux"])
    return (*res, aux)


def _canon(x):
    from grilly.core.array import asarray_concrete

    return x if isinstance(x, Tracer) else asarray_concrete(x)
