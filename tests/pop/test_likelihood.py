import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pop_toy import HYPER, MASS_NAMES, as_jax, log_rate_density, sample_masses
from scipy.special import logsumexp

from hierax import handlers
from hierax.pop.data import EventSamples
from hierax.pop.likelihood import (
    DiscreteLikelihood,
    MonteCarloErrorWarning,
    check_monte_carlo_error,
    record_diagnostics,
)
from hierax.pop.selection import SelectionEstimator

TIME = 2.5


def make_catalog(seed=0, counts=(5, 40, 17, 3, 26, 9, 31)):
    rng = np.random.default_rng(seed)
    samples, priors = [], []
    for count in counts:
        m1, m2 = sample_masses(rng, count)
        samples.append(np.column_stack([m1, m2]))
        priors.append(rng.normal(-3.0, 0.5, count))
    return EventSamples.from_list(samples, priors, MASS_NAMES)


def make_selection(seed=1, num=300):
    rng = np.random.default_rng(seed)
    m1, m2 = sample_masses(rng, num, {**HYPER, "mmin": 7.0, "mmax": 50.0})
    return SelectionEstimator(
        theta=np.column_stack([m1, m2]), log_weight=rng.uniform(-3, 0, num),
        log_draw_density=rng.normal(-5.0, 0.3, num), total_draws=2 * num, time=TIME,
        parameter_names=MASS_NAMES,
    )


def brute_force(events, selection, hyper):
    """Float64 NumPy evaluation of every term."""
    event_ll, neff, variance = [], [], []
    for n in range(events.num_events):
        theta, log_prior = events.event(n)
        log_w = log_rate_density(theta, hyper, xp=np) - log_prior
        event_ll.append(logsumexp(log_w) - np.log(len(log_w)))
        w = np.exp(log_w - log_w.max())
        neff.append(w.sum() ** 2 / (w**2).sum())
        variance.append(1 / neff[-1] - 1 / len(log_w))
    log_terms = (log_rate_density(selection.theta, hyper, xp=np) + selection.log_weight
                 - selection.log_draw_density)
    n_draw, t = selection.total_draws, selection.time
    mu = t / n_draw * np.exp(log_terms).sum()
    first, second = np.exp(log_terms).sum(), np.exp(2 * log_terms).sum()
    mu_var = (t / n_draw) ** 2 * (second - first**2 / n_draw)
    log_l = -mu + events.num_events * np.log(t) + np.sum(event_ll)
    return dict(log_l=log_l, mu=mu, event_ll=np.array(event_ll), neff=np.array(neff),
                variance=np.sum(variance) + mu_var, mu_var=mu_var)


@pytest.mark.parametrize("n_buckets", [None, 3])
def test_matches_brute_force(float_dtype, n_buckets):
    events, selection = make_catalog(), make_selection()
    likelihood = DiscreteLikelihood(events, log_rate_density, selection, n_buckets=n_buckets)
    terms = jax.jit(likelihood)(as_jax(HYPER))
    expected = brute_force(events, selection, HYPER)
    rtol = 1e-10 if float_dtype == jnp.float64 else 2e-6
    assert terms.log_likelihood.dtype == float_dtype
    np.testing.assert_allclose(terms.log_likelihood, expected["log_l"], rtol=rtol)
    np.testing.assert_allclose(terms.mu, expected["mu"], rtol=rtol)
    np.testing.assert_allclose(terms.event_log_likelihoods, expected["event_ll"], rtol=rtol)
    np.testing.assert_allclose(terms.event_effective_samples, expected["neff"], rtol=10 * rtol)
    np.testing.assert_allclose(terms.log_likelihood_variance, expected["variance"],
                               rtol=10 * rtol)
    np.testing.assert_allclose(terms.selection_effective_draws,
                               expected["mu"] ** 2 / expected["mu_var"], rtol=10 * rtol)


