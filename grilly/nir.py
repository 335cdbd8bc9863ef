"""NIR (Neuromorphic Intermediate Representation) exchange: grilly SNN models to NIR graphs and back.

A graph runs as a ``Graph`` module, a pytree of node modules (``Affine``, ``Conv``, ``Flatten``, ``Scale``,
``LIF``, ``IF``, ``CubaLIF``, ``LI``, ``Integrator``) with explicit state. Input is time-major,
``(T, batch, *features)``; ``graph(xs) -> (ys, state)`` runs ``lax.scan`` over time, so it works under
``grilly.jit`` and ``grilly.grad`` (spikes use the ``grilly.snn`` surrogate gradient).

NIR neurons are ODEs; grilly integrates them with forward Euler at step ``dt`` (default 1e-4 s, the value
snnTorch and SpikingJelly use), e.g. for LIF ``v <- v + dt/tau (v_leak - v + r x)``, spike where ``v`` crosses
``v_threshold`` (strictly, as snnTorch; ``fire_at_equal=True`` for SpikingJelly's and grilly.snn's ``>=``),
then hard reset to ``v_reset``. States start at zero. Edges into one node are summed; an edge that closes a cycle
carries the previous step's value (recurrence). The ``nir`` package is imported only by ``to_nir``/``from_nir``.

>>> import numpy as np, grilly.numpy as gnp
>>> net = chain(Affine(gnp.eye(2), gnp.zeros(2)), LIF.from_beta(np.full(2, 0.5), v_threshold=np.ones(2)))
>>> ys, _ = net(gnp.full((3, 1, 2), 0.6))
>>> ys[:, 0, 0].tolist()  # v = 0.6, 0.9, 1.05: a spike at the third step
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np

import grilly.lax as lax
import grilly.numpy as gnp
from grilly import tree
from grilly.nn.module import Module, static
from grilly.utils.tensor_conversion import to_numpy, to_vulkan

DEFAULT_DT = 1e-4


def _param(x):
    return None if x is None else to_vulkan(np.asarray(to_numpy(x), dtype=np.float32))


def _fire(u, fire_at_equal: bool):
    from grilly.snn import surrogate

    return surrogate.get(None)(u, fire_at_equal)


def _reset(v, s, v_reset):
    return v * (1.0 - s) + (0.0 if v_reset is None else v_reset) * s


# ---- stateless nodes -------------------------------------------------------------------------------------------


class Affine(Module):
    """``x @ weight.T + bias`` (NIR ``Affine``; ``bias=None`` is NIR ``Linear``)."""

    weight: object
    bias: object = None

    def __call__(self, x):
        y = lax.dot_general(x, self.weight, (((x.ndim - 1,), (1,)), ((), ())))
        return y if self.bias is None else y + self.bias


class Conv(Module):
    """N-d convolution over ``(batch, channels, *spatial)`` (NIR ``Conv1d``/``Conv2d``)."""

    weight: object  # (out, in / groups, *kernel)
    bias: object = None
    stride: tuple = static(default=(1,))
    padding: tuple = static(default=((0, 0),))
    dilation: tuple = static(default=(1,))
    groups: int = static(default=1)

    def __call__(self, x):
        y = lax.conv_general_dilated(x, self.weight, self.stride, self.padding, rhs_dilation=self.dilation,
                                     feature_group_count=self.groups)
        if self.bias is None:
            return y
        return y + gnp.reshape(self.bias, (1, -1) + (1,) * (y.ndim - 2))


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` of each sample (NIR counts dims without the batch dim)."""

    start_dim: int = static(default=0)
    end_dim: int = static(default=-1)

    def __call__(self, x):
        nd = x.ndim - 1
        lo, hi = self.start_dim % nd + 1, self.end_dim % nd + 1
        return gnp.reshape(x, x.shape[:lo] + (-1,) + x.shape[hi + 1:])


class Scale(Module):
    scale: object

    def __call__(self, x):
        return x * self.scale


# ---- neurons: step(x, state) -> (y, state) -------------------------------------------------------------------


