"""Symplectic integrators for Hamiltonian dynamics on a flat position vector.

The Hamiltonian is ``H(q, p) = U(q) + K(p)`` with ``U = potential_fn`` (the negative
log density) and a Gaussian kinetic energy ``K`` (see :mod:`.metrics`).

References:
    Leimkuhler, B. & Reich, S. (2004). Simulating Hamiltonian Dynamics. Cambridge.
    Neal, R. M. (2011). MCMC using Hamiltonian dynamics. Handbook of MCMC, ch. 5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .metrics import Metric

__all__ = ["IntegratorState", "new_integrator_state", "potential_and_grad", "velocity_verlet"]


class IntegratorState(NamedTuple):
    """A point in phase space with its cached potential.

    Attributes:
        position: ``(d,)`` flat position ``q``.
        momentum: ``(d,)`` momentum ``p``.
        potential_energy: scalar ``U(q)`` in the dtype of ``position``.
        potential_energy_grad: ``(d,)`` gradient ``dU/dq``.
    """

    position: jax.Array
    momentum: jax.Array
    potential_energy: jax.Array
    potential_energy_grad: jax.Array


def potential_and_grad(potential_fn: Callable, position):
    """Return ``(U(position), dU/dposition)`` with ``U`` cast to the dtype of ``position``.

    Raises:
        ValueError: if ``potential_fn`` does not return a scalar.
    """
    output = jax.eval_shape(potential_fn, position)
    if getattr(output, "shape", None) != ():
        raise ValueError(
            "potential_fn must return a scalar, got "
            f"{getattr(output, 'shape', type(output).__name__)}"
        )
    value, grad = jax.value_and_grad(potential_fn)(position)
    return jnp.asarray(value, jnp.result_type(position)), grad


def new_integrator_state(potential_fn: Callable, position, momentum) -> IntegratorState:
    """Evaluate the potential and its gradient at ``position`` (one gradient evaluation)."""
    potential_energy, grad = potential_and_grad(potential_fn, position)
    return IntegratorState(position, momentum, potential_energy, grad)


def _velocity_function(kinetic_energy_grad_or_metric) -> Callable:
    if isinstance(kinetic_energy_grad_or_metric, Metric):
        return kinetic_energy_grad_or_metric.velocity
    if callable(kinetic_energy_grad_or_metric):
        return kinetic_energy_grad_or_metric
    raise TypeError(
        "velocity_verlet: expected a Metric or a callable momentum -> dK/dp, got "
        f"{type(kinetic_energy_grad_or_metric).__name__}"
    )


def velocity_verlet(potential_fn: Callable, kinetic_energy_grad_or_metric) -> Callable:
    """Leapfrog (velocity Verlet) integrator, second order and symplectic.

    One step of size ``eps`` is a half momentum kick, a full position drift along the
    velocity ``dK/dp`` and a second half kick. The gradient computed at the end of a
    step is cached in the state, so each step costs exactly one gradient evaluation.
    A negative ``step_size`` integrates backward in time.

    Args:
        potential_fn: ``(d,) -> scalar`` negative log density.
        kinetic_energy_grad_or_metric: a :class:`~.metrics.Metric`, or a callable mapping
            a momentum to ``dK/dp`` (for Gaussian metrics, ``M^{-1} p``).

    Returns:
        ``step(state: IntegratorState, step_size) -> IntegratorState``.
    """
    velocity = _velocity_function(kinetic_energy_grad_or_metric)

    def step(state: IntegratorState, step_size) -> IntegratorState:
        step_size = jnp.asarray(step_size, jnp.result_type(state.position))
        half_step = 0.5 * step_size
        momentum = state.momentum - half_step * state.potential_energy_grad
        position = state.position + step_size * velocity(momentum)
        potential_energy, grad = potential_and_grad(potential_fn, position)
        momentum = momentum - half_step * grad
        return IntegratorState(position, momentum, potential_energy, grad)

    return step
