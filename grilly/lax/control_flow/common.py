"""Helpers shared by the control-flow primitives: tracing bodies, transforming programs."""

from __future__ import annotations

from grilly import tree
from grilly.core import dtypes
from grilly.core.errors import GrillyError
from grilly.core.program import Program, eval_program, trace_to_program
from grilly.lax._helpers import aval_of


def trace_fn(fun, in_avals):
    """Trace ``fun(*leaves) -> list of leaves`` into (program, consts)."""
    return trace_to_program(fun, in_avals)


def run(program: Program):
    return lambda *args: eval_program(program, *args)


def float_mask(avals):
    return [dtypes.kind(a.dtype) == "f" for a in avals]


def check_same_avals(what: str, expected, got, treedef=None):
    exp = [aval_of(a) for a in expected]
    got = [aval_of(a) for a in got]
    if exp != got:
        desc = lambda avs: "(" + ", ".join(a.str_short() for a in avs) + ")"  # noqa: E731
        raise GrillyError(f"{what}: expected {desc(exp)}, got {desc(got)}"
                          + (f" for the structure {treedef}" if treedef is not None else ""))


def flatten_fun(fun, in_tree, store, key="out"):
    def flat(*leaves):
        out = fun(*tree.unflatten(in_tree, list(leaves)))
        flat_out, store[key] = tree.flatten(out)
        return flat_out

    return flat
