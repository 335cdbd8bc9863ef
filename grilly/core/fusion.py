"""Elementwise fusion: chains of elementwise equations become one ``fused_elementwise`` equation.

``fuse(program)`` groups float32 (and int32 index arithmetic) elementwise equations of one output shape
(with scalar and trailing-axis ``broadcast_in_dim`` operands folded into loads) and replaces each group by a
``fused_elementwise`` equation whose ``program`` param holds the original equations. The NumPy backend
evaluates that sub-program equation by equation (so it is exact); the Vulkan backend compiles it to a short
register program (``compile_vm``) that one precompiled kernel interprets per element: no shader compiler is
needed at run time. Transforms see through the call (it is an inline call, like ``jit_call``). The jit
executor of the Vulkan backend applies ``fuse`` to every program it records, nested bodies included.

>>> import grilly, grilly.numpy as gnp
>>> from grilly.core.fusion import fuse
>>> prog = grilly.make_program(lambda x: gnp.exp(x * 2.0) + 1.0)(gnp.ones(3))
>>> [e.prim.name for e in fuse(prog).eqns]  # mul, exp and add (and any broadcast of a constant): one equation
['fused_elementwise']
"""

from __future__ import annotations

import math
import struct

import numpy as np

from grilly.core import primitive as P
from grilly.core.primitive import Primitive
from grilly.core.program import Eqn, Literal, Program, Var, eval_program

MAX_SLOTS = 12  # buffer addresses in the kernel's push constants (inputs + outputs)
MAX_REGS = 16  # registers of the interpreter kernel

# op codes of the interpreter kernel (grilly/core/backend/vulkan/jit/shaders/fused_vm.comp)
LOAD, STORE, IMM = 0, 1, 2
UNARY_OPS = {"neg": 10, "exp": 11, "log": 12, "sin": 13, "cos": 14, "tanh": 15, "logistic": 16, "sqrt": 17,
             "rsqrt": 18, "abs": 19, "sign": 20, "floor": 21, "ceil": 22, "expm1": 23, "log1p": 24,
             "integer_pow": 25, "exp2": 26, "round": 27}
BINARY_OPS = {"add": 40, "sub": 41, "mul": 42, "div": 43, "max": 44, "min": 45, "pow": 46,
              "gt": 50, "lt": 51, "ge": 52, "le": 53, "eq": 54, "ne": 55}
COMPARE = ("gt", "lt", "ge", "le", "eq", "ne")  # bool result (0.0 / 1.0 in a float register)
CONVERT, SELECT, NOT = 56, 57, 58
# int32 values live in a second register file
LOAD_I, STORE_I, IMM_I = 3, 4, 5
INT_BINARY = {"add": 60, "sub": 61, "mul": 62, "min": 63, "max": 64,
              "gt": 66, "lt": 67, "ge": 68, "le": 69, "eq": 70, "ne": 71}
NEG_I, SELECT_I, I2F, B2I = 65, 72, 73, 74
_F32, _BOOL, _I32 = np.dtype(np.float32), np.dtype(np.bool_), np.dtype(np.int32)
_NUM = (_F32, _I32)  # the dtypes the kernel reads and writes

fused_elementwise_p = Primitive("fused_elementwise", multiple_results=True)


def _fused_impl_numpy(*args, program):
    env = dict(zip(map(id, program.in_vars), args))
    for eqn in program.eqns:
        ins = [np.asarray(v.val, v.aval.dtype) if isinstance(v, Literal) else env[id(v)] for v in eqn.inputs]
        env[id(eqn.out_vars[0])] = P.impl_rules["numpy"][eqn.prim](*ins, **eqn.params)
    return [env[id(v)] for v in program.outs]


def _fused_impl_vulkan(rt, bufs, out_avals, *, program):  # the kernel lives with the Vulkan jit
    from grilly.core.backend.vulkan.jit.kernels import fused_impl_vk

    return fused_impl_vk(rt, bufs, out_avals, program=program)


