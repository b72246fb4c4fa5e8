"""Shared machinery of the discrete families: private constraints and helpers.

The families in :mod:`hierax.distributions.discrete` use these to check
parameters, pick integer and floating dtypes, enumerate supports and keep
``log_prob`` at ``-inf`` outside the support with finite gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from hierax.distributions import constraints
from hierax.distributions.distribution import is_validation_enabled
from hierax.distributions.util import clamp_probs, is_concrete, safe_where


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
