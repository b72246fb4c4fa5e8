"""Model 4: a 100-dimensional correlated Gaussian, sampled with a dense mass matrix.

Standard deviations are log-spaced from 0.1 to 10 and the correlation matrix is a
random five-factor model plus noise (fixed seed), so a diagonal metric would be poor
and the dense metric learned in warmup makes the problem nearly isotropic.
"""

from __future__ import annotations

import numpy as np

from bench.models.spec import Problem, Settings

NAME = "gaussian_100d"
TITLE = "100-D correlated Gaussian (dense mass)"
TARGET_CLASS = "large"
DIMENSION, QUICK_DIMENSION, SEED = 100, 10, 4


def make_covariance(dimension: int = DIMENSION, seed: int = SEED, num_factors: int = 5):
    """``(mean, scale_tril)`` of the target (float32): ``(d,)`` and ``(d, d)``."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(dimension, num_factors))
    covariance = loadings @ loadings.T + np.diag(rng.uniform(0.2, 1.0, dimension))
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    std = np.logspace(-1.0, 1.0, dimension)
    covariance = correlation * np.outer(std, std)
    mean = rng.normal(size=dimension)
    return mean.astype(np.float32), np.linalg.cholesky(covariance).astype(np.float32)


def build(npx, dist, infer, quick: bool) -> Problem:
    def correlated_gaussian(mean, scale_tril):
        npx.sample("x", dist.MultivariateNormal(mean, scale_tril=scale_tril))

    mean, scale_tril = make_covariance(QUICK_DIMENSION if quick else DIMENSION)
    settings = (Settings(200, 200, 2, dense_mass=True) if quick
                else Settings(1000, 1000, 4, dense_mass=True))
    return Problem(correlated_gaussian, (mean, scale_tril), {}, settings, ("x",))
