"""Truncated distributions and truncated power laws.

:func:`TruncatedDistribution` restricts a univariate base distribution on the
real line to ``[low, high]`` (either end may be open-ended): the density is
``p(x) / (F(high) - F(low))`` inside and zero outside, and draws are made by
inverting the cdf (Devroye, *Non-Uniform Random Variate Generation*, 1986,
sec. II.2).

Tails are handled with care, so that truncation many standard deviations out
still gives correct densities and draws inside ``[low, high]`` in float32:

- for families symmetric about ``loc`` (Normal, Cauchy, Laplace, Logistic,
  StudentT) an interval lying right of ``loc`` is reflected to the left tail,
  where cdf values are small numbers rather than numbers close to one;
- for the Normal family every cdf is taken in log space (``log_ndtr``) and the
  inverse cdf of a log-probability is solved by Newton's method far in the
  tail (asymptotic start from Abramowitz & Stegun 26.2.12), so truncation
  20 or 50 standard deviations out still works;
- normalisers are ``log F(hi) + log(1 - exp(log F(lo) - log F(hi)))``
  (Maechler, "Accurately computing log(1 - exp(-|a|))", 2012).

:class:`DoublyTruncatedPowerLaw` (density ``x^alpha`` on ``[low, high]``) and
:class:`LowerTruncatedPowerLaw` (``x^alpha`` on ``[low, inf)``, ``alpha < -1``)
live in :mod:`~hierax.distributions.power_law` and are re-exported here.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtri

from hierax.distributions import constraints
from hierax.distributions.continuous import Cauchy, Laplace, Logistic, Normal, StudentT
from hierax.distributions.distribution import (
    Distribution,
    check_ordered_bounds,
    validate_sample,
)
from hierax.distributions.power_law import DoublyTruncatedPowerLaw, LowerTruncatedPowerLaw
from hierax.distributions.util import broadcast_shape

__all__ = [
    "DoublyTruncatedPowerLaw",
    "LeftTruncatedDistribution",
    "LowerTruncatedPowerLaw",
    "RightTruncatedDistribution",
    "TruncatedCauchy",
    "TruncatedDistribution",
    "TruncatedNormal",
    "TwoSidedTruncatedDistribution",
]

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_SYMMETRIC_FAMILIES = (Normal, Cauchy, Laplace, Logistic, StudentT)
# Below this log-probability exp() leaves float32's normal range: solve in log space.
_LOG_P_TAIL = -80.0


# ----------------------------------------------------------------------------
# Log-space helpers.


def log1mexp(x):
    """``log(1 - exp(x))`` for ``x <= 0``, accurate at both ends (Maechler 2012)."""
    near_zero = x > -math.log(2.0)
    x_near = jnp.where(near_zero, x, -1.0)
    x_far = jnp.where(near_zero, -1.0, x)
    return jnp.where(near_zero, jnp.log(-jnp.expm1(x_near)), jnp.log1p(-jnp.exp(x_far)))


def _ndtri_tail(log_p):
    """Standard normal quantile of ``exp(log_p)`` for ``log_p`` far below ``_LOG_P_TAIL``."""
    y = -2.0 * log_p
    x = -jnp.sqrt(y - jnp.log(y) - 2 * _HALF_LOG_TWO_PI)

    def newton_step(_, x):
        log_cdf = log_ndtr(x)
        log_pdf = -0.5 * x * x - _HALF_LOG_TWO_PI
        return x - (log_cdf - log_p) * jnp.exp(log_cdf - log_pdf)

    return jax.lax.fori_loop(0, 4, newton_step, x)


def ndtri_log(log_p):
    """Standard normal quantile ``Phi^{-1}(exp(log_p))``, usable for ``log_p`` down to ``-1e30``.

    Args:
        log_p: log-probabilities (``<= 0``), any shape.
    """
    log_p = jnp.asarray(log_p)
    tail = log_p < _LOG_P_TAIL
    upper = log_p > -math.log(2.0)
    middle = ~tail & ~upper
    lp_tail = jnp.where(tail, log_p, 2 * _LOG_P_TAIL)
    lp_mid = jnp.where(middle, log_p, -1.0)
    lp_up = jnp.where(upper, log_p, -0.1)
    result = jnp.where(
        tail,
        _ndtri_tail(lp_tail),
        jnp.where(upper, -ndtri(-jnp.expm1(lp_up)), ndtri(jnp.exp(lp_mid))),
    )
    return jnp.where(jnp.isneginf(log_p), -jnp.inf, result)


# ----------------------------------------------------------------------------
# What the truncation needs to know about its base distribution.


def _is_normal(base) -> bool:
    return isinstance(base, Normal)


def _symmetry_center(base):
    """``loc`` of families symmetric about it; ``None`` for other bases."""
    if isinstance(base, _SYMMETRIC_FAMILIES):
        return base.loc
    return None


def _base_log_cdf(base, x):
    if _is_normal(base):
        return log_ndtr((x - base.loc) / base.scale)
    return jnp.log(base.cdf(x))


def _base_icdf_log(base, log_q):
    if _is_normal(base):
        return base.loc + base.scale * ndtri_log(log_q)
    return base.icdf(jnp.exp(log_q))


# ----------------------------------------------------------------------------
# The truncated distributions.


class _Truncated(Distribution):
    """Shared implementation: ``base_dist`` restricted to ``[low, high]`` (``None``: open end).

    Computations work on the *oriented* interval ``[lo, hi]``: the truncation
    interval itself, or for symmetric bases with ``low > loc`` its mirror image
    ``[2 loc - high, 2 loc - low]``, which lies in the left tail.
    """

    arg_constraints = {"low": constraints.real, "high": constraints.real}
    reparametrized_params = ["low", "high"]

    def _init_truncation(self, base_dist, low, high, validate_args):
        name = type(self).__name__
        _check_base(name, base_dist)
        self.base_dist = base_dist
        self.low = low
        self.high = high
        shapes = [base_dist.batch_shape] + [jnp.shape(b) for b in (low, high) if b is not None]
        try:
            batch_shape = broadcast_shape(*shapes)
        except ValueError:
            raise ValueError(
                f"{name}: the shapes of base_dist.batch_shape, low and high ({shapes}) do not "
                "broadcast together."
            ) from None
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        check_ordered_bounds(self, getattr(self, "low", None), getattr(self, "high", None))

    @property
    def _dtype(self):
        params = [b for b in (self.low, self.high) if b is not None]
        return jnp.result_type(*params, *jax.tree_util.tree_leaves(self.base_dist), float)

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    # -- orientation --------------------------------------------------------

    def _reflection(self):
        """``(center, reflect)``: reflect where ``low > center``; ``(None, None)`` if never."""
        center = _symmetry_center(self.base_dist)
        if center is None or self.low is None:
            return None, None
        return center, self.low > center

    def _oriented(self):
        """``(lo, hi, center, reflect)`` of the oriented interval (``+-inf`` for open ends)."""
        low = -jnp.inf if self.low is None else self.low
        high = jnp.inf if self.high is None else self.high
        center, reflect = self._reflection()
        if reflect is None:
            return low, high, None, None
        lo = jnp.where(reflect, 2 * center - high, low)
        hi = jnp.where(reflect, 2 * center - low, high)
        return lo, hi, center, reflect

    def _log_cdf_ends(self):
        """``(log F(lo), log F(hi), log Z)`` with ``Z = F(hi) - F(lo)``."""
        lo, hi, _, _ = self._oriented()
        finite_lo = jnp.isfinite(lo)
        safe_point = jnp.where(finite_lo, lo, hi)
        log_lo = _log_cdf_or(self.base_dist, lo, safe_point, -jnp.inf)
        log_hi = _log_cdf_or(self.base_dist, hi, safe_point, 0.0)
        return log_lo, log_hi, log_hi + log1mexp(log_lo - log_hi)

    def _oriented_quantile(self, q):
        """Quantile ``q`` of the truncated distribution in the oriented frame."""
        log_lo, log_hi, _ = self._log_cdf_ends()
        log_q = jnp.logaddexp(log_hi + jnp.log(q), log_lo + jnp.log1p(-q))
        return _base_icdf_log(self.base_dist, log_q)

    def _unorient(self, y):
        _, _, center, reflect = self._oriented()
        return y if reflect is None else jnp.where(reflect, 2 * center - y, y)

    def _clip(self, x):
        low = None if self.low is None else jnp.asarray(self.low, dtype=x.dtype)
        high = None if self.high is None else jnp.asarray(self.high, dtype=x.dtype)
        return jnp.clip(x, low, high)

    # -- the interface ------------------------------------------------------

    def sample(self, key, sample_shape=()):
        dtype = self._dtype
        shape = tuple(sample_shape) + self.batch_shape
        u = jax.random.uniform(key, shape, dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
        return self._clip(self._unorient(self._oriented_quantile(u)))

    @validate_sample
    def log_prob(self, value):
        """``log p(value) - log Z`` inside ``[low, high]``, ``-inf`` outside."""
        _, _, log_z = self._log_cdf_ends()
        value = jnp.asarray(value)
        value = jnp.broadcast_to(value, broadcast_shape(jnp.shape(value), self.batch_shape))
        inside = self.support(value)
        safe_value = jnp.where(inside, value, self.support.feasible_like(value))
        return jnp.where(inside, self.base_dist.log_prob(safe_value) - log_z, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value)
        lo, hi, center, reflect = self._oriented()
        log_lo, _, log_z = self._log_cdf_ends()
        y = value if reflect is None else jnp.where(reflect, 2 * center - value, value)
        inside = (y > lo) & (y < hi)
        prototype = jnp.broadcast_to(y, broadcast_shape(jnp.shape(y), self.batch_shape))
        safe_y = jnp.where(inside, y, self._unorient(self.support.feasible_like(prototype)))
        log_y = _base_log_cdf(self.base_dist, safe_y)
        inner = jnp.exp(log_y + log1mexp(log_lo - log_y) - log_z)
        oriented_cdf = jnp.where(inside, inner, jnp.where(y <= lo, 0.0, 1.0))
        if reflect is None:
            return oriented_cdf
        return jnp.where(reflect, 1.0 - oriented_cdf, oriented_cdf)

    def icdf(self, q):
        q = jnp.asarray(q)
        _, _, _, reflect = self._oriented()
        oriented_q = q if reflect is None else jnp.where(reflect, 1.0 - q, q)
        return self._clip(self._unorient(self._oriented_quantile(oriented_q)))

    @property
    def mean(self):
        """Closed form for a Normal base (Johnson, Kotz & Balakrishnan 1994, sec. 10.1).

        The variance is a difference of terms of size ``z^2`` for a truncation
        point ``z`` standard deviations out, so beyond about 8 standard
        deviations it is only accurate in float64 (to about ``1e-3`` relative at
        30 standard deviations, limited by ``log_ndtr``).
        """
        m, _ = self._normal_moments()
        return m

    @property
    def variance(self):
        _, v = self._normal_moments()
        return v

    def _normal_moments(self):
        if not _is_normal(self.base_dist):
            raise NotImplementedError(
                f"{type(self).__name__}: mean and variance are implemented for a Normal base "
                f"only, got {type(self.base_dist).__name__}."
            )
        loc, scale = self.base_dist.loc, self.base_dist.scale
        lo, hi, _, reflect = self._oriented()
        _, _, log_z = self._log_cdf_ends()
        pdf_lo, z_pdf_lo = _scaled_normal_pdf((lo - loc) / scale, log_z)
        pdf_hi, z_pdf_hi = _scaled_normal_pdf((hi - loc) / scale, log_z)
        shift = pdf_lo - pdf_hi
        variance = scale**2 * (1.0 + z_pdf_lo - z_pdf_hi - shift**2)
        sign = 1.0 if reflect is None else jnp.where(reflect, -1.0, 1.0)
        mean = loc + sign * scale * shift
        shape = self.batch_shape
        return jnp.broadcast_to(mean, shape), jnp.broadcast_to(variance, shape)


def _log_cdf_or(base, x, safe_point, value_if_infinite):
    """``log F(x)``, or ``value_if_infinite`` where ``x`` is infinite (finite gradients)."""
    finite = jnp.isfinite(x)
    log_cdf = _base_log_cdf(base, jnp.where(finite, x, safe_point))
    return jnp.where(finite, log_cdf, value_if_infinite)


def _scaled_normal_pdf(z, log_z):
    """``phi(z) / Z`` and ``z phi(z) / Z``; both 0 at ``z = +-inf`` (finite gradients)."""
    finite = jnp.isfinite(z)
    safe_z = jnp.where(finite, z, 0.0)
    ratio = jnp.exp(-0.5 * safe_z * safe_z - _HALF_LOG_TWO_PI - log_z)
    return jnp.where(finite, ratio, 0.0), jnp.where(finite, safe_z * ratio, 0.0)


def _check_base(name, base_dist):
    if not isinstance(base_dist, Distribution):
        raise TypeError(
            f"{name}: base_dist must be a Distribution, got {type(base_dist).__name__}."
        )
    support = base_dist.support
    if base_dist.event_shape != () or not isinstance(support, type(constraints.real)):
        raise ValueError(
            f"{name}: base_dist must be univariate with support on the whole real line, got "
            f"{type(base_dist).__name__} with event_shape {base_dist.event_shape} and support "
            f"{support!r}."
        )


class LeftTruncatedDistribution(_Truncated):
    """``base_dist`` restricted to ``[low, inf)``.

    Args:
        base_dist: univariate distribution on the real line with ``cdf`` and ``icdf``.
        low: lower truncation point, broadcastable with ``base_dist.batch_shape``.
    """

    arg_constraints = {"low": constraints.real}
    reparametrized_params = ["low"]

    def __init__(self, base_dist, low=0.0, *, validate_args=None):
        self._init_truncation(base_dist, low, None, validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.greater_than_eq(self.low)


class RightTruncatedDistribution(_Truncated):
    """``base_dist`` restricted to ``(-inf, high]``.

    Args:
        base_dist: univariate distribution on the real line with ``cdf`` and ``icdf``.
        high: upper truncation point, broadcastable with ``base_dist.batch_shape``.
    """

    arg_constraints = {"high": constraints.real}
    reparametrized_params = ["high"]

    def __init__(self, base_dist, high=0.0, *, validate_args=None):
        self._init_truncation(base_dist, None, high, validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.less_than(self.high)


class TwoSidedTruncatedDistribution(_Truncated):
    """``base_dist`` restricted to ``[low, high]`` with ``low < high``.

    Args:
        base_dist: univariate distribution on the real line with ``cdf`` and ``icdf``.
        low, high: truncation points, broadcastable with ``base_dist.batch_shape``.
    """

    def __init__(self, base_dist, low=0.0, high=1.0, *, validate_args=None):
        self._init_truncation(base_dist, low, high, validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.interval(self.low, self.high)


def TruncatedDistribution(base_dist, low=None, high=None, *, validate_args=None):
    """``base_dist`` truncated to ``[low, high]``; ``None`` leaves that side open.

    Returns a :class:`LeftTruncatedDistribution` (only ``low``), a
    :class:`RightTruncatedDistribution` (only ``high``), a
    :class:`TwoSidedTruncatedDistribution` (both), or ``base_dist`` itself
    (neither).
    """
    if low is None and high is None:
        return base_dist
    if high is None:
        return LeftTruncatedDistribution(base_dist, low, validate_args=validate_args)
    if low is None:
        return RightTruncatedDistribution(base_dist, high, validate_args=validate_args)
    return TwoSidedTruncatedDistribution(base_dist, low, high, validate_args=validate_args)


def TruncatedNormal(loc=0.0, scale=1.0, low=None, high=None, *, validate_args=None):
    """Normal(``loc``, ``scale``) truncated to ``[low, high]`` (see :func:`TruncatedDistribution`).

    Raises ``ValueError`` if ``low >= high``.
    """
    base = Normal(loc, scale, validate_args=validate_args)
    return TruncatedDistribution(base, low, high, validate_args=validate_args)


def TruncatedCauchy(loc=0.0, scale=1.0, low=None, high=None, *, validate_args=None):
    """Cauchy(``loc``, ``scale``) truncated to ``[low, high]`` (see :func:`TruncatedDistribution`).

    Raises ``ValueError`` if ``low >= high``.
    """
    base = Cauchy(loc, scale, validate_args=validate_args)
    return TruncatedDistribution(base, low, high, validate_args=validate_args)
