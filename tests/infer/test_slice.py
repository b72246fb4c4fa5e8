"""The slice kernel: exactness on discontinuous densities, adaptation, the MCMC contract."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import hierax
import hierax.distributions as dist
from hierax.diagnostics import ess_bulk, rhat
from hierax.infer import MCMC
from hierax.infer.slice import Slice, slice_along

# A piecewise-constant density on [0, 1]: 1 on [0, 1/2), 3 on [1/2, 1] (normalised by 2).
STEP_MEAN = (0.5 * 0.25 + 3 * 0.5 * 0.75) / 2.0
STEP_SECOND_MOMENT = (1 * (0.5**3) / 3 + 3 * (1 - 0.5**3) / 3) / 2.0
COVARIANCE = np.array([[1.0, 2.97], [2.97, 9.0]])  # correlation 0.99


def _step_log_density(x):
    inside = (x[0] >= 0) & (x[0] <= 1)
    return jnp.where(inside, jnp.where(x[0] >= 0.5, jnp.log(3.0), 0.0), -jnp.inf)


def test_slice_along_keeps_a_step_density_invariant(float_dtype):
    """Exact draws stay exact after 20 updates, whatever the bracket (KS test, 3,000 chains).

    float32 runs with stepping out, float64 without (shrinkage only).
    """
    max_steps_out = 16 if float_dtype == jnp.float32 else 0
    num = 3000
    u = np.random.default_rng(1).uniform(size=num)
    # Inverse CDF of the step density: F(x) = x / 2 below 1/2, 1/4 + 3 (x - 1/2) / 2 above.
    exact = np.where(u < 0.25, 2 * u, 0.5 + (u - 0.25) * 2 / 3)
    direction = jnp.ones((1,), float_dtype)

    def run(key, x0):
        def body(carry, key):
            x, value = carry
            x, value, *_ = slice_along(key, _step_log_density, x, value, direction,
                                       jnp.asarray(0.3, float_dtype), max_steps_out)
            return (x, value), None

        (x, _), _ = jax.lax.scan(body, (x0, _step_log_density(x0)), jax.random.split(key, 20))
        return x[0]

    keys = jax.random.split(jax.random.PRNGKey(0), num)
    x0 = jnp.asarray(exact, float_dtype)[:, None]
    out = np.asarray(jax.jit(jax.vmap(run))(keys, x0))
    assert out.dtype == float_dtype
    cdf = lambda x: np.where(x < 0.5, x / 2, 0.25 + 1.5 * (x - 0.5))  # noqa: E731
    assert stats.kstest(out, cdf).pvalue > 1e-3
    # The chains moved: most final values differ from the starts.
    assert np.mean(out != exact.astype(out.dtype)) > 0.9


def _model():
    hierax.sample("xy", dist.MultivariateNormal(jnp.zeros(2), COVARIANCE))
    s = hierax.sample("s", dist.Uniform(0.0, 1.0))
    hierax.factor("step", jnp.where(s >= 0.5, jnp.log(3.0), 0.0))


@pytest.fixture(scope="module")
def fitted():
    mcmc = MCMC(Slice(_model), num_warmup=250, num_samples=800, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(3))
    return mcmc


def _check_mean(draws, mean, sd):
    """Chain draws ``(chains, n)`` have ``mean`` within 5 Monte Carlo standard errors."""
    error = sd / np.sqrt(ess_bulk(draws))
    assert abs(draws.mean() - mean) < 5 * error


def test_recovers_correlated_gaussian_and_step(fitted):
    draws = {k: np.asarray(v) for k, v in fitted.get_samples(group_by_chain=True).items()}
    xy, s = draws["xy"], draws["s"]
    for j in range(2):
        _check_mean(xy[..., j], 0.0, np.sqrt(COVARIANCE[j, j]))
        assert rhat(xy[..., j]) < 1.01
    step_sd = np.sqrt(STEP_SECOND_MOMENT - STEP_MEAN**2)
    _check_mean(s, STEP_MEAN, step_sd)
    indicator = (s >= 0.5).astype(float)
    _check_mean(indicator, 0.75, np.sqrt(0.75 * 0.25))
    # Along the adapted directions the draws are nearly independent.
    assert ess_bulk(xy[..., 1]) > 1200


def test_adapted_directions_factor_the_covariance(fitted):
    state = fitted.last_state.kernel_state
    directions = np.asarray(state.directions)
    assert directions.shape == (4, 3, 3)
    # The flat layout sorts sites: "s" (logit scale) then "xy".
    estimate = directions[0] @ directions[0].T
    np.testing.assert_allclose(estimate[1:, 1:], COVARIANCE, rtol=0.3, atol=0.3)
    fields = fitted.get_extra_fields()
    evaluations = np.asarray(fields["num_evaluations"])
    assert 3 * 3 <= evaluations.mean() < 8 * 3
    assert not np.any(np.asarray(fields["diverging"]))


def test_same_key_same_draws(fitted):
    first = np.asarray(fitted.get_samples()["xy"])
    fitted.run(jax.random.PRNGKey(3))  # the compiled program is reused
    np.testing.assert_array_equal(np.asarray(fitted.get_samples()["xy"]), first)
    fitted.run(jax.random.PRNGKey(4))
    assert not np.array_equal(np.asarray(fitted.get_samples()["xy"]), first)


def test_potential_fn_with_init_params():
    def potential(params):
        return 0.5 * jnp.sum(params["x"] ** 2)

    kernel = Slice(potential_fn=potential, max_steps_out=0)
    mcmc = MCMC(kernel, num_warmup=60, num_samples=300, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params={"x": jnp.zeros((2, 3))})
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])
    assert x.shape == (2, 300, 3)
    for j in range(3):
        _check_mean(x[..., j], 0.0, 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": _model, "width": 0.0}, "width must be positive"),
        ({"model": _model, "max_steps_out": -1}, "max_steps_out must be a non-negative int"),
        ({"model": _model, "max_steps_out": 2.5}, "max_steps_out must be a non-negative int"),
        ({}, "exactly one of model= and potential_fn="),
        ({"model": _model, "potential_fn": lambda p: 0.0}, "exactly one of"),
    ],
)
def test_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Slice(**kwargs)


def test_potential_fn_needs_init_params():
    mcmc = MCMC(Slice(potential_fn=lambda p: 0.0), num_warmup=1, num_samples=1,
                progress_bar=False)
    with pytest.raises(ValueError, match="needs init_params"):
        mcmc.run(jax.random.PRNGKey(0))
