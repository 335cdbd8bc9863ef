"""Reverse mode as a tape (as in HIPS autograd): each primitive applied to a VJPTracer records a node with
its inputs' nodes and saved values; the backward pass walks the nodes in reverse topological order and
calls each primitive's VJP rule. VJP rules are written with grilly ops, so they are differentiable too."""

from __future__ import annotations

from grilly import tree
from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.trace import PrimalTracer, Trace, Tracer, full_lower, full_raise, new_main
from grilly.lax._helpers import add_any, aval_of, zeros_like


class Node:
    __slots__ = ("vjp", "parents", "num_outputs")

    def __init__(self, vjp, parents, num_outputs):
        self.vjp = vjp  # cts (list, one per output, None = zero) -> list of cts per parent
        self.parents = parents  # list of (Node, output index) or None, one per input
        self.num_outputs = num_outputs


class VJPTracer(PrimalTracer):
    __slots__ = ("_trace", "primal", "node", "index")

    def __init__(self, trace, primal, node, index=0):
        self._trace, self.primal, self.node, self.index = trace, primal, node, index


def _differentiable(x) -> bool:
    return dtypes.kind(aval_of(x).dtype) == "f"


class VJPTrace(Trace):
    def pure(self, val):
        return VJPTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        parents = [None if t.node is None else (t.node, t.index) for t in tracers]
        primals = [t.primal for t in tracers]
        if all(p is None for p in parents) or prim in P.nondiff:
            outs = prim.bind(*primals, **params)
            return [VJPTracer(self, o, None) for o in (outs if prim.multiple_results else [outs])]
        if prim in P.inline_calls:
            from grilly.core.program import eval_program

            return eval_program(params["program"], *tracers)
        special = P.tape_rules.get(prim)
        if special is not None:  # the rule runs the forward itself and returns its own backward
            outs, vjp = special(primals, parents, **params)
        else:
            rule = P.vjp_rules.get(prim)
            if rule is None:
                raise P.rule_missing(prim, "reverse-mode (vjp)")
            outs = prim.bind(*primals, **params)
            outs = list(outs) if prim.multiple_results else [outs]
            saved = list(outs)
            vjp = lambda cts, _r=rule, _p=primals, _o=saved, _k=params: _r(cts, _p, _o, **_k)  # noqa: E731
        node = Node(vjp, parents, len(outs))
        return [VJPTracer(self, o, node if _differentiable(o) else None, i) for i, o in enumerate(outs)]


