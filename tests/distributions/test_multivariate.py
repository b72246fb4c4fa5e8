"""Tests of the multivariate families against SciPy, closed forms and quadrature."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from hierax.distributions import constraints
from hierax.distributions import multivariate as dist
from hierax.distributions.distribution import validation_enabled

NUM_DRAWS = 20_000
COV = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, -0.3], [0.1, -0.3, 0.7]])
LOC = np.array([1.0, -1.0, 0.5])
FACTOR = np.array([[1.0, 0.2], [-0.5, 0.8], [0.3, -1.1]])
DIAG = np.array([0.5, 1.0, 2.0])


def _tol(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == jnp.float32 else {"rtol": 1e-9, "atol": 1e-11}


def _points(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape + (3,))


# ----------------------------------------------------------------------------
# MultivariateNormal and LowRankMultivariateNormal.


def _shape(fn, *args):
    """Output shape of ``fn(*args)``, by tracing only (no compilation)."""
    return jax.eval_shape(fn, *args).shape


def test_mvn_parametrisations_agree_with_scipy(float_dtype):
    x = _points((4, 2))
    reference = stats.multivariate_normal(LOC, COV)
    matrices = {
        "covariance_matrix": COV,
        "precision_matrix": np.linalg.inv(COV),
        "scale_tril": np.linalg.cholesky(COV),
    }

    @jax.jit
    def evaluate(loc, matrices, x):
        out = {}
        for name, matrix in matrices.items():
            d = dist.MultivariateNormal(loc, **{name: matrix})
            out[name] = (d.log_prob(x), d.covariance_matrix, d.precision_matrix, d.scale_tril,
                         d.variance, d.entropy(), d.mean)
        return out

    cast = {k: jnp.asarray(v, float_dtype) for k, v in matrices.items()}
    results = evaluate(jnp.asarray(LOC, float_dtype), cast, jnp.asarray(x, float_dtype))
    for log_prob, cov, precision, tril, variance, entropy, mean in results.values():
        assert log_prob.dtype == float_dtype and log_prob.shape == (4, 2)
        np.testing.assert_allclose(log_prob, reference.logpdf(x), **_tol(float_dtype))
        np.testing.assert_allclose(cov, COV, **_tol(float_dtype))
        np.testing.assert_allclose(precision, np.linalg.inv(COV), **_tol(float_dtype))
        np.testing.assert_allclose(tril, np.linalg.cholesky(COV), **_tol(float_dtype))
        np.testing.assert_allclose(variance, np.diag(COV), **_tol(float_dtype))
        np.testing.assert_allclose(entropy, reference.entropy(), **_tol(float_dtype))
        np.testing.assert_allclose(mean, LOC, **_tol(float_dtype))


def test_mvn_batch_broadcasting(x64):
    locs = np.random.default_rng(1).normal(size=(2, 1, 3))
    covs = np.stack([COV * s for s in (0.5, 1.0, 2.0, 3.0)])  # (4, 3, 3)
    x = _points((5, 1, 1), seed=2)
    for name, matrices in [("covariance_matrix", covs),
                           ("precision_matrix", np.linalg.inv(covs)),
                           ("scale_tril", np.linalg.cholesky(covs))]:
        d = dist.MultivariateNormal(locs, **{name: matrices})
        assert d.batch_shape == (2, 4) and d.event_shape == (3,)
        assert _shape(lambda d=d: d.sample(jax.random.PRNGKey(0), (6,))) == (6, 2, 4, 3)
        log_prob = jax.jit(lambda d, x: d.log_prob(x))(d, x)
        assert log_prob.shape == (5, 2, 4)
        for i in range(2):
            for j in range(4):
                expected = stats.multivariate_normal(locs[i, 0], covs[j]).logpdf(x[:, 0, 0])
                np.testing.assert_allclose(log_prob[:, i, j], expected, rtol=1e-10)
    # A scalar loc broadcasts, the event shape comes from the matrix.
    d = dist.MultivariateNormal(0.0, scale_tril=jnp.eye(2))
    assert d.batch_shape == () and d.event_shape == (2,)
    np.testing.assert_allclose(d.log_prob(jnp.zeros(2)), -math.log(2 * math.pi))


def test_low_rank_mvn_matches_dense(float_dtype):
    cov = FACTOR @ FACTOR.T + np.diag(DIAG)
    reference = stats.multivariate_normal(LOC, cov)
    x = _points((4, 2))

    @jax.jit
    def evaluate(loc, factor, diag, x):
        d = dist.LowRankMultivariateNormal(loc, factor, diag)
        return (d.log_prob(x), d.covariance_matrix, d.precision_matrix, d.scale_tril,
                d.variance, d.entropy())

    args = [jnp.asarray(a, float_dtype) for a in (LOC, FACTOR, DIAG, x)]
    log_prob, covariance, precision, tril, variance, entropy = evaluate(*args)
    assert log_prob.dtype == float_dtype and log_prob.shape == (4, 2)
    np.testing.assert_allclose(log_prob, reference.logpdf(x), **_tol(float_dtype))
    np.testing.assert_allclose(covariance, cov, **_tol(float_dtype))
    np.testing.assert_allclose(precision, np.linalg.inv(cov), **_tol(float_dtype))
    np.testing.assert_allclose(tril, np.linalg.cholesky(cov), **_tol(float_dtype))
    np.testing.assert_allclose(variance, np.diag(cov), **_tol(float_dtype))
    np.testing.assert_allclose(entropy, reference.entropy(), **_tol(float_dtype))


def test_low_rank_mvn_batch_shapes():
    d = dist.LowRankMultivariateNormal(jnp.zeros((2, 1, 3)), jnp.ones((4, 3, 2)), jnp.ones(3))
    assert d.batch_shape == (2, 4) and d.event_shape == (3,)
    assert _shape(lambda: d.sample(jax.random.PRNGKey(0), (5,))) == (5, 2, 4, 3)
    assert _shape(d.log_prob, jnp.zeros((7, 1, 1, 3))) == (7, 2, 4)
    assert _shape(d.log_prob, jnp.zeros(3)) == (2, 4)
    assert d.covariance_matrix.shape == (2, 4, 3, 3)


def _check_sample_moments(samples, mean, cov):
    """Sample mean and covariance within 5 standard errors of the truth (Gaussian SEs)."""
    samples = np.asarray(samples, np.float64)
    n = samples.shape[0]
    mean_se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(samples.mean(0) - mean) < 5 * mean_se)
    # Var of a sample covariance entry: (S_ii S_jj + S_ij^2) / n for Gaussian data.
    cov_se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(samples.T) - cov) < 5 * cov_se)


def test_gaussian_sample_moments():
    key_full, key_low = jax.random.split(jax.random.PRNGKey(4))
    draw = jax.jit(lambda d, key: d.sample(key, (NUM_DRAWS,)))
    mvn = dist.MultivariateNormal(LOC, covariance_matrix=COV)
    _check_sample_moments(draw(mvn, key_full), LOC, COV)
    low_rank = dist.LowRankMultivariateNormal(LOC, FACTOR, DIAG)
    _check_sample_moments(draw(low_rank, key_low), LOC, FACTOR @ FACTOR.T + np.diag(DIAG))


# ----------------------------------------------------------------------------
# Dirichlet.


def test_dirichlet_matches_scipy(float_dtype):
    alpha = np.array([[0.5, 2.0, 3.0], [1.0, 1.0, 7.5]])
    x = np.random.default_rng(3).dirichlet([1.0, 1.0, 1.0], size=(4, 2))

    @jax.jit
    def evaluate(concentration, x):
        d = dist.Dirichlet(concentration)
        return d.log_prob(x), d.mean, d.variance, d.entropy()

    log_prob, mean, variance, entropy = evaluate(jnp.asarray(alpha, float_dtype),
                                                 jnp.asarray(x, float_dtype))
    assert log_prob.dtype == float_dtype and log_prob.shape == (4, 2)
    for j in range(2):
        reference = stats.dirichlet(alpha[j])
        np.testing.assert_allclose(log_prob[:, j], reference.logpdf(x[:, j].T),
                                   **_tol(float_dtype))
        np.testing.assert_allclose(mean[j], reference.mean(), **_tol(float_dtype))
        np.testing.assert_allclose(variance[j], reference.var(), **_tol(float_dtype))
        np.testing.assert_allclose(entropy[j], reference.entropy(), **_tol(float_dtype))


def test_dirichlet_sample_moments_and_support():
    alpha = jnp.array([[0.5, 2.0, 3.0], [4.0, 0.2, 1.0]])
    d = dist.Dirichlet(alpha)
    samples = np.asarray(jax.jit(lambda d, k: d.sample(k, (NUM_DRAWS,)))(d, jax.random.key(5)))
    assert samples.shape == (NUM_DRAWS, 2, 3)
    assert np.all(np.asarray(constraints.simplex(jnp.asarray(samples))))
    standard_error = np.sqrt(np.asarray(d.variance) / NUM_DRAWS)
    assert np.all(np.abs(samples.mean(0) - np.asarray(d.mean)) < 5 * standard_error)


def test_dirichlet_small_concentration_float32():
    alpha = jnp.array([1e-3, 2e-3, 5e-3], jnp.float32)

    @jax.jit
    def draw_and_score(concentration, key):
        d = dist.Dirichlet(concentration)
        samples = d.sample(key, (200,))
        weighted = jax.grad(lambda c: jnp.sum(dist.Dirichlet(c).sample(key, (50,)) * c))
        return samples, d.log_prob(samples), weighted(concentration)

    samples, log_prob, grad = draw_and_score(alpha, jax.random.PRNGKey(0))
    assert samples.dtype == jnp.float32
    assert bool(jnp.all(samples > 0)) and bool(jnp.all(jnp.isfinite(samples)))
    np.testing.assert_allclose(jnp.sum(samples, -1), 1.0, atol=1e-5)
    assert bool(jnp.all(jnp.isfinite(log_prob))) and bool(jnp.all(jnp.isfinite(grad)))


def test_dirichlet_outside_simplex_is_minus_inf():
    d = dist.Dirichlet(jnp.array([2.0, 3.0]))
    with pytest.warns(UserWarning, match="Dirichlet.log_prob: value outside the support"):
        assert d.log_prob(jnp.array([-0.5, 1.5])) == -jnp.inf


# ----------------------------------------------------------------------------
# LKJ.


def _cholesky_2d(r):
    r = jnp.asarray(r)
    zeros, ones = jnp.zeros_like(r), jnp.ones_like(r)
    return jnp.stack([jnp.stack([ones, zeros], -1),
                      jnp.stack([r, jnp.sqrt(1 - r**2)], -1)], -2)


def _gauss_legendre(low, high, n):
    nodes, weights = np.polynomial.legendre.leggauss(n)
    half = (high - low) / 2
    return low + half * (nodes + 1), half * weights


def test_lkj_cholesky_dimension_two_is_beta_and_normalised(x64):
    # r = sin(theta) removes the endpoint singularities of (1 - r^2)^(eta - 1).
    theta, weights = _gauss_legendre(-np.pi / 2, np.pi / 2, 200)
    r = np.sin(theta)
    for eta in (0.5, 1.0, 2.5):
        log_prob = dist.LKJCholesky(2, eta).log_prob(_cholesky_2d(r))
        expected = stats.beta.logpdf((r + 1) / 2, eta, eta) - math.log(2)
        np.testing.assert_allclose(log_prob, expected, rtol=1e-8)
        integral = np.sum(weights * np.cos(theta) * np.exp(np.asarray(log_prob)))
        np.testing.assert_allclose(integral, 1.0, rtol=1e-8)
        matrix_log_prob = dist.LKJ(2, eta).log_prob(
            jnp.stack([jnp.stack([jnp.ones_like(r), r], -1), jnp.stack([r, jnp.ones_like(r)], -1)],
                      -2)
        )
        np.testing.assert_allclose(matrix_log_prob, expected, rtol=1e-8)


def test_lkj_cholesky_dimension_three_normalised(x64):
    """Integrate over the strictly lower entries (L10, L20, L21) of a 3 x 3 factor."""
    n = 24
    theta, w_theta = _gauss_legendre(-np.pi / 2, np.pi / 2, n)  # L10 = sin(theta)
    psi, w_psi = _gauss_legendre(0.0, np.pi / 2, n)  # |(L20, L21)| = sin(psi)
    phi, w_phi = _gauss_legendre(0.0, 2 * np.pi, n)
    t, p, f = np.meshgrid(theta, psi, phi, indexing="ij")
    radius = np.sin(p)
    lower = np.zeros(t.shape + (3, 3))
    lower[..., 0, 0] = 1.0
    lower[..., 1, 0], lower[..., 1, 1] = np.sin(t), np.cos(t)
    lower[..., 2, 0], lower[..., 2, 1] = radius * np.cos(f), radius * np.sin(f)
    lower[..., 2, 2] = np.cos(p)
    jacobian = np.cos(t) * radius * np.cos(p)
    weights = w_theta[:, None, None] * w_psi[None, :, None] * w_phi[None, None, :]
    for eta in (1.0, 1.5, 2.5):  # integer exponents: smooth integrands, exact quadrature
        density = np.exp(np.asarray(dist.LKJCholesky(3, eta).log_prob(jnp.asarray(lower))))
        np.testing.assert_allclose(np.sum(weights * jacobian * density), 1.0, rtol=1e-6)


def test_lkj_matrix_log_prob_is_cholesky_log_prob_minus_jacobian(x64):
    d = 4

    @jax.jit
    def both_log_probs(concentration, key):
        factor = dist.LKJCholesky(d, concentration).sample(key, (3,))
        diagonal = jnp.diagonal(factor, axis1=-2, axis2=-1)
        log_jacobian = jnp.sum((d - 1 - jnp.arange(d)) * jnp.log(diagonal), -1)
        matrices = factor @ jnp.swapaxes(factor, -2, -1)
        expected = dist.LKJCholesky(d, concentration).log_prob(factor) - log_jacobian
        return dist.LKJ(d, concentration).log_prob(matrices), expected

    ours, expected = both_log_probs(jnp.array([0.7, 2.0]), jax.random.PRNGKey(2))
    assert ours.shape == (3, 2)
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


@pytest.mark.parametrize("sample_method", ["onion", "cvine"])
def test_lkj_samples_marginals_and_determinant(sample_method):
    """Off-diagonal correlations are Beta(eta - 1 + d/2, same) on (-1, 1) (LKJ 2009).

    ``E[det C] = c_d(eta + 1) / c_d(eta)``, which we read off the density itself:
    ``p_eta(L) / p_{eta + 1}(L) = c_d(eta + 1) / (c_d(eta) det C)`` for any ``L``.
    """
    d, eta, n = 4, 1.5, 4000
    lkj = dist.LKJCholesky(d, eta, sample_method=sample_method)
    factor = jax.jit(lambda lkj, key: lkj.sample(key, (n,)))(lkj, jax.random.PRNGKey(8))
    assert factor.shape == (n, d, d)
    assert bool(jnp.all(constraints.corr_cholesky(factor)))
    corr = np.asarray(factor @ jnp.swapaxes(factor, -2, -1), np.float64)
    marginal = stats.beta(eta - 1 + d / 2, eta - 1 + d / 2, loc=-1, scale=2)
    for i, j in zip(*np.tril_indices(d, -1), strict=True):
        assert stats.kstest(corr[:, i, j], marginal.cdf).pvalue > 1e-4, (i, j)
    determinant = np.linalg.det(corr)
    identity_ish = jnp.asarray(np.linalg.cholesky(np.eye(d) * 0.8 + 0.2))
    det_ref = float(jnp.prod(jnp.diagonal(identity_ish)) ** 2)
    ratio = lkj.log_prob(identity_ish) - dist.LKJCholesky(d, eta + 1).log_prob(identity_ish)
    expected_det = det_ref * float(jnp.exp(ratio))
    assert abs(determinant.mean() - expected_det) < 5 * determinant.std() / np.sqrt(n)


def test_lkj_shapes_support_and_mean():
    key = jax.random.PRNGKey(0)
    lkj_chol = dist.LKJCholesky(3, jnp.array([0.5, 1.0, 4.0]), sample_method="cvine")
    assert lkj_chol.batch_shape == (3,) and lkj_chol.event_shape == (3, 3)
    assert _shape(lambda: lkj_chol.sample(key, (2,))) == (2, 3, 3, 3)
    assert _shape(lkj_chol.log_prob, jnp.zeros((2, 3, 3, 3))) == (2, 3)
    lkj = dist.LKJ(3, 2.0)
    matrices = jax.jit(lambda lkj, key: lkj.sample(key, (5,)))(lkj, key)
    assert matrices.shape == (5, 3, 3)
    assert bool(jnp.all(constraints.corr_matrix(matrices)))
    np.testing.assert_allclose(lkj.mean, np.eye(3))
    assert lkj.support is constraints.corr_matrix
    assert lkj_chol.support is constraints.corr_cholesky


def test_lkj_log_prob_outside_support_is_minus_inf():
    bad = jnp.array([[1.0, 0.0], [0.5, -0.8660254]])
    with validation_enabled(False):
        assert dist.LKJCholesky(2, 1.5).log_prob(bad) == -jnp.inf
        not_positive_definite = jnp.array([[1.0, 2.0], [2.0, 1.0]])
        assert dist.LKJ(2, 1.5).log_prob(not_positive_definite) == -jnp.inf


# ----------------------------------------------------------------------------
# Transformations, gradients and argument errors.


def test_multivariate_distributions_cross_jit_and_vmap():
    mvn = dist.MultivariateNormal(jnp.zeros(3), precision_matrix=jnp.asarray(np.linalg.inv(COV)))
    cases = [
        (mvn, jnp.ones(3)),
        (dist.LowRankMultivariateNormal(jnp.asarray(LOC), FACTOR, DIAG), jnp.ones(3)),
        (dist.Dirichlet(jnp.array([1.0, 2.0, 3.0])), jnp.array([0.2, 0.3, 0.5])),
        (dist.LKJCholesky(2, 1.5, sample_method="cvine"), _cholesky_2d(0.3)),
        (dist.LKJ(2, 1.5), jnp.array([[1.0, 0.3], [0.3, 1.0]])),
    ]

    @jax.jit
    def log_prob_and_rebuild(d, x):
        return d.log_prob(x), d

    expected = [
        stats.multivariate_normal(np.zeros(3), COV).logpdf(np.ones(3)),
        stats.multivariate_normal(LOC, FACTOR @ FACTOR.T + np.diag(DIAG)).logpdf(np.ones(3)),
        stats.dirichlet([1.0, 2.0, 3.0]).logpdf([0.2, 0.3, 0.5]),
        stats.beta.logpdf(0.65, 1.5, 1.5) - math.log(2),
        stats.beta.logpdf(0.65, 1.5, 1.5) - math.log(2),
    ]
    for (d, x), reference in zip(cases, expected, strict=True):
        log_prob, rebuilt = log_prob_and_rebuild(d, x)
        np.testing.assert_allclose(log_prob, reference, rtol=1e-5)
        assert type(rebuilt) is type(d) and rebuilt.event_shape == d.event_shape
    etas = jnp.array([0.5, 1.0, 3.0])
    by_vmap = jax.vmap(lambda eta: dist.LKJCholesky(2, eta).log_prob(_cholesky_2d(0.3)))(etas)
    expected = stats.beta.logpdf(0.65, np.asarray(etas), np.asarray(etas)) - math.log(2)
    np.testing.assert_allclose(by_vmap, expected, rtol=1e-5)
    locs = jnp.arange(6.0).reshape(2, 3)
    mapped = jax.vmap(lambda loc: mvn.__class__(loc, scale_tril=jnp.eye(3)).log_prob(loc))(locs)
    np.testing.assert_allclose(mapped, -1.5 * math.log(2 * math.pi), rtol=1e-6)


def _grad_and_central_difference(fn, theta, step=1e-6):
    """``(fn'(theta), (fn(theta + h) - fn(theta - h)) / 2h)`` from one compilation."""

    @jax.jit
    def both(t):
        return jax.grad(fn)(t), (fn(t + step) - fn(t - step)) / (2 * step)

    return both(theta)


def test_gradients_match_finite_differences(x64):
    x = jnp.asarray(_points(()))
    cases = {
        "mvn loc": (lambda t: dist.MultivariateNormal(
            jnp.asarray(LOC) * t, covariance_matrix=COV).log_prob(x), 1.3),
        "mvn scale_tril": (lambda t: dist.MultivariateNormal(
            LOC, scale_tril=jnp.asarray(np.linalg.cholesky(COV)) * t).log_prob(x), 1.3),
        "mvn precision": (lambda t: dist.MultivariateNormal(
            LOC, precision_matrix=jnp.asarray(np.linalg.inv(COV)) * t).log_prob(x), 1.3),
        "low rank factor": (lambda t: dist.LowRankMultivariateNormal(
            LOC, jnp.asarray(FACTOR) * t, DIAG).log_prob(x), 0.7),
        "dirichlet": (lambda t: dist.Dirichlet(jnp.array([1.0, t, 2.0])).log_prob(
            jnp.array([0.2, 0.5, 0.3])), 0.8),
        "lkj": (lambda t: dist.LKJCholesky(3, t).log_prob(
            dist.LKJCholesky(3, 2.0).sample(jax.random.PRNGKey(0))), 1.7),
    }
    for name, (fn, theta) in cases.items():
        grad, numeric = _grad_and_central_difference(fn, theta)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, err_msg=name)
    sample_grad = jax.grad(
        lambda t: jnp.sum(dist.MultivariateNormal(
            LOC * t, covariance_matrix=COV).sample(jax.random.PRNGKey(0), (3,)))
    )(1.0)
    np.testing.assert_allclose(sample_grad, 3 * LOC.sum())


