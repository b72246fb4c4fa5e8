"""The floor: leapfrog steps of a model's log density in one tight compiled loop.

For the floor ratio of a sampler, the same number of leapfrog steps it took while
sampling is run here with nothing else: chains batched as the samplers batch them
(``vmap``), each step a half kick, a drift through the metric (diagonal or dense, as
the sampler uses), one potential-and-gradient evaluation and a half kick, inside one
``lax.fori_loop``. The log density is hierax's potential of the model.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp

import hierax
import hierax.distributions as dist
import hierax.infer as infer
from hierax.infer.program import ModelProgram


def _leapfrog_loop(program, dense: bool):
    step_size = 1e-3  # small: the cost of a step does not depend on its size

    def chain(position, num_steps, dynamic):
        value_and_grad = jax.value_and_grad(lambda z: program.potential(z, dynamic))
        d = position.shape[0]
        inverse_mass = jnp.eye(d, dtype=position.dtype) if dense else jnp.ones(d, position.dtype)

        def step(_, carry):
            q, p, g, total = carry
            p = p - 0.5 * step_size * g
            q = q + step_size * (inverse_mass @ p if dense else inverse_mass * p)
            u, g = value_and_grad(q)
            return q, p - 0.5 * step_size * g, g, total + u

        u, g = value_and_grad(position)
        start = (position, jnp.zeros_like(position), g, u)
        return jax.lax.fori_loop(0, num_steps, step, start)[3]

    return jax.jit(jax.vmap(chain, in_axes=(0, None, None)))


class Floor:
    """Times ``n`` leapfrog steps on ``num_chains`` batched chains of a benchmark model."""

    def __init__(self, model_module, quick: bool):
        problem = model_module.build(hierax, dist, infer, quick)
        strategy = problem.init_strategy or infer.init_to_uniform
        self.settings = problem.settings
        self.program = ModelProgram(problem.model, problem.args, problem.kwargs, strategy,
                                    jax.random.PRNGKey(0))
        self.dynamic = self.program.split.dynamic
        self.positions = self.program.initial_positions(
            jax.random.PRNGKey(1), self.settings.num_chains, self.dynamic)
        self.loop = _leapfrog_loop(self.program, self.settings.dense_mass)
        self.loop(self.positions, 1, self.dynamic).block_until_ready()  # compile

    def seconds(self, total_steps: int, repeats: int = 3) -> float:
        """Best of ``repeats`` timings of ``total_steps`` leapfrog steps over all chains."""
        per_chain = math.ceil(total_steps / self.settings.num_chains)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            self.loop(self.positions, per_chain, self.dynamic).block_until_ready()
            best = min(best, time.perf_counter() - start)
        return best
