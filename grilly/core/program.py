"""Programs: a traced function as equations over typed variables (JAX's jaxpr), their builder and printer."""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np

from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.errors import ConcretizationError
from grilly.core.trace import Trace, Tracer, abstract_eval, bind, new_dynamic, new_main


class Var:
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval


class Literal:
    __slots__ = ("val", "aval")

    def __init__(self, val):
        self.val = val
        self.aval = ShapedArray(np.shape(val), np.asarray(val).dtype)


class Eqn(NamedTuple):
    prim: P.Primitive
    inputs: list
    params: dict
    out_vars: list


class Program:
    """``in_vars`` (constants first, then arguments), equations, outputs. Constants are passed as inputs."""

    def __init__(self, in_vars, eqns, outs, num_consts=0):
        self.in_vars, self.eqns, self.outs, self.num_consts = in_vars, eqns, outs, num_consts

    @property
    def in_avals(self):
        return [v.aval for v in self.in_vars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outs]

    def __repr__(self):
        return pp_program(self)


def eval_program(program: Program, *args) -> list:
    """Run a program by binding each equation: under a transform this re-traces it through that transform."""
    env: dict[Var, Any] = {}

    def read(v):
        return v.val if isinstance(v, Literal) else env[v]

    for v, a in zip(program.in_vars, args):
        env[v] = a
    for eqn in program.eqns:
        outs = bind(eqn.prim, *map(read, eqn.inputs), **eqn.params)
        outs = outs if eqn.prim.multiple_results else [outs]
        for v, o in zip(eqn.out_vars, outs):
            env[v] = o
    return [read(v) for v in program.outs]


# ---- building programs by tracing -----------------------------------------------------------------------------

class ProgramTracer(Tracer):
    __slots__ = ("_trace", "_aval")

    def __init__(self, trace, aval):
        self._trace, self._aval = trace, aval

    @property
    def aval(self):
        return self._aval

    def _concrete_error(self, what):
        return ConcretizationError(
            f"{what} needs a concrete value, but got a traced array {self.aval.str_short()} (inside jit, scan, "
            "cond or while_loop values are abstract). Mark the argument static (jit's static_argnums / "
            "static_argnames), or use grilly.lax.cond / select / where instead of Python control flow."
        )

    def __bool__(self):
        raise self._concrete_error("Python `if`/`bool()`")

    def __int__(self):
        raise self._concrete_error("int()")

    def __float__(self):
        raise self._concrete_error("float()")

    def __index__(self):
        raise self._concrete_error("Using an array as a Python index or size")

    def __array__(self, *a, **k):
        raise self._concrete_error("Conversion to NumPy")

    def tolist(self):
        raise self._concrete_error("tolist()")

    item = tolist


class ProgramBuilder:
    def __init__(self):
        self.eqns: list[Eqn] = []
        self.tracer_to_var: dict[int, Var] = {}
        self.const_tracers: dict[int, ProgramTracer] = {}
        self.const_vals: dict[int, Any] = {}
        self.tracers: list[ProgramTracer] = []

    def new_tracer(self, trace, aval):
        t = ProgramTracer(trace, aval)
        self.tracers.append(t)
        return t

    def add_var(self, tracer) -> Var:
        v = self.tracer_to_var[id(tracer)] = Var(tracer.aval)
        return v

    def get_var(self, tracer) -> Var:
        return self.tracer_to_var[id(tracer)]

    def add_const(self, trace, val) -> ProgramTracer:
        key = id(val)
        if key in self.const_tracers:
            return self.const_tracers[key]
        t = self.new_tracer(trace, _aval_of(val))
        self.add_var(t)
        self.const_tracers[key], self.const_vals[key] = t, val
        return t

    def build(self, in_tracers, out_tracers):
        const_keys = list(self.const_vals)
        const_vars = [self.get_var(self.const_tracers[k]) for k in const_keys]
        in_vars = [self.get_var(t) for t in in_tracers]
        outs = [self.get_var(t) for t in out_tracers]
        prog = Program(const_vars + in_vars, self.eqns, outs, num_consts=len(const_vars))
        return prune(prog), [self.const_vals[k] for k in const_keys]


