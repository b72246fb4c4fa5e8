"""Model 2: a straight line with outliers as a two-component mixture (Hogg et al. 2010).

The data are the 15 points of ``examples/outliers.py`` (legacy NumPy seed 12); the
model is its mixture model without the per-point membership deterministic.
"""

from __future__ import annotations

import numpy as np

from bench.models.spec import Problem, Settings

NAME = "outliers"
TITLE = "line with outliers (mixture)"
TARGET_CLASS = "small"


def simulate(seed: int = 12, num_points: int = 15):
    """``x, yerr, y`` (float32, shape ``(num_points,)``): ``y = x`` plus 20% outliers."""
    rng = np.random.RandomState(seed)
    x = np.sort(rng.uniform(-2, 2, num_points))
    yerr = 0.2 * np.ones_like(x)
    y = x + yerr * rng.randn(num_points)
    is_outlier = rng.rand(num_points) > 0.8
    y[is_outlier] = np.sqrt(1.0 + yerr[is_outlier] ** 2) * rng.randn(int(is_outlier.sum()))
    return x.astype(np.float32), yerr.astype(np.float32), y.astype(np.float32)


def build(npx, dist, infer, quick: bool) -> Problem:
    import jax.numpy as jnp

    def outlier_mixture(x, yerr, y=None):
        theta = npx.sample("theta", dist.Uniform(-0.5 * jnp.pi, 0.5 * jnp.pi))
        b_perp = npx.sample("b_perp", dist.Normal(0.0, 1.0))
        m, b = jnp.tan(theta), b_perp / jnp.cos(theta)
        bg_mean = npx.sample("bg_mean", dist.Normal(0.0, 1.0))
        bg_sigma = npx.sample("bg_sigma", dist.HalfNormal(3.0))
        q = npx.sample("Q", dist.Uniform(0.0, 1.0))
        mixture = dist.MixtureGeneral(
            dist.Categorical(probs=jnp.stack([q, 1.0 - q])),
            [dist.Normal(m * x + b, yerr),
             dist.Normal(bg_mean, jnp.sqrt(bg_sigma**2 + yerr**2))])
        with npx.plate("data", x.shape[0]):
            npx.sample("obs", mixture, obs=y)

    x, yerr, y = simulate()
    settings = Settings(100, 200, 2) if quick else Settings(1000, 5000, 4)
    return Problem(outlier_mixture, (x, yerr), {"y": y}, settings,
                   ("theta", "b_perp", "bg_mean", "bg_sigma", "Q"))
