"""Euclidean-Gaussian kinetic energies for Hamiltonian Monte Carlo.

A metric fixes the momentum distribution ``p ~ N(0, M)`` of HMC, where ``M`` is the
mass matrix. hierax parametrizes it by the *inverse* mass matrix ``M^{-1}``, which
warmup estimates as the posterior (co)variance of the flat position vector.

All functions work on flat arrays: ``position`` and ``momentum`` have shape ``(d,)``.

References:
    Neal, R. M. (2011). MCMC using Hamiltonian dynamics. Handbook of MCMC, ch. 5.
    Betancourt, M. (2017). A conceptual introduction to Hamiltonian Monte Carlo.
    arXiv:1701.02434 (appendix A.4.2: the generalized no-U-turn criterion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

__all__ = ["Metric", "gaussian_euclidean", "turning_from_velocities"]


class Metric(NamedTuple):
    """Functions defining a Gaussian kinetic energy ``K(p) = p^T M^{-1} p / 2``.

    Attributes:
        sample_momentum: ``(rng_key, position) -> momentum``, draws ``p ~ N(0, M)`` with
            the shape and dtype of ``position``.
        kinetic_energy: ``momentum -> scalar`` kinetic energy ``K(p)``.
        velocity: ``momentum -> velocity``, the gradient ``dK/dp = M^{-1} p`` (shape ``(d,)``).
        is_turning: ``(momentum_left, momentum_right, momentum_sum) -> bool``, the
            generalized no-U-turn criterion of Betancourt (2017).
        inverse_mass_matrix: the ``(d,)`` diagonal or ``(d, d)`` dense ``M^{-1}``.
    """

    sample_momentum: Callable
    kinetic_energy: Callable
    velocity: Callable
    is_turning: Callable
    inverse_mass_matrix: jax.Array


def turning_from_velocities(velocity_left, velocity_right, momentum_left, momentum_right,
                            momentum_sum):
    """Generalized no-U-turn criterion from precomputed velocities.

    The trajectory from the left to the right end is turning when the (trapezoidal)
    integrated momentum ``rho = sum_i p_i - (p_left + p_right) / 2`` no longer points
    along the velocity ``M^{-1} p`` at either end (Betancourt 2017, A.4.2).

    Args:
        velocity_left, velocity_right: ``M^{-1} p`` at the two ends, shape ``(..., d)``.
        momentum_left, momentum_right: momenta at the two ends, shape ``(..., d)``.
        momentum_sum: sum of the momenta of every state of the trajectory, ends included.

    Returns:
        Boolean array of shape ``(...)``. The criterion is symmetric in the two ends.
    """
    rho = momentum_sum - 0.5 * (momentum_left + momentum_right)
    turning_left = jnp.sum(velocity_left * rho, axis=-1) <= 0
    turning_right = jnp.sum(velocity_right * rho, axis=-1) <= 0
    return turning_left | turning_right


def _check_inverse_mass_matrix(inverse_mass_matrix):
    shape = jnp.shape(inverse_mass_matrix)
    if len(shape) not in (1, 2):
        raise ValueError(
            "gaussian_euclidean: inverse_mass_matrix must be 1-D (diagonal) or 2-D (dense), "
            f"got shape {shape}"
        )
    if len(shape) == 2 and shape[0] != shape[1]:
        raise ValueError(
            f"gaussian_euclidean: a dense inverse_mass_matrix must be square, got shape {shape}"
        )


def _diagonal_parts(inverse_mass_matrix):
    def sample_momentum(rng_key, position):
        noise = jax.random.normal(rng_key, jnp.shape(position), jnp.result_type(position))
        return noise * jax.lax.rsqrt(inverse_mass_matrix).astype(noise.dtype)

    def velocity(momentum):
        return inverse_mass_matrix.astype(momentum.dtype) * momentum

    return sample_momentum, velocity


def _dense_parts(inverse_mass_matrix):
    # With L L^T = M^{-1}, the triangular factor L^{-T} is a square root of M, so
    # p = L^{-T} z has covariance L^{-T} L^{-1} = M; no explicit inverse is formed.
    cholesky_inverse_mass = jnp.linalg.cholesky(inverse_mass_matrix)

    def sample_momentum(rng_key, position):
        noise = jax.random.normal(rng_key, jnp.shape(position), jnp.result_type(position))
        factor = cholesky_inverse_mass.astype(noise.dtype)
        return jsl.solve_triangular(factor, noise, trans="T", lower=True)

    def velocity(momentum):
        return inverse_mass_matrix.astype(momentum.dtype) @ momentum

    return sample_momentum, velocity


def gaussian_euclidean(inverse_mass_matrix) -> Metric:
    """Build the Euclidean metric ``K(p) = p^T M^{-1} p / 2`` with ``p ~ N(0, M)``.

    Args:
        inverse_mass_matrix: ``(d,)`` array (diagonal ``M^{-1}``) or ``(d, d)`` symmetric
            positive-definite array (dense ``M^{-1}``). Dense momenta are drawn through the
            Cholesky factor of ``M^{-1}``.

    Returns:
        A :class:`Metric`.

    Raises:
        ValueError: if ``inverse_mass_matrix`` is not 1-D or square 2-D.
    """
    _check_inverse_mass_matrix(inverse_mass_matrix)
    inverse_mass_matrix = jnp.asarray(inverse_mass_matrix)
    if inverse_mass_matrix.ndim == 1:
        sample_momentum, velocity = _diagonal_parts(inverse_mass_matrix)
    else:
        sample_momentum, velocity = _dense_parts(inverse_mass_matrix)

    def kinetic_energy(momentum):
        return 0.5 * jnp.dot(momentum, velocity(momentum))

    def is_turning(momentum_left, momentum_right, momentum_sum):
        return turning_from_velocities(
            velocity(momentum_left), velocity(momentum_right),
            momentum_left, momentum_right, momentum_sum,
        )

    return Metric(sample_momentum, kinetic_energy, velocity, is_turning, inverse_mass_matrix)
