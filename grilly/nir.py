"""NIR (Neuromorphic Intermediate Representation) exchange: grilly SNN models to NIR graphs and back.

A graph runs as a ``Graph`` module, a pytree of node modules (``Affine``, ``Conv``, ``Flatten``, ``Scale``,
``LIF``, ``IF``, ``CubaLIF``, ``LI``, ``Integrator``) with explicit state. Input is time-major,
``(T, batch, *features)``; ``graph(xs) -> (ys, state)`` runs ``lax.scan`` over time, so it works under
``grilly.jit`` and ``grilly.grad`` (spikes use the ``grilly.snn`` surrogate gradient).

NIR neurons are ODEs; grilly integrates them with forward Euler at step ``dt`` (default 1e-4 s, the value
snnTorch and SpikingJelly use), e.g. for LIF ``v <- v + dt/tau (v_leak - v + r x)``, spike where ``v`` crosses
``v_threshold`` (strictly, as snnTorch and NIR's reference; ``fire_at_equal=True`` for SpikingJelly's ``>=``),
then hard reset to ``v_reset``. States start at zero. Edges into one node are summed; an edge that closes a cycle
carries the previous step's value (recurrence). The ``nir`` package is imported only by ``to_nir``/``from_nir``.

>>> import numpy as np, grilly.numpy as gnp
>>> net = chain(Affine(gnp.eye(2), gnp.zeros(2)), LIF.from_beta(np.full(2, 0.5), v_threshold=np.ones(2)))
>>> ys, _ = net(gnp.full((3, 1, 2), 0.6))
>>> ys[:, 0, 0].tolist()
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np

import grilly.lax as lax
import grilly.numpy as gnp
from grilly import tree
from grilly.utils.huggingface.layers import pytree_module, static
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


@pytree_module
class Affine:
    """``x @ weight.T + bias`` (NIR ``Affine``; ``bias=None`` is NIR ``Linear``)."""

    weight: object
    bias: object = None

    def __call__(self, x):
        y = lax.dot_general(x, self.weight, (((x.ndim - 1,), (1,)), ((), ())))
        return y if self.bias is None else y + self.bias


@pytree_module
class Conv:
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


@pytree_module
class Flatten:
    """Flatten dims ``start_dim..end_dim`` of each sample (NIR counts dims without the batch dim)."""

    start_dim: int = static(default=0)
    end_dim: int = static(default=-1)

    def __call__(self, x):
        nd = x.ndim - 1
        lo, hi = self.start_dim % nd + 1, self.end_dim % nd + 1
        return gnp.reshape(x, x.shape[:lo] + (-1,) + x.shape[hi + 1:])


@pytree_module
class Scale:
    scale: object

    def __call__(self, x):
        return x * self.scale


# ---- neurons: step(x, state) -> (y, state) -------------------------------------------------------------------


@pytree_module
class LIF:
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


@pytree_module
class IF:
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


@pytree_module
class CubaLIF:
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


@pytree_module
class LI:
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


@pytree_module
class Integrator:
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


@pytree_module
class Graph:
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


# ---- NIR -> grilly --------------------------------------------------------------------------------------------


def _pairs(padding, nd):
    if isinstance(padding, str):
        return padding.upper()
    p = np.broadcast_to(np.asarray(padding, dtype=np.int64), (nd,))
    return tuple((int(v), int(v)) for v in p)


def _tuple(v, nd):
    return tuple(int(i) for i in np.broadcast_to(np.asarray(v, dtype=np.int64), (nd,)))


def _import_node(node, dt: float, fire_at_equal: bool):
    import nir

    P = _param
    if isinstance(node, nir.Affine):
        return Affine(P(node.weight), P(node.bias))
    if isinstance(node, nir.Linear):
        return Affine(P(node.weight), None)
    if isinstance(node, nir.Conv1d | nir.Conv2d):
        nd = 1 if isinstance(node, nir.Conv1d) else 2
        return Conv(P(node.weight), P(node.bias), stride=_tuple(node.stride, nd), padding=_pairs(node.padding, nd),
                    dilation=_tuple(node.dilation, nd), groups=int(node.groups))
    if isinstance(node, nir.Flatten):
        return Flatten(int(node.start_dim), int(node.end_dim))
    if isinstance(node, nir.Scale):
        return Scale(P(node.scale))
    if isinstance(node, nir.LIF):
        return LIF(P(node.tau), P(node.r), P(node.v_leak), P(node.v_threshold), P(node.v_reset), dt=dt,
                   fire_at_equal=fire_at_equal)
    if isinstance(node, nir.IF):
        return IF(P(node.r), P(node.v_threshold), P(node.v_reset), dt=dt, fire_at_equal=fire_at_equal)
    if isinstance(node, nir.CubaLIF):
        return CubaLIF(P(node.tau_syn), P(node.tau_mem), P(node.r), P(node.v_leak), P(node.v_threshold),
                       P(node.v_reset), P(node.w_in), dt=dt, fire_at_equal=fire_at_equal)
    if isinstance(node, nir.LI):
        return LI(P(node.tau), P(node.r), P(node.v_leak), dt=dt)
    if isinstance(node, nir.I):
        return Integrator(P(node.r), dt=dt)
    raise NotImplementedError(f"NIR node type {type(node).__name__} is not supported by grilly")


def _flatten_graph(graph, prefix=""):
    """Nodes and edges of ``graph`` with nested graphs inlined (their Input/Output nodes become pass-throughs)."""
    import nir

    nodes, edges, ins, outs = {}, [], [], []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_in, sub_out = _flatten_graph(node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[name], exit_[name] = sub_in, sub_out
        else:
            nodes[full] = node
            (ins if isinstance(node, nir.Input) else outs if isinstance(node, nir.Output) else []).append(full)
    for s, d in graph.edges:
        for a in exit_.get(s, [prefix + s]):
            for b in entry.get(d, [prefix + d]):
                edges.append((a, b))
    return nodes, edges, ins, outs


def from_nir(graph, dt: float = DEFAULT_DT, fire_at_equal: bool = False) -> Graph:
    """A grilly ``Graph`` from a ``nir.NIRGraph`` (or the path of a NIR HDF5 file), integrated at step ``dt``."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(graph)
    raw, edges, ins, outs = _flatten_graph(graph)
    if not ins or not outs:
        raise ValueError("a NIR graph needs Input and Output nodes")
    nodes = {n: None if isinstance(v, nir.Input | nir.Output) else _import_node(v, dt, fire_at_equal)
             for n, v in raw.items()}
    return Graph.build(nodes, edges, ins, outs)


