"""EWC, NLMS, whitening and natural gradient against their formulas, and the classic Learning facade."""

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly.compat.learning import Learning, VulkanLearning
from grilly.learning import (
    EWCState,
    conjugate_gradient,
    covariance,
    empirical_fisher,
    ewc_penalty,
    fisher_diagonal,
    fisher_from_gradients,
    natural_gradient,
    nlms_filter,
    nlms_update,
    symmetric_eigh,
    whiten,
    whitening_matrix,
)
from grilly.test_util import check_grads


def test_ewc_penalty_formula_on_pytrees(rng):
    p = {"w": rng.normal(size=(3, 2)).astype(np.float32), "b": rng.normal(size=2).astype(np.float32)}
    a = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in p.items()}
    f = {k: rng.uniform(size=v.shape).astype(np.float32) for k, v in p.items()}
    want = 0.5 * 3.0 * sum((f[k] * (p[k] - a[k]) ** 2).sum() for k in p)
    got = ewc_penalty(grilly.tree.map(gnp.asarray, p), a, f, strength=3.0)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_ewc_penalty_gradient(x64, rng):
    a, f = rng.normal(size=4), rng.uniform(size=4)
    check_grads(lambda p: ewc_penalty(p, a, f, 2.0), (rng.normal(size=4),), order=2)
    g = grilly.grad(lambda p: ewc_penalty(p, a, f, 2.0))(gnp.asarray(np.zeros(4)))
    np.testing.assert_allclose(g, 2.0 * f * (0 - a), rtol=1e-10)


def test_fisher_diagonal_equals_mean_squared_per_example_gradients(rng):
    w = rng.normal(size=3).astype(np.float32)
    xs, ys = rng.normal(size=(7, 3)).astype(np.float32), rng.normal(size=7).astype(np.float32)

    def loss(params, x, y):
        return 0.5 * (gnp.tanh(gnp.sum(params * x)) - y) ** 2

    grads = [np.asarray(grilly.grad(loss)(gnp.asarray(w), x, y)) for x, y in zip(xs, ys)]
    want = np.mean(np.square(grads), axis=0)
    np.testing.assert_allclose(fisher_diagonal(loss, gnp.asarray(w), xs, ys), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fisher_diagonal(loss, gnp.asarray(w), xs, ys, batch_size=3), want, rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(fisher_from_gradients([gnp.asarray(g) for g in grads]), want, rtol=1e-5, atol=1e-7)


def test_ewc_state_sums_tasks_and_online_merges():
    p1, p2 = gnp.asarray([1.0, 0.0]), gnp.asarray([0.0, 2.0])
    f1, f2 = gnp.asarray([1.0, 2.0]), gnp.asarray([3.0, 1.0])
    theta = gnp.asarray([0.5, 0.5])
    multi = EWCState(strength=2.0).consolidate(p1, f1).consolidate(p2, f2)
    want = float(ewc_penalty(theta, p1, f1, 2.0) + ewc_penalty(theta, p2, f2, 2.0))
    assert abs(float(multi.penalty(theta)) - want) < 1e-6
    online = EWCState(strength=2.0, online=True, gamma=0.5).consolidate(p1, f1).consolidate(p2, f2)
    assert len(online.tasks) == 1
    merged = gnp.asarray([0.5 * 1.0 + 3.0, 0.5 * 2.0 + 1.0])
    assert abs(float(online.penalty(theta)) - float(ewc_penalty(theta, p2, merged, 2.0))) < 1e-6
    assert float(EWCState().penalty(theta)) == 0.0


def test_nlms_update_formula(rng):
    w, x = rng.normal(size=5).astype(np.float32), rng.normal(size=5).astype(np.float32)
    e = 0.7
    want = w + 0.3 * e * x / (1e-3 + x @ x)
    np.testing.assert_allclose(nlms_update(w, x, e, 0.3, 1e-3), want, rtol=1e-6)
    W, es = rng.normal(size=(2, 5)).astype(np.float32), np.array([0.5, -1.0], np.float32)
    np.testing.assert_allclose(nlms_update(W, x, es, 0.3, 1e-3), W + 0.3 * es[:, None] * x / (1e-3 + x @ x),
                               rtol=1e-6)


def test_nlms_identifies_a_linear_system(rng):
    true_w = rng.normal(size=4).astype(np.float32)
    xs = rng.normal(size=(200, 4)).astype(np.float32)
    w, ys, es = nlms_filter(gnp.zeros(4), xs, xs @ true_w, step_size=0.5)
    np.testing.assert_allclose(w, true_w, atol=1e-3)
    np.testing.assert_allclose(np.asarray(ys) + np.asarray(es), xs @ true_w, rtol=1e-5, atol=1e-5)
    assert abs(float(es[-1])) < 1e-3 < abs(float(es[0]))


@pytest.mark.parametrize("d", [1, 4, 7])
def test_symmetric_eigh_matches_numpy(rng, d):
    a = rng.normal(size=(d, d))
    a = (a + a.T).astype(np.float32)
    w, v = symmetric_eigh(a)
    w0 = np.linalg.eigh(a.astype(np.float64))[0]
    np.testing.assert_allclose(w, w0, atol=1e-4)
    v = np.asarray(v)
    np.testing.assert_allclose(v.T @ v, np.eye(d), atol=1e-5)
    np.testing.assert_allclose(a @ v, v * np.asarray(w)[None], atol=1e-4)


def test_whitening_formulas(rng):
    x = (rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4)) + 2.0).astype(np.float32)
    eps = 1e-3
    mu = x.mean(0)
    c = (x - mu).T @ (x - mu) / len(x)
    lam, u = np.linalg.eigh(c.astype(np.float64))
    zca = u @ np.diag(1 / np.sqrt(lam + eps)) @ u.T
    got_mu, got_c = covariance(x)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_c, c, rtol=1e-4, atol=1e-4)
    W, _ = whitening_matrix(x, "zca", eps)
    np.testing.assert_allclose(W, zca, rtol=1e-3, atol=1e-3)
    Wp, _ = whitening_matrix(x, "pca", eps)
    pca = np.diag(1 / np.sqrt(lam + eps)) @ u.T
    np.testing.assert_allclose(np.abs(np.asarray(Wp)), np.abs(pca), rtol=1e-3, atol=1e-3)  # rows up to sign
    shrink = np.diag(lam / (lam + eps))  # eps shrinks the variance of the weakest directions
    for method, cov in (("zca", u @ shrink @ u.T), ("pca", shrink)):
        xw = np.asarray(whiten(x, method, eps))
        np.testing.assert_allclose(np.cov(xw.T, bias=True), cov, atol=2e-3)
    with pytest.raises(ValueError):
        whitening_matrix(x, "cholesky")


