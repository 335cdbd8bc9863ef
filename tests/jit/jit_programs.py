"""Random programs for the jit tests: elementwise chains built from a seed, with their NumPy formulas."""

from __future__ import annotations

import numpy as np

import grilly.numpy as gnp

# (name, grilly op, numpy op): bounded on any input so chains stay finite
UNARY = [
    ("sin", gnp.sin, np.sin),
    ("cos", gnp.cos, np.cos),
    ("tanh", gnp.tanh, np.tanh),
    ("neg", lambda x: -x, np.negative),
    ("abs", gnp.abs, np.abs),
    ("sigmoid", lambda x: 1.0 / (1.0 + gnp.exp(-x)), lambda x: 1.0 / (1.0 + np.exp(-x))),
    ("softsign", lambda x: x / (1.0 + gnp.abs(x)), lambda x: x / (1.0 + np.abs(x))),
    ("sqrt1", lambda x: gnp.sqrt(x * x + 1.0), lambda x: np.sqrt(x * x + 1.0)),
    ("log1", lambda x: gnp.log(gnp.abs(x) + 1.0), lambda x: np.log(np.abs(x) + 1.0)),
    ("sq", lambda x: gnp.tanh(x) ** 2, lambda x: np.tanh(x) ** 2),
]
BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: gnp.tanh(a) * b, lambda a, b: np.tanh(a) * b),
    ("max", gnp.maximum, np.maximum),
    ("min", gnp.minimum, np.minimum),
]


def random_chain(seed: int, n_ops: int, n_inputs: int = 2):
    """A function of ``n_inputs`` arrays mixing unary and binary ops, and the same function in NumPy."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(n_ops):
        if rng.random() < 0.5:
            steps.append(("u", int(rng.integers(len(UNARY))), None, float(rng.uniform(-1, 1))))
        else:
            steps.append(("b", int(rng.integers(len(BINARY))), None, float(rng.uniform(-1, 1))))

    def make(U, B, scale):
        def f(*xs):
            vals = list(xs)
            for kind, k, _, c in steps:
                if kind == "u":
                    vals.append(U[k](vals[-1]))
                else:
                    other = vals[int(abs(c) * 997) % len(vals)]
                    vals.append(B[k](vals[-1], scale(other, c)))
            return vals[-1], vals[len(xs) + len(steps) // 2]

        return f

    f_grilly = make([u[1] for u in UNARY], [b[1] for b in BINARY], lambda v, c: v * c)
    f_numpy = make([u[2] for u in UNARY], [b[2] for b in BINARY], lambda v, c: v * np.float32(c))
    return f_grilly, f_numpy


def random_mixed(seed: int, n_ops: int):
    """A function of x (4, 6) and w (6, 6) mixing elementwise ops, reductions with broadcasting back, matmuls,
    transposes and reshapes; returns the grilly function and its NumPy twin."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 6, n_ops)
    picks = rng.integers(0, 1000, n_ops)

    def make(lib, mm):
        def f(x, w):
            outs = []
            for k, p in zip(kinds, picks):
                if k == 0:
                    x = lib.tanh(x) * 1.5 + 0.1
                elif k == 1:
                    x = x - lib.sum(x, axis=1, keepdims=True) / 6.0
                elif k == 2:
                    x = lib.tanh(mm(x, w))
                elif k == 3:
                    x = lib.maximum(x, lib.max(x, axis=0, keepdims=True) * 0.5)
                elif k == 4:
                    x = x.reshape(6, 4).T.reshape(4, 6) * (1.0 + (p % 7) / 10.0)
                else:
                    outs.append(lib.sum(x * x))
            return x, outs

        return f

    return make(gnp, lambda a, b: a @ b), make(np, lambda a, b: a @ b)
