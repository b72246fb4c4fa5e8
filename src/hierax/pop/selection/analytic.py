"""A semi-analytic single-detector model of gravitational-wave detectability.

The inspiral signal-to-noise ratio of a compact binary scales as

    rho(m1, m2, z, angles) = rho_th (Mc_det / Mc_ref)^(5/6) (d_H / d_L(z)) w,

with ``Mc_det = (1 + z) (m1 m2)^(3/5) / (m1 + m2)^(1/5)`` the detector-frame
chirp mass, ``d_H`` the horizon distance (luminosity distance in Mpc at which
an optimally located and oriented binary of chirp mass ``Mc_ref`` reaches the
threshold ``rho_th``), and ``w = Theta / 4`` in ``[0, 1]`` the single-detector
angular factor of Finn & Chernoff (1993, PRD 47, 2198),

    Theta = 2 sqrt(F+^2 (1 + cos^2 i)^2 + 4 Fx^2 cos^2 i),

for isotropic sky position, polarisation and inclination. A source is detected
when ``rho > rho_th``, so

    p_det(m1, m2, z) = P(w > (Mc_ref / Mc_det)^(5/6) d_L(z) / d_H).

The survival function ``P(w > x)`` is tabulated once by Monte Carlo over the
antenna patterns (fixed seed, 2 x 10^6 draws; its error is below 10^-3) and
interpolated linearly.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import PRIMARY_MASS, REDSHIFT, SECONDARY_MASS
from .base import SelectionEstimator
from .weighted import from_weight_function

__all__ = ["AnalyticDetector", "analytic_pdet", "angular_factor_survival"]

_TABLE_SIZE = 2001


@functools.lru_cache(maxsize=1)
def angular_factor_survival() -> tuple[np.ndarray, np.ndarray]:
    """``(x, P(w > x))`` on a uniform grid of ``x`` in ``[0, 1]`` (Finn & Chernoff 1993)."""
    rng = np.random.default_rng(19930401)
    num = 2_000_000
    cos_theta = rng.uniform(-1, 1, num)
    phi = rng.uniform(0, 2 * np.pi, num)
    psi = rng.uniform(0, 2 * np.pi, num)
    cos_i = rng.uniform(-1, 1, num)
    a = 0.5 * (1 + cos_theta**2) * np.cos(2 * phi)
    b = cos_theta * np.sin(2 * phi)
    f_plus = a * np.cos(2 * psi) - b * np.sin(2 * psi)
    f_cross = a * np.sin(2 * psi) + b * np.cos(2 * psi)
    theta = 2 * np.sqrt(f_plus**2 * (1 + cos_i**2) ** 2 + 4 * f_cross**2 * cos_i**2)
    w = np.sort(theta / 4)
    grid = np.linspace(0.0, 1.0, _TABLE_SIZE)
    survival = 1.0 - np.searchsorted(w, grid, side="right") / num
    survival[0], survival[-1] = 1.0, 0.0
    grid.setflags(write=False)
    survival.setflags(write=False)
    return grid, survival


@dataclasses.dataclass(frozen=True)
class AnalyticDetector:
    """Single-detector inspiral model with a threshold on the signal-to-noise ratio.

    Args:
        horizon_distance: ``d_H`` in Mpc for chirp mass ``reference_chirp_mass``.
        reference_chirp_mass: ``Mc_ref`` (detector frame, solar masses).
        snr_threshold: ``rho_th`` (8 by default).
        cosmology: converts redshift to luminosity distance.
    """

    horizon_distance: float = 1500.0
    reference_chirp_mass: float = 10.0
    snr_threshold: float = 8.0
    cosmology: Cosmology = PLANCK15

    def __post_init__(self):
        for name in ("horizon_distance", "reference_chirp_mass", "snr_threshold"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(
                    f"AnalyticDetector: {name} must be > 0, got {getattr(self, name)}."
                )

    def required_fraction(self, m1, m2, z):
        """``(Mc_ref / Mc_det)^(5/6) d_L / d_H``: the smallest ``w`` that is detected
        (computed in NumPy when all three are NumPy arrays, else in JAX)."""
        xp = np if all(isinstance(a, np.ndarray) for a in (m1, m2, z)) else jnp
        m1, m2, z = xp.asarray(m1), xp.asarray(m2), xp.asarray(z)
        chirp = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2 * (1 + z)
        distance = self.cosmology.luminosity_distance(z)
        return (self.reference_chirp_mass / chirp) ** (5 / 6) * distance / self.horizon_distance

    def optimal_snr(self, m1, m2, z):
        """Signal-to-noise ratio of an optimally located and oriented source (``w = 1``)."""
        return self.snr_threshold / self.required_fraction(m1, m2, z)

    def detection_probability(self, theta, parameter_names: Sequence[str], key=None):
        """``p_det`` of each row of ``theta (..., d)``; shape ``(...)``, values in ``[0, 1]``.

        ``theta`` must have the columns ``mass_1_source``, ``mass_2_source`` and
        ``redshift``. With a ``key``, one random orientation is drawn per row and the
        result is the detection indicator (0 or 1) instead of the probability.
        """
        names = tuple(parameter_names)
        missing = [n for n in (PRIMARY_MASS, SECONDARY_MASS, REDSHIFT) if n not in names]
        if missing:
            raise ValueError(
                f"AnalyticDetector.detection_probability: parameter_names {names!r} lack "
                f"{missing}; for populations without redshift use analytic_pdet, which "
                "integrates over redshift."
            )
        theta = jnp.asarray(theta)
        if theta.ndim < 1 or theta.shape[-1] != len(names):
            raise ValueError(
                f"AnalyticDetector.detection_probability: theta has shape {theta.shape}, "
                f"expected (..., {len(names)})."
            )
        needed = self.required_fraction(
            theta[..., names.index(PRIMARY_MASS)],
            theta[..., names.index(SECONDARY_MASS)],
            theta[..., names.index(REDSHIFT)],
        )
        grid, survival = angular_factor_survival()
        if key is None:
            return _survival(needed, grid, survival)
        u = jax.random.uniform(key, needed.shape, dtype=needed.dtype)
        w = jnp.interp(u, survival[::-1].astype(needed.dtype), grid[::-1].astype(needed.dtype))
        return (w > needed).astype(needed.dtype)


def _survival(needed, grid, survival):
    return jnp.interp(
        needed, grid.astype(needed.dtype), survival.astype(needed.dtype), left=1.0, right=0.0
    )


def analytic_pdet(
    parameter_names: Sequence[str],
    *,
    detector: AnalyticDetector | None = None,
    time: float = 1.0,
    num_samples: int = 100_000,
    mass_range: tuple[float, float] = (2.0, 200.0),
    ranges: Mapping[str, tuple[float, float]] | None = None,
    z_max: float = 3.0,
    seed: int = 0,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """Selection from :class:`AnalyticDetector` with ``num_samples`` fixed reference draws.

    With a ``redshift`` column the draws include ``z ~ dV_C/dz / (1 + z)`` and
    the weights are ``p_det``. Without one, each mass draw gets a redshift
    ``z_j`` from the same volume density and the weight is
    ``p_det(m1, m2, z_j) dV_C/dz / (1 + z_j) / q(z_j)`` [Gpc^3], an unbiased
    estimate of ``VT(m1, m2) / T`` integrated to ``z_max``. Draws that cannot be
    detected are dropped but counted in ``total_draws``.

    Args:
        parameter_names: the population's columns.
        detector: the detector model (default :class:`AnalyticDetector()`).
        time: observing time ``T`` in years.
        num_samples: number of reference draws.
        mass_range, ranges, z_max: the reference density (:mod:`.proposal`).
        seed: seed of the reference draws.
        batch_size: chunk size for evaluating the rate density over the draws.
    """
    detector = AnalyticDetector() if detector is None else detector

    def log_pdet(theta, names):
        columns = [theta[:, names.index(n)] for n in (PRIMARY_MASS, SECONDARY_MASS, REDSHIFT)]
        with jax.enable_x64(True):
            needed = np.asarray(detector.required_fraction(*columns))
        p_det = np.interp(needed, *angular_factor_survival(), left=1.0, right=0.0)
        with np.errstate(divide="ignore"):
            return np.log(p_det)

    return from_weight_function(
        log_pdet,
        parameter_names,
        kind="pdet",
        time=time,
        num_samples=num_samples,
        mass_range=mass_range,
        ranges=ranges,
        z_max=z_max,
        cosmology=detector.cosmology,
        seed=seed,
        batch_size=batch_size,
        description="analytic_pdet",
    )
