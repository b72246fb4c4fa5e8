"""Matrix transforms onto Cholesky factors; vectors hold lower triangles in row-major order.

References:
    Lewandowski, Kurowicka & Joe (2009), "Generating random correlation
    matrices based on vines and extended onion method", J. Multivariate Anal.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.nn import softplus

from hierax.distributions import constraints
from hierax.distributions.transforms._numerics import (
    _clip_positive,
    _diagonal,
    _exclusive_cumsum,
    _finfo,
    _log1m_tanh_sq,
    _require_rank,
    _softplus_inverse,
    _tril_to_vec,
    _vec_to_tril,
)
from hierax.distributions.transforms.base import ParameterFreeTransform

__all__ = [
    "CholeskyTransform",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "LowerCholeskyTransform",
    "ScaledUnitLowerCholeskyTransform",
]


def _matrix_size(length, strict, owner):
    """``n`` such that ``length`` is ``n(n+1)/2`` (``n(n-1)/2`` if ``strict``)."""
    n = int(round((math.sqrt(8 * length + 1) + (1 if strict else -1)) / 2))
    if n * (n + (-1 if strict else 1)) // 2 != length:
        kind = "n(n-1)/2" if strict else "n(n+1)/2"
        raise ValueError(f"{owner}: a vector of length {length} is not of length {kind}.")
    return n


def _matrix_forward_shape(shape, strict, owner):
    shape = _require_rank(shape, 1, owner)
    n = _matrix_size(shape[-1], strict, owner)
    return shape[:-1] + (n, n)


def _matrix_inverse_shape(shape, strict, owner):
    shape = _require_rank(shape, 2, owner)
    if shape[-1] != shape[-2]:
        raise ValueError(f"{owner}: expected square matrices, got shape {shape}.")
    n = shape[-1]
    return shape[:-2] + ((n * (n - 1) if strict else n * (n + 1)) // 2,)


class LowerCholeskyTransform(ParameterFreeTransform):
    """``(..., n(n+1)/2)`` vectors onto lower-triangular matrices with positive diagonal.

    The first ``n(n-1)/2`` entries fill the strictly lower triangle; the last
    ``n`` are the logs of the diagonal. Log-det (in the coordinates of the
    vectorised lower triangle) is the sum of those last ``n`` entries.
    """

    domain = constraints.real_vector
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        strict = _vec_to_tril(x[..., : x.shape[-1] - n], n, -1)
        diag = _clip_positive(jnp.exp(x[..., x.shape[-1] - n:]))
        return strict + diag[..., None] * jnp.eye(n, dtype=strict.dtype)

    def _inverse(self, y):
        return jnp.concatenate([_tril_to_vec(y, -1), jnp.log(_diagonal(y))], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        return jnp.sum(x[..., x.shape[-1] - n:], axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape, False, type(self).__name__)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape, False, type(self).__name__)


class ScaledUnitLowerCholeskyTransform(LowerCholeskyTransform):
    """``(..., n(n+1)/2)`` vectors onto ``diag(s) @ U`` with ``U`` unit lower triangular.

    The first ``n(n-1)/2`` entries fill ``U``'s strictly lower triangle; the
    last ``n`` give ``s = softplus(raw)``. Row ``i`` of the result is ``s_i``
    times row ``i`` of ``U``, so the log-det (vectorised lower triangle) is
    ``sum_i log sigmoid(raw_i) + i * log s_i``.
    """

    codomain = constraints.scaled_unit_lower_cholesky

    def __call__(self, x):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        unit = _vec_to_tril(x[..., : x.shape[-1] - n], n, -1)
        unit = unit + jnp.eye(n, dtype=unit.dtype)
        scale = _clip_positive(softplus(x[..., x.shape[-1] - n:]))
        return unit * scale[..., :, None]

    def _inverse(self, y):
        scale = _diagonal(y)
        unit = y / scale[..., :, None]
        return jnp.concatenate([_tril_to_vec(unit, -1), _softplus_inverse(scale)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        raw = x[..., x.shape[-1] - n:]
        rows = jnp.arange(n).astype(jnp.result_type(x, float))
        log_scale = jnp.log(_diagonal(y))
        return jnp.sum(rows * log_scale - softplus(-raw), axis=-1)


class CorrCholeskyTransform(ParameterFreeTransform):
    """``(..., n(n-1)/2)`` vectors onto Cholesky factors of correlation matrices.

    Stan's construction (Lewandowski, Kurowicka & Joe 2009): the entries are
    mapped through ``tanh`` to partial correlations ``z_ij`` in ``(-1, 1)``
    filling the strictly lower triangle (row-major); row ``i`` of the factor is
    ``w_ij = z_ij * sqrt(1 - sum_{k<j} w_ik^2)`` with ``w_ii`` closing the row
    to unit norm. The log-det (strictly lower triangle coordinates) is
    ``sum_{i>j} log(1 - z_ij^2) + 0.5 * log(1 - sum_{k<j} w_ik^2)``.
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky

    def _log_terms(self, x):
        """Log of ``1 - z^2`` and of the squared row norm left before each entry."""
        n = _matrix_size(jnp.shape(x)[-1], True, type(self).__name__)
        log_1mz2 = _vec_to_tril(_log1m_tanh_sq(x), n, -1)
        return log_1mz2, _exclusive_cumsum(log_1mz2, axis=-1), n

    def __call__(self, x):
        log_1mz2, log_left, n = self._log_terms(x)
        z = _vec_to_tril(jnp.tanh(x), n, -1) + jnp.eye(n, dtype=log_left.dtype)
        return jnp.tril(z * jnp.exp(0.5 * log_left))

    def _inverse(self, y):
        left = 1.0 - _exclusive_cumsum(y * y, axis=-1)
        z = _tril_to_vec(y, -1) / jnp.sqrt(jnp.maximum(_tril_to_vec(left, -1), _finfo(y).tiny))
        bound = 1.0 - _finfo(y).eps
        return jnp.arctanh(jnp.clip(z, -bound, bound))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_1mz2, log_left, _ = self._log_terms(x)
        return jnp.sum(_tril_to_vec(log_1mz2 + 0.5 * log_left, -1), axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape, True, type(self).__name__)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape, True, type(self).__name__)


class CholeskyTransform(ParameterFreeTransform):
    """Positive-definite matrices onto their lower Cholesky factors, ``y = cholesky(x)``.

    With ``x = L L^T``, ``|det dx/dL| = 2^n prod_i L_ii^(n-i)`` (0-based ``i``)
    in the coordinates of the lower triangles (Edelman, *Random matrix
    theory*, MIT 18.325 notes); the log-det here is its negative log.
    """

    domain = constraints.positive_definite
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        return jnp.linalg.cholesky(x)

    def _inverse(self, y):
        return y @ jnp.swapaxes(y, -2, -1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n, 0, -1).astype(jnp.result_type(y, float))
        return -n * math.log(2.0) - jnp.sum(powers * jnp.log(_diagonal(y)), axis=-1)


class CorrMatrixCholeskyTransform(CholeskyTransform):
    """Correlation matrices onto their Cholesky factors.

    In strictly-lower-triangle coordinates, ``dC_ij / dL_ij = L_jj`` in a
    triangular Jacobian, so ``|det dC/dL| = prod_j L_jj^(n-1-j)``; the log-det
    here is its negative log.
    """

    domain = constraints.corr_matrix
    codomain = constraints.corr_cholesky

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n - 1, -1, -1).astype(jnp.result_type(y, float))
        return -jnp.sum(powers * jnp.log(_diagonal(y)), axis=-1)
