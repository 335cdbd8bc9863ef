"""Error messages name the op, the avals it received (``f32[3,4]``) and what it expected; the same text eagerly,
under jit and under vmap (abstract evaluation raises it)."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.lax.gather_scatter import gather_p


def f32(*shape):
    return gnp.zeros(shape, np.float32)


def i32(*shape):
    return gnp.zeros(shape, np.int32)


def E(name, fn, exc, *fragments):  # noqa: N802
    return pytest.param(fn, exc, fragments, id=name)


ROWS = [
    E("add_shapes", lambda: lax.add(f32(3), f32(4)), grilly.ShapeError, "add", "f32[3], f32[4]", "one shape"),
    E("add_dtypes", lambda: lax.add(f32(3), i32(3)), grilly.DTypeError, "add", "f32[3], i32[3]", "one dtype"),
    E("exp_int", lambda: lax.exp(i32(2, 2)), grilly.DTypeError, "exp", "i32[2,2]", "float"),
    E("and_float", lambda: lax.bitwise_and(f32(2), f32(2)), grilly.DTypeError, "and", "f32[2], f32[2]", "int or bool"),
    E("pow_int", lambda: lax.pow(i32(2), i32(2)), grilly.DTypeError, "pow", "i32[2]", "float"),
    E("select_n_shapes", lambda: lax.select_n(gnp.ones(3, bool), f32(3), f32(2)), grilly.ShapeError, "select_n",
      "bool[3], f32[3], f32[2]", "one shape"),
    E("select_n_selector", lambda: lax.select_n(f32(3), f32(3), f32(3)), grilly.DTypeError, "select_n",
      "f32[3]", "bool or int32 selector"),
    E("bitcast_width", lambda: lax.bitcast_convert_type(f32(2), np.int8), grilly.DTypeError,
      "bitcast_convert_type", "f32[2]", "1 bytes"),
    E("dot_general_contract", lambda: lax.dot_general(f32(3, 4), f32(5, 2), (((1,), (0,)), ((), ()))),
      grilly.ShapeError, "dot_general", "f32[3,4], f32[5,2]", "contracting dims (1,)~(0,)"),
    E("dot_general_dtypes", lambda: lax.dot_general(f32(3, 4), i32(4, 2), (((1,), (0,)), ((), ()))),
      grilly.DTypeError, "dot_general", "f32[3,4], i32[4,2]", "one dtype"),
    E("dot_rank", lambda: lax.dot(f32(2, 2, 2), f32(2)), grilly.ShapeError, "dot", "f32[2,2,2], f32[2]",
      "vectors or matrices"),
    E("conv_channels", lambda: lax.conv_general_dilated(f32(1, 3, 5), f32(2, 2, 3), (1,), "VALID"),
      grilly.ShapeError, "conv_general_dilated", "f32[1,3,5], f32[2,2,3]", "lhs (N, C, *spatial)"),
    E("reshape_size", lambda: lax.reshape(f32(6), (4,)), grilly.ShapeError, "reshape", "f32[6]", "4 elements"),
    E("reshape_infer", lambda: lax.reshape(f32(7), (2, -1)), grilly.ShapeError, "reshape", "f32[7]", "(2, -1)"),
    E("transpose_perm", lambda: lax.transpose(f32(2, 3), (0, 0)), grilly.ShapeError, "transpose", "f32[2,3]",
      "permutation of [0, 1]"),
    E("broadcast_in_dim", lambda: lax.broadcast_in_dim(f32(3), (4, 2), (1,)), grilly.ShapeError, "broadcast_in_dim",
      "f32[3]", "broadcasts to (4, 2)"),
    E("broadcast_to_rank", lambda: lax.broadcast_to(f32(2, 3), (3,)), grilly.ShapeError, "broadcast_to",
      "f32[2,3]", "rank of at most 1"),
    E("concatenate", lambda: lax.concatenate([f32(2, 3), f32(2, 4)], 0), grilly.ShapeError, "concatenate",
      "f32[2,3], f32[2,4]", "equal except along dimension 0"),
    E("concatenate_dtypes", lambda: lax.concatenate([f32(2), i32(2)], 0), grilly.DTypeError, "concatenate",
      "f32[2], i32[2]", "one dtype"),
    E("pad_config", lambda: lax.pad(f32(2, 2), gnp.zeros((), np.float32), [(1, 1, 0)]), grilly.ShapeError, "pad",
      "f32[2,2]", "one (low, high, interior>=0) triple per dimension"),
    E("pad_value", lambda: lax.pad(f32(2), f32(2), [(1, 1, 0)]), grilly.ShapeError, "pad", "f32[2], f32[2]",
      "scalar padding value"),
    E("slice_bounds", lambda: lax.slice(f32(4, 4), (0, 2), (5, 3)), grilly.ShapeError, "slice", "f32[4,4]",
      "0 <= start <= limit <= size"),
    E("dynamic_slice_sizes", lambda: lax.dynamic_slice(f32(4), (1,), (5,)), grilly.ShapeError, "dynamic_slice",
      "f32[4]", "within the operand's shape"),
    E("dynamic_update_slice", lambda: lax.dynamic_update_slice(f32(4), f32(5), (0,)), grilly.ShapeError,
      "dynamic_update_slice", "f32[4], f32[5]", "no larger"),
    E("reduce_axes", lambda: lax.reduce_sum(f32(2, 3), (2,)), grilly.ShapeError, "reduce_sum", "f32[2,3]",
      "within rank 2"),
    E("reduce_dtype", lambda: lax.reduce_sum(gnp.ones(3, bool), (0,)), grilly.DTypeError, "reduce_sum", "bool[3]",
      "dtype of kind"),
    E("argmax_empty", lambda: lax.argmax(f32(0, 3), 0), grilly.ShapeError, "argmax", "f32[0,3]", "non-empty axis"),
    E("cumsum_bool", lambda: lax.cumsum(gnp.ones(3, bool)), grilly.DTypeError, "cumsum", "bool[3]", "numeric"),
    E("gather_float_index", lambda: gather_p.bind(f32(4), f32(2), axis=0), grilly.ShapeError, "gather",
      "f32[4], f32[2]", "integer indices"),
    E("scatter_updates", lambda: lax.scatter(f32(4, 2), i32(3), f32(3, 3), 0), grilly.ShapeError, "scatter",
      "f32[4,2], i32[3], f32[3,3]", "(3, 2)"),
    E("top_k_k", lambda: lax.top_k(f32(3), 4), grilly.ShapeError, "top_k", "f32[3]", "k=4"),
    E("threefry_dtype", lambda: lax.threefry2x32(f32(), f32(), f32(2), f32(2)), grilly.DTypeError, "threefry2x32",
      "f32[], f32[], f32[2], f32[2]", "uint32"),
    E("numpy_broadcast", lambda: gnp.add(f32(3), f32(4)), grilly.ShapeError, "add", "f32[3], f32[4]",
      "do not broadcast"),
    E("numpy_axis", lambda: gnp.sum(f32(2, 3), axis=2), grilly.ShapeError, "sum", "axis 2", "rank 2"),
    E("numpy_matmul", lambda: gnp.matmul(f32(2, 3), f32(4, 5)), grilly.ShapeError, "f32[2,3]", "f32[4,5]"),
]


@pytest.mark.parametrize("fn,exc,fragments", ROWS)
def test_error_text(fn, exc, fragments):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in the message: {msg}"


@pytest.mark.parametrize("fn,exc,fragments", ROWS[:12])
def test_error_text_under_jit_and_vmap(fn, exc, fragments):
    with pytest.raises(exc) as info:
        grilly.jit(lambda _: fn())(0.0)
    for frag in fragments:
        assert frag in str(info.value)
    with pytest.raises(exc) as info:
        grilly.vmap(lambda _: fn())(gnp.zeros(2))
    assert fragments[0] in str(info.value)


def test_error_classes_are_python_errors():
    assert issubclass(grilly.ShapeError, ValueError) and issubclass(grilly.DTypeError, TypeError)
    assert issubclass(grilly.ConcretizationError, TypeError) and issubclass(grilly.BackendError, RuntimeError)
    for e in (grilly.ShapeError, grilly.DTypeError, grilly.ConcretizationError, grilly.TransformError,
              grilly.BackendError, grilly.OutOfMemoryError):
        assert issubclass(e, grilly.GrillyError)


def test_transform_errors_name_the_problem():
    with pytest.raises(ValueError, match="in_axes has 1 entries but the function got 2"):
        grilly.vmap(lambda a, b: a, in_axes=(0,))(gnp.ones(2), gnp.ones(2))
    with pytest.raises(ValueError, match="in_axes=3 is out of range.*\\(2,\\)"):
        grilly.vmap(lambda a: a, in_axes=3)(gnp.ones(2))
    with pytest.raises(ValueError, match="cotangent shape"):
        grilly.vjp(lambda a: a * 2, gnp.ones(3))[1](gnp.ones(4))
    with pytest.raises(ValueError, match="tangent shape"):
        grilly.jvp(lambda a: a, (gnp.ones(3),), (gnp.ones(2),))
    with pytest.raises(ValueError, match="argnums=2"):
        grilly.grad(lambda a: gnp.sum(a), argnums=2)(gnp.ones(3))
    with pytest.raises(grilly.ConcretizationError, match="vmap"):
        grilly.vmap(lambda a: 1 if a > 0 else 0)(gnp.ones(2))


def test_debug_nans_names_the_primitive():
    grilly.config.update("debug_nans", True)
    try:
        assert float(gnp.log(gnp.asarray(2.0))) > 0  # finite results pass
        with pytest.raises(FloatingPointError, match="'log'"):
            gnp.log(gnp.asarray(-1.0))
        with pytest.raises(FloatingPointError, match="'sqrt'"):
            gnp.sqrt(gnp.asarray([1.0, -4.0]))
    finally:
        grilly.config.update("debug_nans", False)
    assert np.isnan(float(gnp.log(gnp.asarray(-1.0))))