# ---- grilly -> NIR --------------------------------------------------------------------------------------------


def _as_graph(model) -> Graph:
    if isinstance(model, Graph):
        return model
    if isinstance(model, list | tuple):
        return chain(*[_from_nn(m) for m in model])
    if hasattr(model, "layers") and type(model).__name__ == "Sequential":  # grilly.nn.Sequential
        return chain(*[_from_nn(m) for m in model.layers])
    return chain(_from_nn(model))


def _from_nn(m):
    """grilly.nn layers as NIR-graph nodes (by structure, so grilly.nn is not imported here)."""
    kind = type(m).__name__
    if kind == "Linear" and hasattr(m, "weight") and not isinstance(m, Affine):
        return Affine(m.weight, getattr(m, "bias", None))
    if kind in ("Conv1d", "Conv2d") and hasattr(m, "weight"):
        nd = m.weight.ndim - 2
        return Conv(m.weight, m.bias, stride=_tuple(m.stride, nd), padding=_pairs(m.padding, nd),
                    dilation=_tuple(m.dilation, nd), groups=int(m.groups))
    if kind == "Flatten" and not isinstance(m, Flatten):  # torch-style dims count the batch dim
        return Flatten(m.start_dim - 1 if m.start_dim > 0 else m.start_dim,
                       m.end_dim - 1 if m.end_dim > 0 else m.end_dim)
    if isinstance(m, Affine | Conv | Flatten | Scale) or _stateful(m):
        return m
    raise NotImplementedError(f"cannot export {kind} to NIR")


