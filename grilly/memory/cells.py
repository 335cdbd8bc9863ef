"""Place, grid and time cells: population codes for position and elapsed time, as array encoders.

Place cell ``i`` with centre ``c_i`` and width ``sigma`` (a Gaussian field):

    r_i(x) = exp(-||x - c_i||^2 / (2 sigma^2))

Grid cell of a module with spacing ``lam``, orientation ``theta`` and spatial phase ``phi`` (three plane waves at
60 degrees, rescaled to [0, 1]; Solstad et al., 2006):

    k_j = (4 pi / (sqrt(3) lam)) (cos(theta + j pi/3), sin(theta + j pi/3)),   j = 0, 1, 2
    g(x) = (2/3) ((1/3) sum_j cos(<k_j, x - phi>) + 1/2)

Time cell ``i`` with preferred time ``tau_i`` (log-spaced between ``t_min`` and ``t_max``) has Gaussian tuning in
log time, so its field widens in proportion to ``tau_i`` (scale invariance, as recorded in hippocampal time cells):

    r_i(t) = exp(-(log t - log tau_i)^2 / (2 sigma^2))
"""

from __future__ import annotations

import math

import numpy as np

import grilly.numpy as gnp
from grilly.core.array import Array


def place_cells(position, centers, sigma: float) -> Array:
    """Gaussian place-field rates for positions (..., D) and centres (N, D): shape (..., N).

    >>> import grilly.numpy as gnp
    >>> place_cells(gnp.asarray([0.0, 0.0]), gnp.asarray([[0.0, 0.0], [1.0, 0.0]]), sigma=1.0).tolist()
    [1.0, 0.6065306663513184]
    """
    position, centers = gnp.asarray(position), gnp.asarray(centers)
    sq = gnp.sum(gnp.square(position[..., None, :] - centers), axis=-1)
    return gnp.exp(-sq / (2.0 * sigma * sigma))


