"""LKJ priors on correlation matrices and on their Cholesky factors.

Matrices lie along the last two axes (``event_shape == (d, d)``); leading axes
are batch axes. :class:`LKJ` and :class:`LKJCholesky` are also reachable from
:mod:`hierax.distributions.multivariate`.

References:
    D. Lewandowski, D. Kurowicka and H. Joe (2009), "Generating random
    correlation matrices based on vines and extended onion method", Journal of
    Multivariate Analysis 100(9), 1989-2001.
"""

from __future__ import annotations

import math
import operator

import jax
import jax.numpy as jnp
from jax.scipy.special import betaln

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.multivariate_base import _float_dtype, _matmul

__all__ = ["LKJ", "LKJCholesky"]


def _lkj_log_normalizer(dimension, concentration):
    """``log c_d(eta)``, the integral of ``det(C)^(eta - 1)`` over d x d correlation matrices.

    LKJ (2009), eq. (16): ``c_d = prod_{k=1}^{d-1} [2^{(2 eta - 2 + d - k)(d - k)}
    B(eta + (d - k - 1)/2, eta + (d - k - 1)/2)^{d - k}]``.
    """
    eta = jnp.asarray(concentration, dtype=_float_dtype(concentration))[..., None]
    m = jnp.arange(dimension - 1, 0, -1, dtype=eta.dtype)  # d - k for k = 1 .. d-1
    half_shift = eta + (m - 1) / 2
    terms = (2 * eta - 2 + m) * m * math.log(2) + m * betaln(half_shift, half_shift)
    return jnp.sum(terms, axis=-1)


def _onion_cholesky(key, dimension, concentration, shape, dtype):
    """Cholesky factors of LKJ draws by the onion method (LKJ 2009, section 3.2).

    Row ``i`` (0-based, ``i >= 1``) is ``(sqrt(y) u, sqrt(1 - y))`` with
    ``y ~ Beta(i / 2, eta + (d - 1 - i) / 2)`` and ``u`` uniform on the unit
    sphere of ``R^i``. ``y`` comes from two log-Gamma draws, so ``1 - y`` is
    accurate even when ``y`` is close to one.
    """
    beta_key, gamma_key, direction_key = jax.random.split(key, 3)
    eta = jnp.asarray(concentration, dtype)[..., None]
    rows = jnp.arange(1, dimension, dtype=dtype)
    rows_shape = shape + (dimension - 1,)
    log_a = jax.random.loggamma(beta_key, jnp.broadcast_to(rows / 2, rows_shape), dtype=dtype)
    b = jnp.broadcast_to(eta + (dimension - 1 - rows) / 2, rows_shape)
    log_b = jax.random.loggamma(gamma_key, b, dtype=dtype)
    ones = jnp.ones(shape + (1,), dtype)
    y = jnp.concatenate([0 * ones, jax.nn.sigmoid(log_a - log_b)], axis=-1)
    one_minus_y = jnp.concatenate([ones, jax.nn.sigmoid(log_b - log_a)], axis=-1)
    z = jnp.tril(jax.random.normal(direction_key, shape + (dimension, dimension), dtype), -1)
    norm = jnp.linalg.norm(z, axis=-1, keepdims=True)
    direction = z / jnp.where(norm > 0, norm, 1.0)
    diagonal = jnp.sqrt(one_minus_y)[..., None] * jnp.eye(dimension, dtype=dtype)
    return direction * jnp.sqrt(y)[..., None] + diagonal


def _cvine_cholesky(key, dimension, concentration, shape, dtype):
    """Cholesky factors of LKJ draws by the C-vine method (LKJ 2009, section 2.4).

    Partial correlations of level ``k`` are ``Beta(b_k, b_k)`` on ``(-1, 1)``
    with ``b_k = eta + (d - 2 - k) / 2``; row ``i`` of the factor is
    ``L[i, k] = p[i, k] prod_{m<k} sqrt(1 - p[i, m]^2)`` and
    ``L[i, i] = prod_{m<i} sqrt(1 - p[i, m]^2)``.
    """
    first_key, second_key = jax.random.split(key)
    eta = jnp.asarray(concentration, dtype)[..., None, None]
    columns = jnp.arange(dimension, dtype=dtype)
    strict_lower = jnp.tril(jnp.ones((dimension, dimension), dtype=bool), -1)
    # Column d - 1 holds no partial correlation; give it a harmless parameter.
    b = jnp.where(strict_lower, eta + (dimension - 2 - columns) / 2, 1.0)
    b = jnp.broadcast_to(b, shape + (dimension, dimension))
    half_log_ratio = 0.5 * (jax.random.loggamma(first_key, b, dtype=dtype)
                            - jax.random.loggamma(second_key, b, dtype=dtype))
    # p = (G1 - G2) / (G1 + G2) = tanh(h), sqrt(1 - p^2) = 1 / cosh(h).
    partial = jnp.where(strict_lower, jnp.tanh(half_log_ratio), 0.0)
    remaining = jnp.where(strict_lower, 1 / jnp.cosh(half_log_ratio), 1.0)
    cumulative = jnp.cumprod(remaining, axis=-1)
    exclusive = jnp.concatenate([jnp.ones_like(cumulative[..., :1]), cumulative[..., :-1]], -1)
    return (partial + jnp.eye(dimension, dtype=dtype)) * exclusive