def test_float32_reductions_keep_float64_accuracy():
    """Many samples with a large common offset: float32 sums would lose ~1e-4."""
    rng = np.random.default_rng(3)
    counts = (20_000, 15_000)
    samples = [np.column_stack(sample_masses(rng, c)) for c in counts]
    priors = [np.full(c, -50.0) + rng.normal(0, 1e-3, c) for c in counts]
    events = EventSamples.from_list(samples, priors, MASS_NAMES)
    selection = make_selection()
    expected = brute_force(events, selection, HYPER)
    value = jax.jit(DiscreteLikelihood(events, log_rate_density, selection))(as_jax(HYPER))
    np.testing.assert_allclose(value.log_likelihood, expected["log_l"], rtol=1e-6)
    # N_eff is sensitive to the float32 rounding of ln rho itself, not to the sums.
    np.testing.assert_allclose(value.event_effective_samples, expected["neff"], rtol=1e-4)


def test_gradient_finite_and_matches_finite_difference(x64):
    events, selection = make_catalog(), make_selection()
    likelihood = DiscreteLikelihood(events, log_rate_density, selection, n_buckets=2)
    hyper = as_jax(HYPER)
    grad = jax.jit(jax.grad(likelihood.log_likelihood))(hyper)
    assert all(np.isfinite(v) for v in grad.values())
    step = 1e-6
    for name in ("alpha", "log_rate_0"):
        up = likelihood.log_likelihood({**hyper, name: hyper[name] + step})
        down = likelihood.log_likelihood({**hyper, name: hyper[name] - step})
        np.testing.assert_allclose(grad[name], (up - down) / (2 * step), rtol=1e-5)


def test_gradient_finite_in_float32():
    likelihood = DiscreteLikelihood(make_catalog(), log_rate_density, make_selection())
    grad = jax.grad(likelihood.log_likelihood)(as_jax(HYPER, jnp.float32))
    assert all(np.isfinite(v) and v.dtype == jnp.float32 for v in grad.values())


def test_event_outside_support_gives_minus_inf_with_finite_gradient():
    events, selection = make_catalog(counts=(4, 6)), make_selection()
    likelihood = DiscreteLikelihood(events, log_rate_density, selection)
    hyper = as_jax({**HYPER, "mmin": 46.0, "mmax": 50.0})  # every sample lies below mmin
    terms = likelihood(hyper)
    assert terms.log_likelihood == -np.inf
    assert np.all(terms.event_effective_samples == 0)
    grad = jax.grad(likelihood.log_likelihood)(hyper)
    assert all(np.isfinite(v) for v in grad.values())


def test_record_diagnostics_sites_and_penalty():
    likelihood = DiscreteLikelihood(make_catalog(), log_rate_density, make_selection())

    def model():
        terms = likelihood(as_jax(HYPER))
        record_diagnostics(terms, min_selection_ratio=1e6, penalty=float("inf"))

    trace = handlers.trace(model).get_trace()
    for name in ("mu", "log_likelihood_variance", "min_event_effective_samples",
                 "selection_effective_draws"):
        assert trace[name]["type"] == "deterministic"
    site = trace["mc_error_penalty"]
    assert site["type"] == "sample"
    assert site["fn"].log_prob(site["value"]) == -np.inf
    with pytest.raises(ValueError, match="penalty must be >= 0"):
        handlers.trace(lambda: record_diagnostics(likelihood(as_jax(HYPER)),
                                                  penalty=-1.0)).get_trace()


def test_check_monte_carlo_error_warns():
    samples = {
        "min_event_effective_samples": np.array([50.0, 5.0, 60.0, 70.0]),
        "log_likelihood_variance": np.array([0.1, 0.2, 0.3, 0.4]),
        "selection_effective_draws": np.array([1000.0, 1000.0, 1000.0, 1000.0]),
    }
    with pytest.warns(MonteCarloErrorWarning, match=r"min_event_effective_samples: 25.0%"):
        fractions = check_monte_carlo_error(samples, num_events=10)
    assert fractions == {"min_event_effective_samples": 0.25, "log_likelihood_variance": 0.0,
                         "selection_effective_draws": 0.0}
    with pytest.raises(ValueError, match="lack the sites"):
        check_monte_carlo_error({}, num_events=10)


