"""Selection estimators built from a weight function evaluated once at fixed draws.

Two kinds of weight function of a row ``theta``:

- ``"pdet"``: ``ln p_det(theta)`` of parameters that include ``redshift``. For a
  population with redshift the draws carry ``z``; for one without, each draw
  gets ``z_j ~ q(z) ∝ dV_C/dz / (1 + z)`` and the weight becomes
  ``p_det dV_C/dz / (1 + z) / q(z_j)``, an unbiased estimate of ``VT / T``.
- ``"vt"``: ``ln VT(theta)`` in Gpc^3 yr of a population without redshift
  (the volume is already integrated); ``time`` then scales the VT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import REDSHIFT
from .base import SelectionEstimator
from .proposal import draw_redshift, draw_reference, redshift_volume_table

__all__ = ["from_weight_function"]


def from_weight_function(
    log_weight_fn: Callable[[np.ndarray, tuple[str, ...]], np.ndarray],
    parameter_names: Sequence[str],
    *,
    kind: str,
    time: float = 1.0,
    num_samples: int = 100_000,
    mass_range: tuple[float, float] = (2.0, 200.0),
    ranges: Mapping[str, tuple[float, float]] | None = None,
    z_max: float = 3.0,
    cosmology: Cosmology = PLANCK15,
    seed: int = 0,
    batch_size: int | None = None,
    description: str = "selection",
) -> SelectionEstimator:
    """Draw ``num_samples`` reference points, weight them once, keep the non-zero ones.

    Args:
        log_weight_fn: ``(theta (J, k) float64, names) -> (J,)`` ln weight.
        kind: ``"pdet"`` or ``"vt"`` (module docstring).
    """
    names = tuple(parameter_names)
    if kind not in ("pdet", "vt"):
        raise ValueError(f"{description}: kind must be 'pdet' or 'vt', got {kind!r}.")
    if kind == "vt" and REDSHIFT in names:
        raise ValueError(
            f"{description}: a VT already integrates over redshift; the population must not "
            f"have a {REDSHIFT!r} column (got {names!r}). Use a p_det estimator instead."
        )
    if int(num_samples) < 1:
        raise ValueError(f"{description}: num_samples must be >= 1, got {num_samples}.")
    rng = np.random.default_rng(seed)
    theta, log_q = draw_reference(
        rng,
        int(num_samples),
        names,
        mass_range=mass_range,
        ranges=ranges,
        z_max=z_max,
        cosmology=cosmology,
    )
    if kind == "pdet" and REDSHIFT not in names:
        z, log_qz = draw_redshift(rng, int(num_samples), z_max, cosmology)
        grid, density, _ = redshift_volume_table(z_max, cosmology)
        log_volume = np.log(np.interp(z, grid, density)) - log_qz
        log_weight = (
            _call(log_weight_fn, np.column_stack([theta, z]), names + (REDSHIFT,), description)
            + log_volume
        )
    else:
        log_weight = _call(log_weight_fn, theta, names, description)
    keep = log_weight > -np.inf
    if not np.any(keep):
        raise ValueError(f"{description}: every reference draw has zero weight.")
    return SelectionEstimator(
        theta=theta[keep],
        log_weight=log_weight[keep],
        log_draw_density=log_q[keep],
        total_draws=int(num_samples),
        time=time,
        parameter_names=names,
        batch_size=batch_size,
        description=description,
    )


def _call(fn, theta, names, description) -> np.ndarray:
    values = np.asarray(fn(theta, names), dtype=np.float64)
    if values.shape != (theta.shape[0],):
        raise ValueError(
            f"{description}: the weight function returned shape {values.shape}, expected "
            f"({theta.shape[0]},)."
        )
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError(f"{description}: the weight function returned NaN or +inf.")
    return values
