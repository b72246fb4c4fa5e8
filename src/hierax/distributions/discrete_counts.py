"""Unbounded and ranged counts: Poisson, negative binomial, geometric, discrete uniform.

``NegativeBinomial`` and ``Geometric`` are factories choosing the ``Probs`` or
``Logits`` class from the keyword given (exactly one of ``probs`` and
``logits``). Formulas: N. L. Johnson, A. W. Kemp and S. Kotz, *Univariate
Discrete Distributions*, 3rd ed., Wiley (2005).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import log_sigmoid, softplus
from jax.scipy.special import expit, gammaincc, gammaln, xlog1py, xlogy

from hierax.distributions import constraints
from hierax.distributions.discrete_base import (
    _as_float,
    _bernoulli_logits_from_probs,
    _check_param,
    _enumerate_range,
    _exactly_one,
    _extended_real,
    _float_dtype,
    _int_dtype,
    _is_integer,
    _supported_log_prob,
)
from hierax.distributions.distribution import Distribution, is_validation_enabled, validate_sample
from hierax.distributions.util import (
    broadcast_shape,
    is_concrete,
    lazy_property,
    promote_shapes,
)

__all__ = [
    "DiscreteUniform",
    "Geometric",
    "GeometricLogits",
    "GeometricProbs",
    "NegativeBinomial",
    "NegativeBinomial2",
    "NegativeBinomialLogits",
    "NegativeBinomialProbs",
    "Poisson",
]

# ----------------------------------------------------------------------------
# Poisson.


class Poisson(Distribution):
    """Poisson distribution of counts with mean ``rate``.

    Args:
        rate: positive mean; its shape is the batch shape.
        is_sparse: accepted for NumPyro compatibility and ignored.
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative_integer

    def __init__(self, rate, *, is_sparse=False, validate_args=None):
        self.rate = rate
        self.is_sparse = bool(is_sparse)
        super().__init__(jnp.shape(rate), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return jax.random.poisson(key, self.rate, shape, dtype=_int_dtype())

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.rate)
        rate = self.rate

        def compute(k):
            return xlogy(k, rate) - gammaln(k + 1) - rate

        in_support = _is_integer(value) & (value >= 0)
        return _supported_log_prob(in_support, compute, value, 0.0)

    def cdf(self, value):
        """``P(X <= value)``, the regularised upper incomplete gamma ``Q(floor(x) + 1, rate)``."""
        k = jnp.floor(_as_float(value, self.rate))
        return jnp.where(k < 0, 0.0, gammaincc(jnp.maximum(k, 0.0) + 1, self.rate))

    @property
    def mean(self):
        return jnp.broadcast_to(self.rate, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.rate, self.batch_shape)


# ----------------------------------------------------------------------------
# Negative binomial (a Gamma mixture of Poissons).


class _NegativeBinomialBase(Distribution):
    """Counts ``k`` with ``P(k) = C(k + r - 1, k) p^k (1 - p)^r``, ``r`` the concentration.

    Equivalently ``k ~ Poisson(lam)`` with ``lam ~ Gamma(r, rate=(1 - p) / p)``;
    ``p`` is the probability of a success in NumPyro's (and PyTorch's) convention,
    so the mean is ``r p / (1 - p)``. SciPy's ``nbinom(r, 1 - p)`` is the same law.
    """

    support = constraints.nonnegative_integer

    def _concentration(self):
        raise NotImplementedError

    def _odds(self):
        """``p / (1 - p)``: the mean per unit of concentration."""
        raise NotImplementedError

    def _log_weights(self, k, r):
        """``r log(1 - p) + k log(p)``."""
        raise NotImplementedError

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        gamma_key, poisson_key = jax.random.split(key)
        r = self._concentration()
        dtype = _float_dtype(r, self._odds())
        gamma = jax.random.gamma(gamma_key, jnp.broadcast_to(r, shape), shape, dtype=dtype)
        return jax.random.poisson(poisson_key, gamma * self._odds(), shape, dtype=_int_dtype())

    @validate_sample
    def log_prob(self, value):
        r = self._concentration()
        value = _as_float(value, r, self._odds())

        def compute(k):
            return gammaln(k + r) - gammaln(r) - gammaln(k + 1) + self._log_weights(k, r)

        in_support = _is_integer(value) & (value >= 0)
        return _supported_log_prob(in_support, compute, value, 0.0)

    @property
    def mean(self):
        return jnp.broadcast_to(self._concentration() * self._odds(), self.batch_shape)

    @property
    def variance(self):
        odds = self._odds()
        return jnp.broadcast_to(self._concentration() * odds * (1 + odds), self.batch_shape)