P.abstract_eval_rules[fused_elementwise_p] = lambda *avals, program: program.out_avals
P.impl_rules["numpy"][fused_elementwise_p] = _fused_impl_numpy
P.impl_rules["vulkan"][fused_elementwise_p] = _fused_impl_vulkan
P.inline_calls.add(fused_elementwise_p)
P.jvp_rules[fused_elementwise_p] = P.vjp_rules[fused_elementwise_p] = "inline"
P.batch_rules[fused_elementwise_p] = "inline"


# ---- which equations fuse -----------------------------------------------------------------------------------

def _broadcast_modulus(eqn) -> int | None:
    """For a broadcast_in_dim whose operand fills trailing axes: the operand size m (element i reads i % m)."""
    (x,), out = eqn.inputs, eqn.out_vars[0].aval
    nd, k = len(out.shape), len(x.aval.shape)
    if eqn.params.get("broadcast_dimensions") != tuple(range(nd - k, nd)) or x.aval.shape != out.shape[nd - k:]:
        return None
    return max(math.prod(x.aval.shape), 1)


def _kind(eqn) -> str | None:
    """'op' for a fusible elementwise equation, 'load' for a fusible broadcast, None otherwise.

    Values are float32, except booleans made and used inside a group (comparisons, select_n, not, conversion
    to float32), which the kernel keeps in registers.
    """
    if eqn.prim.multiple_results or len(eqn.out_vars) != 1:
        return None
    out = eqn.out_vars[0].aval
    name = eqn.prim.name
    ins = [v.aval.dtype for v in eqn.inputs]
    same = len(set(ins)) == 1
    if name in COMPARE:
        ok = out.dtype == _BOOL and same and ins[0] in _NUM
    elif name == "select_n":
        ok = len(ins) == 3 and ins[0] == _BOOL and ins[1] == ins[2] == out.dtype and out.dtype in _NUM
    elif name == "convert_element_type":
        ok = (out.dtype == _F32 and ins[0] in (_F32, _BOOL, _I32)) or (out.dtype == _I32 and ins[0] == _BOOL)
    elif name == "not":
        ok = out.dtype == _BOOL and ins[0] == _BOOL
    elif out.dtype == _I32:  # integer arithmetic that wraps like the single-op kernels
        ok = same and ins[0] == _I32 and (name in INT_BINARY or name in ("neg", "broadcast_in_dim"))
    else:
        ok = out.dtype == _F32 and all(d == _F32 for d in ins)
    if not ok:
        return None
    if name == "broadcast_in_dim":
        return "load" if _broadcast_modulus(eqn) is not None else None
    if name in UNARY_OPS or name in BINARY_OPS or name in ("select_n", "convert_element_type", "not"):
        ok = all(v.aval.shape == out.shape or (isinstance(v, Literal) and v.aval.shape == ()) for v in eqn.inputs)
        return "op" if ok and math.prod(out.shape) > 0 else None
    return None


# ---- compiling a group to the interpreter's code --------------------------------------------------------------