def _full(p, shape):
    return np.array(np.broadcast_to(np.asarray(0.0 if p is None else p, np.float32), shape))


def _export_node(m, in_shape, out_shape):
    import nir

    a = lambda p: None if p is None else np.array(np.asarray(p), np.float32)  # noqa: E731
    if isinstance(m, Affine):
        return nir.Linear(a(m.weight)) if m.bias is None else nir.Affine(a(m.weight), a(m.bias))
    if isinstance(m, Conv):
        nd = len(in_shape) - 1
        if isinstance(m.padding, str):
            pad = m.padding.lower()
        elif all(lo == hi for lo, hi in m.padding):
            pad = tuple(lo for lo, _ in m.padding)
        else:
            raise NotImplementedError(f"NIR cannot express asymmetric padding {m.padding}")
        bias = a(m.bias) if m.bias is not None else np.zeros(m.weight.shape[0], np.float32)
        cls, shp = (nir.Conv1d, int(in_shape[1])) if nd == 1 else (nir.Conv2d, tuple(int(i) for i in in_shape[1:]))
        unwrap = (lambda t: t[0]) if nd == 1 else (lambda t: t)  # noqa: E731
        return cls(shp, a(m.weight), unwrap(m.stride), unwrap(pad) if not isinstance(pad, str) else pad,
                   unwrap(m.dilation), m.groups, bias)
    if isinstance(m, Flatten):
        return nir.Flatten({"input": np.array(in_shape)}, m.start_dim, m.end_dim)
    if isinstance(m, Scale):
        return nir.Scale(a(m.scale))
    f = lambda p: _full(p, out_shape)  # noqa: E731
    if isinstance(m, LIF):
        return nir.LIF(f(m.tau), f(m.r), f(m.v_leak), f(m.v_threshold), f(m.v_reset))
    if isinstance(m, IF):
        return nir.IF(f(m.r), f(m.v_threshold), f(m.v_reset))
    if isinstance(m, CubaLIF):
        return nir.CubaLIF(f(m.tau_syn), f(m.tau_mem), f(m.r), f(m.v_leak), f(m.v_threshold), f(m.v_reset),
                           f(1.0 if m.w_in is None else m.w_in))
    if isinstance(m, LI):
        return nir.LI(f(m.tau), f(m.r), f(m.v_leak))
    if isinstance(m, Integrator):
        return nir.I(f(m.r))
    raise NotImplementedError(f"cannot export {type(m).__name__} to NIR")


def to_nir(model, input_shape, save_path=None):
    """A ``nir.NIRGraph`` of ``model`` (a ``Graph``, a list of layers, a ``grilly.nn.Sequential`` or one layer)
    for one sample of shape ``input_shape`` (no batch or time dims). ``save_path`` also writes it to HDF5.

    NIR is continuous-time: ``dt`` and ``fire_at_equal`` are not stored; pass them again to ``from_nir``.
    """
    import nir

    g = _as_graph(model)
    x = gnp.zeros((1, *tuple(input_shape)), dtype="float32")
    shapes_in, shapes_out = {}, {}
    g._run(x, g.initial_state(x), record=(shapes_in, shapes_out))
    nodes = {}
    for name, m in g.nodes.items():
        if name in g.inputs:
            nodes[name] = nir.Input({"input": np.array(shapes_out[name][1:])})
        elif m is None:
            nodes[name] = nir.Output({"output": np.array(shapes_in[name][1:])})
        else:
            nodes[name] = _export_node(m, shapes_in[name][1:], shapes_out[name][1:])
    graph = nir.NIRGraph(nodes=nodes, edges=list(g.edges))
    if save_path is not None:
        nir.write(save_path, graph)
    return graph


__all__ = ["DEFAULT_DT", "IF", "LI", "LIF", "Affine", "Conv", "CubaLIF", "Flatten", "Graph", "Integrator", "Scale",
           "chain", "from_nir", "to_nir"]
