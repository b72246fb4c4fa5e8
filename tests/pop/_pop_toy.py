"""An analytic toy population for the likelihood and selection tests.

rho(m1, m2 [, z]) = R p(m1) p(m2 | m1) [(1 + z)^lamb dV_C/dz / (1 + z)], with
p(m1) ∝ m1^-alpha on [mmin, mmax] and p(m2 | m1) uniform on [mmin, m1].
"""

import jax.numpy as jnp
import numpy as np

from hierax.pop.cosmology import PLANCK15

MASS_NAMES = ("mass_1_source", "mass_2_source")
Z_NAMES = MASS_NAMES + ("redshift",)
HYPER = {"log_rate_0": 3.0, "alpha": 2.3, "mmin": 8.0, "mmax": 45.0, "lamb": 1.5}


def log_rate_density(theta, hyper, xp=jnp):
    m1, m2 = theta[..., 0], theta[..., 1]
    alpha, mmin, mmax = hyper["alpha"], hyper["mmin"], hyper["mmax"]
    inside = (m1 >= mmin) & (m1 <= mmax) & (m2 >= mmin) & (m2 <= m1)
    m1s = xp.where(inside, m1, mmax)
    log_norm = xp.log((mmax ** (1 - alpha) - mmin ** (1 - alpha)) / (1 - alpha))
    log_m2 = -xp.log(xp.maximum(m1s - mmin, 1e-3))
    value = hyper["log_rate_0"] - alpha * xp.log(m1s) - log_norm + log_m2
    if theta.shape[-1] == 3:
        z = theta[..., 2]
        dvc = PLANCK15.differential_comoving_volume(z) if xp is jnp else np.asarray(
            PLANCK15.differential_comoving_volume(z), dtype=np.float64)
        value = value + (hyper["lamb"] - 1) * xp.log1p(z) + xp.log(dvc)
    return xp.where(inside, value, -xp.inf)


def sample_masses(rng, num, hyper=HYPER):
    alpha, mmin, mmax = hyper["alpha"], hyper["mmin"], hyper["mmax"]
    u = rng.uniform(size=num)
    lo, hi = mmin ** (1 - alpha), mmax ** (1 - alpha)
    m1 = (lo + u * (hi - lo)) ** (1 / (1 - alpha))
    m2 = mmin + rng.uniform(size=num) * (m1 - mmin)
    return m1, m2


def as_jax(hyper, dtype=None):
    return {k: jnp.asarray(v, dtype=dtype) for k, v in hyper.items()}
