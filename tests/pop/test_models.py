"""Mass models of hierax.pop: normalisation, reference densities, sampling, gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from hierax.pop.models import OrderedTruncatedNormalMasses, PowerLawPrimaryMassRatio

KS_LEVEL = 1e-3  # fixed seeds: a p-value below this flags a real mismatch


# ----------------------------------------------------------------------------
# Independent NumPy/SciPy references.


def _power_integral(k, low, high):
    """int_low^high x^k dx."""
    if abs(k + 1) < 1e-12:
        return np.log(high / low)
    return (high ** (k + 1) - low ** (k + 1)) / (k + 1)


def reference_pl_logpdf(m1, m2, alpha, beta, mmin, mmax):
    p_m1 = m1**-alpha / _power_integral(-alpha, mmin, mmax)
    q = m2 / m1
    p_q = q**beta / _power_integral(beta, mmin / m1, 1.0)
    return np.log(p_m1 * p_q / m1)


def reference_taper(m, mmin, delta):
    x = np.asarray(m, float) - mmin
    out = np.where(x >= delta, 1.0, 0.0)
    inside = (x > 0) & (x < delta)
    xs = np.where(inside, x, delta / 2)
    return np.where(inside, special.expit(-(delta / xs + delta / (xs - delta))), out)


def reference_smooth_tables(alpha, beta, mmin, mmax, delta, size=200001):
    """Cumulative integrals of m^-alpha S and m^beta S on a fine grid (Simpson)."""
    grid = np.linspace(mmin, mmax, size)
    s = reference_taper(grid, mmin, delta)
    cum1 = integrate.cumulative_simpson(grid**-alpha * s, x=grid, initial=0.0)
    cum2 = integrate.cumulative_simpson(grid**beta * s, x=grid, initial=0.0)
    return grid, cum1, cum2


def reference_g_normaliser(p):
    """P(X2 <= X1) by scipy dblquad over the two truncated normal densities."""
    tn1 = stats.truncnorm((p[2] - p[0]) / p[1], (p[3] - p[0]) / p[1], p[0], p[1])
    tn2 = stats.truncnorm((p[6] - p[4]) / p[5], (p[7] - p[4]) / p[5], p[4], p[5])
    z1 = (special.ndtr((p[3] - p[0]) / p[1]) - special.ndtr((p[2] - p[0]) / p[1])) * p[1]
    z2 = (special.ndtr((p[7] - p[4]) / p[5]) - special.ndtr((p[6] - p[4]) / p[5])) * p[5]
    scale = 1.0 / (2 * math.pi * z1 * z2)

    def density(m2, m1):
        return scale * math.exp(-0.5 * (((m1 - p[0]) / p[1]) ** 2 + ((m2 - p[4]) / p[5]) ** 2))

    value, _ = integrate.dblquad(density, p[2], p[3], p[6],
                                 lambda m1: min(max(m1, p[6]), p[7]), epsabs=1e-13, epsrel=1e-11)
    return value, tn1, tn2


def _legendre(n, low, high):
    nodes, weights = special.roots_legendre(n)
    return low + (high - low) * (nodes + 1) / 2, weights * (high - low) / 2


def integrate_mass_density(log_prob, m1_low, m1_high, m2_low, m2_high, breaks=()):
    """int int exp(log_prob) over m2_low <= m2 <= min(m1, m2_high): quad outside, GL inside."""

    def inner(m1):
        top = min(m1, m2_high)
        edges = [m2_low] + [b for b in breaks if m2_low < b < top] + [top]
        total = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            nodes, weights = _legendre(96, lo, hi)
            value = np.stack([np.full_like(nodes, m1), nodes], -1)
            total += np.sum(weights * np.exp(np.asarray(log_prob(value))))
        return total

    points = [b for b in breaks if m1_low < b < m1_high]
    value, _ = integrate.quad(inner, max(m1_low, m2_low), m1_high, points=points or None,
                              limit=200, epsabs=1e-12, epsrel=1e-10)
    return value


@jax.jit
def _pl_log_prob(params, value):
    return PowerLawPrimaryMassRatio(*params, validate_args=False).log_prob(value)


@jax.jit
def _g_log_z(params):
    return OrderedTruncatedNormalMasses(*params, validate_args=False).log_ordered_probability()


@jax.jit
def _g_sample(params, key):
    return OrderedTruncatedNormalMasses(*params, validate_args=False).sample(key, (20000,))


@jax.jit
def _g_log_prob(params, value):
    return OrderedTruncatedNormalMasses(*params, validate_args=False).log_prob(value)


# ----------------------------------------------------------------------------
# Power law.

PL_SHARP = [(2.3, 1.1, 5.0, 80.0), (1.0, -1.0, 3.0, 60.0), (-0.5, 3.0, 8.0, 40.0)]
PL_SMOOTH = [(2.3, 1.1, 5.0, 80.0, 3.0), (1.0, -1.0, 3.0, 60.0, 5.0)]


def test_pl_integrates_to_one(x64):
    for params in PL_SHARP + PL_SMOOTH:
        mmin, mmax = params[2], params[3]
        breaks = (mmin + params[4],) if len(params) == 5 else ()
        args = tuple(jnp.asarray(p) for p in params)
        total = integrate_mass_density(lambda v, a=args: _pl_log_prob(a, v),
                                       mmin, mmax, mmin, mmax, breaks)
        tolerance = 1e-8 if len(params) == 4 else 2e-6  # taper table: O(h^2) trapezoid
        assert total == pytest.approx(1.0, abs=tolerance), params


def test_pl_matches_reference_density(x64):
    rng = np.random.default_rng(0)
    for alpha, beta, mmin, mmax in PL_SHARP:
        m1 = rng.uniform(mmin, mmax, 50)
        m2 = rng.uniform(mmin, m1)
        ours = PowerLawPrimaryMassRatio(alpha, beta, mmin, mmax).log_prob(np.stack([m1, m2], -1))
        np.testing.assert_allclose(ours, reference_pl_logpdf(m1, m2, alpha, beta, mmin, mmax),
                                   rtol=1e-10)
    alpha, beta, mmin, mmax, delta = PL_SMOOTH[0]
    grid, cum1, cum2 = reference_smooth_tables(alpha, beta, mmin, mmax, delta)
    m1 = np.array([5.5, 6.7, 7.9, 12.0, 70.0])
    m2 = np.array([5.2, 6.1, 7.0, 6.5, 30.0])
    f_m1 = np.interp(m1, grid, cum2)
    expected = (np.log(m1**-alpha * m2**beta * reference_taper(m1, mmin, delta)
                       * reference_taper(m2, mmin, delta)) - np.log(cum1[-1]) - np.log(f_m1))
    ours = PowerLawPrimaryMassRatio(alpha, beta, mmin, mmax, delta).log_prob(
        np.stack([m1, m2], -1))
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_pl_support_edges_are_minus_inf_with_finite_gradients(float_dtype):
    outside = jnp.asarray([[90.0, 10.0], [20.0, 25.0], [20.0, 4.0], [4.5, 4.2]], float_dtype)
    inside = jnp.asarray([[20.0, 10.0], [6.0, 5.5]], float_dtype)
    values = jnp.concatenate([outside, inside])
    for delta in (None, 2.0):
        params = [jnp.asarray(x, float_dtype) for x in (2.3, 1.1, 5.0, 80.0)]
        if delta is not None:
            params.append(jnp.asarray(delta, float_dtype))
        lp = _pl_log_prob(tuple(params), values)
        assert lp.dtype == float_dtype
        assert np.all(np.isneginf(lp[:4])) and np.all(np.isfinite(lp[4:]))
        mask = jnp.isfinite(lp)
        grads = jax.grad(lambda p, m=mask: jnp.sum(jnp.where(m, _pl_log_prob(p, values), 0.0)))(
            tuple(params))
        assert all(np.all(np.isfinite(g)) for g in grads)


def test_pl_continuous_through_alpha_one_and_beta_minus_one(float_dtype):
    value = jnp.asarray([[30.0, 12.0], [7.0, 6.0]], float_dtype)
    for delta in (None, 3.0):
        def log_prob(alpha, beta, delta=delta):
            params = [alpha, beta, jnp.asarray(5.0, float_dtype), jnp.asarray(80.0, float_dtype)]
            if delta is not None:
                params.append(jnp.asarray(delta, float_dtype))
            return _pl_log_prob(tuple(params), value)

        at = log_prob(jnp.asarray(1.0, float_dtype), jnp.asarray(-1.0, float_dtype))
        eps = 1e-3
        near = log_prob(jnp.asarray(1.0 + eps, float_dtype), jnp.asarray(-1.0 - eps, float_dtype))
        assert np.all(np.isfinite(at))
        assert np.max(np.abs(near - at)) < 20 * eps  # Lipschitz: no jump, no 0/0 blow-up
        grads = jax.grad(lambda a, b: jnp.sum(log_prob(a, b)), argnums=(0, 1))(
            jnp.asarray(1.0, float_dtype), jnp.asarray(-1.0, float_dtype))
        assert all(np.isfinite(g) for g in grads)
    if float_dtype == jnp.float32:
        with jax.enable_x64(True):
            reference = reference_pl_logpdf(np.array([30.0, 7.0]), np.array([12.0, 6.0]),
                                            1.0, -1.0, 5.0, 80.0)
        np.testing.assert_allclose(log_prob(jnp.float32(1.0), jnp.float32(-1.0), None),
                                   reference, rtol=1e-5)


def test_pl_sampling_matches_density(x64):
    alpha, beta, mmin, mmax = PL_SHARP[0]
    draws = np.asarray(PowerLawPrimaryMassRatio(alpha, beta, mmin, mmax).sample(
        jax.random.PRNGKey(0), (20000,)))
    m1, m2 = draws[:, 0], draws[:, 1]
    assert np.all((m2 >= mmin) & (m2 <= m1) & (m1 <= mmax))
    u1 = _power_integral(-alpha, mmin, m1) / _power_integral(-alpha, mmin, mmax)
    u2 = np.array([_power_integral(beta, mmin, b) / _power_integral(beta, mmin, a)
                   for a, b in zip(m1, m2, strict=True)])
    assert stats.kstest(u1, "uniform").pvalue > KS_LEVEL
    assert stats.kstest(u2, "uniform").pvalue > KS_LEVEL
    # Smoothed: Rosenblatt transform with reference cumulative integrals.
    alpha, beta, mmin, mmax, delta = PL_SMOOTH[1]
    draws = np.asarray(PowerLawPrimaryMassRatio(alpha, beta, mmin, mmax, delta).sample(
        jax.random.PRNGKey(1), (20000,)))
    m1, m2 = draws[:, 0], draws[:, 1]
    assert np.all((m2 >= mmin) & (m2 <= m1) & (m1 <= mmax))
    grid, cum1, cum2 = reference_smooth_tables(alpha, beta, mmin, mmax, delta)
    u1 = np.interp(m1, grid, cum1) / cum1[-1]
    u2 = np.interp(m2, grid, cum2) / np.interp(m1, grid, cum2)
    assert stats.kstest(u1, "uniform").pvalue > KS_LEVEL
    assert stats.kstest(u2, "uniform").pvalue > KS_LEVEL


def test_pl_float32_sampling_and_validation():
    dist = PowerLawPrimaryMassRatio(jnp.float32(2.0), jnp.float32(0.5), jnp.float32(5.0),
                                    jnp.float32(50.0), jnp.float32(2.0))
    draws = dist.sample(jax.random.key(3), (1000,))
    assert draws.dtype == jnp.float32 and draws.shape == (1000, 2)
    assert np.all(np.isfinite(dist.log_prob(draws)))
    with pytest.raises(ValueError, match="PowerLawPrimaryMassRatio.*high"):
        PowerLawPrimaryMassRatio(2.0, 1.0, 50.0, 5.0)
    with pytest.raises(ValueError, match="PowerLawPrimaryMassRatio.*delta"):
        PowerLawPrimaryMassRatio(2.0, 1.0, 5.0, 50.0, -1.0)


# ----------------------------------------------------------------------------
# Gaussian component restricted to m2 <= m1.

G_PARAMS = [
    (35.0, 5.0, 20.0, 60.0, 30.0, 6.0, 10.0, 50.0),   # m2_high < m1_high
    (30.0, 8.0, 10.0, 50.0, 30.0, 8.0, 10.0, 70.0),   # identical ranges, heavy overlap
    (40.0, 10.0, 5.0, 90.0, 38.0, 0.4, 30.0, 45.0),   # narrow m2 distribution
]


def test_g_normaliser_matches_scipy_dblquad(x64):
    for params in G_PARAMS:
        expected, _, _ = reference_g_normaliser(params)
        ours = np.exp(_g_log_z(tuple(jnp.asarray(p) for p in params)))
        assert float(ours) == pytest.approx(expected, rel=1e-8), params
    with pytest.raises(ValueError, match="OrderedTruncatedNormalMasses.*m1_low < m1_high"):
        OrderedTruncatedNormalMasses(35.0, 5.0, 60.0, 20.0, 30.0, 6.0, 10.0, 50.0)
    with pytest.raises(ValueError, match="OrderedTruncatedNormalMasses.*m2_low <= m1_high"):
        OrderedTruncatedNormalMasses(35.0, 5.0, 20.0, 30.0, 30.0, 6.0, 40.0, 50.0)
    with pytest.raises(ValueError, match="m1_scale"):
        OrderedTruncatedNormalMasses(35.0, -5.0, 20.0, 60.0, 30.0, 6.0, 10.0, 50.0)


def test_g_integrates_to_one_and_matches_reference(x64):
    rng = np.random.default_rng(1)
    for params in G_PARAMS:
        args = tuple(jnp.asarray(p) for p in params)
        breaks = tuple(params[4] + k * params[5] for k in (-6, -2, 0, 2, 6))
        total = integrate_mass_density(lambda v, a=args: _g_log_prob(a, v),
                                       params[2], params[3], params[6], params[7], breaks)
        assert total == pytest.approx(1.0, abs=1e-8), params
        z, tn1, tn2 = reference_g_normaliser(params)
        m1 = rng.uniform(max(params[2], params[6]), params[3], 40)
        m2 = rng.uniform(params[6], np.minimum(m1, params[7]))
        expected = tn1.logpdf(m1) + tn2.logpdf(m2) - np.log(z)
        ours = _g_log_prob(args, jnp.asarray(np.stack([m1, m2], -1)))
        np.testing.assert_allclose(ours, expected, rtol=1e-9)
        swapped = _g_log_prob(args, jnp.asarray(np.stack([m2 - 1e-3, m2], -1)))
        assert np.all(np.isneginf(swapped))  # never any density at m2 > m1


def test_g_sampling_is_exact_and_ordered(x64):
    params = G_PARAMS[1]
    draws = np.asarray(_g_sample(tuple(jnp.asarray(p) for p in params), jax.random.PRNGKey(2)))
    m1, m2 = draws[:, 0], draws[:, 1]
    assert np.all(np.isfinite(draws)) and np.all(m2 <= m1)
    assert np.all((m1 >= params[2]) & (m1 <= params[3]) & (m2 >= params[6]))
    z, tn1, tn2 = reference_g_normaliser(params)
    # Conditional of m2 given m1: the m2 normal truncated to [m2_low, min(m2_high, m1)].
    top = np.minimum(m1, params[7])
    u2 = (tn2.cdf(m2) - tn2.cdf(params[6])) / (tn2.cdf(top) - tn2.cdf(params[6]))
    assert stats.kstest(u2, "uniform").pvalue > KS_LEVEL
    # Marginal of m1: tn1(m1) P(X2 <= m1) / Z, cumulated on a fine grid.
    grid = np.linspace(params[2], params[3], 20001)
    marginal = tn1.pdf(grid) * tn2.cdf(np.minimum(grid, params[7])) / z
    cdf = integrate.cumulative_simpson(marginal, x=grid, initial=0.0)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-6)
    assert stats.kstest(np.interp(m1, grid, cdf), "uniform").pvalue > KS_LEVEL


def test_g_float32_values_gradients_and_draws():
    params = tuple(jnp.float32(p) for p in G_PARAMS[0])
    value = jnp.asarray([[40.0, 30.0], [30.0, 40.0], [70.0, 20.0]], jnp.float32)
    lp = _g_log_prob(params, value)
    assert lp.dtype == jnp.float32
    assert np.isfinite(lp[0]) and np.isneginf(lp[1]) and np.isneginf(lp[2])
    with jax.enable_x64(True):
        expected = _g_log_prob(tuple(jnp.float64(p) for p in G_PARAMS[0]),
                               jnp.asarray([[40.0, 30.0]]))
    np.testing.assert_allclose(lp[0], expected[0], rtol=1e-5)
    grads = jax.grad(lambda p: jnp.sum(jnp.where(jnp.isfinite(lp), _g_log_prob(p, value),
                                                 0.0)))(params)
    assert all(np.isfinite(g) for g in grads)
    draws = _g_sample(params, jax.random.key(0))
    assert draws.dtype == jnp.float32 and np.all(draws[:, 1] <= draws[:, 0])
