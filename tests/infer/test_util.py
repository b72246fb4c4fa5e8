"""Model to log density: potential energy with Jacobians, parameter-dependent
supports, constrain/unconstrain round trips, log_likelihood, init strategies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import hierax
import hierax.distributions as dist
from hierax import handlers
from hierax.infer import (
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
    initialize_model,
    log_likelihood,
)
from hierax.infer.util import constrain_fn, log_density, potential_energy, unconstrain_fn


def bounded_model(y=None):
    low = hierax.sample("low", dist.Normal(0.0, 1.0))
    width = hierax.sample("width", dist.LogNormal(0.0, 0.5))
    x = hierax.sample("x", dist.Uniform(low, low + width))
    with hierax.plate("n", 3):
        hierax.sample("y", dist.Normal(x, 1.0), obs=y)


Y = jnp.array([0.2, -0.1, 0.4])


def manual_potential(u):
    """-log p(u) by hand: Jacobians of exp (width) and of the sigmoid-affine map (x)."""
    low, log_width, logit = u["low"], u["width"], u["x"]
    width = np.exp(log_width)
    s = 1 / (1 + np.exp(-logit))
    x = low + width * s
    log_p = (scipy.stats.norm(0, 1).logpdf(low) + scipy.stats.lognorm(0.5).logpdf(width)
             + log_width
             - np.log(width) + np.log(width * s * (1 - s))
             + scipy.stats.norm(x, 1).logpdf(np.asarray(Y)).sum())
    return -log_p


def test_potential_energy_with_parameter_dependent_support(x64):
    u = {"low": 0.3, "width": -0.2, "x": 1.1}
    value = potential_energy(bounded_model, (), {"y": Y}, {k: jnp.asarray(v) for k, v in u.items()})
    np.testing.assert_allclose(value, manual_potential(u), rtol=1e-10)


def test_constrain_unconstrain_round_trip():
    u = {"low": jnp.array(0.3), "width": jnp.array(-0.2), "x": jnp.array(1.1)}
    constrained = constrain_fn(bounded_model, (), {"y": Y}, u, return_deterministic=True)
    low, width = constrained["low"], constrained["width"]
    assert low < constrained["x"] < low + width
    back = unconstrain_fn(bounded_model, (), {"y": Y}, constrained)
    for name in u:
        np.testing.assert_allclose(back[name], u[name], rtol=1e-4, atol=1e-5)


def test_log_density_sums_sites_with_scale():
    def model():
        x = hierax.sample("x", dist.Normal(0.0, 1.0))
        with handlers.scale(scale=2.0):
            hierax.sample("y", dist.Normal(x, 1.0), obs=1.0)

    value, tr = log_density(model, (), {}, {"x": 0.5})
    expected = scipy.stats.norm.logpdf(0.5) + 2 * scipy.stats.norm(0.5, 1).logpdf(1.0)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert set(tr) == {"x", "y"}


def test_log_likelihood_per_observation():
    posterior = {"low": jnp.zeros(5), "width": jnp.ones(5), "x": jnp.linspace(0.1, 0.9, 5)}
    out = log_likelihood(bounded_model, posterior, y=Y)
    assert set(out) == {"y"} and out["y"].shape == (5, 3)
    expected = scipy.stats.norm(np.linspace(0.1, 0.9, 5)[:, None], 1).logpdf(np.asarray(Y))
    np.testing.assert_allclose(out["y"], expected, rtol=1e-5)
    grouped = {k: v.reshape(1, 5) for k, v in posterior.items()}
    assert log_likelihood(bounded_model, grouped, y=Y, batch_ndims=2)["y"].shape == (1, 5, 3)


@pytest.mark.parametrize("strategy", [init_to_uniform, init_to_uniform(radius=0.5),
                                      init_to_feasible, init_to_median, init_to_mean,
                                      init_to_sample])
def test_init_strategies_start_inside_the_support(strategy):
    info = initialize_model(jax.random.PRNGKey(0), bounded_model, init_strategy=strategy,
                            model_kwargs={"y": Y})
    values = info.postprocess_fn(info.param_info.z)
    assert values["low"] < values["x"] < values["low"] + values["width"]
    assert jnp.isfinite(info.param_info.potential_energy)
    np.testing.assert_allclose(info.potential_fn(info.param_info.z),
                               info.param_info.potential_energy, rtol=1e-5)


def test_init_to_value():
    strategy = init_to_value(values={"low": 0.25, "width": 2.0})
    info = initialize_model(jax.random.PRNGKey(0), bounded_model, init_strategy=strategy,
                            model_kwargs={"y": Y})
    values = info.postprocess_fn(info.param_info.z)
    np.testing.assert_allclose(values["low"], 0.25, rtol=1e-5)
    np.testing.assert_allclose(values["width"], 2.0, rtol=1e-5)


def test_init_to_uniform_spreads_in_unconstrained_space():
    def model():
        hierax.sample("s", dist.HalfNormal(1.0).expand([2000]))

    info = initialize_model(jax.random.PRNGKey(1), model)
    u = np.asarray(info.param_info.z["s"])
    assert u.min() >= -2 and u.max() <= 2
    assert abs(u.mean()) < 5 * (4 / np.sqrt(12)) / np.sqrt(2000)


def test_invalid_start_error_names_the_site():
    def model():
        x = hierax.sample("x", dist.Normal(0.0, 1.0))
        hierax.sample("obs", dist.Uniform(x + 100.0, x + 101.0), obs=0.0)

    with pytest.raises(ValueError, match="observed site 'obs': log density is -inf"):
        initialize_model(jax.random.PRNGKey(0), model)