def compile_vm(program: Program) -> np.ndarray | None:
    """Code words for the interpreter kernel, or None if the group needs more registers or slots than it has.

    ``program``'s inputs are slots 0, 1, ..., its outputs the slots after them; words come in pairs
    (``op | dst << 8 | a << 16 | b << 24``, immediate).

    >>> import grilly, grilly.numpy as gnp
    >>> sub = grilly.make_program(lambda x: gnp.exp(-x))(gnp.ones(3))
    >>> [int(w) & 0xFF for w in compile_vm(sub)[::2]]  # load slot 0, neg, exp, store to slot 1
    [0, 10, 11, 1]
    """
    n_in, n_out = len(program.in_vars), len(program.outs)
    if n_in + n_out > MAX_SLOTS:
        return None
    slot = {id(v): i for i, v in enumerate(program.in_vars)}
    out_slots: dict[int, list[int]] = {}
    for j, v in enumerate(program.outs):
        out_slots.setdefault(id(v), []).append(n_in + j)
    last_use: dict[int, int] = {}
    for t, eqn in enumerate(program.eqns):
        for v in eqn.inputs:
            last_use[id(v)] = t
    reg: dict[int, int] = {}
    free = {"f": list(range(MAX_REGS - 1, -1, -1)), "i": list(range(MAX_REGS - 1, -1, -1))}
    code: list[int] = []

    def emit(op, d=0, a=0, b=0, imm=0):
        code.extend((op | d << 8 | a << 16 | b << 24, imm & 0xFFFFFFFF))

    def file(v):  # int32 values in the q registers, float32 and booleans in r
        return "i" if v.aval.dtype == _I32 else "f"

    def take(f):
        return free[f].pop() if free[f] else None

    for v in program.in_vars:  # inputs read directly by a fused op (no broadcast) are loaded on first use
        if id(v) in out_slots or v.aval.dtype not in _NUM:
            return None  # an input passed straight through, or a boolean in memory: not for this kernel
    if any(v.aval.dtype not in _NUM for v in program.outs):
        return None  # booleans stay in registers
    for t, eqn in enumerate(program.eqns):
        operands = []
        for v in eqn.inputs:
            if eqn.prim.name == "broadcast_in_dim":
                break
            f = file(v)
            if isinstance(v, Literal):
                r = take(f)
                if r is None:
                    return None
                if f == "i":
                    emit(IMM_I, r, imm=_i32(v.val))
                else:
                    emit(IMM, r, imm=_f32_bits(v.val))
                operands.append((r, True, f))
            elif id(v) in reg:
                operands.append((reg[id(v)], False, f))
            else:
                r = take(f)
                if r is None:
                    return None
                emit(LOAD_I if f == "i" else LOAD, r, slot[id(v)])
                reg[id(v)] = r
                operands.append((r, False, f))
        for v in eqn.inputs:  # operands whose last use is here free their registers before the result takes one
            if isinstance(v, Var) and id(v) in reg and last_use.get(id(v)) == t:
                free[file(v)].append(reg.pop(id(v)))
        for r, temp, f in operands:
            if temp:
                free[f].append(r)
        o = eqn.out_vars[0]
        fo = file(o)
        d = take(fo)
        if d is None:
            return None
        name = eqn.prim.name
        ints = [f == "i" for _, _, f in operands]
        if name == "broadcast_in_dim" and isinstance(eqn.inputs[0], Literal):
            if fo == "i":
                emit(IMM_I, d, imm=_i32(eqn.inputs[0].val))
            else:
                emit(IMM, d, imm=_f32_bits(eqn.inputs[0].val))
        elif name == "broadcast_in_dim":
            emit(LOAD_I if fo == "i" else LOAD, d, slot[id(eqn.inputs[0])], imm=_broadcast_modulus(eqn))
        elif name == "neg" and fo == "i":
            emit(NEG_I, d, operands[0][0])
        elif name in UNARY_OPS:
            emit(UNARY_OPS[name], d, operands[0][0], imm=int(eqn.params.get("y", 0)))
        elif name == "select_n":  # which ? case1 : case0
            emit(SELECT_I if fo == "i" else SELECT, d, operands[1][0], operands[2][0], imm=operands[0][0])
        elif name == "convert_element_type":
            emit(B2I if fo == "i" else (I2F if ints[0] else CONVERT), d, operands[0][0])
        elif name == "not":
            emit(NOT, d, operands[0][0])
        elif ints[0]:
            emit(INT_BINARY[name], d, operands[0][0], operands[1][0])
        else:
            emit(BINARY_OPS[name], d, operands[0][0], operands[1][0])
        for s in out_slots.get(id(o), ()):
            emit(STORE_I if fo == "i" else STORE, s, d)
        if id(o) in last_use:
            reg[id(o)] = d
        else:
            free[fo].append(d)
    return np.array(code, np.uint32)


