"""Binary-outcome counts: the Bernoulli and binomial families.

``Bernoulli`` and ``Binomial`` are factories choosing the ``Probs`` or
``Logits`` class from the keyword given (exactly one of ``probs`` and
``logits``). Formulas: N. L. Johnson, A. W. Kemp and S. Kotz, *Univariate
Discrete Distributions*, 3rd ed., Wiley (2005).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import softplus
from jax.scipy.special import expit, xlog1py, xlogy

from hierax.distributions import constraints
from hierax.distributions.discrete_base import (
    _as_float,
    _bernoulli_logits_from_probs,
    _enumerate_range,
    _exactly_one,
    _extended_real,
    _float_dtype,
    _int_dtype,
    _is_integer,
    _log_binomial_coefficient,
    _supported_log_prob,
)
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.util import (
    broadcast_shape,
    clamp_probs,
    is_concrete,
    lazy_property,
    promote_shapes,
)

__all__ = [
    "Bernoulli",
    "BernoulliLogits",
    "BernoulliProbs",
    "Binomial",
    "BinomialLogits",
    "BinomialProbs",
]

# ----------------------------------------------------------------------------
# Bernoulli.


class _BernoulliBase(Distribution):
    support = constraints.boolean
    has_enumerate_support = True

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return jax.random.bernoulli(key, self.probs, shape).astype(_int_dtype())

    @property
    def mean(self):
        return jnp.broadcast_to(self.probs, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.probs * (1 - self.probs), self.batch_shape)

    def cdf(self, value):
        value = _as_float(value, self.probs)
        one_minus_p = 1 - self.probs
        return jnp.where(value < 0, 0.0, jnp.where(value < 1, one_minus_p, 1.0))

    def enumerate_support(self, expand=True):
        return _enumerate_range(2, self.batch_shape, expand)


class BernoulliProbs(_BernoulliBase):
    """Bernoulli distribution on ``{0, 1}`` with success probability ``probs``.

    Args:
        probs: probability of 1, in ``[0, 1]``; its shape is the batch shape.
    """

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs, *, validate_args=None):
        self.probs = probs
        super().__init__(jnp.shape(probs), validate_args=validate_args)

    @lazy_property
    def logits(self):
        return _bernoulli_logits_from_probs(self.probs)

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.probs)
        probs = clamp_probs(jnp.asarray(self.probs, dtype=value.dtype))

        def compute(v):
            return jnp.where(v == 1, jnp.log(probs), jnp.log1p(-probs))

        return _supported_log_prob((value == 0) | (value == 1), compute, value, 0.0)

    def entropy(self):
        probs = jnp.asarray(self.probs)
        return jnp.broadcast_to(-xlogy(probs, probs) - xlog1py(1 - probs, -probs), self.batch_shape)


class BernoulliLogits(_BernoulliBase):
    """Bernoulli distribution on ``{0, 1}`` with log-odds ``logits``.

    Args:
        logits: ``log(p / (1 - p))``; ``+-inf`` stand for ``p = 1`` and ``p = 0``.
    """

    arg_constraints = {"logits": _extended_real}

    def __init__(self, logits, *, validate_args=None):
        self.logits = logits
        super().__init__(jnp.shape(logits), validate_args=validate_args)

    @lazy_property
    def probs(self):
        return expit(self.logits)

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.logits)
        logits = jnp.asarray(self.logits, dtype=value.dtype)

        def compute(v):
            return jnp.where(v == 1, -softplus(-logits), -softplus(logits))

        return _supported_log_prob((value == 0) | (value == 1), compute, value, 0.0)

    def entropy(self):
        logits = jnp.asarray(self.logits)
        p, q = expit(logits), expit(-logits)
        # H = p * softplus(-l) + q * softplus(l), dropping terms with zero weight.
        entropy = p * jnp.where(p > 0, softplus(-logits), 0.0) + q * jnp.where(
            q > 0, softplus(logits), 0.0
        )
        return jnp.broadcast_to(entropy, self.batch_shape)


def Bernoulli(probs=None, logits=None, *, validate_args=None):
    """Bernoulli distribution from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("Bernoulli", probs, logits)
    if probs is not None:
        return BernoulliProbs(probs, validate_args=validate_args)
    return BernoulliLogits(logits, validate_args=validate_args)


