"""The fused multi-step LIF primitive ``lif_scan`` and its reverse pass ``lif_scan_bwd``, with all their rules.

``lif_scan_p(xs, v0)`` runs T steps of charge / fire / reset over every neuron of ``xs`` (time-major,
``(T, ...)``) and returns ``(spikes, v_seq, h_seq)``: spikes, the post-reset potential V and the pre-reset
potential H per step. Its VJP is ``lif_scan_bwd_p(h_seq, g_spikes, g_v, g_h)``, one reverse pass over the saved
H that returns ``(g_xs, g_v0)``; a scalar cotangent stands for its broadcast (an absent one is a scalar zero, and
the cotangent of a sum is folded to its scalar before a jitted program runs). Neurons are independent, so
batching folds the batch into the neuron axes.

Static params: ``a = dt / tau``, ``v_th``, ``v_reset`` (None: soft reset by subtraction), ``decay_input``,
``fire_at_equal``, ``detach_reset`` and ``surrogate`` (a built-in :class:`~grilly.snn.surrogate.Surrogate`);
``unused``, an execution hint set only on programs about to run: the positions of outputs nobody reads, which the
Vulkan kernel does not write.

Equations (SpikingJelly ``LIFNode``; Norse ``LIFBox`` with a = dt·τ_mem⁻¹), leak target ``v_r`` = v_reset (0 for
soft reset):

- decay_input:      H[t] = V[t-1] + (x[t] - (V[t-1] - v_r))·a
- not decay_input:  H[t] = V[t-1] - (V[t-1] - v_r)·a + x[t]
- S[t] = Θ(H[t] - v_th)   (Θ(0) = 1 when fire_at_equal)
- hard reset: V[t] = v_reset where S[t] else H[t];   soft reset: V[t] = H[t] - v_th·S[t]
"""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax._helpers import aval_of, bdim_to_front, full, moveaxis, shape_error, zeros_like

lif_scan_p = Primitive("lif_scan", multiple_results=True)
lif_scan_bwd_p = Primitive("lif_scan_bwd", multiple_results=True)


def _check_params(surrogate, a):
    if not getattr(surrogate, "fusable", False):
        raise TypeError(f"lif_scan_p needs a built-in surrogate, got {surrogate!r}")
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"lif_scan: a = dt/tau must lie in [0, 1], got {a}")


# ---- lif_scan ---------------------------------------------------------------------------------------------------

def _lif_scan_abstract_eval(xs, v0, *, a, v_th, v_reset, decay_input, fire_at_equal, detach_reset, surrogate,
                            unused=()):
    if xs.ndim < 1 or xs.shape[1:] != v0.shape or xs.dtype != v0.dtype or dtypes.kind(xs.dtype) != "f":
        raise shape_error("lif_scan", [xs, v0], "float xs of shape (T, *S) and v0 of shape S with one dtype")
    _check_params(surrogate, a)
    return [xs, xs, xs]


def _charge(v, x, a, v_r, decay_input):
    return v + (x - (v - v_r)) * a if decay_input else v - (v - v_r) * a + x


def _compute_dtype(dtype) -> np.dtype:
    """float32 for 16-bit storage (the potential is carried in float32, as the Vulkan kernels do), else the dtype."""
    return np.dtype(np.float32) if np.dtype(dtype).itemsize < 4 else np.dtype(dtype)


def _lif_scan_impl_numpy(xs, v0, *, a, v_th, v_reset, decay_input, fire_at_equal, detach_reset, surrogate,
                         unused=()):
    store = xs.dtype
    ty = _compute_dtype(store).type
    xs, v0 = xs.astype(ty), v0.astype(ty)
    a_, th = ty(a), ty(v_th)
    v_r = ty(0.0 if v_reset is None else v_reset)
    spikes, vs, hs = np.empty_like(xs), np.empty_like(xs), np.empty_like(xs)
    v = v0
    for t in range(xs.shape[0]):
        h = _charge(v, xs[t], a_, v_r, decay_input)
        s = (h - th >= 0) if fire_at_equal else (h - th > 0)
        v = np.where(s, v_r, h) if v_reset is not None else h - th * s.astype(xs.dtype)
        spikes[t], vs[t], hs[t] = s, v, h
    return spikes.astype(store), vs.astype(store), hs.astype(store)


