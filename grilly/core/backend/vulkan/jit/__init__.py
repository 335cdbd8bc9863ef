"""jit on Vulkan: trace once, record one command buffer, replay it with one submit per call.

``executor(program, name, donated)`` is what ``grilly.transforms.jit`` calls for Vulkan arrays. The first call
of a program (per set of constant buffers) fuses its elementwise chains (``grilly.core.fusion``), evaluates it
once through the ordinary kernels against a ``Recorder`` (placeholder buffers, commands noted instead of
recorded), plans an arena for its values by liveness, and builds a ``Replay``. Later calls write the
arguments' addresses into a table and submit the command buffer: one ``vkQueueSubmit``, whatever the number
of operations. ``lax.scan`` bodies are recorded once per step into the same command buffer, so a 500-step
scan costs no Python per call.

``lax.cond`` / ``lax.switch`` on an index computed on the GPU is recorded as every branch plus a ``select_n``
of their outputs (up to 8 branches). A program that reads GPU data on the host while it runs
(``lax.while_loop``, ``debug_nans``) cannot be replayed: it runs eagerly, operation by operation, on every call; a
``RuntimeWarning`` says so once, and ``replay_info(program)`` gives the reason. Devices without buffer device
addresses (descriptor mode) also evaluate jitted programs eagerly: the replay's kernels need device addresses.
"""

from __future__ import annotations

import functools
import os
import warnings
import weakref

from grilly.core.fusion import fuse, known_scalars
from grilly.core.program import eval_program
from grilly.core.specialize import specialize

# GRILLY_JIT_FUSION=1 / 0 forces elementwise fusion on / off; by default it is on except on CPU implementations
# (lavapipe), where interpreting the fused code per element costs more than the dispatches it saves.
FUSION: list = [{"1": True, "0": False}.get(os.environ.get("GRILLY_JIT_FUSION", "").strip())]


def fusion_enabled(rt) -> bool:
    """Whether recordings fuse elementwise chains on runtime ``rt`` (see ``FUSION``)."""
    if FUSION[0] is None:
        FUSION[0] = not getattr(getattr(rt, "info", None), "is_cpu", False)
    return FUSION[0]
# GRILLY_JIT_REPLAY=0 turns recording and replay off (jitted programs then run eagerly, op by op).
REPLAY: list = [os.environ.get("GRILLY_JIT_REPLAY", "1").strip() != "0"]


def replay_enabled(rt) -> bool:
    """Whether jitted programs are recorded and replayed on runtime ``rt`` (see ``REPLAY``)."""
    return REPLAY[0]


_entries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Program -> {const buffer ids: entry}
_fused: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Program -> {const buffer ids: fused}


