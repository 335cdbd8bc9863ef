"""vmap against a Python loop plus stack: every table row (batched on each argument, on a non-leading axis, and
with unbatched arguments), then in_axes/out_axes/pytrees/axis_size and the control-flow primitives."""

from __future__ import annotations

import cases_elementwise
import cases_misc
import cases_reduce
import cases_structural
import numpy as np
import pytest
from core_helpers import F32, I32, assert_matches

import grilly
import grilly.lax as lax
import grilly.numpy as gnp

B = 3
TABLE = [c for t in (cases_elementwise, cases_structural, cases_reduce, cases_misc) for c in t.CASES if c.vmap]


def _dtype(case):
    return F32 if F32 in case.dtypes else (I32 if I32 in case.dtypes else case.dtypes[0])


def _shape(case):
    return next((s for s in case.shapes if len(s) >= 1 and int(np.prod(s)) > 0), case.shapes[-1])


def _loop(fn, members, shared=None):
    """Apply ``fn`` to each batch member and stack (the reference for vmap)."""
    outs = []
    for m in members:
        args = [gnp.asarray(a) for a in m] if shared is None else [gnp.asarray(a) for a in m[:1]] + shared
        outs.append([np.asarray(o) for o in grilly.tree.leaves(fn(*args))])
    return [np.stack([o[k] for o in outs]) for k in range(len(outs[0]))]


