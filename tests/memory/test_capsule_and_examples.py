"""CapsuleTransformer structure and gradients, and the two examples' claims (recall above chance, less forgetting
with EWC)."""

import importlib.util
import pathlib

import numpy as np

import grilly
import grilly.numpy as gnp
from grilly.compat.learning import CapsuleTransformer as Exported
from grilly.memory.capsule import CapsuleConfig, CapsuleTransformer
from grilly.test_util import check_grads

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_model():
    return CapsuleTransformer(CapsuleConfig(vocab_size=6, d_model=8, n_heads=2, d_ff=16, d_capsule=8,
                                            memory_slots=4, n_time=4, place_grid=2))


def test_capsule_memory_writes_successor_capsules_in_ring_order():
    assert Exported is CapsuleTransformer
    model = small_model()
    logits, mem = model(gnp.asarray([[0, 1, 2], [3, 4, 5]]))
    assert logits.shape == (2, 3, 6) and mem.pointer == 2 and mem.clock == 3
    np.testing.assert_array_equal(np.asarray(mem.valid), [[1, 1, 0, 0], [1, 1, 0, 0]])
    _, mem = model(gnp.asarray([[1, 2, 3, 4], [0, 0, 0, 0]]), mem)  # 3 more capsules: wraps, evicting slot 0
    assert mem.pointer == 1 and mem.clock == 7 and float(mem.valid.sum()) == 8
    _, same = model(gnp.asarray([[5], [5]]), mem, write=False)
    assert same.pointer == mem.pointer and same.clock == 8
    np.testing.assert_array_equal(np.asarray(same.keys), np.asarray(mem.keys))


def test_capsule_reads_depend_on_memory_and_place():
    model = small_model()
    _, mem = model(gnp.asarray([[0, 1, 2, 3]]), place=[[0.1, 0.1]])
    q = gnp.asarray([[0]])
    with_memory, _ = model(q, mem, place=[[0.1, 0.1]], write=False)
    elsewhere, _ = model(q, mem, place=[[0.9, 0.9]], write=False)
    fresh, _ = model(q, model.init_memory(1), place=[[0.1, 0.1]], write=False)
    assert not np.allclose(np.asarray(with_memory), np.asarray(fresh))
    assert not np.allclose(np.asarray(with_memory), np.asarray(elsewhere))


def test_capsule_gradients_flow_through_the_memory():
    model = small_model()

    def loss(m):
        _, mem = m(gnp.asarray([[0, 1, 2]]))
        logits, _ = m(gnp.asarray([[0]]), mem, write=False)
        return gnp.sum(logits ** 2)

    grads = grilly.grad(loss)(model)
    assert isinstance(grads, CapsuleTransformer)
    for name in ("cap_key", "cap_value", "place", "time_key", "embed"):
        assert float(gnp.sum(gnp.abs(grads.params[name]))) > 0, name
    assert float(gnp.sum(gnp.abs(grads.params["layers"][0]["mem_q"]))) > 0


def test_capsule_gradient_matches_finite_differences(x64):
    model = CapsuleTransformer({"vocab_size": 5, "d_model": 4, "n_heads": 2, "d_ff": 8, "d_capsule": 4,
                                "memory_slots": 3, "n_time": 3, "place_grid": 2})
    assert model.config.d_model == 4  # a dict config works, as in the classic API

    def loss(cap_key, mem_q):
        params = dict(model.params, cap_key=cap_key)
        params["layers"] = [dict(params["layers"][0], mem_q=mem_q)]
        m = CapsuleTransformer(model.config, params)
        _, mem = m(gnp.asarray([[0, 1, 2]]), place=[[0.2, 0.7]])
        logits, _ = m(gnp.asarray([[1]]), mem, place=[[0.2, 0.7]], write=False)
        return gnp.sum(gnp.tanh(logits))

    args = (np.asarray(model.params["cap_key"]), np.asarray(model.params["layers"][0]["mem_q"]))
    check_grads(loss, args, order=1, modes=("rev",))


def test_capsule_recall_trains_above_chance():
    result = load_example("capsule_recall").train(steps=30, lr=1e-2, batch=16, test_size=128, verbose=False)
    assert result["accuracy"] > 2 * result["chance"]
    assert result["accuracy"] > result["accuracy_before"] + 0.3


def test_ewc_forgets_less_than_fine_tuning():
    out = load_example("ewc_continual").run(steps=80, lr=0.03, verbose=False)
    assert out["a_after_a"] > 0.9
    forgetting_plain = out["a_after_a"] - out["finetune"][0]
    forgetting_ewc = out["a_after_a"] - out["ewc"][0]
    assert forgetting_ewc < forgetting_plain - 0.05
    assert out["ewc"][1] > 0.6  # and still learns task B
