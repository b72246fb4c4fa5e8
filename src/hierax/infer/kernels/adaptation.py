"""Stan-style window adaptation of the step size and mass matrix, and scanned loops.

Warmup follows Stan: dual averaging of the step size on every iteration; during the
slow windows of :func:`build_schedule` the positions feed a Welford (co)variance
estimate; at the end of each slow window the inverse mass matrix becomes the
regularized estimate, the estimator restarts, the step size is re-initialized with
:func:`find_reasonable_step_size` and dual averaging restarts with
``mu = log(10 * step_size)``. After warmup the step size is the averaged iterate
``exp(xbar)``.

The whole warmup is one ``lax.scan``; everything is pure, so a driver can ``vmap`` it
over chains.

References:
    Hoffman, M. D. & Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15.
    Stan Development Team. Stan reference manual, "HMC algorithm parameters".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .hmc import HMCState, hmc_step, init
from .mass_matrix import (
    WelfordState,
    welford_covariance,
    welford_init,
    welford_update,
)
from .nuts import nuts_step
from .schedule import WarmupSchedule, build_schedule
from .step_size import (
    DualAveragingState,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
)

__all__ = [
    "AdaptationState",
    "DualAveragingState",
    "WarmupSchedule",
    "WelfordState",
    "WindowAdaptation",
    "build_schedule",
    "dual_averaging_final",
    "dual_averaging_init",
    "dual_averaging_update",
    "find_reasonable_step_size",
    "make_kernel",
    "run_sampling",
    "run_warmup",
    "welford_covariance",
    "welford_init",
    "welford_update",
    "window_adaptation",
]

MAX_HMC_STEPS_FROM_LENGTH = 1024
"""Cap on ``ceil(trajectory_length / step_size)`` for HMC with a trajectory length."""


class AdaptationState(NamedTuple):
    """Warmup state carried across iterations.

    Attributes:
        step_size: scalar step size for the next transition.
        inverse_mass_matrix: ``(d,)`` or ``(d, d)`` current inverse mass matrix.
        dual_averaging: :class:`DualAveragingState`.
        welford: :class:`WelfordState` of the current slow window.
    """

    step_size: jax.Array
    inverse_mass_matrix: jax.Array
    dual_averaging: DualAveragingState
    welford: WelfordState


class WindowAdaptation(NamedTuple):
    """Pure functions of a configured warmup.

    Attributes:
        init: ``(rng_key, hmc_state, potential_fn) -> AdaptationState``.
        update: ``(rng_key, adaptation_state, hmc_state, potential_fn, info, iteration)
            -> AdaptationState``; ``iteration`` is the 0-based warmup index.
        final: ``adaptation_state -> (step_size, inverse_mass_matrix)`` for sampling.
        kernel: ``(rng_key, hmc_state, potential_fn, step_size, inverse_mass_matrix)
            -> (hmc_state, info)``, the configured transition.
        schedule: the static :class:`WarmupSchedule`.
    """

    init: Callable
    update: Callable
    final: Callable
    kernel: Callable
    schedule: WarmupSchedule


def make_kernel(kernel: str = "nuts", *, max_tree_depth: int = 10,
                num_integration_steps=None, trajectory_length=None,
                max_delta_energy=1000.0) -> Callable:
    """The transition ``(rng_key, state, potential_fn, step_size, inverse_mass_matrix)``.

    For ``kernel="hmc"`` exactly one of ``num_integration_steps`` or
    ``trajectory_length`` must be given; a trajectory length uses
    ``ceil(trajectory_length / step_size)`` steps, clipped to
    ``[1, MAX_HMC_STEPS_FROM_LENGTH]``.

    Raises:
        ValueError: for an unknown kernel name or inconsistent HMC lengths.
    """
    if kernel == "nuts":
        def nuts_kernel(rng_key, state, potential_fn, step_size, inverse_mass_matrix):
            return nuts_step(rng_key, state, potential_fn, step_size, inverse_mass_matrix,
                             max_tree_depth=max_tree_depth, max_delta_energy=max_delta_energy)
        return nuts_kernel
    if kernel != "hmc":
        raise ValueError(f"kernel must be 'nuts' or 'hmc', got {kernel!r}")
    if (num_integration_steps is None) == (trajectory_length is None):
        raise ValueError(
            "kernel='hmc' needs exactly one of num_integration_steps or trajectory_length, "
            f"got num_integration_steps={num_integration_steps!r}, "
            f"trajectory_length={trajectory_length!r}"
        )

    def hmc_kernel(rng_key, state, potential_fn, step_size, inverse_mass_matrix):
        num_steps = num_integration_steps
        if num_steps is None:
            num_steps = jnp.ceil(trajectory_length / step_size).astype(jnp.int32)
            num_steps = jnp.clip(num_steps, 1, MAX_HMC_STEPS_FROM_LENGTH)
        return hmc_step(rng_key, state, potential_fn, step_size, inverse_mass_matrix,
                        num_steps, max_delta_energy=max_delta_energy)

    return hmc_kernel


def _initial_inverse_mass_matrix(position, dense, initial_inverse_mass_matrix):
    size, dtype = position.shape[0], position.dtype
    if initial_inverse_mass_matrix is None:
        return jnp.eye(size, dtype=dtype) if dense else jnp.ones(size, dtype)
    matrix = jnp.asarray(initial_inverse_mass_matrix, dtype)
    expected = (size, size) if dense else (size,)
    if matrix.shape != expected:
        raise ValueError(
            f"window_adaptation: initial_inverse_mass_matrix must have shape {expected} "
            f"(dense={dense}), got {matrix.shape}"
        )
    return matrix


def window_adaptation(
    kernel: str = "nuts",
    num_warmup: int = 1000,
    dense: bool = False,
    target_accept=0.8,
    initial_step_size=1.0,
    *,
    max_tree_depth: int = 10,
    num_integration_steps=None,
    trajectory_length=None,
    max_delta_energy=1000.0,
    adapt_step_size: bool = True,
    adapt_mass_matrix: bool = True,
    find_heuristic_step_size: bool = True,
    initial_inverse_mass_matrix=None,
    init_buffer: int = 75,
    term_buffer: int = 50,
    base_window: int = 25,
    gamma=0.05,
    t0=10.0,
    kappa=0.75,
) -> WindowAdaptation:
    """Configure Stan's windowed warmup for the NUTS or HMC kernel.

    Args:
        kernel: ``"nuts"`` or ``"hmc"`` (see :func:`make_kernel` for HMC lengths).
        num_warmup: number of warmup iterations (sets the schedule).
        dense: estimate a dense ``(d, d)`` inverse mass matrix instead of a diagonal.
        target_accept: dual-averaging target of the acceptance statistic.
        initial_step_size: starting step size (refined by the heuristic when
            ``find_heuristic_step_size``).
        adapt_step_size, adapt_mass_matrix: switch each adaptation off.
        initial_inverse_mass_matrix: starting ``M^{-1}`` (default identity).
        init_buffer, term_buffer, base_window: Stan's schedule sizes.
        gamma, t0, kappa: dual-averaging constants (Stan's defaults).

    Returns:
        A :class:`WindowAdaptation`.
    """
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"window_adaptation: target_accept must be in (0, 1), got "
                         f"{target_accept!r}")
    step = make_kernel(kernel, max_tree_depth=max_tree_depth,
                       num_integration_steps=num_integration_steps,
                       trajectory_length=trajectory_length, max_delta_energy=max_delta_energy)
    schedule = build_schedule(num_warmup, init_buffer, term_buffer, base_window)
    heuristic = adapt_step_size and find_heuristic_step_size

    def restart_step_size(rng_key, state, potential_fn, step_size, inverse_mass_matrix):
        if heuristic:
            step_size = find_reasonable_step_size(rng_key, state, potential_fn,
                                                  inverse_mass_matrix, step_size)
        return step_size, dual_averaging_init(step_size)

    def init_fn(rng_key, state: HMCState, potential_fn) -> AdaptationState:
        position = state.position
        inverse_mass_matrix = _initial_inverse_mass_matrix(position, dense,
                                                           initial_inverse_mass_matrix)
        step_size = jnp.asarray(initial_step_size, position.dtype)
        step_size, averaging = restart_step_size(rng_key, state, potential_fn, step_size,
                                                 inverse_mass_matrix)
        return AdaptationState(step_size, inverse_mass_matrix, averaging,
                               welford_init(position, dense))

    def close_window(rng_key, adaptation_state, state, potential_fn):
        welford = adaptation_state.welford
        inverse_mass_matrix = welford_covariance(welford)
        step_size, averaging = restart_step_size(rng_key, state, potential_fn,
                                                 adaptation_state.step_size,
                                                 inverse_mass_matrix)
        if not adapt_step_size:
            averaging = adaptation_state.dual_averaging
        return AdaptationState(step_size, inverse_mass_matrix, averaging,
                               welford_init(state.position, dense))

    slow = jnp.asarray(schedule.slow if num_warmup else [False])
    window_end = jnp.asarray(schedule.window_end if num_warmup else [False])

    def update_fn(rng_key, adaptation_state, state, potential_fn, info, iteration):
        step_size, averaging, welford = (adaptation_state.step_size,
                                         adaptation_state.dual_averaging,
                                         adaptation_state.welford)
        if adapt_step_size:
            averaging = dual_averaging_update(averaging, info.acceptance_rate, target_accept,
                                              gamma, t0, kappa)
            step_size = jnp.exp(averaging.log_step_size)
        adaptation_state = AdaptationState(step_size, adaptation_state.inverse_mass_matrix,
                                           averaging, welford)
        if not adapt_mass_matrix:
            return adaptation_state
        updated = welford_update(welford, state.position)
        welford = jax.tree.map(lambda new, old: jnp.where(slow[iteration], new, old),
                               updated, welford)
        adaptation_state = adaptation_state._replace(welford=welford)
        return jax.lax.cond(
            window_end[iteration],
            lambda s: close_window(rng_key, s, state, potential_fn),
            lambda s: s,
            adaptation_state,
        )

    def final_fn(adaptation_state):
        step_size = adaptation_state.step_size
        if adapt_step_size:
            step_size = dual_averaging_final(adaptation_state.dual_averaging)
        return step_size, adaptation_state.inverse_mass_matrix

    return WindowAdaptation(init_fn, update_fn, final_fn, step, schedule)


def run_warmup(
    rng_key,
    position,
    potential_fn: Callable,
    num_warmup: int,
    *,
    kernel: str = "nuts",
    dense: bool = False,
    target_accept=0.8,
    max_tree_depth: int = 10,
    num_integration_steps=None,
    trajectory_length=None,
    adapt_step_size: bool = True,
    adapt_mass_matrix: bool = True,
    initial_step_size=1.0,
    find_heuristic_step_size: bool = True,
    **adaptation_options,
):
    """Run the whole warmup of one chain as a single ``lax.scan``.

    Args:
        rng_key: a ``jax.random`` key.
        position: ``(d,)`` initial flat position.
        potential_fn: ``(d,) -> scalar`` negative log density.
        num_warmup: number of warmup iterations.
        **adaptation_options: further keywords of :func:`window_adaptation`
            (``max_delta_energy``, ``initial_inverse_mass_matrix``, schedule sizes, ...).

    Returns:
        ``(state, step_size, inverse_mass_matrix, infos)``: the last
        :class:`~.hmc.HMCState`, the adapted step size and inverse mass matrix, and the
        per-iteration infos stacked along a leading ``num_warmup`` axis.
    """
    adaptation = window_adaptation(
        kernel, num_warmup, dense, target_accept, initial_step_size,
        max_tree_depth=max_tree_depth, num_integration_steps=num_integration_steps,
        trajectory_length=trajectory_length, adapt_step_size=adapt_step_size,
        adapt_mass_matrix=adapt_mass_matrix, find_heuristic_step_size=find_heuristic_step_size,
        **adaptation_options,
    )
    state = init(position, potential_fn)
    key_init, key_loop = jax.random.split(rng_key)
    adaptation_state = adaptation.init(key_init, state, potential_fn)

    def one_iteration(carry, inputs):
        state, adaptation_state = carry
        key, iteration = inputs
        key_kernel, key_adapt = jax.random.split(key)
        state, info = adaptation.kernel(key_kernel, state, potential_fn,
                                        adaptation_state.step_size,
                                        adaptation_state.inverse_mass_matrix)
        adaptation_state = adaptation.update(key_adapt, adaptation_state, state, potential_fn,
                                             info, iteration)
        return (state, adaptation_state), info

    inputs = (jax.random.split(key_loop, num_warmup), jnp.arange(num_warmup))
    (state, adaptation_state), infos = jax.lax.scan(one_iteration, (state, adaptation_state),
                                                    inputs)
    step_size, inverse_mass_matrix = adaptation.final(adaptation_state)
    return state, step_size, inverse_mass_matrix, infos


def run_sampling(
    rng_key,
    state: HMCState,
    potential_fn: Callable,
    num_samples: int,
    step_size,
    inverse_mass_matrix,
    *,
    kernel: str = "nuts",
    max_tree_depth: int = 10,
    num_integration_steps=None,
    trajectory_length=None,
    max_delta_energy=1000.0,
):
    """Draw ``num_samples`` transitions with fixed parameters in one ``lax.scan``.

    Returns:
        ``(positions, infos)``: positions of shape ``(num_samples, d)`` and the infos
        stacked along a leading ``num_samples`` axis.
    """
    step = make_kernel(kernel, max_tree_depth=max_tree_depth,
                       num_integration_steps=num_integration_steps,
                       trajectory_length=trajectory_length, max_delta_energy=max_delta_energy)

    def one_draw(state, key):
        state, info = step(key, state, potential_fn, step_size, inverse_mass_matrix)
        return state, (state.position, info)

    _, (positions, infos) = jax.lax.scan(one_draw, state, jax.random.split(rng_key, num_samples))
    return positions, infos
