"""Primitives and their rule registries.

A primitive is a name plus static params. Every public op ends in ``prim.bind(*args, **params)``; the rules
that give it meaning live in one module-level dict per rule kind, keyed by the primitive.
"""

from __future__ import annotations

from typing import Any

from grilly.core.errors import TransformError


class Primitive:
    def __init__(self, name: str, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        ALL_PRIMITIVES.append(self)

    def bind(self, *args, **params):  # importing grilly.core.trace makes this trace.bind itself (one call less)
        from grilly.core.trace import bind

        return bind(self, *args, **params)

    def __repr__(self):
        return self.name


ALL_PRIMITIVES: list[Primitive] = []

# One registry per rule kind.
abstract_eval_rules: dict[Primitive, Any] = {}
impl_rules: dict[str, dict[Primitive, Any]] = {"numpy": {}, "vulkan": {}}
generic_impls: dict[Primitive, Any] = {}  # array-level impls shared by all backends (control flow, calls)
jvp_rules: dict[Primitive, Any] = {}
vjp_rules: dict[Primitive, Any] = {}
batch_rules: dict[Primitive, Any] = {}
tape_rules: dict[Primitive, Any] = {}  # primitives whose reverse mode needs the whole trace (scan, custom_vjp)
collectives: dict[Primitive, Any] = {}  # named-axis collectives: handler(prim, val, bdim, params, size) under vmap
aval_only: set[Primitive] = set()  # abstract eval reads the operand avals alone (no params, no config): cached
effectful: set[Primitive] = set()  # never pruned from programs (host callbacks)
nondiff: set[Primitive] = set()  # outputs carry no derivative (integer/bool results, iota, argmax ...)
inline_calls: set[Primitive] = set()  # call-like primitives that transforms evaluate equation by equation
# Execution-only hints (grilly/core/specialize.py), used just before a backend runs a traced program:
scalar_operands: dict[Primitive, frozenset] = {}  # operand positions where a scalar stands for its broadcast
unused_outputs_rules: dict[Primitive, Any] = {}  # rule(params, used: tuple[bool]) -> params that skip the rest


def rule_missing(prim: Primitive, transform: str) -> TransformError:
    return TransformError(f"primitive '{prim.name}' has no {transform} rule")
