"""The classic grilly compute facade: ``Compute`` (alias ``VulkanCompute``) and ``SNNCompute``.

They take and return NumPy arrays, as the classic API did, and run on grilly's default backend (Vulkan when
available, else NumPy). Conventions of the classic SNN methods (docs/snn.md has the full list and the
functional equivalents):

- ``dt`` is in seconds, ``tau_mem`` and refractory times in milliseconds; per step a = 1000·dt / tau_mem.
- ``lif_step``: neurons not refractory integrate v ← v + a·(I − v) (leak to 0, unit resistance), spike when
  v ≥ v_thresh, reset to ``v_reset`` and become refractory for ``t_refrac`` ms; refractory neurons hold v and
  do not spike; ``refractory`` holds the remaining refractory time in ms.
- Weights are ``(n_post, n_pre)`` as a Linear layer's weight; a ``(n_pre, n_post)`` matrix is accepted when its
  shape says so (non-square). A leading batch axis of activities is averaged.

>>> import numpy as np, grilly
>>> backend = grilly.Compute()
>>> m, r, s = backend.lif_step(np.full(3, 30.0, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32))
>>> s.tolist(), r.tolist()
([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
"""

from __future__ import annotations

import functools

import numpy as np

import grilly
import grilly.numpy as gnp


def _np(x) -> np.ndarray:
    return np.asarray(x)


def _f32(x):
    return gnp.asarray(np.asarray(x, dtype=np.float32))


@functools.cache
def _lif_classic(a: float, v_thresh: float, v_reset: float, dt_ms: float, t_refrac: float):
    def step(i, v, r):
        active = r <= 0.0
        v = gnp.where(active, v + (i - v) * a, v)
        spikes = active & (v >= v_thresh)
        v = gnp.where(spikes, v_reset, v)
        r = gnp.where(spikes, t_refrac, gnp.maximum(r - dt_ms, 0.0))
        return v, r, spikes.astype(v.dtype)

    return grilly.jit(step)


def _functional():
    """grilly.functional when it is installed (it has the fused attention and norms), else None."""
    try:
        import grilly.functional as F
    except ImportError:
        return None
    return F


