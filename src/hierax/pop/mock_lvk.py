"""LVK-like mock catalogs: a population, detected by a search, with LVK-style PE files.

One realization (:func:`make_lvk_mock`) follows exactly the generative model of the
hierarchical likelihood (Mandel, Farr & Gair 2019, MNRAS 486, 1086): the data of every
source are simulated first, detection is a deterministic function of those data, and
the PE samples are draws from the reference prior times the likelihood of the data.

1. ``N ~ Poisson(Lambda)`` sources from a :class:`hierax.pop.models.PopulationModel`
   with redshift (``Lambda = model.expected_number(hyper, time)``); spins the model
   does not describe are drawn from the PE prior (uniform magnitudes, isotropic), as
   the readers assume for unmodelled columns (:mod:`hierax.pop.pe_prior`);
2. every source gets its amplitude data: an orientation factor ``w`` (independent of
   the source's parameters) and an observed detector-frame chirp mass and distance,
   log-normal around the truth with constant widths; its SNR is the analytic SNR of
   these observed values (:func:`hierax.pop.mock_lvk_injections.observe_amplitude`),
   and it is detected when that SNR exceeds the threshold. The detection probability
   ``p_det(theta)`` of this rule enters only through the selection term ``mu``, which
   the injection campaigns (step 5) estimate with the same rule;
3. each detection gets observed values of ``q`` and the spins, Gaussian around the
   truth with widths ``∝ 1 / SNR`` of the OBSERVED SNR (a function of the data drawn
   in step 2, never of the truth; :func:`hierax.pop.mock_lvk_pe.observe_intrinsic`);
4. each detection gets exact posterior draws under the LVK-like reference prior
   (flat in detector-frame component masses, ``p(d_L) ∝ d_L^2``, uniform isotropic
   spins; :mod:`hierax.pop.mock_lvk_pe`) for the likelihood of its observed data
   (Gaussian in ``ln M_c``, ``ln d_L``, ``q`` and the spins, widths as above). Its log
   prior in the modelled source-frame coordinates, with the Jacobian
   ``(1 + z)^2 dD_L/dz``, is :func:`hierax.pop.pe_prior.log_pe_prior` of the samples,
   the function the PESummary reader divides out;
5. two independent injection campaigns simulate data for every injection in the same
   way and record the statistic as false-alarm rates, for the O3 and the O4 layouts.

:func:`write_lvk_mock` writes ``<directory>/realization_<r>/`` with::

    pesummary/event_<i>.h5          PESummary metafile (label C01:Mixed, bilby priors)
    posteriors/event_<i>.dat        seed 000 text layout: model columns + log_prior
    injections.dat                  true parameters of the detections, snr, component
    o3_injections.hdf5              O3 layout sensitivity injections
    o4_injections.hdf5              O4 layout sensitivity injections
    hyperparameters.json            the true hyperparameters
    catalog.json                    counts, time, prior, error and campaign settings
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np

from hierax._files import replace_folder_atomically, write_text_atomically
from hierax.pop.lvk_files import cosmology_description, write_pesummary_event
from hierax.pop.mock import _bucket, _named_columns, _write_table
from hierax.pop.mock_lvk_injections import (
    InjectionCampaign,
    MockInjections,
    detection_probability,
    draw_injections,
    observe_amplitude,
    write_injection_files,
)
from hierax.pop.mock_lvk_pe import (
    LIKELIHOOD_COORDINATES,
    LVKErrorModel,
    bilby_prior_strings,
    component_masses,
    observe_intrinsic,
    sample_posterior,
)
from hierax.pop.parameters import COS_TILTS, PRIMARY_MASS, REDSHIFT, SECONDARY_MASS, SPIN_MAGNITUDES
from hierax.pop.pe_prior import PEPrior, log_pe_prior
from hierax.pop.selection.analytic import AnalyticDetector

__all__ = ["LVKMock", "make_lvk_mock", "write_lvk_mock"]

_SPINS = (*SPIN_MAGNITUDES, *COS_TILTS)
_MAX_SOURCES = 20_000_000


@dataclasses.dataclass(frozen=True, eq=False)
class LVKMock:
    """One realization (host NumPy float64 arrays; ``N`` sources, ``n`` detections).

    Attributes:
        parameter_names: the model's ``d`` columns (source frame, with ``redshift``).
        hyperparameters: the true hyperparameters.
        time: observing time in years.
        expected_sources: ``Lambda``.
        population_theta: ``(N, d)`` every source; ``labels`` ``(N,)`` its component.
        snr: ``(N,)`` observed SNR of every source, the function
            :func:`~hierax.pop.mock_lvk_injections.detection_snr` of its data (observed
            chirp mass and distance, ``orientation`` ``(N,)``); ``detected`` ``(N,)``
            bool, ``snr > snr_threshold``.
        event_truths: coordinate -> ``(n,)`` true values of the detections in
            :data:`~hierax.pop.mock_lvk_pe.LIKELIHOOD_COORDINATES` (detector frame).
        likelihood_centers, likelihood_widths: coordinate -> ``(n,)`` the Gaussian
            likelihood of each detection: observed values, and widths (of the logarithm
            for :data:`~hierax.pop.mock_lvk_pe.LOG_COORDINATES`).
        posteriors: ``n`` dicts of ``(M,)`` samples in bilby's names (detector and
            source frame, spins), as written to the PESummary files.
        log_priors: ``n`` arrays ``(M,)``: ``ln pi`` in ``parameter_names``.
        prior: the reference prior as a :class:`~hierax.pop.pe_prior.PEPrior`.
        errors, detector: the settings used; ``injections_o3``, ``injections_o4``: the
            two campaigns.
    """

    parameter_names: tuple[str, ...]
    hyperparameters: dict[str, float]
    time: float
    expected_sources: float
    population_theta: np.ndarray
    labels: np.ndarray
    snr: np.ndarray
    orientation: np.ndarray
    detected: np.ndarray
    event_truths: dict[str, np.ndarray]
    likelihood_centers: dict[str, np.ndarray]
    likelihood_widths: dict[str, np.ndarray]
    posteriors: tuple[dict[str, np.ndarray], ...]
    log_priors: tuple[np.ndarray, ...]
    prior: PEPrior
    errors: LVKErrorModel
    detector: AnalyticDetector
    injections_o3: MockInjections
    injections_o4: MockInjections

    @property
    def num_detected(self) -> int:
        return len(self.posteriors)

    @property
    def event_names(self) -> tuple[str, ...]:
        """``event_0 .. event_{n-1}``, the stems of the event files."""
        return tuple(f"event_{i}" for i in range(self.num_detected))

    @property
    def truths(self) -> np.ndarray:
        """``(n, d)`` true parameters of the detections."""
        return self.population_theta[self.detected]

    def event_theta(self, i: int) -> np.ndarray:
        """``(M, d)`` samples of event ``i`` in ``parameter_names``."""
        return np.column_stack([self.posteriors[i][name] for name in self.parameter_names])

    def to_event_samples(self):
        """The detections as :class:`hierax.pop.data.EventSamples`."""
        from hierax.pop.data import EventSamples

        if not self.posteriors:
            raise ValueError("LVKMock.to_event_samples: the realization has no detections.")
        return EventSamples.from_list(
            [self.event_theta(i) for i in range(self.num_detected)], list(self.log_priors),
            parameter_names=self.parameter_names, event_names=self.event_names)


def make_lvk_mock(
    seed: int,
    model,
    hyper: Mapping,
    *,
    time: float = 1.0,
    samples_per_event: int = 2000,
    detector: AnalyticDetector | None = None,
    errors: LVKErrorModel | None = None,
    campaign: InjectionCampaign | None = None,
) -> LVKMock:
    """Draw one realization (module docstring); deterministic given ``seed``.

    Args:
        seed: integer seed (JAX key of the population draw, NumPy generator otherwise).
        model: a population with a ``redshift`` column, masses first, no eccentricity:
            ``parameter_names``, ``expected_number(hyper, time)`` and ``sample(key,
            hyper, num)``, both traceable by ``jax.jit`` (e.g.
            :class:`hierax.pop.models.PopulationModel`); its ``cosmology`` (if any) must
            be the detector's.
        hyper: the true hyperparameters.
        time: observing time in years (> 0).
        samples_per_event: posterior samples per detection (>= 2).
        detector: default :class:`AnalyticDetector()`.
        errors: likelihood widths and prior bounds; default :class:`LVKErrorModel()`.
        campaign: injection settings; default :class:`InjectionCampaign()`.

    Raises:
        ValueError: for a model without redshift or with eccentricity, mismatched
            cosmologies, bad ``time``/``samples_per_event``, a detection outside the PE
            prior's bounds, or sources outside the injection campaign that could be
            detected (their ``p_det`` sums to more than 0.01).
    """
    detector = AnalyticDetector() if detector is None else detector
    errors = LVKErrorModel() if errors is None else errors
    campaign = InjectionCampaign() if campaign is None else campaign
    names, time = _checked_arguments(model, detector, time, samples_per_event)
    rng = np.random.default_rng(seed)
    expected = float(jax.jit(model.expected_number)(hyper, time))
    if not (math.isfinite(expected) and 0 <= expected <= _MAX_SOURCES):
        raise ValueError(f"make_lvk_mock: the expected number of sources must be finite and "
                         f"<= {_MAX_SOURCES:.0e}, got {expected}.")
    num = int(rng.poisson(expected))
    sample = jax.jit(model.sample, static_argnums=2)  # one compilation, not one per operation
    theta, labels = sample(jax.random.PRNGKey(seed), hyper, _bucket(num))
    theta = np.asarray(theta, dtype=np.float64)[:num]
    labels = np.asarray(labels)[:num]
    column = {name: theta[:, j] for j, name in enumerate(names)}
    for j, name in enumerate(_SPINS):  # unmodelled spins follow the PE prior
        if name not in column:
            low = 0.0 if j < 2 else -1.0
            high = errors.spin_max if j < 2 else 1.0
            column[name] = rng.uniform(low, high, num)
    everything = _likelihood_truths(column, detector)
    data = observe_amplitude(rng, detector, errors, everything["chirp_mass"],
                             everything["luminosity_distance"])
    snr = data["snr"]
    detected = snr > detector.snr_threshold
    truths = {k: v[detected] for k, v in everything.items()}
    _check_support(truths, errors, column, campaign, detector)
    widths = errors.widths(snr[detected])
    centers = {k: data[k][detected] for k in ("chirp_mass", "luminosity_distance")}
    centers |= observe_intrinsic(rng, truths, widths)
    prior = PEPrior("flat_detector_components", "dl_squared", spin="uniform_isotropic",
                    spin_max=errors.spin_max, cosmology=detector.cosmology)
    posteriors, log_priors = [], []
    for i in range(int(detected.sum())):
        draws = sample_posterior(rng, {k: v[i] for k, v in centers.items()},
                                 {k: v[i] for k, v in widths.items()}, errors, samples_per_event)
        samples = _bilby_columns(draws, detector)
        modelled = {n: samples[n] for n in names}
        posteriors.append(samples)
        log_priors.append(log_pe_prior(prior, modelled, cosmology=detector.cosmology))
    o3 = draw_injections(rng, detector, time, campaign, errors)
    o4 = draw_injections(rng, detector, time, campaign, errors)
    return LVKMock(
        parameter_names=names, hyperparameters={str(k): float(v) for k, v in hyper.items()},
        time=time, expected_sources=expected, population_theta=theta, labels=labels, snr=snr,
        orientation=data["orientation"], detected=detected, event_truths=truths,
        likelihood_centers=centers, likelihood_widths=widths, posteriors=tuple(posteriors),
        log_priors=tuple(log_priors),
        prior=prior, errors=errors, detector=detector, injections_o3=o3, injections_o4=o4)


def _checked_arguments(model, detector, time, samples_per_event):
    names = tuple(str(n) for n in getattr(model, "parameter_names", ()))
    if names[:2] != (PRIMARY_MASS, SECONDARY_MASS) or REDSHIFT not in names:
        raise ValueError(f"make_lvk_mock: the model's columns must start with {PRIMARY_MASS}, "
                         f"{SECONDARY_MASS} and include {REDSHIFT} (LVK posteriors have a "
                         f"distance), got {names}.")
    extra = [n for n in names if n not in (PRIMARY_MASS, SECONDARY_MASS, REDSHIFT, *_SPINS)]
    if extra:
        raise ValueError(f"make_lvk_mock: the LVK-like PE prior has no factor for {extra}; use "
                         "a model of masses, spins, tilts and redshift.")
    if not isinstance(detector, AnalyticDetector):
        raise TypeError("make_lvk_mock: detector must be an AnalyticDetector, got "
                        f"{type(detector).__name__}.")
    cosmology = getattr(model, "cosmology", detector.cosmology)
    if cosmology != detector.cosmology:
        raise ValueError("make_lvk_mock: the model's cosmology differs from the detector's; "
                         "the mock converts redshifts with one cosmology.")
    time = float(time)
    if not (math.isfinite(time) and time > 0):
        raise ValueError(f"make_lvk_mock: time must be a finite number > 0, got {time!r}.")
    if isinstance(samples_per_event, bool) or not isinstance(samples_per_event, int) \
            or samples_per_event < 2:
        raise ValueError(f"make_lvk_mock: samples_per_event must be an int >= 2, got "
                         f"{samples_per_event!r}.")
    return names, time


def _likelihood_truths(column, detector) -> dict[str, np.ndarray]:
    z = column[REDSHIFT]
    m1, m2 = column[PRIMARY_MASS], column[SECONDARY_MASS]
    truths = {"chirp_mass": (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2 * (1 + z),
              "mass_ratio": m2 / m1,
              "luminosity_distance": detector.cosmology.luminosity_distance(z)}
    return truths | {name: column[name] for name in _SPINS}


_MAX_MISSED_DETECTIONS = 0.01


def _check_support(truths, errors, column, campaign, detector) -> None:
    for name, (low, high) in errors.bounds().items():
        bad = (truths[name] < low) | (truths[name] > high)
        if np.any(bad):
            raise ValueError(
                f"make_lvk_mock: a detection has {name} = {truths[name][bad][0]:.6g}, outside "
                f"the PE prior's [{low}, {high}]; widen the LVKErrorModel bounds.")
    z = column[REDSHIFT]
    m1_det, m2_det = column[PRIMARY_MASS] * (1 + z), column[SECONDARY_MASS] * (1 + z)
    low, high = campaign.mass_range
    outside = (m2_det < low) | (m1_det > high) | (z > campaign.redshift_max)
    if not np.any(outside):
        return
    p_det = detection_probability(detector, errors, column[PRIMARY_MASS][outside],
                                  column[SECONDARY_MASS][outside], z[outside])
    if p_det.sum() > _MAX_MISSED_DETECTIONS:
        j = int(np.argmax(p_det))
        raise ValueError(
            f"make_lvk_mock: sources outside the injection campaign ({low} to {high} M_sun, "
            f"z <= {campaign.redshift_max}) would be detected {p_det.sum():.3g} times on "
            f"average (> {_MAX_MISSED_DETECTIONS}), e.g. detector-frame masses "
            f"({m1_det[outside][j]:.4g}, {m2_det[outside][j]:.4g}) at z = "
            f"{z[outside][j]:.4g} with p_det = {p_det[j]:.3g}; widen the InjectionCampaign.")


def _bilby_columns(draws: dict[str, np.ndarray], detector) -> dict[str, np.ndarray]:
    """Posterior columns in bilby's names from draws in the likelihood coordinates."""
    m1, m2 = component_masses(draws["chirp_mass"], draws["mass_ratio"])
    distance = draws["luminosity_distance"]
    z = detector.cosmology.redshift_at_luminosity_distance(distance)
    q, (a1, a2), (c1, c2) = draws["mass_ratio"], (draws["a_1"], draws["a_2"]), \
        (draws["cos_tilt_1"], draws["cos_tilt_2"])
    return {
        "chirp_mass": draws["chirp_mass"], "mass_ratio": q, "mass_1": m1, "mass_2": m2,
        "luminosity_distance": distance, "redshift": z,
        "mass_1_source": m1 / (1 + z), "mass_2_source": m2 / (1 + z),
        "chirp_mass_source": draws["chirp_mass"] / (1 + z),
        "a_1": a1, "a_2": a2, "cos_tilt_1": c1, "cos_tilt_2": c2,
        "tilt_1": np.arccos(c1), "tilt_2": np.arccos(c2),
        "chi_eff": (a1 * c1 + q * a2 * c2) / (1 + q),
    }


