"""grilly.tree: pytree helpers in the "grilly" namespace, and registered nodes flowing through transforms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import tree


def test_flatten_unflatten_roundtrip_and_none():
    t = {"b": (1, None, [2, 3]), "a": 4}
    leaves, treedef = tree.flatten(t)
    assert leaves == [4, 1, 2, 3]  # dict keys sorted, None is an empty subtree
    assert tree.unflatten(treedef, leaves) == t
    assert tree.leaves(t) == leaves and tree.structure(t) == treedef


def test_map_multiple_trees_and_is_leaf():
    a, b = {"x": 1, "y": (2, 3)}, {"x": 10, "y": (20, 30)}
    assert tree.map(lambda u, v: u + v, a, b) == {"x": 11, "y": (22, 33)}
    assert tree.map(lambda v: len(v), {"p": (1, 2), "q": (3,)}, is_leaf=lambda v: isinstance(v, tuple)) == {
        "p": 2, "q": 1}
    with pytest.raises(ValueError):
        tree.map(lambda u, v: u, {"x": 1}, {"y": 1})


def test_paths_reduce_all():
    pairs, _ = tree.flatten_with_path({"a": [5, 6]})
    assert [p for p, _ in pairs] == [("a", 0), ("a", 1)]
    got = tree.map_with_path(lambda p, v: (p, v), {"k": 1})
    assert got == {"k": (("k",), 1)}
    assert tree.reduce(lambda acc, v: acc + v, (1, 2, 3)) == 6 and tree.reduce(lambda a, v: a * v, [2, 3], 1) == 6
    assert tree.all((True, [1, 2])) and not tree.all((True, 0))


class Point:
    def __init__(self, x, y, label):
        self.x, self.y, self.label = x, y, label


tree.register_node(Point, lambda p: ((p.x, p.y), p.label), lambda label, ch: Point(ch[0], ch[1], label))


@dataclass
class Linear:
    w: object
    b: object
    name: str = "lin"


tree.register_dataclass(Linear, ["w", "b"], ["name"])


def test_registered_node_through_grad_jit_vmap():
    p = Point(gnp.asarray(2.0), gnp.asarray(3.0), "pt")
    assert tree.leaves(p)[0] is p.x and tree.structure(p).num_leaves == 2
    g = grilly.grad(lambda q: q.x * q.y ** 2)(p)
    assert isinstance(g, Point) and g.label == "pt" and float(g.x) == 9.0 and float(g.y) == 12.0
    out = grilly.jit(lambda q: Point(q.x + 1, q.y * 2, q.label))(p)
    assert isinstance(out, Point) and float(out.x) == 3.0 and float(out.y) == 6.0 and out.label == "pt"
    batch = Point(gnp.arange(3.0), gnp.ones(3), "b")
    vm = grilly.vmap(lambda q: q.x + q.y)(batch)
    assert np.asarray(vm).tolist() == [1.0, 2.0, 3.0]


def test_registered_dataclass_static_fields():
    m = Linear(gnp.ones((2, 2)), gnp.zeros(2), name="layer")
    leaves, treedef = tree.flatten(m)
    assert len(leaves) == 2
    back = tree.unflatten(treedef, [leaf * 2 for leaf in leaves])
    assert isinstance(back, Linear) and back.name == "layer" and np.asarray(back.w).tolist() == [[2, 2], [2, 2]]
    g = grilly.grad(lambda mm, x: gnp.sum(x @ mm.w + mm.b))(m, gnp.ones((3, 2)))
    assert g.name == "layer" and np.asarray(g.w).tolist() == [[3, 3], [3, 3]] and np.asarray(g.b).tolist() == [3, 3]


def test_prefix_broadcast():
    assert tree.prefix_broadcast((0, None), ((1, 2), {"a": 3}), "in_axes") == [0, 0, None]
    with pytest.raises(ValueError, match="in_axes"):
        tree.prefix_broadcast((0, 1, 2), (1, 2), "in_axes")
