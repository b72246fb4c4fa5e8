"""Continuous families on the real line (and the uniform family on an interval).

Each is a location-scale family: a draw is ``loc + scale * eps`` with ``eps``
from the standard member, so every parameter is reparametrized. Formulas follow
Johnson, Kotz & Balakrishnan, *Continuous Univariate Distributions* (2nd ed.,
Wiley, 1994/1995), Vols. 1-2.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, betaln, digamma, expit, gammaln, logit, ndtr, ndtri

from hierax.distributions import constraints
from hierax.distributions.continuous_base import (
    UnivariateContinuous,
    log_density_where,
)
from hierax.distributions.distribution import check_ordered_bounds, validate_sample

__all__ = ["Cauchy", "Gumbel", "Laplace", "Logistic", "Normal", "StudentT", "Uniform"]

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.5772156649015329


class _LocationScale(UnivariateContinuous):
    """Shared constructor and helpers of ``(loc, scale)`` families."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _standardize(self, value):
        return (value - self.loc) / self.scale

    def _affine(self, eps):
        return self.loc + self.scale * eps


class Normal(_LocationScale):
    """Normal (Gaussian) distribution with mean ``loc`` and standard deviation ``scale``.

    Args:
        loc: mean, any real array.
        scale: standard deviation, positive; broadcast with ``loc`` to ``batch_shape``.
    """

    def sample(self, key, sample_shape=()):
        eps = jax.random.normal(key, self._draw_shape(sample_shape), self._dtype)
        return self._affine(eps)

    @validate_sample
    def log_prob(self, value):
        z = self._standardize(value)
        return -0.5 * z * z - jnp.log(self.scale) - _HALF_LOG_TWO_PI

    def cdf(self, value):
        return ndtr(self._standardize(value))

    def icdf(self, q):
        return self._affine(ndtri(q))

    @property
    def mean(self):
        return self._broadcast(self.loc)

    @property
    def variance(self):
        return self._broadcast(self.scale**2)

    def entropy(self):
        return self._broadcast(0.5 + _HALF_LOG_TWO_PI + jnp.log(self.scale))


class Cauchy(_LocationScale):
    """Cauchy distribution with median ``loc`` and half width at half maximum ``scale``.

    Mean and variance do not exist: both are returned as ``nan``.
    """

    def sample(self, key, sample_shape=()):
        eps = jax.random.cauchy(key, self._draw_shape(sample_shape), self._dtype)
        return self._affine(eps)

    @validate_sample
    def log_prob(self, value):
        z = self._standardize(value)
        return -math.log(math.pi) - jnp.log(self.scale) - jnp.log1p(z * z)

    def cdf(self, value):
        return 0.5 + jnp.arctan(self._standardize(value)) / math.pi

    def icdf(self, q):
        return self._affine(jnp.tan(math.pi * (q - 0.5)))

    @property
    def mean(self):
        return self._full(jnp.nan)

    @property
    def variance(self):
        return self._full(jnp.nan)

    def entropy(self):
        return self._broadcast(math.log(4 * math.pi) + jnp.log(self.scale))


class Laplace(_LocationScale):
    """Laplace (double exponential) distribution: density ``exp(-|x - loc| / scale) / (2 scale)``.
    """

    def sample(self, key, sample_shape=()):
        eps = jax.random.laplace(key, self._draw_shape(sample_shape), self._dtype)
        return self._affine(eps)

    @validate_sample
    def log_prob(self, value):
        return -jnp.abs(self._standardize(value)) - jnp.log(2 * self.scale)

    def cdf(self, value):
        z = self._standardize(value)
        return 0.5 - 0.5 * jnp.sign(z) * jnp.expm1(-jnp.abs(z))

    def icdf(self, q):
        centred = q - 0.5
        return self._affine(-jnp.sign(centred) * jnp.log1p(-2 * jnp.abs(centred)))

    @property
    def mean(self):
        return self._broadcast(self.loc)

    @property
    def variance(self):
        return self._broadcast(2 * self.scale**2)

    def entropy(self):
        return self._broadcast(1 + jnp.log(2 * self.scale))


class Logistic(_LocationScale):
    """Logistic distribution: cdf ``sigmoid((x - loc) / scale)``."""

    def sample(self, key, sample_shape=()):
        eps = jax.random.logistic(key, self._draw_shape(sample_shape), self._dtype)
        return self._affine(eps)

    @validate_sample
    def log_prob(self, value):
        # log f = -|z| - 2 log(1 + exp(-|z|)) - log(scale), symmetric and overflow-free.
        abs_z = jnp.abs(self._standardize(value))
        return -abs_z - 2 * jnp.log1p(jnp.exp(-abs_z)) - jnp.log(self.scale)

    def cdf(self, value):
        return expit(self._standardize(value))

    def icdf(self, q):
        return self._affine(logit(q))

    @property
    def mean(self):
        return self._broadcast(self.loc)

    @property
    def variance(self):
        return self._broadcast((math.pi**2 / 3) * self.scale**2)

    def entropy(self):
        return self._broadcast(2 + jnp.log(self.scale))


