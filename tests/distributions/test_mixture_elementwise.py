"""The elementwise log-sum-exp of the mixtures and the shared support mask of MixtureGeneral."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import hierax.distributions as dist
from hierax.distributions.mixture_base import _logsumexp_last, _logsumexp_terms


def test_logsumexp_terms_matches_scipy_and_handles_all_neg_inf():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5)).astype(np.float32) * 30.0
    x[0, 1] = -np.inf
    x[:, 4] = -np.inf  # every term -inf in column 4
    value = _logsumexp_terms([jnp.asarray(row) for row in x])
    np.testing.assert_allclose(value[:4], special.logsumexp(x[:, :4], axis=0), rtol=1e-6)
    assert np.isneginf(value[4])
    grads = jax.grad(lambda t: jnp.sum(_logsumexp_terms(list(t))[:4]))(jnp.asarray(x))
    np.testing.assert_allclose(grads[:, :4], special.softmax(x[:, :4], axis=0), atol=1e-6)
    np.testing.assert_array_equal(grads[:, 4], 0.0)


@pytest.mark.parametrize("size", [3, 12])
def test_logsumexp_last_unrolled_and_reduced_paths_agree(size):
    x = np.random.default_rng(size).normal(size=(4, size)).astype(np.float32)
    x[1] = -np.inf
    value = np.asarray(_logsumexp_last(jnp.asarray(x)))
    np.testing.assert_allclose(value[[0, 2, 3]], special.logsumexp(x[[0, 2, 3]], axis=-1),
                               rtol=1e-6)
    assert np.isneginf(value[1])


def _cluster_field(log_d, log_sigma, scale, q):
    cluster = dist.TransformedDistribution(dist.Normal(log_d, jnp.exp(log_sigma)),
                                           dist.transforms.ExpTransform())
    field = dist.TransformedDistribution(
        dist.Chi2(6.0), dist.transforms.AffineTransform(0.0, scale,
                                                        domain=dist.constraints.positive))
    mixing = dist.Categorical(probs=jnp.stack((q, 1.0 - q), axis=-1))
    return dist.MixtureGeneral(mixing, [cluster, field], support=dist.constraints.positive)


def test_shared_support_mixture_matches_scipy_and_masks_outside():
    r = jnp.asarray([-1.0, 0.0, 50.0, 800.0, 2000.0], jnp.float32)

    def log_prob(params):
        with dist.validation_enabled(False):  # the out-of-support values are on purpose
            return _cluster_field(*params).log_prob(r)

    params = (jnp.float32(np.log(800.0)), jnp.float32(-2.0), jnp.float32(200.0),
              jnp.float32(0.3))
    value = np.asarray(jax.jit(log_prob)(params))
    x = np.asarray(r[2:], np.float64)
    expected = np.log(0.3 * stats.lognorm.pdf(x, np.exp(-2.0), scale=800.0)
                      + 0.7 * stats.chi2.pdf(x / 200.0, 6.0) / 200.0)
    np.testing.assert_allclose(value[2:], expected, rtol=2e-5)
    assert np.all(np.isneginf(value[:2]))
    grads = jax.jit(jax.jacobian(lambda p: log_prob(p)))(params)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert all(np.all(np.asarray(g)[:2] == 0.0) for g in grads)
    mixture = _cluster_field(*params)
    from_components = special.logsumexp(np.asarray(mixture.component_log_probs(r[2:])), axis=-1)
    np.testing.assert_allclose(value[2:], from_components, rtol=1e-5)


def test_partly_shared_supports_give_minus_inf_per_component():
    mixing = dist.Categorical(probs=jnp.asarray([0.25, 0.75]))
    mixture = dist.MixtureGeneral(mixing, [dist.Normal(0.0, 1.0), dist.Uniform(0.0, 1.0)])
    x = jnp.asarray([-0.5, 0.5, 2.0])
    expected = np.log(0.25 * stats.norm.pdf(np.asarray(x))
                      + 0.75 * stats.uniform.pdf(np.asarray(x)))
    np.testing.assert_allclose(mixture.log_prob(x), expected, rtol=1e-6)
    components = np.asarray(mixture.component_log_probs(x))
    assert np.isneginf(components[0, 1]) and np.isneginf(components[2, 1])
    grad = jax.grad(lambda v: jnp.sum(mixture.log_prob(v)))(x)
    assert np.all(np.isfinite(grad))
