"""LVK spin models of hierax.pop: normalisation, reference densities, sampling, precision,
gradients and parameter checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, special, stats

from hierax.pop.models.spin import IsotropicGaussianTilts
from hierax.pop.models.spin_lvk import (
    ChiEffGaussian,
    ChiEffSkewNormal,
    EffectiveSpinGaussian,
    GaussianTilts,
    skew_normal_location_scale,
)

KS_ALPHA = 1e-3  # fixed seeds: exceeding the level-1e-3 Kolmogorov bound flags a real mismatch
F32_EPS = float(np.finfo(np.float32).eps)

TILT_PARAMS = [(0.6, 0.3, 0.5, 0.5), (0.7, -0.4, 0.3, 0.9), (1.0, 0.8, 0.05, 0.2)]
EFF_PARAMS = np.array([
    (0.05, 0.1, 0.2, 0.15, 0.7),     # typical
    (0.0, 0.12, 0.3, 0.2, -0.5),
    (0.3, 0.02, 0.05, 0.03, 0.95),   # narrow, on the chi_p = 0 edge, strong correlation
    (-0.8, 0.5, 0.9, 0.6, 0.0),      # wide, uncorrelated
    (0.9, 0.05, 0.6, 0.4, -0.99),    # nearly degenerate
])
SKEW_PARAMS = np.array([
    (0.1, 0.3, 4.0),
    (0.05, 0.1, -8.0),
    (0.9, 0.05, -50.0),
    (-0.3, 0.8, 0.0),
    (0.5, 2.0, 1.5),
    (-0.95, 0.02, 300.0),
])


def ks_bound(n):
    """Asymptotic Kolmogorov critical value of level KS_ALPHA for n draws."""
    return math.sqrt(-math.log(KS_ALPHA / 2) / 2) / math.sqrt(n)


def assert_uniform(u):
    u = np.asarray(u)
    assert stats.kstest(u, "uniform").statistic < ks_bound(u.size)


def assert_uncorrelated(u, v):
    """Pearson correlation of independent uniforms: sd 1/sqrt(n); 4 sd allowed."""
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(len(u))


def _legendre(panels, nodes, low, high):
    """Composite Gauss-Legendre nodes and weights on [low, high]."""
    x, w = special.roots_legendre(nodes)
    edges = np.linspace(low, high, panels + 1)
    half = np.diff(edges)[:, None] / 2
    points = (edges[:-1, None] + half * (x + 1)).ravel()
    return points, (half * w).ravel()


def _jit_log_prob(cls, **options):
    return jax.jit(lambda p, v: cls(*p, **options, validate_args=False).log_prob(v))


def _jit_sample(cls, n, **options):
    return jax.jit(lambda p, k: cls(*p, **options, validate_args=False).sample(k, (n,)))


_TILT_LOG_PROB = {False: _jit_log_prob(GaussianTilts),
                  True: _jit_log_prob(GaussianTilts, independent_tilts=True)}
_TILT_SAMPLE = {False: _jit_sample(GaussianTilts, 10000),
                True: _jit_sample(GaussianTilts, 10000, independent_tilts=True)}
_EFF_LOG_PROB = _jit_log_prob(EffectiveSpinGaussian)
_EFF_SAMPLE = _jit_sample(EffectiveSpinGaussian, 10000)
_SKEW_LOG_PROB = _jit_log_prob(ChiEffSkewNormal)
_SKEW_SAMPLE = _jit_sample(ChiEffSkewNormal, 10000)
_CHI_LOG_PROB = _jit_log_prob(ChiEffGaussian)
_CHI_SAMPLE = _jit_sample(ChiEffGaussian, 4000)


@jax.jit
def _eff_log_mass(p):
    return EffectiveSpinGaussian(*p, validate_args=False).log_box_probability()


@jax.jit
def _skew_log_mass(p):
    return ChiEffSkewNormal(*p, validate_args=False).log_interval_probability()


def _columns(params, dtype=None):
    return tuple(jnp.asarray(c, dtype) for c in np.asarray(params).T)


# ----------------------------------------------------------------------------
# Independent references.


def _truncnorm(mu, s, low=-1.0, high=1.0):
    return stats.truncnorm((low - mu) / s, (high - mu) / s, mu, s)


def reference_tilt_logpdf(z1, z2, zeta, mu, s1, s2, independent):
    g1, g2 = _truncnorm(mu, s1).pdf(z1), _truncnorm(mu, s2).pdf(z2)
    if independent:
        return np.log(((1 - zeta) / 2 + zeta * g1) * ((1 - zeta) / 2 + zeta * g2))
    return np.log((1 - zeta) / 4 + zeta * g1 * g2)


def reference_box_mass(mu1, s1, mu2, s2, rho):
    """Mass of the bivariate normal in [-1, 1] x [0, 1] by nested adaptive quadrature."""
    det = 1 - rho * rho
    norm = 1 / (2 * math.pi * s1 * s2 * math.sqrt(det))
    sc = s2 * math.sqrt(det)

    def inner(x):
        z1 = (x - mu1) / s1
        centre = mu2 + rho * s2 * z1

        def density(y):
            z2 = (y - mu2) / s2
            return norm * math.exp(-0.5 * (z1 * z1 - 2 * rho * z1 * z2 + z2 * z2) / det)

        points = [c for c in (centre - 3 * sc, centre, centre + 3 * sc) if 0 < c < 1]
        return integrate.quad(density, 0, 1, points=points or None, limit=200,
                              epsabs=1e-15, epsrel=1e-12)[0]

    points = [c for c in (mu1 - 3 * s1, mu1, mu1 + 3 * s1) if -1 < c < 1]
    return integrate.quad(inner, -1, 1, points=points or None, limit=200, epsabs=1e-15,
                          epsrel=1e-12)[0]


def reference_box_mass_1d(mu1, s1, mu2, s2, rho):
    """The same mass as one adaptive integral over chi_eff of the normal density times
    P(chi_p in [0, 1] | chi_eff) (fast; used where many references are needed)."""
    s = math.sqrt(1 - rho * rho)

    def integrand(x):
        centre = mu2 + rho * s2 * (x - mu1) / s1
        upper = special.ndtr((1 - centre) / (s2 * s)) - special.ndtr(-centre / (s2 * s))
        return stats.norm.pdf(x, mu1, s1) * upper

    points = [c for c in (mu1 - 3 * s1, mu1, mu1 + 3 * s1) if -1 < c < 1]
    return integrate.quad(integrand, -1, 1, points=points or None, limit=200, epsabs=1e-15,
                          epsrel=1e-12)[0]


def reference_eff_logpdf(x, y, mu1, s1, mu2, s2, rho, mass):
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    return stats.multivariate_normal([mu1, mu2], cov).logpdf(np.stack([x, y], -1)) - np.log(mass)


def reference_eff_conditional(x, mu1, s1, mu2, s2, rho):
    """chi_p given chi_eff: the conditional normal truncated to [0, 1]."""
    return _truncnorm(mu2 + rho * s2 * (x - mu1) / s1, s2 * math.sqrt(1 - rho * rho), 0.0, 1.0)


def reference_skew_mass(loc, scale, alpha):
    dist = stats.skewnorm(alpha, loc, scale)
    return dist.cdf(1.0) - dist.cdf(-1.0), dist


# ----------------------------------------------------------------------------
# Tilts.


@pytest.mark.parametrize("independent", [False, True])
def test_tilts_integrate_to_one_and_match_reference(x64, independent):
    points, weights = _legendre(40, 20, -1.0, 1.0)
    z1, z2 = np.meshgrid(points, points, indexing="ij")
    grid = jnp.asarray(np.stack([z1, z2], -1))
    rng = np.random.default_rng(0)
    for params in TILT_PARAMS:
        log_p = np.asarray(_TILT_LOG_PROB[independent](params, grid))
        total = np.sum(weights[:, None] * weights[None, :] * np.exp(log_p))
        assert total == pytest.approx(1.0, abs=1e-11), params
        u = rng.uniform(-1, 1, (50, 2))
        ours = _TILT_LOG_PROB[independent](params, jnp.asarray(u))
        np.testing.assert_allclose(ours, reference_tilt_logpdf(u[:, 0], u[:, 1], *params,
                                                               independent), rtol=1e-11)
    outside = jnp.asarray([[1.2, 0.0], [0.0, -1.01]])
    assert np.all(np.isneginf(_TILT_LOG_PROB[independent](TILT_PARAMS[0], outside)))


def test_tilts_options_and_special_cases(x64):
    value = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (20, 2)))
    same_width = jax.jit(lambda v: GaussianTilts(0.6, 0.3, 0.5).log_prob(v))
    np.testing.assert_allclose(same_width(value), _TILT_LOG_PROB[False]((0.6, 0.3, 0.5, 0.5),
                                                                         value), rtol=1e-14)
    aligned = jax.jit(lambda v: IsotropicGaussianTilts(0.6, 0.5, 0.9).log_prob(v))
    np.testing.assert_allclose(_TILT_LOG_PROB[False]((0.6, 1.0, 0.5, 0.9), value),
                               aligned(value), rtol=1e-12)
    batched = GaussianTilts(jnp.array([0.2, 0.9]), 0.5, jnp.array([[0.3], [0.6], [1.0]]))
    assert batched.batch_shape == (3, 2) and batched.event_shape == (2,)
    assert jax.eval_shape(batched.log_prob, jnp.zeros((4, 1, 1, 2))).shape == (4, 3, 2)
    draws = jax.eval_shape(lambda k: batched.sample(k, (5,)), jax.random.key(0))
    assert draws.shape == (5, 3, 2, 2)


@pytest.mark.parametrize("independent", [False, True])
def test_tilt_sampling_matches_density(x64, independent):
    zeta, mu, s1, s2 = TILT_PARAMS[1]
    draws = np.asarray(_TILT_SAMPLE[independent]((zeta, mu, s1, s2), jax.random.key(7)))
    z1, z2 = draws[:, 0], draws[:, 1]
    assert np.all(np.abs(draws) <= 1)
    g1, g2 = _truncnorm(mu, s1), _truncnorm(mu, s2)
    u1 = (1 - zeta) * (z1 + 1) / 2 + zeta * g1.cdf(z1)
    if independent:
        u2 = (1 - zeta) * (z2 + 1) / 2 + zeta * g2.cdf(z2)
    else:  # Rosenblatt transform: cdf of z2 given z1 under the joint mixture
        marginal = (1 - zeta) / 2 + zeta * g1.pdf(z1)
        u2 = ((1 - zeta) / 4 * (z2 + 1) + zeta * g1.pdf(z1) * g2.cdf(z2)) / marginal
    assert_uniform(u1)
    assert_uniform(u2)
    assert_uncorrelated(u1, u2)


# ----------------------------------------------------------------------------
# chi_eff Gaussian.


def test_chi_eff_gaussian_matches_truncnorm(x64):
    x = np.linspace(-0.99, 0.99, 21)
    points, weights = _legendre(100, 20, -1.0, 1.0)
    for loc, scale in [(0.05, 0.1), (0.9, 0.02), (-2.0, 0.7)]:
        ours = _CHI_LOG_PROB((loc, scale), jnp.asarray(x))
        np.testing.assert_allclose(ours, _truncnorm(loc, scale).logpdf(x), rtol=1e-10)
        density = np.exp(np.asarray(_CHI_LOG_PROB((loc, scale), jnp.asarray(points))))
        assert np.sum(weights * density) == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.isneginf(_CHI_LOG_PROB((0.05, 0.1), jnp.asarray([-1.5, 1.01]))))
    draws = np.asarray(_CHI_SAMPLE((0.05, 0.1), jax.random.key(3)))
    assert np.all(np.abs(draws) <= 1)
    assert stats.kstest(draws, _truncnorm(0.05, 0.1).cdf).statistic < ks_bound(draws.size)


# ----------------------------------------------------------------------------
# chi_eff / chi_p bivariate Gaussian.


def test_eff_box_mass_matches_brute_force_quadrature(x64):
    ours = np.exp(np.asarray(_eff_log_mass(_columns(EFF_PARAMS))))
    for params, value in zip(EFF_PARAMS, ours, strict=True):
        assert value == pytest.approx(reference_box_mass(*params), rel=1e-10), params


def test_eff_log_prob_matches_reference_and_integrates_to_one(x64):
    masses = [reference_box_mass_1d(*p) for p in EFF_PARAMS[:2]]
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-1, 1, 40), rng.uniform(0, 1, 40)
    value = jnp.asarray(np.stack([x, y], -1))[:, None, :]
    ours = np.asarray(_EFF_LOG_PROB(_columns(EFF_PARAMS[:2]), value))
    for k, (params, mass) in enumerate(zip(EFF_PARAMS[:2], masses, strict=True)):
        expected = reference_eff_logpdf(x, y, *params, mass)
        np.testing.assert_allclose(ours[:, k], expected, rtol=1e-10)
    # The density over the box by a tensor Gauss-Legendre rule (smooth case).
    px, wx = _legendre(20, 20, -1.0, 1.0)
    py, wy = _legendre(10, 20, 0.0, 1.0)
    grid = jnp.asarray(np.stack(np.meshgrid(px, py, indexing="ij"), -1))
    density = np.exp(np.asarray(_EFF_LOG_PROB(tuple(EFF_PARAMS[0]), grid)))
    assert np.sum(wx[:, None] * wy[None, :] * density) == pytest.approx(1.0, abs=1e-11)
    outside = jnp.asarray([[1.1, 0.5], [0.0, -0.01], [0.0, 1.01]])
    assert np.all(np.isneginf(_EFF_LOG_PROB(tuple(EFF_PARAMS[0]), outside)))


def test_eff_sampling_matches_density(x64):
    index = 2
    params = EFF_PARAMS[index]
    mu1, s1, mu2, s2, rho = params
    draws = np.asarray(_EFF_SAMPLE(tuple(params), jax.random.key(11 + index)))
    assert np.all(np.isfinite(draws))
    x, y = draws[:, 0], draws[:, 1]
    assert np.all((np.abs(x) <= 1) & (y >= 0) & (y <= 1))
    # chi_eff marginal: N(x) P(chi_p in [0, 1] | x), cumulated on a fine grid.
    grid = np.linspace(-1, 1, 40001)
    centre = mu2 + rho * s2 * (grid - mu1) / s1
    width = s2 * math.sqrt(1 - rho * rho)
    in_box = special.ndtr((1 - centre) / width) - special.ndtr((0 - centre) / width)
    marginal = stats.norm(mu1, s1).pdf(grid) * in_box
    cdf = integrate.cumulative_simpson(marginal, x=grid, initial=0.0)
    assert cdf[-1] == pytest.approx(reference_box_mass_1d(*params), rel=1e-6)
    u1 = np.interp(x, grid, cdf / cdf[-1])
    u2 = reference_eff_conditional(x, *params).cdf(y)
    assert_uniform(u1)
    assert_uniform(u2)
    assert_uncorrelated(u1, u2)


# ----------------------------------------------------------------------------
# Skew normal.


def test_skew_normal_mass_and_density_match_scipy(x64):
    ours = np.exp(np.asarray(_skew_log_mass(_columns(SKEW_PARAMS))))
    x = np.linspace(-0.99, 0.99, 23)
    log_p = np.asarray(_SKEW_LOG_PROB(_columns(SKEW_PARAMS), jnp.asarray(x)[:, None]))
    for k, params in enumerate(SKEW_PARAMS):
        mass, dist = reference_skew_mass(*params)
        assert ours[k] == pytest.approx(mass, rel=1e-11), params
        np.testing.assert_allclose(log_p[:, k], dist.logpdf(x) - np.log(mass), rtol=1e-10,
                                   atol=1e-10)
    # Independent check of normalisation: a fine uniform composite Gauss-Legendre rule.
    points, weights = _legendre(2000, 10, -1.0, 1.0)
    density = np.exp(np.asarray(_SKEW_LOG_PROB(_columns(SKEW_PARAMS),
                                               jnp.asarray(points)[:, None])))
    np.testing.assert_allclose(weights @ density, 1.0, atol=1e-10)


def test_skew_normal_mean_width_parametrisation(x64):
    loc, scale = skew_normal_location_scale(0.06, 0.1, 3.0)
    dist = stats.skewnorm(3.0, float(loc), float(scale))
    assert dist.mean() == pytest.approx(0.06, rel=1e-12)
    assert dist.std() == pytest.approx(0.1, rel=1e-12)


def test_skew_normal_sampling_matches_density(x64):
    index = 2
    params = SKEW_PARAMS[index]
    draws = np.asarray(_SKEW_SAMPLE(tuple(params), jax.random.key(5 + index)))
    assert np.all(np.isfinite(draws)) and np.all(np.abs(draws) <= 1)
    mass, dist = reference_skew_mass(*params)
    u = (dist.cdf(draws) - dist.cdf(-1.0)) / mass
    assert_uniform(u)


# ----------------------------------------------------------------------------
# Precision, gradients and parameter checks.


def _all_log_probs(dtype):
    """log p of every model at fixed points, in ``dtype`` (a list of arrays). Parameters
    and points are rounded to float32 first, so only the arithmetic differs."""
    def cast(values):
        return jnp.asarray(np.asarray(values, np.float32), dtype)

    rng = np.random.default_rng(4)
    pairs = cast(np.stack([rng.uniform(-1, 1, 30), rng.uniform(0, 1, 30)], -1))
    return [
        _TILT_LOG_PROB[False](tuple(cast(TILT_PARAMS[1])), pairs),
        _TILT_LOG_PROB[True](tuple(cast(TILT_PARAMS[2])), pairs),
        _EFF_LOG_PROB(tuple(cast(EFF_PARAMS.T)), pairs[:, None, :]),
        _SKEW_LOG_PROB(tuple(cast(SKEW_PARAMS.T)), pairs[:, :1]),
        _CHI_LOG_PROB(tuple(cast((0.05, 0.1))), pairs[:, 0]),
    ]


def test_float32_agrees_with_float64():
    single = _all_log_probs(jnp.float32)
    with jax.enable_x64(True):
        double = [np.asarray(v) for v in _all_log_probs(jnp.float64)]
    for ours, reference in zip(single, double, strict=True):
        assert ours.dtype == jnp.float32
        finite = np.isfinite(reference)
        assert np.array_equal(np.isfinite(ours), finite)
        # Each log density is a sum of O(1) terms, each correct to a few float32 ulps
        # (the quadrature adds ~200 positive terms: no cancellation).
        tolerance = 64 * F32_EPS * (1 + np.abs(reference[finite]))
        assert np.all(np.abs(np.asarray(ours)[finite] - reference[finite]) < tolerance)


def test_float32_draws_lie_in_the_support():
    key = jax.random.key(9)
    f32 = lambda p: tuple(jnp.float32(v) for v in p)  # noqa: E731
    draws = [
        _TILT_SAMPLE[False](f32(TILT_PARAMS[2]), key),
        _EFF_SAMPLE(f32(EFF_PARAMS[2]), key),
        _SKEW_SAMPLE(f32(SKEW_PARAMS[2]), key),
    ]
    for d in draws:
        assert d.dtype == jnp.float32 and np.all(np.isfinite(d))
        assert np.all(np.abs(d) <= 1)
    assert np.all(draws[1][:, 1] >= 0)


def _jit_value_and_grad(cls, **options):
    def total(params, value):
        return jnp.sum(cls(*params, **options, validate_args=False).log_prob(value))

    return jax.jit(jax.value_and_grad(total))


def test_gradients_are_finite_under_jit():
    """float32, batched over edge cases: zeta = 0 and 1, rho = 0 and near 1, alpha = 0
    (the plain truncated normals are covered by the existing TruncatedNormal tests)."""
    pairs = jnp.asarray([[0.1, 0.2], [-0.5, 0.9], [0.95, 0.01]], jnp.float32)[:, None, :]
    cases = [
        (GaussianTilts, {}, [(0.0, 1.0), (0.3, -0.2), (0.5, 0.3), (0.4, 0.4)], pairs),
        (EffectiveSpinGaussian, {}, EFF_PARAMS.T.tolist(), pairs),
        (ChiEffSkewNormal, {}, SKEW_PARAMS.T.tolist(), pairs[..., 0]),
    ]
    for cls, options, columns, value in cases:
        params = tuple(jnp.asarray(c, jnp.float32) for c in columns)
        total, grads = _jit_value_and_grad(cls, **options)(params, value)
        assert np.isfinite(total), cls.__name__
        assert all(np.all(np.isfinite(g)) for g in grads), cls.__name__


def test_normaliser_gradients_match_finite_differences(x64):
    check_grads(_eff_log_mass, (_columns(EFF_PARAMS),), order=1, modes=["rev"], eps=1e-6,
                atol=1e-6, rtol=1e-6)
    check_grads(_skew_log_mass, (_columns(SKEW_PARAMS),), order=1, modes=["rev"], eps=1e-6,
                atol=1e-6, rtol=1e-6)


def test_impossible_parameters_raise_with_the_parameter_name():
    cases = [
        (lambda: GaussianTilts(1.5, 0.0, 0.5), "GaussianTilts.*zeta"),
        (lambda: GaussianTilts(0.5, 0.0, -0.5), "GaussianTilts.*scale1"),
        (lambda: GaussianTilts(0.5, 0.0, 0.5, 0.0), "GaussianTilts.*scale2"),
        (lambda: ChiEffGaussian(0.0, 0.0), "ChiEffGaussian.*scale"),
        (lambda: EffectiveSpinGaussian(0.0, 0.1, 0.2, 0.1, 1.0), "correlation"),
        (lambda: EffectiveSpinGaussian(0.0, -0.1, 0.2, 0.1, 0.0), "chi_eff_scale"),
        (lambda: EffectiveSpinGaussian(0.0, 0.1, 0.2, np.nan, 0.0), "chi_p_scale"),
        (lambda: EffectiveSpinGaussian(np.inf, 0.1, 0.2, 0.1, 0.0), "chi_eff_loc"),
        (lambda: ChiEffSkewNormal(0.0, 0.0, 1.0), "ChiEffSkewNormal.*scale"),
        (lambda: ChiEffSkewNormal(0.0, 0.1, np.nan), "ChiEffSkewNormal.*skewness"),
        (lambda: GaussianTilts([0.5, 0.5], 0.0, [0.1, 0.2, 0.3]), "do not broadcast"),
    ]
    for build, match in cases:
        with pytest.raises(ValueError, match=match):
            build()


def test_impossible_parameters_under_jit_give_minus_inf_and_nan_draws():
    """Traced impossible parameters: log p = -inf, draws NaN (the samplers are the float32
    ones compiled above, so this adds only the log_prob compilations)."""
    pairs = jnp.asarray([[0.1, 0.2], [-0.5, 0.9]], jnp.float32)
    key = jax.random.key(0)
    f32 = lambda p: tuple(jnp.float32(v) for v in p)  # noqa: E731
    cases = [
        (_TILT_LOG_PROB[False], _TILT_SAMPLE[False], (1.5, 0.0, 0.5, 0.5), pairs),
        (_EFF_LOG_PROB, _EFF_SAMPLE, (0.0, 0.1, 0.2, 0.1, 1.0), pairs),      # |rho| = 1
        (_EFF_LOG_PROB, _EFF_SAMPLE, (0.0, 0.1, 0.2, -0.1, 0.3), pairs),     # width < 0
        (_SKEW_LOG_PROB, _SKEW_SAMPLE, (0.0, -0.1, 2.0), pairs[:, 0]),
        (_CHI_LOG_PROB, None, (0.0, 0.0), pairs[:, 0]),
    ]
    for log_prob_fn, sample_fn, params, value in cases:
        assert np.all(np.isneginf(log_prob_fn(f32(params), value))), params
        if sample_fn is not None:
            assert np.all(np.isnan(sample_fn(f32(params), key))), params
