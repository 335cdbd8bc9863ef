"""Place, grid and time cells against their formulas and defining properties."""

import math

import numpy as np

import grilly
import grilly.numpy as gnp
from grilly.memory import (
    GridCells,
    PlaceCells,
    TimeCells,
    grid_cells,
    grid_wave_vectors,
    place_cell_centers,
    place_cells,
    time_cell_centers,
    time_cells,
)
from grilly.test_util import check_grads


def test_place_cells_formula(rng):
    pos = rng.uniform(size=(5, 2)).astype(np.float32)
    centers = place_cell_centers(3)
    want = np.exp(-((pos[:, None] - centers[None]) ** 2).sum(-1) / (2 * 0.3 ** 2))
    np.testing.assert_allclose(place_cells(pos, centers, 0.3), want, rtol=1e-5, atol=1e-7)
    cells = PlaceCells(n_per_side=3, extent=1.0, sigma=0.3)
    np.testing.assert_allclose(cells(pos), want, rtol=1e-5, atol=1e-7)
    assert cells.n_cells == 9 and np.asarray(cells(centers)).argmax(1).tolist() == list(range(9))


def np_grid(pos, spacing, orientation, phase):
    k = 4 * np.pi / (np.sqrt(3) * spacing) * np.array(
        [[np.cos(orientation + j * np.pi / 3), np.sin(orientation + j * np.pi / 3)] for j in range(3)])
    return (2 / 3) * (np.cos((pos - phase) @ k.T).mean(-1) + 0.5)


def test_grid_cells_formula(rng):
    pos = rng.uniform(-1, 1, size=(6, 2)).astype(np.float32)
    spacings, orientations = [0.4, 0.7], [0.1, 0.5]
    phases = rng.uniform(size=(3, 2)).astype(np.float32)
    got = np.asarray(grid_cells(pos, spacings, orientations, phases))
    want = np.concatenate([np.stack([np_grid(pos, s, o, p) for p in phases], 1)
                           for s, o in zip(spacings, orientations)], 1)
    assert got.shape == (6, 6)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert got.min() >= -1e-6 and got.max() <= 1 + 1e-6


def test_grid_cells_are_hexagonally_periodic(rng):
    """Rates repeat under the lattice vectors (length = spacing, 60 degrees apart) and peak at the phase."""
    spacing, theta = 0.5, 0.3
    pos = rng.uniform(size=(8, 2)).astype(np.float32)
    base = np.asarray(grid_cells(pos, [spacing], [theta], [[0.0, 0.0]]))
    for angle in (theta + math.pi / 6, theta + math.pi / 2):  # lattice directions, perpendicular to wave pairs
        shift = spacing * np.array([math.cos(angle), math.sin(angle)], np.float32)
        np.testing.assert_allclose(grid_cells(pos + shift, [spacing], [theta], [[0.0, 0.0]]), base, atol=1e-4)
    k = grid_wave_vectors(spacing, theta)
    assert np.allclose(np.linalg.norm(k, axis=1), 4 * math.pi / (math.sqrt(3) * spacing))
    cells = GridCells(n_modules=3, n_phases=2)
    assert np.asarray(cells(pos)).shape == (8, cells.n_cells) == (8, 12)


def test_time_cells_formula_and_log_spacing():
    t = np.array([0.5, 1.0, 3.0, 10.0, 40.0], np.float32)
    tau = time_cell_centers(5, 1.0, 81.0)
    np.testing.assert_allclose(tau, [1.0, 3.0, 9.0, 27.0, 81.0], rtol=1e-5)
    sigma = math.log(81.0) / 4
    want = np.exp(-(np.log(t)[:, None] - np.log(tau)[None]) ** 2 / (2 * sigma ** 2))
    np.testing.assert_allclose(time_cells(t, 5, 1.0, 81.0), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(TimeCells(5, 1.0, 81.0, sigma=0.2)(tau).max(1), 1.0, rtol=1e-5)
    # scale invariance: the response at t * c of a cell tuned to tau * c equals the response at t of tau's cell
    r = np.asarray(time_cells(np.array([2.0, 6.0], np.float32), 5, 1.0, 81.0))
    np.testing.assert_allclose(r[1, 1:], r[0, :-1], rtol=1e-4)


def test_cell_gradients(x64, rng):
    centers = place_cell_centers(2)
    check_grads(lambda p: place_cells(p, centers, 0.5), (rng.uniform(size=(3, 2)),), order=2)
    check_grads(lambda p: grid_cells(p, [0.4], [0.2], [[0.1, 0.0]]), (rng.uniform(size=(3, 2)),), order=1)
    check_grads(lambda t: time_cells(t, 4, 1.0, 8.0), (rng.uniform(1, 5, size=(3,)),), order=1)


def test_encoders_work_under_vmap_and_jit(rng):
    pos = gnp.asarray(rng.uniform(size=(4, 2)).astype(np.float32))
    centers = place_cell_centers(2)
    batched = grilly.vmap(lambda p: place_cells(p, centers, 0.5))(pos)
    np.testing.assert_allclose(batched, place_cells(pos, centers, 0.5), rtol=1e-6)
    jitted = grilly.jit(lambda t: time_cells(t, 6, 1.0, 32.0))(gnp.asarray([1.0, 7.0]))
    np.testing.assert_allclose(jitted, time_cells(np.array([1.0, 7.0], np.float32), 6, 1.0, 32.0), rtol=1e-6)
