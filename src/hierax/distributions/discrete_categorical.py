"""Outcomes among finitely many categories: the categorical and multinomial families.

``Categorical`` and ``Multinomial`` are factories choosing the ``Probs`` or
``Logits`` class from the keyword given (exactly one of ``probs`` and
``logits``). Formulas: N. L. Johnson, S. Kotz and N. Balakrishnan, *Discrete
Multivariate Distributions*, Wiley (1997).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln, logsumexp

from hierax.distributions import constraints
from hierax.distributions.discrete_base import (
    _as_float,
    _enumerate_range,
    _exactly_one,
    _extended_real_vector,
    _float_dtype,
    _int_dtype,
    _is_integer,
    _log_probs_from_probs,
    _MultinomialCounts,
)
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.util import broadcast_shape, lazy_property

__all__ = [
    "Categorical",
    "CategoricalLogits",
    "CategoricalProbs",
    "Multinomial",
    "MultinomialLogits",
    "MultinomialProbs",
]

# ----------------------------------------------------------------------------
# Categorical.


class _CategoricalBase(Distribution):
    has_enumerate_support = True

    def _init_shapes(self, param, name, validate_args):
        if jnp.ndim(param) < 1:
            raise ValueError(
                f"{type(self).__name__}: `{name}` must have at least one dimension (the "
                f"categories), got shape {jnp.shape(param)}."
            )
        super().__init__(jnp.shape(param)[:-1], validate_args=validate_args)

    @property
    def num_categories(self) -> int:
        return jnp.shape(self._param)[-1]

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.num_categories - 1)

    def _normalized_log_probs(self):
        raise NotImplementedError

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return jax.random.categorical(key, self._normalized_log_probs(), shape=shape).astype(
            _int_dtype()
        )

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        shape = broadcast_shape(jnp.shape(value), self.batch_shape)
        log_probs = jnp.broadcast_to(self._normalized_log_probs(), shape + (self.num_categories,))
        in_support = _is_integer(value) & (value >= 0) & (value < self.num_categories)
        index = jnp.where(in_support, value, 0).astype(_int_dtype())
        index = jnp.broadcast_to(index, shape)
        picked = jnp.take_along_axis(log_probs, index[..., None], axis=-1)[..., 0]
        return jnp.where(in_support, picked, -jnp.inf)

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.nan, dtype=_float_dtype(self._param))

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.nan, dtype=_float_dtype(self._param))

    def entropy(self):
        log_probs = self._normalized_log_probs()
        probs = jnp.exp(log_probs)
        return -jnp.sum(probs * jnp.where(probs > 0, log_probs, 0.0), axis=-1)

    def enumerate_support(self, expand=True):
        return _enumerate_range(self.num_categories, self.batch_shape, expand)


class CategoricalProbs(_CategoricalBase):
    """Categorical distribution on ``{0, ..., K-1}`` with event probabilities ``probs``.

    Args:
        probs: array of shape ``batch_shape + (K,)`` whose last axis is a simplex.
    """

    arg_constraints = {"probs": constraints.simplex}

    def __init__(self, probs, *, validate_args=None):
        self.probs = probs
        self._init_shapes(probs, "probs", validate_args)

    @property
    def _param(self):
        return self.probs

    @lazy_property
    def logits(self):
        return _log_probs_from_probs(jnp.asarray(self.probs))

    def _normalized_log_probs(self):
        return _log_probs_from_probs(jnp.asarray(self.probs))


class CategoricalLogits(_CategoricalBase):
    """Categorical distribution on ``{0, ..., K-1}`` with unnormalised log-probabilities.

    Args:
        logits: array of shape ``batch_shape + (K,)``; ``-inf`` entries are impossible
            categories.
    """

    arg_constraints = {"logits": _extended_real_vector}

    def __init__(self, logits, *, validate_args=None):
        self.logits = logits
        self._init_shapes(logits, "logits", validate_args)

    @property
    def _param(self):
        return self.logits

    @lazy_property
    def probs(self):
        return jax.nn.softmax(self.logits, axis=-1)

    def _normalized_log_probs(self):
        return self.logits - logsumexp(self.logits, axis=-1, keepdims=True)


def Categorical(probs=None, logits=None, *, validate_args=None):
    """Categorical distribution from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("Categorical", probs, logits)
    if probs is not None:
        return CategoricalProbs(probs, validate_args=validate_args)
    return CategoricalLogits(logits, validate_args=validate_args)