INVALID = [
    (lambda: dist.MultivariateNormal(jnp.zeros(2)),
     "MultivariateNormal: pass exactly one of covariance_matrix"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.eye(2),
                                     scale_tril=jnp.eye(2)),
     "MultivariateNormal: pass exactly one"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.ones((2, 3))),
     "MultivariateNormal: `covariance_matrix` must be square"),
    (lambda: dist.MultivariateNormal(jnp.zeros(3), covariance_matrix=jnp.eye(2)),
     "MultivariateNormal: the last dim of `loc` must be 2"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.array([[1.0, 2.0],
                                                                                [2.0, 1.0]])),
     "MultivariateNormal: parameter `covariance_matrix`"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), precision_matrix=-jnp.eye(2)),
     "MultivariateNormal: parameter `precision_matrix`"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), scale_tril=jnp.ones((2, 2))),
     "MultivariateNormal: parameter `scale_tril`"),
    (lambda: dist.MultivariateNormal(jnp.array([jnp.nan, 0.0]), scale_tril=jnp.eye(2)),
     "MultivariateNormal: parameter `loc`"),
    (lambda: dist.LowRankMultivariateNormal(jnp.zeros(3), jnp.ones((3, 1)), -jnp.ones(3)),
     "LowRankMultivariateNormal: parameter `cov_diag`"),
    (lambda: dist.LowRankMultivariateNormal(jnp.zeros(3), jnp.ones(3), jnp.ones(3)),
     "LowRankMultivariateNormal: `cov_factor` must have at least 2"),
    (lambda: dist.LowRankMultivariateNormal(jnp.zeros(2), jnp.ones((3, 1)), jnp.ones(3)),
     "LowRankMultivariateNormal: the last dim of `loc` must be 3"),
    (lambda: dist.Dirichlet(jnp.array([1.0, -1.0])), "Dirichlet: parameter `concentration`"),
    (lambda: dist.Dirichlet(2.0), "Dirichlet: `concentration` must have at least 1"),
    (lambda: dist.LKJCholesky(1), "LKJCholesky: `dimension` must be an integer >= 2"),
    (lambda: dist.LKJCholesky(2.5), "LKJCholesky: `dimension` must be an integer >= 2"),
    (lambda: dist.LKJCholesky(3, -1.0), "LKJCholesky: parameter `concentration`"),
    (lambda: dist.LKJ(3, 1.0, sample_method="vine"), "LKJ: `sample_method` must be"),
]


