"""while_loop and fori_loop. Reverse-mode differentiation of while_loop is undefined (the trip count is
data-dependent); fori_loop with static bounds lowers to scan and is differentiable."""

from __future__ import annotations

from grilly import tree
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.errors import GrillyError, TransformError
from grilly.core.primitive import Primitive
from grilly.core.program import eval_program
from grilly.core.trace import Tracer
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, batch_size, bdim_to_front, full, zeros_like
from grilly.lax.control_flow.common import check_same_avals, float_mask, trace_fn
from grilly.lax.reductions import reduce_or

while_p = Primitive("while", multiple_results=True)


def _canon(v):
    from grilly.core.array import asarray_concrete

    return v if isinstance(v, Tracer) else asarray_concrete(v)


def while_loop(cond_fun, body_fun, init_val):
    """``while cond_fun(val): val = body_fun(val)``, staged so it runs under jit and vmap.

    >>> import grilly.lax as lax
    >>> int(lax.while_loop(lambda i: i < 10, lambda i: i + 3, 0))
    12
    """
    flat, treedef = tree.flatten(init_val)
    flat = [_canon(v) for v in flat]
    avals = [aval_of(v) for v in flat]

    def cond_flat(*args):
        out = _canon(cond_fun(tree.unflatten(treedef, list(args))))
        if aval_of(out).shape != () or aval_of(out).dtype != E.dtypes.bool_:
            raise GrillyError(f"while_loop: cond_fun must return a boolean scalar, got {aval_of(out)}")
        return [out]

    def body_flat(*args):
        out = body_fun(tree.unflatten(treedef, list(args)))
        o_flat, o_tree = tree.flatten(out)
        if o_tree != treedef:
            raise GrillyError(f"while_loop: body_fun output structure {o_tree} differs from the input's {treedef}")
        o_flat = [_canon(v) for v in o_flat]
        check_same_avals("while_loop: body_fun must keep the carry's shapes/dtypes", avals, o_flat)
        return o_flat

    cprog, cconsts = trace_fn(cond_flat, avals)
    bprog, bconsts = trace_fn(body_flat, avals)
    outs = while_p.bind(*cconsts, *bconsts, *flat, cond_program=cprog, body_program=bprog,
                        cond_nconsts=len(cconsts), body_nconsts=len(bconsts))
    return tree.unflatten(treedef, outs)


def _while_abstract(*avals, cond_program, body_program, cond_nconsts, body_nconsts):
    return body_program.out_avals


def _while_impl(*args, cond_program, body_program, cond_nconsts, body_nconsts):
    cc, bc = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts]
    val = list(args[cond_nconsts + body_nconsts:])
    while bool(eval_program(cond_program, *cc, *val)[0]):
        val = eval_program(body_program, *bc, *val)
    return val


def _while_jvp(primals, tangents, *, cond_program, body_program, cond_nconsts, body_nconsts):
    from grilly.transforms.jvp import jvp_flat

    nc, nb = cond_nconsts, body_nconsts
    cc, bc, init = primals[:nc], primals[nc:nc + nb], primals[nc + nb:]
    bc_t, init_t = tangents[nc:nc + nb], tangents[nc + nb:]
    b_avals = body_program.in_avals
    bfl, vfl = float_mask(b_avals[:nb]), float_mask(b_avals[nb:])
    nbt = sum(bfl)

    def body(*args):  # body consts, their tangents, carry, carry tangents
        consts, ct_it = list(args[:nb]), iter(args[nb:nb + nbt])
        val, vt_it = list(args[nb + nbt:nb + nbt + len(vfl)]), iter(args[nb + nbt + len(vfl):])
        tans = [next(ct_it) if f else None for f in bfl] + [next(vt_it) if f else None for f in vfl]
        outs, touts = jvp_flat(lambda *a: eval_program(body_program, *a), consts + val, tans)
        return outs + [t for t, f in zip(touts, vfl) if f]

    def cond(*args):
        return eval_program(cond_program, *args[:nc], *args[nc:nc + len(vfl)])

    b_in = b_avals[:nb] + [a for a, f in zip(b_avals[:nb], bfl) if f] + b_avals[nb:] + [
        a for a, f in zip(b_avals[nb:], vfl) if f]
    c_in = cond_program.in_avals + [a for a, f in zip(b_avals[nb:], vfl) if f]
    bprog, bconsts = trace_fn(body, b_in)
    cprog, cconsts = trace_fn(lambda *a: cond(*a), c_in)
    ops_bt = [zeros_like(p) if t is None else t for p, t, f in zip(bc, bc_t, bfl) if f]
    ops_vt = [zeros_like(p) if t is None else t for p, t, f in zip(init, init_t, vfl) if f]
    outs = while_p.bind(*cconsts, *cc, *bconsts, *bc, *ops_bt, *init, *ops_vt, cond_program=cprog,
                        body_program=bprog, cond_nconsts=len(cconsts) + nc, body_nconsts=len(bconsts) + nb + nbt)
    n = len(init)
    vals, ts = outs[:n], iter(outs[n:])
    return vals, [next(ts) if f else None for f in vfl]


def _while_tape(primals, parents, **params):
    raise TransformError("reverse-mode differentiation (grad/vjp) of while_loop is not supported: its trip count "
                         "depends on the data. Use lax.scan, or fori_loop with Python-int bounds, instead.")