def write_lvk_mock(mock: LVKMock, directory, realization: int) -> Path:
    """Write ``mock`` as ``<directory>/realization_<realization>/`` (module docstring).

    The realization is built in a temporary folder and renamed into place when
    complete (:func:`hierax._files.replace_folder_atomically`); each file inside is
    itself written atomically. Returns the realization folder.
    """
    if isinstance(realization, bool) or not isinstance(realization, int | np.integer) \
            or realization < 0:
        raise ValueError(f"write_lvk_mock: realization must be an int >= 0, got {realization!r}.")
    root = Path(directory) / f"realization_{int(realization)}"
    cosmology = cosmology_description(mock.detector.cosmology)
    priors = bilby_prior_strings(mock.errors, cosmology)
    with replace_folder_atomically(root) as folder:
        (folder / "posteriors").mkdir()
        for i, name in enumerate(mock.event_names):
            write_pesummary_event(folder / "pesummary" / f"{name}.h5", mock.posteriors[i],
                                  priors=priors, cosmology=cosmology)
            table = _named_columns(mock.parameter_names, mock.event_theta(i))
            _write_table(folder / "posteriors" / f"{name}.dat", table | {"log_prior":
                                                                          mock.log_priors[i]})
        truths = _named_columns(mock.parameter_names, mock.truths)
        truths.update(snr=mock.snr[mock.detected], component=mock.labels[mock.detected])
        _write_table(folder / "injections.dat", truths)
        write_injection_files(mock.injections_o3, mock.injections_o4, folder)
        write_text_atomically(folder / "hyperparameters.json",
                              json.dumps(mock.hyperparameters, indent=2))
        write_text_atomically(folder / "catalog.json", json.dumps(_metadata(mock, priors),
                                                                  indent=2))
    return root


