"""Vulkan dispatchers for the fused LIF primitives: one dispatch per sequence forward, one backward.

Each invocation owns one neuron and loops over the T steps inside the shader (grilly/shaders/snn/), so a
sequence costs one launch whatever T is, and neurons never communicate (no workgroup reductions).
"""

from __future__ import annotations

import math

from grilly.core import primitive as P
from grilly.snn.lif_primitive import lif_scan_bwd_p, lif_scan_p
from grilly.snn.surrogate import KINDS


def _flags(v_reset, decay_input, fire_at_equal, detach_reset=False) -> int:
    return (v_reset is not None) | (bool(decay_input) << 1) | (bool(fire_at_equal) << 2) | (bool(detach_reset) << 3)


def _sizes(prim, shape, dtype) -> tuple[int, int, str]:
    """(steps, neurons, dtype code); BackendError naming the op for dtypes without a kernel."""
    from grilly.core.backend.vulkan.kernels.common import code

    c = code(prim, dtype, ("f32", "f16", "bf16"))
    steps, n = shape[0], math.prod(shape[1:])
    if steps * n >= 2**32:
        from grilly.core.errors import BackendError

        raise BackendError(f"{prim} on Vulkan addresses at most 2**32 elements, got shape {tuple(shape)}")
    return steps, n, c


def _lif_scan_impl_vk(rt, bufs, out_avals, *, a, v_th, v_reset, decay_input, fire_at_equal, detach_reset,
                      surrogate, unused=()):
    from grilly.core.backend.vulkan.kernels.common import launch, pack

    xs, v0 = bufs
    av = out_avals[0]
    steps, n, c = _sizes("lif_scan", av.shape, av.dtype)
    s, v, h = rt.empty(av), rt.empty(av), rt.empty(av)
    if steps and n:
        v_r = 0.0 if v_reset is None else v_reset
        pc = pack("QQQQQIIfffI", xs.addr, v0.addr, s.addr, v.addr, h.addr, n, steps, a, v_th, v_r,
                  _flags(v_reset, decay_input, fire_at_equal) | sum(1 << (4 + k) for k in unused))
        launch(rt, f"snn_lif_scan_fwd_{c}", n, pc, (xs, v0), (s, v, h))
    return [s, v, h]


def _lif_scan_bwd_impl_vk(rt, bufs, out_avals, *, a, v_th, v_reset, decay_input, fire_at_equal, detach_reset,
                          surrogate):
    from grilly.core.backend.vulkan.kernels.common import launch, pack

    h, gs, gv, gh = bufs
    gx_aval, gv0_aval = out_avals
    # a scalar cotangent (smaller than H) stands for its broadcast: the kernel reads its one value
    present = sum(1 << (4 + k) for k, g in enumerate((gs, gv, gh)) if g.nbytes == h.nbytes)
    steps, n, c = _sizes("lif_scan_bwd", gx_aval.shape, gx_aval.dtype)
    gx, gv0 = rt.empty(gx_aval), rt.empty(gv0_aval)
    if n:
        v_r = 0.0 if v_reset is None else v_reset
        pc = pack("QQQQQQIIffffII", h.addr, gs.addr, gv.addr, gh.addr, gx.addr, gv0.addr, n, steps, a, v_th, v_r,
                  surrogate.alpha, KINDS[surrogate.name],
                  _flags(v_reset, decay_input, fire_at_equal, detach_reset) | present)
        launch(rt, f"snn_lif_scan_bwd_{c}", n, pc, (h, gs, gv, gh), (gx, gv0))
    return [gx, gv0]


P.impl_rules["vulkan"][lif_scan_p] = _lif_scan_impl_vk
P.impl_rules["vulkan"][lif_scan_bwd_p] = _lif_scan_bwd_impl_vk
