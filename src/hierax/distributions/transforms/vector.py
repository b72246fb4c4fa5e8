"""Vector transforms: onto the simplex, ordered vectors and zero-sum vectors."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.nn import softplus

from hierax.distributions import constraints
from hierax.distributions.transforms._numerics import _clip_positive, _finfo, _require_rank
from hierax.distributions.transforms.base import ParameterFreeTransform

__all__ = ["OrderedTransform", "StickBreakingTransform", "ZeroSumTransform"]


class StickBreakingTransform(ParameterFreeTransform):
    """Unconstrained ``(..., K-1)`` vectors onto the simplex in ``R^K`` (Stan's construction).

    ``z_k = sigmoid(x_k - log(K-1-k))`` is the fraction broken off the
    remaining stick, so ``x = 0`` maps to the uniform vector. The log-det is
    taken in the intrinsic coordinates ``y[..., :K-1]``:
    ``sum_k log z_k + log(1 - z_k) + log(stick left before k)``.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    @staticmethod
    def _offsets(k, dtype):
        return jnp.log(jnp.arange(k, 0, -1).astype(dtype))

    def _pieces(self, x):
        """``log z``, ``log(1-z)`` and log of the stick left before each break."""
        t = x - self._offsets(jnp.shape(x)[-1], jnp.result_type(x, float))
        log_z, log_1mz = -softplus(-t), -softplus(t)
        zero = jnp.zeros_like(log_1mz[..., :1])
        log_left = jnp.cumsum(jnp.concatenate([zero, log_1mz], axis=-1), axis=-1)
        return log_z, log_1mz, log_left

    def __call__(self, x):
        log_z, _, log_left = self._pieces(x)
        head = jnp.exp(log_z + log_left[..., :-1])
        return jnp.concatenate([head, jnp.exp(log_left[..., -1:])], axis=-1)

    def _inverse(self, y):
        tiny = _finfo(y).tiny
        # Stick left after break k, summed from the tail for accuracy.
        tail = jnp.flip(jnp.cumsum(jnp.flip(y, -1), axis=-1), -1)[..., 1:]
        head = y[..., :-1]
        offsets = self._offsets(jnp.shape(head)[-1], jnp.result_type(y, float))
        return jnp.log(jnp.maximum(head, tiny)) - jnp.log(jnp.maximum(tail, tiny)) + offsets

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_z, log_1mz, log_left = self._pieces(x)
        return jnp.sum(log_z + log_1mz + log_left[..., :-1], axis=-1)

    def forward_shape(self, shape):
        shape = _require_rank(shape, 1, "StickBreakingTransform")
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _require_rank(shape, 1, "StickBreakingTransform.inv")
        return shape[:-1] + (shape[-1] - 1,)


class OrderedTransform(ParameterFreeTransform):
    """Unconstrained vectors onto strictly increasing vectors (Stan's construction).

    ``y_0 = x_0`` and ``y_k = y_{k-1} + exp(x_k)``; log-det ``sum_{k>0} x_k``.
    """

    domain = constraints.real_vector
    codomain = constraints.ordered_vector

    def __call__(self, x):
        steps = jnp.concatenate([x[..., :1], _clip_positive(jnp.exp(x[..., 1:]))], axis=-1)
        return jnp.cumsum(steps, axis=-1)

    def _inverse(self, y):
        gaps = jnp.log(y[..., 1:] - y[..., :-1])
        return jnp.concatenate([y[..., :1], gaps], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.sum(x[..., 1:], axis=-1)


class ZeroSumTransform(ParameterFreeTransform):
    """Unconstrained ``(..., n-1)`` vectors onto zero-sum vectors in ``R^n``, isometrically.

    The map is the Householder reflection that swaps ``e_n`` with
    ``-1/sqrt(n)``, applied to ``(x, 0)``: ``y_i = x_i - s / (n + sqrt(n))``
    for ``i < n`` and ``y_n = -s / sqrt(n)`` with ``s = sum(x)``. Being an
    isometry onto the zero-sum hyperplane, its log-det (in the hyperplane's
    own coordinates) is zero.
    """

    domain = constraints.real_vector
    codomain = constraints.zero_sum

    def __call__(self, x):
        n = jnp.shape(x)[-1] + 1
        total = jnp.sum(x, axis=-1, keepdims=True)
        head = x - total / (n + math.sqrt(n))
        return jnp.concatenate([head, -total / math.sqrt(n)], axis=-1)

    def _inverse(self, y):
        n = jnp.shape(y)[-1]
        return y[..., :-1] - y[..., -1:] / (math.sqrt(n) + 1.0)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.zeros(jnp.shape(x)[:-1], dtype=jnp.result_type(x, float))

    def forward_shape(self, shape):
        shape = _require_rank(shape, 1, "ZeroSumTransform")
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _require_rank(shape, 1, "ZeroSumTransform.inv")
        return shape[:-1] + (shape[-1] - 1,)
