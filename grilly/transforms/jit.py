"""jit: trace a function once per (structure, shapes, dtypes, static args) into a Program and run that.

The call is the ``jit_call`` primitive. Evaluating it runs the program through the backend's executor (the
Vulkan backend records it once and replays it); other transforms see through it and transform its equations.
"""

from __future__ import annotations

import functools
import inspect

from grilly import tree
from grilly.core import primitive as P
from grilly.core.primitive import Primitive
from grilly.core.program import Program, eval_program, trace_to_program
from grilly.core.trace import Tracer
from grilly.lax._helpers import aval_of

jit_call_p = Primitive("jit_call", multiple_results=True)
executors: dict[str, object] = {}  # backend name -> callable(program, name, donate) -> runner(*arrays)


def _jit_call_impl(*args, program, name, donated):
    from grilly.core.array import Array
    from grilly.core.backend import backend_of, follow

    arrays = [a for a in args if isinstance(a, Array)]
    backend = None
    if arrays:  # the operands' one backend, or the committed ones' (constants made from Python scalars follow)
        b = arrays[0]._backend
        if any(a._backend is not b for a in arrays):
            b = backend_of(jit_call_p, arrays)
            args = tuple(follow(a, b) if isinstance(a, Array) else a for a in args)
        backend = b.name
    make = executors.get(backend)
    if make is None and backend == "vulkan":  # record-and-replay lives with the Vulkan backend
        from grilly.core.backend.vulkan.jit import install

        install()
        make = executors.get(backend)
    if make is None:
        return eval_program(program, *args)
    return make(program, name, donated)(*args)


P.abstract_eval_rules[jit_call_p] = lambda *avals, program, name, donated: program.out_avals
P.generic_impls[jit_call_p] = _jit_call_impl
P.inline_calls.add(jit_call_p)
# jvp / vjp / batching see through the call (inline_calls); these entries keep the completeness test honest
P.jvp_rules[jit_call_p] = P.vjp_rules[jit_call_p] = P.batch_rules[jit_call_p] = "inline"


def _hashable(v, what):
    try:
        hash(v)
    except TypeError:
        raise TypeError(f"jit: static argument {what} must be hashable, got {type(v).__name__}") from None
    return v


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=()):
    """Compile ``fun``: trace once per input signature, then run the recorded program.

    >>> import grilly, grilly.numpy as gnp
    >>> f = grilly.jit(lambda x: gnp.sin(x) ** 2 + gnp.cos(x) ** 2)
    >>> [round(v, 5) for v in f(gnp.arange(3.0)).tolist()]
    [1.0, 1.0, 1.0]
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums, static_argnames=static_argnames,
                                 donate_argnums=donate_argnums)
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    static_argnames = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    donate_argnums = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):
        sig = None
    cache: dict = {}

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        asarray_concrete = _asarray_concrete()
        if sig is not None and static_argnames:  # static by name may also be passed by position
            bound = sig.bind_partial(*args, **kwargs)
            for nm in static_argnames:
                if nm in bound.arguments and nm not in kwargs:
                    pos = list(sig.parameters).index(nm)
                    if pos < len(args):
                        kwargs[nm] = args[pos]
                        args = args[:pos] + (_SKIP,) + args[pos + 1:]
        n = len(args)
        if static_argnums or static_argnames:
            statics = tuple((i, _hashable(args[i], f"#{i}")) for i in sorted(s % n for s in static_argnums if n))
            static_kw = tuple(sorted((k, _hashable(v, repr(k))) for k, v in kwargs.items() if k in static_argnames))
            dyn_args = tuple(a for i, a in enumerate(args) if i not in dict(statics) and a is not _SKIP)
            dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_argnames}
        else:  # the common case, kept cheap: every call pays for it
            statics, static_kw, dyn_args, dyn_kwargs = (), (), args, kwargs
        flat, in_tree = tree.flatten((dyn_args, dyn_kwargs))
        flat = [a if isinstance(a, _KEEP) else asarray_concrete(a) for a in flat]
        avals = tuple([a.aval for a in flat])
        key = (in_tree, avals, statics, static_kw)
        entry = cache.get(key)
        if entry is None:
            store = {}

            def flat_fun(*leaves):
                d_args, d_kwargs = tree.unflatten(in_tree, list(leaves))
                full_args, it = [], iter(d_args)
                for i, a in enumerate(args):
                    full_args.append(dict(statics)[i] if i in dict(statics) else (next(it) if a is not _SKIP else None))
                full_args = [a for a, orig in zip(full_args, args) if orig is not _SKIP]
                out = fun(*full_args, **d_kwargs, **dict(static_kw))
                out_flat, store["tree"] = tree.flatten(out)
                return out_flat

            program, consts = trace_to_program(flat_fun, list(avals))
            entry = (program, consts, store["tree"])
            if not any(isinstance(c, Tracer) for c in consts):
                cache[key] = entry
        program, consts, out_tree = entry
        donated = tuple(sorted(len(consts) + i for i in _donated_leaves(donate_argnums, dyn_args, statics))) \
            if donate_argnums else ()
        outs = jit_call_p.bind(*consts, *flat, program=program, name=getattr(fun, "__name__", "fn"),
                               donated=donated)
        return tree.unflatten(out_tree, outs)

    wrapped._cache = cache
    wrapped.lower = lambda *a, **k: make_program(fun, static_argnums=static_argnums)(*a, **k)
    return wrapped


class _Skip:
    pass


def _asarray_concrete():
    from grilly.core.array import Array, asarray_concrete

    global _asarray_concrete, _KEEP
    _asarray_concrete = lambda: asarray_concrete  # noqa: E731  (imported once, on first call)
    _KEEP = (Tracer, Array)  # leaves that are already arrays
    return asarray_concrete


_KEEP: tuple = (Tracer,)


_SKIP = _Skip()


def _donated_leaves(donate_argnums, dyn_args, statics):
    if not donate_argnums:
        return ()
    out, pos = [], 0
    static_pos = {i for i, _ in statics}
    dyn_index = 0
    for i in range(len(dyn_args) + len(static_pos)):
        if i in static_pos:
            continue
        n = len(tree.leaves(dyn_args[dyn_index]))
        if i in donate_argnums:
            out.extend(range(pos, pos + n))
        pos += n
        dyn_index += 1
    return out


def make_program(fun, static_argnums=()):
    """Return a function that traces ``fun`` and gives its Program (as ``jax.make_jaxpr``).

    >>> import grilly
    >>> print(grilly.make_program(lambda x: x * 2.0 + 1.0)(1.0))  # doctest: +ELLIPSIS
    { lambda ...
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def traced(*args) -> Program:
        from grilly.core.array import asarray_concrete

        dyn = [a for i, a in enumerate(args) if i not in static_argnums]
        flat, in_tree = tree.flatten(tuple(dyn))
        flat = [a if isinstance(a, Tracer) else asarray_concrete(a) for a in flat]

        def flat_fun(*leaves):
            it = iter(tree.unflatten(in_tree, list(leaves)))
            full = [a if i in static_argnums else next(it) for i, a in enumerate(args)]
            return tree.leaves(fun(*full))

        program, _ = trace_to_program(flat_fun, [aval_of(a) for a in flat])
        return program

    return traced
