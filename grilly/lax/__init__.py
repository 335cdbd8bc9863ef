"""grilly.lax: the primitives, one thin wrapper each (shapes and dtypes must already agree)."""

from grilly.lax.attention import flash_attention, layer_norm, softmax
from grilly.lax.control_flow import cond, fori_loop, scan, switch, while_loop
from grilly.lax.elementwise import *  # noqa: F403
from grilly.lax.elementwise import (
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitcast_convert_type,
    bitwise_not,
    cbrt,
    ceil,
    convert_element_type,
    cos,
    cosh,
    div,
    erf,
    erf_inv,
    exp,
    exp2,
    expm1,
    floor,
    integer_pow,
    is_finite,
    log,
    log1p,
    logistic,
    mul,
    neg,
    nextafter,
    rem,
    round,
    rsqrt,
    select,
    select_n,
    shift_left,
    shift_right_arithmetic,
    shift_right_logical,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    sub,
    tan,
    tanh,
)
from grilly.lax.elementwise import and_ as bitwise_and
from grilly.lax.elementwise import eq_ as eq
from grilly.lax.elementwise import ge_ as ge
from grilly.lax.elementwise import gt_ as gt
from grilly.lax.elementwise import le_ as le
from grilly.lax.elementwise import lt_ as lt
from grilly.lax.elementwise import max_ as max
from grilly.lax.elementwise import min_ as min
from grilly.lax.elementwise import ne_ as ne
from grilly.lax.elementwise import or_ as bitwise_or
from grilly.lax.elementwise import pow_ as pow
from grilly.lax.elementwise import xor_ as bitwise_xor
from grilly.lax.gather_scatter import gather, put_along_axis, scatter, take_along_axis
from grilly.lax.linalg import conv_general_dilated, dot, dot_general
from grilly.lax.random_bits import threefry2x32
from grilly.lax.reductions import (
    argmax,
    argmin,
    cummax,
    cummin,
    cumprod,
    cumsum,
    reduce_and,
    reduce_max,
    reduce_min,
    reduce_or,
    reduce_prod,
    reduce_sum,
)
from grilly.lax.sorting import argsort, sort, top_k
from grilly.lax.structural import (
    broadcast_in_dim,
    broadcast_to,
    broadcasted_iota,
    concatenate,
    dynamic_index_in_dim,
    dynamic_slice,
    dynamic_update_index_in_dim,
    dynamic_update_slice,
    expand_dims,
    iota,
    pad,
    reshape,
    rev,
    slice_in_dim,
    squeeze,
    transpose,
)
from grilly.lax.structural import slice_ as slice  # noqa: A001


def stop_gradient(x):
    from grilly.transforms.misc import stop_gradient as sg

    return sg(x)


def clamp(lo, x, hi):
    return min(max(x, lo), hi)


def full(shape, fill_value, dtype=None):
    from grilly.core import dtypes
    from grilly.lax._helpers import full as _full

    return _full(tuple(shape), fill_value, dtype or dtypes.default_float())


def full_like(x, fill_value, dtype=None):
    from grilly.lax._helpers import aval_of
    from grilly.lax._helpers import full as _full

    av = aval_of(x)
    return _full(av.shape, fill_value, dtype or av.dtype)


from grilly.parallel.collectives import all_gather, axis_index, pmax, pmean, pmin, psum  # noqa: E402
