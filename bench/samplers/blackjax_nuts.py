"""BlackJAX NUTS with Stan-style window adaptation, on hierax's log density.

The log density is the negative of hierax's potential over the flat unconstrained
vector (``ModelProgram.potential``), the start is the one hierax's ``ModelProgram``
finds with the model's init strategy, and draws are mapped back to constrained
values by ``ModelProgram.postprocess``. Each chain is adapted on its own
(``window_adaptation`` vmapped over chains) and the chains then sample vectorized.
"""

from __future__ import annotations

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.base import get_filter_adapt_info_fn

import hierax
import hierax.distributions as dist
import hierax.infer as infer
from bench.samplers.common import RunResult
from hierax.infer.program import ModelProgram


class BlackJAXRunner:
    def __init__(self, model_module, quick: bool):
        self.problem = problem = model_module.build(hierax, dist, infer, quick)
        strategy = problem.init_strategy or infer.init_to_uniform
        self.program = ModelProgram(problem.model, problem.args, problem.kwargs, strategy,
                                    jax.random.PRNGKey(0))
        self.dynamic = self.program.split.dynamic
        self._warmup = jax.jit(self._make_warmup())
        self._sample = jax.jit(self._make_sampling())
        self._postprocess = jax.jit(jax.vmap(self.program.postprocess, in_axes=(0, None)))
        self._last = None

    def _logdensity(self, dynamic):
        return lambda z: -self.program.potential(z, dynamic)

    def _make_warmup(self):
        settings = self.problem.settings

        def warmup(keys, positions, dynamic):
            adaptation = blackjax.window_adaptation(
                blackjax.nuts, self._logdensity(dynamic),
                is_mass_matrix_diagonal=not settings.dense_mass,
                target_acceptance_rate=settings.target_accept,
                adaptation_info_fn=get_filter_adapt_info_fn(
                    info_keys={"num_integration_steps"}),
                max_num_doublings=settings.max_tree_depth)

            def one_chain(key, position):
                (state, parameters), info = adaptation.run(key, position, settings.num_warmup)
                return state, parameters, jnp.sum(info.info.num_integration_steps)

            return jax.vmap(one_chain)(keys, positions)

        return warmup

    def _make_sampling(self):
        settings = self.problem.settings

        def sample(keys, states, parameters, dynamic):
            def one_chain(key, state, parameters):
                kernel = blackjax.nuts(self._logdensity(dynamic), **{
                    **parameters, "max_num_doublings": settings.max_tree_depth})

                def draw(state, step_key):
                    state, info = kernel.step(step_key, state)
                    return state, (state.position, info.num_integration_steps,
                                   info.is_divergent)

                return jax.lax.scan(draw, state, jax.random.split(key, settings.num_samples))

            return jax.vmap(one_chain)(keys, states, parameters)

        return sample

    def _sample_from(self, key, states, parameters) -> RunResult:
        chains = self.problem.settings.num_chains
        states, (positions, num_steps, divergent) = self._sample(
            jax.random.split(key, chains), states, parameters, self.dynamic)
        self._last = (states, parameters)
        flat = positions.reshape((-1, positions.shape[-1]))
        constrained = self._postprocess(flat, self.dynamic)
        draws = {name: np.asarray(constrained[name]).reshape(
            (chains, -1) + constrained[name].shape[1:]) for name in self.problem.latent_sites}
        return RunResult(draws, np.asarray(num_steps), int(np.sum(np.asarray(divergent))))

    def run(self, seed: int) -> RunResult:
        """Window adaptation and sampling from a fresh start."""
        key_warmup, key_sample = jax.random.split(jax.random.PRNGKey(seed))
        self._last = self._adapt(key_warmup)[:2]
        return self._sample_from(key_sample, *self._last)

    def _adapt(self, key):
        chains = self.problem.settings.num_chains
        key_init, key_warmup = jax.random.split(key)
        positions = self.program.initial_positions(key_init, chains, self.dynamic)
        return self._warmup(jax.random.split(key_warmup, chains), positions, self.dynamic)

    def warmup(self, seed: int) -> None:
        """Only the window adaptation, from a fresh start."""
        states, parameters, num_steps = self._adapt(jax.random.PRNGKey(seed))
        jax.block_until_ready(states)
        self._last = (states, parameters)
        self._warmup_gradients = {seed: int(np.sum(np.asarray(num_steps)))}

    def warmup_gradients(self, seed: int) -> int:
        """Gradient evaluations of ``warmup(seed)`` (recorded by the adaptation itself)."""
        return self._warmup_gradients[seed]

    def sample(self, seed: int) -> RunResult:
        """``num_samples`` draws from the end of :meth:`warmup`."""
        return self._sample_from(jax.random.PRNGKey(seed), *self._last)