def _metadata(mock: LVKMock, priors: dict[str, str]) -> dict:
    return {
        "parameter_names": list(mock.parameter_names), "time": mock.time,
        "expected_sources": mock.expected_sources,
        "num_sources": int(mock.population_theta.shape[0]),
        "num_detected": mock.num_detected,
        "samples_per_event": int(mock.log_priors[0].shape[0]) if mock.log_priors else 0,
        "pe_prior": {"mass": mock.prior.mass, "distance": mock.prior.distance,
                     "spin": mock.prior.spin, "spin_max": list(mock.prior.spin_max),
                     "bilby": priors},
        "likelihood": {"coordinates": list(LIKELIHOOD_COORDINATES),
                       **dataclasses.asdict(mock.errors)},
        "detector": {k: v for k, v in dataclasses.asdict(mock.detector).items()
                     if k != "cosmology"},
        "cosmology": cosmology_description(mock.detector.cosmology),
        "injection_campaign": dataclasses.asdict(mock.injections_o3.campaign),
        "detection": "found when FAR = exp(-(snr^2 - snr_threshold^2) / 2) < 1 per year, "
                     "snr = snr_threshold (Mc_obs / Mc_ref)^(5/6) d_H / dL_obs w from the "
                     "observed detector-frame chirp mass, distance and orientation factor",
    }