def test_bad_arguments():
    events, selection = make_catalog(), make_selection()
    assert DiscreteLikelihood(events, log_rate_density, selection, n_buckets=100).n_buckets == 7
    with pytest.raises(ValueError, match="n_buckets must be a positive int"):
        DiscreteLikelihood(events, log_rate_density, selection, n_buckets=0)
    other = EventSamples.from_list([np.ones((3, 3))], None, ("a", "b", "c"))
    with pytest.raises(ValueError, match="event columns"):
        DiscreteLikelihood(other, log_rate_density, selection)
    with pytest.raises(TypeError, match="EventSamples"):
        DiscreteLikelihood([np.ones((3, 2))], log_rate_density, selection)


SHARDED_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from hierax.util import set_host_device_count
    set_host_device_count(2)
    import jax, numpy as np
    assert len(jax.devices()) == 2, jax.devices()
    from test_likelihood import make_catalog, make_selection, brute_force
    from _pop_toy import HYPER, as_jax, log_rate_density
    from hierax.pop.likelihood import DiscreteLikelihood
    events, selection = make_catalog(), make_selection()
    likelihood = DiscreteLikelihood(events, log_rate_density, selection)
    assert likelihood._layout.sharding is not None
    value = jax.jit(likelihood)(as_jax(HYPER))
    expected = brute_force(events, selection, HYPER)
    np.testing.assert_allclose(value.log_likelihood, expected["log_l"], rtol=2e-6)
    np.testing.assert_allclose(value.event_log_likelihoods, expected["event_ll"], rtol=2e-6)
    print("SHARDED_OK")
    """
)


def test_sharded_over_two_host_devices():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT.format(tests=tests_dir)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert "SHARDED_OK" in result.stdout, result.stderr[-3000:]


def test_with_population_model(x64):
    models = pytest.importorskip("hierax.pop.models")
    from hierax.pop.selection import analytic_pdet

    model = models.PopulationModel(1, 0)
    hyper = {"log_rate_0": 3.0, "alpha_pl_0": 2.3, "beta_pl_0": 0.5, "mmin_pl_0": 8.0,
             "mmax_pl_0": 45.0}
    hyper = as_jax(hyper)
    events = make_catalog(counts=(30, 12, 21))
    selection = analytic_pdet(model.parameter_names, num_samples=5000, z_max=1.0)
    likelihood = DiscreteLikelihood(events, model, selection, n_buckets=2)
    terms = likelihood(hyper)
    log_rho = np.asarray(model.log_rate_density(jnp.asarray(events.theta), hyper))
    expected = sum(
        logsumexp(log_rho[events.event_index == n] - events.log_prior[events.event_index == n])
        - np.log(events.counts[n]) for n in range(events.num_events)
    ) - float(terms.mu) + events.num_events * np.log(selection.time)
    np.testing.assert_allclose(terms.log_likelihood, expected, rtol=1e-10)
    grad = jax.grad(likelihood.log_likelihood)(hyper)
    assert all(np.isfinite(v) for v in grad.values())


def test_vmap_over_hyperparameters():
    likelihood = DiscreteLikelihood(make_catalog(), log_rate_density, make_selection())
    alphas = jnp.array([2.0, 2.3, 2.6])
    batched = jax.vmap(lambda a: likelihood.log_likelihood({**as_jax(HYPER), "alpha": a}))
    values = batched(alphas)
    for alpha, value in zip(alphas, values, strict=True):
        single = likelihood.log_likelihood({**as_jax(HYPER), "alpha": alpha})
        np.testing.assert_allclose(value, single, rtol=1e-6)
