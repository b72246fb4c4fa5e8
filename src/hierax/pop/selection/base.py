"""Monte Carlo estimate of the expected number of detections from fixed draws.

Every selection model in :mod:`hierax.pop.selection` reduces to ``J`` fixed
draws ``theta_j`` from a known density ``q``, each with a weight ``w_j``
(1 for a found injection, ``p_det`` for a detector model, ``VT`` for a
sensitive volume-time), out of ``N_draw`` draws in total:

    mu_hat(Lambda) = (T / N_draw) sum_j exp(ln w_j + ln rho(theta_j | Lambda) - ln q_j)

(Tiwari 2018, CQG 35, 145009; Farr 2019, RNAAS 3, 66). Because the draws are
fixed, ``mu_hat`` is a smooth function of the hyperparameters. Its variance
over realisations of the draws is estimated from the same draws,

    Var(mu_hat) = (T / N_draw)^2 [ sum_j e^{2 l_j} - (sum_j e^{l_j})^2 / N_draw ],

and ``N_eff = mu_hat^2 / Var(mu_hat)`` is the effective number of draws;
Farr (2019) shows that the bias of the hierarchical likelihood is negligible
when ``N_eff > 4 N_events``.

Precision: the per-draw terms ``l_j`` are computed in the caller's precision,
the sums in float64 (see :func:`in_float64`), with a max shift so that
nothing overflows. Results are cast back to the caller's precision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["SelectionEstimator", "SelectionTerms", "in_float64"]


class SelectionTerms(NamedTuple):
    """The selection estimate at one ``Lambda`` (scalars).

    Attributes:
        log_mu: ``ln mu_hat``.
        mu: ``mu_hat``, the expected number of detections.
        variance: ``Var(mu_hat)`` over realisations of the draws.
        effective_draws: ``mu_hat^2 / Var(mu_hat)`` (Farr 2019).
    """

    log_mu: jax.Array
    mu: jax.Array
    variance: jax.Array
    effective_draws: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class SelectionEstimator:
    """Fixed Monte Carlo draws that estimate ``mu(Lambda)``.

    Attributes:
        theta: ``(J, d)`` draws in the population's columns ``parameter_names``.
        log_weight: ``(J,)`` ``ln w_j`` (``ln p_det``, ``ln VT`` or 0 for found injections;
            for populations without redshift it includes the volume factor).
        log_draw_density: ``(J,)`` ``ln q(theta_j)`` in the columns of ``theta``.
        total_draws: ``N_draw >= J``: all draws made, found or not.
        time: ``T``, the observing time in years (or the ``time_scale`` of a VT).
        parameter_names: the column names of ``theta``.
        batch_size: if set, evaluate the rate density over the draws in chunks of this
            many rows (``jax.lax.map``) to bound memory.
        description: a short label used in messages.
    """

    theta: np.ndarray
    log_weight: np.ndarray
    log_draw_density: np.ndarray
    total_draws: int
    time: float
    parameter_names: tuple[str, ...]
    batch_size: int | None = None
    description: str = "selection"

    def __post_init__(self):
        theta = np.asarray(self.theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[0] == 0:
            raise ValueError(
                f"SelectionEstimator({self.description}): theta must have shape (J, d) "
                f"with J >= 1, got {theta.shape}."
            )
        if theta.shape[1] != len(self.parameter_names):
            raise ValueError(
                f"SelectionEstimator({self.description}): theta has {theta.shape[1]} columns "
                f"but parameter_names is {tuple(self.parameter_names)!r}."
            )
        for field in ("log_weight", "log_draw_density"):
            value = np.asarray(getattr(self, field), dtype=np.float64)
            if value.shape != (theta.shape[0],):
                raise ValueError(
                    f"SelectionEstimator({self.description}): {field} has shape "
                    f"{value.shape}, expected ({theta.shape[0]},)."
                )
            object.__setattr__(self, field, value)
        if not np.all(np.isfinite(self.log_draw_density)):
            raise ValueError(
                f"SelectionEstimator({self.description}): log_draw_density must be finite."
            )
        if int(self.total_draws) < theta.shape[0]:
            raise ValueError(
                f"SelectionEstimator({self.description}): total_draws={self.total_draws} "
                f"is smaller than the {theta.shape[0]} draws given."
            )
        if not float(self.time) > 0:
            raise ValueError(
                f"SelectionEstimator({self.description}): time must be > 0, got {self.time}."
            )
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise ValueError(
                f"SelectionEstimator({self.description}): batch_size must be >= 1, "
                f"got {self.batch_size}."
            )
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "total_draws", int(self.total_draws))
        object.__setattr__(self, "parameter_names", tuple(self.parameter_names))

    @property
    def num_draws(self) -> int:
        """``J``, the number of stored draws."""
        return int(self.theta.shape[0])

    @property
    def log_scale(self) -> float:
        """``ln(T / N_draw)``, the factor of the sum in ``mu_hat``."""
        return float(np.log(self.time) - np.log(self.total_draws))

    def log_rate_terms(self, log_rate_density_fn: Callable, hyper) -> jax.Array:
        """``(J,)`` ``ln rho(theta_j | Lambda)`` in the default float precision."""
        theta = jnp.asarray(self.theta, dtype=jnp.result_type(float))
        if self.batch_size is None:
            return log_rate_density_fn(theta, hyper)
        return jax.lax.map(
            lambda row: log_rate_density_fn(row, hyper), theta, batch_size=int(self.batch_size)
        )

    def terms(self, log_rate_density_fn: Callable, hyper) -> SelectionTerms:
        """``mu_hat``, its variance and effective draws at ``hyper``.

        Args:
            log_rate_density_fn: ``(theta (..., d), hyper) -> (...)``, ``ln rho``.
            hyper: dict of scalar hyperparameters.
        """
        return self.terms_from_log_rate(self.log_rate_terms(log_rate_density_fn, hyper))

    def terms_from_log_rate(self, log_rate: jax.Array) -> SelectionTerms:
        """:meth:`terms` from ``ln rho(theta_j | Lambda)`` already evaluated, shape ``(J,)``."""
        log_offset = self.log_weight - self.log_draw_density

        def reduce(log_rate):
            terms = log_rate + jnp.asarray(log_offset, log_rate.dtype)
            result = self.terms_from_moments(*shifted_moments(terms))
            return SelectionTerms(*(value.astype(log_rate.dtype) for value in result))

        return in_float64(reduce)(log_rate)

    def terms_from_moments(self, peak, first, second) -> SelectionTerms:
        """:meth:`terms` from the shifted moments (:func:`shifted_moments`) of the terms
        ``ln w_j + ln rho_j - ln q_j``, in their dtype; only ``log_mu`` and ``mu``
        carry a gradient, through ``peak + ln first``."""
        log_scale = self.log_scale
        log_mu = log_scale + peak + jnp.log(first)
        # The diagnostics carry no gradient (as the second moment).
        first = jax.lax.stop_gradient(first)
        excess = jnp.maximum(second - first**2 / self.total_draws, 0.0)
        variance = jnp.exp(2 * (log_scale + peak)) * excess
        return SelectionTerms(log_mu, jnp.exp(log_mu), variance, first**2 / excess)

    def log_mu(self, log_rate_density_fn: Callable, hyper) -> jax.Array:
        """``ln mu_hat(Lambda)`` (scalar)."""
        return self.terms(log_rate_density_fn, hyper).log_mu

    def __repr__(self) -> str:
        return (
            f"SelectionEstimator({self.description}, draws={self.num_draws}, "
            f"total_draws={self.total_draws}, time={self.time}, "
            f"parameter_names={self.parameter_names})"
        )


def shifted_moments(log_terms: jax.Array, axis: int = -1):
    """``(m, sum e^{l - m}, sum e^{2 (l - m)})`` along ``axis`` with ``m = max l``.

    The exponentials are taken in the dtype of ``log_terms`` (each lies in
    ``[0, 1]``, so a float32 term carries float32's relative error and no
    more) and summed in float64: call inside a float64 scope
    (:func:`in_float64`). The second moment only feeds Monte Carlo error
    diagnostics and carries no gradient, so the backward pass touches each
    term once. All ``-inf`` terms give ``m = 0`` and zero sums (finite
    gradients; ``log`` of the sum is ``-inf``).
    """
    peak = jnp.max(log_terms, axis=axis, keepdims=True)
    peak = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
    scaled = jnp.exp(log_terms - peak)
    first = jnp.sum(scaled, axis=axis, dtype=jnp.float64)
    second = jnp.sum(jnp.square(jax.lax.stop_gradient(scaled)), axis=axis, dtype=jnp.float64)
    return jnp.squeeze(peak, axis).astype(jnp.float64), first, second


def in_float64(reduction: Callable) -> Callable:
    """Run ``reduction(x)`` (a pure function of a pytree of arrays) with float64 enabled.

    ``jax.enable_x64(True)`` is a thread-local, scoped setting: inside it the
    reduction may cast to float64 even when the caller runs with x64 disabled
    (JAX 0.10), under ``jit`` and ``vmap``. Reverse-mode differentiation would
    transpose the reduction after the scope has closed, where float64 is not
    available, so the backward pass is defined explicitly and re-enters the
    scope (``jax.custom_vjp``), applying the pullback saved by the forward pass.
    ``reduction`` must return arrays in the caller's dtypes. Forward-mode
    differentiation is not supported.
    """

    @jax.custom_vjp
    def wrapped(x):
        with jax.enable_x64(True):
            return reduction(x)

    def forward(x):
        with jax.enable_x64(True):
            return jax.vjp(reduction, x)

    def backward(pullback, cotangent):
        with jax.enable_x64(True):
            return pullback(cotangent)

    wrapped.defvjp(forward, backward)
    return wrapped
