"""Mock catalogs: a population drawn, detected, and measured with mock errors.

One realization follows the generative model that the hierarchical likelihood
assumes (Mandel, Farr & Gair 2019, MNRAS 486, 1086):

1. the number of sources is ``N ~ Poisson(Lambda)`` with ``Lambda`` the expected
   number of mergers over the observing time ``T`` (times a volume ``V`` for a
   population without redshift), and the sources are i.i.d. draws from the
   normalised population, each with its component label;
2. each source is detected independently with probability ``p_det(theta)``, so the
   number of detections is ``Poisson(mu)``, ``mu = Lambda E[p_det]`` (thinning);
3. each detection gets mock posterior samples from
   :class:`hierax.pop.mock_errors.MockErrorModel`, with the log density of their
   reference prior as a ``log_prior`` column.

:func:`write_mock_catalog` writes a realization in the directory layout that GWKokab
and seed 000 use (whitespace text, one header line of column names)::

    <directory>/realization_<r>/posteriors/event_<i>.dat   samples + log_prior
    <directory>/realization_<r>/injections.dat             true parameters of detections
    <directory>/realization_<r>/hyperparameters.json       the true hyperparameters
    <directory>/realization_<r>/catalog.json               counts, time, volume, settings
    <directory>/realization_<r>/population.dat             every source drawn (if <= 200,000)
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hierax._files import replace_folder_atomically, write_text_atomically
from hierax.pop.mock_errors import MockErrorModel
from hierax.pop.parameters import REDSHIFT

__all__ = ["MockCatalog", "make_mock_catalog", "write_mock_catalog", "LOG_PRIOR_COLUMN"]

LOG_PRIOR_COLUMN = "log_prior"
"""Name of the column holding ``ln pi(theta)`` of the reference prior."""

_MAX_SOURCES = 50_000_000
_POPULATION_FILE_LIMIT = 200_000


@dataclasses.dataclass(frozen=True, eq=False)
class MockCatalog:
    """One realization of a mock catalog (host NumPy arrays).

    Attributes:
        parameter_names: the ``d`` columns of ``theta``.
        hyperparameters: the true hyperparameters, as floats.
        time: observing time ``T`` in years.
        volume: the volume ``V`` in Gpc^3 for a population without redshift, else ``None``.
        expected_sources: ``Lambda``, the Poisson mean of the number of sources.
        population_theta: ``(N, d)`` every source drawn.
        labels: ``(N,)`` component of each source.
        detection_probability: ``(N,)`` ``p_det`` of each source.
        detected: ``(N,)`` bool, whether each source was detected.
        snr: ``(n,)`` signal-to-noise ratio of each detection.
        events: ``n`` arrays ``(M, d + 1)``: posterior samples, last column ``log_prior``.
        likelihood_centers: ``(n, d)`` centre of each mock likelihood in the error
            coordinates ``(Mc, eta, x_j...)``.
        likelihood_widths: ``(n, d)`` its standard deviations in the same coordinates.
        error_model: the :class:`MockErrorModel` used.
    """

    parameter_names: tuple[str, ...]
    hyperparameters: dict[str, float]
    time: float
    volume: float | None
    expected_sources: float
    population_theta: np.ndarray
    labels: np.ndarray
    detection_probability: np.ndarray
    detected: np.ndarray
    snr: np.ndarray
    events: tuple[np.ndarray, ...]
    likelihood_centers: np.ndarray
    likelihood_widths: np.ndarray
    error_model: MockErrorModel

    @property
    def num_sources(self) -> int:
        """``N``, the number of sources drawn."""
        return int(self.population_theta.shape[0])

    @property
    def num_detected(self) -> int:
        """``n``, the number of detections."""
        return len(self.events)

    @property
    def truths(self) -> np.ndarray:
        """``(n, d)`` true parameters of the detections, in event order."""
        return self.population_theta[self.detected]

    @property
    def truth_labels(self) -> np.ndarray:
        """``(n,)`` component labels of the detections."""
        return self.labels[self.detected]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Columns of each array in ``events``: ``parameter_names + ("log_prior",)``."""
        return self.parameter_names + (LOG_PRIOR_COLUMN,)

    @property
    def event_names(self) -> tuple[str, ...]:
        """``event_0 .. event_{n-1}``, the names used for the event files."""
        return tuple(f"event_{i}" for i in range(self.num_detected))

    def to_event_samples(self):
        """The detections' samples as :class:`hierax.pop.data.EventSamples`."""
        from hierax.pop.data import EventSamples

        if not self.events:
            raise ValueError("MockCatalog.to_event_samples: the catalog has no detections.")
        return EventSamples.from_list(
            [e[:, :-1] for e in self.events],
            log_priors=[e[:, -1] for e in self.events],
            parameter_names=self.parameter_names,
            event_names=self.event_names,
        )


