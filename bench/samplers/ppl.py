"""hierax and NumPyro NUTS through their shared ``MCMC`` API (same code for both)."""

from __future__ import annotations

import importlib

import jax
import numpy as np

from bench.samplers.common import RunResult

_FIELDS = ("num_steps", "diverging")


class PPLRunner:
    """NUTS of ``library`` (``"hierax"`` or ``"numpyro"``) on one benchmark model.

    Chains run vectorized (``chain_method="vectorized"``), without a progress bar.
    """

    def __init__(self, library: str, model_module, quick: bool):
        self.library = library
        npx = importlib.import_module(library)
        dist = importlib.import_module(f"{library}.distributions")
        infer = importlib.import_module(f"{library}.infer")
        self.problem = problem = model_module.build(npx, dist, infer, quick)
        settings = problem.settings
        options = {} if problem.init_strategy is None else {
            "init_strategy": problem.init_strategy}
        kernel = infer.NUTS(problem.model, target_accept_prob=settings.target_accept,
                            dense_mass=settings.dense_mass,
                            max_tree_depth=settings.max_tree_depth, **options)
        self.mcmc = infer.MCMC(kernel, num_warmup=settings.num_warmup,
                               num_samples=settings.num_samples,
                               num_chains=settings.num_chains,
                               chain_method="vectorized", progress_bar=False)

    def _run(self, seed: int) -> RunResult:
        problem = self.problem
        self.mcmc.run(jax.random.PRNGKey(seed), *problem.args,
                      extra_fields=_FIELDS, **problem.kwargs)
        samples = self.mcmc.get_samples(group_by_chain=True)
        fields = self.mcmc.get_extra_fields(group_by_chain=True)
        draws = {name: np.asarray(samples[name]) for name in problem.latent_sites}
        return RunResult(draws, np.asarray(fields["num_steps"]),
                         int(np.sum(np.asarray(fields["diverging"]))))

    def run(self, seed: int) -> RunResult:
        """Warmup and sampling in one ``run`` call, from a fresh start."""
        self.mcmc.post_warmup_state = None
        return self._run(seed)

    def warmup(self, seed: int) -> None:
        """Only the warmup, from a fresh start (``MCMC.warmup``)."""
        self.mcmc.post_warmup_state = None
        problem = self.problem
        self.mcmc.warmup(jax.random.PRNGKey(seed), *problem.args, extra_fields=_FIELDS,
                         **problem.kwargs)
        # NumPyro's warmup returns before its computation ends: wait, or the
        # remaining warmup work is counted in the sampling time.
        jax.block_until_ready(self.mcmc.post_warmup_state)

    def warmup_gradients(self, seed: int) -> int | None:
        """Gradient evaluations of ``warmup(seed)``, by running it again and collecting
        it (untimed: collecting compiles another loop). None for NumPyro 0.22, which
        cannot collect the warmup of vectorized chains (a ``vmap`` error)."""
        if self.library != "hierax":
            return None
        self.mcmc.post_warmup_state = None
        problem = self.problem
        self.mcmc.warmup(jax.random.PRNGKey(seed), *problem.args, extra_fields=("num_steps",),
                         collect_warmup=True, **problem.kwargs)
        return int(np.sum(np.asarray(self.mcmc.get_extra_fields()["num_steps"])))

    def sample(self, seed: int) -> RunResult:
        """``num_samples`` draws from the end of :meth:`warmup` (no adaptation)."""
        try:
            return self._run(seed)
        finally:
            self.mcmc.post_warmup_state = None
