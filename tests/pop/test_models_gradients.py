"""Hand-written gradients of the mass components' per-sample densities.

The power law and the Gaussian differentiate ``log p`` in the hyperparameters
by closed-form per-sample features (custom VJPs). These tests compare them with
automatic differentiation of the plain formula and with central finite
differences, in float64, including ``alpha = 1``, ``beta = -1`` and samples
outside the support (which must contribute nothing and keep every gradient finite).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.pop.models import OrderedTruncatedNormalMasses, PowerLawPrimaryMassRatio
from hierax.pop.models._numerics import (
    log_power_integral,
    log_power_law_cdf,
    log_power_law_cdf_partials,
)

N_SAMPLES = 400


def _mass_samples(rng, low, high):
    m1 = rng.uniform(low, high, N_SAMPLES)
    m2 = m1 * rng.uniform(0.02, 1.0, N_SAMPLES)
    return np.stack([m1, m2], axis=-1)


def _weighted_total(log_prob, weights):
    """``sum_i w_i log p_i`` over the finite terms (a generic cotangent)."""
    def total(params):
        lp = log_prob(params)
        return jnp.sum(jnp.where(jnp.isfinite(lp), lp * weights, 0.0))
    return total


def _central_differences(fn, params, step):
    grads = []
    for i in range(len(params)):
        up, down = list(params), list(params)
        up[i], down[i] = params[i] + step, params[i] - step
        grads.append((fn(jnp.asarray(up)) - fn(jnp.asarray(down))) / (2 * step))
    return np.asarray(grads)


def _plain_pl(values, params):
    """The sharp power law written out with automatic differentiation throughout."""
    alpha, beta, mmin, mmax = params
    log_m = jnp.log(values)
    m1, m2 = values[:, 0], values[:, 1]
    inside = (m2 >= mmin) & (m2 <= m1) & (m1 <= mmax)
    log_z = log_power_integral(-alpha, jnp.log(mmin), jnp.log(mmax))
    log_f = log_power_law_cdf(beta, jnp.log(mmin), log_m[:, 0])
    return jnp.where(inside, -alpha * log_m[:, 0] + beta * log_m[:, 1] - log_z - log_f, -jnp.inf)


PL_POINTS = [
    (2.3, 1.1, 5.0, 80.0),
    (1.0, -1.0, 5.0, 80.0),
    (1.0 + 1e-7, -1.0 - 1e-6, 4.0, 60.0),
    (-0.7, -3.5, 3.0, 100.0),
]


def test_pl_custom_gradient_matches_autodiff_and_differences(x64):
    rng = np.random.default_rng(7)
    values = jnp.asarray(_mass_samples(rng, 2.0, 120.0))  # some below mmin, above mmax
    weights = jnp.asarray(rng.normal(size=N_SAMPLES))
    log_values = jnp.log(values)

    def custom(params):
        dist = PowerLawPrimaryMassRatio(*params, validate_args=False)
        return dist.log_prob_from_logs(values, log_values)

    custom_total = jax.jit(_weighted_total(custom, weights))
    plain_total = _weighted_total(lambda p: _plain_pl(values, p), weights)
    custom_grad, plain_grad = jax.jit(jax.grad(custom_total)), jax.jit(jax.grad(plain_total))
    for point in PL_POINTS:
        params = jnp.asarray(point)
        lp = custom(params)
        assert np.any(np.isneginf(lp)) and np.any(np.isfinite(lp))
        np.testing.assert_allclose(lp, _plain_pl(values, params), rtol=1e-12)
        ours = np.asarray(custom_grad(params))
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, plain_grad(params), rtol=1e-7, atol=1e-8)
        # mmin and mmax move the support: differences only where no sample crosses an edge.
        numeric = _central_differences(custom_total, point, 1e-6)
        np.testing.assert_allclose(ours[:2], numeric[:2], rtol=1e-6, atol=1e-6)


def test_pl_custom_gradient_in_the_samples(x64):
    """Cotangents of ``log m1, log m2`` (callers differentiating in the rows)."""
    values = jnp.asarray([[30.0, 12.0], [7.0, 5.0], [90.0, 10.0], [20.0, 3.0]])
    dist = PowerLawPrimaryMassRatio(1.7, -1.0, 4.0, 80.0)
    mask = jnp.asarray([True, True, False, False])

    def total(log_values, fn):
        lp = fn(log_values)
        return jnp.sum(jnp.where(mask, lp, 0.0))

    def plain(log_values):
        return _plain_pl(jnp.exp(log_values), jnp.asarray([1.7, -1.0, 4.0, 80.0]))

    log_values = jnp.log(values)
    ours = jax.grad(total)(log_values, lambda lv: dist.log_prob_from_logs(values, lv))
    expected = jax.grad(total)(log_values, plain)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    assert np.all(ours[2:] == 0.0)


def _quadrature_log_cdf(exponent, low, x):
    """``log int_low^x t^exponent dt`` by adaptive quadrature (float64 reference)."""
    from scipy.integrate import quad

    value, _ = quad(lambda t: t**exponent, low, x, epsabs=0.0, epsrel=1e-13, limit=200)
    return np.log(value)


CDF_EXPONENTS = [-1.0, -1.0 + 1e-12, -1.0 + 3e-3, -1.0 - 0.2, 0.5, -4.0, 2.5]
CDF_POINTS = [5.0 * (1 + 1e-6), 5.3, 12.0, 79.0]


@pytest.mark.parametrize("exponent", CDF_EXPONENTS)
def test_log_power_law_cdf_matches_quadrature(x64, exponent):
    ours = log_power_law_cdf(jnp.asarray(exponent), jnp.log(5.0), jnp.log(jnp.asarray(CDF_POINTS)))
    expected = [_quadrature_log_cdf(exponent, 5.0, x) for x in CDF_POINTS]
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("exponent", [-1.0, -1.0 + 1e-4, -3.0, 1.5])
def test_log_power_law_cdf_float32_near_and_away_from_minus_one(exponent):
    """float32 keeps float32 accuracy (no cancellation at ``c -> 0``)."""
    log_x = np.log(np.asarray(CDF_POINTS[1:], np.float32))
    ours = log_power_law_cdf(jnp.float32(exponent), jnp.float32(np.log(5.0)), jnp.asarray(log_x))
    assert ours.dtype == jnp.float32
    expected = [_quadrature_log_cdf(exponent, 5.0, float(np.exp(lx))) for lx in log_x]
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("exponent", CDF_EXPONENTS)
def test_log_power_law_cdf_partials_match_quadrature_differences(x64, exponent):
    """The partials (also the JVP of ``log_power_law_cdf``) against central differences
    of the quadrature reference in ``(exponent, log_low, log_x)``."""
    log_low, step = np.log(5.0), 1e-5
    log_x = np.log(np.asarray(CDF_POINTS[1:]))

    def reference(e, a, b):
        return np.asarray([_quadrature_log_cdf(e, np.exp(a), np.exp(x)) for x in b])

    numeric = [
        (reference(exponent + step, log_low, log_x) - reference(exponent - step, log_low, log_x)),
        (reference(exponent, log_low + step, log_x) - reference(exponent, log_low - step, log_x)),
        (reference(exponent, log_low, log_x + step) - reference(exponent, log_low, log_x - step)),
    ]
    partials = log_power_law_cdf_partials(jnp.asarray(exponent), jnp.asarray(log_low),
                                          jnp.asarray(log_x))
    jvp_exponent = jax.vmap(jax.grad(log_power_law_cdf), (None, None, 0))(
        jnp.asarray(exponent), jnp.asarray(log_low), jnp.asarray(log_x))
    for ours, difference in zip(partials, numeric, strict=True):
        np.testing.assert_allclose(ours, difference / (2 * step), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jvp_exponent, partials[0], rtol=1e-12)
    # At x -> low the partials stay finite.
    edge = log_power_law_cdf_partials(jnp.asarray(exponent), jnp.asarray(log_low),
                                      jnp.asarray([log_low, log_low + 1e-9]))
    assert all(np.all(np.isfinite(p)) for p in edge)


G_POINTS = [
    (30.0, 5.0, 10.0, 50.0, 20.0, 4.0, 5.0, 40.0),  # overlapping truncations
    (35.0, 6.0, 12.0, 55.0, 8.0, 2.0, 5.0, 11.0),  # m2_high <= m1_low
]


def test_gaussian_custom_gradient_matches_autodiff_and_differences(x64):
    rng = np.random.default_rng(11)
    values = jnp.asarray(_mass_samples(rng, 3.0, 62.0))
    weights = jnp.asarray(rng.normal(size=N_SAMPLES))

    def custom(params):
        return OrderedTruncatedNormalMasses(*params, validate_args=False).log_prob(values)

    def plain(params):
        dist = OrderedTruncatedNormalMasses(*params, validate_args=False)
        z1 = (values[:, 0] - params[0]) / params[1]
        z2 = (values[:, 1] - params[4]) / params[5]
        inside = dist.support(values)
        return jnp.where(inside, -0.5 * (z1**2 + z2**2) - dist._log_normalizer(), -jnp.inf)

    custom_total = jax.jit(_weighted_total(custom, weights))
    plain_grad = jax.jit(jax.grad(_weighted_total(plain, weights)))
    for point in G_POINTS:
        params = jnp.asarray(point)
        lp = custom(params)
        assert np.any(np.isneginf(lp)) and np.any(np.isfinite(lp))
        np.testing.assert_allclose(lp, plain(params), rtol=1e-12)
        ours = np.asarray(jax.jit(jax.grad(custom_total))(params))
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, plain_grad(params), rtol=1e-9, atol=1e-9)
        smooth = [0, 1, 4, 5]  # locations and scales; the bounds move the support
        numeric = _central_differences(custom_total, point, 1e-6)
        np.testing.assert_allclose(ours[smooth], numeric[smooth], rtol=1e-6, atol=1e-6)


def test_gaussian_custom_gradient_in_the_samples_and_float32():
    params = (30.0, 5.0, 10.0, 50.0, 20.0, 4.0, 5.0, 40.0)
    values = jnp.asarray([[40.0, 30.0], [30.0, 40.0], [25.0, 20.0]], jnp.float32)
    dist = OrderedTruncatedNormalMasses(*(jnp.float32(p) for p in params))
    grad = jax.grad(lambda v: jnp.sum(jnp.where(jnp.isfinite(dist.log_prob(v)),
                                                dist.log_prob(v), 0.0)))(values)
    assert grad.dtype == jnp.float32
    z = (values - jnp.asarray([30.0, 20.0])) / jnp.asarray([5.0, 4.0])
    expected = -z / jnp.asarray([5.0, 4.0])
    keep = jnp.asarray([0, 2])
    np.testing.assert_allclose(grad[keep], expected[keep], rtol=1e-6)
    assert np.all(grad[1] == 0.0)