class NegativeBinomialProbs(_NegativeBinomialBase):
    """Negative binomial with concentration ``total_count`` and success probability ``probs``.

    Args:
        total_count: positive concentration ``r`` (need not be an integer).
        probs: success probability ``p`` in ``[0, 1)``; the mean is ``r p / (1 - p)``.
    """

    arg_constraints = {"total_count": constraints.positive, "probs": constraints.unit_interval}

    def __init__(self, total_count, probs, *, validate_args=None):
        self.total_count, self.probs = promote_shapes(total_count, probs)
        batch_shape = broadcast_shape(jnp.shape(total_count), jnp.shape(probs))
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return _bernoulli_logits_from_probs(self.probs)

    def _concentration(self):
        return self.total_count

    def _odds(self):
        return self.probs / (1 - self.probs)

    def _log_weights(self, k, r):
        return xlog1py(r, -self.probs) + xlogy(k, self.probs)


class NegativeBinomialLogits(_NegativeBinomialBase):
    """Negative binomial with concentration ``total_count`` and success log-odds ``logits``."""

    arg_constraints = {"total_count": constraints.positive, "logits": _extended_real}

    def __init__(self, total_count, logits, *, validate_args=None):
        self.total_count, self.logits = promote_shapes(total_count, logits)
        batch_shape = broadcast_shape(jnp.shape(total_count), jnp.shape(logits))
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def probs(self):
        return expit(self.logits)

    def _concentration(self):
        return self.total_count

    def _odds(self):
        return jnp.exp(self.logits)

    def _log_weights(self, k, r):
        successes = jnp.where(k == 0, 0.0, -k * softplus(-self.logits))
        return successes - r * softplus(self.logits)


class NegativeBinomial2(_NegativeBinomialBase):
    """Negative binomial by its ``mean`` and ``concentration`` (Gamma-Poisson mixture).

    ``Var = mean + mean**2 / concentration``; large concentrations approach
    ``Poisson(mean)``. The attributes ``concentration`` and ``rate``
    (``concentration / mean``) describe the mixing Gamma.

    Args:
        mean: positive mean.
        concentration: positive concentration (inverse overdispersion).
    """

    arg_constraints = {"mean": constraints.positive, "concentration": constraints.positive}

    def __init__(self, mean, concentration, *, validate_args=None):
        _check_param("NegativeBinomial2", "mean", mean, constraints.positive, validate_args)
        self._mean_param, self.concentration = promote_shapes(mean, concentration)
        batch_shape = broadcast_shape(jnp.shape(mean), jnp.shape(concentration))
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def rate(self):
        return self.concentration / self._mean_param

    def _concentration(self):
        return self.concentration

    def _odds(self):
        return self._mean_param / self.concentration

    def _log_weights(self, k, r):
        log_total = jnp.log(r + self._mean_param)
        successes = jnp.where(k == 0, 0.0, k * (jnp.log(self._mean_param) - log_total))
        return successes + r * (jnp.log(r) - log_total)

    @property
    def mean(self):
        return jnp.broadcast_to(self._mean_param, self.batch_shape)


def NegativeBinomial(total_count, probs=None, logits=None, *, validate_args=None):
    """Negative binomial from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("NegativeBinomial", probs, logits)
    if probs is not None:
        return NegativeBinomialProbs(total_count, probs, validate_args=validate_args)
    return NegativeBinomialLogits(total_count, logits, validate_args=validate_args)


# ----------------------------------------------------------------------------
# Geometric.


class _GeometricBase(Distribution):
    """Number of failures before the first success (support ``{0, 1, ...}``).

    SciPy's ``geom`` counts trials instead: ``geom.pmf(k + 1, p)`` equals ``P(k)`` here.
    """

    support = constraints.nonnegative_integer

    def _log_success(self):
        raise NotImplementedError

    def _log_failure(self):
        raise NotImplementedError

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        log_failure = self._log_failure()
        u = jax.random.uniform(key, shape, dtype=_float_dtype(log_failure))
        # Inversion: floor(log(1 - u) / log(1 - p)); adding 0.0 turns -0.0 into 0.0.
        return jnp.floor(jnp.log1p(-u) / log_failure) + 0.0

    @validate_sample
    def log_prob(self, value):
        log_failure, log_success = self._log_failure(), self._log_success()
        value = _as_float(value, log_failure)

        def compute(k):
            return jnp.where(k == 0, 0.0, k * log_failure) + log_success

        in_support = _is_integer(value) & (value >= 0)
        return _supported_log_prob(in_support, compute, value, 0.0)

    def cdf(self, value):
        """``P(X <= value) = 1 - (1 - p)^(floor(value) + 1)``."""
        log_failure = self._log_failure()
        k = jnp.floor(_as_float(value, log_failure))
        return jnp.where(k < 0, 0.0, -jnp.expm1((jnp.maximum(k, 0.0) + 1) * log_failure))

    @property
    def mean(self):
        return jnp.broadcast_to(jnp.exp(self._log_failure() - self._log_success()),
                                self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(jnp.exp(self._log_failure() - 2 * self._log_success()),
                                self.batch_shape)

    def entropy(self):
        # H = -E[k log(1 - p) + log p] = -(mean log(1 - p) + log p).
        mean = jnp.exp(self._log_failure() - self._log_success())
        failure_term = jnp.where(mean == 0, 0.0, mean * self._log_failure())
        return jnp.broadcast_to(-(failure_term + self._log_success()), self.batch_shape)


class GeometricProbs(_GeometricBase):
    """Geometric distribution with success probability ``probs`` in ``(0, 1]``."""

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs, *, validate_args=None):
        self.probs = probs
        super().__init__(jnp.shape(probs), validate_args=validate_args)

    @lazy_property
    def logits(self):
        return _bernoulli_logits_from_probs(self.probs)

    def _log_success(self):
        return jnp.log(self.probs)

    def _log_failure(self):
        return jnp.log1p(-jnp.asarray(self.probs))


class GeometricLogits(_GeometricBase):
    """Geometric distribution with success log-odds ``logits``."""

    arg_constraints = {"logits": _extended_real}

    def __init__(self, logits, *, validate_args=None):
        self.logits = logits
        super().__init__(jnp.shape(logits), validate_args=validate_args)

    @lazy_property
    def probs(self):
        return expit(self.logits)

    def _log_success(self):
        return log_sigmoid(jnp.asarray(self.logits))

    def _log_failure(self):
        return log_sigmoid(-jnp.asarray(self.logits))


def Geometric(probs=None, logits=None, *, validate_args=None):
    """Geometric distribution from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("Geometric", probs, logits)
    if probs is not None:
        return GeometricProbs(probs, validate_args=validate_args)
    return GeometricLogits(logits, validate_args=validate_args)


