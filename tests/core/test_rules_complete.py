"""Every registered primitive has the rules each transform needs, and every core primitive has a test row."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

import grilly
from grilly.core import primitive as P

# packages that register primitives of their own; imported when present so their primitives are checked too
OPTIONAL_PACKAGES = ("grilly.functional", "grilly.nn", "grilly.snn", "grilly.memory", "grilly.learning",
                     "grilly.parallel", "grilly.optim", "grilly.utils", "grilly.compat")
for _name in OPTIONAL_PACKAGES:
    try:  # a package that fails to import is reported by its own tests; its primitives are then unregistered
        if importlib.util.find_spec(_name) is not None:
            importlib.import_module(_name)
    except ImportError:
        pass

PRIMS = list(P.ALL_PRIMITIVES)
IDS = [p.name for p in PRIMS]

# the modules whose primitives form the core (their rows live in tests/core)
CORE_MODULES = ("grilly.lax.elementwise", "grilly.lax.structural", "grilly.lax.reductions", "grilly.lax.linalg",
                "grilly.lax.gather_scatter", "grilly.lax.sorting", "grilly.lax.random_bits",
                "grilly.lax.control_flow", "grilly.transforms")
# core primitives exercised by dedicated tests instead of the forward tables
TESTED_ELSEWHERE = {
    "scan": "test_control_flow.py", "while": "test_control_flow.py", "cond": "test_control_flow.py",
    "custom_vjp_call": "test_compose.py", "custom_jvp_call": "test_compose.py", "checkpoint": "test_compose.py",
    "stop_gradient": "test_compose.py", "jit_call": "test_jit.py",
}


def _module_of(prim) -> str:
    rule = P.abstract_eval_rules.get(prim)
    return getattr(rule, "__module__", "") or ""


def _is_core(prim) -> bool:
    return _module_of(prim).startswith(CORE_MODULES)


def test_primitive_names_are_unique():
    names = [p.name for p in PRIMS]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"several primitives share a name: {dupes}"


@pytest.mark.parametrize("prim", PRIMS, ids=IDS)
def test_has_abstract_eval(prim):
    assert prim in P.abstract_eval_rules, f"primitive '{prim.name}' has no abstract evaluation rule"


@pytest.mark.parametrize("prim", PRIMS, ids=IDS)
def test_has_numpy_or_generic_impl(prim):
    assert prim in P.impl_rules["numpy"] or prim in P.generic_impls, (
        f"primitive '{prim.name}' has neither a NumPy impl nor a generic impl")


@pytest.mark.parametrize("prim", PRIMS, ids=IDS)
def test_has_batching_rule(prim):
    assert prim in P.batch_rules, f"primitive '{prim.name}' has no batching (vmap) rule"


@pytest.mark.parametrize("prim", PRIMS, ids=IDS)
def test_has_derivative_rule_unless_nondiff(prim):
    if prim in P.nondiff:
        return
    has = prim in P.jvp_rules or prim in P.vjp_rules or prim in P.tape_rules
    assert has, (f"primitive '{prim.name}' ({_module_of(prim)}) has no jvp/vjp rule and is not marked nondiff "
                 "(add the rules, or P.nondiff.add(prim) if its outputs carry no derivative)")


@pytest.mark.parametrize("prim", [p for p in PRIMS if _is_core(p)], ids=[p.name for p in PRIMS if _is_core(p)])
def test_core_primitive_has_both_modes(prim):
    """Core primitives support forward and reverse mode (jvp, jacfwd and hessian rely on the former)."""
    if prim in P.nondiff:
        assert prim not in P.vjp_rules or prim.name == "stop_gradient", f"'{prim.name}' is nondiff but has a VJP"
        return
    assert prim in P.jvp_rules, f"core primitive '{prim.name}' has no jvp rule"
    assert prim in P.vjp_rules or prim in P.tape_rules, f"core primitive '{prim.name}' has no vjp rule"


@pytest.mark.skipif(grilly.default_backend() != "vulkan", reason="checks the Vulkan kernel table")
@pytest.mark.parametrize("prim", PRIMS, ids=IDS)
def test_has_vulkan_kernel(prim):
    grilly.get_backend("vulkan")  # creating the backend registers its kernel table
    if prim in P.generic_impls:
        return
    assert prim in P.impl_rules["vulkan"], (
        f"primitive '{prim.name}' ({_module_of(prim)}) has no Vulkan kernel and no generic impl")


def test_every_core_primitive_has_a_test_row():
    import cases_elementwise
    import cases_misc
    import cases_reduce
    import cases_structural

    covered = {n for t in (cases_elementwise, cases_structural, cases_reduce, cases_misc) for c in t.CASES
               for n in c.prims}
    covered |= set(TESTED_ELSEWHERE)
    missing = sorted(p.name for p in PRIMS if _is_core(p) and p.name not in covered)
    assert not missing, f"core primitives without a forward test row: {missing}"


def test_missing_rule_error_names_primitive_and_transform():
    from core_helpers import default_backend

    from grilly.core.aval import ShapedArray
    from grilly.core.primitive import Primitive

    probe = Primitive("probe_without_rules")
    try:
        P.abstract_eval_rules[probe] = lambda x: ShapedArray(x.shape, x.dtype)
        P.impl_rules["numpy"][probe] = lambda x: x
        with default_backend("numpy"):  # the probe has a NumPy impl only
            x = grilly.numpy.ones((2,))
            with pytest.raises(grilly.TransformError, match="'probe_without_rules'.*vmap"):
                grilly.vmap(probe.bind)(grilly.numpy.ones((3, 2)))
            with pytest.raises(grilly.TransformError, match="'probe_without_rules'.*reverse-mode"):
                grilly.grad(lambda v: grilly.numpy.sum(probe.bind(v)))(x)
            with pytest.raises(grilly.TransformError, match="'probe_without_rules'.*forward-mode"):
                grilly.jvp(probe.bind, (x,), (x,))
            with pytest.raises(grilly.BackendError, match="'probe_without_rules'.*vulkan"):
                P.impl_rules["numpy"].pop(probe)
                P.impl_rules["vulkan"].pop(probe, None)
                if grilly.vulkan_available():
                    probe.bind(grilly.device_put(x, "vulkan"))
                else:
                    raise grilly.BackendError("'probe_without_rules' vulkan (no device here)")
    finally:
        P.ALL_PRIMITIVES.remove(probe)
        P.abstract_eval_rules.pop(probe, None)
        P.impl_rules["numpy"].pop(probe, None)
