"""The ``HMC`` and ``NUTS`` kernels: a model (or potential) plus Stan-style warmup.

These classes hold the settings (NumPyro's arguments) and expose pure
functions over a :class:`HMCKernelState`; the :class:`~hierax.infer.MCMC`
driver runs them. The transition itself is in :mod:`hierax.infer.kernels`.

Warmup follows Stan (Carpenter et al. 2017; Stan Reference Manual, "HMC
algorithm parameters"):

1. a heuristic initial step size (Hoffman & Gelman 2014, Alg. 4);
2. dual averaging of ``log(step_size)`` toward ``target_accept_prob``
   (Nesterov 2009; Hoffman & Gelman 2014, eq. 6) at every warmup iteration;
3. windowed estimation of the inverse mass matrix: an initial fast buffer,
   slow windows of doubling length whose draws feed a Welford (co)variance
   estimate regularised as ``n/(n+5) * cov + 1e-3 * 5/(n+5) * I``, and a
   terminal fast buffer; after each slow window the metric is replaced, the
   step-size heuristic is rerun and dual averaging restarts;
4. the final step size is the averaged iterate ``exp(mean log step size)``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.infer.initialization import init_to_uniform
from hierax.infer.kernels.adaptation import MAX_HMC_STEPS_FROM_LENGTH
from hierax.infer.kernels.hmc import HMCState, hmc_step
from hierax.infer.kernels.hmc import init as hmc_init
from hierax.infer.kernels.mass_matrix import welford_covariance, welford_init, welford_update
from hierax.infer.kernels.nuts import nuts_step
from hierax.infer.kernels.schedule import build_schedule
from hierax.infer.kernels.step_size import (
    DualAveragingState,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
)
from hierax.infer.program import build_kernel_program

__all__ = ["HMC", "NUTS", "HMCKernelState"]


class HMCKernelState(NamedTuple):
    """State of one chain of HMC/NUTS, warmup included.

    Attributes:
        hmc: position with its potential and gradient.
        step_size: the current step size (scalar).
        inverse_mass_matrix: ``(d,)`` diagonal or ``(d, d)`` dense.
        dual_averaging: step-size adaptation state.
        welford: running (co)variance of the current slow window.
    """

    hmc: HMCState
    step_size: Any
    inverse_mass_matrix: Any
    dual_averaging: DualAveragingState
    welford: Any


@functools.lru_cache(maxsize=32)
def _schedule(num_warmup: int):
    return build_schedule(num_warmup)


class HMC:
    """Hamiltonian Monte Carlo with a fixed trajectory length (NumPyro's ``HMC``).

    Args:
        model: the model; or give ``potential_fn`` instead.
        potential_fn: a negative log density over a pytree of parameters
            (then ``MCMC.run`` needs ``init_params``).
        step_size: initial step size.
        inverse_mass_matrix: initial inverse mass matrix, ``(d,)`` or ``(d, d)``.
        adapt_step_size: adapt the step size during warmup.
        adapt_mass_matrix: adapt the mass matrix during warmup.
        dense_mass: ``False`` (diagonal), ``True`` (dense), or a list of
            tuples of site names, each a block with a dense mass matrix.
        target_accept_prob: dual-averaging target.
        num_steps: leapfrog steps per transition (overrides ``trajectory_length``).
        trajectory_length: ``num_steps = ceil(trajectory_length / step_size)``, at
            most ``MAX_HMC_STEPS_FROM_LENGTH`` (1024).
        init_strategy: where chains start (default :func:`init_to_uniform`).
        find_heuristic_step_size: run the step-size heuristic even without adaptation.
        forward_mode_differentiation: accepted for compatibility (reverse mode is used).
        regularize_mass_matrix: apply Stan's shrinkage to the estimated metric.
    """

    def __init__(self, model=None, potential_fn=None, kinetic_fn=None, step_size=1.0,
                 inverse_mass_matrix=None, adapt_step_size=True, adapt_mass_matrix=True,
                 dense_mass=False, target_accept_prob=0.8, num_steps=None,
                 trajectory_length=2 * math.pi, init_strategy=init_to_uniform,
                 find_heuristic_step_size=False, forward_mode_differentiation=False,
                 regularize_mass_matrix=True):
        if (model is None) == (potential_fn is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of model= and "
                             "potential_fn=.")
        if kinetic_fn is not None:
            raise NotImplementedError("a custom kinetic_fn is not supported; hierax uses a "
                                      "Gaussian kinetic energy with an adapted mass matrix.")
        if not (0.0 < float(target_accept_prob) < 1.0):
            raise ValueError(f"{type(self).__name__}: target_accept_prob must be in (0, 1), "
                             f"got {target_accept_prob}.")
        if not float(step_size) > 0:
            raise ValueError(f"{type(self).__name__}: step_size must be positive, got "
                             f"{step_size}.")
        if num_steps is not None and (int(num_steps) != num_steps or num_steps < 1):
            raise ValueError(f"HMC: num_steps must be a positive int, got {num_steps!r}.")
        self.model = model
        self.potential_fn = potential_fn
        self.initial_step_size = float(step_size)
        self.initial_inverse_mass_matrix = inverse_mass_matrix
        self.adapt_step_size = bool(adapt_step_size)
        self.adapt_mass_matrix = bool(adapt_mass_matrix)
        self.dense_mass = dense_mass
        self.target_accept_prob = float(target_accept_prob)
        self.num_steps = None if num_steps is None else int(num_steps)
        self.trajectory_length = trajectory_length
        self.init_strategy = init_strategy
        self.find_heuristic_step_size = bool(find_heuristic_step_size)
        self.regularize_mass_matrix = bool(regularize_mass_matrix)

    # -- what the driver calls --------------------------------------------------

    def build_program(self, rng_key, model_args, model_kwargs, init_params, num_chains=1,
                      jit_model_args=None):
        """The model (or potential) as functions of a flat position."""
        program = build_kernel_program(self, rng_key, model_args, model_kwargs, init_params,
                                       num_chains, jit_model_args)
        if self.model is not None:
            self._dense_mask(program)  # checks the dense_mass site groups early
        return program

    def _potential(self, program, dynamic):
        return lambda z: program.potential(z, dynamic)

    def _uses_dense(self):
        return self.dense_mass is True or isinstance(self.dense_mass, (list, tuple))

    def _initial_inverse_mass_matrix(self, program, dtype):
        d = program.dimension
        given = self.initial_inverse_mass_matrix
        if given is not None:
            given = jnp.asarray(given, dtype)
            expected = (d, d) if self._uses_dense() else (d,)
            if given.shape != expected and given.shape not in ((d,), (d, d)):
                raise ValueError(f"inverse_mass_matrix has shape {given.shape}; the model has "
                                 f"{d} unconstrained dimensions, so expected {expected}.")
            if self._uses_dense() and given.ndim == 1:
                given = jnp.diag(given)
            return given
        return jnp.eye(d, dtype=dtype) if self._uses_dense() else jnp.ones(d, dtype)

    def _dense_mask(self, program):
        """Boolean ``(d, d)`` mask of the entries a block-dense metric may use."""
        d = program.dimension
        if self.dense_mass is True or not isinstance(self.dense_mass, (list, tuple)):
            return None
        index = program.flat_indices()
        mask = np.eye(d, dtype=bool)
        for group in self.dense_mass:
            group = (group,) if isinstance(group, str) else tuple(group)
            unknown = set(group) - set(index)
            if unknown:
                raise ValueError(f"dense_mass names unknown latent sites {sorted(unknown)}; "
                                 f"the latent sites are {sorted(index)}.")
            members = np.concatenate([np.ravel(index[n]) for n in group])
            mask[np.ix_(members, members)] = True
        return jnp.asarray(mask)

    def init_state(self, position, program, dynamic, num_warmup):
        """The initial :class:`HMCKernelState` at ``position`` (pure; jit-able)."""
        hmc = hmc_init(position, self._potential(program, dynamic))
        inverse_mass_matrix = self._initial_inverse_mass_matrix(program, position.dtype)
        step_size = jnp.asarray(self.initial_step_size, position.dtype)
        return HMCKernelState(hmc, step_size, inverse_mass_matrix,
                              dual_averaging_init(step_size),
                              welford_init(position, dense=self._uses_dense()))

    def _transition(self, key, state, potential):
        """One transition at the state's step size and metric: ``(hmc_state, info)``."""
        num_steps = self.num_steps
        if num_steps is None:
            num_steps = jnp.clip(jnp.ceil(self.trajectory_length / state.step_size),
                                 1, MAX_HMC_STEPS_FROM_LENGTH).astype(jnp.int32)
        return hmc_step(key, state.hmc, potential, state.step_size,
                        state.inverse_mass_matrix, num_steps)

    def step(self, key, state, program, dynamic):
        """One transition with the state's step size and metric."""
        hmc, info = self._transition(key, state, self._potential(program, dynamic))
        return state._replace(hmc=hmc), info

    def _searches_step_size(self, num_warmup):
        return (self.adapt_step_size and num_warmup > 0) or self.find_heuristic_step_size

    def warmup_before(self, key, state, iteration, num_warmup, program, dynamic):
        """Before warmup transition ``iteration``: the step-size heuristic where Stan runs it.

        That is before the first transition and right after each new metric;
        dual averaging then restarts from the step size found.
        """
        if not self._searches_step_size(num_warmup):
            return state
        schedule = _schedule(num_warmup)
        after_window = np.concatenate([[True], schedule.window_end[:-1]]) \
            if self.adapt_mass_matrix else np.arange(num_warmup) == 0
        search = jnp.asarray(after_window)[iteration]
        potential = self._potential(program, dynamic)

        def find(state):
            step_size = find_reasonable_step_size(key, state.hmc, potential,
                                                  state.inverse_mass_matrix, state.step_size)
            return state._replace(step_size=step_size,
                                  dual_averaging=dual_averaging_init(step_size))

        return jax.lax.cond(search, find, lambda s: s, state)

    def warmup_after(self, key, state, info, iteration, num_warmup, program, dynamic):
        """After warmup transition ``iteration``: dual averaging and the metric windows."""
        schedule = _schedule(num_warmup)
        if self.adapt_step_size:
            averaging = dual_averaging_update(state.dual_averaging, info.acceptance_rate,
                                              self.target_accept_prob)
            state = state._replace(dual_averaging=averaging,
                                   step_size=jnp.exp(averaging.log_step_size))
        if self.adapt_mass_matrix and len(schedule.windows):
            state = self._adapt_metric(state, schedule, iteration, program)
        if self.adapt_step_size:
            is_last = iteration == num_warmup - 1
            final = dual_averaging_final(state.dual_averaging).astype(state.step_size.dtype)
            state = state._replace(step_size=jnp.where(is_last, final, state.step_size))
        return state

    def _adapt_metric(self, state, schedule, iteration, program):
        slow = jnp.asarray(schedule.slow)[iteration]
        window_end = jnp.asarray(schedule.window_end)[iteration]
        welford = jax.lax.cond(slow, lambda w: welford_update(w, state.hmc.position),
                               lambda w: w, state.welford)
        state = state._replace(welford=welford)
        mask = self._dense_mask(program)

        def close_window(state):
            estimate = welford_covariance(state.welford, regularize=self.regularize_mass_matrix)
            if mask is not None:
                estimate = jnp.where(mask, estimate, 0.0)
            return state._replace(
                inverse_mass_matrix=estimate.astype(state.inverse_mass_matrix.dtype),
                welford=welford_init(state.hmc.position, dense=self._uses_dense()))

        return jax.lax.cond(window_end, close_window, lambda s: s, state)

    @staticmethod
    def position(state):
        return state.hmc.position

    @staticmethod
    def step_size(state):
        return state.step_size

    def info_layout(self, program):
        """dtype and per-draw shape of each recorded statistic."""
        float_dtype = program.dtype
        return {"diverging": (jnp.bool_, ()), "accept_prob": (float_dtype, ()),
                "num_steps": (jnp.int32, ()), "energy": (float_dtype, ()),
                "potential_energy": (float_dtype, ()), "step_size": (float_dtype, ())}

    def info_fields(self, info, state):
        """Per-draw statistics from a transition's info and the new state."""
        dtype = state.hmc.position.dtype
        return {"diverging": info.is_divergent,
                "accept_prob": info.acceptance_rate.astype(dtype),
                "num_steps": jnp.asarray(info.num_integration_steps, jnp.int32),
                "energy": info.energy.astype(dtype),
                "potential_energy": state.hmc.potential_energy.astype(dtype),
                "step_size": jnp.asarray(state.step_size, dtype)}


class NUTS(HMC):
    """The No-U-Turn Sampler (Hoffman & Gelman 2014) as in Stan (NumPyro's ``NUTS``).

    Multinomial sampling over the trajectory, the generalized no-U-turn
    criterion with checks across subtrees (Betancourt 2017), a maximum tree
    depth, and divergence when the energy error exceeds 1000. Arguments as
    :class:`HMC`, plus ``max_tree_depth`` (default 10: at most 1023 leapfrog
    steps per transition).
    """

    def __init__(self, model=None, potential_fn=None, kinetic_fn=None, step_size=1.0,
                 inverse_mass_matrix=None, adapt_step_size=True, adapt_mass_matrix=True,
                 dense_mass=False, target_accept_prob=0.8, trajectory_length=None,
                 max_tree_depth=10, init_strategy=init_to_uniform,
                 find_heuristic_step_size=False, forward_mode_differentiation=False,
                 regularize_mass_matrix=True):
        super().__init__(model=model, potential_fn=potential_fn, kinetic_fn=kinetic_fn,
                         step_size=step_size, inverse_mass_matrix=inverse_mass_matrix,
                         adapt_step_size=adapt_step_size, adapt_mass_matrix=adapt_mass_matrix,
                         dense_mass=dense_mass, target_accept_prob=target_accept_prob,
                         init_strategy=init_strategy,
                         find_heuristic_step_size=find_heuristic_step_size,
                         regularize_mass_matrix=regularize_mass_matrix)
        if isinstance(max_tree_depth, tuple):
            raise ValueError("NUTS: separate warmup/sampling tree depths are not supported; "
                             "give one int.")
        if int(max_tree_depth) != max_tree_depth or not 1 <= max_tree_depth <= 16:
            raise ValueError(f"NUTS: max_tree_depth must be an int in [1, 16], got "
                             f"{max_tree_depth!r}.")
        self.max_tree_depth = int(max_tree_depth)

    def _transition(self, key, state, potential):
        return nuts_step(key, state.hmc, potential, state.step_size, state.inverse_mass_matrix,
                         max_tree_depth=self.max_tree_depth)

    def info_layout(self, program):
        return {**super().info_layout(program), "tree_depth": (jnp.int32, ())}

    def info_fields(self, info, state):
        return {**super().info_fields(info, state),
                "tree_depth": jnp.asarray(info.tree_depth, jnp.int32)}
