"""The short hierax NUTS warmup that tunes flowMC's local sampler and seeds its chains.

A few chains of Stan-style NUTS warmup (see :mod:`hierax.infer.hmc`) give,
per chain, a step size ``eps_c`` and an inverse mass matrix ``C_c``. flowMC's
chains share one local kernel, so the chains are pooled:

- step size: the geometric mean of ``eps_c``;
- inverse mass matrix: the mean of ``C_c`` (each estimates the posterior
  covariance, diagonal or dense);
- leapfrog steps (for flowMC's HMC kernel): the median number of leapfrog
  steps NUTS took after warmup, i.e. NUTS' typical trajectory length;
- starting points: after warmup each NUTS chain takes
  ``ceil(n_chains / warmup_chains)`` more transitions with the adapted
  settings, and these post-warmup draws start flowMC's chains, so flowMC
  starts in the typical set rather than at the prior.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["LocalTuning", "nuts_local_tuning"]


class LocalTuning(NamedTuple):
    """What the NUTS warmup hands to flowMC.

    Attributes:
        step_size: pooled NUTS step size (Python float).
        inverse_mass_matrix: ``(d,)`` diagonal or ``(d, d)`` dense, NumPy.
        n_leapfrog: median NUTS leapfrog steps per post-warmup transition.
        starts: ``(num_starts, d)`` unconstrained post-warmup draws, NumPy.
        num_divergences: divergent post-warmup transitions among those draws.
    """

    step_size: float
    inverse_mass_matrix: Any
    n_leapfrog: int
    starts: Any
    num_divergences: int


def _post_warmup_sampler(nuts, program, num_draws):
    """Compiled ``(keys, kernel_states, dynamic) -> (positions, num_steps, diverging)``.

    Each chain takes ``num_draws`` NUTS transitions from its post-warmup state;
    outputs are ``(chains, draws, ...)``.
    """

    def one_chain(chain_key, state, dynamic):
        def body(state, step_key):
            state, info = nuts.step(step_key, state, program, dynamic)
            return state, (nuts.position(state), info.num_integration_steps,
                           info.is_divergent)

        return jax.lax.scan(body, state, jax.random.split(chain_key, num_draws))[1]

    return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None)))


def nuts_local_tuning(model, program, dynamic, rng_key, model_args, model_kwargs, *, num_warmup,
                      num_chains, num_starts, dense_mass, target_accept_prob, max_tree_depth,
                      init_strategy, progress_bar, cache, run_warmup=None) -> LocalTuning:
    """Run the NUTS warmup of ``model`` and pool what flowMC's local sampler needs.

    Args:
        model: the model.
        program: the :class:`~hierax.infer.program.ModelProgram` of ``model``
            with these arguments' shapes (same flat layout as the warmup's).
        dynamic: the array arguments of this run (``split_arguments(...).dynamic``).
        rng_key: a raw ``jax.random`` key.
        model_args, model_kwargs: the model's arguments.
        num_warmup: NUTS warmup iterations per chain.
        num_chains: NUTS chains.
        num_starts: how many starting points flowMC needs (its ``n_chains``).
        dense_mass, target_accept_prob, max_tree_depth, init_strategy: as in
            :class:`~hierax.infer.NUTS`.
        progress_bar: show the warmup's progress bar.
        cache: dict kept by the caller across runs with the same ``program``
            layout: the compiled warmup and draws are reused from it.
        run_warmup: ``run_warmup(mcmc, key, model_args, model_kwargs)`` runs the
            warmup of the NUTS ``mcmc`` and leaves its end in
            ``mcmc.post_warmup_state`` (as ``mcmc.warmup`` does, the default);
            :mod:`hierax.infer.flowmc_checkpoint` passes a checkpointed one.
    """
    from hierax.infer.hmc import NUTS
    from hierax.infer.mcmc import MCMC

    per_chain = math.ceil(num_starts / num_chains)
    cache_key = ("nuts", num_warmup, num_chains, per_chain, dense_mass, target_accept_prob,
                 max_tree_depth, progress_bar)
    if cache_key not in cache:
        nuts = NUTS(model, dense_mass=dense_mass, target_accept_prob=target_accept_prob,
                    max_tree_depth=max_tree_depth, init_strategy=init_strategy)
        method = "vectorized" if num_chains > 1 else "sequential"
        mcmc = MCMC(nuts, num_warmup=num_warmup, num_samples=1, num_chains=num_chains,
                    chain_method=method, progress_bar=progress_bar)
        cache[cache_key] = (mcmc, _post_warmup_sampler(nuts, program, per_chain))
    mcmc, draw = cache[cache_key]
    warmup_key, draws_key = jax.random.split(rng_key)
    mcmc.post_warmup_state = None
    if run_warmup is None:
        mcmc.warmup(warmup_key, *model_args, **model_kwargs)
    else:
        run_warmup(mcmc, warmup_key, model_args, model_kwargs)
    kernel_state = mcmc.post_warmup_state.kernel_state
    positions, steps, diverging = (np.asarray(x) for x in draw(
        jax.random.split(draws_key, num_chains), kernel_state, dynamic))
    # Draw-major order: consecutive flowMC chains start from different NUTS chains.
    starts = np.swapaxes(positions, 0, 1).reshape(-1, positions.shape[-1])[:num_starts]
    step_sizes = np.asarray(kernel_state.step_size, dtype=float)
    inverse_mass = np.mean(np.asarray(kernel_state.inverse_mass_matrix, dtype=float), axis=0)
    return LocalTuning(step_size=float(np.exp(np.mean(np.log(step_sizes)))),
                       inverse_mass_matrix=inverse_mass,
                       n_leapfrog=int(max(1, np.median(steps))),
                       starts=starts, num_divergences=int(np.sum(diverging)))
