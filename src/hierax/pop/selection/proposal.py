"""Fixed reference draws ``theta_j ~ q`` for the detector- and VT-based estimators.

The reference density ``q`` over the population's columns is a product:

- masses: ``m1`` log-uniform on ``[m_low, m_high]`` and ``m2 | m1`` uniform on
  ``[m_low, m1]``, so ``q(m1, m2) = 1 / (m1 ln(m_high / m_low) (m1 - m_low))``;
- every other column uniform on its range (spin magnitudes ``[0, 1]``, cosines
  of tilts ``[-1, 1]``, eccentricity ``[0, 1]``, overridable);
- redshift, when present: ``q(z) ∝ dV_C/dz / (1 + z)`` on ``[0, z_max]``, the
  distribution of sources uniform in comoving volume and source-frame time.

Draws come from a NumPy generator with a fixed seed, in float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import (
    COS_TILTS,
    ECCENTRICITY,
    PRIMARY_MASS,
    REDSHIFT,
    SECONDARY_MASS,
    SPIN_MAGNITUDES,
)

__all__ = ["draw_reference", "redshift_volume_table"]

_DEFAULT_RANGES = {
    **{name: (0.0, 1.0) for name in SPIN_MAGNITUDES},
    **{name: (-1.0, 1.0) for name in COS_TILTS},
    ECCENTRICITY: (0.0, 1.0),
}


def draw_reference(
    rng: np.random.Generator,
    num: int,
    parameter_names: Sequence[str],
    *,
    mass_range: tuple[float, float] = (2.0, 200.0),
    ranges: Mapping[str, tuple[float, float]] | None = None,
    z_max: float = 3.0,
    cosmology: Cosmology = PLANCK15,
) -> tuple[np.ndarray, np.ndarray]:
    """``num`` draws from ``q`` in the columns ``parameter_names``.

    Returns:
        ``(theta (num, d), log_q (num,))``, float64.
    """
    names = tuple(parameter_names)
    if PRIMARY_MASS not in names or SECONDARY_MASS not in names:
        raise ValueError(
            f"selection draws: parameter_names must include {PRIMARY_MASS!r} and "
            f"{SECONDARY_MASS!r}, got {names!r}."
        )
    low, high = (float(v) for v in mass_range)
    if not 0 < low < high:
        raise ValueError(
            f"selection draws: mass_range must satisfy 0 < low < high, got {mass_range}."
        )
    ranges = {**_DEFAULT_RANGES, **dict(ranges or {})}
    theta = np.empty((num, len(names)))
    m1 = low * np.exp(rng.uniform(size=num) * np.log(high / low))
    m2 = low + rng.uniform(size=num) * (m1 - low)
    log_q = -np.log(m1) - np.log(np.log(high / low)) - np.log(m1 - low)
    theta[:, names.index(PRIMARY_MASS)] = m1
    theta[:, names.index(SECONDARY_MASS)] = m2
    for column, name in enumerate(names):
        if name in (PRIMARY_MASS, SECONDARY_MASS):
            continue
        if name == REDSHIFT:
            z, log_qz = draw_redshift(rng, num, z_max, cosmology)
            theta[:, column] = z
            log_q = log_q + log_qz
            continue
        if name not in ranges:
            raise ValueError(
                f"selection draws: no range known for column {name!r}; pass it in "
                f"`ranges` (known: {sorted(ranges)})."
            )
        lo, hi = (float(v) for v in ranges[name])
        theta[:, column] = rng.uniform(lo, hi, size=num)
        log_q = log_q - np.log(hi - lo)
    return theta, log_q


def redshift_volume_table(z_max: float, cosmology: Cosmology = PLANCK15, size: int = 4001):
    """``(z, dV_C/dz / (1 + z), cumulative integral)`` on a grid over ``[0, z_max]`` (Gpc^3)."""
    if not 0 < z_max <= cosmology.z_max:
        raise ValueError(f"selection draws: z_max must lie in (0, {cosmology.z_max}], got {z_max}.")
    grid = np.linspace(0.0, z_max, size)
    density = np.asarray(cosmology.differential_comoving_volume(grid), dtype=np.float64)
    density = density / (1 + grid)
    steps = 0.5 * (density[1:] + density[:-1]) * np.diff(grid)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    return grid, density, cumulative


def draw_redshift(rng, num, z_max, cosmology=PLANCK15):
    """``z ~ q(z) ∝ dV_C/dz / (1 + z)`` on ``[0, z_max]``; returns ``(z, ln q(z))``."""
    grid, density, cumulative = redshift_volume_table(z_max, cosmology)
    total = cumulative[-1]
    z = np.interp(rng.uniform(size=num) * total, cumulative, grid)
    # The CDF is piecewise linear, so q is constant on each grid cell.
    cell = np.clip(np.searchsorted(grid, z, side="right") - 1, 0, grid.size - 2)
    cell_density = np.diff(cumulative) / np.diff(grid)
    log_qz = np.log(cell_density[cell]) - np.log(total)
    return z, log_qz
