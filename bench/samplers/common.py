"""What every sampler runner returns, and the samplers by name."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SAMPLER_NAMES = ("hierax", "numpyro", "blackjax")


class RunResult(NamedTuple):
    """Draws of one run.

    Attributes:
        draws: latent site -> constrained draws ``(chains, draws, ...)``.
        num_steps: leapfrog steps per draw, ``(chains, draws)``.
        num_divergences: divergent transitions among the draws.
    """

    draws: dict
    num_steps: np.ndarray
    num_divergences: int


class Runner:
    """What a sampler runner offers (see ``bench.samplers.ppl`` and ``blackjax_nuts``).

    ``problem``: the :class:`~bench.models.spec.Problem`; ``run(seed)``: warmup and
    sampling in one call; ``warmup(seed)`` then ``sample(seed)``: the same in two
    timed phases. ``run`` and ``sample`` return a :class:`RunResult`;
    ``warmup_gradients(seed)`` (untimed) the gradient evaluations of ``warmup(seed)``,
    or None where the library cannot tell.
    """


def make_runner(sampler: str, model_module, quick: bool):
    """The runner of ``sampler`` on ``model_module`` (imports the library lazily)."""
    if sampler in ("hierax", "numpyro"):
        from bench.samplers.ppl import PPLRunner

        return PPLRunner(sampler, model_module, quick)
    if sampler == "blackjax":
        from bench.samplers.blackjax_nuts import BlackJAXRunner

        return BlackJAXRunner(model_module, quick)
    raise ValueError(f"unknown sampler {sampler!r}; known: {SAMPLER_NAMES}")
