"""Running the samplers of ``hierax-pop infer``: chunked, resumable MCMC (slice or NUTS)
and flowMC.

Both return ``(draws, stats)``: dicts of ``(chains, draws, ...)`` NumPy arrays,
``draws`` holding every site of the model, ``stats`` the per-draw sampler
statistics under ArviZ's names.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from hierax.cli.errors import UserInputError
from hierax.cli.outputs import ChunkStore

__all__ = ["CHECKPOINT_SECONDS", "CHUNK_DRAWS", "run_flowmc", "run_mcmc_chunked"]

CHUNK_DRAWS = 100
"""Draws per chain in one chunk of an MCMC (slice or NUTS) run: written to disk as it ends."""

CHECKPOINT_SECONDS = 30.0
"""Least wall time between two checkpoints of the sampler state (each costs about 0.2 s);
the end of the run is always checkpointed. A resumed run repeats at most this much work."""

# hierax's per-draw statistic -> ArviZ's name.
_STAT_NAMES = {"diverging": "diverging", "accept_prob": "acceptance_rate",
               "num_steps": "n_steps", "tree_depth": "tree_depth", "energy": "energy",
               "step_size": "step_size", "potential_energy": "potential_energy",
               "global_move": "global_move", "num_evaluations": "n_evaluations"}
_STAT_PREFIX = "stat__"


def _chunk_arrays(samples, fields) -> dict:
    arrays = {k: np.asarray(v) for k, v in samples.items()}
    arrays.update({_STAT_PREFIX + k: np.asarray(v) for k, v in fields.items()})
    return arrays


def _split_chunk_arrays(arrays) -> tuple[dict, dict]:
    draws = {k: v for k, v in arrays.items() if not k.startswith(_STAT_PREFIX)}
    stats = {_STAT_NAMES.get(k[len(_STAT_PREFIX):], k[len(_STAT_PREFIX):]): v
             for k, v in arrays.items() if k.startswith(_STAT_PREFIX)}
    return draws, stats


def chunk_iterations(num_samples: int, thinning: int) -> int:
    """Iterations per chunk: at most ``CHUNK_DRAWS * thinning``, a multiple of ``thinning``.

    A size dividing ``num_samples`` is preferred (one compiled loop for every
    chunk) unless it is below a quarter of the largest size.
    """
    largest = min(num_samples, CHUNK_DRAWS * thinning)
    for size in range(largest, max(largest // 4, 1) - 1, -1):
        if num_samples % size == 0 and size % thinning == 0:
            return size
    return largest


def _make_kernel(model, config):
    """The ``hierax.infer`` kernel a slice or NUTS config describes."""
    from hierax.infer import NUTS, Slice

    if config.kind == "slice":
        return Slice(model, **config.slice.kernel_kwargs())
    return NUTS(model, **config.kernel.kernel_kwargs())


def _make_mcmc(model, config, chunk_iterations):
    from hierax.infer import MCMC

    settings = config.mcmc
    return MCMC(_make_kernel(model, config), num_warmup=settings.num_warmup,
                num_samples=chunk_iterations, num_chains=settings.num_chains,
                thinning=settings.thinning, chain_method=settings.chain_method,
                progress_bar=settings.progress_bar)


class _Checkpoints:
    """Saves the chains' state to ``path`` at most every ``CHECKPOINT_SECONDS``."""

    def __init__(self, path: Path):
        self.path = path
        self._last = time.monotonic()

    def after(self, mcmc, *, final: bool = False) -> None:
        """Continue the next ``run`` from ``mcmc``'s state; save it if it is time."""
        from hierax.infer import checkpoint as saved_runs

        mcmc.post_warmup_state = mcmc.last_state
        if final or time.monotonic() - self._last >= CHECKPOINT_SECONDS:
            saved_runs.save(mcmc, self.path)
            self._last = time.monotonic()


def _start_or_resume(mcmc, key, checkpoints: _Checkpoints, resume: bool, log_print) -> int:
    """Warm up or continue from the saved state; sampling iterations done."""
    from hierax.infer import checkpoint as saved_runs

    if resume and checkpoints.path.is_file():
        run = saved_runs.resume(mcmc, checkpoints.path)
        done = int(np.min(np.asarray(run.last_state.iteration))) - mcmc.num_warmup
        log_print(f"--resume: continuing after {done} draws per chain.")
        return done
    if mcmc.num_warmup:
        mcmc.warmup(key)
        checkpoints.after(mcmc)
    return 0


def run_mcmc_chunked(model, config, seed: int, state: Path, *, resume: bool, log_print):
    """Slice or NUTS (``config.kind``) in chunks, each appended to disk as it ends, the
    sampler state checkpointed at most every ``CHECKPOINT_SECONDS`` and at the end.

    Returns ``(draws, stats)`` of the whole run. Iteration ``i`` of a chain uses
    ``fold_in(chain_key, i)``, so a resumed run makes the draws an uninterrupted
    one makes.
    """
    import jax
    from tqdm.auto import tqdm

    settings = config.mcmc
    chunk = chunk_iterations(settings.num_samples, settings.thinning)
    store, checkpoints = ChunkStore(state), _Checkpoints(state / "checkpoint.nc")
    mcmc = _make_mcmc(model, config, chunk)
    key = jax.random.PRNGKey(seed)
    done = _start_or_resume(mcmc, key, checkpoints, resume, log_print)
    index = math.ceil(done / chunk)
    store.keep_first(index)
    bar = tqdm(total=settings.num_samples, initial=done, desc="sample", dynamic_ncols=True,
               disable=not settings.progress_bar)
    mcmc.progress_bar = False
    try:
        while done < settings.num_samples:
            mcmc.num_samples = min(chunk, settings.num_samples - done)
            mcmc.run(key)
            store.append(index, _chunk_arrays(mcmc.get_samples(group_by_chain=True),
                                              mcmc.get_extra_fields(group_by_chain=True)))
            done, index = done + mcmc.num_samples, index + 1
            checkpoints.after(mcmc, final=done >= settings.num_samples)
            bar.update(mcmc.num_samples)
    finally:
        bar.close()
    name = "slice" if config.kind == "slice" else "NUTS"
    log_print(f"{name}: {settings.num_chains} chains x {settings.num_samples} draws "
              f"(thinning {settings.thinning}) after {settings.num_warmup} warmup iterations.")
    return _split_chunk_arrays(store.read(index))


def run_flowmc(model, config, seed: int, log_print):
    """flowMC (``hierax.infer.flowmc.FlowMC``) tuned by a NUTS warmup; ``(draws, stats)``."""
    import jax

    try:
        from hierax.infer.flowmc import FlowMC
    except ImportError as exc:
        raise UserInputError(f"flowMC sampling is not available: {exc}") from None
    bundle = config.bundle_config.model_dump(exclude_unset=True)
    try:
        sampler = FlowMC.from_bundle_config(model, bundle)
    except ImportError as exc:
        raise UserInputError(str(exc)) from None
    sampler.run(jax.random.PRNGKey(seed))
    log_print(f"flowMC posterior draws: {sampler.posterior_draws}.")
    draws = {k: np.asarray(v) for k, v in sampler.get_samples(group_by_chain=True).items()}
    fields = sampler.get_extra_fields(group_by_chain=True)
    stats = {_STAT_NAMES.get(k, k): np.asarray(v) for k, v in fields.items()}
    return draws, stats