def make_mock_catalog(
    key,
    model,
    hyper: Mapping,
    detector,
    time: float,
    samples_per_event: int,
    *,
    error_model: MockErrorModel | None = None,
    volume: float | None = None,
) -> MockCatalog:
    """Draw one realization of a mock catalog; deterministic given ``key``.

    Args:
        key: a ``jax.random`` key (either style).
        model: the population, any object with ``parameter_names`` (masses first),
            ``expected_number(hyper, time) -> scalar`` (the Poisson mean of the number of
            sources over ``time``, per Gpc^3 without redshift) and
            ``sample(key, hyper, num) -> (theta (num, d), labels (num,))`` (draws from the
            normalised population), e.g. :class:`hierax.pop.models.PopulationModel`.
        hyper: hyperparameters, ``dict[str, scalar]``.
        detector: an object with ``detection_probability(theta, parameter_names)``
            returning ``p_det`` in ``[0, 1]`` of shape ``(num,)`` (e.g.
            :class:`hierax.pop.selection.analytic.AnalyticDetector`), or such a callable.
            If it also has ``signal_to_noise_ratio(theta, parameter_names)``, the
            detections' SNRs come from it; otherwise they are drawn by the error model.
        time: observing time ``T`` in years (> 0).
        samples_per_event: posterior samples per detection (>= 1).
        error_model: mock error settings; default :class:`MockErrorModel()`.
        volume: the volume ``V`` in Gpc^3 the sources fill, required for a population
            without a redshift column (``p_det`` is then the detection probability
            averaged over ``V``, i.e. ``VT(theta) / (V T)``) and forbidden with one.

    Returns:
        A :class:`MockCatalog`.
    """
    names = _checked_names(model)
    error_model = MockErrorModel() if error_model is None else error_model
    error_model.column_settings(names)
    time, samples_per_event = _checked_time_and_samples(time, samples_per_event)
    volume = _checked_volume(volume, names)
    hyper_floats = {str(k): float(v) for k, v in hyper.items()}
    key_count, key_population, key_detection, key_snr, key_errors = jax.random.split(key, 5)

    expected = _expected_sources(model, hyper, time, volume)
    num_sources = int(jax.random.poisson(key_count, expected)) if expected > 0 else 0
    padded_theta, padded_labels = _draw_population(model, key_population, hyper, num_sources, names)
    padded_p_det = _detection_probability(detector, padded_theta, names)
    uniform = np.asarray(jax.random.uniform(key_detection, padded_p_det.shape, padded_theta.dtype))
    # Slices of varying length are taken on the host: only bucketed shapes reach JAX.
    theta = np.asarray(padded_theta)[:num_sources]
    labels = np.asarray(padded_labels)[:num_sources]
    p_det = padded_p_det[:num_sources]
    detected = uniform[:num_sources] < p_det

    truths = theta[detected]
    snr = _detection_snr(detector, error_model, key_snr, truths, names)
    events, centers, widths = _mock_posteriors(
        error_model, key_errors, truths, snr, names, samples_per_event
    )
    return MockCatalog(
        parameter_names=names,
        hyperparameters=hyper_floats,
        time=time,
        volume=volume,
        expected_sources=expected,
        population_theta=theta,
        labels=labels,
        detection_probability=p_det,
        detected=detected,
        snr=snr,
        events=events,
        likelihood_centers=centers,
        likelihood_widths=widths,
        error_model=error_model,
    )


def write_mock_catalog(catalog: MockCatalog, directory, realization: int) -> Path:
    """Write ``catalog`` as ``<directory>/realization_<realization>/`` (module docstring).

    Numbers are written as Python's shortest round-trip ``repr``, so float64 (and
    float32) values read back exactly. The realization is written into a temporary
    folder next to it and renamed into place when complete
    (:func:`hierax._files.replace_folder_atomically`): an interrupted write (even
    Ctrl-C) leaves no partial folder, and a realization written earlier to the same
    place is replaced, whole, only once the new one is complete. Returns the
    realization directory.
    """
    if not (isinstance(realization, int | np.integer) and realization >= 0):
        raise ValueError(
            f"write_mock_catalog: realization must be an int >= 0, got {realization!r}."
        )
    root = Path(directory) / f"realization_{int(realization)}"
    with replace_folder_atomically(root) as folder:
        _write_realization(catalog, folder)
    return root


