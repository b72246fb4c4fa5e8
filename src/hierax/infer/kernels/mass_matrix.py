"""Running (co)variance estimates for mass-matrix adaptation (Welford's algorithm).

References:
    Welford, B. P. (1962). Note on a method for calculating corrected sums of squares and
    products. Technometrics 4(3).
    Stan Development Team. Stan reference manual, "HMC algorithm parameters" (the
    shrinkage of the windowed variance estimate toward ``1e-3``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["WelfordState", "welford_covariance", "welford_init", "welford_update"]


class WelfordState(NamedTuple):
    """Running moments of the positions seen so far.

    Attributes:
        mean: ``(d,)`` running mean.
        m2: ``(d,)`` sum of squared deviations (diagonal) or ``(d, d)`` sum of outer
            products of deviations (dense).
        count: int32 number of samples.
    """

    mean: jax.Array
    m2: jax.Array
    count: jax.Array


def welford_init(position, dense: bool = False) -> WelfordState:
    """Empty estimator for positions shaped and typed like ``position`` (shape ``(d,)``).

    Raises:
        ValueError: if ``position`` is not 1-D.
    """
    if jnp.ndim(position) != 1:
        raise ValueError(
            f"welford_init: position must be 1-D of shape (d,), got shape {jnp.shape(position)}"
        )
    mean = jnp.zeros_like(position)
    size = mean.shape[0]
    m2 = jnp.zeros((size, size) if dense else (size,), mean.dtype)
    return WelfordState(mean, m2, jnp.zeros((), jnp.int32))


def welford_update(state: WelfordState, position) -> WelfordState:
    """Add one ``(d,)`` sample; the ``m2`` update uses the deviations before and after."""
    count = state.count + 1
    delta = position - state.mean
    mean = state.mean + delta / count.astype(state.mean.dtype)
    delta_after = position - mean
    if state.m2.ndim == 1:
        m2 = state.m2 + delta * delta_after
    else:
        m2 = state.m2 + jnp.outer(delta_after, delta)
    return WelfordState(mean, m2, count)


def welford_covariance(state: WelfordState, regularize: bool = True):
    """Sample (co)variance ``m2 / (n - 1)``, by default shrunk as in Stan.

    The regularized estimate is ``(n / (n + 5)) * cov + 1e-3 * (5 / (n + 5)) * I``
    (``I`` is a vector of ones for the diagonal case).

    Returns:
        ``(d,)`` variances or a ``(d, d)`` covariance in the dtype of the samples.
    """
    dtype = state.mean.dtype
    n = state.count.astype(dtype)
    covariance = state.m2 / jnp.maximum(n - 1.0, 1.0)
    if not regularize:
        return covariance
    identity = jnp.ones_like(state.mean) if state.m2.ndim == 1 else jnp.eye(
        state.mean.shape[0], dtype=dtype)
    return (n / (n + 5.0)) * covariance + 1e-3 * (5.0 / (n + 5.0)) * identity
