"""Spin, tilt and redshift models of hierax.pop against SciPy references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from hierax.pop.cosmology import PLANCK15
from hierax.pop.models import (
    BetaFromMeanVariance,
    IsotropicGaussianTilts,
    MadauDickinsonRedshift,
    PowerLawRedshift,
)

KS_LEVEL = 1e-3


def test_beta_from_mean_variance(x64):
    mean, variance = 0.3, 0.02
    common = mean * (1 - mean) / variance - 1
    reference = stats.beta(mean * common, (1 - mean) * common)
    dist = BetaFromMeanVariance(mean, variance)
    x = np.linspace(0.01, 0.99, 25)
    np.testing.assert_allclose(dist.log_prob(x), reference.logpdf(x), rtol=1e-10)
    assert np.isneginf(dist.log_prob(1.5))
    total, _ = integrate.quad(lambda v: float(np.exp(dist.log_prob(v))), 0, 1)
    assert total == pytest.approx(1.0, abs=1e-7)
    draws = np.asarray(dist.sample(jax.random.PRNGKey(0), (5000,)))
    assert stats.kstest(draws, reference.cdf).pvalue > KS_LEVEL
    assert float(dist.mean) == mean and float(dist.variance) == variance
    with pytest.raises(ValueError, match="BetaFromMeanVariance.*variance < mean"):
        BetaFromMeanVariance(0.3, 0.25)
    with pytest.raises(ValueError, match="BetaFromMeanVariance.*mean"):
        BetaFromMeanVariance(1.3, 0.01)


def test_beta_impossible_pair_under_jit_is_minus_inf():
    @jax.jit
    def evaluate(mean, variance):
        dist = BetaFromMeanVariance(mean, variance)
        return dist.log_prob(jnp.asarray([0.2, 0.5])), dist.sample(jax.random.key(0), (3,))

    log_prob, draws = evaluate(jnp.float32(0.3), jnp.float32(0.5))
    assert np.all(np.isneginf(log_prob)) and np.all(np.isnan(draws))
    grad = jax.grad(lambda m, v: jnp.sum(jnp.where(
        jnp.isfinite(log_prob), BetaFromMeanVariance(m, v).log_prob(jnp.asarray([0.2, 0.5])),
        0.0)), argnums=(0, 1))(jnp.float32(0.3), jnp.float32(0.5))
    assert all(np.isfinite(g) for g in grad)


def _reference_tilt_logpdf(z1, z2, zeta, s1, s2):
    def truncated(z, s):
        norm = special.ndtr(0.0) - special.ndtr(-2.0 / s)
        return stats.norm.pdf(z, 1.0, s) / norm

    return np.log((1 - zeta) / 4 + zeta * truncated(z1, s1) * truncated(z2, s2))


def test_isotropic_gaussian_tilts(x64):
    zeta, s1, s2 = 0.6, 0.5, 0.9
    dist = IsotropicGaussianTilts(zeta, s1, s2)
    nodes, weights = special.roots_legendre(80)
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    density = np.exp(np.asarray(dist.log_prob(np.stack([z1, z2], -1))))
    assert np.sum(weights[:, None] * weights[None, :] * density) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(dist.log_prob(np.stack([z1, z2], -1)),
                               _reference_tilt_logpdf(z1, z2, zeta, s1, s2), rtol=1e-10)
    with pytest.warns(UserWarning, match="outside the support"):
        assert np.isneginf(dist.log_prob(jnp.asarray([1.2, 0.0])))
    draws = np.asarray(dist.sample(jax.random.PRNGKey(1), (20000,)))
    assert np.all(np.abs(draws) <= 1)
    norm1 = special.ndtr(0.0) - special.ndtr(-2.0 / s1)

    def marginal_cdf(z):
        aligned = (special.ndtr((z - 1.0) / s1) - special.ndtr(-2.0 / s1)) / norm1
        return (1 - zeta) * (z + 1) / 2 + zeta * aligned

    assert stats.kstest(draws[:, 0], marginal_cdf).pvalue > KS_LEVEL
    with pytest.raises(ValueError, match="IsotropicGaussianTilts.*zeta"):
        IsotropicGaussianTilts(1.5, 0.5, 0.5)


def _reference_dvc_dz(z):
    """All-sky dV_C/dz in Gpc^3 from direct integration of 1/E(z) (Hogg 1999)."""
    om, hubble = PLANCK15.matter_density, 299792.458 / PLANCK15.hubble_constant

    def inverse_e(x):
        return 1.0 / math.sqrt(om * (1 + x) ** 3 + 1 - om)

    distance = hubble * integrate.quad(inverse_e, 0, z, epsabs=0, epsrel=1e-12)[0]
    return 4 * math.pi * hubble * distance**2 * inverse_e(z) / 1e9


def _md_psi(z, gamma, kappa, z_peak):
    return (1 + (1 + z_peak) ** -kappa) * (1 + z) ** gamma / (1 + ((1 + z) / (1 + z_peak)) ** kappa)


@pytest.mark.parametrize("model", ["power_law", "madau_dickinson"])
def test_redshift_models(x64, model):
    z_max = 3.0
    if model == "power_law":
        dist = PowerLawRedshift(2.7, z_max)

        def psi(z):
            return (1 + z) ** 2.7
    else:
        dist = MadauDickinsonRedshift(2.7, 5.6, 1.9, z_max)

        def psi(z):
            return _md_psi(z, 2.7, 5.6, 1.9)

    assert float(dist.log_psi(0.0)) == pytest.approx(0.0, abs=1e-12)
    z = np.array([0.05, 0.4, 1.0, 2.5])
    reference = np.log([psi(x) * _reference_dvc_dz(x) / (1 + x) for x in z])
    np.testing.assert_allclose(dist.log_rate_factor(z), reference, rtol=2e-5)
    volume, _ = integrate.quad(lambda x: psi(x) * _reference_dvc_dz(x) / (1 + x), 0, z_max,
                               epsrel=1e-10)
    assert float(np.exp(dist.log_volume())) == pytest.approx(volume, rel=5e-5)
    log_prob = jax.jit(dist.log_prob)
    total, _ = integrate.quad(lambda x: float(np.exp(log_prob(x))), 0, z_max, epsrel=1e-10)
    assert total == pytest.approx(1.0, abs=1e-7)
    assert np.all(np.isneginf(log_prob(jnp.asarray([z_max + 0.1, -0.1]))))
    draws = np.asarray(dist.sample(jax.random.PRNGKey(2), (20000,)))
    grid = np.linspace(0, z_max, 3001)
    density = np.exp(np.asarray(log_prob(jnp.asarray(grid))))
    cdf = integrate.cumulative_simpson(density, x=grid, initial=0.0)
    assert stats.kstest(np.interp(draws, grid, cdf), "uniform").pvalue > KS_LEVEL
    with pytest.raises(ValueError, match="z_max"):
        PowerLawRedshift(2.7, 50.0)


def test_redshift_float32_and_gradients():
    def log_volume(gamma, kappa, z_peak, z_max):
        return MadauDickinsonRedshift(gamma, kappa, z_peak, z_max).log_volume()

    args = tuple(jnp.float32(x) for x in (2.7, 5.6, 1.9, 4.0))
    value, grads = jax.jit(jax.value_and_grad(log_volume, argnums=(0, 1, 2, 3)))(*args)
    assert value.dtype == jnp.float32 and all(np.isfinite(g) for g in grads)
    with jax.enable_x64(True):
        expected = log_volume(*(jnp.float64(x) for x in (2.7, 5.6, 1.9, 4.0)))
    assert float(value) == pytest.approx(float(expected), abs=1e-4)