def _lif_scan_vjp(cts, primals, outs, unused=(), **params):
    h_seq = outs[2]
    # an absent cotangent travels as a scalar zero, which the kernel reads once instead of a whole (T, N) array
    g = [full((), 0, aval_of(h_seq).dtype) if c is None else c for c in cts]
    gx, gv0 = lif_scan_bwd_p.bind(h_seq, *g, **params)
    return [gx, gv0]


def _lif_scan_batch(vals, dims, **params):
    xs, v0 = vals
    dx, dv = dims
    size = aval_of(xs).shape[dx] if dx is not None else aval_of(v0).shape[dv]
    xs = moveaxis(bdim_to_front(xs, dx, size), 0, 1)  # (T, B, ...): the batch joins the neuron axes
    v0 = bdim_to_front(v0, dv, size)
    return lif_scan_p.bind(xs, v0, **params), [1, 1, 1]


def _lif_scan_jvp(primals, tangents, unused=(), **params):
    """Forward mode with the surrogate derivative standing for dS/dH: a linear recurrence over the tangents."""
    from grilly import lax

    xs, v0 = primals
    spikes, vs, hs = lif_scan_p.bind(xs, v0, **params)
    tx = zeros_like(xs) if tangents[0] is None else tangents[0]
    tv0 = zeros_like(v0) if tangents[1] is None else tangents[1]
    coef = _coefficients(hs, **params)

    def step(tv, inp):
        dhdx_tx, psi, dvdh, dvds = inp
        th = tv * (1 - params["a"]) + dhdx_tx
        ts = psi * th
        return th * dvdh + ts * dvds, (ts, th * dvdh + ts * dvds, th)

    dhdx = params["a"] if params["decay_input"] else 1.0
    _, (ts, tvs, ths) = lax.scan(step, tv0, (tx * dhdx, *coef))
    return [spikes, vs, hs], [ts, tvs, ths]


def _coefficients(hs, *, a, v_th, v_reset, decay_input, fire_at_equal, detach_reset, surrogate):
    """Per-step (dS/dH, dV/dH, dV/dS) as grilly arrays shaped like ``hs``."""
    from grilly.snn.surrogate import heaviside

    u = hs - v_th
    psi = surrogate.derivative(u).astype(hs.dtype)
    s = heaviside(u, fire_at_equal)
    if v_reset is None:
        dvdh = zeros_like(hs) + 1.0
        dvds = zeros_like(hs) + (0.0 if detach_reset else -v_th)
    else:
        dvdh = 1.0 - s
        dvds = zeros_like(hs) if detach_reset else v_reset - hs
    return psi, dvdh, dvds


P.abstract_eval_rules[lif_scan_p] = _lif_scan_abstract_eval
P.impl_rules["numpy"][lif_scan_p] = _lif_scan_impl_numpy
P.vjp_rules[lif_scan_p] = _lif_scan_vjp
P.jvp_rules[lif_scan_p] = _lif_scan_jvp
P.batch_rules[lif_scan_p] = _lif_scan_batch


# ---- lif_scan_bwd: the fused reverse pass -----------------------------------------------------------------------

def _lif_scan_bwd_abstract_eval(h_seq, g_s, g_v, g_h, **params):
    if any(g.shape not in (h_seq.shape, ()) for g in (g_s, g_v, g_h)) or h_seq.ndim < 1:
        raise shape_error("lif_scan_bwd", [h_seq, g_s, g_v, g_h], "H of shape (T, *S) and cotangents of that "
                          "shape (or scalars, standing for their broadcast)")
    return [h_seq, ShapedArray(h_seq.shape[1:], h_seq.dtype)]