class LIF(Module):
    """Leaky integrate-and-fire: ``tau dv/dt = (v_leak - v) + r x``, spike above ``v_threshold``, reset."""

    tau: object
    r: object
    v_leak: object
    v_threshold: object
    v_reset: object = None
    dt: float = static(default=DEFAULT_DT)
    fire_at_equal: bool = static(default=False)

    def init(self, x):
        return gnp.zeros_like(x)

    def step(self, x, v):
        v = v + (self.dt / self.tau) * (self.v_leak - v + self.r * x)
        s = _fire(v - self.v_threshold, self.fire_at_equal)
        return s, _reset(v, s, self.v_reset)

    @classmethod
    def from_beta(cls, beta, v_threshold, v_reset=None, dt: float = DEFAULT_DT, **kw) -> LIF:
        """``v <- beta v + x`` per step (snnTorch ``Leaky`` with zero reset and ``reset_delay=False``)."""
        beta = np.asarray(beta, np.float64)
        tau = dt / (1.0 - beta)
        return cls(_param(tau), _param(tau / dt), _param(np.zeros_like(beta)), _param(v_threshold),
                   _param(v_reset), dt=dt, **kw)

    @classmethod
    def from_grilly(cls, shape, *, tau: float = 2.0, dt: float = 1.0, v_th: float = 1.0, v_reset: float = 0.0,
                    decay_input: bool = True, fire_at_equal: bool = True, nir_dt: float = DEFAULT_DT) -> LIF:
        """The neuron of ``grilly.snn.lif_step`` (SpikingJelly's ``LIFNode``) with its keyword arguments."""
        steps = float(tau) / float(dt)
        full = lambda v: _param(np.full(shape, v, np.float64))  # noqa: E731
        return cls(full(steps * nir_dt), full(1.0 if decay_input else steps), full(v_reset), full(v_th),
                   full(v_reset), dt=nir_dt, fire_at_equal=fire_at_equal)


class IF(Module):
    """Integrate-and-fire: ``dv/dt = r x``."""

    r: object
    v_threshold: object
    v_reset: object = None
    dt: float = static(default=DEFAULT_DT)
    fire_at_equal: bool = static(default=False)

    def init(self, x):
        return gnp.zeros_like(x)

    def step(self, x, v):
        v = v + self.dt * self.r * x
        s = _fire(v - self.v_threshold, self.fire_at_equal)
        return s, _reset(v, s, self.v_reset)


class CubaLIF(Module):
    """Current-based LIF: ``tau_syn di/dt = -i + w_in x``, ``tau_mem dv/dt = (v_leak - v) + r i``."""

    tau_syn: object
    tau_mem: object
    r: object
    v_leak: object
    v_threshold: object
    v_reset: object = None
    w_in: object = None
    dt: float = static(default=DEFAULT_DT)
    fire_at_equal: bool = static(default=False)

    def init(self, x):
        return (gnp.zeros_like(x), gnp.zeros_like(x))

    def step(self, x, state):
        i, v = state
        w = 1.0 if self.w_in is None else self.w_in
        i = i + (self.dt / self.tau_syn) * (w * x - i)
        v = v + (self.dt / self.tau_mem) * (self.v_leak - v + self.r * i)
        s = _fire(v - self.v_threshold, self.fire_at_equal)
        return s, (i, _reset(v, s, self.v_reset))


class LI(Module):
    """Leaky integrator (no spikes): outputs ``v`` with ``tau dv/dt = (v_leak - v) + r x``."""

    tau: object
    r: object
    v_leak: object
    dt: float = static(default=DEFAULT_DT)

    def init(self, x):
        return gnp.zeros_like(x)

    def step(self, x, v):
        v = v + (self.dt / self.tau) * (self.v_leak - v + self.r * x)
        return v, v


class Integrator(Module):
    """NIR ``I``: ``dv/dt = r x``, output ``v``."""

    r: object
    dt: float = static(default=DEFAULT_DT)

    def init(self, x):
        return gnp.zeros_like(x)

    def step(self, x, v):
        v = v + self.dt * self.r * x
        return v, v


def _stateful(m) -> bool:
    return hasattr(m, "step")


# ---- the graph ---------------------------------------------------------------------------------------------------


def _order(names, edges, inputs):
    """Depth-first order from the inputs; edges closing a cycle are the recurrent ("back") edges."""
    succ = {n: [d for s, d in edges if s == n] for n in names}
    order, state, back = [], {}, set()

    def visit(n):
        state[n] = "open"
        for d in succ[n]:
            if state.get(d) == "open":
                back.add((n, d))
            elif d not in state:
                visit(d)
        state[n] = "done"
        order.append(n)

    for n in list(inputs) + sorted(names):
        if n not in state:
            visit(n)
    return tuple(reversed(order)), back