def test_whitening_gradient(x64, rng):
    x = rng.normal(size=(12, 3)) * np.array([1.0, 2.0, 0.5])
    check_grads(lambda a: whiten(a, "zca", 1e-2, sweeps=6), (x,), order=1, modes=("rev",), atol=1e-4, rtol=1e-4)


def test_natural_gradient_diagonal_and_full(rng):
    g = rng.normal(size=5).astype(np.float32)
    f = rng.uniform(size=5).astype(np.float32)
    np.testing.assert_allclose(natural_gradient(g, f, damping=0.1), g / (f + 0.1), rtol=1e-6)
    tree_g = {"a": gnp.asarray(g), "b": gnp.asarray(g[:2])}
    out = natural_gradient(tree_g, {"a": f, "b": f[:2]}, damping=0.1)
    np.testing.assert_allclose(out["b"], g[:2] / (f[:2] + 0.1), rtol=1e-6)
    G = rng.normal(size=(20, 5)).astype(np.float32)
    F = np.asarray(empirical_fisher(G))
    np.testing.assert_allclose(F, G.T @ G / 20, rtol=1e-5, atol=1e-6)
    want = np.linalg.solve(F.astype(np.float64) + 0.1 * np.eye(5), g)
    np.testing.assert_allclose(natural_gradient(g, F, damping=0.1), want, rtol=1e-3, atol=1e-4)
    Fj = gnp.asarray(F)
    np.testing.assert_allclose(natural_gradient(g, lambda v: Fj @ v, damping=0.1, iters=10), want, rtol=1e-3,
                               atol=1e-4)


def test_conjugate_gradient_is_stable_after_convergence():
    a = gnp.asarray(np.diag([1.0, 4.0]).astype(np.float32))
    x = conjugate_gradient(lambda v: a @ v, gnp.asarray([1.0, 1.0]), iters=6)  # converges in 2 steps
    np.testing.assert_allclose(x, [1.0, 0.25], rtol=1e-6)
    assert np.asarray(conjugate_gradient(lambda v: a @ v, gnp.zeros(2))).tolist() == [0.0, 0.0]


def test_classic_learning_facade(rng):
    learning = Learning()
    assert VulkanLearning is Learning
    params, anchor, fisher = (rng.normal(size=6).astype(np.float32) for _ in range(3))
    fisher = np.abs(fisher)
    with pytest.raises(ValueError):
        learning.ewc_penalty(params, fisher, 1.0)
    want = 0.5 * 4.0 * (fisher * (params - anchor) ** 2).sum()
    out = learning.ewc_penalty(params, fisher, 4.0, optimal_params=anchor)
    assert isinstance(out, np.ndarray) and abs(float(out) - want) < 1e-4
    learning.consolidate(anchor)
    assert abs(float(learning.ewc_penalty(params, fisher, 4.0)) - want) < 1e-4
    w, x = rng.normal(size=3), rng.normal(size=3)
    np.testing.assert_allclose(learning.nlms_update(w, x, 0.5, 0.2), w + 0.2 * 0.5 * x / (1e-6 + x @ x), rtol=1e-5)
    data = rng.normal(size=(100, 3)) * np.array([1.0, 3.0, 0.3])
    white = learning.whitening(data, eps=1e-6)
    assert isinstance(white, np.ndarray)
    np.testing.assert_allclose(np.cov(white.T, bias=True), np.eye(3), atol=1e-3)
    g = rng.normal(size=4)
    np.testing.assert_allclose(learning.natural_gradient(g, np.ones(4), damping=1.0), g / 2, rtol=1e-6)
    np.testing.assert_allclose(learning.fisher_info([g, 2 * g]), 2.5 * g ** 2, rtol=1e-5)
