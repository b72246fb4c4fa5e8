"""Model 1: eight schools, non-centered (Rubin 1981; Gelman et al., BDA3 section 5.5)."""

from __future__ import annotations

import numpy as np

from bench.models.spec import Problem, Settings

NAME = "eight_schools"
TITLE = "eight schools (non-centered)"
TARGET_CLASS = "small"
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], np.float32)
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0], np.float32)


def build(npx, dist, infer, quick: bool) -> Problem:
    def eight_schools(sigma, y=None):
        mu = npx.sample("mu", dist.Normal(0.0, 5.0))
        tau = npx.sample("tau", dist.HalfCauchy(5.0))
        with npx.plate("J", sigma.shape[0]):
            theta_0 = npx.sample("theta_0", dist.Normal(0.0, 1.0))
            npx.sample("obs", dist.Normal(mu + theta_0 * tau, sigma), obs=y)

    settings = Settings(100, 200, 2) if quick else Settings(1000, 5000, 4)
    return Problem(eight_schools, (SIGMA,), {"y": Y}, settings, ("mu", "tau", "theta_0"))
