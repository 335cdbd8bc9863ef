"""NIR export/import: round trips through `nir` (and its HDF5 files), and models exchanged with snnTorch and
SpikingJelly running identically in grilly and in the other library."""

import numpy as np
import pytest

import grilly.numpy as gnp
from grilly import nir as gnir

nir = pytest.importorskip("nir")
pytest.importorskip("grilly.snn")
T, B = 16, 2


def _xs(rng, n):
    return rng.uniform(0, 1, size=(T, B, n)).astype(np.float32)


def _affine(rng, n_out, n_in, bias=True):
    w = gnp.asarray(rng.normal(size=(n_out, n_in)).astype(np.float32))
    return gnir.Affine(w, gnp.asarray(rng.normal(size=n_out).astype(np.float32) * 0.1) if bias else None)


def _mixed_net(rng):
    full = lambda n, v: gnp.full((n,), v)  # noqa: E731
    return gnir.chain(
        _affine(rng, 8, 5), gnir.LIF.from_beta(np.full(8, 0.8), v_threshold=np.ones(8)),
        _affine(rng, 6, 8, bias=False), gnir.IF(full(6, 1e4), full(6, 1.0), full(6, 0.0)),
        _affine(rng, 4, 6), gnir.CubaLIF(full(4, 2e-4), full(4, 4e-4), full(4, 4.0), full(4, 0.0), full(4, 0.5),
                                         full(4, 0.0), full(4, 2.0)),
        _affine(rng, 2, 4), gnir.LI(full(2, 3e-4), full(2, 1.0), full(2, 0.0)))


def test_round_trip_keeps_behaviour(rng, tmp_path):
    net = _mixed_net(rng)
    xs = _xs(rng, 5)
    ys, _ = net(xs)
    graph = gnir.to_nir(net, (5,), save_path=tmp_path / "net.nir")
    kinds = [type(graph.nodes[k]).__name__ for k in ("0", "1", "2", "3", "5", "7")]
    assert kinds == ["Affine", "LIF", "Linear", "IF", "CubaLIF", "LI"]
    assert graph.nodes["1"].tau.shape == (8,)
    path = tmp_path / "net.nir"
    for back in (gnir.from_nir(graph), gnir.from_nir(path), gnir.from_nir(nir.read(path))):
        ys2, _ = back(xs)
        np.testing.assert_array_equal(np.asarray(ys2), np.asarray(ys))
    assert np.abs(np.asarray(ys)).sum() > 0


def test_conv_round_trip(rng):
    w = gnp.asarray(rng.normal(size=(4, 2, 3, 3)).astype(np.float32))
    net = gnir.chain(gnir.Conv(w, gnp.zeros(4), stride=(2, 2), padding=((1, 1), (1, 1)), dilation=(1, 1)),
                     gnir.LIF.from_beta(np.full((4, 3, 3), 0.9), v_threshold=np.full((4, 3, 3), 0.5)),
                     gnir.Flatten(0, -1), _affine(rng, 3, 36))
    graph = gnir.to_nir(net, (2, 5, 5))
    assert isinstance(graph.nodes["0"], nir.Conv2d) and tuple(graph.nodes["0"].input_shape) == (5, 5)
    assert graph.nodes["1"].tau.shape == (4, 3, 3)
    xs = rng.normal(size=(4, B, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(gnir.from_nir(graph)(xs)[0]), np.asarray(net(xs)[0]))


def test_grilly_nn_sequential_exports(rng):
    nn = pytest.importorskip("grilly.nn")
    import grilly.random as gr

    model = [nn.Linear(5, 4, key=gr.PRNGKey(0)), gnir.LIF.from_beta(np.full(4, 0.7), v_threshold=np.ones(4) * 0.3)]
    graph = gnir.to_nir(model, (5,))
    assert isinstance(graph.nodes["0"], nir.Affine)
    np.testing.assert_array_equal(graph.nodes["0"].weight, np.asarray(model[0].weight))
    xs = _xs(rng, 5)
    ys, _ = gnir.from_nir(graph)(xs)
    ref, _ = gnir.chain(gnir.Affine(model[0].weight, model[0].bias), model[1])(xs)
    np.testing.assert_array_equal(np.asarray(ys), np.asarray(ref))


def test_unsupported_nodes_raise():
    with pytest.raises(NotImplementedError, match="Delay"):
        gnir.from_nir(nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "d": nir.Delay(np.ones(2)),
                                          "output": nir.Output(np.array([2]))},
                                   edges=[("input", "d"), ("d", "output")]))


# ---- snnTorch ------------------------------------------------------------------------------------------------


def _run_torch_stateful(module, xs):
    import torch

    state, outs = None, []
    with torch.no_grad():
        for x in xs:
            out, state = module(torch.from_numpy(x), state)
            outs.append(out.numpy())
    return np.stack(outs)


def test_grilly_model_runs_identically_in_snntorch(rng):
    pytest.importorskip("snntorch")
    import_nir = pytest.importorskip("snntorch.import_nir")
    net = gnir.chain(_affine(rng, 8, 5), gnir.LIF.from_beta(np.full(8, 0.8), v_threshold=np.ones(8)),
                     _affine(rng, 3, 8), gnir.LIF.from_beta(np.full(3, 0.9), v_threshold=np.ones(3)))
    xs = _xs(rng, 5)
    ys, _ = net(xs)
    theirs = _run_torch_stateful(import_nir.import_from_nir(gnir.to_nir(net, (5,))), xs)
    np.testing.assert_array_equal(theirs, np.asarray(ys))
    assert np.asarray(ys).sum() > 0


