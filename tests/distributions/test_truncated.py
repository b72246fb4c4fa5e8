"""Tests of truncated distributions and truncated power laws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from hierax.distributions import constraints
from hierax.distributions.continuous import Cauchy, Gamma, Normal
from hierax.distributions.truncated import (
    DoublyTruncatedPowerLaw,
    LeftTruncatedDistribution,
    LowerTruncatedPowerLaw,
    RightTruncatedDistribution,
    TruncatedCauchy,
    TruncatedDistribution,
    TruncatedNormal,
    TwoSidedTruncatedDistribution,
    ndtri_log,
)

# (low, high) in units of the base scale around loc = 0.5, scale = 2.
NORMAL_CASES = [(-1.0, 2.0), (3.0, None), (None, -3.0), (10.0, 14.0), (-30.0, -24.0),
                (30.0, None), (None, -40.0), (-50.0, 60.0)]
QUANTILES = np.array([0.01, 0.3, 0.5, 0.9, 0.99])


_draw = jax.jit(lambda d, key, n: d.sample(key, (n,)), static_argnums=2)


@jax.jit
def _evaluate(d, x, q):
    return {
        "log_prob": d.log_prob(x),
        "cdf": d.cdf(x),
        "icdf": d.icdf(q),
        "mean": d.mean,
        "variance": d.variance,
    }


def _scipy_truncnorm(low, high, loc=0.5, scale=2.0):
    a = -np.inf if low is None else (low - loc) / scale
    b = np.inf if high is None else (high - loc) / scale
    return stats.truncnorm(a, b, loc=loc, scale=scale)


@pytest.mark.parametrize(("low", "high"), NORMAL_CASES)
def test_truncated_normal_matches_scipy(float_dtype, low, high):
    scale_low = None if low is None else 2.0 * low
    scale_high = None if high is None else 2.0 * high
    reference = _scipy_truncnorm(scale_low, scale_high)
    d = TruncatedNormal(jnp.asarray(0.5, float_dtype), 2.0, scale_low, scale_high)
    x = reference.ppf(QUANTILES)
    result = _evaluate(d, jnp.asarray(x, float_dtype), jnp.asarray(QUANTILES, float_dtype))
    assert result["log_prob"].dtype == float_dtype
    f32 = float_dtype == jnp.float32
    width = reference.std()
    # Truncation z standard deviations out has condition number ~z^2 (terms of size
    # z^2 / 2 cancel), and float64 log_ndtr is good to ~1e-11 relative far out.
    z = abs(reference.mean() - 0.5) / 2
    tol = (8 * float(jnp.finfo(float_dtype).eps) + (0.0 if f32 else 1e-10)) * (1 + z * z)
    np.testing.assert_allclose(result["log_prob"], reference.logpdf(x), rtol=0, atol=tol)
    np.testing.assert_allclose(result["cdf"], QUANTILES, rtol=0, atol=tol)
    np.testing.assert_allclose(result["icdf"], x, rtol=0, atol=tol * width)
    np.testing.assert_allclose(result["mean"], reference.mean(), rtol=0, atol=tol * 2.0)
    # The variance is a difference of O(z^2) terms, each carrying the relative error
    # of log_ndtr (~1e-12 in float64, ~1e-7 in float32 far out): beyond ~8 standard
    # deviations only float64 keeps a useful variance.
    far = abs(reference.mean() - 0.5) / 2 > 8
    if not far:
        np.testing.assert_allclose(result["variance"], width**2, rtol=3e-4 if f32 else 1e-8)
    elif not f32:
        np.testing.assert_allclose(result["variance"], width**2, rtol=1e-3)


def test_truncated_normal_density_integrates_to_one(x64):
    for low, high in [(-1.0, 2.0), (3.0, None), (None, -3.0), (10.0, 14.0)]:
        d = TruncatedNormal(0.5, 2.0, low, high)
        a = 0.5 - 40 if low is None else low
        b = 0.5 + 40 if high is None else high
        total, _ = integrate.quad(lambda t, d=d: float(jnp.exp(d.log_prob(t))), a, b)
        np.testing.assert_allclose(total, 1.0, rtol=1e-7)


def test_samples_inside_bounds_in_far_tails_float32():
    n = 4000
    key = jax.random.PRNGKey(3)
    for low, high in [(20.0, None), (None, -35.0), (12.0, 12.5), (-60.0, -59.0),
                      (-3.0, 3.0)]:
        d = TruncatedNormal(0.0, 1.0, low, high)
        draws = np.asarray(_draw(d, key, n))
        assert draws.dtype == np.float32 and np.all(np.isfinite(draws))
        reference = _scipy_truncnorm(low, high, loc=0.0, scale=1.0)
        if low is not None:
            assert draws.min() >= np.float32(low)
        if high is not None:
            assert draws.max() <= np.float32(high)
        standard_error = reference.std() / np.sqrt(n)
        assert abs(draws.mean() - reference.mean()) < 5 * standard_error + 1e-5 * abs(
            reference.mean()
        )


def test_batched_truncation_and_sample_moments():
    loc = jnp.array([0.0, 1.0, -2.0])
    low = jnp.array([[-1.0], [0.5]])
    d = TruncatedNormal(loc, 1.5, low=low, high=3.0)
    assert isinstance(d, TwoSidedTruncatedDistribution) and d.batch_shape == (2, 3)
    draws = _draw(d, jax.random.key(1), 5000)
    assert draws.shape == (5000, 2, 3)
    assert np.all(draws >= low) and np.all(draws <= 3.0)
    mean, variance = jax.jit(lambda d: (d.mean, d.variance))(d)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 5 * np.sqrt(variance / 5000))


def test_truncated_cauchy_matches_direct_formula(x64):
    base = stats.cauchy(loc=1.0, scale=0.5)
    low, high = 2.0, 40.0
    z = base.cdf(high) - base.cdf(low)
    d = TruncatedCauchy(1.0, 0.5, low, high)
    x = np.array([2.0, 3.0, 39.0])
    q = np.array([0.2, 0.7])
    result = _evaluate_without_moments(d, jnp.asarray(x), jnp.asarray(q))
    np.testing.assert_allclose(result["log_prob"], base.logpdf(x) - np.log(z), rtol=1e-10)
    np.testing.assert_allclose(result["cdf"], (base.cdf(x) - base.cdf(low)) / z, atol=1e-12)
    np.testing.assert_allclose(result["icdf"], base.ppf(base.cdf(low) + q * z), rtol=1e-9)


@jax.jit
def _evaluate_without_moments(d, x, q):
    return {"log_prob": d.log_prob(x), "cdf": d.cdf(x), "icdf": d.icdf(q)}


def test_log_prob_outside_support_and_gradients():
    def log_prob(loc, scale, value):
        return TruncatedNormal(loc, scale, low=1.0, high=30.0).log_prob(value)

    values = jnp.array([0.0, 1.0, 20.0, 31.0])
    out = jax.jit(log_prob)(0.0, 1.0, values)
    assert np.isneginf(out[0]) and np.isneginf(out[3]) and np.all(np.isfinite(out[1:3]))
    grads = jax.jit(jax.jacobian(log_prob, argnums=(0, 1)))(0.0, 1.0, values)
    assert all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_array_equal(grads[0][jnp.array([0, 3])], 0.0)

    def mean_draw(loc):
        d = TruncatedNormal(loc, 1.0, low=25.0)
        return jnp.mean(d.sample(jax.random.PRNGKey(0), (64,)))

    sample_grad = jax.jit(jax.grad(mean_draw))(0.0)
    # Draws beyond a far truncation point hardly depend on loc: d E[x] / d loc ~ 1 / 25^2.
    assert np.isfinite(sample_grad) and abs(sample_grad) < 0.01


def test_factory_types_and_errors():
    base = Normal(0.0, 1.0)
    assert TruncatedDistribution(base) is base
    assert isinstance(TruncatedDistribution(base, low=0.0), LeftTruncatedDistribution)
    assert isinstance(TruncatedDistribution(base, high=0.0), RightTruncatedDistribution)
    left = TruncatedDistribution(base, low=0.0)
    assert left.support == constraints.greater_than_eq(0.0)
    with pytest.raises(ValueError,
                       match="TwoSidedTruncatedDistribution: parameter `high` must exceed `low`"):
        TruncatedNormal(0.0, 1.0, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="TruncatedDistribution: base_dist must be univariate"):
        TruncatedDistribution(Gamma(2.0, 1.0), low=1.0)
    with pytest.raises(TypeError, match="LeftTruncatedDistribution: base_dist must be"):
        LeftTruncatedDistribution(3.0, 1.0)
    with pytest.raises(ValueError, match="Normal: parameter `scale`"):
        TruncatedNormal(0.0, -1.0, low=0.0)
    assert isinstance(TruncatedDistribution(Cauchy(0.0, 1.0), -1.0, 1.0),
                      TwoSidedTruncatedDistribution)


def test_ndtri_log_inverts_log_ndtr(float_dtype):
    log_p = jnp.asarray([-2000.0, -300.0, -81.0, -79.0, -5.0, -0.5, -1e-3], float_dtype)
    x = jax.jit(ndtri_log)(log_p)
    back = jax.scipy.special.log_ndtr(x)
    # log_ndtr near 0 is known to float eps only in absolute terms.
    f32 = float_dtype == jnp.float32
    np.testing.assert_allclose(back, log_p, rtol=1e-5 if f32 else 1e-10,
                               atol=1e-7 if f32 else 1e-15)


# ----------------------------------------------------------------------------
# Power laws.

ALPHAS = [-3.5, -2.0, -1.0 - 1e-4, -1.0, -1.0 + 1e-4, 0.0, 1.7]
LOW, HIGH = 2.0, 60.0


def _power_law_reference(alpha, x):
    norm = np.log(HIGH / LOW) if alpha == -1 else (HIGH ** (alpha + 1) - LOW ** (alpha + 1)) / (
        alpha + 1
    )
    return alpha * np.log(x) - np.log(norm)


@jax.jit
def _power_law_evaluate(alpha, x, q):
    d = DoublyTruncatedPowerLaw(alpha, LOW, HIGH)
    return {
        "log_prob": d.log_prob(x),
        "cdf": d.cdf(x),
        "icdf": d.icdf(q),
        "mean": d.mean,
        "variance": d.variance,
        "grad_alpha": jax.vmap(
            jax.grad(lambda a, v: DoublyTruncatedPowerLaw(a, LOW, HIGH).log_prob(v)),
            in_axes=(None, 0),
        )(alpha, x),
    }


def _expected_log_x(alpha):
    norm = integrate.quad(lambda t: t**alpha, LOW, HIGH, epsabs=0, epsrel=1e-13)[0]
    moment = integrate.quad(lambda t: np.log(t) * t**alpha, LOW, HIGH, epsabs=0,
                            epsrel=1e-13)[0]
    return moment / norm


def test_doubly_truncated_power_law_known_answers(float_dtype):
    f32 = float_dtype == jnp.float32
    x = np.array([LOW, 3.0, 17.0, HIGH])
    q = np.array([0.0, 0.25, 0.5, 0.999, 1.0])
    for alpha in ALPHAS:
        result = _power_law_evaluate(jnp.asarray(alpha, float_dtype),
                                     jnp.asarray(x, float_dtype), jnp.asarray(q, float_dtype))
        assert result["log_prob"].dtype == float_dtype
        np.testing.assert_allclose(result["log_prob"], _power_law_reference(alpha, x),
                                   rtol=1e-5 if f32 else 1e-10)
        norm = integrate.quad(lambda t, a=alpha: t**a, LOW, HIGH, epsrel=1e-12)[0]
        cdf = [integrate.quad(lambda t, a=alpha: t**a, LOW, v, epsrel=1e-12)[0] / norm
               for v in x]
        np.testing.assert_allclose(result["cdf"], cdf, atol=1e-6 if f32 else 1e-12)
        np.testing.assert_allclose(_power_law_evaluate(
            jnp.asarray(alpha, float_dtype), result["icdf"], jnp.asarray(q, float_dtype)
        )["cdf"], q, atol=1e-5 if f32 else 1e-11)
        mean = integrate.quad(lambda t, a=alpha: t ** (a + 1), LOW, HIGH)[0] / norm
        second = integrate.quad(lambda t, a=alpha: t ** (a + 2), LOW, HIGH)[0] / norm
        np.testing.assert_allclose(result["mean"], mean, rtol=1e-5 if f32 else 1e-10)
        np.testing.assert_allclose(result["variance"], second - mean**2,
                                   rtol=1e-4 if f32 else 1e-9)
        # d/d alpha log p(x) = log x - E[log X]: finite and exact through alpha = -1.
        expected_grad = np.log(x) - _expected_log_x(alpha)
        assert np.all(np.isfinite(result["grad_alpha"]))
        np.testing.assert_allclose(result["grad_alpha"], expected_grad,
                                   rtol=1e-4 if f32 else 1e-9, atol=1e-5 if f32 else 1e-10)


def test_power_law_gradient_matches_finite_difference_at_minus_one(x64):
    def log_prob(alpha):
        return DoublyTruncatedPowerLaw(alpha, LOW, HIGH).log_prob(5.0)

    grad = jax.jit(jax.grad(log_prob))
    for alpha in (-1.0, -1.0 - 1e-4, -1.0 + 1e-4):
        h = 1e-5
        difference = (log_prob(alpha + h) - log_prob(alpha - h)) / (2 * h)
        np.testing.assert_allclose(grad(alpha), difference, rtol=1e-8)


def test_power_law_density_integrates_to_one(x64):
    for alpha in (-2.5, -1.0, 0.0, 3.0):
        d = DoublyTruncatedPowerLaw(alpha, LOW, HIGH)
        grid = np.geomspace(LOW, HIGH, 20001)
        density = np.exp(np.asarray(jax.jit(d.log_prob)(grid)))
        np.testing.assert_allclose(integrate.simpson(density, x=grid), 1.0, rtol=1e-9)


def test_power_law_sampling_and_batches():
    alpha = jnp.array([-2.3, -1.0, 0.5])
    high = jnp.array([[10.0], [100.0]])
    d = DoublyTruncatedPowerLaw(alpha, 1.0, high)
    assert d.batch_shape == (2, 3) and d.support == constraints.interval(1.0, high)
    n = 20_000
    draws = _draw(d, jax.random.PRNGKey(5), n)
    assert draws.shape == (n, 2, 3)
    assert np.all(draws >= 1.0) and np.all(draws <= high)
    np.testing.assert_array_less(np.abs(draws.mean(0) - d.mean), 5 * np.sqrt(d.variance / n))
    log_probs = jax.jit(d.log_prob)(draws[:3])
    assert log_probs.shape == (3, 2, 3) and np.all(np.isfinite(log_probs))
    with pytest.warns(UserWarning, match="DoublyTruncatedPowerLaw.log_prob: value outside"):
        outside = d.log_prob(jnp.array([[0.5], [200.0]]))
    assert np.isneginf(outside).all()


def test_power_law_invalid_arguments():
    with pytest.raises(ValueError, match="DoublyTruncatedPowerLaw: parameter `high` must "
                                         "exceed `low`"):
        DoublyTruncatedPowerLaw(-2.0, 5.0, 5.0)
    with pytest.raises(ValueError, match="DoublyTruncatedPowerLaw: parameter `low`"):
        DoublyTruncatedPowerLaw(-2.0, -1.0, 5.0)
    with pytest.raises(ValueError, match="DoublyTruncatedPowerLaw: parameter shapes"):
        DoublyTruncatedPowerLaw(jnp.zeros(2), 1.0, jnp.full(3, 5.0))
    with pytest.raises(ValueError, match="LowerTruncatedPowerLaw: parameter `alpha`"):
        LowerTruncatedPowerLaw(-0.5, 1.0)


def test_lower_truncated_power_law_matches_pareto(float_dtype):
    alpha, low = -4.5, 1.5
    reference = stats.pareto(-(alpha + 1), scale=low)
    d = LowerTruncatedPowerLaw(jnp.asarray(alpha, float_dtype), low)
    x = np.array([1.5, 2.0, 10.0])
    q = np.array([0.1, 0.5, 0.9])
    result = _evaluate(d, jnp.asarray(x, float_dtype), jnp.asarray(q, float_dtype))
    rtol = 1e-5 if float_dtype == jnp.float32 else 1e-10
    np.testing.assert_allclose(result["log_prob"], reference.logpdf(x), rtol=rtol)
    np.testing.assert_allclose(result["cdf"], reference.cdf(x), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(result["icdf"], reference.ppf(q), rtol=rtol)
    np.testing.assert_allclose(result["mean"], reference.mean(), rtol=rtol)
    np.testing.assert_allclose(result["variance"], reference.var(), rtol=rtol)
    assert np.isinf(LowerTruncatedPowerLaw(-1.5, 1.0).mean)
    draws = _draw(d, jax.random.PRNGKey(0), 20_000)
    assert np.all(draws >= low)
    assert abs(np.mean(draws) - reference.mean()) < 5 * reference.std() / np.sqrt(20_000)