def _aval_of(val):
    from grilly.core.array import asarray_concrete

    if isinstance(val, Tracer):
        return val.aval
    return getattr(val, "aval", None) or asarray_concrete(val).aval


class ProgramTrace(Trace):
    def _builder(self) -> ProgramBuilder:
        return self.main.global_data

    def new_arg(self, aval):
        t = self._builder().new_tracer(self, aval)
        self._builder().add_var(t)
        return t

    def pure(self, val):
        from grilly.core.array import Array, asarray_concrete

        if not isinstance(val, Tracer | Array):
            val = asarray_concrete(val)
        return self._builder().add_const(self, val)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        builder = self._builder()
        out_avals = abstract_eval(prim, [t.aval for t in tracers], params)
        outs = [builder.new_tracer(self, a) for a in out_avals]
        builder.eqns.append(Eqn(prim, [builder.get_var(t) for t in tracers], params,
                                [builder.add_var(o) for o in outs]))
        return outs


def trace_to_program(flat_fun, in_avals) -> tuple[Program, list]:
    """Trace ``flat_fun(*tracers) -> list`` into a Program; returns it with the constants it closed over."""
    builder = ProgramBuilder()
    with new_main(ProgramTrace, builder) as main, new_dynamic(main):
        trace = ProgramTrace(main)
        ins = [trace.new_arg(a) for a in in_avals]
        outs = flat_fun(*ins)
        from grilly.core.trace import full_raise

        outs = [full_raise(trace, o) for o in outs]
        return builder.build(ins, outs)


def prune(prog: Program) -> Program:
    """Drop equations whose outputs nothing uses (dead code left by tracing)."""
    live = {id(v) for v in prog.outs if isinstance(v, Var)}
    kept = []
    for eqn in reversed(prog.eqns):
        if any(id(v) in live for v in eqn.out_vars) or eqn.prim in P.effectful:
            kept.append(eqn)
            live.update(id(v) for v in eqn.inputs if isinstance(v, Var))
    return Program(prog.in_vars, kept[::-1], prog.outs, prog.num_consts)


# ---- printing -----------------------------------------------------------------------------------------------

def pp_program(prog: Program) -> str:
    names: dict[int, str] = {}
    counter = itertools.count()

    def name(v):
        if isinstance(v, Literal):
            if np.ndim(v.val) != 0:
                return f"lit{v.aval.str_short()}"
            val = np.asarray(v.val)  # float32 prints its shortest repr (0.9, not 0.8999999761581421)
            return str(val) if val.dtype == np.float32 else repr(val.item())
        if id(v) not in names:
            i = next(counter)
            names[id(v)] = "".join(chr(97 + d) for d in _digits(i))
        return names[id(v)]

    def decl(v):
        return f"{name(v)}:{v.aval.str_short()}"

    consts = " ".join(decl(v) for v in prog.in_vars[:prog.num_consts])
    args = " ".join(decl(v) for v in prog.in_vars[prog.num_consts:])
    lines = [f"{{ lambda {consts} ; {args}. let"]
    for e in prog.eqns:
        params = " ".join(f"{k}={_pp_param(v)}" for k, v in e.params.items() if v is not None)
        lhs = " ".join(decl(v) for v in e.out_vars)
        rhs = " ".join([e.prim.name + (f"[{params}]" if params else "")] + [name(v) for v in e.inputs])
        lines.append(f"    {lhs} = {rhs}")
    lines.append(f"  in ( {' '.join(name(v) for v in prog.outs)} ) }}")
    return "\n".join(lines)


def _pp_param(v):
    if isinstance(v, Program):
        return "{ ... " + str(len(v.eqns)) + " eqns }"
    if isinstance(v, np.dtype):
        return str(v)
    return repr(v)


def _digits(i):
    out = []
    while True:
        out.append(i % 26)
        i = i // 26 - 1
        if i < 0:
            return out[::-1]
