"""LVK-like mock catalogs: file round trips, the recorded PE prior, exact posterior draws,
and the O3/O4 injection files.

Statistical checks use fixed seeds and tolerances from the Monte Carlo error:
a self-normalised weighted bin fraction ``p = sum_bin w / sum w`` has variance
``sum w_i^2 (1_i - p)^2 / (sum w)^2`` (delta method), and the selection estimates
carry the estimator's own variance. Differences must stay below 4.5 standard
deviations (each check is done on ~10 bins, so a false alarm has probability < 1e-4).
"""

import json
import math

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.lvk_files import (
    write_o3_injections,
    write_o4_injections,
    write_pesummary_event,
)
from hierax.pop.mock_lvk import make_lvk_mock, write_lvk_mock
from hierax.pop.mock_lvk_injections import (
    SECONDS_PER_YEAR,
    InjectionCampaign,
    detection_probability,
    detection_snr,
    draw_injections,
    write_injection_files,
)
from hierax.pop.mock_lvk_pe import (
    LVKErrorModel,
    bilby_prior_strings,
    component_masses,
    log_prior_factor,
    sample_gaussian_times_monotone,
    sample_posterior,
)
from hierax.pop.models import PopulationModel
from hierax.pop.pe_prior import PEPrior, log_pe_prior, luminosity_distance_gradient
from hierax.pop.pesummary import read_pesummary_events
from hierax.pop.readers import read_text_events
from hierax.pop.selection.analytic import AnalyticDetector
from hierax.pop.selection.lvk_injections import lvk_injections, read_lvk_injections

MODEL = PopulationModel(1, 0, spin=True, redshift=True)
HYPER = {"log_rate_0": math.log(10.0), "alpha_pl_0": 2.0, "beta_pl_0": 1.0, "mmin_pl_0": 5.0,
         "mmax_pl_0": 60.0, "a_1_mean_pl_0": 0.3, "a_1_variance_pl_0": 0.03,
         "a_2_mean_pl_0": 0.3, "a_2_variance_pl_0": 0.03, "redshift_kappa_pl_0": 2.0,
         "redshift_z_max_pl_0": 1.0}
CAMPAIGN = InjectionCampaign(num_draws=40_000, mass_range=(4.0, 130.0), redshift_max=1.0)
SIGMAS = 4.5


@pytest.fixture(scope="module")
def realization(tmp_path_factory):
    mock = make_lvk_mock(3, MODEL, HYPER, samples_per_event=300, campaign=CAMPAIGN)
    root = write_lvk_mock(mock, tmp_path_factory.mktemp("lvk"), 0)
    return mock, root


def _weighted_fraction(values, weights, low, high):
    """Self-normalised weighted fraction in ``[low, high)`` and its variance."""
    inside = (values >= low) & (values < high)
    total = weights.sum()
    p = weights[inside].sum() / total
    return p, np.sum(weights**2 * (inside - p) ** 2) / total**2


# -- files ---------------------------------------------------------------------------------------