def _f32_bits(val) -> int:
    return struct.unpack("<I", struct.pack("<f", float(np.asarray(val).reshape(-1)[0])))[0]


def _i32(val) -> int:
    return int(np.asarray(val).reshape(-1)[0])


# ---- grouping -----------------------------------------------------------------------------------------------

class _Group:
    """Open group of one output shape; ``deps`` are open groups it reads from (they must be emitted first)."""

    def __init__(self, shape):
        self.shape, self.eqns, self.defined, self.deps = shape, [], set(), []

    def add(self, eqn):
        self.eqns.append(eqn)
        self.defined.add(id(eqn.out_vars[0]))

    def depends_on(self, other, open_groups) -> bool:
        seen, todo = set(), [self]
        while todo:
            g = todo.pop()
            for d in g.deps:
                if d is other:
                    return True
                if id(d) not in seen and open_groups.get(d.shape) is d:
                    seen.add(id(d))
                    todo.append(d)
        return False


def fuse(program: Program, known: dict | None = None) -> Program:
    """Replace groups of float32 elementwise equations by ``fused_elementwise`` equations (nested bodies too).

    ``known`` maps ``id(var)`` of float32 scalar inputs to their values (a jitted function's constants):
    broadcasts of them become literals, which the kernel holds as immediates instead of buffer slots.
    """
    known = known or {}
    uses: dict[int, int] = {}
    for eqn in program.eqns:
        for v in eqn.inputs:
            if isinstance(v, Var):
                uses[id(v)] = uses.get(id(v), 0) + 1
    for v in program.outs:
        uses[id(v)] = uses.get(id(v), 0) + (1 << 20)  # program outputs are always materialised
    out_eqns: list[Eqn] = []
    groups: dict[tuple, _Group] = {}

    def flush(g):
        if groups.get(g.shape) is not g:
            return
        del groups[g.shape]
        for d in g.deps:  # groups it reads from go first
            flush(d)
        out_eqns.extend(_emit_group(g.eqns, uses, known))

    for eqn in program.eqns:
        eqn = _fuse_params(eqn, known)
        if eqn.prim.name == "broadcast_in_dim" and id(eqn.inputs[0]) in known:
            eqn = Eqn(eqn.prim, [Literal(known[id(eqn.inputs[0])])], eqn.params, eqn.out_vars)
        kind = _kind(eqn)
        needs = {id(v) for v in eqn.inputs if isinstance(v, Var)}
        shape = eqn.out_vars[0].aval.shape if kind else None
        if kind == "load" and shape in groups and needs & groups[shape].defined:
            kind = None
        if kind is None:  # everything it reads must exist before it
            for g in list(groups.values()):
                if needs & g.defined:
                    flush(g)
            out_eqns.append(eqn)
            continue
        target = groups.get(shape)
        for g in list(groups.values()):
            if g is target or not needs & g.defined:
                continue
            if target is not None and g.depends_on(target, groups):  # target -> g -> target: close g now
                flush(g)
                target = groups.get(shape)
            elif target is None:
                target = groups[shape] = _Group(shape)
                target.deps.append(g)
            else:
                target.deps.append(g)
        if target is None:
            target = groups[shape] = _Group(shape)
        target.add(eqn)
    for g in list(groups.values()):
        flush(g)
    return Program(program.in_vars, out_eqns, program.outs, program.num_consts)


def known_scalars(program: Program, consts, max_size: int = 1 << 16) -> dict:
    """``{id(var): value}`` for the float32 / int32 constants among ``program``'s first inputs that hold one
    value everywhere (scalars, and cached broadcasts of them): ``fuse`` turns them into immediates.

    >>> import grilly.numpy as gnp
    >>> from grilly.core.program import trace_to_program
    >>> prog, consts = trace_to_program(lambda x: [x * 3.0], [gnp.ones(2).aval])
    >>> [float(v) for v in known_scalars(prog, consts).values()]
    [3.0]
    """
    out = {}
    for v, c in zip(program.in_vars[:program.num_consts], consts):
        if v.aval.dtype in _NUM and 0 < math.prod(v.aval.shape) <= max_size:
            a = np.asarray(c)
            first = a.reshape(-1)[0]
            if a.size == 1 or (np.array_equal(a, np.full_like(a, first)) and not np.isnan(first)):
                out[id(v)] = first.astype(v.aval.dtype)
    return out