def _write_realization(catalog: MockCatalog, root: Path) -> None:
    """Every file of one realization, into the (new, empty) folder ``root``."""
    posteriors = root / "posteriors"
    posteriors.mkdir()
    for name, samples in zip(catalog.event_names, catalog.events, strict=True):
        _write_table(posteriors / f"{name}.dat", _named_columns(catalog.column_names, samples))
    injections = _named_columns(catalog.parameter_names, catalog.truths)
    injections.update(snr=catalog.snr, component=catalog.truth_labels)
    _write_table(root / "injections.dat", injections)
    if catalog.num_sources <= _POPULATION_FILE_LIMIT:
        population = _named_columns(catalog.parameter_names, catalog.population_theta)
        population.update(
            component=catalog.labels,
            detection_probability=catalog.detection_probability,
            detected=catalog.detected,
        )
        _write_table(root / "population.dat", population)
    write_text_atomically(root / "hyperparameters.json",
                          json.dumps(catalog.hyperparameters, indent=2))
    write_text_atomically(root / "catalog.json", json.dumps(_catalog_metadata(catalog), indent=2))


def _checked_names(model) -> tuple[str, ...]:
    for method in ("sample", "expected_number"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"make_mock_catalog: model must have a `{method}` method (see "
                f"hierax.pop.models.PopulationModel), got {type(model).__name__}."
            )
    names = getattr(model, "parameter_names", None)
    if not names:
        raise TypeError("make_mock_catalog: model must have non-empty `parameter_names`.")
    return tuple(str(n) for n in names)


def _checked_time_and_samples(time, samples_per_event) -> tuple[float, int]:
    time = float(time)
    if not (math.isfinite(time) and time > 0):
        raise ValueError(f"make_mock_catalog: time must be a finite number > 0, got {time!r}.")
    if not (isinstance(samples_per_event, int | np.integer) and samples_per_event >= 1):
        raise ValueError(
            f"make_mock_catalog: samples_per_event must be an int >= 1, got {samples_per_event!r}."
        )
    return time, int(samples_per_event)


def _checked_volume(volume, names) -> float | None:
    if REDSHIFT in names:
        if volume is not None:
            raise ValueError(
                "make_mock_catalog: the population has a redshift column, so the volume "
                f"follows from it; got volume={volume!r} (pass None)."
            )
        return None
    if volume is None:
        raise ValueError(
            "make_mock_catalog: a population without redshift needs `volume` (Gpc^3), the "
            "volume its sources fill."
        )
    volume = float(volume)
    if not (math.isfinite(volume) and volume > 0):
        raise ValueError(f"make_mock_catalog: volume must be a finite number > 0, got {volume}.")
    return volume


def _expected_sources(model, hyper, time, volume) -> float:
    expected = float(model.expected_number(hyper, time)) * (1.0 if volume is None else volume)
    if not (math.isfinite(expected) and expected >= 0):
        raise ValueError(
            f"make_mock_catalog: the expected number of sources must be finite and >= 0, "
            f"got {expected} (check the rate hyperparameters)."
        )
    if expected > _MAX_SOURCES:
        raise ValueError(
            f"make_mock_catalog: {expected:.3g} sources expected, more than the "
            f"{_MAX_SOURCES:.0e} that fit in memory; lower the rate, time or volume."
        )
    return expected


def _bucket(num: int) -> int:
    """``num`` rounded up to a power of two (at least 16), to reuse compiled shapes."""
    return max(16, 1 << max(num - 1, 0).bit_length())


def _draw_population(model, key, hyper, num: int, names):
    """``_bucket(num)`` i.i.d. sources ``(theta, labels)``; the first ``num`` are the draw.

    Drawing a bucketed number keeps array shapes, hence compiled code, shared between
    realizations; the draws are i.i.d., so the first ``num`` are a valid sample.
    """
    theta, labels = model.sample(key, hyper, _bucket(num))
    theta, labels = jnp.asarray(theta), jnp.asarray(labels)
    if theta.ndim != 2 or theta.shape[1] != len(names) or labels.shape != theta.shape[:1]:
        raise ValueError(
            f"make_mock_catalog: model.sample must return theta (num, {len(names)}) and "
            f"labels (num,), got {theta.shape} and {labels.shape}."
        )
    return theta, labels


def _padded(array: np.ndarray, size: int) -> np.ndarray:
    """Host ``array`` with its first row repeated up to ``size`` rows."""
    extra = size - array.shape[0]
    return np.concatenate([array, np.repeat(array[:1], extra, axis=0)])