# ----------------------------------------------------------------------------
# Multinomial.


class _MultinomialBase(Distribution):
    pytree_aux_fields = ("total_count_max",)

    def _init_shapes(self, param, name, total_count, total_count_max, validate_args):
        if jnp.ndim(param) < 1:
            raise ValueError(
                f"{type(self).__name__}: `{name}` must have at least one dimension (the "
                f"categories), got shape {jnp.shape(param)}."
            )
        self.total_count = total_count
        self.total_count_max = None if total_count_max is None else int(total_count_max)
        batch_shape = broadcast_shape(jnp.shape(param)[:-1], jnp.shape(total_count))
        super().__init__(batch_shape, jnp.shape(param)[-1:], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return _MultinomialCounts(self.total_count)

    def _normalized_log_probs(self):
        raise NotImplementedError

    def sample(self, key, sample_shape=()):
        """Exact draws by successive conditional binomials (works for traced ``total_count``)."""
        shape = tuple(sample_shape) + self.batch_shape
        probs = self.probs
        dtype = _float_dtype(probs)
        probs = jnp.broadcast_to(jnp.asarray(probs, dtype), shape + self.event_shape)
        n = jnp.broadcast_to(jnp.asarray(self.total_count, dtype), shape)
        return jax.random.multinomial(key, n, probs, dtype=dtype).astype(_int_dtype())

    @validate_sample
    def log_prob(self, value):
        log_probs = self._normalized_log_probs()
        value = _as_float(value, log_probs)
        n = jnp.asarray(self.total_count, dtype=value.dtype)
        counts_ok = jnp.all(_is_integer(value) & (value >= 0), axis=-1)
        in_support = counts_ok & (jnp.sum(value, axis=-1) == n)
        safe_value = jnp.where(in_support[..., None], value, 0.0)
        weighted = jnp.where(safe_value == 0, 0.0, safe_value * log_probs)
        log_prob = gammaln(n + 1) + jnp.sum(weighted - gammaln(safe_value + 1), axis=-1)
        return jnp.where(in_support, log_prob, -jnp.inf)

    @property
    def mean(self):
        mean = jnp.expand_dims(jnp.asarray(self.total_count), -1) * self.probs
        return jnp.broadcast_to(mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        n = jnp.expand_dims(jnp.asarray(self.total_count), -1)
        variance = n * self.probs * (1 - self.probs)
        return jnp.broadcast_to(variance, self.batch_shape + self.event_shape)


class MultinomialProbs(_MultinomialBase):
    """Counts of ``total_count`` categorical draws over ``K`` categories.

    Args:
        probs: array of shape ``batch_shape + (K,)`` whose last axis is a simplex.
        total_count: number of draws (non-negative integer, may be traced).
        total_count_max: accepted for NumPyro compatibility; sampling is exact
            without it, also under ``jit`` with a traced ``total_count``.
    """

    arg_constraints = {
        "probs": constraints.simplex,
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(self, probs, total_count=1, *, total_count_max=None, validate_args=None):
        self.probs = probs
        self._init_shapes(probs, "probs", total_count, total_count_max, validate_args)

    @lazy_property
    def logits(self):
        return _log_probs_from_probs(jnp.asarray(self.probs))

    def _normalized_log_probs(self):
        return _log_probs_from_probs(jnp.asarray(self.probs))


class MultinomialLogits(_MultinomialBase):
    """Multinomial counts with unnormalised log-probabilities ``logits`` (last axis)."""

    arg_constraints = {
        "logits": _extended_real_vector,
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(self, logits, total_count=1, *, total_count_max=None, validate_args=None):
        self.logits = logits
        self._init_shapes(logits, "logits", total_count, total_count_max, validate_args)

    @lazy_property
    def probs(self):
        return jax.nn.softmax(self.logits, axis=-1)

    def _normalized_log_probs(self):
        return self.logits - logsumexp(self.logits, axis=-1, keepdims=True)


def Multinomial(total_count=1, probs=None, logits=None, *, total_count_max=None,
                validate_args=None):
    """Multinomial distribution from ``probs`` or ``logits`` (exactly one)."""
    _exactly_one("Multinomial", probs, logits)
    if probs is not None:
        return MultinomialProbs(probs, total_count, total_count_max=total_count_max,
                                validate_args=validate_args)
    return MultinomialLogits(logits, total_count, total_count_max=total_count_max,
                             validate_args=validate_args)