def _compare(got, want, dtype, name):
    got = grilly.tree.leaves(got)
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        assert_matches(g, w, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("case", TABLE, ids=[c.name for c in TABLE])
def test_vmap_matches_loop(case, rng):
    dtype, shape = _dtype(case), _shape(case)
    members = [case.args(rng, shape, dtype) for _ in range(B)]
    want = _loop(case.fn, members)
    stacked = [gnp.asarray(np.stack([m[k] for m in members])) for k in range(len(members[0]))]
    _compare(grilly.vmap(case.fn)(*stacked), want, dtype, f"{case.name} in_axes=0")
    # the batch axis last on every argument, and out_axes=-1
    moved = [gnp.asarray(np.moveaxis(np.stack([m[k] for m in members]), 0, -1)) for k in range(len(members[0]))]
    got = grilly.vmap(case.fn, in_axes=-1, out_axes=-1)(*moved)
    _compare([gnp.moveaxis(g, -1, 0) for g in grilly.tree.leaves(got)], want, dtype, f"{case.name} in_axes=-1")


MULTI = [c for c in TABLE if len(c.args(np.random.default_rng(0), _shape(c), _dtype(c))) > 1]


@pytest.mark.parametrize("case", MULTI, ids=[c.name for c in MULTI])
def test_vmap_with_unbatched_arguments(case, rng):
    dtype, shape = _dtype(case), _shape(case)
    members = [case.args(rng, shape, dtype) for _ in range(B)]
    shared = [gnp.asarray(a) for a in members[0][1:]]
    want = _loop(case.fn, members, shared)
    x = gnp.asarray(np.stack([m[0] for m in members]))
    got = grilly.vmap(case.fn, in_axes=(0,) + (None,) * len(shared))(x, *shared)
    _compare(got, want, dtype, f"{case.name} in_axes=(0, None, ...)")
    # and the first argument unbatched while the others are
    rest = [gnp.asarray(np.stack([m[k] for m in members])) for k in range(1, len(members[0]))]
    first = gnp.asarray(members[0][0])
    want2 = _loop(lambda *a: case.fn(first, *a), [m[1:] for m in members])
    got2 = grilly.vmap(lambda *a: case.fn(first, *a))(*rest)
    _compare(got2, want2, dtype, f"{case.name} first argument unbatched")


def test_in_axes_per_argument_and_out_axes(rng):
    a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 5, 4)).astype(np.float32)
    f = lambda x, y: x[:, None] * y  # noqa: E731  x: (3,), y: (3, 5)
    got = grilly.vmap(f, in_axes=(0, 2), out_axes=1)(a, b)
    want = np.stack([a[i][:, None] * b[:, :, i] for i in range(4)], axis=1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_pytree_inputs_outputs_and_prefix_in_axes(rng):
    params = {"w": rng.standard_normal((3, 2)).astype(np.float32), "b": np.float32(0.5)}
    xs = rng.standard_normal((5, 3)).astype(np.float32)

    def f(p, x):
        y = x @ p["w"] + p["b"]
        return {"y": y, "norm": gnp.sum(y * y)}

    got = grilly.vmap(f, in_axes=({"w": None, "b": None}, 0))(params, xs)
    for i in range(5):
        y = xs[i] @ params["w"] + params["b"]
        np.testing.assert_allclose(np.asarray(got["y"][i]), y, rtol=1e-5)
        np.testing.assert_allclose(float(got["norm"][i]), np.sum(y * y), rtol=1e-5)
    got2 = grilly.vmap(f, in_axes=(None, 0))(params, xs)  # None as a prefix of the whole dict
    np.testing.assert_allclose(np.asarray(got2["y"]), np.asarray(got["y"]), rtol=1e-6)


def test_tuple_outputs_with_out_axes_tree(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    got_a, got_b = grilly.vmap(lambda v: (v * 2, gnp.sum(v)), out_axes=(1, 0))(x)
    np.testing.assert_allclose(np.asarray(got_a), (x * 2).T, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got_b), x.sum(1), rtol=1e-5)


def test_axis_size_with_no_mapped_argument():
    out = grilly.vmap(lambda c: c * 2.0, in_axes=None, axis_size=3)(gnp.ones(2))
    assert out.shape == (3, 2) and np.all(np.asarray(out) == 2.0)
    with pytest.raises(ValueError, match="axis_size"):
        grilly.vmap(lambda c: c, in_axes=None)(gnp.ones(2))


def test_out_axes_none_for_unbatched_output(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, c = grilly.vmap(lambda v: (v + 1, gnp.ones(2)), out_axes=(0, None))(x)
    assert c.shape == (2,) and y.shape == (4, 3)
    with pytest.raises(ValueError, match="out_axes=None"):
        grilly.vmap(lambda v: v, out_axes=None)(x)


def test_mismatched_sizes_error(rng):
    with pytest.raises(ValueError, match="one size"):
        grilly.vmap(lambda a, b: a + b)(gnp.ones((3, 2)), gnp.ones((4, 2)))


def test_nested_vmap(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    got = grilly.vmap(grilly.vmap(lambda v: gnp.dot(v, v)))(x)
    np.testing.assert_allclose(np.asarray(got), np.einsum("abk,abk->ab", x, x), rtol=1e-5)
    got = grilly.vmap(grilly.vmap(lambda v: gnp.sum(v), in_axes=1), in_axes=2)(x)  # (4, 3)
    np.testing.assert_allclose(np.asarray(got), x.sum(0).T, rtol=1e-5)


# ---- control flow ------------------------------------------------------------------------------------------------

def _scan_fn(c, xs):
    def body(carry, x):
        new = carry * 0.9 + gnp.sin(x)
        return new, new * x
    return lax.scan(body, c, xs)


@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (0, None), (0, 1)])
def test_vmap_of_scan(in_axes, rng):
    c = rng.standard_normal((3, 2)).astype(np.float32)
    xs = rng.standard_normal((3, 5, 2)).astype(np.float32)
    args = [c if in_axes[0] is not None else c[0], xs if in_axes[1] is not None else xs[0]]
    if in_axes[1] == 1:
        args[1] = np.moveaxis(xs, 0, 1)
    got_c, got_y = grilly.vmap(_scan_fn, in_axes=in_axes)(*args)
    for i in range(3):
        ci = c[i] if in_axes[0] is not None else c[0]
        xi = xs[i] if in_axes[1] is not None else xs[0]
        want_c, want_y = _scan_fn(gnp.asarray(ci), gnp.asarray(xi))
        np.testing.assert_allclose(np.asarray(got_c[i]), np.asarray(want_c), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(got_y[i]), np.asarray(want_y), rtol=1e-5, atol=1e-6)


def test_vmap_of_cond_with_batched_predicate(rng):
    x = rng.standard_normal(6).astype(np.float32)

    def f(v):
        return lax.cond(v > 0, lambda a: gnp.sin(a) * 2.0, lambda a: a - 1.0, v)

    got = grilly.vmap(f)(x)
    np.testing.assert_allclose(np.asarray(got), np.where(x > 0, np.sin(x) * 2, x - 1), rtol=1e-6)


def test_vmap_of_cond_with_unbatched_predicate_and_switch(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    got = grilly.vmap(lambda v: lax.cond(True, lambda a: a * 3.0, lambda a: a, v))(x)
    np.testing.assert_allclose(np.asarray(got), x * 3, rtol=1e-6)
    idx = np.array([0, 2, 1, 5], np.int32)
    branches = [lambda a: a, lambda a: a * 2.0, lambda a: -a]
    got = grilly.vmap(lambda i, v: lax.switch(i, branches, v))(idx, x)
    branches_np = [lambda a: a, lambda a: a * 2, lambda a: -a]
    want = np.stack([branches_np[min(int(i), 2)](x[k]) for k, i in enumerate(idx)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_vmap_of_while_loop_with_batched_predicate():
    limits = np.array([1, 4, 0, 7], np.int32)

    def f(n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0 + 1.0), (0, 1.0))

    steps, vals = grilly.vmap(f)(limits)
    want_vals = [float(2 ** (n + 1) - 1) for n in limits]
    assert np.asarray(steps).tolist() == limits.tolist()
    np.testing.assert_allclose(np.asarray(vals), want_vals)


def test_vmap_of_while_loop_with_batched_carry_only(rng):
    x = rng.uniform(1, 2, 4).astype(np.float32)
    got = grilly.vmap(lambda v: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * v), (0, v)))(x)
    np.testing.assert_allclose(np.asarray(got[1]), x ** 4, rtol=1e-5)


def test_vmap_of_fori_loop_with_traced_bound():
    n = np.array([2, 5, 3], np.int32)
    got = grilly.vmap(lambda k: lax.fori_loop(0, k, lambda i, c: c + i, 0))(n)
    assert np.asarray(got).tolist() == [1, 10, 3]


def test_vmap_conv_batched_kernel(rng):
    x = rng.standard_normal((2, 1, 3, 6)).astype(np.float32)
    w = rng.standard_normal((2, 2, 3, 2)).astype(np.float32)
    f = lambda a, k: lax.conv_general_dilated(a, k, (1,), "SAME")  # noqa: E731
    for in_axes in [(0, 0), (0, None), (None, 0)]:
        xa = x if in_axes[0] == 0 else x[0]
        wa = w if in_axes[1] == 0 else w[0]
        got = grilly.vmap(f, in_axes=in_axes)(xa, wa)
        for i in range(2):
            want = f(gnp.asarray(x[i] if in_axes[0] == 0 else x[0]), gnp.asarray(w[i] if in_axes[1] == 0 else w[0]))
            np.testing.assert_allclose(np.asarray(got[i]), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_vmap_over_random_keys():
    import grilly.random as gr

    keys = gr.split(gr.PRNGKey(3), 4)
    got = grilly.vmap(lambda k: gr.uniform(k, (5,)))(keys)
    for i in range(4):
        np.testing.assert_array_equal(np.asarray(got[i]), np.asarray(gr.uniform(keys[i], (5,))))


def test_keyword_arguments_are_mapped_over_axis_0(rng):
    x, y = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    got = grilly.vmap(lambda a, b: a * b)(x, b=y)
    np.testing.assert_allclose(np.asarray(got), x * y, rtol=1e-6)
    got = grilly.vmap(lambda a, b: a * b, in_axes=(None,))(x[0], b=y)
    np.testing.assert_allclose(np.asarray(got), x[0] * y, rtol=1e-6)