def place_cell_centers(n_per_side: int, extent: float = 1.0) -> np.ndarray:
    """Centres on a regular ``n x n`` lattice covering ``[0, extent]^2``, shape (n*n, 2).

    >>> place_cell_centers(2).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    """
    axis = np.linspace(0.0, extent, n_per_side, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def grid_wave_vectors(spacing: float, orientation: float) -> np.ndarray:
    """The three wave vectors ``k_j`` (3, 2) of a grid module."""
    norm = 4.0 * math.pi / (math.sqrt(3.0) * spacing)
    angles = orientation + np.arange(3) * math.pi / 3.0
    return (norm * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_cells(position, spacings, orientations, phases) -> Array:
    """Hexagonal grid-cell rates in [0, 1] for positions (..., 2).

    ``spacings`` and ``orientations`` (M,) describe M modules; ``phases`` (P, 2) are the spatial offsets of the
    P cells of each module. Output (..., M * P), module-major.

    >>> import grilly.numpy as gnp
    >>> r = grid_cells(gnp.asarray([0.0, 0.0]), [1.0], [0.0], [[0.0, 0.0]])
    >>> [round(v, 4) for v in r.tolist()]
    [1.0]
    """
    position = gnp.asarray(position)
    phases = np.asarray(phases, np.float32).reshape(-1, 2)
    k = np.stack([grid_wave_vectors(s, o) for s, o in zip(np.ravel(spacings), np.ravel(orientations))])  # (M,3,2)
    # <k_j, x - phi_p> = <k_j, x> - <k_j, phi_p>
    kx = gnp.einsum("...d,mjd->...mj", position, gnp.asarray(k))
    kphi = gnp.asarray(np.einsum("pd,mjd->mpj", phases, k))  # (M, P, 3)
    waves = gnp.cos(kx[..., :, None, :] - kphi)  # (..., M, P, 3)
    rates = (2.0 / 3.0) * (gnp.mean(waves, axis=-1) + 0.5)
    return gnp.reshape(rates, (*position.shape[:-1], -1))


def time_cell_centers(n_cells: int, t_min: float, t_max: float) -> np.ndarray:
    """Preferred times ``tau_i``, log-spaced from ``t_min`` to ``t_max``.

    >>> time_cell_centers(3, 1.0, 100.0).tolist()
    [1.0, 10.0, 100.0]
    """
    return np.geomspace(t_min, t_max, n_cells).astype(np.float32)


def time_cells(t, n_cells: int, t_min: float = 1.0, t_max: float = 100.0, sigma: float | None = None) -> Array:
    """Log-time Gaussian tuning of ``n_cells`` time cells for elapsed times ``t`` (...,) > 0: shape (..., n_cells).

    ``sigma`` (in log units) defaults to the spacing of the log-spaced centres, so neighbouring fields overlap.

    >>> import grilly.numpy as gnp
    >>> [round(v, 4) for v in time_cells(gnp.asarray(10.0), 3, 1.0, 100.0).tolist()]
    [0.6065, 1.0, 0.6065]
    """
    if sigma is None:
        sigma = math.log(t_max / t_min) / max(n_cells - 1, 1)
    t = gnp.asarray(t)
    t = t if t.dtype.kind == "f" else t.astype(gnp.float32)
    log_tau = gnp.asarray(np.log(time_cell_centers(n_cells, t_min, t_max)))
    # Times below the smallest representable float would give log(0); clamp them.
    diff = gnp.log(gnp.maximum(t, 1e-30))[..., None] - log_tau
    return gnp.exp(-gnp.square(diff) / (2.0 * sigma * sigma))


class PlaceCells:
    """A population of place cells with fixed centres (a lattice by default).

    >>> import grilly.numpy as gnp
    >>> cells = PlaceCells(n_per_side=3, extent=1.0, sigma=0.25)
    >>> cells(gnp.asarray([[0.5, 0.5]])).shape
    (1, 9)
    """

    def __init__(self, n_per_side: int = 8, extent: float = 1.0, sigma: float | None = None, centers=None):
        self.centers = np.asarray(centers, np.float32) if centers is not None else place_cell_centers(
            n_per_side, extent)
        self.sigma = sigma if sigma is not None else extent / max(n_per_side - 1, 1)

    @property
    def n_cells(self) -> int:
        return self.centers.shape[0]

    def __call__(self, position) -> Array:
        return place_cells(position, self.centers, self.sigma)


class GridCells:
    """Grid-cell modules with geometrically growing spacing and rotated orientations.

    Module m has spacing ``base_spacing * ratio**m`` and orientation ``m * 15 degrees``; each module has
    ``n_phases**2`` cells whose phases tile one unit rhombus of its lattice.

    >>> import grilly.numpy as gnp
    >>> GridCells(n_modules=3, n_phases=2)(gnp.asarray([0.3, 0.7])).shape
    (12,)
    """

    def __init__(self, n_modules: int = 4, n_phases: int = 3, base_spacing: float = 0.3, ratio: float = 1.42):
        self.spacings = [base_spacing * ratio ** m for m in range(n_modules)]
        self.orientations = [m * math.pi / 12.0 for m in range(n_modules)]
        self.n_phases = n_phases
        u = (np.arange(n_phases) / n_phases).astype(np.float32)
        a, b = np.meshgrid(u, u)
        self._unit_phases = np.stack([a.ravel() + 0.5 * b.ravel(), b.ravel() * math.sqrt(3) / 2], axis=1)

    @property
    def n_cells(self) -> int:
        return len(self.spacings) * self.n_phases ** 2

    def __call__(self, position) -> Array:
        outs = [grid_cells(position, [s], [o], self._unit_phases * s)
                for s, o in zip(self.spacings, self.orientations)]
        return gnp.concatenate(outs, axis=-1)


class TimeCells:
    """``n_cells`` time cells with log-spaced preferred times in ``[t_min, t_max]``.

    >>> import grilly.numpy as gnp
    >>> TimeCells(8, 1.0, 64.0)(gnp.arange(1.0, 5.0)).shape
    (4, 8)
    """

    def __init__(self, n_cells: int = 16, t_min: float = 1.0, t_max: float = 100.0, sigma: float | None = None):
        self.n_cells, self.t_min, self.t_max, self.sigma = n_cells, t_min, t_max, sigma

    def __call__(self, t) -> Array:
        return time_cells(t, self.n_cells, self.t_min, self.t_max, self.sigma)