class Compute:
    """Low-level compute operations on NumPy arrays (the classic ``grilly.Compute`` / ``VulkanCompute``)."""

    def __init__(self, backend: str | None = None):
        self.backend = backend or grilly.default_backend()

    def __repr__(self) -> str:
        return f"Compute(backend={self.backend!r})"

    # ---- spiking neurons and plasticity -----------------------------------------------------------------------

    def lif_step(self, input, membrane, refractory, dt: float = 0.001, tau_mem: float = 20.0,  # noqa: A002
                 v_thresh: float = 1.0, v_reset: float = 0.0, t_refrac: float = 2.0):
        """One LIF step for a population; returns ``(membrane, refractory, spikes)`` as float32 arrays.

        The functional equivalent (without the refractory counter) is
        ``snn.lif_step(v, x, tau=tau_mem, dt=1000 * dt, v_th=v_thresh, v_reset=v_reset)``.
        """
        a = 1000.0 * float(dt) / float(tau_mem)
        step = _lif_classic(a, float(v_thresh), float(v_reset), 1000.0 * float(dt), float(t_refrac))
        v, r, s = step(_f32(input), _f32(membrane), _f32(refractory))
        return _np(v), _np(r), _np(s)

    @staticmethod
    def _orient(weights: np.ndarray, n_pre: int, n_post: int) -> bool:
        """True when ``weights`` is (n_pre, n_post) rather than (n_post, n_pre)."""
        if weights.shape == (n_post, n_pre):
            return False
        if weights.shape == (n_pre, n_post):
            return True
        raise grilly.ShapeError(f"weights of shape {weights.shape} fit neither (n_post, n_pre) = ({n_post}, "
                                f"{n_pre}) nor (n_pre, n_post)")

    def hebbian_learning(self, weights, pre_activity, post_activity, learning_rate: float = 0.01,
                         decay: float = 0.0):
        """Hebbian update ``W + lr·(post ⊗ pre) - decay·W`` (batch-averaged); returns the new weights."""
        from grilly.snn import hebbian_step

        w = np.asarray(weights, np.float32)
        pre = np.atleast_2d(np.asarray(pre_activity, np.float32))
        post = np.atleast_2d(np.asarray(post_activity, np.float32))
        flip = self._orient(w, pre.shape[-1], post.shape[-1])
        wk = w.T if flip else w
        dw = hebbian_step(_f32(wk), _f32(pre), _f32(post), lr=float(learning_rate) / pre.shape[0],
                          decay=float(decay))
        out = wk + _np(dw)
        return out.T.copy() if flip else out

    def stdp_learning(self, weights, pre_spikes, post_spikes, dt: float = 0.001, A_plus: float = 0.01,  # noqa: N803
                      A_minus: float = 0.012, tau_plus: float = 20.0, tau_minus: float = 20.0,  # noqa: N803
                      w_min: float | None = None, w_max: float | None = None):
        """Pair-based STDP over spike trains ``(T, n_pre)`` / ``(T, n_post)`` (or one step, 1-D).

        Exponential traces (decay exp(-1000·dt/tau), tau in ms): ``dW = A_plus·Σ s_post ⊗ trace_pre -
        A_minus·Σ trace_post ⊗ s_pre``; returns ``W + dW``, clipped to [w_min, w_max] when given.
        """
        from grilly.snn import stdp_scan

        w = np.asarray(weights, np.float32)
        pre = np.asarray(pre_spikes, np.float32)
        post = np.asarray(post_spikes, np.float32)
        pre, post = (pre[None], post[None]) if pre.ndim == 1 else (pre, post)
        flip = self._orient(w, pre.shape[-1], post.shape[-1])
        wk = w.T if flip else w
        _, dw = stdp_scan(_f32(wk), _f32(pre), _f32(post), tau_pre=float(tau_plus), tau_post=float(tau_minus),
                          f_pre=float(A_minus), f_post=float(A_plus), decay="exp", dt=1000.0 * float(dt))
        out = wk + _np(dw)
        if w_min is not None or w_max is not None:
            out = np.clip(out, w_min, w_max)
        return out.T.copy() if flip else out

    # ---- feed-forward operations --------------------------------------------------------------------------

    def linear(self, input, weight, bias=None):  # noqa: A002
        """``input @ weight.T + bias`` with weight (out_features, in_features)."""
        F = _functional()
        if F is not None:
            return _np(F.linear(_f32(input), _f32(weight), None if bias is None else _f32(bias)))
        y = _f32(input) @ _f32(weight).T
        return _np(y if bias is None else y + _f32(bias))

    def activation_relu(self, input):  # noqa: A002
        return _np(gnp.maximum(_f32(input), 0.0))

    def activation_gelu(self, input):  # noqa: A002
        F = _functional()
        x = _f32(input)
        return _np(F.gelu(x) if F is not None else 0.5 * x * (1.0 + gnp.erf(x / np.sqrt(2.0))))

    def activation_silu(self, input):  # noqa: A002
        x = _f32(input)
        return _np(x * gnp.sigmoid(x))

    def activation_softmax(self, input, axis: int = -1):  # noqa: A002
        x = _f32(input)
        e = gnp.exp(x - gnp.max(x, axis=axis, keepdims=True))
        return _np(e / gnp.sum(e, axis=axis, keepdims=True))

    def layernorm(self, input, weight=None, bias=None, eps: float = 1e-5):  # noqa: A002
        """Layer normalization over the last axis."""
        F = _functional()
        x = _f32(input)
        w = None if weight is None else _f32(weight)
        b = None if bias is None else _f32(bias)
        if F is not None:
            return _np(F.layer_norm(x, None, w, b, eps))
        mu = gnp.mean(x, axis=-1, keepdims=True)
        y = (x - mu) / gnp.sqrt(gnp.var(x, axis=-1, keepdims=True) + eps)
        y = y if w is None else y * w
        return _np(y if b is None else y + b)

    def flash_attention2(self, query, key, value, causal: bool = False, scale: float | None = None):
        """Attention over (batch, seq, heads, head_dim) inputs (or (batch, seq, dim): one head)."""
        q, k, v = _f32(query), _f32(key), _f32(value)
        one_head = q.ndim == 3
        if one_head:
            q, k, v = q[:, :, None], k[:, :, None], v[:, :, None]
        F = _functional()
        if F is not None:
            out = F.flash_attention2(q, k, v, causal=causal, scale=scale)
        else:
            d = q.shape[-1]
            qt, kt, vt = (gnp.swapaxes(t, 1, 2) for t in (q, k, v))
            s = (qt @ gnp.swapaxes(kt, -1, -2)) * (scale if scale is not None else 1.0 / np.sqrt(d))
            if causal:
                n, m = s.shape[-2:]
                s = gnp.where(gnp.tril(gnp.ones((n, m), bool), m - n), s, -np.inf)
            e = gnp.exp(s - gnp.max(s, axis=-1, keepdims=True))
            out = gnp.swapaxes((e / gnp.sum(e, axis=-1, keepdims=True)) @ vt, 1, 2)
        return _np(out[:, :, 0] if one_head else out)


