"""cond and switch: run one of several branches, chosen by an index. All branches see the same operands."""

from __future__ import annotations

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.errors import GrillyError
from grilly.core.primitive import Primitive
from grilly.core.program import eval_program
from grilly.core.trace import Tracer
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, batch_size, bdim_to_front, full, zeros_like
from grilly.lax.control_flow.common import float_mask, trace_fn

cond_p = Primitive("cond", multiple_results=True)


def _canon(v):
    from grilly.core.array import asarray_concrete

    return v if isinstance(v, Tracer) else asarray_concrete(v)


def switch(index, branches, *operands):
    """Apply ``branches[index](*operands)``; the index is clamped into range, as in JAX."""
    flat, treedef = tree.flatten(operands)
    flat = [_canon(v) for v in flat]
    avals = [aval_of(v) for v in flat]
    progs, consts, store = [], [], {}
    for br in branches:
        def f(*args, _br=br):
            out = _br(*tree.unflatten(treedef, list(args)))
            o_flat, o_tree = tree.flatten(out)
            if store.setdefault("tree", o_tree) != o_tree:
                raise GrillyError(f"cond/switch: branches return different structures: {store['tree']} vs {o_tree}")
            return [_canon(o) for o in o_flat]

        p, c = trace_fn(f, avals)
        progs.append(p)
        consts.append(c)
    outs0 = progs[0].out_avals
    for p in progs[1:]:
        if p.out_avals != outs0:
            raise GrillyError("cond/switch: branches return different shapes/dtypes: "
                              f"{[a.str_short() for a in outs0]} vs {[a.str_short() for a in p.out_avals]}")
    all_consts = [c for cs in consts for c in cs]
    const_avals = [aval_of(c) for c in all_consts]
    joined = []
    start = 0
    for p, cs in zip(progs, consts):
        lo, hi = start, start + len(cs)
        joined.append(trace_fn(lambda *a, _p=p, _lo=lo, _hi=hi: eval_program(_p, *a[_lo:_hi], *a[len(all_consts):]),
                               const_avals + avals)[0])
        start = hi
    idx = _canon(index)
    if aval_of(idx).dtype != dtypes.int32:
        idx = E.convert(idx, dtypes.int32)
    idx = E.max_(E.min_(idx, full((), len(branches) - 1, dtypes.int32)), full((), 0, dtypes.int32))
    outs = cond_p.bind(idx, *all_consts, *flat, branches=tuple(joined))
    return tree.unflatten(store["tree"], outs)


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)``, staged so it works under jit and vmap.

    >>> import grilly.lax as lax
    >>> float(lax.cond(True, lambda x: x + 1.0, lambda x: x - 1.0, 1.0))
    2.0
    """
    p = _canon(pred)
    if aval_of(p).shape != ():
        raise GrillyError(f"cond: the predicate must be a scalar, got {aval_of(p)}")
    index = E.convert(E.ne_(p, full((), 0, aval_of(p).dtype)) if aval_of(p).dtype != dtypes.bool_ else p,
                      dtypes.int32)
    return switch(index, [false_fun, true_fun], *operands)


def _join(fns, in_avals):
    """Trace each branch; return programs that all take (every branch's constants, *args), and the constants."""
    traced = [trace_fn(f, in_avals) for f in fns]
    consts = [c for _, cs in traced for c in cs]
    const_avals = [aval_of(c) for c in consts]
    progs, start = [], 0
    for p, cs in traced:
        lo, hi = start, start + len(cs)
        progs.append(trace_fn(lambda *a, _p=p, _lo=lo, _hi=hi: eval_program(_p, *a[_lo:_hi], *a[len(consts):]),
                              const_avals + list(in_avals))[0])
        start = hi
    return tuple(progs), consts


def _cond_abstract(index, *avals, branches):
    return branches[0].out_avals


def _cond_impl(index, *ops, branches):
    return eval_program(branches[int(index)], *ops)


def _cond_jvp(primals, tangents, *, branches):
    from grilly.transforms.jvp import jvp_flat

    ops, ts = primals[1:], tangents[1:]
    fl = float_mask([aval_of(o) for o in ops])
    out_fl = float_mask(branches[0].out_avals)
    avals = [aval_of(o) for o in ops]

    def make(br):
        def f(*args):
            prim, t_it = list(args[:len(ops)]), iter(args[len(ops):])
            tans = [next(t_it) if f_ else None for f_ in fl]
            outs, touts = jvp_flat(lambda *a: eval_program(br, *a), prim, tans)
            return outs + [t for t, f_ in zip(touts, out_fl) if f_]

        return f

    new, consts = _join([make(b) for b in branches], avals + [a for a, f_ in zip(avals, fl) if f_])
    t_ops = [zeros_like(o) if t is None else t for o, t, f_ in zip(ops, ts, fl) if f_]
    outs = cond_p.bind(primals[0], *consts, *ops, *t_ops, branches=new)
    n = len(branches[0].out_avals)
    t_it = iter(outs[n:])
    return outs[:n], [next(t_it) if f_ else None for f_ in out_fl]


def _cond_tape(primals, parents, *, branches):
    from grilly.transforms.tape import vjp_flat

    index, ops = primals[0], primals[1:]
    outs = cond_p.bind(*primals, branches=branches)
    avals = [aval_of(o) for o in ops]
    out_avals = branches[0].out_avals

    def vjp(cts):
        cts = [zeros_like(o) if c is None else c for c, o in zip(cts, outs)]

        def make(br):
            def f(*args):
                _, back = vjp_flat(lambda *a: eval_program(br, *a), list(args[:len(ops)]))
                return back(list(args[len(ops):]))

            return f

        progs, consts = _join([make(b) for b in branches], avals + list(out_avals))
        in_cts = cond_p.bind(index, *consts, *ops, *cts, branches=progs)
        return [None] + [c if dtypes.kind(aval_of(o).dtype) == "f" else None for c, o in zip(in_cts, ops)]

    return outs, vjp


def _cond_batch(vals, dims, *, branches):
    from grilly.transforms.batching import batch_flat

    size = batch_size(vals, dims)
    index, ops, odims = vals[0], vals[1:], dims[1:]
    flags = [d is not None for d in odims]
    ops = [bdim_to_front(o, d, size) if d is not None else o for o, d in zip(ops, odims)]
    avals = [aval_of(o) for o in ops]

    def make(br):
        def f(*args):
            outs, ds = batch_flat(lambda *a: eval_program(br, *a), [0 if x else None for x in flags], size,
                                  list(args))
            return [bdim_to_front(o, d, size) for o, d in zip(outs, ds)]

        return f

    if dims[0] is None:
        new, consts = _join([make(b) for b in branches], avals)
        outs = cond_p.bind(index, *consts, *ops, branches=new)
        return outs, [0] * len(outs)
    idx = bdim_to_front(index, dims[0], size)
    results = [make(b)(*ops) for b in branches]
    outs = []
    from grilly.lax.structural import broadcast_in_dim

    for k in range(len(results[0])):
        cases = [r[k] for r in results]
        w = broadcast_in_dim(idx, aval_of(cases[0]).shape, (0,))
        outs.append(E.select_n(w, *cases))
    return outs, [0] * len(outs)


P.abstract_eval_rules[cond_p] = _cond_abstract
P.generic_impls[cond_p] = _cond_impl
P.jvp_rules[cond_p] = _cond_jvp
P.tape_rules[cond_p] = _cond_tape
P.vjp_rules[cond_p] = _cond_tape
P.batch_rules[cond_p] = _cond_batch

