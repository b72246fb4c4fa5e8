"""Numerical and shape helpers shared by the transform modules."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax.nn import softplus
from jax.scipy.special import expit

from hierax.distributions.util import is_concrete


def _finfo(x):
    return jnp.finfo(jnp.result_type(x, float))


def _clip_positive(y):
    """Clip ``y`` below at the smallest normal float, so ``y > 0`` holds on every device."""
    return jnp.maximum(y, _finfo(y).tiny)


def _clipped_expit(x):
    info = _finfo(x)
    return jnp.clip(expit(x), info.tiny, 1.0 - info.eps)


def _softplus_inverse(y):
    """``log(exp(y) - 1)`` computed as ``y + log(-expm1(-y))``."""
    return y + jnp.log(-jnp.expm1(-y))


def _log1m_tanh_sq(x):
    """``log(1 - tanh(x)**2) = 2 * (log 2 - x - softplus(-2x))``, stable for large ``|x|``."""
    return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


def _shape_of(value):
    return tuple(jnp.shape(value))


def _concrete_sign(value):
    """+1 / -1 if ``value`` is concrete and all positive / negative; 0 if mixed; None if traced."""
    if not is_concrete(value):
        return None
    value = np.asarray(value)
    if np.all(value > 0):
        return 1
    if np.all(value < 0):
        return -1
    return 0


def _vec_to_tril(vec, n, diagonal):
    """Fill the lower triangle (offset ``diagonal``, row-major order) of ``(..., n, n)``."""
    rows, cols = np.tril_indices(n, diagonal)
    out = jnp.zeros(jnp.shape(vec)[:-1] + (n, n), dtype=jnp.result_type(vec))
    return out.at[..., rows, cols].set(vec)


def _tril_to_vec(matrix, diagonal):
    """Inverse of :func:`_vec_to_tril`: the lower triangle as a vector, row-major."""
    rows, cols = np.tril_indices(jnp.shape(matrix)[-1], diagonal)
    return matrix[..., rows, cols]


def _diagonal(matrix):
    return jnp.diagonal(matrix, axis1=-2, axis2=-1)


def _exclusive_cumsum(x, axis=-1):
    """``out[k] = sum_{j<k} x[j]`` along ``axis``."""
    total = jnp.cumsum(x, axis=axis)
    return total - x


def _require_rank(shape, rank, owner):
    shape = tuple(shape)
    if len(shape) < rank:
        raise ValueError(f"{owner}: expected an array with at least {rank} dims, got {shape}.")
    return shape
