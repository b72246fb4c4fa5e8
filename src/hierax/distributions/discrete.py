"""Discrete distribution families (NumPyro's names and arguments).

Families with two parametrisations come as a pair of classes plus a factory:
``Bernoulli(probs=...)`` builds a :class:`BernoulliProbs` and
``Bernoulli(logits=...)`` a :class:`BernoulliLogits`; likewise
:func:`Binomial`, :func:`Categorical`, :func:`Geometric`,
:func:`NegativeBinomial` and :func:`Multinomial`. Exactly one of ``probs`` and
``logits`` must be given.

Samples are integer arrays (the default JAX integer dtype), except
:class:`GeometricProbs`/:class:`GeometricLogits`, whose draws are floats of the
parameter's dtype, as in NumPyro. ``log_prob`` accepts integer or float values,
computes in the floating dtype of the parameters, and is ``-inf`` at values
outside the support (with finite gradients with respect to the parameters).

The formulas are textbook ones; see e.g. N. L. Johnson, A. W. Kemp and S. Kotz,
*Univariate Discrete Distributions*, 3rd ed., Wiley (2005).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import log_sigmoid, softplus
from jax.scipy.special import expit, gammaincc, gammaln, logsumexp, xlog1py, xlogy

from hierax.distributions import constraints
from hierax.distributions.distribution import (
    Distribution,
    is_validation_enabled,
    validate_sample,
)
from hierax.distributions.util import (
    broadcast_shape,
    clamp_probs,
    is_concrete,
    lazy_property,
    promote_shapes,
    safe_where,
)

__all__ = [
    "Bernoulli",
    "BernoulliLogits",
    "BernoulliProbs",
    "Binomial",
    "BinomialLogits",
    "BinomialProbs",
    "Categorical",
    "CategoricalLogits",
    "CategoricalProbs",
    "DiscreteUniform",
    "Geometric",
    "GeometricLogits",
    "GeometricProbs",
    "Multinomial",
    "MultinomialLogits",
    "MultinomialProbs",
    "NegativeBinomial",
    "NegativeBinomial2",
    "NegativeBinomialLogits",
    "NegativeBinomialProbs",
    "Poisson",
]


# ----------------------------------------------------------------------------
# Private constraints and helpers.


class _ExtendedReal(constraints.Constraint):
    """The reals together with ``+-inf`` (logits may be infinite: p = 0 or 1)."""

    def __call__(self, x):
        return x == x

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _MultinomialCounts(constraints.Constraint):
    """Vectors of non-negative integers summing to ``upper_bound``."""

    is_discrete = True
    event_dim = 1
    _data_fields = ("upper_bound",)

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def __call__(self, x):
        integer = jnp.all((x % 1 == 0) & (x >= 0), axis=-1)
        return integer & (jnp.sum(x, axis=-1) == self.upper_bound)

    def feasible_like(self, prototype):
        first = jnp.broadcast_to(self.upper_bound, jnp.shape(prototype)[:-1])
        rest = jnp.zeros(jnp.shape(prototype)[:-1] + (jnp.shape(prototype)[-1] - 1,))
        return jnp.concatenate([first[..., None], rest], axis=-1).astype(
            jnp.result_type(prototype)
        )


_extended_real = _ExtendedReal()
_extended_real_vector = constraints.independent(_extended_real, 1)


def _int_dtype():
    """The default JAX integer dtype (int32, or int64 with x64 enabled)."""
    return jnp.result_type(int)


def _float_dtype(*params):
    """The floating dtype implied by ``params`` (Python scalars stay weak)."""
    return jnp.result_type(*params, float)


def _as_float(value, *params):
    """``value`` as an array of the floating dtype implied by itself and ``params``."""
    return jnp.asarray(value, dtype=_float_dtype(value, *params))


def _check_param(dist_name, param_name, value, constraint, validate_args, requirement=None):
    """Raise ``ValueError`` if a concrete ``value`` violates ``constraint``."""
    if validate_args is None:
        validate_args = is_validation_enabled()
    if not validate_args or not is_concrete(value):
        return
    # Evaluate eagerly even while a jit trace is open (a Python constant is concrete).
    with jax.ensure_compile_time_eval():
        ok = bool(jnp.all(constraint(jnp.asarray(value))))
    if not ok:
        shown = jnp.asarray(value).tolist() if jnp.size(value) <= 8 else jnp.shape(value)
        raise ValueError(
            f"{dist_name}: parameter `{param_name}` must satisfy "
            f"{requirement or repr(constraint)}, got {shown!r}."
        )


def _exactly_one(dist_name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(
            f"{dist_name}: pass exactly one of `probs` or `logits` "
            f"(got probs={'None' if probs is None else 'given'}, "
            f"logits={'None' if logits is None else 'given'})."
        )


def _is_integer(value):
    return value % 1 == 0


def _supported_log_prob(in_support, compute, value, safe_value):
    """``compute(value)`` where ``in_support`` and ``-inf`` elsewhere, gradient-safe."""
    return safe_where(in_support, compute, -jnp.inf, safe_value, value)


def _log_binomial_coefficient(n, k):
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _enumerate_range(size, batch_shape, expand, start=0):
    """Values ``start + arange(size)`` along a new leading axis before ``batch_shape``."""
    values = jnp.arange(size, dtype=_int_dtype())
    values = jnp.reshape(values, (-1,) + (1,) * len(batch_shape)) + start
    if expand:
        values = jnp.broadcast_to(values, (size,) + tuple(batch_shape))
    return values


def _bernoulli_logits_from_probs(probs):
    clamped = clamp_probs(probs)
    return jnp.log(clamped) - jnp.log1p(-clamped)


def _log_probs_from_probs(probs):
    """``log(probs)`` with exact ``-inf`` (and zero gradient) where ``probs == 0``."""
    positive = probs > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, probs, 1.0)), -jnp.inf)


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
