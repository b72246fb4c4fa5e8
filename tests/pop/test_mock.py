"""Mock catalogs: Poisson counts, the stated error model, the log_prior column, files."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from hierax.pop.mock import LOG_PRIOR_COLUMN, MockCatalog, make_mock_catalog, write_mock_catalog
from hierax.pop.mock_errors import (
    MockErrorModel,
    chirp_mass,
    component_masses,
    log_jacobian_chirp_mass_eta,
    sample_truncated_normal,
    symmetric_mass_ratio,
)
from hierax.pop.readers import read_text_events

NAMES = ("mass_1_source", "mass_2_source", "a_1", "cos_tilt_1", "redshift")
SAMPLES = 64  # one compiled error-model shape shared by the tests below


class ToyPopulation:
    """m1 ~ U(10, 50), m2 ~ U(5, m1), a_1 ~ U(0, 1), cos_tilt_1 ~ U(-1, 1), z ~ U(0.05, 1)."""

    parameter_names = NAMES

    def expected_number(self, hyper, time):
        return jnp.exp(hyper["log_rate_0"]) * time

    def sample(self, key, hyper, num):
        k = jax.random.split(key, 5)
        m1 = jax.random.uniform(k[0], (num,), minval=10.0, maxval=50.0)
        m2 = 5.0 + (m1 - 5.0) * jax.random.uniform(k[1], (num,))
        a1 = jax.random.uniform(k[2], (num,))
        cos_tilt = jax.random.uniform(k[3], (num,), minval=-1.0, maxval=1.0)
        z = jax.random.uniform(k[4], (num,), minval=0.05, maxval=1.0)
        return jnp.stack([m1, m2, a1, cos_tilt, z], axis=1), (m1 > 30).astype(jnp.int32)


class ToyDetector:
    """p_det = sigmoid((m1 - 30) / 5); its mean over m1 ~ U(10, 50) is exactly 1/2."""

    def detection_probability(self, theta, parameter_names):
        return jax.nn.sigmoid((theta[:, parameter_names.index("mass_1_source")] - 30.0) / 5.0)


def _catalog(seed, rate=40.0, samples=SAMPLES, **kwargs):
    return make_mock_catalog(
        jax.random.PRNGKey(seed),
        ToyPopulation(),
        {"log_rate_0": math.log(rate)},
        ToyDetector(),
        1.0,
        samples,
        **kwargs,
    )


def test_number_of_detections_is_poisson_with_mean_mu():
    # Lambda = 10 sources, mu = Lambda * E[p_det] = 5 detections per realization.
    counts = np.array([_catalog(seed, rate=10.0).num_detected for seed in range(200)])
    mu, n = 5.0, counts.size
    assert abs(counts.mean() - mu) < 5 * math.sqrt(mu / n)
    # Index of dispersion: sum (x - mean)^2 / mean ~ chi2(n - 1) for Poisson counts; a
    # fixed number of sources (binomial counts) would give about half of it.
    dispersion = np.sum((counts - counts.mean()) ** 2) / counts.mean()
    assert stats.chi2(n - 1).ppf(1e-4) < dispersion < stats.chi2(n - 1).ppf(1 - 1e-4)
    # Chi-square against the Poisson pmf, tail bins merged.
    edges = np.arange(0, 11)
    observed = np.array([np.sum(counts == k) for k in edges[:-1]] + [np.sum(counts >= 10)])
    expected = n * np.append(stats.poisson(mu).pmf(edges[:-1]), stats.poisson(mu).sf(9))
    statistic = np.sum((observed - expected) ** 2 / expected)
    assert statistic < stats.chi2(len(observed) - 1).ppf(1 - 1e-4)


def test_detections_follow_detection_probability():
    catalog = _catalog(3)
    p = catalog.detection_probability
    assert catalog.num_sources > 20
    assert abs(catalog.num_detected - p.sum()) < 5 * math.sqrt(np.sum(p * (1 - p)))
    np.testing.assert_array_equal(catalog.truths, catalog.population_theta[catalog.detected])
    assert set(np.unique(catalog.labels)) == {0, 1}


def test_catalog_is_deterministic_given_the_key():
    first, again, other = _catalog(7), _catalog(7), _catalog(8)
    np.testing.assert_array_equal(first.population_theta, again.population_theta)
    for a, b in zip(first.events, again.events, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.population_theta.shape != other.population_theta.shape or not np.array_equal(
        first.population_theta, other.population_theta
    )


def test_events_have_samples_and_log_prior_columns():
    catalog = _catalog(11)
    assert catalog.num_detected > 5
    assert catalog.column_names == NAMES + (LOG_PRIOR_COLUMN,)
    for event in catalog.events:
        assert event.shape == (SAMPLES, len(NAMES) + 1)
        assert np.all(np.isfinite(event))
        assert np.all(event[:, 0] > event[:, 1])
        assert np.all((event[:, 2] > 0) & (event[:, 2] < 1))
        assert np.all((event[:, 3] > -1) & (event[:, 3] < 1))
        assert np.all(event[:, 4] > 0)
    samples = catalog.to_event_samples()
    assert samples.num_events == catalog.num_detected
    assert samples.parameter_names == NAMES


def test_float64_catalog_round_trips_and_log_prior_is_the_jacobian(tmp_path, x64):
    catalog = _catalog(5)
    assert catalog.events[0].dtype == np.float64
    root = write_mock_catalog(catalog, tmp_path, 0)
    events = read_text_events(str(root / "posteriors" / "event_*.dat"), NAMES)
    np.testing.assert_array_equal(events.theta, catalog.to_event_samples().theta)
    np.testing.assert_array_equal(events.log_prior, catalog.to_event_samples().log_prior)

    event = np.concatenate(catalog.events)[:200]
    m1, m2 = event[:, 0], event[:, 1]

    def chirp_eta(masses):
        return jnp.stack([chirp_mass(masses[0], masses[1]), symmetric_mass_ratio(*masses)])

    jacobians = jax.vmap(jax.jacfwd(chirp_eta))(jnp.stack([m1, m2], axis=1))
    # Central differences as an independent check of the autodiff Jacobian.
    step = 1e-6 * m1
    numeric_d_m1 = np.asarray(
        chirp_eta(jnp.stack([m1 + step, m2])) - chirp_eta(jnp.stack([m1 - step, m2]))
    ) / (2 * step)
    np.testing.assert_allclose(np.asarray(jacobians[:, :, 0]).T, numeric_d_m1, rtol=1e-6)
    log_det = np.log(np.abs(np.linalg.det(np.asarray(jacobians))))
    # Flat priors: cos_tilt_1 on [-1, 1] (density 1/2); a_1 on [0, 1]; Mc, z improper.
    np.testing.assert_allclose(event[:, -1], log_det - math.log(2.0), rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(
        log_jacobian_chirp_mass_eta(jnp.asarray(m1), jnp.asarray(m2)), log_det, rtol=1e-10
    )


def test_component_masses_inverts_chirp_mass_and_eta(x64):
    m1 = jnp.array([30.0, 10.0, 1.4, 80.0, 20.0])
    m2 = jnp.array([29.0, 2.0, 1.3, 5.0, 20.0])
    back_m1, back_m2, _ = component_masses(chirp_mass(m1, m2), symmetric_mass_ratio(m1, m2))
    np.testing.assert_allclose(back_m1, m1, rtol=1e-6)
    np.testing.assert_allclose(back_m2, m2, rtol=1e-6)


def test_truncated_normal_matches_scipy(float_dtype):
    low = np.array([-1.0, 5.0, -np.inf, 0.5])
    high = np.array([2.0, 6.0, -8.0, np.inf])
    draws = sample_truncated_normal(
        jax.random.PRNGKey(0), jnp.zeros((), float_dtype), 1.0, low, high, (4000, 4)
    )
    assert draws.dtype == float_dtype
    assert np.all((draws >= low) & (draws <= high))
    for column in range(4):
        reference = stats.truncnorm(low[column], high[column])
        values = np.asarray(draws[:, column], np.float64)
        assert stats.kstest(values, reference.cdf).pvalue > 1e-4, (low[column], high[column])


def test_posterior_marginals_are_the_stated_truncated_normals(x64):
    model = MockErrorModel(scales={"a_1": 0.2, "cos_tilt_1": 0.3, "redshift": 0.2})
    truths = jnp.array([[30.0, 29.5, 0.95, -0.9, 0.1], [12.0, 3.0, 0.05, 0.2, 0.8]])
    samples, log_prior, centers, widths, unresolved = model.posterior_samples(
        jax.random.PRNGKey(2), truths, jnp.array([9.0, 25.0]), NAMES, 4000
    )
    assert int(unresolved.sum()) == 0
    bounds = [(0.0, math.inf), (0.0, 0.25), (0.0, 1.0), (-1.0, 1.0), (0.0, math.inf)]
    for event in range(2):
        m1, m2 = samples[event, :, 0], samples[event, :, 1]
        coordinates = [chirp_mass(m1, m2), symmetric_mass_ratio(m1, m2)] + [
            samples[event, :, j] for j in range(2, 5)
        ]
        for column, (values, (low, high)) in enumerate(zip(coordinates, bounds, strict=True)):
            loc, scale = float(centers[event, column]), float(widths[event, column])
            reference = stats.truncnorm((low - loc) / scale, (high - loc) / scale, loc, scale)
            assert stats.kstest(np.asarray(values), reference.cdf).pvalue > 1e-4, (event, column)
    # Banana widths: eta error 0.03 * 12 / rho relative; Mc error capped at 7% * 12 / rho.
    eta = symmetric_mass_ratio(truths[0, 0], truths[0, 1])
    np.testing.assert_allclose(widths[0, 1], eta * 0.03 * 12 / 9, rtol=1e-12)
    np.testing.assert_allclose(widths[0, 0], chirp_mass(30.0, 29.5) * 0.07 * 12 / 9, rtol=1e-12)


def test_write_and_read_round_trip(tmp_path):
    catalog = _catalog(13)
    root = write_mock_catalog(catalog, tmp_path / "data", 2)
    assert root == tmp_path / "data" / "realization_2"
    events = read_text_events(str(root / "posteriors" / "event_*.dat"), NAMES)
    assert events.event_names == catalog.event_names
    reference = catalog.to_event_samples()
    np.testing.assert_array_equal(events.theta, reference.theta.astype(np.float64))
    np.testing.assert_array_equal(events.log_prior, reference.log_prior)
    injections = read_text_events(str(root / "injections.dat"), NAMES + ("snr", "component"))
    np.testing.assert_array_equal(injections.theta[:, :-2], catalog.truths)
    np.testing.assert_array_equal(injections.theta[:, -1], catalog.truth_labels)
    with open(root / "hyperparameters.json") as stream:
        assert json.load(stream) == {"log_rate_0": math.log(40.0)}
    with open(root / "catalog.json") as stream:
        metadata = json.load(stream)
    assert metadata["num_detected"] == catalog.num_detected
    assert metadata["num_sources"] == catalog.num_sources
    population = read_text_events(str(root / "population.dat"), ("detected",))
    np.testing.assert_array_equal(population.theta[:, 0], catalog.detected)
    leftovers = [n for _, _, files in os.walk(tmp_path) for n in files if n.endswith(".tmp")]
    assert leftovers == []


def test_rewriting_a_realization_removes_stale_events(tmp_path):
    larger, smaller = _catalog(13), _catalog(13, rate=10.0)
    assert larger.num_detected > smaller.num_detected
    write_mock_catalog(larger, tmp_path, 0)
    root = write_mock_catalog(smaller, tmp_path, 0)
    names = sorted(os.listdir(root / "posteriors"))
    assert names == sorted(f"{name}.dat" for name in smaller.event_names)


def test_snr_from_the_detector_is_used():
    class LoudDetector(ToyDetector):
        def signal_to_noise_ratio(self, theta, parameter_names):
            return jnp.full(theta.shape[:1], 100.0)

    catalog = make_mock_catalog(
        jax.random.PRNGKey(0), ToyPopulation(), {"log_rate_0": 3.0}, LoudDetector(), 1.0, SAMPLES
    )
    np.testing.assert_array_equal(catalog.snr, 100.0)


def test_empty_catalog_is_allowed(tmp_path):
    catalog = _catalog(0, rate=1e-12)
    assert catalog.num_sources == 0 and catalog.num_detected == 0
    root = write_mock_catalog(catalog, tmp_path, 0)
    assert os.listdir(root / "posteriors") == []
    with pytest.raises(ValueError, match="no detections"):
        catalog.to_event_samples()


def test_population_without_redshift_needs_a_volume():
    class NoRedshift(ToyPopulation):
        parameter_names = NAMES[:4]

        def sample(self, key, hyper, num):
            theta, labels = super().sample(key, hyper, num)
            return theta[:, :4], labels

    hyper = {"log_rate_0": 0.0}
    with pytest.raises(ValueError, match="needs `volume`"):
        make_mock_catalog(jax.random.PRNGKey(0), NoRedshift(), hyper, ToyDetector(), 1.0, 4)
    catalog = make_mock_catalog(
        jax.random.PRNGKey(0), NoRedshift(), hyper, ToyDetector(), 2.0, SAMPLES, volume=10.0
    )
    assert catalog.expected_sources == pytest.approx(20.0)
    with pytest.raises(ValueError, match="has a redshift column"):
        _catalog(0, volume=1.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"time": 0.0}, ValueError, "time must be"),
        ({"samples_per_event": 0}, ValueError, "samples_per_event must be"),
        ({"model": object()}, TypeError, "must have a `sample` method"),
        ({"detector": 3}, TypeError, "detector must have"),
        ({"detector": lambda theta, names: 2.0 + theta[:, 0]}, ValueError, r"lie in \[0, 1\]"),
        ({"hyper": {"log_rate_0": math.inf}}, ValueError, "expected number of sources"),
        ({"error_model": MockErrorModel(scales={})}, ValueError, "no error scale"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    arguments = {
        "key": jax.random.PRNGKey(0),
        "model": ToyPopulation(),
        "hyper": {"log_rate_0": 1.0},
        "detector": ToyDetector(),
        "time": 1.0,
        "samples_per_event": 4,
    }
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        make_mock_catalog(**arguments)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"chirp_mass_scale": -1.0}, "chirp_mass_scale must be"),
        ({"scales": {"a_1": 0.0}}, "scale of 'a_1'"),
        ({"bounds": {"a_1": (1.0, 0.0)}}, "bounds of 'a_1'"),
        ({"max_redraws": -1}, "max_redraws"),
    ],
)
def test_invalid_error_model(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MockErrorModel(**kwargs)


def test_masses_must_come_first():
    with pytest.raises(ValueError, match="first two columns"):
        MockErrorModel().column_settings(("a_1", "mass_1_source", "mass_2_source"))


def test_catalog_type_and_invalid_realization(tmp_path):
    catalog = _catalog(1)
    assert isinstance(catalog, MockCatalog)
    with pytest.raises(ValueError, match="realization must be"):
        write_mock_catalog(catalog, tmp_path, -1)


def test_with_population_model_and_analytic_detector(tmp_path):
    models = pytest.importorskip("hierax.pop.models")
    analytic = pytest.importorskip("hierax.pop.selection.analytic")
    model = models.PopulationModel(1, 0, redshift=True)
    hyper = {
        "log_rate_0": math.log(20.0),
        "alpha_pl_0": 2.0,
        "beta_pl_0": 1.0,
        "mmin_pl_0": 5.0,
        "mmax_pl_0": 60.0,
        "redshift_kappa_pl_0": 2.0,
        "redshift_z_max_pl_0": 0.5,
    }
    detector = analytic.AnalyticDetector(horizon_distance=2000.0)
    catalog = make_mock_catalog(jax.random.PRNGKey(4), model, hyper, detector, 0.5, SAMPLES)
    expected = float(model.expected_number(hyper, 0.5))
    assert abs(catalog.num_sources - expected) < 5 * math.sqrt(expected)
    p = catalog.detection_probability
    assert 10 < catalog.num_detected < catalog.num_sources
    assert abs(catalog.num_detected - p.sum()) < 5 * math.sqrt(np.sum(p * (1 - p)))
    root = write_mock_catalog(catalog, tmp_path, 0)
    events = read_text_events(str(root / "posteriors" / "event_*.dat"), model.parameter_names)
    assert events.num_events == catalog.num_detected
    assert np.all(np.isfinite(np.asarray(model.log_rate_density(catalog.truths, hyper))))