def _toposort(roots):
    order, seen, stack = [], set(), [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            if p is not None and id(p[0]) not in seen:
                stack.append((p[0], False))
    return order[::-1]  # outputs first


def backward_pass(out_refs, out_cts, in_nodes):
    """Cotangents for ``in_nodes`` given cotangents for output references (node, index)."""
    cts: dict[tuple[int, int], object] = {}
    for ref, ct in zip(out_refs, out_cts):
        if ref is not None and ct is not None:
            key = (id(ref[0]), ref[1])
            cts[key] = add_any(cts.get(key), ct)
    for node in _toposort([r[0] for r in out_refs if r is not None]):
        if node.vjp is None:
            continue
        node_cts = [cts.pop((id(node), i), None) for i in range(node.num_outputs)]
        if all(c is None for c in node_cts):
            continue
        in_cts = node.vjp(node_cts)
        for parent, ct in zip(node.parents, in_cts):
            if parent is not None and ct is not None:
                key = (id(parent[0]), parent[1])
                cts[key] = add_any(cts.get(key), ct)
    return [cts.get((id(n), 0)) for n in in_nodes]


def vjp_flat(fun, primals):
    """Run ``fun`` on primals under a fresh tape; return outputs and a function from output cts to input cts."""
    with new_main(VJPTrace) as main:
        trace = VJPTrace(main)
        in_nodes = [Node(None, [], 1) for _ in primals]
        ins = [VJPTracer(trace, p, n) for p, n in zip(primals, in_nodes)]
        outs = [full_raise(trace, o) for o in fun(*ins)]
        out_primals = [full_lower(o.primal) for o in outs]
        out_refs = [None if o.node is None else (o.node, o.index) for o in outs]

    def backward(out_cts):
        in_cts = backward_pass(out_refs, list(out_cts), in_nodes)
        return [zeros_like(p) if c is None else full_lower(c) for p, c in zip(primals, in_cts)]

    return out_primals, backward


def _canon(x):
    from grilly.core.array import asarray_concrete

    return x if isinstance(x, Tracer) else asarray_concrete(x)


def vjp(fun, *primals, has_aux: bool = False):
    """``(fun(*primals), vjp_fn)`` where ``vjp_fn(ct)`` returns one cotangent per primal (a tuple).

    >>> import grilly, grilly.numpy as gnp
    >>> y, f_vjp = grilly.vjp(gnp.sin, 0.0)
    >>> float(f_vjp(1.0)[0])
    1.0
    """
    flat, in_tree = tree.flatten(primals)
    flat = [_canon(x) for x in flat]
    store = {}

    def flat_fun(*xs):
        out = fun(*tree.unflatten(in_tree, list(xs)))
        if has_aux:
            out, store["aux"] = out
            store["main"] = xs[0]._trace.main if xs else None
        leaves, store["tree"] = tree.flatten(out)
        return leaves

    outs, backward = vjp_flat(flat_fun, flat)
    out_tree = store["tree"]

    def vjp_fn(ct):
        ct_flat, ct_tree = tree.flatten(ct)
        if ct_tree != out_tree:
            raise ValueError(f"vjp: cotangent structure {ct_tree} does not match the output structure {out_tree}")
        ct_flat = [_canon(c) for c in ct_flat]
        for c, o in zip(ct_flat, outs):
            if aval_of(c).shape != aval_of(o).shape:
                raise ValueError(f"vjp: cotangent shape {aval_of(c).shape} does not match output shape "
                                 f"{aval_of(o).shape}")
        return tuple(tree.unflatten(in_tree, backward(ct_flat)))

    out = tree.unflatten(out_tree, outs)
    if not has_aux:
        return out, vjp_fn
    # aux values leave this tape as plain values (as in JAX), not as tracers of the finished trace
    aux = tree.map(lambda a: full_lower(a.primal) if isinstance(a, VJPTracer) and a._trace.main is store["main"]
                   else a, store["aux"])
    return out, vjp_fn, aux


def value_and_grad(fun, argnums=0, has_aux: bool = False):
    """``(fun(*args), d fun / d args[argnums])`` for a function with a scalar float output.

    >>> import grilly
    >>> v, g = grilly.value_and_grad(lambda x: x ** 2)(3.0)
    >>> float(v), float(g)
    (9.0, 6.0)
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        for n in nums:
            if n >= len(args):
                raise ValueError(f"grad: argnums={argnums} but the function was called with {len(args)} arguments")
        diff_args = tuple(args[n] for n in nums)
        for path, leaf in tree.flatten_with_path(diff_args)[0]:
            dt = aval_of(_canon(leaf)).dtype
            if dtypes.kind(dt) != "f":
                raise TypeError(f"grad requires float inputs; argument {nums[path[0]]} has a leaf of dtype {dt}"
                                " (use float32, or leave it out of argnums)")

        def f_diff(*dargs):
            full_args = list(args)
            for n, a in zip(nums, dargs):
                full_args[n] = a
            return fun(*full_args, **kwargs)

        res = vjp(f_diff, *diff_args, has_aux=has_aux)
        out, pullback = res[0], res[1]
        o = _canon(out) if not isinstance(out, tuple | list | dict) else None
        if o is None or aval_of(o).shape != () or dtypes.kind(aval_of(o).dtype) != "f":
            desc = aval_of(o).str_short() if o is not None else type(out).__name__
            raise TypeError(f"grad requires a function with a scalar float output, got {desc}"
                            " (use grilly.vjp or jacrev for other outputs)")
        from grilly.lax._helpers import ones_like

        grads = pullback(ones_like(o))
        g = grads[0] if single else grads
        return ((out, res[2]), g) if has_aux else (out, g)

    return wrapped


def grad(fun, argnums=0, has_aux: bool = False):
    """The gradient of a scalar-valued function, as ``jax.grad``.

    >>> import grilly, grilly.numpy as gnp
    >>> float(grilly.grad(lambda x: gnp.sum(x ** 3))(2.0))
    12.0
    """
    vg = value_and_grad(fun, argnums, has_aux)

    def wrapped(*args, **kwargs):
        (out, g) = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return wrapped
