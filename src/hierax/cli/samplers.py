"""Running the samplers of ``hierax-pop infer``, checkpointed and resumable: MCMC (slice
or NUTS) and flowMC.

Both return ``(draws, stats)``: dicts of ``(chains, draws, ...)`` NumPy arrays,
``draws`` holding every site of the model, ``stats`` the per-draw sampler
statistics under ArviZ's names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hierax.cli.errors import UserInputError

__all__ = ["run_flowmc", "run_mcmc_checkpointed"]

# hierax's per-draw statistic -> ArviZ's name.
_STAT_NAMES = {"diverging": "diverging", "accept_prob": "acceptance_rate",
               "num_steps": "n_steps", "tree_depth": "tree_depth", "energy": "energy",
               "step_size": "step_size", "potential_energy": "potential_energy",
               "global_move": "global_move", "num_evaluations": "n_evaluations"}


def _arviz_stats(fields) -> dict:
    return {_STAT_NAMES.get(k, k): np.asarray(v) for k, v in fields.items()}


_GIBBS_KEYS = ("target_accept_prob", "max_tree_depth", "dense_mass", "init_strategy")


def _make_kernel(model, config, slice_sites=(), log_print=None):
    """The ``hierax.infer`` kernel a slice or NUTS config describes.

    A NUTS config with ``slice_sites`` (sharp edges,
    :func:`hierax.pop.inference.sharp_edge_hyperparameters`) gives
    :class:`hierax.infer.NUTSWithinGibbs`: slice updates of those sites, NUTS on the
    others; the kernel settings it has no use for are named in the log.
    """
    from hierax.infer import NUTS, NUTSWithinGibbs, Slice

    if config.kind == "slice":
        return Slice(model, **config.slice.kernel_kwargs())
    kwargs = config.kernel.kernel_kwargs()
    if not slice_sites:
        return NUTS(model, **kwargs)
    unused = sorted(k for k in config.kernel.model_fields_set if k not in _GIBBS_KEYS)
    if log_print is not None:
        log_print(f"NUTS cannot move sharp edges ({', '.join(slice_sites)}: the Monte Carlo "
                  "likelihood steps there), so they get slice updates within Gibbs and NUTS "
                  "runs on the other hyperparameters (hierax.infer.NUTSWithinGibbs; "
                  "docs/pop_sampler.md)" + (f"; kernel settings not used: {', '.join(unused)}"
                                           if unused else ""))
    return NUTSWithinGibbs(model, slice_sites, **{k: kwargs[k] for k in _GIBBS_KEYS})


def _make_mcmc(model, config, slice_sites=(), log_print=None):
    from hierax.infer import MCMC

    settings = config.mcmc
    return MCMC(_make_kernel(model, config, slice_sites, log_print),
                num_warmup=settings.num_warmup,
                num_samples=settings.num_samples, num_chains=settings.num_chains,
                thinning=settings.thinning, chain_method=settings.chain_method,
                progress_bar=settings.progress_bar, jit_model_args=settings.jit_model_args)


def _describe_resume(run, mcmc, log_print) -> None:
    done = run.resumed_from
    if done < mcmc.num_warmup:
        log_print(f"--resume: continuing the warmup at iteration {done} of {mcmc.num_warmup}.")
    else:
        log_print(f"--resume: continuing after {done - mcmc.num_warmup} of "
                  f"{mcmc.num_samples} draws per chain.")


def run_mcmc_checkpointed(model, config, seed: int, state: Path, *, resume: bool, log_print,
                          checkpoint_seconds: float = 10.0, slice_sites=()):
    """Slice or NUTS (``config.kind``) written to ``state`` segment by segment.

    Every segment of a few seconds (warmup or sampling) is a checkpoint with its
    SHA-256 digest (:class:`hierax.infer.resumable.CheckpointedRun`), about every
    ``checkpoint_seconds``; with
    ``resume`` the run continues after the last intact segment and ends with the
    draws an uninterrupted run makes. Returns ``(draws, stats)`` of the whole run.
    """
    import jax

    from hierax.infer.resumable import CheckpointedRun

    settings = config.mcmc
    mcmc = _make_mcmc(model, config, slice_sites, log_print)
    run = CheckpointedRun(mcmc, state, resume=resume, log=log_print,
                          segment_seconds=checkpoint_seconds)
    run.run(jax.random.PRNGKey(seed))
    if resume:
        _describe_resume(run, mcmc, log_print)
    name = "slice" if config.kind == "slice" else "NUTS"
    log_print(f"{name}: {settings.num_chains} chains x {settings.num_samples} draws "
              f"(thinning {settings.thinning}) after {settings.num_warmup} warmup iterations.")
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    return draws, _arviz_stats(mcmc.get_extra_fields(group_by_chain=True))


def run_flowmc(model, config, seed: int, state: Path, *, resume: bool, log_print,
               checkpoint_seconds: float = 10.0):
    """flowMC (``hierax.infer.flowmc.FlowMC``) tuned by a NUTS warmup, checkpointed into
    ``state`` (:class:`hierax.infer.flowmc_checkpoint.CheckpointedFlowMC`) about every
    ``checkpoint_seconds``; with ``resume`` it continues the run there. ``(draws, stats)``."""
    import jax

    try:
        from hierax.infer.flowmc import FlowMC
        from hierax.infer.flowmc_checkpoint import CheckpointedFlowMC
    except ImportError as exc:
        raise UserInputError(f"flowMC sampling is not available: {exc}") from None
    bundle = config.bundle_config.model_dump(exclude_unset=True)
    try:
        sampler = FlowMC.from_bundle_config(model, bundle)
    except ImportError as exc:
        raise UserInputError(str(exc)) from None
    run = CheckpointedFlowMC(sampler, state, resume=resume, log=log_print,
                             segment_seconds=checkpoint_seconds)
    run.run(jax.random.PRNGKey(seed))
    if resume and run.resumed_after:
        log_print(f"--resume: continued after {run.resumed_after} flowMC strategy calls.")
    log_print(f"flowMC posterior draws: {sampler.posterior_draws}.")
    draws = {k: np.asarray(v) for k, v in sampler.get_samples(group_by_chain=True).items()}
    return draws, _arviz_stats(sampler.get_extra_fields(group_by_chain=True))
