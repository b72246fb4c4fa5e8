"""Mock sensitivity injections and the detection rule shared with the mock catalog.

Detection is decided from the DATA, never from the true parameters, as the hierarchical
likelihood assumes (Mandel, Farr & Gair 2019, MNRAS 486, 1086, eqs. 7-9: the selection
term is ``p_det(theta) = int_{d detected} p(d | theta) dd`` and the event terms carry no
``p_det`` factor). :func:`observe_amplitude` simulates, per source with true
detector-frame chirp mass ``M_c`` and distance ``d_L``,

* an orientation factor ``w`` drawn from its distribution over sky position,
  polarisation and inclination (Finn & Chernoff 1993, PRD 47, 2198), independent of
  ``theta``; it is treated as observed data (its density is a constant factor of the
  likelihood);
* the observed chirp mass and distance ``M_c,obs = M_c e^{f_Mc n_1}``,
  ``d_L,obs = d_L e^{f_d n_2}`` (``n_i`` standard normal, constant widths of
  :class:`~hierax.pop.mock_lvk_pe.LVKErrorModel`);

and the detection statistic is the deterministic function of these data

    rho = rho_th (M_c,obs / Mc_ref)^(5/6) (d_H / d_L,obs) w,                     (1)

the SNR of :class:`hierax.pop.selection.analytic.AnalyticDetector` evaluated at the
observed values. It is recorded as a false-alarm rate per year,
``FAR(rho) = exp(-(rho^2 - rho_th^2) / 2)`` (:func:`false_alarm_rate`), the
Gaussian-noise tail of a matched filter scaled so that ``FAR = 1 / yr`` at ``rho_th``:
a source is found (``FAR < 1 / yr``, ``IFAR > 1 yr``, the LVK cut of GWTC-3 population
analyses) exactly when ``rho > rho_th``. Since ``rho = rho_opt(theta) w e^{s t}`` with
``s^2 = (5 f_Mc / 6)^2 + f_d^2`` and ``t`` standard normal, the probability of this
rule is ``p_det(theta) = E_t[P(w > x e^{-s t})]`` with ``x = rho_th / rho_opt(theta)``
(:func:`detection_probability`, a tabulated quadrature over ``t``).

Injections (:func:`draw_injections`): ``N`` draws from a known density in the
detector frame (as the LVK campaigns draw, Essick 2023, arXiv:2307.02765):
``m_{1,d}`` log-uniform on ``[m_lo, m_hi]``, ``m_{2,d} | m_{1,d}`` uniform on
``[m_lo, m_{1,d}]``, ``p(d_L) = (k + 1) d_L^k / d_max^(k + 1)`` on ``[0, d_max]`` (``k = 1``
by default: more nearby draws than ``d_L^2``, so more of them are found), spin
magnitudes uniform on ``[0, a_max]`` and isotropic directions. In the readers' coordinates
(source masses, redshift, Cartesian spins) the density is

    ln p = ln p(m_{1,d}) + ln p(m_{2,d} | m_{1,d}) + ln p(d_L) + 2 ln(1 + z) + ln dD_L/dz
           + sum_i [-ln a_max - ln 2 - ln 2 pi - 2 ln a_i]                       (2)

(``d^3 chi = a^2 da dcos t dphi``). The O3 file stores every draw with ``sampling_pdf``
= exp (2) and ``ifar_<search>``; the O4 file stores only the draws that pass a looser
cut (``FAR < 100 / yr``, as LVK files keep the draws some search recovered) with
``lnpdraw_mass1_source_mass2_source_redshift`` and the polar spin factors, counting
the others in ``total_generated``. Every injection's data are simulated with
:func:`observe_amplitude`, so the found fraction estimates the ``p_det(theta)`` of the
catalog's rule.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hierax.pop.lvk_files import write_o3_injections, write_o4_injections
from hierax.pop.mock_lvk_pe import LVKErrorModel
from hierax.pop.pe_prior import luminosity_distance_gradient
from hierax.pop.selection.analytic import AnalyticDetector, angular_factor_survival

__all__ = [
    "SECONDS_PER_YEAR",
    "InjectionCampaign",
    "MockInjections",
    "detection_probability",
    "detection_snr",
    "draw_injections",
    "false_alarm_rate",
    "observe_amplitude",
    "write_injection_files",
]

SECONDS_PER_YEAR = 365.25 * 86400.0
_O4_STORED_FAR = 100.0
"""Draws with ``FAR`` below this (per year) are stored in the O4 file, found or not."""


@dataclasses.dataclass(frozen=True)
class InjectionCampaign:
    """Settings of a mock injection campaign (module docstring, density (2)).

    Args:
        num_draws: ``N``, draws per campaign (O3 and O4 files get one campaign each).
        mass_range: ``(m_lo, m_hi)``, bounds of the detector-frame component masses.
        redshift_max: ``d_max = D_L(redshift_max)``.
        distance_power: ``k > -1`` of ``p(d_L) ∝ d_L^k``.
        spin_max: ``a_max`` (0.998 as in the O3 and O4 BBH campaigns, the reader's default
            ``spin_magnitude_max``).
        search: the name of the mock search in the ``far``/``ifar`` fields.
    """

    num_draws: int = 50_000
    mass_range: tuple[float, float] = (2.0, 200.0)
    redshift_max: float = 1.5
    distance_power: float = 1.0
    spin_max: float = 0.998
    search: str = "mock"

    def __post_init__(self):
        if isinstance(self.num_draws, bool) or not isinstance(self.num_draws, int) \
                or self.num_draws < 1:
            raise ValueError(f"InjectionCampaign: num_draws must be an int >= 1, got "
                             f"{self.num_draws!r}.")
        low, high = (float(v) for v in self.mass_range)
        if not 0 < low < high < math.inf:
            raise ValueError(f"InjectionCampaign: mass_range must be (low, high) with "
                             f"0 < low < high, got {self.mass_range!r}.")
        object.__setattr__(self, "mass_range", (low, high))
        if not 0 < self.redshift_max < math.inf or not 0 < self.spin_max <= 1 \
                or not -1 < self.distance_power < math.inf:
            raise ValueError("InjectionCampaign: need redshift_max > 0, 0 < spin_max <= 1 and "
                             f"distance_power > -1, got {self.redshift_max!r}, "
                             f"{self.spin_max!r} and {self.distance_power!r}.")
        if not self.search or "/" in self.search:
            raise ValueError(f"InjectionCampaign: invalid search name {self.search!r}.")


class MockInjections(NamedTuple):
    """One campaign: ``fields`` maps names to ``(N,)`` arrays of every draw (LVK field
    names, plus ``snr`` (1) with its data ``orientation``, ``observed_chirp_mass`` and
    ``observed_luminosity_distance``, ``optimal_snr`` (of the truth, for reference only),
    ``far``, ``log_density`` (2) and its parts ``log_density_masses_redshift``,
    ``log_density_spin<i>``)."""

    fields: dict[str, np.ndarray]
    total_generated: int
    analysis_time_s: float
    campaign: InjectionCampaign
    snr_threshold: float


def detection_snr(detector: AnalyticDetector, chirp_mass, luminosity_distance,
                  orientation) -> np.ndarray:
    """Statistic (1) from observed detector-frame chirp masses, distances (Mpc) and
    orientation factors (arrays of one shape)."""
    chirp_mass, distance, w = (np.asarray(v, dtype=np.float64)
                               for v in (chirp_mass, luminosity_distance, orientation))
    return (detector.snr_threshold * (chirp_mass / detector.reference_chirp_mass) ** (5 / 6)
            * detector.horizon_distance / distance * w)


def observe_amplitude(rng: np.random.Generator, detector: AnalyticDetector,
                      errors: LVKErrorModel, chirp_mass, luminosity_distance
                      ) -> dict[str, np.ndarray]:
    """The data that decide detection (module docstring), for true detector-frame chirp
    masses and distances ``(n,)``: ``{"chirp_mass", "luminosity_distance"}`` (observed
    values), ``"orientation"`` (``w``) and ``"snr"`` (statistic (1) of those three)."""
    chirp_mass = np.asarray(chirp_mass, dtype=np.float64)
    distance = np.asarray(luminosity_distance, dtype=np.float64)
    observed_mc = chirp_mass * np.exp(errors.chirp_mass_error
                                      * rng.standard_normal(chirp_mass.shape))
    observed_d = distance * np.exp(errors.distance_error * rng.standard_normal(distance.shape))
    grid, survival = angular_factor_survival()
    w = np.interp(rng.uniform(size=chirp_mass.shape), survival[::-1], grid[::-1])
    return {"chirp_mass": observed_mc, "luminosity_distance": observed_d, "orientation": w,
            "snr": detection_snr(detector, observed_mc, observed_d, w)}


def detection_probability(detector: AnalyticDetector, errors: LVKErrorModel,
                          mass_1_source, mass_2_source, redshift) -> np.ndarray:
    """``p_det(theta)`` of the rule (1) for source-frame masses and redshifts ``(n,)``
    (module docstring): ``P(w e^{s t} > x)`` with ``x = rho_th / rho_opt(theta)``,
    interpolated in ``ln x`` from :func:`_detection_table` (error below 1e-6)."""
    arrays = [np.asarray(v, dtype=np.float64) for v in (mass_1_source, mass_2_source, redshift)]
    needed = np.asarray(detector.required_fraction(*arrays), dtype=np.float64)
    spread = math.hypot(5 / 6 * errors.chirp_mass_error, errors.distance_error)
    log_x, table = _detection_table(spread)
    with np.errstate(divide="ignore"):
        return np.interp(np.log(needed), log_x, table, left=1.0, right=0.0)


@functools.lru_cache(maxsize=8)
def _detection_table(spread: float) -> tuple[np.ndarray, np.ndarray]:
    """``(ln x, E_t[S(x e^{-s t})])`` on a grid of ``ln x`` (``S(y) = P(w > y)``, ``t``
    standard normal, ``s = spread``): the trapezoid rule over ``t`` on ``[-9, 9]`` with
    step ``2e-3`` (the integrand is piecewise smooth, the rule's error ``O(step^2)``), on
    ``ln x`` nodes ``2e-3`` apart (the result is smooth there: linear interpolation adds
    ``O(1e-6)``). Below the grid ``p_det = 1``, above it ``0`` to float64 precision."""
    grid, survival = angular_factor_survival()
    t = np.linspace(-9.0, 9.0, 9_001)
    weights = np.exp(-0.5 * t**2) * (t[1] - t[0]) / math.sqrt(2 * math.pi)
    weights[[0, -1]] *= 0.5
    low, high = math.log(grid[1]) - 9.0 * spread, 9.0 * spread
    log_x = np.linspace(low, high, int((high - low) / 2e-3) + 2)
    table = np.zeros(log_x.shape)
    for chunk in np.array_split(np.arange(t.size), 30):
        y = np.exp(log_x[None, :] - spread * t[chunk, None])
        table += weights[chunk] @ np.interp(y, grid, survival, left=1.0, right=0.0)
    return log_x, table / weights.sum()


def false_alarm_rate(snr, threshold: float) -> np.ndarray:
    """Eq. (1) in 1/yr, clipped to the float64 range; ``< 1`` exactly when ``snr > threshold``."""
    exponent = -0.5 * (np.square(np.asarray(snr, np.float64)) - threshold**2)
    return np.exp(np.clip(exponent, -700.0, 700.0))


def draw_injections(rng: np.random.Generator, detector: AnalyticDetector, time: float,
                    campaign: InjectionCampaign,
                    errors: LVKErrorModel | None = None) -> MockInjections:
    """Draw one campaign of ``campaign.num_draws`` injections over ``time`` years, each
    with its data simulated by :func:`observe_amplitude` (``errors``: those of the
    catalog, default :class:`LVKErrorModel()`)."""
    errors = LVKErrorModel() if errors is None else errors
    cosmology, num = detector.cosmology, campaign.num_draws
    m_low, m_high = campaign.mass_range
    d_max = float(cosmology.luminosity_distance(np.array([campaign.redshift_max]))[0])
    m1_det = m_low * (m_high / m_low) ** rng.uniform(size=num)
    m2_det = m_low + (m1_det - m_low) * rng.uniform(size=num)
    power = float(campaign.distance_power)
    distance = d_max * rng.uniform(size=num) ** (1 / (power + 1))
    z = cosmology.redshift_at_luminosity_distance(distance)
    fields = {"mass1_source": m1_det / (1 + z), "mass2_source": m2_det / (1 + z),
              "redshift": z, "mass1_detector": m1_det, "mass2_detector": m2_det,
              "luminosity_distance": distance}
    log_masses_z = (-np.log(m1_det * math.log(m_high / m_low)) - np.log(m1_det - m_low)
                    + math.log(power + 1) + power * np.log(distance)
                    - (power + 1) * math.log(d_max)
                    + 2 * np.log1p(z) + np.log(luminosity_distance_gradient(cosmology, z)))
    fields["log_density_masses_redshift"] = log_masses_z
    log_density = log_masses_z.copy()
    for i in (1, 2):
        a = campaign.spin_max * rng.uniform(size=num)
        cos_tilt, phi = rng.uniform(-1, 1, num), rng.uniform(0, 2 * math.pi, num)
        sin_tilt = np.sqrt(1 - cos_tilt**2)
        fields |= {f"spin{i}x": a * sin_tilt * np.cos(phi), f"spin{i}y": a * sin_tilt * np.sin(phi),
                   f"spin{i}z": a * cos_tilt, f"spin{i}_magnitude": a,
                   f"spin{i}_polar_angle": np.arccos(cos_tilt), f"spin{i}_azimuthal_angle": phi}
        cartesian = -math.log(campaign.spin_max * 4 * math.pi) - 2 * np.log(a)
        fields[f"log_density_spin{i}"] = cartesian
        log_density = log_density + cartesian
    fields["log_density"] = log_density
    data = observe_amplitude(rng, detector, errors,
                             (m1_det * m2_det) ** 0.6 / (m1_det + m2_det) ** 0.2, distance)
    fields |= {"snr": data["snr"], "orientation": data["orientation"],
               "observed_chirp_mass": data["chirp_mass"],
               "observed_luminosity_distance": data["luminosity_distance"],
               "optimal_snr": detector.optimal_snr(fields["mass1_source"],
                                                   fields["mass2_source"], z),
               "far": false_alarm_rate(data["snr"], detector.snr_threshold)}
    return MockInjections(fields, num, float(time) * SECONDS_PER_YEAR, campaign,
                          float(detector.snr_threshold))


_STORED = ("mass1_source", "mass2_source", "redshift", "luminosity_distance",
           *(f"spin{i}{axis}" for i in (1, 2) for axis in "xyz"))


def write_injection_files(o3: MockInjections, o4: MockInjections,
                          folder) -> tuple[Path, Path]:
    """Write ``o3`` as ``folder/o3_injections.hdf5`` (every draw) and ``o4`` as
    ``folder/o4_injections.hdf5`` (only draws with ``FAR < 100 / yr``); returns the paths."""
    folder = Path(folder)
    f = o3.fields
    o3_path = write_o3_injections(
        folder / "o3_injections.hdf5", {name: f[name] for name in _STORED},
        ifar={o3.campaign.search: 1.0 / f["far"]}, total_generated=o3.total_generated,
        analysis_time_s=o3.analysis_time_s, log_sampling_pdf=f["log_density"])
    f = o4.fields
    keep = f["far"] < _O4_STORED_FAR
    if not np.any(keep):
        raise ValueError("write_injection_files: no O4 injection can be detected; widen the "
                         "campaign or move the detector's horizon.")
    names = (*_STORED, *(f"spin{i}_{part}" for i in (1, 2)
                         for part in ("magnitude", "polar_angle", "azimuthal_angle")))
    lnpdraw = {"mass1_source_mass2_source_redshift": f["log_density_masses_redshift"]}
    for i in (1, 2):
        lnpdraw[f"spin{i}_magnitude"] = np.full(f["snr"].shape, -math.log(o4.campaign.spin_max))
        lnpdraw[f"spin{i}_polar_angle"] = np.log(np.sin(f[f"spin{i}_polar_angle"]) / 2)
        lnpdraw[f"spin{i}_azimuthal_angle"] = np.full(f["snr"].shape, -math.log(2 * math.pi))
    o4_path = write_o4_injections(
        folder / "o4_injections.hdf5", {name: f[name][keep] for name in names},
        lnpdraw={key: values[keep] for key, values in lnpdraw.items()},
        far={o4.campaign.search: f["far"][keep]}, total_generated=o4.total_generated,
        total_analysis_time=o4.analysis_time_s)
    return o3_path, o4_path