@pytest.mark.parametrize("make, message", INVALID)
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dimension_is_static_in_the_pytree():
    leaves, treedef = jax.tree_util.tree_flatten(dist.LKJCholesky(3, jnp.array([1.0, 2.0])))
    assert len(leaves) == 1  # only the concentration
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.dimension == 3 and rebuilt.sample_method == "onion"


def test_float32_parameters_stay_float32_under_x64(x64):
    f32 = jnp.float32
    key = jax.random.PRNGKey(0)
    cov, loc = jnp.asarray(COV, f32), jnp.asarray(LOC, f32)
    factor, diag = jnp.asarray(FACTOR, f32), jnp.asarray(DIAG, f32)
    makers = [
        lambda: dist.MultivariateNormal(loc, covariance_matrix=cov),
        lambda: dist.MultivariateNormal(0.0, precision_matrix=cov),
        lambda: dist.LowRankMultivariateNormal(loc, factor, diag),
    ]
    for make in makers:
        outputs = jax.eval_shape(lambda make=make: (
            make().log_prob(loc), make().sample(key), make().covariance_matrix,
            make().precision_matrix, make().scale_tril, make().entropy(), make().variance))
        assert all(out.dtype == f32 for out in outputs), make()
    concentration = jnp.array([1.0, 2.0], f32)
    for make, value in [
        (lambda: dist.Dirichlet(concentration), concentration / 3),
        (lambda: dist.LKJCholesky(2, concentration), jnp.eye(2, dtype=f32)),
        (lambda: dist.LKJ(2, concentration, sample_method="cvine"), jnp.eye(2, dtype=f32)),
    ]:
        outputs = jax.eval_shape(lambda make=make, value=value: (
            make().log_prob(value), make().sample(key)))
        assert all(out.dtype == f32 for out in outputs), make()
