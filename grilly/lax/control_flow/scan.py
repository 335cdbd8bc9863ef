"""lax.scan: a loop over the leading axis of xs with a carry. All of its rules live here."""

from __future__ import annotations

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.errors import GrillyError, ShapeError
from grilly.core.primitive import Primitive
from grilly.core.program import eval_program
from grilly.core.trace import Tracer
from grilly.lax._helpers import add_any, aval_of, batch_size, bdim_to_front, full, moveaxis, zeros_like
from grilly.lax.control_flow.common import check_same_avals, float_mask, trace_fn
from grilly.lax.elementwise import add
from grilly.lax.structural import index_axis0, stack0

scan_p = Primitive("scan", multiple_results=True)


def scan(f, init, xs=None, length: int | None = None, reverse: bool = False, unroll: int = 1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; return ``(carry, stacked ys)``.

    >>> import grilly.numpy as gnp, grilly.lax as lax
    >>> carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, gnp.arange(4.0))
    >>> float(carry), ys.tolist()
    (6.0, [0.0, 0.0, 2.0, 9.0])
    """
    from grilly.core.array import asarray_concrete

    canon = lambda v: v if isinstance(v, Tracer) else asarray_concrete(v)  # noqa: E731
    init_flat, init_tree = tree.flatten(init)
    xs_flat, xs_tree = tree.flatten(xs)
    init_flat, xs_flat = [canon(v) for v in init_flat], [canon(v) for v in xs_flat]
    lengths = {aval_of(x).shape[0] if aval_of(x).ndim else None for x in xs_flat}
    if None in lengths:
        raise ShapeError("scan: every leaf of xs needs a leading axis to scan over")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ShapeError(f"scan: xs leaves and length disagree on the number of steps: {sorted(lengths)}"
                         if lengths else "scan: pass xs or length")
    n = lengths.pop()
    nc = len(init_flat)
    carry_avals = [aval_of(c) for c in init_flat]
    x_avals = [ShapedArray(aval_of(x).shape[1:], aval_of(x).dtype) for x in xs_flat]
    store = {}

    def body(*args):
        carry = tree.unflatten(init_tree, list(args[:nc]))
        x = tree.unflatten(xs_tree, list(args[nc:]))
        out = f(carry, x)
        if not isinstance(out, tuple) or len(out) != 2:
            raise GrillyError("scan: the body must return a pair (new_carry, y)")
        new_carry, y = out
        c_flat, c_tree = tree.flatten(new_carry)
        if c_tree != init_tree:
            raise GrillyError(f"scan: the body's carry output structure {c_tree} differs from init's {init_tree}")
        c_flat = [canon(c) for c in c_flat]
        check_same_avals("scan: the carry's shapes/dtypes must stay the same across steps", carry_avals, c_flat)
        y_flat, store["y"] = tree.flatten(y)
        return c_flat + [canon(v) for v in y_flat]

    program, consts = trace_fn(body, carry_avals + x_avals)
    outs = scan_p.bind(*consts, *init_flat, *xs_flat, program=program, num_consts=len(consts), num_carry=nc,
                       length=n, reverse=bool(reverse), unroll=int(unroll))
    return tree.unflatten(init_tree, outs[:nc]), tree.unflatten(store["y"], outs[nc:])


def _split(args, num_consts, num_carry):
    return list(args[:num_consts]), list(args[num_consts:num_consts + num_carry]), list(args[num_consts + num_carry:])


def _scan_abstract(*avals, program, num_consts, num_carry, length, reverse, unroll):
    outs = program.out_avals
    return outs[:num_carry] + [ShapedArray((length, *a.shape), a.dtype) for a in outs[num_carry:]]


def _scan_impl(*args, program, num_consts, num_carry, length, reverse, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    steps = []
    for i in range(length):
        t = length - 1 - i if reverse else i
        outs = eval_program(program, *consts, *carry, *[index_axis0(x, t) for x in xs])
        carry = outs[:num_carry]
        steps.append(outs[num_carry:])
    if reverse:
        steps.reverse()
    y_avals = program.out_avals[num_carry:]
    if length == 0:
        ys = [full((0, *a.shape), 0, a.dtype) for a in y_avals]
    else:
        ys = [stack0([s[k] for s in steps]) for k in range(len(y_avals))]
    return carry + ys


# ---- forward mode ---------------------------------------------------------------------------------------------

def _scan_jvp(primals, tangents, *, program, num_consts, num_carry, length, reverse, unroll):
    from grilly.transforms.jvp import jvp_flat

    in_avals = program.in_avals
    fl = float_mask(in_avals)
    out_fl = float_mask(program.out_avals)
    k, nc = num_consts, num_carry
    nx = len(in_avals) - k - nc
    groups = [list(range(k)), list(range(k, k + nc)), list(range(k + nc, k + nc + nx))]
    tan_idx = [[i for i in g if fl[i]] for g in groups]

    def body(*args):  # consts, const tangents, carry, carry tangents, xs, x tangents
        pos, prim, tan = 0, [None] * len(in_avals), [None] * len(in_avals)
        for g, tg in zip(groups, tan_idx):
            for i in g:
                prim[i] = args[pos]
                pos += 1
            for i in tg:
                tan[i] = args[pos]
                pos += 1
        outs, touts = jvp_flat(lambda *a: eval_program(program, *a), prim, tan)
        res = outs[:nc] + [touts[j] for j in range(nc) if out_fl[j]]
        res += outs[nc:] + [touts[j] for j in range(nc, len(outs)) if out_fl[j]]
        return res

    ops, avals = [], []
    for g, tg in zip(groups, tan_idx):
        for i in g:
            ops.append(primals[i])
            avals.append(in_avals[i] if g is not groups[2] else aval_of(primals[i]).update(shape=in_avals[i].shape))
        for i in tg:
            ops.append(zeros_like(primals[i]) if tangents[i] is None else tangents[i])
            avals.append(in_avals[i])
    new_prog, consts = trace_fn(body, [in_avals[i] for g, tg in zip(groups, tan_idx) for i in (*g, *tg)])
    n_tc, n_tcarry = len(tan_idx[0]), len(tan_idx[1])
    outs = scan_p.bind(*consts, *ops, program=new_prog, num_consts=len(consts) + k + n_tc,
                       num_carry=nc + n_tcarry, length=length, reverse=reverse, unroll=unroll)
    carry, rest = outs[:nc], outs[nc:]
    carry_t_list, rest = rest[:n_tcarry], rest[n_tcarry:]
    ny = len(program.out_avals) - nc
    ys, ys_t_list = rest[:ny], rest[ny:]
    ct_iter, yt_iter = iter(carry_t_list), iter(ys_t_list)
    carry_t = [next(ct_iter) if out_fl[j] else None for j in range(nc)]
    ys_t = [next(yt_iter) if out_fl[nc + j] else None for j in range(ny)]
    return carry + ys, carry_t + ys_t


# ---- reverse mode: the forward scan saves each step's carry; the backward is a reversed scan ----------------

def _scan_tape(primals, parents, *, program, num_consts, num_carry, length, reverse, unroll):
    from grilly.transforms.tape import vjp_flat

    k, nc = num_consts, num_carry
    in_avals = program.in_avals

    def fwd_body(*args):
        return eval_program(program, *args) + list(args[k:k + nc])

    fwd_prog, fconsts = trace_fn(fwd_body, in_avals)
    outs = scan_p.bind(*fconsts, *primals, program=fwd_prog, num_consts=len(fconsts) + k, num_carry=nc,
                       length=length, reverse=reverse, unroll=unroll)
    n_out = len(program.out_avals)
    results, saved_carries = outs[:n_out], outs[n_out:]
    consts, _, xs = _split(primals, k, nc)
    nx = len(xs)
    out_avals = program.out_avals

    def vjp(cts):
        cts = [zeros_like(r) if c is None else c for c, r in zip(cts, results)]
        ct_carry, ct_ys = cts[:nc], cts[nc:]

        def bwd_body(*args):
            cs = list(args[:k])
            ct_c = list(args[k:k + nc])
            acc = list(args[k + nc:k + nc + k])
            rest = args[k + nc + k:]
            carry_t, x_t, ct_y = list(rest[:nc]), list(rest[nc:nc + nx]), list(rest[nc + nx:])
            _, back = vjp_flat(lambda *a: eval_program(program, *a), cs + carry_t + x_t)
            in_cts = back(ct_c + ct_y)
            new_acc = [add_any(a, c) if dtypes.kind(a.dtype) == "f" else a for a, c in zip(acc, in_cts[:k])]
            return in_cts[k:k + nc] + new_acc + in_cts[k + nc:]

        bwd_avals = (in_avals[:k] + out_avals[:nc] + in_avals[:k] + in_avals[k:k + nc] + in_avals[k + nc:]
                     + out_avals[nc:])
        bprog, bconsts = trace_fn(bwd_body, bwd_avals)
        acc0 = [zeros_like(c) for c in consts]
        bouts = scan_p.bind(*bconsts, *consts, *ct_carry, *acc0, *saved_carries, *xs, *ct_ys, program=bprog,
                            num_consts=len(bconsts) + k, num_carry=nc + k, length=length, reverse=not reverse,
                            unroll=unroll)
        ct_init, ct_consts, ct_xs = bouts[:nc], bouts[nc:nc + k], bouts[nc + k:]
        res = ct_consts + ct_init + ct_xs
        return [c if dtypes.kind(aval_of(p).dtype) == "f" else None for c, p in zip(res, primals)]

    return results, vjp


# ---- batching -------------------------------------------------------------------------------------------------

def _scan_batch(vals, dims, *, program, num_consts, num_carry, length, reverse, unroll):
    from grilly.transforms.batching import batch_flat

    size = batch_size(vals, dims)
    k, nc = num_consts, num_carry
    cb = [d is not None for d in dims[:k]]
    carry_b = [d is not None for d in dims[k:k + nc]]
    xb = [d is not None for d in dims[k + nc:]]
    in_avals = program.in_avals

    def batched_avals(flags):
        return [ShapedArray((size, *a.shape), a.dtype) if b else a for a, b in zip(in_avals, flags)]

    for _ in range(nc + 1):
        store = {}

        def body(*args, _flags=cb + carry_b + xb, _store=store):
            outs, odims = batch_flat(lambda *xs: eval_program(program, *xs),
                                     [0 if f else None for f in _flags], size, list(args))
            _store["dims"] = odims
            return outs

        trace_fn(body, batched_avals(cb + carry_b + xb))
        out_b = [d is not None for d in store["dims"][:nc]]
        new = [a or b for a, b in zip(carry_b, out_b)]
        if new == carry_b:
            break
        carry_b = new
    flags = cb + carry_b + xb

    def final_body(*args):
        outs, odims = batch_flat(lambda *a: eval_program(program, *a), [0 if f else None for f in flags], size,
                                 list(args))
        res = []
        for j, (o, d) in enumerate(zip(outs, odims)):
            want = carry_b[j] if j < nc else True
            res.append(bdim_to_front(o, d, size) if want else o)
        return res

    prog, bconsts = trace_fn(final_body, batched_avals(flags))
    consts = [moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals[:k], dims[:k])]
    init = [bdim_to_front(v, d, size) if b else v for v, d, b in zip(vals[k:k + nc], dims[k:k + nc], carry_b)]
    xs = [moveaxis(v, d, 1) if d is not None else v for v, d in zip(vals[k + nc:], dims[k + nc:])]
    outs = scan_p.bind(*bconsts, *consts, *init, *xs, program=prog, num_consts=len(bconsts) + k, num_carry=nc,
                       length=length, reverse=reverse, unroll=unroll)
    out_dims = [0 if b else None for b in carry_b] + [1] * (len(outs) - nc)
    return outs, out_dims


P.abstract_eval_rules[scan_p] = _scan_abstract
P.generic_impls[scan_p] = _scan_impl
P.jvp_rules[scan_p] = _scan_jvp
P.tape_rules[scan_p] = _scan_tape
P.vjp_rules[scan_p] = _scan_tape  # marker for the completeness test: reverse mode goes through tape_rules
P.batch_rules[scan_p] = _scan_batch

_ = (add, full, GrillyError)
