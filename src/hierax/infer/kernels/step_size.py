"""Step-size adaptation: Nesterov dual averaging and the initial step-size heuristic.

References:
    Nesterov, Y. (2009). Primal-dual subgradient methods for convex problems.
    Mathematical Programming 120(1).
    Hoffman, M. D. & Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15 (Algorithms 4
    and 5, section 3.2).
    Stan Development Team. Stan reference manual, "HMC algorithm parameters".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .hmc import HMCState, as_dtype_of
from .integrators import IntegratorState, velocity_verlet
from .metrics import gaussian_euclidean

__all__ = [
    "DualAveragingState",
    "dual_averaging_final",
    "dual_averaging_init",
    "dual_averaging_update",
    "find_reasonable_step_size",
]


class DualAveragingState(NamedTuple):
    """State of dual averaging on ``x = log(step_size)`` (all scalars).

    Attributes:
        log_step_size: current iterate ``x_t`` (the step size used next is ``exp(x_t)``).
        log_step_size_avg: weighted average ``xbar_t``; ``exp(xbar_t)`` is the final step size.
        step: number of updates ``t`` so far.
        avg_error: running average ``Hbar_t`` of ``target - acceptance``.
        mu: shrinkage point, ``log(10 * initial_step_size)``.
    """

    log_step_size: jax.Array
    log_step_size_avg: jax.Array
    step: jax.Array
    avg_error: jax.Array
    mu: jax.Array


def dual_averaging_init(initial_step_size) -> DualAveragingState:
    """Start dual averaging at ``initial_step_size`` with ``mu = log(10 * step_size)``."""
    step_size = jnp.asarray(initial_step_size)
    if not jnp.issubdtype(step_size.dtype, jnp.floating):
        step_size = step_size.astype(float)
    log_step_size = jnp.log(step_size)
    zero = jnp.zeros_like(log_step_size)
    return DualAveragingState(log_step_size, zero, zero, zero, jnp.log(10.0 * step_size))


def dual_averaging_update(
    state: DualAveragingState,
    acceptance_rate,
    target_accept=0.8,
    gamma=0.05,
    t0=10.0,
    kappa=0.75,
) -> DualAveragingState:
    """One dual-averaging update from an observed acceptance statistic.

    With ``t`` the new update count and ``a`` the acceptance statistic (clipped to
    ``[0, 1]``, NaN read as 0), following Hoffman & Gelman (2014, eq. 6) with Stan's
    defaults ``gamma = 0.05, t0 = 10, kappa = 0.75``::

        Hbar_t = (1 - 1/(t + t0)) Hbar_{t-1} + (target - a) / (t + t0)
        x_t    = mu - sqrt(t) / gamma * Hbar_t
        xbar_t = t^{-kappa} x_t + (1 - t^{-kappa}) xbar_{t-1}
    """
    dtype = state.log_step_size.dtype
    accept = jnp.asarray(acceptance_rate, dtype)
    accept = jnp.clip(jnp.where(jnp.isnan(accept), 0.0, accept), 0.0, 1.0)
    step = state.step + 1
    eta = 1.0 / (step + t0)
    avg_error = (1.0 - eta) * state.avg_error + eta * (target_accept - accept)
    log_step_size = state.mu - jnp.sqrt(step) / gamma * avg_error
    weight = step ** (-kappa)
    log_step_size_avg = weight * log_step_size + (1.0 - weight) * state.log_step_size_avg
    return DualAveragingState(log_step_size.astype(dtype), log_step_size_avg.astype(dtype),
                              step, avg_error.astype(dtype), state.mu)


def dual_averaging_final(state: DualAveragingState):
    """The adapted step size ``exp(xbar_t)`` to use after warmup.

    Before any update (``t = 0``) the average is undefined and the current step size
    ``exp(x_0)`` is returned.
    """
    log_step_size = jnp.where(state.step > 0, state.log_step_size_avg, state.log_step_size)
    return jnp.exp(log_step_size)


def _one_step_log_accept(rng_key, state: HMCState, potential_fn, metric, step_size):
    """``H0 - H`` after one leapfrog step from a fresh momentum (NaN read as ``-inf``)."""
    momentum = metric.sample_momentum(rng_key, state.position)
    start = IntegratorState(state.position, momentum, state.potential_energy,
                            state.potential_energy_grad)
    end = velocity_verlet(potential_fn, metric)(start, step_size)
    initial_energy = state.potential_energy + metric.kinetic_energy(momentum)
    energy = end.potential_energy + metric.kinetic_energy(end.momentum)
    log_accept = initial_energy - energy
    return jnp.where(jnp.isnan(log_accept), -jnp.inf, log_accept)


def find_reasonable_step_size(
    rng_key,
    state: HMCState,
    potential_fn: Callable,
    inverse_mass_matrix,
    initial_step_size,
    target_accept=0.8,
    max_num_iterations: int = 50,
    max_step_size=1e7,
):
    """Double or halve the step size until one leapfrog step crosses an acceptance of 0.8.

    Stan's variant of Hoffman & Gelman (2014, Algorithm 4): the first trial at
    ``initial_step_size`` fixes the direction (up if ``H0 - H > log 0.8``, down
    otherwise); each later trial draws a fresh momentum and the search stops at the
    first step size whose trial is on the other side of ``log 0.8``. The loop is a
    ``lax.while_loop`` bounded by ``max_num_iterations`` trials and by ``max_step_size``,
    so it is jit- and vmap-compatible.

    Args:
        rng_key: a ``jax.random`` key.
        state: :class:`~.hmc.HMCState` at which to probe.
        potential_fn: ``(d,) -> scalar`` negative log density.
        inverse_mass_matrix: ``(d,)`` or ``(d, d)``.
        initial_step_size: starting scalar step size.
        target_accept: one-step acceptance probability that the search brackets (Stan: 0.8).
        max_num_iterations: cap on the number of trials.
        max_step_size: the search stops once the step size exceeds this.

    Returns:
        Scalar step size in the dtype of ``state.position``.
    """
    position = state.position
    target_log_accept = math.log(target_accept)
    metric = gaussian_euclidean(as_dtype_of(inverse_mass_matrix, position))
    step_size = as_dtype_of(initial_step_size, position)
    first = _one_step_log_accept(jax.random.fold_in(rng_key, 0), state, potential_fn, metric,
                                 step_size)
    going_up = first > target_log_accept
    factor = jnp.where(going_up, 2.0, 0.5).astype(step_size.dtype)

    def keep_searching(carry):
        step_size, iteration, done = carry
        in_range = (step_size <= max_step_size) & (step_size > 0)
        return ~done & (iteration < max_num_iterations) & in_range

    def trial(carry):
        step_size, iteration, _ = carry
        log_accept = _one_step_log_accept(jax.random.fold_in(rng_key, iteration), state,
                                          potential_fn, metric, step_size)
        crossed = jnp.where(going_up, ~(log_accept > target_log_accept),
                            ~(log_accept < target_log_accept))
        return jnp.where(crossed, step_size, step_size * factor), iteration + 1, crossed

    step_size, _, _ = jax.lax.while_loop(
        keep_searching, trial, (step_size, jnp.ones((), jnp.int32), jnp.zeros((), bool)))
    return step_size