VulkanCompute = Compute


class SNNCompute:
    """A population of LIF neurons stepped one input at a time (the classic ``grilly.SNNCompute``).

    >>> import numpy as np, grilly
    >>> snn = grilly.SNNCompute(n_neurons=4)
    >>> for _ in range(25):
    ...     spikes = snn.process(np.full(4, 2.0, np.float32))
    >>> snn.get_state()["membrane"].shape
    (4,)
    """

    def __init__(self, n_neurons: int = 1000, dt: float = 0.001, tau_mem: float = 20.0, v_thresh: float = 1.0,
                 v_reset: float = 0.0, t_refrac: float = 2.0):
        self.n_neurons, self.dt, self.tau_mem = int(n_neurons), float(dt), float(tau_mem)
        self.v_thresh, self.v_reset, self.t_refrac = float(v_thresh), float(v_reset), float(t_refrac)
        self.compute = Compute()
        self.reset()

    def reset(self) -> None:
        """Membrane potentials to ``v_reset``, no neuron refractory, time back to 0."""
        self.membrane = np.full(self.n_neurons, self.v_reset, np.float32)
        self.refractory = np.zeros(self.n_neurons, np.float32)
        self.t = 0

    def process(self, input) -> np.ndarray:  # noqa: A002
        """Advance one step with input currents ``(n_neurons,)``; returns the spikes (float32 0/1)."""
        x = np.asarray(input, np.float32)
        if x.shape != (self.n_neurons,):
            raise grilly.ShapeError(f"SNNCompute.process: input of shape {x.shape}, expected ({self.n_neurons},)")
        self.membrane, self.refractory, spikes = self.compute.lif_step(
            x, self.membrane, self.refractory, dt=self.dt, tau_mem=self.tau_mem, v_thresh=self.v_thresh,
            v_reset=self.v_reset, t_refrac=self.t_refrac)
        self.t += 1
        return spikes

    def process_sequence(self, inputs) -> np.ndarray:
        """Process time-major inputs ``(T, n_neurons)``; returns spikes ``(T, n_neurons)``."""
        return np.stack([self.process(x) for x in np.asarray(inputs, np.float32)])

    def get_state(self) -> dict:
        """Copies of ``membrane`` and ``refractory`` (ms left) and the step count ``t``."""
        return {"membrane": self.membrane.copy(), "refractory": self.refractory.copy(), "t": self.t}

    def set_state(self, state: dict) -> None:
        """Restore a state from ``get_state`` (``t`` optional)."""
        m = np.asarray(state["membrane"], np.float32)
        r = np.asarray(state.get("refractory", np.zeros_like(m)), np.float32)
        if m.shape != (self.n_neurons,) or r.shape != (self.n_neurons,):
            raise grilly.ShapeError(f"SNNCompute.set_state: membrane {m.shape} / refractory {r.shape}, expected "
                                    f"({self.n_neurons},)")
        self.membrane, self.refractory = m.copy(), r.copy()
        self.t = int(state.get("t", self.t))
