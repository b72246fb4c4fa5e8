"""Shared helpers of the multivariate families: parameter shape checks and linear algebra.

Triangular solves and Cholesky manipulations follow N. J. Higham (2002),
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, chapter 10.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from hierax.distributions.util import broadcast_shape


def _float_dtype(*params):
    return jnp.result_type(*params, float)


def _require_ndim(dist_name, param_name, value, ndim, what):
    if jnp.ndim(value) < ndim:
        raise ValueError(
            f"{dist_name}: `{param_name}` must have at least {ndim} dimension(s) ({what}), "
            f"got shape {jnp.shape(value)}."
        )


def _require_square(dist_name, param_name, matrix):
    _require_ndim(dist_name, param_name, matrix, 2, "a matrix")
    if jnp.shape(matrix)[-1] != jnp.shape(matrix)[-2]:
        raise ValueError(
            f"{dist_name}: `{param_name}` must be square in its last two dims, got shape "
            f"{jnp.shape(matrix)}."
        )


def _require_size(dist_name, param_name, value, size):
    if jnp.shape(value)[-1] != size:
        raise ValueError(
            f"{dist_name}: the last dim of `{param_name}` must be {size}, got shape "
            f"{jnp.shape(value)}."
        )


def _batch_mahalanobis_sq(scale_tril, diff):
    """``|| L^{-1} diff ||^2`` over the last axis, without copying ``L`` per sample.

    Args:
        scale_tril: lower-triangular ``L`` of shape ``batch_L + (n, n)``.
        diff: vectors of shape ``batch + (n,)``, ``batch`` broadcastable with ``batch_L``.

    Returns:
        Array of shape ``broadcast(batch, batch_L)``.
    """
    n = jnp.shape(diff)[-1]
    tril_batch = jnp.shape(scale_tril)[:-2]
    batch = broadcast_shape(tril_batch, jnp.shape(diff)[:-1])
    diff = jnp.broadcast_to(diff, batch + (n,))
    split = len(batch) - len(tril_batch)
    lead, tail = batch[:split], batch[split:]
    tril = jnp.broadcast_to(scale_tril, tail + (n, n))
    # Dims not present in L become extra right-hand-side columns of one solve.
    columns = jnp.moveaxis(jnp.reshape(diff, (math.prod(lead),) + tail + (n,)), 0, -1)
    solved = solve_triangular(tril, columns, lower=True)
    squared = jnp.sum(solved**2, axis=-2)
    return jnp.reshape(jnp.moveaxis(squared, -1, 0), batch)


def _half_log_det(scale_tril):
    """``log det(L)`` for a lower-triangular ``L`` with a positive diagonal."""
    return jnp.sum(jnp.log(jnp.diagonal(scale_tril, axis1=-2, axis2=-1)), axis=-1)


def _tril_inverse(scale_tril):
    n = jnp.shape(scale_tril)[-1]
    identity = jnp.broadcast_to(jnp.eye(n, dtype=scale_tril.dtype), jnp.shape(scale_tril))
    return solve_triangular(scale_tril, identity, lower=True)


def _precision_to_scale_tril(precision):
    """Lower Cholesky factor of ``inv(precision)`` without forming the inverse.

    With ``J`` the reversal permutation, ``J P J = F F^T`` gives ``P = U U^T``,
    ``U = J F J`` upper triangular, so ``inv(P) = U^{-T} U^{-1}`` and ``U^{-T}``
    is the lower factor.
    """
    flipped = jnp.linalg.cholesky(jnp.flip(precision, axis=(-2, -1)))
    upper_transposed = jnp.swapaxes(jnp.flip(flipped, axis=(-2, -1)), -2, -1)
    return _tril_inverse(upper_transposed)


def _matmul(a, b):
    """``a @ b`` at full float precision (GPUs otherwise may use TF32 for float32)."""
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def _matvec(matrix, vector):
    return jnp.squeeze(_matmul(matrix, vector[..., None]), -1)
