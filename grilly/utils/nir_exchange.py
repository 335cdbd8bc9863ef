"""Conversion between ``nir.NIRGraph`` and ``grilly.nir.Graph`` (the public entry points are ``grilly.nir.from_nir``
and ``grilly.nir.to_nir``). Export understands grilly.nir nodes, grilly.nn ``Linear``/``Conv1d``/``Conv2d``/
``Flatten``/``Sequential`` and grilly.snn ``LIF``/``IF``/``SpikingLinear``/``SpikingConv2d``/``RecurrentLIF``.
The ``nir`` package is imported only inside these functions.
"""

from __future__ import annotations

import numpy as np

import grilly.numpy as gnp
from grilly.nir import (
    DEFAULT_DT,
    IF,
    LI,
    LIF,
    Affine,
    Conv,
    CubaLIF,
    Flatten,
    Graph,
    Integrator,
    Scale,
    _param,
    _stateful,
)

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
        layers = list(model)
    elif hasattr(model, "layers") and type(model).__name__ == "Sequential":  # grilly.nn.Sequential
        layers = list(model.layers)
    else:
        layers = [model]
    nodes, edges, prev = {"input": None}, [], "input"
    for i, layer in enumerate(layers):
        sub_nodes, sub_edges, entry, exit_ = _expand(layer, str(i))
        nodes.update(sub_nodes)
        edges += [(prev, entry), *sub_edges]
        prev = exit_
    nodes["output"] = None
    return Graph.build(nodes, [*edges, (prev, "output")], ("input",), ("output",))


def _is_snn(m) -> bool:
    return type(m).__module__.startswith("grilly.snn")


def _snn_neuron(m):
    """A grilly.snn ``LIF``/``IF`` layer as a NIR-integrable node at step ``DEFAULT_DT``."""
    kind = type(m).__name__
    if kind not in ("LIF", "IF"):
        raise NotImplementedError(f"cannot export grilly.snn.{kind} to NIR (LIF, IF and the layers built on them)")
    if m.v_reset is None:
        raise NotImplementedError("NIR has no soft (subtractive) reset; use v_reset=<value> to export")
    if np.isinf(m.tau):  # no leak: integrate-and-fire, the input added once per step
        return IF(_param(1.0 / DEFAULT_DT), _param(m.v_th), _param(m.v_reset), fire_at_equal=m.fire_at_equal)
    return LIF.from_grilly((), tau=m.tau, dt=m.dt, v_th=m.v_th, v_reset=m.v_reset, decay_input=m.decay_input,
                           fire_at_equal=m.fire_at_equal)


def _expand(m, name):
    """(nodes, edges, entry, exit) of one layer; grilly.snn blocks become a synapse node and a neuron node."""
    kind = type(m).__name__
    if _is_snn(m) and kind in ("SpikingLinear", "SpikingConv2d"):
        syn = Affine(m.weight, m.bias) if kind == "SpikingLinear" else Conv(
            m.weight, m.bias, stride=tuple(m.stride), padding=_pairs(m.padding, 2), dilation=(1, 1))
        a, b = name + "_syn", name + "_lif"
        return {a: syn, b: _snn_neuron(m.neuron)}, [(a, b)], a, b
    if _is_snn(m) and kind == "RecurrentLIF":
        w_in, lif, w_rec = name + "_in", name + "_lif", name + "_rec"
        nodes = {w_in: Affine(m.w_in, m.bias), lif: _snn_neuron(m.neuron), w_rec: Affine(m.w_rec, None)}
        return nodes, [(w_in, lif), (lif, w_rec), (w_rec, lif)], w_in, lif
    return {name: _from_nn(m)}, [], name, name


def _from_nn(m):
    """One layer as a NIR-graph node (grilly.nn and grilly.snn are recognized by structure, not imported)."""
    kind = type(m).__name__
    if _is_snn(m):
        return _snn_neuron(m)
    if kind == "Linear" and hasattr(m, "weight"):
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