def _while_batch(vals, dims, *, cond_program, body_program, cond_nconsts, body_nconsts):
    from grilly.transforms.batching import batch_flat

    size = batch_size(vals, dims)
    nc, nb = cond_nconsts, body_nconsts
    cd, bd, vd = dims[:nc], dims[nc:nc + nb], dims[nc + nb:]
    carry_b = [d is not None for d in vd]
    b_avals, c_avals = body_program.in_avals, cond_program.in_avals

    def bat(avals, flags):
        return [ShapedArray((size, *a.shape), a.dtype) if f else a for a, f in zip(avals, flags)]

    def body_dims(flags):
        store = {}

        def f(*args):
            outs, store["d"] = batch_flat(lambda *a: eval_program(body_program, *a),
                                          [0 if x else None for x in flags], size, list(args))
            return outs

        trace_fn(f, bat(b_avals, flags))
        return [d is not None for d in store["d"]]

    for _ in range(len(carry_b) + 1):
        new = [a or b for a, b in zip(carry_b, body_dims([d is not None for d in bd] + carry_b))]
        if new == carry_b:
            break
        carry_b = new
    c_flags = [d is not None for d in cd] + carry_b
    store = {}

    def cond_b(*args):
        outs, store["d"] = batch_flat(lambda *a: eval_program(cond_program, *a), [0 if x else None for x in c_flags],
                                      size, list(args))
        return outs

    trace_fn(cond_b, bat(c_avals, c_flags))
    pred_batched = store["d"][0] is not None
    if pred_batched:
        carry_b = [True] * len(carry_b)
        c_flags = [d is not None for d in cd] + carry_b
    b_flags = [d is not None for d in bd] + carry_b

    def run_cond(*args):
        outs, d = batch_flat(lambda *a: eval_program(cond_program, *a), [0 if x else None for x in c_flags], size,
                             list(args))
        return [bdim_to_front(outs[0], d[0], size) if pred_batched else outs[0]]

    def run_body(*args):
        outs, d = batch_flat(lambda *a: eval_program(body_program, *a), [0 if x else None for x in b_flags], size,
                             list(args))
        return [bdim_to_front(o, dd, size) if f else o for o, dd, f in zip(outs, d, carry_b)]

    consts_c = [v if d is None else bdim_to_front(v, d, size) for v, d in zip(vals[:nc], cd)]
    consts_b = [v if d is None else bdim_to_front(v, d, size) for v, d in zip(vals[nc:nc + nb], bd)]
    init = [bdim_to_front(v, d, size) if f else v for v, d, f in zip(vals[nc + nb:], vd, carry_b)]
    if not pred_batched:
        cprog, cconsts = trace_fn(run_cond, bat(c_avals, c_flags))
        bprog, bconsts = trace_fn(run_body, bat(b_avals, b_flags))
        outs = while_p.bind(*cconsts, *consts_c, *bconsts, *consts_b, *init, cond_program=cprog, body_program=bprog,
                            cond_nconsts=len(cconsts) + nc, body_nconsts=len(bconsts) + nb)
        return outs, [0 if f else None for f in carry_b]
    nv = len(init)

    def any_cond(*args):  # cond consts, body consts (unused), carry
        pred = run_cond(*args[:nc], *args[nc + nb:])[0]
        return [reduce_or(pred, (0,))]

    def masked_body(*args):  # cond consts, body consts, carry: members whose predicate is false keep their value
        cc_, bc_, val = args[:nc], args[nc:nc + nb], list(args[nc + nb:])
        pred = run_cond(*cc_, *val)[0]
        new = run_body(*bc_, *val)
        from grilly.lax.structural import broadcast_in_dim

        return [E.select(broadcast_in_dim(pred, aval_of(n).shape, (0,)), n, v) for n, v in zip(new, val)]

    all_c = bat(c_avals[:nc], c_flags[:nc]) + bat(b_avals[:nb], b_flags[:nb]) + bat(b_avals[nb:], carry_b)
    cprog, cconsts = trace_fn(any_cond, all_c)
    bprog, bconsts = trace_fn(masked_body, all_c)
    ops = consts_c + consts_b
    outs = while_p.bind(*cconsts, *ops, *bconsts, *ops, *init, cond_program=cprog, body_program=bprog,
                        cond_nconsts=len(cconsts) + len(ops), body_nconsts=len(bconsts) + len(ops))
    return outs[:nv], [0] * nv


P.abstract_eval_rules[while_p] = _while_abstract
P.generic_impls[while_p] = _while_impl
P.jvp_rules[while_p] = _while_jvp
P.tape_rules[while_p] = _while_tape
P.vjp_rules[while_p] = _while_tape
P.batch_rules[while_p] = _while_batch


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``; with Python-int bounds it is a scan
    (differentiable), otherwise a while_loop."""
    from grilly.lax.control_flow.scan import scan

    if isinstance(lower, int) and isinstance(upper, int):
        def step(carry, _):
            i, val = carry
            return (E.add(i, full((), 1, E.dtypes.int32)), body_fun(i, val)), None

        (_, out), _ = scan(step, (full((), lower, E.dtypes.int32), init_val), None, length=max(upper - lower, 0))
        return out
    lo, hi = _canon(lower), _canon(upper)
    lo = E.convert(lo, E.dtypes.int32) if aval_of(lo).dtype != E.dtypes.int32 else lo
    hi = E.convert(hi, E.dtypes.int32) if aval_of(hi).dtype != E.dtypes.int32 else hi
    _, _, out = while_loop(lambda c: E.lt_(c[0], c[1]),
                           lambda c: (E.add(c[0], full((), 1, E.dtypes.int32)), c[1], body_fun(c[0], c[2])),
                           (lo, hi, init_val))
    return out