def _fuse_params(eqn: Eqn, known: dict) -> Eqn:
    if eqn.prim is fused_elementwise_p:  # already fused
        return eqn
    inner = {}  # a scan body's constants that are known scalars outside are known inside
    if eqn.prim.name == "scan" and isinstance(eqn.params.get("program"), Program):
        body = eqn.params["program"]
        for v_in, v_out in zip(body.in_vars[: eqn.params.get("num_consts", 0)], eqn.inputs):
            if isinstance(v_out, Var) and id(v_out) in known:
                inner[id(v_in)] = known[id(v_out)]
    params = {}
    for k, v in eqn.params.items():
        if isinstance(v, Program):
            v = fuse(v, inner)
        elif isinstance(v, tuple) and v and all(isinstance(p, Program) for p in v):
            v = tuple(fuse(p) for p in v)
        params[k] = v
    return eqn if all(params[k] is eqn.params[k] for k in params) else Eqn(eqn.prim, eqn.inputs, params,
                                                                           eqn.out_vars)


def _sub_program(members, uses, known=None) -> Program:
    if known:  # uniform constants read by the group become literals (immediates, no buffer slot)
        members = [e if not any(isinstance(v, Var) and id(v) in known for v in e.inputs) else Eqn(
            e.prim, [Literal(np.full(v.aval.shape, known[id(v)], v.aval.dtype)) if isinstance(v, Var)
                     and id(v) in known else v for v in e.inputs], e.params, e.out_vars) for e in members]
    defined = {id(e.out_vars[0]) for e in members}
    inner: dict[int, int] = {}
    ins, seen = [], set()
    for e in members:
        for v in e.inputs:
            if isinstance(v, Var):
                if id(v) in defined:
                    inner[id(v)] = inner.get(id(v), 0) + 1
                elif id(v) not in seen:
                    seen.add(id(v))
                    ins.append(v)
    outs = [e.out_vars[0] for e in members if uses.get(id(e.out_vars[0]), 0) > inner.get(id(e.out_vars[0]), 0)]
    return Program(ins, list(members), outs)


def _emit_group(members, uses, known=None) -> list[Eqn]:
    """Cut the group into runs that fit the kernel (slots, registers); runs worth fusing become one equation."""
    out, start = [], 0
    while start < len(members):
        best = _longest_run(members, start, uses, known)
        if best is None:  # a single equation that does not fit (cannot happen with 12 slots): keep it
            out.append(members[start])
            start += 1
            continue
        end, sub = best
        ops = sum(1 for e in members[start:end] if e.prim.name != "broadcast_in_dim")
        if ops >= 2 or (ops == 1 and end - start >= 2):
            out.append(Eqn(fused_elementwise_p, list(sub.in_vars), {"program": sub}, list(sub.outs)))
        else:
            out.extend(members[start:end])
        start = end
    return out


def _longest_run(members, start, uses, known=None):
    """The longest run ``members[start:end]`` that compiles: the whole rest first, else a binary search."""
    def fits(end):
        sub = _sub_program(members[start:end], uses, known)
        return sub if compile_vm(sub) is not None else None

    sub = fits(len(members))
    if sub is not None:
        return len(members), sub
    lo, hi, best = start + 1, len(members) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        sub = fits(mid)
        if sub is not None:
            best, lo = (mid, sub), mid + 1
        else:
            hi = mid - 1
    return best


def eval_fused(program: Program, *args) -> list:
    """Evaluate ``fuse(program)`` (tests compare it with ``eval_program(program)``)."""
    return eval_program(fuse(program), *args)
