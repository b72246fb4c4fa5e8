"""Tests of MixtureSameFamily, MixtureGeneral and the Mixture factory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from hierax.distributions import constraints
from hierax.distributions.continuous import (
    Chi2,
    Exponential,
    Gamma,
    HalfNormal,
    LogNormal,
    Normal,
    Uniform,
)
from hierax.distributions.discrete import Categorical
from hierax.distributions.mixtures import Mixture, MixtureGeneral, MixtureSameFamily
from hierax.distributions.transformed import TransformedDistribution
from hierax.distributions.transforms import AffineTransform, ExpTransform

WEIGHTS = np.array([0.2, 0.5, 0.3])
LOCS = np.array([-2.0, 0.5, 3.0])
SCALES = np.array([0.5, 1.0, 2.0])


def _reference_log_prob(x):
    terms = np.log(WEIGHTS) + stats.norm.logpdf(np.asarray(x)[..., None], LOCS, SCALES)
    return logsumexp(terms, axis=-1)


def _same_family():
    return MixtureSameFamily(Categorical(probs=jnp.asarray(WEIGHTS)), Normal(LOCS, SCALES))


def _general():
    components = [Normal(m, s) for m, s in zip(LOCS, SCALES, strict=True)]
    return MixtureGeneral(Categorical(logits=jnp.log(jnp.asarray(WEIGHTS))), components)


@jax.jit
def _evaluate(mixture, x):
    """Everything a test compares, in one compiled call."""
    return {
        "log_prob": mixture.log_prob(x),
        "cdf": mixture.cdf(x),
        "mean": mixture.mean,
        "variance": mixture.variance,
        "component_log_probs": mixture.component_log_probs(x),
    }


def test_log_prob_cdf_and_moments_match_scipy(float_dtype):
    x = np.array([[-3.0, 0.0, 0.7], [2.5, 8.0, -10.0]])
    reference_cdf = np.sum(WEIGHTS * stats.norm.cdf(x[..., None], LOCS, SCALES), axis=-1)
    reference_mean = np.sum(WEIGHTS * LOCS)
    reference_var = np.sum(WEIGHTS * (SCALES**2 + (LOCS - reference_mean) ** 2))
    rtol = 1e-5 if float_dtype == jnp.float32 else 1e-12
    for mixture in (_same_family(), _general()):
        assert mixture.batch_shape == () and mixture.event_shape == ()
        assert mixture.mixture_size == 3
        result = _evaluate(mixture, jnp.asarray(x, float_dtype))
        log_prob = result["log_prob"]
        assert log_prob.shape == (2, 3) and log_prob.dtype == float_dtype
        np.testing.assert_allclose(log_prob, _reference_log_prob(x), rtol=rtol)
        np.testing.assert_allclose(result["cdf"], reference_cdf, rtol=rtol, atol=1e-7)
        np.testing.assert_allclose(result["mean"], reference_mean, rtol=rtol)
        np.testing.assert_allclose(result["variance"], reference_var, rtol=rtol)
        components = result["component_log_probs"]
        assert components.shape == (2, 3, 3)
        np.testing.assert_allclose(
            components,
            np.log(WEIGHTS) + stats.norm.logpdf(x[..., None], LOCS, SCALES),
            rtol=rtol,
        )


def test_batched_same_family_and_general_agree():
    locs = jnp.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])  # batch (3,), K = 2
    probs = jnp.array([[0.3, 0.7], [0.9, 0.1], [0.5, 0.5]])
    same = MixtureSameFamily(Categorical(probs=probs), Normal(locs, 1.5))
    general = MixtureGeneral(Categorical(probs=probs),
                             [Normal(locs[:, 0], 1.5), Normal(locs[:, 1], 1.5)])
    assert same.batch_shape == general.batch_shape == (3,)
    x = jnp.array([[0.1, -0.2, 3.0], [1.0, 2.0, -4.0]])
    same_result, general_result = _evaluate(same, x), _evaluate(general, x)
    for name in ("log_prob", "cdf", "mean", "variance", "component_log_probs"):
        np.testing.assert_allclose(same_result[name], general_result[name], rtol=1e-6)
    expected = logsumexp(
        np.log(probs) + stats.norm.logpdf(np.asarray(x)[..., None], locs, 1.5), axis=-1
    )
    np.testing.assert_allclose(same_result["log_prob"], expected, rtol=1e-5)


def test_factory_picks_the_mixture_type():
    mixing = Categorical(probs=jnp.asarray(WEIGHTS))
    same = Mixture(mixing, Normal(LOCS, SCALES))
    general = Mixture(mixing, [Normal(0.0, 1.0), Normal(1.0, 1.0), HalfNormal(1.0)])
    assert type(same) is MixtureSameFamily and isinstance(same, Mixture)
    assert type(general) is MixtureGeneral and isinstance(general, Mixture)
    assert general.support == constraints.real
    np.testing.assert_allclose(same.log_prob(0.3), _reference_log_prob(0.3), rtol=1e-5)


def test_component_frequencies_and_sample_moments():
    n = 20_000
    draw = jax.jit(lambda d, key: d.sample_with_intermediates(key, (n,)))
    for mixture in (_same_family(), _general()):
        draws, (index,) = draw(mixture, jax.random.PRNGKey(1))
        assert draws.shape == (n,) and index.shape == (n,)
        frequencies = np.bincount(np.asarray(index), minlength=3) / n
        np.testing.assert_array_less(
            np.abs(frequencies - WEIGHTS), 5 * np.sqrt(WEIGHTS * (1 - WEIGHTS) / n)
        )
        # Each draw comes from its chosen component: standardised draws look N(0, 1).
        z = (np.asarray(draws) - LOCS[index]) / SCALES[index]
        assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.var() - 1) < 5 * np.sqrt(2 / n)
        mean, variance = float(mixture.mean), float(mixture.variance)
        assert abs(np.mean(draws) - mean) < 5 * np.sqrt(variance / n)
    key = jax.random.key(0)  # new-style keys work too
    assert _general().sample(key, (4, 2)).shape == (4, 2)
    assert _general().component_sample(key, (5,)).shape == (5, 3)


def _cluster_mixture(params, n_stars):
    log_L, log_D, log_sigma, Q = params
    L = jnp.exp(log_L)
    dist_bg = TransformedDistribution(
        Chi2(6), AffineTransform(0.0, 0.5 * L, domain=constraints.positive)
    )
    dist_fg = TransformedDistribution(
        Normal(jnp.full((n_stars,), log_D), jnp.exp(log_sigma)), ExpTransform()
    )
    mixing = Categorical(probs=jnp.stack((Q, 1 - Q), axis=-1))
    return MixtureGeneral(mixing, [dist_fg, dist_bg])


def test_cluster_mixture_values_and_gradients():
    params = (jnp.log(2.0), 0.5, jnp.log(0.2), 0.6)
    # Typical, far from the foreground (lognormal underflows), and huge distances.
    r = jnp.array([1.5, 0.01, 40.0, 1e4, 1e30])
    mixture = _cluster_mixture(params, r.shape[0])
    assert mixture.batch_shape == (5,) and mixture.support == constraints.positive
    component_log_probs, log_prob = jax.jit(
        lambda d, r: (d.component_log_probs(r), d.log_prob(r))
    )(mixture, r)
    assert component_log_probs.shape == (5, 2)
    log_L, log_D, log_sigma, Q = params
    log_r = np.log(np.asarray(r, np.float64))
    fg = np.log(0.6) + stats.norm.logpdf(log_r, 0.5, 0.2) - log_r
    bg = np.log(0.4) + stats.chi2.logpdf(np.asarray(r, np.float64), 6, scale=1.0)
    np.testing.assert_allclose(component_log_probs[:, 0], fg, rtol=1e-5)
    np.testing.assert_allclose(component_log_probs[:, 1], bg, rtol=1e-5)
    np.testing.assert_allclose(log_prob, logsumexp(np.stack([fg, bg], -1), axis=-1), rtol=1e-5)

    def total(params, r):
        return jnp.sum(_cluster_mixture(params, r.shape[0]).log_prob(r))

    value, grads = jax.jit(jax.value_and_grad(total))(params, r)
    assert np.isfinite(value)
    assert all(np.isfinite(g) for g in grads)


def test_cluster_mixture_outside_support_is_neg_inf_with_finite_gradients():
    params = (jnp.log(2.0), 0.5, jnp.log(0.2), 0.6)
    r = jnp.array([-1.0, 0.0, 1.5])
    mixture = _cluster_mixture(params, 3)
    with pytest.warns(UserWarning, match="MixtureGeneral.log_prob: value outside the support"):
        mixture.log_prob(r)
    log_prob, component_log_probs = jax.jit(
        lambda d, r: (d.log_prob(r), d.component_log_probs(r))
    )(mixture, r)
    assert np.all(np.isneginf(log_prob[:2])) and np.isfinite(log_prob[2])
    assert np.all(np.isneginf(component_log_probs[:2]))

    def total(params):
        return jnp.sum(_cluster_mixture(params, 3).log_prob(r)[:2])

    grads = jax.jit(jax.grad(total))(params)
    assert all(np.isfinite(g) and g == 0 for g in grads)


def test_linear_regression_outlier_mixture():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 10, 50))
    y_err = rng.uniform(0.5, 1.5, 50)
    y = 2.0 * x + 1.0 + rng.normal(0, y_err)
    Q, m, b, bg_mean, bg_sigma = 0.8, 2.0, 1.0, 5.0, 10.0
    mixture = MixtureGeneral(
        Categorical(probs=jnp.array([Q, 1.0 - Q])),
        [Normal(m * x + b, y_err), Normal(bg_mean, jnp.sqrt(bg_sigma**2 + y_err**2))],
    )
    assert mixture.batch_shape == (50,)
    expected = np.logaddexp(
        np.log(Q) + stats.norm.logpdf(y, m * x + b, y_err),
        np.log(1 - Q) + stats.norm.logpdf(y, bg_mean, np.sqrt(bg_sigma**2 + y_err**2)),
    )
    np.testing.assert_allclose(_evaluate(mixture, jnp.asarray(y))["log_prob"], expected,
                               rtol=1e-5)
    draws = jax.jit(lambda d: d.sample(jax.random.PRNGKey(0), (7,)))(mixture)
    assert draws.shape == (7, 50)


def test_inferred_supports():
    mixing = Categorical(probs=jnp.array([0.5, 0.5]))
    normal_and_exponential = MixtureGeneral(mixing, [Normal(0.0, 1.0), Exponential(2.0)])
    assert normal_and_exponential.support == constraints.real
    assert MixtureGeneral(mixing, [Gamma(2.0, 1.0), LogNormal(0.0, 1.0)]).support == (
        constraints.positive
    )
    uniforms = MixtureGeneral(mixing, [Uniform(0.0, 1.0), Uniform(2.0, 3.0)])
    support = uniforms.support
    assert isinstance(support, constraints.interval)
    assert float(support.lower_bound) == 0.0 and float(support.upper_bound) == 3.0
    explicit = MixtureGeneral(mixing, [Gamma(2.0, 1.0), LogNormal(0.0, 1.0)],
                              support=constraints.real)
    assert explicit.support == constraints.real
    same = MixtureSameFamily(mixing, Uniform(jnp.array([0.0, 2.0]), jnp.array([1.0, 3.0])))
    assert float(same.support.lower_bound) == 0.0 and float(same.support.upper_bound) == 3.0


def test_components_with_different_supports():
    mixing = Categorical(probs=jnp.array([0.25, 0.75]))
    x = jnp.array([-1.0, 1e-3, 0.5, 2.0])
    mixture = MixtureGeneral(mixing, [Normal(0.0, 1.0), Exponential(2.0)])
    expected = np.where(
        np.asarray(x) >= 0,
        np.logaddexp(np.log(0.25) + stats.norm.logpdf(x),
                     np.log(0.75) + stats.expon.logpdf(x, scale=0.5)),
        np.log(0.25) + stats.norm.logpdf(x),
    )
    result = _evaluate(mixture, x)
    np.testing.assert_allclose(result["log_prob"], expected, rtol=1e-5)
    cdf = 0.25 * stats.norm.cdf(x) + 0.75 * stats.expon.cdf(x, scale=0.5)
    np.testing.assert_allclose(result["cdf"], cdf, rtol=1e-5, atol=1e-7)

    def total(rate):
        return jnp.sum(MixtureGeneral(mixing, [Normal(0.0, 1.0), Exponential(rate)]).log_prob(x))

    assert np.isfinite(jax.grad(total)(2.0))


def test_same_family_uniforms_outside_support():
    def log_prob(lows, value):
        mixing = Categorical(probs=jnp.array([0.5, 0.5]))
        return MixtureSameFamily(mixing, Uniform(lows, lows + 1.0)).log_prob(value)

    lows = jnp.array([0.0, 2.0])
    x = jnp.array([0.5, 1.5, 2.5])
    values = jax.jit(log_prob)(lows, x)
    grads = jax.jit(jax.jacobian(log_prob))(lows, x)
    np.testing.assert_allclose(values, [np.log(0.5), -np.inf, np.log(0.5)])
    assert np.all(np.isfinite(grads))


def test_mixture_is_a_pytree_under_jit_and_vmap():
    mixture = _same_family()
    x = jnp.linspace(-3.0, 3.0, 5)
    jitted = jax.jit(lambda d, v: d.log_prob(v))(mixture, x)
    np.testing.assert_allclose(jitted, _reference_log_prob(np.asarray(x)), rtol=1e-5)

    def general_log_prob(loc):
        components = [Normal(loc, 1.0), HalfNormal(2.0)]
        return MixtureGeneral(Categorical(probs=jnp.array([0.5, 0.5])), components).log_prob(0.3)

    batched = jax.vmap(general_log_prob)(jnp.array([0.0, 1.0]))
    expected = [np.logaddexp(np.log(0.5) + stats.norm.logpdf(0.3, loc, 1.0),
                             np.log(0.5) + stats.halfnorm.logpdf(0.3, scale=2.0))
                for loc in (0.0, 1.0)]
    np.testing.assert_allclose(batched, expected, rtol=1e-5)


def test_invalid_arguments():
    mixing = Categorical(probs=jnp.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="MixtureGeneral: got 3 component_distributions"):
        MixtureGeneral(mixing, [Normal(0.0, 1.0)] * 3)
    with pytest.raises(TypeError, match=r"component_distributions\[1\] must be a Distribution"):
        MixtureGeneral(mixing, [Normal(0.0, 1.0), 3.0])
    with pytest.raises(ValueError, match="MixtureSameFamily: the rightmost batch dim"):
        MixtureSameFamily(mixing, Normal(jnp.zeros(3), 1.0))
    with pytest.raises(TypeError, match="MixtureSameFamily: mixing_distribution must be"):
        MixtureSameFamily(Normal(0.0, 1.0), Normal(jnp.zeros(2), 1.0))
    with pytest.raises(ValueError, match="share one event_shape"):
        MixtureGeneral(mixing, [Normal(0.0, 1.0), Normal(jnp.zeros(2), 1.0).to_event(1)])
    with pytest.raises(ValueError, match="do not broadcast"):
        MixtureGeneral(mixing, [Normal(jnp.zeros(2), 1.0), Normal(jnp.zeros(3), 1.0)])