def test_realization_files_round_trip(realization):
    mock, root = realization
    assert 10 < mock.num_detected < 80
    names = MODEL.parameter_names
    events = read_pesummary_events(str(root / "pesummary" / "event_*.h5"), columns=names)
    text = read_text_events(str(root / "posteriors" / "event_*.dat"), names)
    assert events.event_names == text.event_names == mock.event_names
    expected = np.concatenate([mock.event_theta(i) for i in range(mock.num_detected)])
    recorded = np.concatenate(mock.log_priors)
    np.testing.assert_array_equal(events.theta, expected)
    np.testing.assert_array_equal(text.theta, expected)
    np.testing.assert_allclose(events.log_prior, recorded, rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(text.log_prior, recorded)
    # the detector-frame columns give the same samples (redshift inverted from d_L)
    detector = read_pesummary_events(str(root / "pesummary" / "event_*.h5"), columns=names,
                                     frame="detector")
    np.testing.assert_allclose(detector.theta, expected, rtol=1e-9)
    assert json.loads((root / "hyperparameters.json").read_text()) == pytest.approx(HYPER)
    catalog = json.loads((root / "catalog.json").read_text())
    assert catalog["num_detected"] == mock.num_detected
    assert catalog["pe_prior"]["distance"] == "dl_squared"
    truths = np.loadtxt(root / "injections.dat", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(truths[:, : len(names)], mock.truths)
    assert not list(root.parent.glob(".*"))  # no temporary files left behind


def test_recorded_log_prior_is_the_lvk_prior(realization):
    """ln pi = 2 ln(1 + z) + 2 ln d_L + ln dD_L/dz - 2 ln a_max (flat detector masses,
    d_L^2, uniform spins), up to a constant: written here without pe_prior's code path."""
    mock, _ = realization
    for i in (0, mock.num_detected - 1):
        s = mock.posteriors[i]
        z = s["redshift"]
        direct = (2 * np.log1p(z) + 2 * np.log(PLANCK15.luminosity_distance(z))
                  + np.log(luminosity_distance_gradient(PLANCK15, z)) - 2 * math.log(0.99))
        np.testing.assert_allclose(mock.log_priors[i] - direct, 0.0, atol=1e-9)
        prior = PEPrior("flat_detector_components", "dl_squared", spin="uniform_isotropic",
                        spin_max=0.99)
        columns = {name: s[name] for name in MODEL.parameter_names}
        np.testing.assert_array_equal(log_pe_prior(prior, columns), mock.log_priors[i])
        np.testing.assert_allclose(s["mass_1"] / s["mass_1_source"], 1 + z, rtol=1e-12)
        np.testing.assert_allclose(PLANCK15.luminosity_distance(z), s["luminosity_distance"],
                                   rtol=1e-5)
        assert np.all(s["mass_2"] <= s["mass_1"])


@pytest.mark.parametrize("layout", ["structured", "datasets", "parameter_names", "root"])
def test_pesummary_writer_layouts_and_cosmology(tmp_path, layout):
    rng = np.random.default_rng(0)
    z = rng.uniform(0.1, 0.6, 50)
    cosmology = Cosmology(hubble_constant=70.0, matter_density=0.3)
    samples = {"mass_1": 30 * (1 + z), "mass_2": 20 * (1 + z),
               "luminosity_distance": cosmology.luminosity_distance(z)}
    path = write_pesummary_event(tmp_path / "GW1.h5", samples, layout=layout,
                                 priors=bilby_prior_strings(LVKErrorModel()),
                                 cosmology=cosmology, label="C01:IMRPhenomXPHM")
    events = read_pesummary_events([path], labels=["C01:IMRPhenomXPHM"])
    np.testing.assert_allclose(events.theta[:, 2], z, rtol=1e-5)  # the file's cosmology
    np.testing.assert_allclose(events.theta[:, 0], 30 * (1 + z) / (1 + events.theta[:, 2]))
    with h5py.File(path) as handle:
        assert sorted(handle) == (["meta_data", "posterior_samples", "priors", "version"]
                                  if layout == "root" else ["C01:IMRPhenomXPHM", "version"])
    assert not [p for p in tmp_path.iterdir() if p.name != "GW1.h5"]


def test_injection_writers_round_trip(tmp_path, x64):
    rng = np.random.default_rng(1)
    n = 200
    columns = {"mass1_source": rng.uniform(20, 40, n), "mass2_source": rng.uniform(5, 20, n),
               "redshift": rng.uniform(0, 1, n)}
    log_q = rng.normal(size=n)
    ifar = np.where(rng.uniform(size=n) < 0.5, 10.0, 0.1)
    o3 = write_o3_injections(tmp_path / "o3.hdf5", columns, ifar={"gstlal": ifar},
                             total_generated=1000, analysis_time_s=SECONDS_PER_YEAR,
                             log_sampling_pdf=log_q)
    weights = rng.uniform(0.5, 2.0, n)
    o4 = write_o4_injections(tmp_path / "o4.hdf5", columns, far={"pycbc": 1 / ifar},
                             lnpdraw={"mass1_source_mass2_source_redshift": log_q},
                             weights=weights, total_generated=1000,
                             total_analysis_time=2 * SECONDS_PER_YEAR)
    names = ("mass_1_source", "mass_2_source", "redshift")
    found = ifar > 1
    a, b = read_lvk_injections(o3, names), read_lvk_injections(o4, names)
    assert (a.layout, b.layout, a.total_generated, b.total_generated) == ("o3", "o4", 1000, 1000)
    assert (a.analysis_time, b.analysis_time) == (1.0, 2.0)
    np.testing.assert_allclose(a.log_draw_density, log_q[found], rtol=1e-12)
    np.testing.assert_allclose(b.log_draw_density, log_q[found] - np.log(weights[found]),
                               rtol=1e-12)
    np.testing.assert_array_equal(a.columns["mass_1_source"], columns["mass1_source"][found])
    np.testing.assert_array_equal(b.columns["redshift"], columns["redshift"][found])


# -- exact posterior draws -------------------------------------------------------------------------


@pytest.mark.parametrize("name, mean, sigma, low, high", [
    ("luminosity_distance", 400.0, 300.0, 10.0, 5000.0),   # d^2 pulls far from the centre
    ("mass_ratio", 0.3, 0.2, 0.05, 1.0),                   # decreasing factor, both bounds
    ("chirp_mass", 20.0, 2.0, 2.0, 400.0),
    ("a_1", 0.95, 0.3, 0.0, 0.99),                         # plain truncated normal
])
def test_gaussian_times_monotone_sampler_is_exact(name, mean, sigma, low, high):
    rng = np.random.default_rng(7)
    draws = sample_gaussian_times_monotone(rng, 20_000, mean, sigma, low, high,
                                           lambda x: log_prior_factor(name, x))
    assert draws.shape == (20_000,) and np.all((draws >= low) & (draws <= high))
    grid = np.linspace(low, high, 20_001)
    density = np.exp(log_prior_factor(name, grid) - 0.5 * ((grid - mean) / sigma) ** 2)
    cdf = integrate.cumulative_trapezoid(density, grid, initial=0.0)
    cdf /= cdf[-1]
    result = stats.kstest(draws, lambda x: np.interp(x, grid, cdf))
    assert result.pvalue > 1e-3, result


def test_reweighted_samples_recover_the_likelihood(tmp_path):
    """Posterior draws written to a PESummary file and read back, weighted by 1/pi of the
    reader, follow the likelihood L(theta) in (m1_source, m2_source, z). The reference is
    independent: draws of (ln Mc_det, q, ln d_L) from L (scipy; L is Gaussian in these),
    weighted by |d theta / d(ln Mc, q, ln d_L)| from finite differences of the coordinate
    change."""
    errors = LVKErrorModel()
    center = {"chirp_mass": 25.0, "mass_ratio": 0.6, "luminosity_distance": 1200.0,
              "a_1": 0.4, "a_2": 0.2, "cos_tilt_1": 0.1, "cos_tilt_2": -0.3}
    width = {"chirp_mass": 0.04, "mass_ratio": 0.12, "luminosity_distance": 0.25,
             "a_1": 0.2, "a_2": 0.3, "cos_tilt_1": 0.5, "cos_tilt_2": 0.5}
    rng = np.random.default_rng(11)
    draws = sample_posterior(rng, center, width, errors, 40_000)
    samples = _source_frame(draws["chirp_mass"], draws["mass_ratio"],
                            draws["luminosity_distance"])
    samples |= {k: draws[k] for k in ("a_1", "a_2", "cos_tilt_1", "cos_tilt_2")}
    path = write_pesummary_event(tmp_path / "GW2.h5", samples, priors=bilby_prior_strings(errors))
    columns = ("mass_1_source", "mass_2_source", "redshift", "a_1", "cos_tilt_2")
    events = read_pesummary_events([path], columns=columns)
    weights = np.exp(-(events.log_prior - events.log_prior.max()))

    x = {}
    for k in ("chirp_mass", "mass_ratio", "luminosity_distance"):
        log = k != "mass_ratio"
        low, high = np.log(errors.bounds()[k]) if log else errors.bounds()[k]
        mean = math.log(center[k]) if log else center[k]
        u = stats.truncnorm.rvs((low - mean) / width[k], (high - mean) / width[k], loc=mean,
                                scale=width[k], size=200_000, random_state=rng)
        x[k] = np.exp(u) if log else u
    reference = _source_frame(x["chirp_mass"], x["mass_ratio"], x["luminosity_distance"])
    jacobian = (_jacobian(x["chirp_mass"], x["mass_ratio"], x["luminosity_distance"])
                * x["chirp_mass"] * x["luminosity_distance"])  # d x / d ln x = x
    for j, name in enumerate(("mass_1_source", "redshift")):
        edges = np.quantile(reference[name], np.linspace(0, 1, 7))
        edges[0], edges[-1] = -np.inf, np.inf
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            p, var = _weighted_fraction(events.theta[:, [0, 2][j]], weights, low, high)
            p_ref, var_ref = _weighted_fraction(reference[name], jacobian, low, high)
            assert abs(p - p_ref) < SIGMAS * math.sqrt(var + var_ref), (name, low, p, p_ref)
    # spins: L restricted to the prior, a truncated normal
    a = stats.truncnorm((0 - 0.4) / 0.2, (0.99 - 0.4) / 0.2, loc=0.4, scale=0.2)
    for low, high in ((0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0)):
        p, var = _weighted_fraction(events.theta[:, 3], weights, low, high)
        assert abs(p - (a.cdf(high) - a.cdf(low))) < SIGMAS * math.sqrt(var)


def _source_frame(chirp_mass, mass_ratio, distance):
    m1, m2 = component_masses(chirp_mass, mass_ratio)
    z = PLANCK15.redshift_at_luminosity_distance(distance)
    return {"mass_1": m1, "mass_2": m2, "luminosity_distance": distance, "redshift": z,
            "mass_1_source": m1 / (1 + z), "mass_2_source": m2 / (1 + z)}


def _jacobian(chirp_mass, mass_ratio, distance):
    """|det d(m1_s, m2_s, z) / d(Mc, q, d_L)| by central differences."""
    x = np.stack([chirp_mass, mass_ratio, distance])
    steps = np.array([1e-5, 1e-6, 1e-3])[:, None] * np.maximum(np.abs(x), 1.0)
    columns = []
    for k in range(3):
        up, down = x.copy(), x.copy()
        up[k] += steps[k]
        down[k] -= steps[k]
        f_up, f_down = _source_frame(*up), _source_frame(*down)
        columns.append([(f_up[n] - f_down[n]) / (2 * steps[k])
                        for n in ("mass_1_source", "mass_2_source", "redshift")])
    matrix = np.moveaxis(np.array(columns), -1, 0)  # (n, input, output)
    return np.abs(np.linalg.det(matrix))


# -- injections and selection ---------------------------------------------------------------------


def test_detection_rule_is_recorded_as_far(realization):
    """Detection is a function of the data only: the SNR of the catalog and of every
    injection is statistic (1) of the observed chirp mass, distance and orientation."""
    mock, root = realization
    threshold = mock.detector.snr_threshold
    np.testing.assert_array_equal(mock.detected, mock.snr > threshold)
    centers = mock.likelihood_centers
    np.testing.assert_allclose(mock.snr[mock.detected], detection_snr(
        mock.detector, centers["chirp_mass"], centers["luminosity_distance"],
        mock.orientation[mock.detected]), rtol=1e-13)
    for injections, name in ((mock.injections_o3, "o3"), (mock.injections_o4, "o4")):
        f = injections.fields
        np.testing.assert_array_equal(f["snr"], detection_snr(
            mock.detector, f["observed_chirp_mass"], f["observed_luminosity_distance"],
            f["orientation"]))
        np.testing.assert_array_equal(f["far"] < 1, f["snr"] > threshold)
        read = read_lvk_injections(root / f"{name}_injections.hdf5", MODEL.parameter_names)
        assert read.total_generated == CAMPAIGN.num_draws
        assert read.columns["redshift"].shape == (int(np.sum(f["snr"] > threshold)),)
    with h5py.File(root / "o4_injections.hdf5") as handle:
        stored = handle["events"].shape[0]
    far = mock.injections_o4.fields["far"]
    assert stored == int(np.sum(far < 100.0))
    assert int(np.sum(far < 1)) < stored < CAMPAIGN.num_draws  # found and missed draws stored


def test_found_fraction_is_the_detection_probability():
    """Data simulated for one source many times are found with the probability that
    detection_probability computes (binomial error)."""
    from hierax.pop.mock_lvk_injections import observe_amplitude

    rng, detector, errors = np.random.default_rng(5), AnalyticDetector(), LVKErrorModel()
    num = 200_000
    for m1, m2, z in ((35.0, 25.0, 0.3), (35.0, 25.0, 0.8), (10.0, 8.0, 0.2), (30.0, 30.0, 0.05)):
        chirp = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2 * (1 + z)
        distance = PLANCK15.luminosity_distance(np.array([z]))[0]
        data = observe_amplitude(rng, detector, errors, np.full(num, chirp), np.full(num, distance))
        found = np.mean(data["snr"] > detector.snr_threshold)
        p = detection_probability(detector, errors, np.array([m1]), np.array([m2]), np.array([z]))
        assert abs(found - p[0]) < SIGMAS * math.sqrt(p[0] * (1 - p[0]) / num), (m1, z, found, p)


def test_same_draws_give_the_same_density_in_both_layouts(tmp_path):
    """O3 (joint Cartesian sampling_pdf) and O4 (mass-redshift and polar spin factors) files
    of one campaign give the same found draws and draw density, whatever is modelled."""
    rng = np.random.default_rng(4)
    campaign = InjectionCampaign(num_draws=5000, mass_range=(4.0, 130.0), redshift_max=1.0)
    injections = draw_injections(rng, AnalyticDetector(), 2.0, campaign)
    o3, o4 = write_injection_files(injections, injections, tmp_path)
    f = injections.fields
    found = f["snr"] > AnalyticDetector().snr_threshold
    for names in (MODEL.parameter_names, ("mass_1_source", "mass_2_source", "redshift"),
                  ("mass_1_source", "mass_2_source", "a_1", "a_2", "cos_tilt_1",
                   "cos_tilt_2", "redshift")):
        a, b = read_lvk_injections(o3, names), read_lvk_injections(o4, names)
        assert a.analysis_time == b.analysis_time == 2.0
        np.testing.assert_allclose(a.log_draw_density, b.log_draw_density, rtol=1e-12)
        for name in names:
            np.testing.assert_allclose(a.columns[name], b.columns[name], rtol=1e-12)
    # with every spin variable modelled, the density is the one drawn from, eq. (2)
    expected = f["log_density"][found] + sum(
        np.log(2 * np.pi * f[f"spin{i}_magnitude"][found] ** 2) for i in (1, 2))
    np.testing.assert_allclose(a.log_draw_density, expected, rtol=1e-12)
    np.testing.assert_allclose(a.columns["mass_1_source"], f["mass1_source"][found])


@pytest.fixture(scope="module")
def truth(realization):
    """``Lambda E[p_det]`` and its Monte Carlo variance, from population draws (of the
    mock's compiled shape, float32 outside x64) and the ``p_det`` of the mock's rule."""
    mock, _ = realization
    sample = jax.jit(MODEL.sample, static_argnums=2)
    theta = np.concatenate([np.asarray(sample(jax.random.PRNGKey(k), HYPER, 4096)[0], float)
                            for k in range(100, 112)])
    names = MODEL.parameter_names
    p_det = detection_probability(mock.detector, mock.errors, theta[:, 0], theta[:, 1],
                                  theta[:, names.index("redshift")])
    return (mock.expected_sources * p_det.mean(),
            mock.expected_sources**2 * p_det.var() / p_det.size)


def test_o3_and_o4_files_give_the_same_selection(realization, truth, x64):
    """Two independent campaigns, one per layout, estimate mu within their errors, and both
    agree with the truth (the weights are heavy-tailed near m1 = mmin, so the files hold
    4e4 draws each)."""
    mock, root = realization
    names = MODEL.parameter_names
    terms = [lvk_injections(root / f"{name}_injections.hdf5", names).terms(
        MODEL.log_rate_density, HYPER) for name in ("o3", "o4")]
    (mu_3, var_3), (mu_4, var_4) = ((float(t.mu), float(t.variance)) for t in terms)
    assert abs(mu_3 - mu_4) < SIGMAS * math.sqrt(var_3 + var_4), (mu_3, mu_4)
    mu, var = truth
    for mu_hat, var_hat in ((mu_3, var_3), (mu_4, var_4)):
        assert math.sqrt(var_hat) < 0.2 * mu  # the check has power
        assert abs(mu_hat - mu) < SIGMAS * math.sqrt(var_hat + var), (mu_hat, mu)


SCORE_MODEL = PopulationModel(0, 1, spin=True, redshift=True)
SCORE_HYPER = {"log_rate_0": math.log(10.0), "m1_loc_g_0": 35.0, "m2_loc_g_0": 25.0,
               "m1_scale_g_0": 6.0, "m2_scale_g_0": 6.0, "m1_low_g_0": 5.0, "m1_high_g_0": 100.0,
               "m2_low_g_0": 5.0, "m2_high_g_0": 100.0, "a_1_mean_g_0": 0.3,
               "a_1_variance_g_0": 0.03, "a_2_mean_g_0": 0.3, "a_2_variance_g_0": 0.03,
               "redshift_kappa_g_0": 2.0, "redshift_z_max_g_0": 2.5}
SCORED = ("log_rate_0", "m1_loc_g_0", "m2_loc_g_0", "m1_scale_g_0", "m2_scale_g_0",
          "a_1_mean_g_0", "a_2_mean_g_0", "redshift_kappa_g_0")


def test_hierarchical_score_vanishes_at_the_truth(x64):
    """The mock is the generative model of the hierarchical likelihood (Mandel, Farr &
    Gair 2019): ln L = sum_i ln int L_i(theta) R(theta) dtheta - mu, with no p_det in the
    event terms. Then the score at the truth has mean zero: sum_i s_i - d mu, where
    s_i = sum_k w_k g_k / sum_k w_k over PE samples (w = R / pi, g = d ln R / d Lambda)
    and d mu = E[sum_j p_det(theta_j) g(theta_j)] over ALL sources j. Summed per source,
    f_j = 1_det,j s_j - p_det,j g_j, so by Campbell's theorem (the sources are a marked
    Poisson process) Var(sum_j f_j) = E[sum_j f_j f_j^T], estimated from the realization.
    A smooth population (no hard mass edges, whose PE samples could fall outside the
    support) and 8 smooth hyperparameters: chi^2 = g^T C^-1 g < chi2_8(1 - 1e-4). The
    same statistic with the p_det of detection on the TRUE parameters (the old rule)
    fails by far."""
    campaign = InjectionCampaign(num_draws=100, mass_range=(2.0, 400.0), redshift_max=2.5)
    mock = make_lvk_mock(1, SCORE_MODEL, SCORE_HYPER, samples_per_event=300, campaign=campaign)
    n, num = mock.num_detected, 300
    assert 150 < n < 350
    hyper = {k: jnp.asarray(v) for k, v in SCORE_HYPER.items()}
    value_and_grad = jax.vmap(jax.value_and_grad(
        lambda h, theta: SCORE_MODEL.log_rate_density(theta, h)), in_axes=(None, 0))
    events = np.concatenate([mock.event_theta(i) for i in range(n)])
    value, grad = jax.jit(value_and_grad)(hyper, np.concatenate([events, mock.population_theta]))
    grad = np.column_stack([np.asarray(grad[k]) for k in SCORED])
    log_w = (np.asarray(value)[: n * num] - np.concatenate(mock.log_priors)).reshape(n, num)
    assert np.all(np.isfinite(log_w).sum(axis=1) > 50)  # every event has support
    w = np.exp(log_w - np.max(log_w, axis=1, keepdims=True))
    g_events = np.nan_to_num(grad[: n * num].reshape(n, num, -1))
    s = np.einsum("ik,ikp->ip", w, g_events) / w.sum(axis=1)[:, None]
    theta = mock.population_theta
    names = SCORE_MODEL.parameter_names
    columns = (theta[:, 0], theta[:, 1], theta[:, names.index("redshift")])

    def chi2(p_det):
        f = -p_det[:, None] * grad[n * num:]
        f[mock.detected] += s
        total = f.sum(axis=0)
        return total @ np.linalg.solve(f.T @ f, total)

    critical = stats.chi2.isf(1e-4, len(SCORED))
    assert chi2(detection_probability(mock.detector, mock.errors, *columns)) < critical
    old_rule = np.asarray(mock.detector.detection_probability(theta, names))
    assert chi2(old_rule) > 2 * critical


# -- errors ---------------------------------------------------------------------------------------


def test_writer_errors(tmp_path):
    good = {"mass_1": np.ones(3), "mass_2": np.ones(3)}
    cases = [
        (lambda: write_pesummary_event(tmp_path / "a.h5", {}), "non-empty mapping"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", {"mass_1": np.ones((3, 2))}),
         r"samples\['mass_1'\] must be a non-empty 1-D array, got shape \(3, 2\)"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", good | {"x": np.ones(4)}),
         r"samples\['x'\] has 4 values, expected 3"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", {"mass_1": [1.0, np.nan]}),
         "non-finite value nan at index 1"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", good, layout="flat"), "layout must"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", good, label="a/b"), "label must"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", good, priors={"chirp_mass": 3}),
         "bilby prior strings"),
        (lambda: write_pesummary_event(tmp_path / "a.h5", good, cosmology="WMAP1"),
         "cannot read the cosmology"),
    ]
    columns = {"mass1_source": np.ones(3), "mass2_source": np.ones(3), "redshift": np.ones(3)}
    o3 = dict(ifar={"gstlal": np.ones(3)}, total_generated=10, analysis_time_s=1.0)
    o4 = dict(lnpdraw={"mass1_source_mass2_source_redshift": np.zeros(3)},
              far={"gstlal": np.ones(3)}, total_generated=10, total_analysis_time=1.0)
    cases += [
        (lambda: write_o3_injections(tmp_path / "o3.h5", {"mass1_source": np.ones(3)},
                                     sampling_pdf=np.ones(3), **o3),
         r"columns lacks \['mass2_source', 'redshift'\]"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, **o3),
         "exactly one of sampling_pdf and log_sampling_pdf"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.ones(2), **o3),
         "sampling_pdf has 2 values, expected 3"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.zeros(3), **o3),
         "density must be > 0"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns | {"spin1x": np.ones(3)},
                                     sampling_pdf=np.ones(3), **o3), "needs all of"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns | {"far_x": np.ones(3)},
                                     sampling_pdf=np.ones(3), **o3), "look like false-alarm"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.ones(3),
                                     **(o3 | {"ifar": {"g": -np.ones(3)}})), "must be >= 0"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.ones(3),
                                     **(o3 | {"ifar": {}})), "at least one search"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.ones(3),
                                     **(o3 | {"total_generated": 2})), "total_generated must"),
        (lambda: write_o3_injections(tmp_path / "o3.h5", columns, sampling_pdf=np.ones(3),
                                     **(o3 | {"analysis_time_s": 0.0})), "analysis_time_s must"),
        (lambda: write_o4_injections(tmp_path / "o4.h5", columns, **(o4 | {"lnpdraw": {}})),
         "lnpdraw must be a non-empty mapping"),
        (lambda: write_o4_injections(tmp_path / "o4.h5", columns, weights=-np.ones(3), **o4),
         "weights must be > 0"),
        (lambda: write_o4_injections(tmp_path / "o4.h5", columns | {"weights": np.ones(3)}, **o4),
         r"the fields \['weights'\] are given twice"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert not list(tmp_path.iterdir())  # nothing written, not even temporaries


def test_mock_errors():
    with pytest.raises(ValueError, match="must start with mass_1_source.*include redshift"):
        make_lvk_mock(0, PopulationModel(1, 0), HYPER)
    with pytest.raises(ValueError, match="no factor for \\['eccentricity'\\]"):
        make_lvk_mock(0, PopulationModel(1, 0, eccentricity=True, redshift=True), HYPER)
    with pytest.raises(ValueError, match="samples_per_event must be an int >= 2"):
        make_lvk_mock(0, MODEL, HYPER, samples_per_event=1)
    with pytest.raises(ValueError, match="outside the PE prior's"):
        make_lvk_mock(3, MODEL, HYPER, samples_per_event=2, campaign=CAMPAIGN,
                      errors=LVKErrorModel(distance_range=(10.0, 500.0)))
    with pytest.raises(ValueError, match="outside the injection campaign"):
        make_lvk_mock(3, MODEL, HYPER, samples_per_event=2,
                      campaign=InjectionCampaign(num_draws=10, redshift_max=0.3))
    with pytest.raises(ValueError, match="mass_ratio_min must lie in"):
        LVKErrorModel(mass_ratio_min=1.0)
    with pytest.raises(ValueError, match="distance_power > -1"):
        InjectionCampaign(distance_power=-1.0)
