"""Multivariate families: Gaussian vectors, the Dirichlet, and LKJ correlation priors.

All vectors lie along the last axis (``event_shape == (n,)``) and matrices along
the last two (``event_shape == (d, d)`` for the LKJ families); leading axes are
batch axes and broadcast against each other.

References:
    D. Lewandowski, D. Kurowicka and H. Joe (2009), "Generating random
    correlation matrices based on vines and extended onion method", Journal of
    Multivariate Analysis 100(9), 1989-2001. (LKJ, in :mod:`~hierax.distributions.lkj`,
    re-exported here.)
    N. J. Higham (2002), *Accuracy and Stability of Numerical Algorithms*, 2nd
    ed., SIAM, chapter 10 (Cholesky factorisation and triangular solves).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import digamma, gammaln, xlogy

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.lkj import LKJ, LKJCholesky
from hierax.distributions.multivariate_base import (
    _batch_mahalanobis_sq,
    _float_dtype,
    _half_log_det,
    _matmul,
    _matvec,
    _precision_to_scale_tril,
    _require_ndim,
    _require_size,
    _require_square,
    _tril_inverse,
)
from hierax.distributions.util import broadcast_shape, lazy_property

__all__ = [
    "LKJ",
    "Dirichlet",
    "LKJCholesky",
    "LowRankMultivariateNormal",
    "MultivariateNormal",
]

_LOG_2PI = math.log(2 * math.pi)


# ----------------------------------------------------------------------------
# Multivariate normal.


class MultivariateNormal(Distribution):
    """Multivariate normal ``N(loc, Sigma)`` on ``R^n``.

    Give exactly one of ``covariance_matrix`` (``Sigma``), ``precision_matrix``
    (``inv(Sigma)``) or ``scale_tril`` (lower Cholesky factor ``L``,
    ``Sigma = L L^T``). The density is evaluated with triangular solves against
    ``L``: ``-(n log 2 pi + |L^{-1}(x - loc)|^2) / 2 - log det L``.

    Args:
        loc: mean, shape ``batch + (n,)`` (a scalar broadcasts).
        covariance_matrix, precision_matrix: symmetric positive-definite,
            shape ``batch + (n, n)``.
        scale_tril: lower triangular with positive diagonal, shape ``batch + (n, n)``.
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "covariance_matrix", "precision_matrix", "scale_tril"]

    def __init__(self, loc=0.0, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 *, validate_args=None):
        given = {
            name: matrix
            for name, matrix in [("covariance_matrix", covariance_matrix),
                                 ("precision_matrix", precision_matrix),
                                 ("scale_tril", scale_tril)]
            if matrix is not None
        }
        if len(given) != 1:
            raise ValueError(
                "MultivariateNormal: pass exactly one of covariance_matrix, precision_matrix "
                f"or scale_tril, got {sorted(given) or 'none'}."
            )
        ((name, matrix),) = given.items()
        _require_square("MultivariateNormal", name, matrix)
        matrix = jnp.asarray(matrix, dtype=_float_dtype(matrix))
        n = matrix.shape[-1]
        loc = jnp.asarray(loc, dtype=_float_dtype(loc, matrix))
        loc = loc[None] if loc.ndim == 0 else loc
        if loc.shape[-1] not in (1, n):
            _require_size("MultivariateNormal", "loc", loc, n)
        batch_shape = broadcast_shape(loc.shape[:-1], matrix.shape[:-2])
        matrix = jnp.broadcast_to(matrix, batch_shape + (n, n))
        # The given matrix is kept (validated by the base class, and returned as is
        # by the matching property); ``scale_tril`` drives all computations.
        self.__dict__[name] = matrix
        if name == "covariance_matrix":
            matrix = jnp.linalg.cholesky(matrix)
        elif name == "precision_matrix":
            matrix = _precision_to_scale_tril(matrix)
        self.loc = jnp.broadcast_to(loc, batch_shape + (n,))
        self.scale_tril = matrix
        super().__init__(batch_shape, (n,), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        eps = jax.random.normal(key, shape, dtype=_float_dtype(self.loc, self.scale_tril))
        return self.loc + _matvec(self.scale_tril, eps)

    @validate_sample
    def log_prob(self, value):
        n = self.event_shape[0]
        mahalanobis = _batch_mahalanobis_sq(self.scale_tril, value - self.loc)
        return -0.5 * (n * _LOG_2PI + mahalanobis) - _half_log_det(self.scale_tril)

    @lazy_property
    def covariance_matrix(self):
        return _matmul(self.scale_tril, jnp.swapaxes(self.scale_tril, -2, -1))

    @lazy_property
    def precision_matrix(self):
        inverse = _tril_inverse(self.scale_tril)
        return _matmul(jnp.swapaxes(inverse, -2, -1), inverse)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return jnp.sum(self.scale_tril**2, axis=-1)

    def entropy(self):
        n = self.event_shape[0]
        return 0.5 * n * (1.0 + _LOG_2PI) + _half_log_det(self.scale_tril)


# ----------------------------------------------------------------------------
# Low-rank plus diagonal multivariate normal.


class LowRankMultivariateNormal(Distribution):
    """Normal with covariance ``W W^T + diag(D)``, ``W`` an ``n x r`` factor.

    ``log_prob`` costs ``O(n r^2)`` through the Woodbury identity for the
    inverse and the matrix determinant lemma for ``log det``, both via the
    Cholesky factor of the ``r x r`` capacitance ``I + W^T D^{-1} W``
    (Higham 2002; Woodbury 1950).

    Args:
        loc: mean, shape ``batch + (n,)``.
        cov_factor: ``W``, shape ``batch + (n, r)``.
        cov_diag: positive ``D``, shape ``batch + (n,)``.
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "cov_factor", "cov_diag"]

    def __init__(self, loc, cov_factor, cov_diag, *, validate_args=None):
        name = "LowRankMultivariateNormal"
        _require_ndim(name, "loc", loc, 1, "a vector")
        _require_ndim(name, "cov_factor", cov_factor, 2, "a matrix")
        _require_ndim(name, "cov_diag", cov_diag, 1, "a vector")
        n = jnp.shape(cov_factor)[-2]
        _require_size(name, "loc", loc, n)
        _require_size(name, "cov_diag", cov_diag, n)
        batch_shape = broadcast_shape(
            jnp.shape(loc)[:-1], jnp.shape(cov_factor)[:-2], jnp.shape(cov_diag)[:-1]
        )
        rank = jnp.shape(cov_factor)[-1]
        self.loc = jnp.broadcast_to(loc, batch_shape + (n,))
        self.cov_factor = jnp.broadcast_to(cov_factor, batch_shape + (n, rank))
        self.cov_diag = jnp.broadcast_to(cov_diag, batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)

    def _capacitance_tril(self):
        """Cholesky factor of ``I_r + W^T D^{-1} W``."""
        factor = self.cov_factor
        rank = factor.shape[-1]
        scaled = factor / self.cov_diag[..., None]
        capacitance = _matmul(jnp.swapaxes(factor, -2, -1), scaled)
        return jnp.linalg.cholesky(capacitance + jnp.eye(rank, dtype=capacitance.dtype))

    def _log_det(self, capacitance_tril):
        return 2 * _half_log_det(capacitance_tril) + jnp.sum(jnp.log(self.cov_diag), axis=-1)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        n, rank = self.cov_factor.shape[-2:]
        dtype = _float_dtype(self.loc, self.cov_factor, self.cov_diag)
        factor_key, diag_key = jax.random.split(key)
        eps_factor = jax.random.normal(factor_key, shape + (rank,), dtype=dtype)
        eps_diag = jax.random.normal(diag_key, shape + (n,), dtype=dtype)
        return self.loc + _matvec(self.cov_factor, eps_factor) + jnp.sqrt(self.cov_diag) * eps_diag

    @validate_sample
    def log_prob(self, value):
        n = self.event_shape[0]
        diff = value - self.loc
        scaled = diff / self.cov_diag
        projected = jnp.squeeze(_matmul(scaled[..., None, :], self.cov_factor), -2)
        capacitance_tril = self._capacitance_tril()
        # Woodbury: x^T S^{-1} x = x^T D^{-1} x - |C^{-1/2} W^T D^{-1} x|^2.
        mahalanobis = jnp.sum(diff * scaled, axis=-1) - _batch_mahalanobis_sq(
            capacitance_tril, projected
        )
        return -0.5 * (n * _LOG_2PI + mahalanobis + self._log_det(capacitance_tril))

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return jnp.sum(self.cov_factor**2, axis=-1) + self.cov_diag

    @lazy_property
    def covariance_matrix(self):
        low_rank = _matmul(self.cov_factor, jnp.swapaxes(self.cov_factor, -2, -1))
        identity = jnp.eye(self.event_shape[0], dtype=self.cov_diag.dtype)
        return low_rank + self.cov_diag[..., None] * identity

    @lazy_property
    def precision_matrix(self):
        # Woodbury: S^{-1} = D^{-1} - D^{-1} W C^{-1} W^T D^{-1}.
        scaled_t = jnp.swapaxes(self.cov_factor / self.cov_diag[..., None], -2, -1)
        half = solve_triangular(self._capacitance_tril(), scaled_t, lower=True)
        n, dtype = self.event_shape[0], self.cov_diag.dtype
        inverse_diag = (1 / self.cov_diag)[..., None] * jnp.eye(n, dtype=dtype)
        return inverse_diag - _matmul(jnp.swapaxes(half, -2, -1), half)

    @lazy_property
    def scale_tril(self):
        return jnp.linalg.cholesky(self.covariance_matrix)

    def entropy(self):
        n = self.event_shape[0]
        log_det = self._log_det(self._capacitance_tril())
        return 0.5 * (n * (1.0 + _LOG_2PI) + log_det)


# ----------------------------------------------------------------------------
# Dirichlet.


class Dirichlet(Distribution):
    """Dirichlet distribution on the probability simplex.

    Draws normalise independent ``Gamma(alpha_k)`` variates in log space, so
    small concentrations do not underflow to all-zero vectors in float32;
    components are clipped to at least the dtype's ``tiny``. Sampling is
    differentiable in ``concentration`` (implicit reparametrisation of the
    Gamma draws).

    Args:
        concentration: positive ``alpha``, shape ``batch + (K,)``.
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    reparametrized_params = ["concentration"]

    def __init__(self, concentration, *, validate_args=None):
        _require_ndim("Dirichlet", "concentration", concentration, 1, "the categories")
        self.concentration = concentration
        shape = jnp.shape(concentration)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        dtype = _float_dtype(self.concentration)
        concentration = jnp.broadcast_to(jnp.asarray(self.concentration, dtype), shape)
        log_gamma = jax.random.loggamma(key, concentration, shape, dtype=dtype)
        finfo = jnp.finfo(dtype)
        return jnp.clip(jax.nn.softmax(log_gamma, axis=-1), finfo.tiny, 1 - finfo.eps)

    @validate_sample
    def log_prob(self, value):
        concentration = self.concentration
        value = jnp.asarray(value, dtype=_float_dtype(value, concentration))
        in_support = jnp.all((value >= 0) & (value <= 1), axis=-1)
        safe_value = jnp.where(in_support[..., None], value, 1.0 / value.shape[-1])
        normalizer = gammaln(jnp.sum(concentration, axis=-1)) - jnp.sum(
            gammaln(concentration), axis=-1
        )
        log_prob = jnp.sum(xlogy(concentration - 1, safe_value), axis=-1) + normalizer
        return jnp.where(in_support, log_prob, -jnp.inf)

    @property
    def mean(self):
        concentration = jnp.asarray(self.concentration)
        return concentration / jnp.sum(concentration, axis=-1, keepdims=True)

    @property
    def variance(self):
        concentration = jnp.asarray(self.concentration)
        total = jnp.sum(concentration, axis=-1, keepdims=True)
        return concentration * (total - concentration) / (total**2 * (total + 1))

    def entropy(self):
        concentration = jnp.asarray(self.concentration)
        k = concentration.shape[-1]
        total = jnp.sum(concentration, axis=-1)
        log_beta = jnp.sum(gammaln(concentration), axis=-1) - gammaln(total)
        return (log_beta + (total - k) * digamma(total)
                - jnp.sum((concentration - 1) * digamma(concentration), axis=-1))