# ----------------------------------------------------------------------------
# Binomial.


class _BinomialBase(Distribution):
    has_enumerate_support = True

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        dtype = _float_dtype(self.probs)
        n = jnp.broadcast_to(jnp.asarray(self.total_count, dtype=dtype), shape)
        p = jnp.broadcast_to(jnp.asarray(self.probs, dtype=dtype), shape)
        # Exact draws: inversion for small n * p, BTRS rejection otherwise
        # (W. Hoermann, 1993, "The generation of binomial random variates").
        return jax.random.binomial(key, n, p, dtype=dtype).astype(_int_dtype())

    def _in_support(self, value):
        return _is_integer(value) & (value >= 0) & (value <= self.total_count)

    @property
    def mean(self):
        return jnp.broadcast_to(self.total_count * self.probs, self.batch_shape)

    @property
    def variance(self):
        variance = self.total_count * self.probs * (1 - self.probs)
        return jnp.broadcast_to(variance, self.batch_shape)

    def enumerate_support(self, expand=True):
        name = type(self).__name__
        if not is_concrete(self.total_count):
            raise ValueError(f"{name}.enumerate_support needs a concrete (untraced) total_count.")
        with jax.ensure_compile_time_eval():
            counts = np.asarray(self.total_count)
        size = int(np.max(counts)) + 1
        if not np.all(counts == size - 1):
            raise ValueError(
                f"{name}.enumerate_support needs the same total_count across the batch, got "
                f"values from {int(np.min(counts))} to {size - 1}."
            )
        return _enumerate_range(size, self.batch_shape, expand)


class BinomialProbs(_BinomialBase):
    """Number of successes in ``total_count`` independent trials of probability ``probs``.

    Args:
        probs: success probability per trial, in ``[0, 1]``.
        total_count: number of trials (non-negative integer, may be an array and
            may be traced; sampling stays exact under ``jit``/``vmap``).
    """

    arg_constraints = {
        "probs": constraints.unit_interval,
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(self, probs, total_count=1, *, validate_args=None):
        self.probs, self.total_count = promote_shapes(probs, total_count)
        batch_shape = broadcast_shape(jnp.shape(probs), jnp.shape(total_count))
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return _bernoulli_logits_from_probs(self.probs)

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.probs)
        n = jnp.asarray(self.total_count, dtype=value.dtype)
        probs = self.probs

        def compute(k):
            return _log_binomial_coefficient(n, k) + xlogy(k, probs) + xlog1py(n - k, -probs)

        return _supported_log_prob(self._in_support(value), compute, value, 0.0)


class BinomialLogits(_BinomialBase):
    """Binomial distribution with the success log-odds ``logits``.

    Args:
        logits: log-odds of success per trial.
        total_count: number of trials (non-negative integer).
    """

    arg_constraints = {
        "logits": _extended_real,
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(self, logits, total_count=1, *, validate_args=None):
        self.logits, self.total_count = promote_shapes(logits, total_count)
        batch_shape = broadcast_shape(jnp.shape(logits), jnp.shape(total_count))
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def probs(self):
        return expit(self.logits)

    @validate_sample
    def log_prob(self, value):
        value = _as_float(value, self.logits)
        n = jnp.asarray(self.total_count, dtype=value.dtype)
        logits = self.logits

        def compute(k):
            # k log(sigmoid(l)) + (n - k) log(sigmoid(-l)): no cancellation for large |l|.
            successes = jnp.where(k == 0, 0.0, -k * softplus(-logits))
            failures = jnp.where(n - k == 0, 0.0, -(n - k) * softplus(logits))
            return _log_binomial_coefficient(n, k) + successes + failures

        return _supported_log_prob(self._in_support(value), compute, value, 0.0)


def Binomial(total_count=1, probs=None, logits=None, *, validate_args=None):
    """Binomial distribution from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("Binomial", probs, logits)
    if probs is not None:
        return BinomialProbs(probs, total_count, validate_args=validate_args)
    return BinomialLogits(logits, total_count, validate_args=validate_args)