class Gumbel(_LocationScale):
    """Gumbel (type I extreme value, maxima) distribution: cdf ``exp(-exp(-(x - loc) / scale))``."""

    def sample(self, key, sample_shape=()):
        eps = jax.random.gumbel(key, self._draw_shape(sample_shape), self._dtype)
        return self._affine(eps)

    @validate_sample
    def log_prob(self, value):
        z = self._standardize(value)
        return -(z + jnp.exp(-z)) - jnp.log(self.scale)

    def cdf(self, value):
        return jnp.exp(-jnp.exp(-self._standardize(value)))

    def icdf(self, q):
        return self._affine(-jnp.log(-jnp.log(q)))

    @property
    def mean(self):
        return self._broadcast(self.loc + _EULER_GAMMA * self.scale)

    @property
    def variance(self):
        return self._broadcast((math.pi**2 / 6) * self.scale**2)

    def entropy(self):
        return self._broadcast(jnp.log(self.scale) + _EULER_GAMMA + 1)


class StudentT(_LocationScale):
    """Student's t distribution with ``df`` degrees of freedom, location and scale.

    The mean is ``inf`` for ``df <= 1``; the variance is ``inf`` for
    ``1 < df <= 2`` and ``nan`` for ``df <= 1`` (NumPyro's conventions). The cdf
    uses ``df / (df + z**2) ~ Beta(df / 2, 1 / 2)`` (JKB Vol. 2, ch. 28).

    Args:
        df: degrees of freedom, positive.
        loc, scale: location and positive scale.
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    reparametrized_params = ["df", "loc", "scale"]

    def __init__(self, df, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, df=df, loc=loc, scale=scale)

    def sample(self, key, sample_shape=()):
        shape = self._draw_shape(sample_shape)
        df = jnp.broadcast_to(self.df, shape).astype(self._dtype)
        return self._affine(jax.random.t(key, df, shape, self._dtype))

    @validate_sample
    def log_prob(self, value):
        z = self._standardize(value)
        half_df_plus = 0.5 * (self.df + 1)
        normalizer = (
            gammaln(half_df_plus)
            - gammaln(0.5 * self.df)
            - 0.5 * jnp.log(self.df * math.pi)
            - jnp.log(self.scale)
        )
        return normalizer - half_df_plus * jnp.log1p(z * z / self.df)

    def cdf(self, value):
        z = self._standardize(value)
        half_tail = 0.5 * betainc(0.5 * self.df, 0.5, self.df / (self.df + z * z))
        return jnp.where(z < 0, half_tail, 1 - half_tail)

    @property
    def mean(self):
        return self._broadcast(jnp.where(self.df <= 1, jnp.inf, self.loc))

    @property
    def variance(self):
        finite = self.scale**2 * self.df / jnp.where(self.df > 2, self.df - 2, 1.0)
        variance = jnp.where(self.df > 2, finite, jnp.inf)
        return self._broadcast(jnp.where(self.df <= 1, jnp.nan, variance))

    def entropy(self):
        half_df = 0.5 * self.df
        entropy = (
            (half_df + 0.5) * (digamma(half_df + 0.5) - digamma(half_df))
            + 0.5 * jnp.log(self.df)
            + betaln(half_df, 0.5)
            + jnp.log(self.scale)
        )
        return self._broadcast(entropy)


class Uniform(UnivariateContinuous):
    """Uniform distribution on the interval ``[low, high]``.

    Args:
        low, high: the interval's ends, ``low < high`` (checked on concrete values).
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    reparametrized_params = ["low", "high"]

    def __init__(self, low=0.0, high=1.0, *, validate_args=None):
        self._init_params(validate_args, low=low, high=high)
        if self._validate_args:
            check_ordered_bounds(self, self.low, self.high)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def sample(self, key, sample_shape=()):
        u = jax.random.uniform(key, self._draw_shape(sample_shape), self._dtype)
        return self.low + (self.high - self.low) * u

    @validate_sample
    def log_prob(self, value):
        inside = (value >= self.low) & (value <= self.high)

        def log_density(x):
            return jnp.zeros_like(x) - jnp.log(self.high - self.low)

        return log_density_where(inside, log_density, value, self.low)

    def cdf(self, value):
        return jnp.clip((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, q):
        return self.low + q * (self.high - self.low)

    @property
    def mean(self):
        return self._broadcast(0.5 * (self.low + self.high))

    @property
    def variance(self):
        return self._broadcast((self.high - self.low) ** 2 / 12)

    def entropy(self):
        return self._broadcast(jnp.log(self.high - self.low))
