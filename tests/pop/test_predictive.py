"""hierax.pop.predictive: population-predictive densities, R(z), reweighted events and
predicted detections."""

import jax
import numpy as np
import pytest

from hierax.pop import predictive
from hierax.pop.data import EventSamples
from hierax.pop.defaults import default_truths
from hierax.pop.models import PopulationModel
from hierax.pop.selection import SelectionEstimator

GRIDS = {"mass_1_source": np.linspace(1.0, 150.0, 400),
         "mass_2_source": np.linspace(1.0, 150.0, 400),
         predictive.MASS_RATIO: np.linspace(0.005, 1.0, 300),
         "a_1": np.linspace(0.0, 1.0, 201), "cos_tilt_2": np.linspace(-1.0, 1.0, 201),
         "chi_eff": np.linspace(-1.0, 1.0, 401), "chi_p": np.linspace(0.0, 1.0, 201),
         "redshift": np.linspace(1e-4, 1.5, 300)}


def _draws(model, num=2, **changes):
    truths = {**default_truths(model.hyperparameter_names), **changes}
    return {n: np.full(num, truths[n]) for n in model.hyperparameter_names}


@pytest.mark.parametrize("model", [
    PopulationModel(n_pl=1, smoothing=True, spin=True, tilt="free_mean", redshift=True),
    PopulationModel(n_pl=0, n_plp=1, n_g=1, effective_spin="gaussian_chi_p"),
    PopulationModel(n_pl=0, n_bp2p=1, effective_spin="skew_normal"),
], ids=["pl-spins-redshift", "plp-gaussian-chi-p", "bp2p-skew"])
def test_marginals_integrate_to_one(model, x64):
    grids = {c: g for c, g in GRIDS.items()
             if c in model.parameter_names or c == predictive.MASS_RATIO}
    densities = predictive.marginal_densities(model, _draws(model), grids)
    for column, values in densities.items():
        assert values.shape == (2, grids[column].size)
        # trapezoid rules on fixed grids across sharp edges: 2% is their resolution here
        np.testing.assert_allclose(np.trapezoid(values, grids[column], axis=1), 1.0,
                                   atol=0.02, err_msg=column)


def test_unknown_columns_are_named():
    model = PopulationModel(n_pl=1)
    with pytest.raises(ValueError, match=r"no columns \['a_1'\]"):
        predictive.marginal_densities(model, _draws(model), {"a_1": GRIDS["a_1"]})


def test_merger_rate_follows_psi(x64):
    model = PopulationModel(n_pl=2, redshift=True)
    draws = _draws(model, log_rate_0=np.log(10.0), log_rate_1=np.log(5.0),
                   redshift_kappa_pl_0=2.0, redshift_kappa_pl_1=0.0)
    z = np.array([0.0, 0.2, 1.0])
    expected = 10.0 * (1 + z) ** 2 + 5.0
    np.testing.assert_allclose(predictive.merger_rate(model, draws, z), [expected] * 2,
                               rtol=1e-10)
    flat = PopulationModel(n_pl=1)
    rates = predictive.merger_rate(flat, _draws(flat, log_rate_0=np.log(7.0)), z)
    np.testing.assert_allclose(rates, 7.0, rtol=1e-12)


def _weighted_mean_check(draws, values, log_weights):
    """The mean of resampled draws against the importance-weighted mean, within 4 sd."""
    w = np.exp(log_weights - log_weights.max())
    w /= w.sum()
    mean = np.sum(w * values)
    sd = np.sqrt(np.sum(w * (values - mean) ** 2))
    assert abs(np.mean(draws) - mean) < 4 * sd / np.sqrt(draws.size)


def test_reweighted_events_follow_population_over_prior(x64):
    model = PopulationModel(n_pl=1)
    rng = np.random.default_rng(0)
    m1 = rng.uniform(12.0, 45.0, 3000)
    m2 = m1 * rng.uniform(0.6, 1.0, 3000)
    log_prior = np.full(3000, -1.0)
    events = EventSamples.from_list([np.column_stack([m1, m2])] * 2, [log_prior] * 2,
                                    model.parameter_names, event_names=("a", "b"))
    draws = _draws(model, num=2000)
    chosen = predictive.reweighted_event_draws(events, model, draws, jax.random.PRNGKey(1))
    assert chosen.shape == (2000, 2, 2)
    hyper = {n: v[0] for n, v in draws.items()}
    log_w = np.asarray(model.log_rate_density(np.column_stack([m1, m2]), hyper)) - log_prior
    _weighted_mean_check(chosen[:, 0, 0], m1, log_w)
    _weighted_mean_check(chosen[:, 1, 1], m2, log_w)


def test_predicted_detections_follow_the_detected_population(x64):
    model = PopulationModel(n_pl=1)
    rng = np.random.default_rng(2)
    m1 = rng.uniform(5.0, 80.0, 30000)
    m2 = rng.uniform(5.0, m1)
    theta = np.column_stack([m1, m2])
    log_q = -np.log(75.0) - np.log(m1 - 5.0)
    log_pdet = np.log(np.clip(m1 / 80.0, 0, 1))
    selection = SelectionEstimator(theta=theta, log_weight=log_pdet, log_draw_density=log_q,
                                   total_draws=30000, time=1.0,
                                   parameter_names=model.parameter_names)
    draws = _draws(model, num=400)
    detected = predictive.predicted_detections(selection, model, draws,
                                               jax.random.PRNGKey(3), 5, max_draws=None)
    assert detected.shape == (400, 5, 2)
    hyper = {n: v[0] for n, v in draws.items()}
    log_w = log_pdet - log_q + np.asarray(model.log_rate_density(theta, hyper))
    _weighted_mean_check(detected[..., 0].reshape(-1), m1, log_w)