def test_snntorch_model_runs_identically_in_grilly(rng):
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch import utils as sutils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 8),
        snn.Leaky(beta=torch.full((8,), 0.8), threshold=torch.ones(8), init_hidden=True, reset_mechanism="zero",
                  reset_delay=False),
        torch.nn.Linear(8, 3),
        snn.Synaptic(alpha=torch.full((3,), 0.7), beta=torch.full((3,), 0.9), threshold=torch.ones(3),
                     init_hidden=True, reset_mechanism="zero", reset_delay=False))
    graph = export_to_nir(net, torch.zeros(5))
    xs = _xs(rng, 5)
    sutils.reset(net)
    with torch.no_grad():
        ref = np.stack([net(torch.from_numpy(x)).numpy() for x in xs])
    ys, _ = gnir.from_nir(graph)(xs)
    np.testing.assert_array_equal(np.asarray(ys), ref)
    assert ref.sum() > 0


# ---- SpikingJelly --------------------------------------------------------------------------------------------


def _sj_net():
    torch = pytest.importorskip("torch")
    pytest.importorskip("nirtorch")
    pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    from spikingjelly.activation_based import layer, neuron

    torch.manual_seed(0)
    return torch.nn.Sequential(layer.Linear(5, 8), neuron.LIFNode(tau=2.0), layer.Linear(8, 6), neuron.IFNode(),
                               layer.Linear(6, 3), neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75, v_threshold=0.5))


def test_spikingjelly_model_runs_identically_in_grilly(rng):
    import torch

    sj = _sj_net()
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    xs = _xs(rng, 5)
    functional.reset_net(sj)
    with torch.no_grad():
        ref = np.stack([sj(torch.from_numpy(x)).numpy() for x in xs])
    ys, _ = gnir.from_nir(export_to_nir(sj, torch.zeros(B, 5)), fire_at_equal=True)(xs)
    np.testing.assert_array_equal(np.asarray(ys), ref)
    assert ref.sum() > 0


def test_grilly_model_runs_identically_in_spikingjelly(rng):
    import torch

    sj = _sj_net()
    from spikingjelly.activation_based.nir_exchange import export_to_nir, import_from_nir

    ours = gnir.from_nir(export_to_nir(sj, torch.zeros(B, 5)), fire_at_equal=True)
    xs = _xs(rng, 5)
    ys, _ = ours(xs)
    theirs = _run_torch_stateful(import_from_nir(gnir.to_nir(ours, (5,))), xs)
    np.testing.assert_array_equal(theirs, np.asarray(ys))


# ---- grilly.snn modules ----------------------------------------------------------------------------------------


def _snn_model():
    nn = pytest.importorskip("grilly.nn")
    snn = pytest.importorskip("grilly.snn")
    import grilly.random as gr

    k = gr.split(gr.PRNGKey(3), 4)
    return nn.Sequential(snn.SpikingLinear(5, 8, key=k[0], tau=2.0, v_th=0.5),
                         snn.RecurrentLIF(8, 6, key=k[1], tau=4.0, v_th=0.5),
                         snn.SpikingLinear(6, 3, key=k[2], tau=2.0, v_th=0.3, decay_input=False),
                         snn.SpikingLinear(3, 2, key=k[3], neuron=snn.IF(v_th=0.2)))


def test_grilly_snn_model_round_trips(rng, tmp_path):
    model = _snn_model()
    xs = _xs(rng, 5) * 2
    want = np.asarray(model(gnp.asarray(xs)))
    graph = gnir.to_nir(model, (5,), save_path=tmp_path / "snn.nir")
    assert ("1_rec", "1_lif") in graph.edges and isinstance(graph.nodes["1_lif"], nir.LIF)
    assert isinstance(graph.nodes["3_lif"], nir.IF)
    ys, _ = gnir.from_nir(tmp_path / "snn.nir", fire_at_equal=True)(xs)  # grilly.snn fires at >=
    np.testing.assert_array_equal(np.asarray(ys), want)
    assert want.sum() > 0


def test_grilly_snn_model_runs_identically_in_spikingjelly(rng):
    pytest.importorskip("torch")
    pytest.importorskip("nirtorch")
    sj_nir = pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    snn = pytest.importorskip("grilly.snn")
    nn = pytest.importorskip("grilly.nn")
    import grilly.random as gr

    model = nn.Sequential(snn.SpikingLinear(5, 8, key=gr.PRNGKey(0), tau=2.0, v_th=0.5),
                          snn.SpikingLinear(8, 3, key=gr.PRNGKey(1), tau=2.0, v_th=0.3))
    xs = _xs(rng, 5) * 2
    want = np.asarray(model(gnp.asarray(xs)))
    theirs = _run_torch_stateful(sj_nir.import_from_nir(gnir.to_nir(model, (5,))), xs)
    np.testing.assert_array_equal(theirs, want)


def test_soft_reset_is_not_exportable():
    snn = pytest.importorskip("grilly.snn")
    with pytest.raises(NotImplementedError, match="soft"):
        gnir.to_nir([snn.LIF(v_reset=None)], (3,))


def test_grilly_snn_conv_round_trips(rng):
    snn = pytest.importorskip("grilly.snn")
    import grilly.random as gr

    layer = snn.SpikingConv2d(2, 3, 3, key=gr.PRNGKey(0), v_th=0.3)
    xs = rng.uniform(0, 1, size=(5, B, 2, 6, 6)).astype(np.float32)
    graph = gnir.to_nir([layer], (2, 6, 6))
    assert isinstance(graph.nodes["0_syn"], nir.Conv2d) and graph.nodes["0_lif"].tau.shape == (3, 6, 6)
    ys, _ = gnir.from_nir(graph, fire_at_equal=True)(xs)
    want = np.asarray(layer(gnp.asarray(xs)))
    np.testing.assert_array_equal(np.asarray(ys), want)
    assert want.sum() > 0
