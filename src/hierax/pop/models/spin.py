"""Spin models: Beta-distributed magnitudes and isotropic-plus-Gaussian tilts.

- :class:`BetaFromMeanVariance`: a spin magnitude ``a`` in ``[0, 1]`` from a Beta
  distribution given by its mean and variance (Wysocki et al. 2019,
  PRD 100, 043012; Abbott et al. 2021, ApJL 913, L7, "Default" spin model).
- :class:`IsotropicGaussianTilts`: the cosines of both tilts,
  ``p(z1, z2) = (1 - zeta) / 4 + zeta N_[-1,1](z1 | 1, s1) N_[-1,1](z2 | 1, s2)``
  (Talbot & Thrane 2017, PRD 96, 023012, eq. 4).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.truncated import TruncatedNormal
from hierax.distributions.util import is_concrete
from hierax.pop.models._numerics import (
    float_dtype,
    parameter_batch_shape,
)

__all__ = ["BetaFromMeanVariance", "IsotropicGaussianTilts", "beta_concentrations"]




def beta_concentrations(mean, variance):
    """``(a, b, valid)``: Beta concentrations with the given mean and variance.

    ``a = mean c``, ``b = (1 - mean) c`` with ``c = mean (1 - mean) / variance - 1``.
    A Beta distribution exists iff ``0 < mean < 1`` and ``0 < variance < mean (1 - mean)``;
    where it does not, ``valid`` is false and ``a = b = 1`` (placeholders that keep
    gradients finite).
    """
    spread = mean * (1 - mean)
    valid = (mean > 0) & (mean < 1) & (variance > 0) & (variance < spread)
    safe_variance = jnp.where(valid, variance, 1.0)
    c = spread / safe_variance - 1
    a = jnp.where(valid, mean * c, 1.0)
    b = jnp.where(valid, (1 - mean) * c, 1.0)
    return a, b, valid


class BetaFromMeanVariance(Distribution):
    """Beta distribution on ``[0, 1]`` parametrised by its ``mean`` and ``variance``.

    Impossible pairs (``variance >= mean (1 - mean)``, or ``mean`` outside
    ``(0, 1)``): with concrete values the constructor raises ``ValueError``;
    under ``jit`` (traced values) ``log_prob`` is ``-inf`` everywhere (the
    population has no such members, so a sampler rejects the point) and
    ``sample`` returns NaN.
    """

    arg_constraints = {
        "mean": constraints.open_interval(0.0, 1.0),
        "variance": constraints.positive,
    }
    support = constraints.unit_interval
    reparametrized_params = ["mean", "variance"]

    def __init__(self, mean, variance, *, validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, mean=mean, variance=variance)
        # Stored in the instance dict: ``mean``/``variance`` are also the properties below.
        self.__dict__["mean"], self.__dict__["variance"] = mean, variance
        super().__init__(batch_shape, (), validate_args=validate_args)

    @property
    def mean(self):
        """The mean (a parameter), broadcast to ``batch_shape``."""
        return jnp.broadcast_to(self.__dict__["mean"], self.batch_shape)

    @property
    def variance(self):
        """The variance (a parameter), broadcast to ``batch_shape``."""
        return jnp.broadcast_to(self.__dict__["variance"], self.batch_shape)

    def _check_args(self) -> None:
        super()._check_args()
        mean, variance = self.__dict__["mean"], self.__dict__["variance"]
        if is_concrete(mean) and is_concrete(variance):
            mean, variance = np.asarray(mean), np.asarray(variance)
            if not np.all(variance < mean * (1 - mean)):
                raise ValueError(
                    "BetaFromMeanVariance: need variance < mean * (1 - mean) for a Beta "
                    f"distribution to exist, got mean={mean.tolist()}, "
                    f"variance={variance.tolist()}."
                )

    @validate_sample
    def log_prob(self, value):
        a, b, valid = beta_concentrations(self.mean, self.variance)
        value = jnp.asarray(value)
        inside = (value >= 0) & (value <= 1) & valid
        x = jnp.where(inside, value, 0.5)
        log_density = (
            jax.scipy.special.xlogy(a - 1, x)
            + jax.scipy.special.xlog1py(b - 1, -x)
            - jax.scipy.special.betaln(a, b)
        )
        return jnp.where(inside, log_density, -jnp.inf)

    def sample(self, key, sample_shape=()):
        dtype = float_dtype(self.mean, self.variance)
        shape = tuple(sample_shape) + self.batch_shape
        a, b, valid = beta_concentrations(self.mean, self.variance)
        a = jnp.broadcast_to(jnp.asarray(a, dtype), shape)
        b = jnp.broadcast_to(jnp.asarray(b, dtype), shape)
        draws = jax.random.beta(key, a, b, shape, dtype)
        return jnp.where(valid, draws, jnp.nan)


class IsotropicGaussianTilts(Distribution):
    """Cosines of the two spin tilts: isotropic, or (with probability ``zeta``) aligned.

    Args:
        zeta: weight of the aligned part, in ``[0, 1]``.
        scale1, scale2: widths (``> 0``) of the normals centred on ``cos(tilt) = 1``,
            truncated to ``[-1, 1]``.

    ``event_shape`` is ``(2,)``: ``(cos_tilt_1, cos_tilt_2)``.
    """

    arg_constraints = {
        "zeta": constraints.unit_interval,
        "scale1": constraints.positive,
        "scale2": constraints.positive,
    }
    support = constraints.independent(constraints.interval(-1.0, 1.0), 1)
    reparametrized_params = []

    def __init__(self, zeta, scale1, scale2, *, validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, zeta=zeta, scale1=scale1,
                                            scale2=scale2)
        self.zeta, self.scale1, self.scale2 = zeta, scale1, scale2
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _aligned(self):
        return [
            TruncatedNormal(1.0, scale, -1.0, 1.0, validate_args=False)
            for scale in (self.scale1, self.scale2)
        ]

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        first, second = self._aligned()
        z1, z2 = value[..., 0], value[..., 1]
        inside = (jnp.abs(z1) <= 1) & (jnp.abs(z2) <= 1)
        log_aligned = first.log_prob(jnp.where(inside, z1, 0.0)) + second.log_prob(
            jnp.where(inside, z2, 0.0)
        )
        zeta = jnp.asarray(self.zeta)
        log_mix = jnp.logaddexp(jnp.log1p(-zeta) - math.log(4.0), jnp.log(zeta) + log_aligned)
        return jnp.where(inside, log_mix, -jnp.inf)

    def sample(self, key, sample_shape=()):
        dtype = float_dtype(self.zeta, self.scale1, self.scale2)
        shape = tuple(sample_shape) + self.batch_shape
        key_choice, key_iso, key_1, key_2 = jax.random.split(key, 4)
        first, second = self._aligned()
        aligned = jnp.stack(
            [
                jnp.broadcast_to(first.sample(key_1, sample_shape), shape),
                jnp.broadcast_to(second.sample(key_2, sample_shape), shape),
            ],
            axis=-1,
        ).astype(dtype)
        isotropic = jax.random.uniform(key_iso, shape + (2,), dtype, -1.0, 1.0)
        choose_aligned = jax.random.uniform(key_choice, shape, dtype) < self.zeta
        return jnp.where(choose_aligned[..., None], aligned, isotropic)
