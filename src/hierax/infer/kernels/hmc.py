"""Hamiltonian Monte Carlo with a fixed number of leapfrog steps, as a pure function.

The kernel works on a flat ``(d,)`` position and a ``potential_fn(position) -> scalar``
(negative log density). States are ``NamedTuple`` pytrees, so the step can be
``jit``-ed, ``vmap``-ed over chains and ``lax.scan``-ed over iterations.

References:
    Duane, S., Kennedy, A. D., Pendleton, B. J. & Roweth, D. (1987). Hybrid Monte Carlo.
    Physics Letters B 195(2).
    Neal, R. M. (2011). MCMC using Hamiltonian dynamics. Handbook of MCMC, ch. 5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .integrators import IntegratorState, potential_and_grad, velocity_verlet
from .metrics import gaussian_euclidean

__all__ = ["HMCInfo", "HMCState", "hmc_step", "init"]


class HMCState(NamedTuple):
    """Position of the chain with its cached potential.

    Attributes:
        position: ``(d,)`` flat unconstrained position.
        potential_energy: scalar ``U(position)`` in the dtype of ``position``.
        potential_energy_grad: ``(d,)`` gradient of ``U``.
    """

    position: jax.Array
    potential_energy: jax.Array
    potential_energy_grad: jax.Array


class HMCInfo(NamedTuple):
    """Diagnostics of one HMC transition (all scalars).

    Attributes:
        acceptance_rate: Metropolis probability ``min(1, exp(-dH))``.
        is_accepted: whether the proposal was accepted.
        is_divergent: ``dH > max_delta_energy`` or ``dH`` not finite.
        energy: Hamiltonian of the returned state (with its momentum).
        delta_energy: ``dH = H(proposal) - H(start)``.
        num_integration_steps: number of leapfrog steps taken.
    """

    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_divergent: jax.Array
    energy: jax.Array
    delta_energy: jax.Array
    num_integration_steps: jax.Array


def _check_position(position, where: str):
    if jnp.ndim(position) != 1:
        raise ValueError(
            f"{where}: position must be a flat 1-D array of shape (d,), got shape "
            f"{jnp.shape(position)}"
        )
    if not jnp.issubdtype(jnp.result_type(position), jnp.floating):
        raise TypeError(
            f"{where}: position must have a floating dtype, got {jnp.result_type(position)}"
        )


def init(position, potential_fn: Callable) -> HMCState:
    """Evaluate the potential and its gradient at ``position`` (shape ``(d,)``).

    Raises:
        ValueError: if ``position`` is not 1-D or ``potential_fn`` is not scalar-valued.
        TypeError: if ``position`` is not floating point.
    """
    _check_position(position, "init")
    position = jnp.asarray(position)
    potential_energy, grad = potential_and_grad(potential_fn, position)
    return HMCState(position, potential_energy, grad)


def as_dtype_of(value, position):
    """Cast a scalar/array hyperparameter to the floating dtype of ``position``."""
    return jnp.asarray(value, jnp.result_type(position))


def energy_error(energy, initial_energy):
    """``energy - initial_energy`` with NaN mapped to ``+inf`` (a rejected, divergent move)."""
    delta = energy - initial_energy
    return jnp.where(jnp.isnan(delta), jnp.inf, delta)


def hmc_step(
    rng_key,
    state: HMCState,
    potential_fn: Callable,
    step_size,
    inverse_mass_matrix,
    num_integration_steps,
    max_delta_energy=1000.0,
) -> tuple[HMCState, HMCInfo]:
    """One HMC transition: fresh momentum, ``L`` leapfrog steps, Metropolis correction.

    Args:
        rng_key: a ``jax.random`` key.
        state: current :class:`HMCState`.
        potential_fn: ``(d,) -> scalar`` negative log density.
        step_size: scalar leapfrog step size (may be traced).
        inverse_mass_matrix: ``(d,)`` or ``(d, d)`` inverse mass matrix.
        num_integration_steps: number of leapfrog steps ``L`` (int, may be traced).
        max_delta_energy: energy error above which the transition counts as divergent.

    Returns:
        ``(new_state, info)``; ``info`` is an :class:`HMCInfo`.
    """
    position = state.position
    step_size = as_dtype_of(step_size, position)
    metric = gaussian_euclidean(as_dtype_of(inverse_mass_matrix, position))
    step = velocity_verlet(potential_fn, metric)
    key_momentum, key_accept = jax.random.split(rng_key)

    momentum = metric.sample_momentum(key_momentum, position)
    start = IntegratorState(position, momentum, state.potential_energy,
                            state.potential_energy_grad)
    initial_energy = state.potential_energy + metric.kinetic_energy(momentum)
    end = jax.lax.fori_loop(0, num_integration_steps, lambda _, s: step(s, step_size), start)

    proposal_energy = end.potential_energy + metric.kinetic_energy(end.momentum)
    delta_energy = energy_error(proposal_energy, initial_energy)
    log_accept = jnp.minimum(-delta_energy, 0.0)
    acceptance_rate = jnp.exp(log_accept)
    is_accepted = jnp.log(jax.random.uniform(key_accept, (), position.dtype)) < log_accept

    proposal = HMCState(end.position, end.potential_energy, end.potential_energy_grad)
    new_state = jax.tree.map(lambda new, old: jnp.where(is_accepted, new, old), proposal, state)
    info = HMCInfo(
        acceptance_rate=acceptance_rate,
        is_accepted=is_accepted,
        is_divergent=delta_energy > max_delta_energy,
        energy=jnp.where(is_accepted, proposal_energy, initial_energy),
        delta_energy=delta_energy,
        num_integration_steps=jnp.asarray(num_integration_steps, jnp.int32),
    )
    return new_state, info
