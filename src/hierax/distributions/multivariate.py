"""Multivariate families: Gaussian vectors, the Dirichlet, and LKJ correlation priors.

All vectors lie along the last axis (``event_shape == (n,)``) and matrices along
the last two (``event_shape == (d, d)`` for the LKJ families); leading axes are
batch axes and broadcast against each other.

References:
    D. Lewandowski, D. Kurowicka and H. Joe (2009), "Generating random
    correlation matrices based on vines and extended onion method", Journal of
    Multivariate Analysis 100(9), 1989-2001. (LKJ below.)
    N. J. Higham (2002), *Accuracy and Stability of Numerical Algorithms*, 2nd
    ed., SIAM, chapter 10 (Cholesky factorisation and triangular solves).
"""

from __future__ import annotations

import math
import operator

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import betaln, digamma, gammaln, xlogy

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.util import broadcast_shape, lazy_property

__all__ = [
    "LKJ",
    "Dirichlet",
    "LKJCholesky",
    "LowRankMultivariateNormal",
    "MultivariateNormal",
]

_LOG_2PI = math.log(2 * math.pi)


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


# ----------------------------------------------------------------------------
# LKJ priors on correlation matrices.


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