class Eager:
    """A program that runs eagerly on every call, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _fused_program(program, consts):
    """``fuse(specialize(program))`` with its scalar constants inlined (cached per program and constant buffers):
    the execution-only form of ``program`` (see ``grilly.core.specialize``)."""
    table = _fused.setdefault(program, {})
    key = tuple(id(c._buf) for c in consts)
    f = table.get(key)
    if f is None:
        from grilly.core.backend.vulkan.runtime import get_runtime

        prog = specialize(program)
        f = table[key] = fuse(prog, known_scalars(prog, consts)) if fusion_enabled(get_runtime()) else prog
    return f


_RECORDING = [0]  # > 0 while a program is being recorded


def _record(program, args, backend):
    from grilly.core.array import Array
    from grilly.core.backend.vulkan.jit.recorder import NeedsHost, Recorder
    from grilly.core.backend.vulkan.jit.replay import Replay

    fused = _fused_program(program, args[: program.num_consts])
    real = backend.rt
    rec = Recorder(real)
    ins, in_pids = list(args[: program.num_consts]), []
    for v in program.in_vars[program.num_consts:]:
        buf = rec.empty(v.aval)
        in_pids.append(len(rec.phs) - 1)
        ins.append(Array(buf, v.aval, backend))
    from grilly.core import primitive as P
    from grilly.lax.control_flow.cond import cond_p

    backend.rt = rec
    _RECORDING[0] += 1
    cond_impl, P.generic_impls[cond_p] = P.generic_impls[cond_p], _cond_by_select(P.generic_impls[cond_p])
    try:
        outs = _eval_naming(fused, ins)
    except NeedsHost as e:
        return Eager(str(e))
    finally:
        backend.rt = real
        _RECORDING[0] -= 1
        P.generic_impls[cond_p] = cond_impl
        _forget_placeholders()
    from grilly.core.array import asarray_concrete

    outs = [o if isinstance(o, Array) else asarray_concrete(o) for o in outs]
    rec.keep.extend(a._buf for a in args[: program.num_consts])  # read in place by the commands: outlive them
    out_refs = [rec.ref(o._buf, len(rec.cmds)) for o in outs]
    return Replay(real, rec, in_pids, out_refs, [o.aval for o in outs])


def _cond_by_select(host_impl):
    """cond / switch while recording: an index computed on the GPU runs every branch and selects the outputs
    with ``select_n`` (at most 8 branches), so the program stays replayable; a known index runs one branch."""
    from grilly.core.backend.vulkan.jit.recorder import is_tagged
    from grilly.lax.elementwise import select_n

    def impl(index, *ops, branches):
        buf = getattr(index, "_buf", None)
        if buf is None or not is_tagged(buf.addr) or len(branches) > 8:
            return host_impl(index, *ops, branches=branches)
        outs = [eval_program(b, *ops) for b in branches]
        return [select_n(index, *cases) for cases in zip(*outs)]

    return impl


def _forget_placeholders() -> None:
    """Drop cached arrays made while recording (grilly.numpy caches broadcast scalar constants): their buffers
    are placeholders, meaningless outside the recording."""
    from grilly.core import array_caches
    from grilly.core.backend.vulkan.jit.recorder import is_tagged

    array_caches.forget(lambda buf: is_tagged(getattr(buf, "addr", 0) or 0))


def _eval_naming(program, args) -> list:
    """``eval_program``, naming the equation whose evaluation needed the host."""
    from grilly.core.backend.vulkan.jit.recorder import NeedsHost
    from grilly.core.program import Literal
    from grilly.core.trace import bind

    env = dict(zip(map(id, program.in_vars), args))
    for eqn in program.eqns:
        try:
            outs = bind(eqn.prim, *[v.val if isinstance(v, Literal) else env[id(v)] for v in eqn.inputs],
                        **eqn.params)
        except NeedsHost as e:
            raise NeedsHost(f"'{eqn.prim.name}': {e}") from None
        for v, o in zip(eqn.out_vars, outs if eqn.prim.multiple_results else [outs]):
            env[id(v)] = o
    return [v.val if isinstance(v, Literal) else env[id(v)] for v in program.outs]


def run(program, donated, args, name: str = "fn") -> list:
    """Run ``program`` on Vulkan arrays ``args``: replay its recording (made on first use) or, if it needs the
    host while running, evaluate it eagerly."""
    nc = program.num_consts
    backend = args[nc]._backend if len(args) > nc else next(a._backend for a in args)
    if _RECORDING[0]:  # a jitted function called inside one being recorded: record it inline
        return eval_program(_fused_program(program, ()), *args)
    if not replay_enabled(backend.rt) or not getattr(backend.rt, "bda", True):  # descriptor mode: no addresses
        return eval_program(program, *args)
    key = (id(backend), *[id(a._buf) for a in args[:nc]])  # one recording per device (and constants)
    table = _entries.get(program)
    if table is None:
        table = _entries[program] = {}
    entry = table.get(key)
    if entry is None:
        entry = table[key] = _record(program, args, backend)
        if entry.__class__ is Eager:  # said once per recording: every later call pays the eager price
            warnings.warn(f"jit: '{name}' cannot be replayed and runs eagerly on every call ({entry.reason})",
                          RuntimeWarning, stacklevel=2)
    if entry.__class__ is Eager:
        return eval_program(_fused_program(program, args[: program.num_consts]), *args)
    return entry(args, nc, donated, backend)


def executor(program, name, donated):
    """The ``grilly.transforms.jit.executors["vulkan"]`` entry: a runner for ``program``."""
    return functools.partial(_run_flat, program, donated, name)


def _run_flat(program, donated, name, *args):
    return run(program, donated, args, name)


def replay_info(program, args=None) -> dict:
    """How ``program`` runs: ``{"mode": "replay", "dispatches": n, "arena_bytes": b, "kernels": {name: n}}`` or
    ``{"mode": "eager", "reason": ...}``; ``{"mode": "not recorded"}`` before its first Vulkan call.

    >>> import grilly, grilly.numpy as gnp
    >>> f = grilly.jit(lambda x: gnp.sin(x) * 2.0)
    >>> y = f(gnp.ones(8))
    >>> (program, consts, out_tree), = f._cache.values()
    >>> replay_info(program)["mode"] in ("replay", "not recorded")  # "not recorded" off Vulkan
    True
    """
    table = _entries.get(program) or {}
    if not table:
        return {"mode": "not recorded"}
    entry = next(iter(table.values()))
    if isinstance(entry, Eager):
        return {"mode": "eager", "reason": entry.reason}
    return {"mode": "replay", "dispatches": entry.n_dispatches, "arena_bytes": entry.arena.nbytes,
            "instances": len(entry.instances), "kernels": dict(entry.kernels)}


def replay_of(program):
    """The ``Replay`` recorded for ``program`` (None if it has none): its ``plan`` lists every value's
    ``(nbytes, first command, last command, address)``."""
    entry = next(iter((_entries.get(program) or {}).values()), None)
    return None if isinstance(entry, Eager) else entry


def install() -> None:
    """Register the executor with ``grilly.transforms.jit`` (idempotent)."""
    import importlib

    importlib.import_module("grilly.transforms.jit").executors["vulkan"] = executor