class _LKJBase(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    pytree_aux_fields = ("dimension",)

    def __init__(self, dimension=2, concentration=1.0, sample_method="onion", *,
                 validate_args=None):
        name = type(self).__name__
        try:
            dimension = operator.index(dimension)
        except TypeError:
            raise ValueError(
                f"{name}: `dimension` must be an integer >= 2, got {dimension!r}."
            ) from None
        if dimension < 2:
            raise ValueError(f"{name}: `dimension` must be an integer >= 2, got {dimension}.")
        if sample_method not in ("onion", "cvine"):
            raise ValueError(
                f"{name}: `sample_method` must be 'onion' or 'cvine', got {sample_method!r}."
            )
        self.dimension = dimension
        self.concentration = concentration
        self.sample_method = sample_method
        super().__init__(jnp.shape(concentration), (dimension, dimension),
                         validate_args=validate_args)

    def _sample_cholesky(self, key, sample_shape):
        shape = tuple(sample_shape) + self.batch_shape
        sampler = _onion_cholesky if self.sample_method == "onion" else _cvine_cholesky
        return sampler(key, self.dimension, self.concentration, shape,
                       _float_dtype(self.concentration))

    def _log_prob_from_log_diagonal(self, log_diagonal, exponents):
        """``sum(exponents * log_diagonal) - log c_d``; ``-inf`` if a diagonal entry is <= 0."""
        in_support = jnp.all(log_diagonal > -jnp.inf, axis=-1)
        safe = jnp.where(in_support[..., None], log_diagonal, 0.0)
        log_prob = jnp.sum(exponents * safe, axis=-1) - _lkj_log_normalizer(
            self.dimension, self.concentration
        )
        return jnp.where(in_support, log_prob, -jnp.inf)


def _safe_log_diagonal(matrix):
    """``log`` of the diagonal from index 1 on; ``-inf`` where not positive (or NaN)."""
    diagonal = jnp.diagonal(matrix, axis1=-2, axis2=-1)[..., 1:]
    positive = diagonal > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, diagonal, 1.0)), -jnp.inf)


class LKJCholesky(_LKJBase):
    """LKJ distribution on lower Cholesky factors ``L`` of correlation matrices.

    ``C = L L^T`` follows ``LKJ(eta)``, density proportional to
    ``det(C)^(eta - 1)``; ``eta = 1`` is uniform over correlation matrices and
    larger ``eta`` concentrate near the identity. With respect to Lebesgue
    measure on the strictly lower entries of ``L`` the density is
    ``prod_{i=1}^{d-1} L_ii^(d - 1 - i + 2 (eta - 1)) / c_d(eta)``, with the
    normaliser of Lewandowski, Kurowicka & Joe (2009, eq. 16). Each
    off-diagonal correlation is marginally ``Beta(eta - 1 + d/2, eta - 1 + d/2)``
    rescaled to ``(-1, 1)``.

    Args:
        dimension: ``d >= 2`` (static Python int).
        concentration: positive ``eta``; its shape is the batch shape.
        sample_method: ``"onion"`` (default) or ``"cvine"`` (LKJ 2009, sections
            3.2 and 2.4); both are exact.
    """

    support = constraints.corr_cholesky

    def sample(self, key, sample_shape=()):
        return self._sample_cholesky(key, sample_shape)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value, dtype=_float_dtype(value, self.concentration))
        eta = jnp.asarray(self.concentration, dtype=value.dtype)[..., None]
        rows = jnp.arange(1, self.dimension, dtype=value.dtype)
        exponents = self.dimension - 1 - rows + 2 * (eta - 1)
        return self._log_prob_from_log_diagonal(_safe_log_diagonal(value), exponents)


class LKJ(_LKJBase):
    """LKJ distribution on ``d x d`` correlation matrices, density ``det(C)^(eta - 1) / c_d``.

    The density is with respect to Lebesgue measure on the ``d (d - 1) / 2``
    upper off-diagonal entries (Lewandowski, Kurowicka & Joe 2009); for
    ``d = 2`` the correlation is ``Beta(eta, eta)`` on ``(-1, 1)``. Draws are
    ``L L^T`` with ``L`` from :class:`LKJCholesky`.

    Args:
        dimension: ``d >= 2`` (static Python int).
        concentration: positive ``eta``; its shape is the batch shape.
        sample_method: ``"onion"`` (default) or ``"cvine"``.
    """

    support = constraints.corr_matrix

    def sample(self, key, sample_shape=()):
        cholesky = self._sample_cholesky(key, sample_shape)
        return _matmul(cholesky, jnp.swapaxes(cholesky, -2, -1))

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value, dtype=_float_dtype(value, self.concentration))
        eta = jnp.asarray(self.concentration, dtype=value.dtype)[..., None]
        # log det C = 2 sum_i log L_ii, and L_00 = 1 for a correlation matrix.
        log_diagonal = _safe_log_diagonal(jnp.linalg.cholesky(value))
        return self._log_prob_from_log_diagonal(log_diagonal, 2 * (eta - 1))

    @property
    def mean(self):
        identity = jnp.eye(self.dimension, dtype=_float_dtype(self.concentration))
        return jnp.broadcast_to(identity, self.batch_shape + self.event_shape)