# ----------------------------------------------------------------------------
# Discrete uniform.

_any_integer = constraints.integer_greater_than(-float("inf"))


class DiscreteUniform(Distribution):
    """Uniform distribution on the integers ``low, low + 1, ..., high`` (both included).

    Args:
        low: lowest value (integer-valued).
        high: highest value (integer-valued, ``>= low``).
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_enumerate_support = True

    def __init__(self, low=0, high=1, *, validate_args=None):
        name = "DiscreteUniform"
        _check_param(name, "low", low, _any_integer, validate_args, "an integer value")
        _check_param(name, "high", high, _any_integer, validate_args, "an integer value")
        validate = is_validation_enabled() if validate_args is None else validate_args
        if validate and is_concrete(low) and is_concrete(high):
            with jax.ensure_compile_time_eval():
                ordered = bool(jnp.all(jnp.asarray(high) >= jnp.asarray(low)))
            if not ordered:
                raise ValueError(
                    f"{name}: parameter `high` must be >= `low`, got low={jnp.asarray(low)} "
                    f"and high={jnp.asarray(high)}."
                )
        self.low, self.high = promote_shapes(low, high)
        batch_shape = broadcast_shape(jnp.shape(low), jnp.shape(high))
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(self.low, self.high)

    def _width(self, dtype=None):
        return jnp.asarray(self.high, dtype=dtype) - jnp.asarray(self.low, dtype=dtype) + 1

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        low = jnp.asarray(self.low).astype(_int_dtype())
        high = jnp.asarray(self.high).astype(_int_dtype())
        return jax.random.randint(key, shape, low, high + 1, dtype=_int_dtype())

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.low, self.high)
        in_support = _is_integer(value) & (value >= self.low) & (value <= self.high)
        log_prob = -jnp.log(self._width(value.dtype))
        return jnp.where(in_support, log_prob, -jnp.inf)

    def cdf(self, value):
        value = _as_float(value, self.low, self.high)
        below = jnp.floor(value) - self.low + 1
        return jnp.clip(below / self._width(value.dtype), 0.0, 1.0)

    @property
    def mean(self):
        dtype = _float_dtype(self.low, self.high)
        return jnp.broadcast_to((self.low + self.high) / jnp.asarray(2, dtype), self.batch_shape)

    @property
    def variance(self):
        width = self._width(_float_dtype(self.low, self.high))
        return jnp.broadcast_to((width**2 - 1) / 12, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self._width(_float_dtype(self.low, self.high))),
                                self.batch_shape)

    def enumerate_support(self, expand=True):
        if not (is_concrete(self.low) and is_concrete(self.high)):
            raise ValueError("DiscreteUniform.enumerate_support needs concrete low and high.")
        with jax.ensure_compile_time_eval():
            width = np.asarray(self._width())
        size = int(np.max(width))
        if not np.all(width == size):
            raise ValueError(
                "DiscreteUniform.enumerate_support needs the same number of values "
                f"(high - low + 1) across the batch, got from {int(np.min(width))} to {size}."
            )
        low = jnp.asarray(self.low).astype(_int_dtype())
        return _enumerate_range(size, self.batch_shape, expand, start=low)
