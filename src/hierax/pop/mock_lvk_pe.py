"""Mock LVK parameter estimation: exact posterior draws under an LVK-like prior.

The reference prior is the one of LVK bilby analyses (GWTC-3 population paper,
Abbott et al. 2023, PRX 13, 011048, arXiv:2111.03634, Sec. II and App. A; Romero-Shaw
et al. 2020, MNRAS 499, 3295): uniform in the detector-frame component masses
``m_{1,d} >= m_{2,d}`` inside a box in chirp mass ``M_c`` and mass ratio ``q``
(bilby's ``UniformInComponentsChirpMass`` and ``UniformInComponentsMassRatio``),
``p(d_L) ∝ d_L^2`` (``PowerLaw(alpha=2)``), spin magnitudes uniform on
``[0, a_max]`` and isotropic spin directions. In the likelihood's coordinates
``x = (M_c, q, d_L, a_1, a_2, cos t_1, cos t_2)`` (detector frame) that prior is a
product of one-dimensional factors,

    pi(x) ∝ M_c * (1 + q)^(2/5) q^(-6/5) * d_L^2 * 1,                          (1)

since ``|d(M_c, q) / d(m_1, m_2)| = M_c / m_1^2`` and ``m_1 = M_c (1 + q)^(1/5) q^(-3/5)``.

Likelihood (:class:`LVKErrorModel`): independent Gaussians, in ``ln M_c`` and
``ln d_L`` (relative errors) and in ``q`` and the spins, around the observed centres
``x_obs`` of :func:`hierax.pop.mock_lvk_injections.observe_amplitude` and
:func:`observe_intrinsic`. Every width is a known function of the data, never of the
unknown truth: ``sigma_lnMc = f_Mc`` and ``sigma_lnd = f_d`` are constants, and the
widths of ``q`` (``f_q rho_ref / rho``) and of the spins (``f_a rho_ref / rho``) use
the observed statistic ``rho``, which is a function of the observed chirp mass,
distance and orientation factor alone (drawn before them). Hence
``p(x_obs | x) ∝ prod_k N(x_obs,k; x_k, sigma_k)`` as a function of ``x``, with a
proportionality factor that depends on the data only, and the posterior is the
product of the one-dimensional densities ``g_k(x_k) N(x_k; x_obs,k, sigma_k)`` on the
prior's interval (for ``M_c`` and ``d_L`` written in ``u = ln x``, where the prior
factor is ``g(e^u) e^u``), each ``g_k`` monotone by (1).

Sampling (:func:`sample_gaussian_times_monotone`): exact rejection sampling. The
interval is cut into cells; on each cell the monotone ``g`` is at most its larger
end value ``G_j``, so ``sum_j G_j 1_cell_j(x) N(x)`` is an envelope of the target.
A cell is picked with probability ``∝ G_j P_j`` (``P_j`` its Gaussian mass), ``x``
is drawn from the Gaussian truncated to the cell and accepted with probability
``g(x) / G_j``. Accepted points are exact, independent draws of the posterior
(von Neumann 1951); nothing is approximated but floating-point arithmetic. Dividing
the recorded prior out of them gives back the likelihood (Thrane & Talbot 2019,
PASA 36, e010, eq. 13), which the tests check.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import special, stats

__all__ = [
    "INTRINSIC_COORDINATES",
    "LIKELIHOOD_COORDINATES",
    "LOG_COORDINATES",
    "LVKErrorModel",
    "bilby_prior_strings",
    "component_masses",
    "log_prior_factor",
    "observe_intrinsic",
    "sample_gaussian_times_monotone",
    "sample_posterior",
]

LIKELIHOOD_COORDINATES = ("chirp_mass", "mass_ratio", "luminosity_distance",
                          "a_1", "a_2", "cos_tilt_1", "cos_tilt_2")
"""The coordinates of the mock likelihood (detector-frame chirp mass, in bilby's names)."""
LOG_COORDINATES = ("chirp_mass", "luminosity_distance")
"""Coordinates whose likelihood is Gaussian in their logarithm (width = relative error)."""
INTRINSIC_COORDINATES = tuple(k for k in LIKELIHOOD_COORDINATES if k not in LOG_COORDINATES)
"""Coordinates observed after the SNR, with widths ``∝ rho_ref / rho``."""
_CELLS = 64
_BULK_SIGMAS = 9.0


@dataclasses.dataclass(frozen=True)
class LVKErrorModel:
    """Widths of the mock likelihood and bounds of the LVK-like reference prior.

    Args:
        chirp_mass_error: ``f_Mc``, standard deviation of ``ln M_c`` (detector frame),
            the same for every source (it sets the observed SNR, so it cannot depend on it).
        mass_ratio_error: ``f_q``, absolute error of ``q`` at ``reference_snr``.
        distance_error: ``f_d``, standard deviation of ``ln d_L``, the same for every source.
        spin_magnitude_error, cos_tilt_error: absolute errors at ``reference_snr``.
        reference_snr: ``rho_ref``; the widths of ``q`` and the spins scale as
            ``rho_ref / rho`` with ``rho`` the OBSERVED statistic.
        chirp_mass_range: prior bounds of the detector-frame chirp mass (solar masses).
        mass_ratio_min: lower prior bound of ``q`` (the upper one is 1).
        distance_range: prior bounds of ``d_L`` in Mpc.
        spin_max: upper end ``a_max`` of the uniform spin-magnitude prior (LVK: 0.99).
    """

    chirp_mass_error: float = 0.02
    mass_ratio_error: float = 0.15
    distance_error: float = 0.3
    spin_magnitude_error: float = 0.3
    cos_tilt_error: float = 0.5
    reference_snr: float = 12.0
    chirp_mass_range: tuple[float, float] = (2.0, 400.0)
    mass_ratio_min: float = 0.05
    distance_range: tuple[float, float] = (10.0, 30000.0)
    spin_max: float = 0.99

    def __post_init__(self):
        for name in ("chirp_mass_error", "mass_ratio_error", "distance_error",
                     "spin_magnitude_error", "cos_tilt_error", "reference_snr"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"LVKErrorModel: {name} must be a finite number > 0, got "
                                 f"{value!r}.")
        for name in ("chirp_mass_range", "distance_range"):
            low, high = (float(v) for v in getattr(self, name))
            if not (0 < low < high < math.inf):
                raise ValueError(f"LVKErrorModel: {name} must be (low, high) with "
                                 f"0 < low < high < inf, got {getattr(self, name)!r}.")
            object.__setattr__(self, name, (low, high))
        if not 0 < self.mass_ratio_min < 1:
            raise ValueError(f"LVKErrorModel: mass_ratio_min must lie in (0, 1), got "
                             f"{self.mass_ratio_min!r}.")
        if not 0 < self.spin_max <= 1:
            raise ValueError(f"LVKErrorModel: spin_max must lie in (0, 1], got {self.spin_max!r}.")

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Prior interval of each of :data:`LIKELIHOOD_COORDINATES`."""
        spin = (0.0, float(self.spin_max))
        return {"chirp_mass": self.chirp_mass_range, "mass_ratio": (self.mass_ratio_min, 1.0),
                "luminosity_distance": self.distance_range, "a_1": spin, "a_2": spin,
                "cos_tilt_1": (-1.0, 1.0), "cos_tilt_2": (-1.0, 1.0)}

    def widths(self, snr) -> dict[str, np.ndarray]:
        """Likelihood standard deviations ``(n,)`` per coordinate (of ``ln x`` for
        :data:`LOG_COORDINATES`) for observed SNRs ``(n,)``: functions of the data only."""
        scale = self.reference_snr / np.asarray(snr, dtype=np.float64)
        return {
            "chirp_mass": np.full(scale.shape, float(self.chirp_mass_error)),
            "mass_ratio": self.mass_ratio_error * scale,
            "luminosity_distance": np.full(scale.shape, float(self.distance_error)),
            "a_1": self.spin_magnitude_error * scale, "a_2": self.spin_magnitude_error * scale,
            "cos_tilt_1": self.cos_tilt_error * scale, "cos_tilt_2": self.cos_tilt_error * scale,
        }


def observe_intrinsic(rng: np.random.Generator, truth: dict[str, np.ndarray],
                      widths: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Observed centres ``x + sigma n`` of :data:`INTRINSIC_COORDINATES` (``q`` and spins),
    for truths and data-determined widths ``(n,)`` (``n`` standard normal)."""
    return {k: truth[k] + widths[k] * rng.standard_normal(np.shape(truth[k]))
            for k in INTRINSIC_COORDINATES}


def log_prior_factor(name: str, values) -> np.ndarray:
    """``ln g_k`` of eq. (1) for coordinate ``name`` (up to a constant); same shape out."""
    x = np.asarray(values, dtype=np.float64)
    if name == "chirp_mass":
        return np.log(x)
    if name == "mass_ratio":
        return 0.4 * np.log1p(x) - 1.2 * np.log(x)
    if name == "luminosity_distance":
        return 2 * np.log(x)
    if name in LIKELIHOOD_COORDINATES:
        return np.zeros_like(x)
    raise ValueError(f"log_prior_factor: unknown coordinate {name!r}; expected one of "
                     f"{list(LIKELIHOOD_COORDINATES)}.")


def component_masses(chirp_mass, mass_ratio) -> tuple[np.ndarray, np.ndarray]:
    """``(m_1, m_2)`` from chirp mass and ``q = m_2 / m_1 <= 1``: ``m_1 = M_c (1 + q)^(1/5)
    q^(-3/5)``, ``m_2 = q m_1``; arrays of one shape."""
    chirp_mass, mass_ratio = np.asarray(chirp_mass, float), np.asarray(mass_ratio, float)
    m1 = chirp_mass * (1 + mass_ratio) ** 0.2 * mass_ratio ** -0.6
    return m1, mass_ratio * m1


def bilby_prior_strings(errors: LVKErrorModel, cosmology: str = "Planck15") -> dict[str, str]:
    """The reference prior as bilby prior strings (PESummary's ``priors/analytic``)."""
    (mc_low, mc_high), (d_low, d_high) = errors.chirp_mass_range, errors.distance_range
    a_max, pi = errors.spin_max, math.pi
    return {
        "chirp_mass": f"UniformInComponentsChirpMass(minimum={mc_low!r}, maximum={mc_high!r}, "
                      "name='chirp_mass', latex_label='$\\mathcal{M}$', unit=None, "
                      "boundary=None)",
        "mass_ratio": f"UniformInComponentsMassRatio(minimum={errors.mass_ratio_min!r}, "
                      "maximum=1.0, name='mass_ratio', latex_label='$q$', unit=None, "
                      "boundary=None)",
        "luminosity_distance": f"PowerLaw(alpha=2, minimum={d_low!r}, maximum={d_high!r}, "
                               "name='luminosity_distance', latex_label='$d_L$', unit='Mpc', "
                               f"boundary=None, cosmology='{cosmology}')",
        **{f"a_{i}": f"Uniform(minimum=0, maximum={a_max!r}, name='a_{i}', "
                     f"latex_label='$a_{i}$', unit=None, boundary=None)" for i in (1, 2)},
        **{f"tilt_{i}": f"Sine(minimum=0, maximum={pi!r}, name='tilt_{i}', "
                        f"latex_label='$\\theta_{i}$', unit=None, boundary=None)"
           for i in (1, 2)},
        "phi_12": f"Uniform(minimum=0, maximum={2 * pi!r}, name='phi_12', boundary='periodic')",
        "phi_jl": f"Uniform(minimum=0, maximum={2 * pi!r}, name='phi_jl', boundary='periodic')",
    }


def sample_gaussian_times_monotone(rng: np.random.Generator, num: int, mean: float,
                                   sigma: float, low: float, high: float, log_g,
                                   *, cells: int = _CELLS) -> np.ndarray:
    """``num`` exact draws from ``p(x) ∝ g(x) N(x; mean, sigma)`` on ``[low, high]``.

    Args:
        rng: NumPy generator.
        num: number of draws (>= 1).
        mean, sigma: the Gaussian (``sigma > 0``).
        low, high: the interval (finite, ``low < high``).
        log_g: ``ln g`` of a function ``g > 0`` that is monotone on ``[low, high]``
            (vectorised over NumPy arrays).
        cells: cells across ``mean +- 9 sigma`` (the tails beyond are one cell each).

    Returns:
        ``(num,)`` float64 draws (rejection sampling, module docstring).
    """
    if not (sigma > 0 and math.isfinite(sigma)) or not (low < high):
        raise ValueError(f"sample_gaussian_times_monotone: need sigma > 0 and low < high, got "
                         f"sigma={sigma}, low={low}, high={high}.")
    inner = np.linspace(mean - _BULK_SIGMAS * sigma, mean + _BULK_SIGMAS * sigma, cells + 1)
    edges = np.unique(np.clip(np.concatenate([[low], inner, [high]]), low, high))
    a, b = (edges[:-1] - mean) / sigma, (edges[1:] - mean) / sigma
    # Gaussian mass of each cell, computed on the side of the mean that keeps its digits.
    mass = np.where(a > 0, special.ndtr(-a) - special.ndtr(-b), special.ndtr(b) - special.ndtr(a))
    log_envelope = np.maximum(log_g(edges[:-1]), log_g(edges[1:]))
    with np.errstate(divide="ignore"):
        log_weight = np.log(np.maximum(mass, 0.0)) + log_envelope
    if not np.any(np.isfinite(log_weight)):
        raise ValueError(f"sample_gaussian_times_monotone: N({mean}, {sigma}) has no mass on "
                         f"[{low}, {high}] in float64.")
    probability = np.exp(log_weight - np.max(log_weight))
    probability /= probability.sum()
    out = np.empty(0)
    while out.size < num:
        batch = max(2 * (num - out.size), 64)
        cell = rng.choice(probability.size, size=batch, p=probability)
        x = stats.truncnorm.rvs(a[cell], b[cell], loc=mean, scale=sigma, size=batch,
                                random_state=rng)
        x = np.clip(x, edges[cell], edges[cell + 1])
        accept = np.log(rng.uniform(size=batch)) < log_g(x) - log_envelope[cell]
        out = np.concatenate([out, x[accept]])
    return out[:num]


def sample_posterior(rng: np.random.Generator, center: dict[str, float],
                     width: dict[str, float], errors: LVKErrorModel,
                     num: int) -> dict[str, np.ndarray]:
    """``num`` exact posterior draws ``{coordinate: (num,)}`` of one event: prior (1) times
    the Gaussian likelihood of ``center``/``width`` (scalars per coordinate; for
    :data:`LOG_COORDINATES` the centre is the observed value and the width that of its
    logarithm)."""
    bounds, out = errors.bounds(), {}
    for name in LIKELIHOOD_COORDINATES:
        low, high = bounds[name]
        if name in LOG_COORDINATES:  # draw u = ln x: prior factor g(e^u) e^u, still monotone
            u = sample_gaussian_times_monotone(
                rng, num, math.log(float(center[name])), float(width[name]), math.log(low),
                math.log(high), lambda u, name=name: log_prior_factor(name, np.exp(u)) + u)
            out[name] = np.clip(np.exp(u), low, high)
        else:
            out[name] = sample_gaussian_times_monotone(
                rng, num, float(center[name]), float(width[name]), low, high,
                lambda x, name=name: log_prior_factor(name, x))
    return out