def _lif_scan_bwd_impl_numpy(h_seq, g_s, g_v, g_h, *, a, v_th, v_reset, decay_input, fire_at_equal,
                             detach_reset, surrogate):
    store = h_seq.dtype
    ty = _compute_dtype(store).type
    h_seq = h_seq.astype(ty)
    a_, th = ty(a), ty(v_th)
    g_s, g_v, g_h = (np.broadcast_to(np.asarray(g).astype(ty), h_seq.shape) for g in (g_s, g_v, g_h))
    dhdx = a_ if decay_input else ty(1.0)
    gx = np.empty_like(h_seq)
    g = np.zeros(h_seq.shape[1:], h_seq.dtype)  # dL/dV[t] arriving from step t+1
    for t in range(h_seq.shape[0] - 1, -1, -1):
        h = h_seq[t]
        u = h - th
        psi = surrogate.derivative(u).astype(h_seq.dtype)
        gvt = g_v[t] + g
        if v_reset is None:
            dvdh, dvds = ty(1.0), ty(0.0) if detach_reset else -th
        else:
            s = (u >= 0) if fire_at_equal else (u > 0)
            dvdh = np.where(s, ty(0.0), ty(1.0))
            dvds = ty(0.0) if detach_reset else ty(v_reset) - h
        gh = (g_s[t] + gvt * dvds) * psi + gvt * dvdh + g_h[t]
        gx[t] = gh * dhdx
        g = gh * (ty(1.0) - a_)
    return gx.astype(store), g.astype(store)


def _lif_scan_bwd_batch(vals, dims, **params):
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims) if d is not None)
    vals = [v if d is None and aval_of(v).ndim == 0 else moveaxis(bdim_to_front(v, d, size), 0, 1)
            for v, d in zip(vals, dims)]
    return lif_scan_bwd_p.bind(*vals, **params), [1, 0]


def _lif_scan_unused_outputs(params, used):
    """Execution hint (grilly/core/specialize.py): outputs nobody reads are not written by the Vulkan kernel."""
    return {**params, "unused": tuple(i for i, u in enumerate(used) if not u)}


def _bwd_reference(h_seq, g_s, g_v, g_h, **params):
    """lif_scan_bwd in grilly ops (the per-step coefficients, then a reverse lax.scan of the same recurrence),
    differentiable in all four operands: the VJP / JVP of the fused reverse pass, so second derivatives see the
    same surrogate."""
    import grilly.numpy as gnp
    from grilly import lax

    shape, dt, a = aval_of(h_seq).shape, aval_of(h_seq).dtype, params["a"]
    dhdx = a if params["decay_input"] else 1.0

    def step(g, inp):
        psi, dvdh, dvds, gs, gv, gh = inp
        gvt = gv + g
        ght = (gs + gvt * dvds) * psi + gvt * dvdh + gh
        return ght * (1.0 - a), ght * dhdx

    cts = [gnp.broadcast_to(g, shape) for g in (g_s, g_v, g_h)]
    g_v0, g_x = lax.scan(step, gnp.zeros(shape[1:], dt), (*_coefficients(h_seq, **params), *cts), reverse=True)
    return g_x, g_v0


def _lif_scan_bwd_jvp(primals, tangents, **params):
    """Forward mode of the reverse pass (forward-over-reverse Hessians): the tangent of the reference scan."""
    from grilly.transforms.jvp import jvp

    outs = lif_scan_bwd_p.bind(*primals, **params)
    tangents = tuple(zeros_like(p) if t is None else t for p, t in zip(primals, tangents))
    _, t_out = jvp(lambda *ops: _bwd_reference(*ops, **params), tuple(primals), tangents)
    return list(outs), list(t_out)


def _lif_scan_bwd_vjp(cts, primals, outs, **params):
    from grilly.transforms.tape import vjp

    _, pull = vjp(lambda *ops: _bwd_reference(*ops, **params), *primals)
    cts = tuple(zeros_like(o) if c is None else c for c, o in zip(cts, outs))
    return list(pull(cts))


P.abstract_eval_rules[lif_scan_bwd_p] = _lif_scan_bwd_abstract_eval
P.impl_rules["numpy"][lif_scan_bwd_p] = _lif_scan_bwd_impl_numpy
P.batch_rules[lif_scan_bwd_p] = _lif_scan_bwd_batch
P.vjp_rules[lif_scan_bwd_p] = _lif_scan_bwd_vjp
P.jvp_rules[lif_scan_bwd_p] = _lif_scan_bwd_jvp
P.unused_outputs_rules[lif_scan_p] = _lif_scan_unused_outputs
P.scalar_operands[lif_scan_bwd_p] = frozenset({1, 2, 3})  # a scalar cotangent stands for its broadcast
