"""The trace stack and ``bind``.

As in JAX's autodidax: each active transform pushes a ``MainTrace`` with a level; ``bind`` finds the
highest-level trace among its arguments, raises the other arguments into it and lets it process the
primitive. Level 0 is evaluation: the primitive's backend impl runs.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.array_methods import ArrayMethods
from grilly.core.aval import ShapedArray
from grilly.core.errors import BackendError, GrillyError


class MainTrace(NamedTuple):
    level: int
    trace_type: type
    global_data: Any


class Trace:
    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val):
        raise NotImplementedError(type(self).__name__)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        raise NotImplementedError(type(self).__name__)


class Tracer(ArrayMethods):
    __array_priority__ = 1000
    _trace: Trace

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    def full_lower(self):
        return self

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"


class PrimalTracer(Tracer):
    """A tracer that carries a primal value (forward and reverse mode): Python may look at the primal, as in
    ``if x > 0`` inside ``grad``."""

    __slots__ = ()

    @property
    def aval(self):
        from grilly.lax._helpers import aval_of

        return aval_of(self.primal)

    def __bool__(self):
        return bool(self.primal)

    def __int__(self):
        return int(self.primal)

    def __float__(self):
        return float(self.primal)

    def __index__(self):
        return self.primal.__index__()


class EvalTrace(Trace):
    def pure(self, val):
        from grilly.core.array import asarray_concrete

        return asarray_concrete(val)

    lift = pure

    def process_primitive(self, prim, args, params):
        return eval_primitive(prim, args, params)


trace_stack: list[MainTrace] = [MainTrace(0, EvalTrace, None)]
_dynamic: list[MainTrace | None] = [None]


@contextmanager
def new_main(trace_type: type, global_data=None):
    main = MainTrace(len(trace_stack), trace_type, global_data)
    trace_stack.append(main)
    try:
        yield main
    finally:
        trace_stack.pop()


@contextmanager
def new_dynamic(main: MainTrace):
    _dynamic.append(main)
    try:
        yield
    finally:
        _dynamic.pop()


def find_top_trace(xs) -> Trace:
    mains = [x._trace.main for x in xs if isinstance(x, Tracer)]
    top = max(mains, key=operator.attrgetter("level"), default=trace_stack[0])
    dyn = _dynamic[-1]
    if dyn is not None and dyn.level > top.level:
        top = dyn
    return top.trace_type(top)


def full_raise(trace: Trace, val):
    if not isinstance(val, Tracer):
        return trace.pure(val)
    level = trace.main.level
    if val._trace.main is trace.main:
        return val
    if val._trace.main.level < level:
        return trace.lift(val)
    if val._trace.main.level > level:
        raise GrillyError(
            f"a traced value {val} escaped its transform (level {val._trace.main.level} > {level}); "
            "do not store tracers in globals or return them from inside a transformed function's side effects"
        )
    raise GrillyError("different traces at the same level")


def full_lower(val):
    return val.full_lower() if isinstance(val, Tracer) else val


def bind(prim: P.Primitive, *args, **params):
    if _dynamic[-1] is None and len(trace_stack) == 1:
        for a in args:
            if isinstance(a, Tracer):
                break
        else:  # the hot path: no transform active
            outs = eval_primitive(prim, args, params)
            return outs if prim.multiple_results else outs[0]
    trace = find_top_trace(args)
    tracers = [full_raise(trace, a) for a in args]
    outs = [full_lower(o) for o in trace.process_primitive(prim, tracers, params)]
    return outs if prim.multiple_results else outs[0]


P.Primitive.bind = bind  # ``prim.bind(...)`` is the only entry point: no wrapper frame on the per-op path


def abstract_eval(prim: P.Primitive, avals, params) -> list[ShapedArray]:
    rule = P.abstract_eval_rules.get(prim)
    if rule is None:
        raise P.rule_missing(prim, "abstract evaluation")
    out = rule(*avals, **params)
    return list(out) if prim.multiple_results else [out]


# bound on first use: modules that import this one (keeps the per-op path import-free)
_Array = _asarray = _backend_of = _follow = _config = None
_get_aval, _get_buf = operator.attrgetter("aval"), operator.attrgetter("_buf")
_shape_dtype = operator.attrgetter("shape", "dtype")
_out_avals: dict = {}  # (prim, (shape, dtype) per operand) -> output avals, for the primitives in P.aval_only


def _bind_late():
    global _Array, _asarray, _backend_of, _follow, _config
    from grilly.core.array import Array as _Array
    from grilly.core.array import asarray_concrete as _asarray
    from grilly.core.backend import backend_of as _backend_of
    from grilly.core.backend import follow as _follow
    from grilly.core.dtypes import config as _config


def eval_primitive(prim: P.Primitive, args, params) -> list:
    if _Array is None:
        _bind_late()
    generic = P.generic_impls.get(prim)
    if generic is not None:
        outs = generic(*args, **params)
        return list(outs) if prim.multiple_results else [outs]
    for a in args:
        if type(a) is not _Array:
            args = [a if type(a) is _Array else _asarray(a) for a in args]
            break
    avals = list(map(_get_aval, args))
    if prim in P.aval_only:
        key = (prim, *map(_shape_dtype, avals))
        out_avals = _out_avals.get(key)
        if out_avals is None:
            if len(_out_avals) > 4096:
                _out_avals.clear()
            out_avals = _out_avals[key] = tuple(abstract_eval(prim, avals, params))
    else:
        out_avals = abstract_eval(prim, avals, params)
    backend = args[0]._backend if args else None
    committed = False
    for a in args:
        committed |= a._committed
        if a._backend is not backend:
            backend = None
    if backend is None:
        backend = _backend_of(prim, args)
        args = [_follow(a, backend) for a in args]
    impl = P.impl_rules[backend.name].get(prim)
    if impl is None:
        raise BackendError(f"primitive '{prim.name}' has no kernel on the {backend.name} backend")
    bufs = backend.execute(prim, impl, list(map(_get_buf, args)), params, out_avals)
    if len(bufs) == 1:
        outs = [_Array(bufs[0], out_avals[0], backend, committed)]
    else:
        outs = [_Array(b, av, backend, committed) for b, av in zip(bufs, out_avals)]
    if _config.debug_nans:
        _check_nans(prim, outs)
    return outs


def _check_nans(prim, outs):
    for o in outs:
        if dtypes.kind(o.dtype) == "f" and np.isnan(np.asarray(o)).any():
            raise FloatingPointError(f"NaN produced by primitive '{prim.name}' (debug_nans is on)")
