"""Tests of hierax.distributions.transformed.TransformedDistribution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

from hierax.distributions import constraints
from hierax.distributions import transforms as T
from hierax.distributions.continuous import Chi2, Normal
from hierax.distributions.distribution import validation_enabled
from hierax.distributions.transformed import TransformedDistribution


def _tol(dtype):
    return 1e-5 if dtype == jnp.float32 else 1e-12


def test_lognormal_log_prob_matches_scipy(float_dtype):
    loc = jnp.array([0.3, -1.0], float_dtype)
    scale = jnp.array([1.2, 0.5], float_dtype)
    dist = TransformedDistribution(Normal(loc, scale), T.ExpTransform())
    assert dist.support is constraints.positive
    assert dist.batch_shape == (2,) and dist.event_shape == ()
    value = jnp.array([[0.1, 2.0], [3.5, 0.7]], float_dtype)
    log_prob = dist.log_prob(value)
    assert log_prob.shape == (2, 2) and log_prob.dtype == float_dtype
    expected = st.lognorm(np.asarray(scale), scale=np.exp(np.asarray(loc))).logpdf(value)
    np.testing.assert_allclose(log_prob, expected, rtol=_tol(float_dtype))


def test_affine_of_normal_matches_scipy(float_dtype):
    base = Normal(jnp.asarray(0.5, float_dtype), jnp.asarray(1.5, float_dtype))
    dist = TransformedDistribution(base, T.AffineTransform(1.0, -2.0))
    value = jnp.linspace(-5.0, 5.0, 7, dtype=float_dtype)
    expected = st.norm(1.0 - 2.0 * 0.5, 2.0 * 1.5).logpdf(value)
    np.testing.assert_allclose(dist.log_prob(value), expected, rtol=_tol(float_dtype))
    np.testing.assert_allclose(dist.cdf(value), st.norm(0.0, 3.0).cdf(value),
                               rtol=_tol(float_dtype), atol=_tol(float_dtype))
    q = jnp.array([0.1, 0.5, 0.9], float_dtype)
    np.testing.assert_allclose(dist.icdf(q), st.norm(0.0, 3.0).ppf(q), rtol=1e-4)


def test_seed_model_distributions():
    scale_factor = 1.7
    chi2 = TransformedDistribution(
        Chi2(6.0), T.AffineTransform(0.0, 0.5 * scale_factor, domain=constraints.positive)
    )
    assert chi2.support is constraints.positive
    value = jnp.array([0.5, 2.0, 7.0])
    expected = st.chi2(6.0, scale=0.5 * scale_factor).logpdf(value)
    np.testing.assert_allclose(chi2.log_prob(value), expected, rtol=1e-5)

    lognormal = TransformedDistribution(Normal(0.4, 0.3), T.ExpTransform())
    assert lognormal.support is constraints.positive

    mu = jnp.linspace(-1.0, 1.0, 8)
    tau = jnp.linspace(0.5, 2.0, 8)
    noncentred = TransformedDistribution(Normal(0.0, 1.0), T.AffineTransform(mu, tau))
    assert noncentred.batch_shape == (8,) and noncentred.event_shape == ()
    assert noncentred.support is constraints.real
    draws = noncentred.sample(jax.random.PRNGKey(0), (3,))
    assert draws.shape == (3, 8)
    np.testing.assert_allclose(noncentred.log_prob(draws), st.norm(mu, tau).logpdf(draws),
                               rtol=1e-5)


def test_seed_model_distributions_under_jit_with_latent_parameters():
    @jax.jit
    def log_density(scale_factor, log_d, mu, tau, data):
        chi2 = TransformedDistribution(
            Chi2(6.0), T.AffineTransform(0.0, 0.5 * scale_factor, domain=constraints.positive)
        )
        lognormal = TransformedDistribution(Normal(log_d, 0.3), T.ExpTransform())
        noncentred = TransformedDistribution(Normal(0.0, 1.0), T.AffineTransform(mu, tau))
        return (chi2.log_prob(data), lognormal.log_prob(data),
                noncentred.log_prob(jnp.zeros(8)))

    data = jnp.array([-1.0, 0.5, 2.0])
    mu, tau = jnp.zeros(8), jnp.ones(8)
    chi2_lp, lognormal_lp, noncentred_lp = log_density(1.7, 0.2, mu, tau, data)
    np.testing.assert_allclose(chi2_lp[1:], st.chi2(6.0, scale=0.85).logpdf(data[1:]),
                               rtol=1e-5)
    assert float(chi2_lp[0]) == -np.inf and float(lognormal_lp[0]) == -np.inf
    np.testing.assert_allclose(lognormal_lp[1:],
                               st.lognorm(0.3, scale=np.exp(0.2)).logpdf(data[1:]), rtol=1e-5)
    np.testing.assert_allclose(noncentred_lp, st.norm.logpdf(0.0) * np.ones(8), rtol=1e-6)


def test_sample_moments_match_closed_forms():
    n = 20_000
    loc, scale = 0.2, 0.5
    draws = TransformedDistribution(Normal(loc, scale), T.ExpTransform()).sample(
        jax.random.PRNGKey(1), (n,)
    )
    mean = np.exp(loc + scale**2 / 2)
    variance = (np.exp(scale**2) - 1) * np.exp(2 * loc + scale**2)
    assert abs(float(jnp.mean(draws)) - mean) < 5 * np.sqrt(variance / n)
    affine = TransformedDistribution(Normal(1.0, 2.0), T.AffineTransform(-3.0, 0.5))
    draws = affine.sample(jax.random.key(2), (n,))
    # Y ~ Normal(-2.5, 1.0): mean and variance within 5 standard errors.
    assert abs(float(jnp.mean(draws)) + 2.5) < 5 * np.sqrt(1.0 / n)
    assert abs(float(jnp.var(draws)) - 1.0) < 5 * np.sqrt(2.0 / n)


def test_vector_transform_reinterprets_base_batch_dims():
    base = Normal(jnp.zeros((2, 3)), 1.0)
    dist = TransformedDistribution(base, T.StickBreakingTransform())
    assert dist.batch_shape == (2,) and dist.event_shape == (4,)
    assert dist.support is constraints.simplex
    y = dist.sample(jax.random.PRNGKey(3), (5,))
    assert y.shape == (5, 2, 4)
    assert bool(jnp.all(constraints.simplex(y)))
    x = T.StickBreakingTransform().inv(y)
    expected = jnp.sum(base.log_prob(x), -1) - T.StickBreakingTransform().log_abs_det_jacobian(
        x, y)
    np.testing.assert_allclose(dist.log_prob(y), expected, rtol=1e-5)


def test_scalar_transform_on_vector_event_sums_log_det():
    base = Normal(jnp.zeros(3), 1.0).to_event(1)
    dist = TransformedDistribution(base, T.ExpTransform())
    assert dist.batch_shape == () and dist.event_shape == (3,)
    assert dist.support == constraints.independent(constraints.positive, 1)
    y = jnp.array([0.5, 1.0, 2.0])
    expected = np.sum(st.lognorm(1.0).logpdf(y))
    np.testing.assert_allclose(dist.log_prob(y), expected, rtol=1e-5)


def test_intermediates_and_rsample():
    shift = T.AffineTransform(1.0, 2.0, domain=constraints.positive)
    dist = TransformedDistribution(Normal(0.3, 0.8), [T.ExpTransform(), shift])
    key = jax.random.PRNGKey(4)
    y, intermediates = dist.sample_with_intermediates(key, (6,))
    np.testing.assert_allclose(y, dist.sample(key, (6,)), rtol=1e-6)
    assert len(intermediates) == 2
    np.testing.assert_allclose(dist.log_prob(y, intermediates), dist.log_prob(y), rtol=1e-5)
    assert float(dist.support.lower_bound) == 1.0

    def mean_draw(loc):
        base = Normal(0.0, 1.0)
        return jnp.mean(TransformedDistribution(base, T.AffineTransform(loc, 2.0)).rsample(
            key, (100,)))

    assert float(jax.grad(mean_draw)(0.5)) == pytest.approx(1.0, rel=1e-6)


def test_nested_transformed_distribution_is_flattened():
    inner = TransformedDistribution(Normal(0.1, 0.6), T.ExpTransform())
    outer = TransformedDistribution(inner, T.AffineTransform(0.0, 2.0, domain=constraints.positive))
    assert isinstance(outer.base_dist, Normal) and len(outer.transforms) == 2
    value = jnp.array([0.3, 1.0, 4.0])
    expected = st.lognorm(0.6, scale=2.0 * np.exp(0.1)).logpdf(value)
    np.testing.assert_allclose(outer.log_prob(value), expected, rtol=1e-5)
    np.testing.assert_allclose(outer.cdf(value), st.lognorm(0.6, scale=2.0 * np.exp(0.1)).cdf(
        value), rtol=1e-5)
    q = jnp.array([0.2, 0.7])
    np.testing.assert_allclose(outer.cdf(outer.icdf(q)), q, rtol=1e-5)


def test_outside_support_is_minus_inf_with_finite_gradients():
    def log_prob(loc, value):
        return TransformedDistribution(Normal(loc, 1.0), T.ExpTransform()).log_prob(value)

    with pytest.warns(UserWarning, match="outside the support positive"):
        assert float(log_prob(0.0, -1.0)) == -np.inf
    with validation_enabled(False):
        grad = jax.grad(lambda loc: jnp.sum(log_prob(loc, jnp.array([-1.0, 2.0]))))(0.0)
    assert bool(jnp.isfinite(grad))
    assert float(grad) == pytest.approx(np.log(2.0), rel=1e-5)

    @jax.jit
    def bounded(low, high, value):
        transforms = [T.SigmoidTransform(),
                      T.AffineTransform(low, high - low, domain=constraints.unit_interval)]
        return TransformedDistribution(Normal(0.0, 1.0), transforms).log_prob(value)

    log_probs = bounded(1.0, 3.0, jnp.array([0.5, 2.0, 3.5]))
    assert bool(jnp.isneginf(log_probs[0])) and bool(jnp.isneginf(log_probs[2]))
    # At the midpoint x = 0: log N(0) - log(width * sigmoid'(0)) = log N(0) - log(0.5).
    np.testing.assert_allclose(log_probs[1], st.norm.logpdf(0.0) - np.log(0.5), rtol=1e-6)


def test_transformed_distribution_crosses_jit_and_vmap():
    dist = TransformedDistribution(Normal(jnp.zeros(3), 1.0), T.AffineTransform(1.0, 2.0))
    value = jnp.array([0.0, 1.0, 2.0])
    jitted = jax.jit(lambda d, v: d.log_prob(v))(dist, value)
    np.testing.assert_allclose(jitted, dist.log_prob(value), rtol=1e-6)
    scales = jnp.array([1.0, 2.0])
    per_scale = jax.vmap(
        lambda s: TransformedDistribution(Normal(0.0, 1.0), T.AffineTransform(0.0, s)).log_prob(
            1.0)
    )(scales)
    np.testing.assert_allclose(per_scale, st.norm(0.0, scales).logpdf(1.0), rtol=1e-6)


def test_unsupported_moments_and_functions():
    dist = TransformedDistribution(Normal(0.0, 1.0), T.ExpTransform())
    with pytest.raises(NotImplementedError, match="no closed-form mean"):
        _ = dist.mean
    with pytest.raises(NotImplementedError, match="no closed-form variance"):
        _ = dist.variance
    simplex = TransformedDistribution(Normal(jnp.zeros(2), 1.0), T.StickBreakingTransform())
    with pytest.raises(NotImplementedError, match="cdf needs scalar events"):
        simplex.cdf(jnp.array([0.2, 0.3, 0.5]))


def test_invalid_arguments():
    with pytest.raises(TypeError, match="base_distribution must be a Distribution, got float"):
        TransformedDistribution(1.0, T.ExpTransform())
    with pytest.raises(TypeError, match="transforms must be a Transform or a list"):
        TransformedDistribution(Normal(0.0, 1.0), "exp")
    with pytest.raises(TypeError, match="transforms must be Transform objects, got str"):
        TransformedDistribution(Normal(0.0, 1.0), [T.ExpTransform(), "exp"])
    with pytest.raises(ValueError, match="list of transforms is empty"):
        TransformedDistribution(Normal(0.0, 1.0), [])
    with pytest.raises(ValueError, match="need at least 1 dims, but Normal has shape \\(\\)"):
        TransformedDistribution(Normal(0.0, 1.0), T.StickBreakingTransform())
    with pytest.raises(ValueError, match="do not fit the base Normal of shape \\(5,\\)"):
        TransformedDistribution(Normal(jnp.zeros(5), 1.0), T.AffineTransform(jnp.zeros(8), 1.0))