def _detection_probability(detector, theta, names) -> np.ndarray:
    method = getattr(detector, "detection_probability", None)
    function = method if callable(method) else detector
    if not callable(function):
        raise TypeError(
            "make_mock_catalog: detector must have `detection_probability(theta, "
            f"parameter_names)` or be callable, got {type(detector).__name__}."
        )
    p_det = np.asarray(function(theta, names))
    if p_det.shape != theta.shape[:1]:
        raise ValueError(
            f"make_mock_catalog: detection_probability returned shape {p_det.shape}, "
            f"expected {theta.shape[:1]}."
        )
    inside = (p_det >= 0) & (p_det <= 1)
    if not np.all(inside):
        raise ValueError(
            f"make_mock_catalog: detection_probability must lie in [0, 1], got {p_det[~inside][0]}."
        )
    return p_det


def _detection_snr(detector, error_model, key, truths, names):
    """``(n,)`` SNRs from the detector if it reports them, else the error model's draw."""
    num = truths.shape[0]
    snr_method = getattr(detector, "signal_to_noise_ratio", None)
    if num == 0 or not callable(snr_method):
        return np.asarray(error_model.draw_snr(key, _bucket(num), truths.dtype))[:num]
    snr = np.asarray(snr_method(jnp.asarray(_padded(truths, _bucket(num))), names))
    snr = snr.astype(truths.dtype)[:num]
    if snr.shape != (num,) or not np.all(np.isfinite(snr) & (snr > 0)):
        raise ValueError(
            "make_mock_catalog: detector.signal_to_noise_ratio must return finite positive "
            f"values, one per source ({num},)."
        )
    return snr


def _mock_posteriors(error_model, key, truths, snr, names, samples_per_event):
    """``(events tuple of (M, d+1), centers (n, d), widths (n, d))`` as NumPy."""
    num, dim = truths.shape
    if num == 0:
        empty = np.zeros((0, dim), np.dtype(truths.dtype))
        return (), empty, empty
    padded = _bucket(num)
    samples, log_prior, centers, widths, unresolved = error_model.posterior_samples(
        key,
        _padded(truths, padded),
        _padded(snr, padded),
        names,
        samples_per_event,
    )
    if int(np.sum(np.asarray(unresolved)[:num])) > 0:
        raise RuntimeError(
            "make_mock_catalog: some posterior samples stayed on the boundary of the "
            f"support after {error_model.max_redraws} redraws; raise max_redraws."
        )
    samples, log_prior = np.asarray(samples)[:num], np.asarray(log_prior)[:num]
    events = tuple(
        np.column_stack([samples[i], log_prior[i].astype(samples.dtype)]) for i in range(num)
    )
    return events, np.asarray(centers)[:num], np.asarray(widths)[:num]


def _named_columns(names, array) -> dict[str, np.ndarray]:
    array = np.asarray(array).reshape(-1, len(names))
    return {name: array[:, j] for j, name in enumerate(names)}


def _catalog_metadata(catalog: MockCatalog) -> dict:
    error_model = catalog.error_model
    return {
        "parameter_names": list(catalog.parameter_names),
        "time": catalog.time,
        "volume": catalog.volume,
        "expected_sources": catalog.expected_sources,
        "num_sources": catalog.num_sources,
        "num_detected": catalog.num_detected,
        "samples_per_event": int(catalog.events[0].shape[0]) if catalog.events else 0,
        "error_model": {
            "chirp_mass_scale": error_model.chirp_mass_scale,
            "eta_scale": error_model.eta_scale,
            "scales": dict(error_model.scales),
            "bounds": {
                name: [_json_number(low), _json_number(high)]
                for name, (low, high) in error_model.bounds.items()
            },
            "scale_with_snr": error_model.scale_with_snr,
            "snr_threshold": error_model.snr_threshold,
        },
    }


def _json_number(value: float) -> float | None:
    """JSON has no infinity: unbounded ends are written as ``null``."""
    return float(value) if math.isfinite(value) else None


def _format_table(columns: Mapping[str, np.ndarray]) -> str:
    """Header line of names, then one row per entry; floats as ``repr`` (exact round trip)."""
    formatters = []
    for values in columns.values():
        values = np.asarray(values)
        if np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_:
            formatters.append([str(int(v)) for v in values])
        else:
            formatters.append([repr(float(v)) for v in values])
    lines = [" ".join(columns)]
    lines.extend(" ".join(row) for row in zip(*formatters, strict=True))
    return "\n".join(lines) + "\n"


def _write_table(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    write_text_atomically(path, _format_table(columns))
