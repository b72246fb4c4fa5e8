"""hierax.pop.inference: the population model's sites, the likelihood factor, run_nuts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.handlers import seed, substitute, trace
from hierax.pop.inference import (
    DIAGNOSTIC_SITES,
    default_chain_method,
    ordered_hyperparameter_pairs,
    population_model,
    run_nuts,
)
from hierax.pop.likelihood import LikelihoodTerms
from hierax.pop.models import PopulationModel
from hierax.pop.priors import parse_prior_config

PRIOR = {"log_rate_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
         "alpha_pl_0": {"dist": "Normal", "loc": 2.0, "scale": 1.0},
         "beta_pl_0": "alpha_pl_0",
         "mmin_pl_0": 5.0,
         "mmax_pl_0": {"dist": "Uniform", "low": "mmin_pl_0", "high": 80.0}}


class QuadraticLikelihood:
    """A stand-in likelihood: ln L = -(alpha - 1)^2 / 2 with fixed diagnostics."""

    def __init__(self, num_events=3, event_neff=50.0):
        self.num_events, self.event_neff = num_events, event_neff

    def __call__(self, hyper):
        alpha = hyper["alpha_pl_0"]
        return LikelihoodTerms(
            log_likelihood=-0.5 * (alpha - 1.0) ** 2, log_mu=jnp.log(2.0), mu=jnp.asarray(2.0),
            event_log_likelihoods=jnp.zeros(self.num_events),
            event_effective_samples=jnp.full(self.num_events, self.event_neff),
            log_likelihood_variance=jnp.asarray(0.1),
            selection_effective_draws=jnp.asarray(100.0), selection_variance=jnp.asarray(0.04))


@pytest.fixture
def parts():
    population = PopulationModel(1, 0)
    spec = parse_prior_config(PRIOR, population.hyperparameter_names,
                              ordered_pairs=ordered_hyperparameter_pairs(population))
    return population, spec


def test_ordered_pairs():
    assert ordered_hyperparameter_pairs(PopulationModel(2, 1)) == (
        ("mmin_pl_0", "mmax_pl_0"), ("mmin_pl_1", "mmax_pl_1"),
        ("m1_low_g_0", "m1_high_g_0"), ("m2_low_g_0", "m2_high_g_0"))


def test_sites_and_likelihood_factor(parts):
    population, spec = parts
    values = {"log_rate_0": 1.0, "alpha_pl_0": 3.0, "mmax_pl_0": 40.0}
    model = substitute(seed(population_model, jax.random.PRNGKey(0)), values)
    sites = trace(model).get_trace(population, spec, QuadraticLikelihood())
    latent = [n for n, s in sites.items() if s["type"] == "sample" and not s["is_observed"]]
    assert latent == ["log_rate_0", "alpha_pl_0", "mmax_pl_0"]
    assert float(sites["beta_pl_0"]["value"]) == 3.0 and float(sites["mmin_pl_0"]["value"]) == 5
    for name in DIAGNOSTIC_SITES:
        assert sites[name]["type"] == "deterministic"
    assert not bool(sites["mc_error_violated"]["value"])
    factor = sites["log_likelihood"]["fn"].log_prob(sites["log_likelihood"]["value"])
    assert float(factor) == pytest.approx(-2.0)


def test_violation_flag_and_penalty(parts):
    population, spec = parts
    model = substitute(seed(population_model, jax.random.PRNGKey(0)),
                       {"log_rate_0": 0.0, "alpha_pl_0": 1.0, "mmax_pl_0": 40.0})
    sites = trace(model).get_trace(population, spec, QuadraticLikelihood(event_neff=2.0),
                                   penalty=7.0)
    assert bool(sites["mc_error_violated"]["value"])
    penalty = sites["mc_error_penalty"]
    assert float(penalty["fn"].log_prob(penalty["value"])) == -7.0


def test_prior_for_another_model_is_rejected(parts):
    _, spec = parts
    with pytest.raises(ValueError, match="the population needs"):
        trace(seed(population_model, jax.random.PRNGKey(0))).get_trace(
            PopulationModel(2, 0), spec, QuadraticLikelihood())


def test_run_nuts_recovers_the_conjugate_posterior(parts):
    """alpha ~ N(2, 1) prior x N(1, 1) likelihood: posterior N(1.5, 1/2)."""
    population, spec = parts
    mcmc = run_nuts(population_model, jax.random.PRNGKey(1), population, spec,
                    QuadraticLikelihood(), num_warmup=300, num_samples=1000, num_chains=2)
    alpha = np.asarray(mcmc.get_samples()["alpha_pl_0"])
    sd = np.sqrt(0.5)
    # ESS of NUTS on a Gaussian is near the number of draws; allow 5 standard errors at 500.
    assert abs(alpha.mean() - 1.5) < 5 * sd / np.sqrt(500)
    assert abs(alpha.std() - sd) < 0.1 * sd
    expected = default_chain_method(2)
    on_one_cpu = expected == "parallel" and jax.local_device_count() == 1
    assert mcmc.chain_method_used == ("threads" if on_one_cpu else expected)


def test_default_chain_method_follows_the_devices(monkeypatch):
    class Device:
        def __init__(self, platform):
            self.platform = platform

    cases = [([Device("cpu")], 4, "parallel"), ([Device("cpu")], 1, "sequential"),
             ([Device("gpu")], 4, "vectorized"),
             ([Device("gpu")] * 2, 4, "parallel"), ([Device("cpu")] * 4, 2, "parallel"),
             ([Device("gpu")] * 2, 1, "vectorized"), ([Device("cpu")] * 4, 3, "parallel"),
             ([Device("tpu")] * 4, 5, "vectorized")]
    for devices, chains, expected in cases:
        monkeypatch.setattr(jax, "local_devices", lambda devices=devices: devices)
        assert default_chain_method(chains) == expected, (devices, chains)




def test_population_defaults_live_in_pop():
    from hierax.infer import Slice
    from hierax.pop.defaults import (
        NUTS_SETTINGS,
        SLICE_MCMC_SETTINGS,
        default_prior,
        default_truths,
        population_kernel,
    )

    def model():
        pass

    kernel = population_kernel(model, width=0.5)
    assert isinstance(kernel, Slice) and kernel.width == 0.5 and kernel.model is model
    assert SLICE_MCMC_SETTINGS["num_chains"] == NUTS_SETTINGS["num_chains"] == 4
    every = PopulationModel(n_pl=1, n_g=1, n_plp=1, n_bp2p=1, spin=True, tilt="free_mean",
                            eccentricity=True, redshift="madau_dickinson", smoothing=True)
    chi = PopulationModel(n_pl=1, n_plp=1, effective_spin="gaussian_chi_p")
    names = every.hyperparameter_names + chi.hyperparameter_names + ("chi_eff_skewness_pl_0",)
    assert all(default_prior(name) is not None for name in names)
    assert set(default_truths(names)) == set(names)
    assert default_prior("not_a_hyperparameter") is None


@pytest.mark.parametrize("rule, neff, expected", [
    ("warn", 5.0, None),            # recorded only: no penalty site
    ("cut", 50.0, 0.0),             # every threshold passes
    ("cut", 5.0, -np.inf),          # event N_eff 5 < 10
    ("penalty", 5.0, -10.0 * (10.0 / 5.0 - 1.0)),
])
def test_monte_carlo_error_rules(parts, rule, neff, expected):
    population, spec = parts
    values = {"log_rate_0": 1.0, "alpha_pl_0": 3.0, "mmax_pl_0": 40.0}
    likelihood = QuadraticLikelihood(event_neff=neff)
    model = substitute(seed(population_model, jax.random.PRNGKey(0)), values)
    sites = trace(model).get_trace(population, spec, likelihood, mc_error_rule=rule)
    violated = bool(sites["mc_error_violated"]["value"])
    assert violated == (neff < 10.0)
    if expected is None:
        assert "mc_error_penalty" not in sites
    else:
        penalty = float(np.asarray(sites["mc_error_penalty"]["fn"].log_factor))
        assert penalty == expected


def test_selection_uncertainty_adds_half_the_variance_of_mu(parts):
    population, spec = parts
    values = {"log_rate_0": 1.0, "alpha_pl_0": 3.0, "mmax_pl_0": 40.0}
    model = substitute(seed(population_model, jax.random.PRNGKey(0)), values)
    plain = trace(model).get_trace(population, spec, QuadraticLikelihood())
    marginal = trace(model).get_trace(population, spec, QuadraticLikelihood(),
                                      selection_uncertainty=True)
    difference = (marginal["log_likelihood"]["fn"].log_factor
                  - plain["log_likelihood"]["fn"].log_factor)
    np.testing.assert_allclose(difference, 0.5 * 0.04, rtol=1e-6)


def test_sharp_edges_are_the_free_support_bounds():
    from hierax.pop.inference import sharp_edge_hyperparameters

    model = PopulationModel(n_pl=1, n_g=1, n_plp=1, redshift=True)
    free = [n for n in model.hyperparameter_names if n != "mmax_plp_0"]
    assert sharp_edge_hyperparameters(model, free) == (
        "mmin_pl_0", "mmax_pl_0", "redshift_z_max_pl_0", "m1_low_g_0", "m1_high_g_0",
        "m2_low_g_0", "m2_high_g_0", "redshift_z_max_g_0", "redshift_z_max_plp_0")
    smooth = PopulationModel(n_pl=1, smoothing=True)
    assert sharp_edge_hyperparameters(smooth, smooth.hyperparameter_names) == ("mmax_pl_0",)