class Graph(Module):
    """A NIR graph as a grilly module: ``graph(xs, state=None) -> (ys, state)`` over time-major ``xs``.

    ``graph.step(x, state) -> (y, state)`` runs one time step; ``state=None`` starts from rest.
    """

    nodes: dict
    edges: tuple = static()
    inputs: tuple = static()
    outputs: tuple = static()
    order: tuple = static()
    back_edges: frozenset = static()

    @classmethod
    def build(cls, nodes: dict, edges, inputs, outputs) -> Graph:
        edges = tuple((str(s), str(d)) for s, d in edges)
        order, back = _order(list(nodes), edges, inputs)
        return cls(dict(nodes), edges, tuple(inputs), tuple(outputs), order, frozenset(back))

    def _run(self, x, state, record=None):
        fresh = state is None
        neurons, prev = ({}, {}) if fresh else state
        vals, new_neurons = {}, {}
        for name in self.order:
            node = self.nodes.get(name)
            if name in self.inputs:
                vals[name] = x
                if record is not None:
                    record[1][name] = tuple(x.shape)
                continue
            fwd = [vals[s] for s, d in self.edges if d == name and (s, d) not in self.back_edges]
            if not fwd:
                raise ValueError(f"NIR node {name!r} has no feed-forward input")
            inp = fwd[0]
            for v in fwd[1:]:
                inp = inp + v
            for s, d in self.edges:
                if d == name and (s, d) in self.back_edges:
                    inp = inp + (gnp.zeros_like(inp) if fresh else prev[s])
            if node is None:  # an Output node passes its input through
                vals[name] = inp
            elif _stateful(node):
                vals[name], new_neurons[name] = node.step(inp, node.init(inp) if fresh else neurons[name])
            else:
                vals[name] = node(inp)
            if record is not None:
                record[0][name], record[1][name] = tuple(inp.shape), tuple(vals[name].shape)
        new_prev = {s: vals[s] for s, _ in self.back_edges}
        out = vals[self.outputs[0]] if len(self.outputs) == 1 else tuple(vals[o] for o in self.outputs)
        return out, (new_neurons, new_prev)

    def initial_state(self, x):
        """The rest state for one-step input ``x`` (zeros of the right shapes)."""
        _, st = self._run(x, None)
        return tree.map(gnp.zeros_like, st)

    def step(self, x, state=None):
        return self._run(x, self.initial_state(x) if state is None else state)

    def __call__(self, xs, state=None):
        xs = to_vulkan(xs)
        state = self.initial_state(xs[0]) if state is None else state

        def body(st, x):
            y, st = self._run(x, st)
            return st, y

        state, ys = lax.scan(body, state, xs)
        return ys, state


def chain(*layers) -> Graph:
    """A feed-forward ``Graph`` of ``layers`` in order (nodes named "0", "1", ...)."""
    names = [str(i) for i in range(len(layers))]
    nodes = {"input": None, **dict(zip(names, layers)), "output": None}
    seq = ["input", *names, "output"]
    return Graph.build(nodes, list(zip(seq[:-1], seq[1:])), ("input",), ("output",))


def from_nir(graph, dt: float = DEFAULT_DT, fire_at_equal: bool = False) -> Graph:
    """A ``Graph`` from a ``nir.NIRGraph`` (or the path of a NIR HDF5 file), integrated at step ``dt``;
    ``fire_at_equal=True`` fires at ``v >= threshold`` (SpikingJelly, grilly.snn) instead of ``>``."""
    from grilly.utils.nir_exchange import from_nir as convert

    return convert(graph, dt=dt, fire_at_equal=fire_at_equal)


def to_nir(model, input_shape, save_path=None):
    """A ``nir.NIRGraph`` of ``model`` (a ``Graph``, a list of layers, a ``grilly.nn.Sequential`` of grilly.nn /
    grilly.snn layers, or one layer) for one sample of shape ``input_shape`` (no batch or time dims);
    ``save_path`` also writes it as HDF5. NIR stores neither ``dt`` nor ``fire_at_equal``."""
    from grilly.utils.nir_exchange import to_nir as convert

    return convert(model, input_shape, save_path=save_path)

__all__ = ["DEFAULT_DT", "IF", "LI", "LIF", "Affine", "Conv", "CubaLIF", "Flatten", "Graph", "Integrator", "Scale",
           "chain", "from_nir", "to_nir"]
