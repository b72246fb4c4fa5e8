"""Sensitive volume-time tabulated on a grid in the two source masses.

File format (``.npz``): ``mass_1_source`` (n1,) and ``mass_2_source`` (n2,),
increasing, and ``vt`` of shape ``(n1, n2)`` in Gpc^3 yr (or ``log_vt``). VT is
interpolated bilinearly; outside the grid it is zero.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import PRIMARY_MASS, SECONDARY_MASS
from .base import SelectionEstimator
from .weighted import from_weight_function

__all__ = ["vt_grid", "grid_log_vt"]


def grid_log_vt(m1_grid, m2_grid, vt):
    """``ln VT(theta, names)`` by bilinear interpolation of ``vt`` on ``(m1_grid, m2_grid)``."""
    from scipy.interpolate import RegularGridInterpolator

    m1_grid, m2_grid = np.asarray(m1_grid, float), np.asarray(m2_grid, float)
    vt = np.asarray(vt, float)
    if vt.shape != (m1_grid.size, m2_grid.size):
        raise ValueError(
            f"vt_grid: vt has shape {vt.shape}, expected ({m1_grid.size}, {m2_grid.size})."
        )
    for name, grid in ((PRIMARY_MASS, m1_grid), (SECONDARY_MASS, m2_grid)):
        if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
            raise ValueError(f"vt_grid: the {name} grid must be 1-d and strictly increasing.")
    if np.any(vt < 0) or not np.all(np.isfinite(vt)):
        raise ValueError("vt_grid: vt must be finite and non-negative.")
    interpolator = RegularGridInterpolator(
        (m1_grid, m2_grid), vt, method="linear", bounds_error=False, fill_value=0.0
    )

    def log_vt(theta, names):
        points = theta[:, [names.index(PRIMARY_MASS), names.index(SECONDARY_MASS)]]
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(interpolator(points), 0.0))

    return log_vt


def vt_grid(
    filename: str | os.PathLike,
    parameter_names: Sequence[str],
    *,
    time_scale: float = 1.0,
    num_samples: int = 100_000,
    mass_range: tuple[float, float] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    cosmology: Cosmology = PLANCK15,
    seed: int = 0,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """Selection from a tabulated VT (module docstring); draws span the grid by default."""
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise ValueError(f"vt_grid: file {path!r} does not exist.")
    with np.load(path) as data:
        content = {key: np.asarray(data[key]) for key in data.files}
    missing = [k for k in (PRIMARY_MASS, SECONDARY_MASS) if k not in content]
    if missing or ("vt" not in content and "log_vt" not in content):
        raise ValueError(
            f"vt_grid: {path!r} needs arrays {PRIMARY_MASS!r}, {SECONDARY_MASS!r} and "
            f"'vt' or 'log_vt'; it has {sorted(content)}."
        )
    vt = content["vt"] if "vt" in content else np.exp(content["log_vt"])
    log_vt = grid_log_vt(content[PRIMARY_MASS], content[SECONDARY_MASS], vt)
    if mass_range is None:
        mass_range = (float(content[SECONDARY_MASS][0]), float(content[PRIMARY_MASS][-1]))
    return from_weight_function(
        log_vt,
        parameter_names,
        kind="vt",
        time=time_scale,
        num_samples=num_samples,
        mass_range=mass_range,
        ranges=ranges,
        cosmology=cosmology,
        seed=seed,
        batch_size=batch_size,
        description=f"vt_grid({os.path.basename(path)})",
    )
