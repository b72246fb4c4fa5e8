"""Truncated power laws: ``x^alpha`` on ``[low, high]`` and on ``[low, inf)``.

:class:`DoublyTruncatedPowerLaw` (density ``x^alpha`` on ``[low, high]``) is
smooth in ``alpha`` through ``alpha = -1``; :class:`LowerTruncatedPowerLaw`
(``x^alpha`` on ``[low, inf)``) needs ``alpha < -1``. Both are also reachable
from :mod:`hierax.distributions.truncated`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import (
    Distribution,
    check_ordered_bounds,
    validate_sample,
)
from hierax.distributions.util import broadcast_shape

__all__ = ["DoublyTruncatedPowerLaw", "LowerTruncatedPowerLaw"]

_SERIES_CUTOFF = 0.05  # |s| below which log(sinh(s)/s) uses its Taylor series
_BERNOULLI_CUTOFF = 1e-3  # |t| below which log(1 - q + q e^t) / t uses its Taylor series


def _log_sinhc(s):
    """``log(sinh(s) / s)``: even, smooth, ``0`` at ``s = 0`` (finite gradients everywhere)."""
    a = jnp.abs(s)
    small = a < _SERIES_CUTOFF
    s2 = jnp.where(small, a, 0.0) ** 2
    series = s2 / 6 - s2**2 / 180 + s2**3 / 2835
    a_large = jnp.where(small, 1.0, a)
    large = a_large + jnp.log(-jnp.expm1(-2 * a_large)) - jnp.log(2 * a_large)
    return jnp.where(small, series, large)


def _log_expm1_over(t):
    """``log(expm1(t) / t)`` (``0`` at ``t = 0``), via ``t/2 + log(sinh(t/2) / (t/2))``."""
    return t / 2 + _log_sinhc(t / 2)


def _log_power_integral(beta, log_low, log_high):
    """``log of int_low^high x^(beta-1) dx = log((high^beta - low^beta) / beta)``.

    Written as ``beta (L + H)/2 + log(H - L) + log(sinh(s)/s)`` with
    ``s = beta (H - L) / 2``, which is exact, smooth in ``beta`` and has no 0/0
    at ``beta = 0`` (where it equals ``log(log(high / low))``).
    """
    width = log_high - log_low
    return beta * (log_low + log_high) / 2 + jnp.log(width) + _log_sinhc(beta * width / 2)


def _bernoulli_cgf_over_t(t, q):
    """``log(1 - q + q e^t) / t`` for ``q`` in ``[0, 1]``; equals ``q`` at ``t = 0``."""
    small = jnp.abs(t) < _BERNOULLI_CUTOFF
    middle = ~small & (jnp.abs(t) <= 1.0)
    t_small = jnp.where(small, t, 0.0)
    p = q * (1 - q)
    series = q + t_small * (p / 2 + t_small * (p * (1 - 2 * q) / 6
                                                + t_small * p * (1 - 6 * p) / 24))
    t_mid = jnp.where(middle, t, 1.0)
    mid = jnp.log1p(q * jnp.expm1(t_mid)) / t_mid
    t_far = jnp.where(small | middle, 2.0, t)
    far = jnp.logaddexp(jnp.log1p(-q), jnp.log(q) + t_far) / t_far
    return jnp.where(small, series, jnp.where(middle, mid, far))


def _promote_params(name, **params):
    shapes = {k: jnp.shape(v) for k, v in params.items()}
    try:
        batch_shape = broadcast_shape(*shapes.values())
    except ValueError:
        raise ValueError(f"{name}: parameter shapes {shapes} do not broadcast together.") from None
    return batch_shape


class DoublyTruncatedPowerLaw(Distribution):
    """Power law ``p(x) = x^alpha / Z`` on ``[low, high]``, ``0 < low < high``, any real ``alpha``.

    ``Z = (high^(alpha+1) - low^(alpha+1)) / (alpha + 1)``, and ``Z = log(high / low)``
    at ``alpha = -1``. All quantities are computed in a form that is smooth in
    ``alpha`` through ``-1`` (no 0/0; see :func:`_log_power_integral`), so
    densities and their gradients are finite and accurate there in float32 and
    float64. Draws invert the cdf: ``log x = log low + log(high/low) k``, with
    ``k = log(1 - u + u (high/low)^(alpha+1)) / ((alpha+1) log(high/low))``.
    Used as a mass model in gravitational-wave population inference (e.g.
    Abbott et al., ApJL 913, L7, 2021).

    Args:
        alpha: exponent, any real array.
        low, high: positive truncation points with ``low < high``; all three
            broadcast to ``batch_shape``.
    """

    arg_constraints = {
        "alpha": constraints.real,
        "low": constraints.positive,
        "high": constraints.positive,
    }
    reparametrized_params = ["alpha", "low", "high"]

    def __init__(self, alpha, low, high, *, validate_args=None):
        batch_shape = _promote_params(type(self).__name__, alpha=alpha, low=low, high=high)
        self.alpha, self.low, self.high = alpha, low, high
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        check_ordered_bounds(self, getattr(self, "low", None), getattr(self, "high", None))

    @constraints.dependent_property
    def support(self):
        return constraints.interval(self.low, self.high)

    def _logs(self):
        return jnp.log(self.low), jnp.log(self.high)

    def _log_normalizer(self, power=0.0):
        """``log int_low^high x^(alpha + power) dx``."""
        log_low, log_high = self._logs()
        return _log_power_integral(self.alpha + 1 + power, log_low, log_high)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        inside = (value >= self.low) & (value <= self.high)
        safe_value = jnp.where(inside, value, jnp.sqrt(self.low * self.high))
        log_density = self.alpha * jnp.log(safe_value) - self._log_normalizer()
        return jnp.where(inside, log_density, -jnp.inf)

    def cdf(self, value):
        log_low, log_high = self._logs()
        beta = self.alpha + 1
        log_x = jnp.log(jnp.clip(jnp.asarray(value), self.low, self.high))
        span = log_x - log_low
        width = log_high - log_low
        ratio = _log_expm1_over(beta * span) - _log_expm1_over(beta * width)
        return span / width * jnp.exp(ratio)

    def icdf(self, q):
        log_low, log_high = self._logs()
        width = log_high - log_low
        q = jnp.clip(jnp.asarray(q), 0.0, 1.0)
        fraction = _bernoulli_cgf_over_t((self.alpha + 1) * width, q)
        return jnp.clip(jnp.exp(log_low + width * fraction), self.low, self.high)

    def sample(self, key, sample_shape=()):
        dtype = jnp.result_type(self.alpha, self.low, self.high, float)
        shape = tuple(sample_shape) + self.batch_shape
        return self.icdf(jax.random.uniform(key, shape, dtype))

    @property
    def mean(self):
        log_mean = self._log_normalizer(1.0) - self._log_normalizer()
        return jnp.broadcast_to(jnp.exp(log_mean), self.batch_shape)

    @property
    def variance(self):
        log_z = self._log_normalizer()
        second = jnp.exp(self._log_normalizer(2.0) - log_z)
        mean = jnp.exp(self._log_normalizer(1.0) - log_z)
        return jnp.broadcast_to(second - mean**2, self.batch_shape)


class LowerTruncatedPowerLaw(Distribution):
    """Pareto-type power law ``p(x) = -(alpha+1) low^-(alpha+1) x^alpha`` on ``[low, inf)``.

    Args:
        alpha: exponent, ``alpha < -1`` (the density must be normalisable).
        low: positive lower truncation point; broadcast with ``alpha``.

    The mean is finite for ``alpha < -2`` and the variance for ``alpha < -3``;
    otherwise they are ``inf``.
    """

    arg_constraints = {"alpha": constraints.less_than(-1.0), "low": constraints.positive}
    reparametrized_params = ["alpha", "low"]

    def __init__(self, alpha, low, *, validate_args=None):
        batch_shape = _promote_params(type(self).__name__, alpha=alpha, low=low)
        self.alpha, self.low = alpha, low
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        check_ordered_bounds(self, getattr(self, "low", None), getattr(self, "high", None))

    @constraints.dependent_property
    def support(self):
        return constraints.greater_than_eq(self.low)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        beta = self.alpha + 1
        inside = value >= self.low
        safe_value = jnp.where(inside, value, 2 * self.low)
        log_ratio = jnp.log(safe_value) - jnp.log(self.low)
        log_density = jnp.log(-beta) - jnp.log(self.low) + self.alpha * log_ratio
        return jnp.where(inside, log_density, -jnp.inf)

    def cdf(self, value):
        value = jnp.maximum(jnp.asarray(value), self.low)
        return -jnp.expm1((self.alpha + 1) * (jnp.log(value) - jnp.log(self.low)))

    def icdf(self, q):
        return self.low * jnp.exp(jnp.log1p(-jnp.asarray(q)) / (self.alpha + 1))

    def sample(self, key, sample_shape=()):
        dtype = jnp.result_type(self.alpha, self.low, float)
        shape = tuple(sample_shape) + self.batch_shape
        return jnp.maximum(self.icdf(jax.random.uniform(key, shape, dtype)), self.low)

    @property
    def mean(self):
        alpha = self.alpha
        finite = alpha < -2
        safe = jnp.where(finite, alpha, -3.0)
        mean = self.low * (safe + 1) / (safe + 2)
        return jnp.broadcast_to(jnp.where(finite, mean, jnp.inf), self.batch_shape)

    @property
    def variance(self):
        alpha = self.alpha
        finite = alpha < -3
        safe = jnp.where(finite, alpha, -4.0)
        ratio = (safe + 1) / (safe + 3) - ((safe + 1) / (safe + 2)) ** 2
        return jnp.broadcast_to(jnp.where(finite, self.low**2 * ratio, jnp.inf), self.batch_shape)
