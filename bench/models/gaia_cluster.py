"""Model 3: the Gaia-like cluster of ``examples/gaia_cluster.py`` on a synthetic catalog.

About 4,300 stars (``quick``: 200), each with a latent distance drawn from a mixture
of a cluster Gaussian in log distance and the Bailer-Jones (2015, PASP 127, 994)
exponentially decreasing space density ``r = 0.5 L u``, ``u ~ Chi2(6)``; parallaxes
``N(1000 / r, err)`` [mas] with errors log-uniform on ``[0.01, 0.5]`` mas. The catalog
comes from the fixed-seed generator :func:`make_catalog`. Deterministic sites of the
example (memberships, true parallaxes) are left out: they do not change the sampling.
"""

from __future__ import annotations

import numpy as np

from bench.models.spec import Problem, Settings

NAME = "gaia_cluster"
TITLE = "Gaia-like cluster (4,300+ latent distances)"
TARGET_CLASS = "large"
NUM_STARS, QUICK_STARS, SEED = 4300, 200, 67


def make_catalog(num_stars: int = NUM_STARS, seed: int = SEED, distance=837.0,
                 log_width=14.6 / 837.0, member_fraction=0.42, length_scale=470.0):
    """``(parallax, parallax_error)`` [mas], float32 arrays of shape ``(num_stars,)``."""
    rng = np.random.default_rng(seed)
    is_member = rng.uniform(size=num_stars) < member_fraction
    member_r = np.exp(rng.normal(np.log(distance), log_width, size=num_stars))
    field_r = 0.5 * length_scale * rng.chisquare(6, size=num_stars)
    r = np.where(is_member, member_r, field_r)
    error = np.exp(rng.uniform(np.log(0.01), np.log(0.5), size=num_stars))
    parallax = 1000.0 / r + error * rng.normal(size=num_stars)
    return parallax.astype(np.float32), error.astype(np.float32)


def build(npx, dist, infer, quick: bool) -> Problem:
    import jax.numpy as jnp

    def gaia_cluster(plx_err, plx=None):
        log_L = npx.sample("log_L", dist.Normal(float(np.log(370.0)), 2.0))
        log_D = npx.sample("log_D", dist.Normal(float(np.log(920.0)), 2.0))
        log_sigma = npx.sample("log_sigma", dist.Normal(0.0, 2.0))
        Q = npx.sample("Q", dist.Uniform(0.0, 1.0))
        with npx.plate("stars", plx_err.shape[0]):
            field = dist.TransformedDistribution(
                dist.Chi2(6.0),
                dist.transforms.AffineTransform(0.0, 0.5 * jnp.exp(log_L),
                                                domain=dist.constraints.positive))
            cluster = dist.TransformedDistribution(
                dist.Normal(log_D, jnp.exp(log_sigma)), dist.transforms.ExpTransform())
            mixture = dist.MixtureGeneral(
                dist.Categorical(probs=jnp.stack((Q, 1.0 - Q), axis=-1)), [cluster, field],
                support=dist.constraints.positive)
            r = npx.sample("r", mixture)
            npx.sample("plx_obs", dist.Normal(1000.0 / r, plx_err), obs=plx)

    parallax, error = make_catalog(QUICK_STARS if quick else NUM_STARS)
    # Start near the data: distances at the inverse parallax, a compact cluster.
    start = {"r": (1000.0 / np.maximum(parallax, 0.2)).astype(np.float32),
             "log_sigma": np.float32(-3.0), "log_L": np.float32(np.log(370.0)),
             "log_D": np.float32(np.log(920.0)), "Q": np.float32(0.5)}
    settings = Settings(150, 150, 2) if quick else Settings(500, 500, 2)
    return Problem(gaia_cluster, (error,), {"plx": parallax}, settings,
                   ("log_L", "log_D", "log_sigma", "Q", "r"),
                   init_strategy=infer.init_to_value(values=start))
