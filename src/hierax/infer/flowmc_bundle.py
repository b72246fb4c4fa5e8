"""Building and reading flowMC 0.6 objects for :class:`~hierax.infer.FlowMC`.

flowMC is imported inside these functions only (the ``flow`` extra), so
``import hierax`` never needs it.

Coordinates. flowMC's chains move in the model's flat unconstrained space
``z``, except when the inverse mass matrix ``C`` is dense: flowMC's MALA and
HMC kernels take a diagonal preconditioner only, so the chains then move in
whitened coordinates ``y = L^{-1} z`` with ``L L^T = C`` (Cholesky), where the
metric is the identity. The map is linear, so no Jacobian enters the density.

Local kernels, from a step size ``eps`` and a diagonal inverse mass matrix ``c``:

- MALA (Roberts & Tweedie 1996) preconditioned by ``c``: flowMC's per-dimension
  step ``dt_i = eps * sqrt(c_i)``, which is one leapfrog step of HMC with
  step size ``eps`` and inverse mass matrix ``diag(c)``;
- HMC (Neal 2011): flowMC's ``condition_matrix`` is ``c`` (its kinetic energy is
  ``p^T diag(c) p / 2``), with step size ``eps``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["build_sampler", "import_flowmc", "read_buffers"]

DEFAULT_SPLINE_RANGE = (-10.0, 10.0)  # what flowMC 0.6's bundles use
FLOW_EXTRA_MESSAGE = ('FlowMC needs the flowMC package (the "flow" extra): '
                      'pip install "hierax[flow]"')


def import_flowmc():
    """The ``flowMC`` module, or an ImportError that says how to install it."""
    try:
        import flowMC
        import flowMC.Sampler  # noqa: F401
    except ImportError as error:
        raise ImportError(FLOW_EXTRA_MESSAGE) from error
    return flowMC


def make_log_density(program, whitened: bool):
    """flowMC's ``logpdf(x, data)``: minus the model's potential, ``-inf`` where not finite.

    ``data`` holds ``"dynamic"`` (the model's array arguments) and, when
    ``whitened``, ``"cholesky"`` (``L`` with ``z = L y``).
    """

    def log_density(x, data):
        z = data["cholesky"] @ x if whitened else x
        potential = program.potential(z, data["dynamic"])
        return jnp.where(jnp.isfinite(potential), -potential, -jnp.inf)

    return log_density


def _bundle_class(local_sampler):
    if local_sampler == "mala":
        from flowMC.resource_strategy_bundle.RQSpline_MALA import RQSpline_MALA_Bundle

        return RQSpline_MALA_Bundle
    from flowMC.resource_strategy_bundle.RQSpline_HMC import RQSpline_HMC_Bundle

    return RQSpline_HMC_Bundle


def _local_kernel_arguments(settings, step_size, metric, n_leapfrog, dtype):
    """The local-sampler arguments of the MALA or HMC bundle."""
    metric = jnp.asarray(metric, dtype)
    common = {"adapt_step_size": settings["adapt_step_size"], "adapt_step_size_per_dim": False}
    if settings["local_sampler"] == "mala":
        return {"mala_step_size": jnp.asarray(step_size, dtype) * jnp.sqrt(metric), **common}
    return {"hmc_step_size": float(step_size), "hmc_n_leapfrog": int(n_leapfrog),
            "condition_matrix": metric, **common}


def _use_spline_range(bundle, dimension, settings, key):
    """Give the bundle a flow with ``rq_spline_range`` (0.6's bundles have no such argument)."""
    import equinox as eqx
    from flowMC.resource.model.nf_model.rqSpline import MaskedCouplingRQSpline
    from flowMC.resource.optimizer import Optimizer

    low, high = (float(v) for v in settings["rq_spline_range"])
    flow = MaskedCouplingRQSpline(dimension, settings["rq_spline_n_layers"],
                                  list(settings["rq_spline_hidden_units"]),
                                  settings["rq_spline_n_bins"], key, spline_range=(low, high))
    resources = bundle.resources
    resources["model"] = flow
    resources["global_sampler"] = eqx.tree_at(lambda proposal: proposal.model,
                                              resources["global_sampler"], flow)
    resources["optimizer"] = Optimizer(model=flow, learning_rate=settings["learning_rate"])


_BUNDLE_KEYS = ("n_chains", "n_local_steps", "n_global_steps", "n_training_loops",
                "n_production_loops", "n_epochs", "learning_rate", "batch_size",
                "n_max_examples", "history_window", "n_NFproposal_batch_size",
                "chain_batch_size", "local_thinning", "global_thinning", "rq_spline_n_bins",
                "rq_spline_n_layers", "verbose")


def build_sampler(program, log_density, settings, step_size, metric, n_leapfrog, rng_key,
                  previous=None):
    """A ``flowMC.Sampler`` over the model's (possibly whitened) unconstrained space.

    Args:
        program: the model's :class:`~hierax.infer.program.ModelProgram`.
        log_density: from :func:`make_log_density` (kept across runs, so flowMC's
            compiled steps are reused).
        settings: dict of FlowMC settings (see :class:`~hierax.infer.FlowMC`).
        step_size: local step size ``eps`` (float).
        metric: diagonal inverse mass matrix ``(d,)`` in flowMC's coordinates.
        n_leapfrog: leapfrog steps of the HMC kernel.
        rng_key: raw key; split for the flow's initial weights and the sampling.
        previous: a sampler from an earlier run with the same settings and model
            layout; it is reset and reused (see :func:`_reuse`).
    """
    from flowMC.Sampler import Sampler

    flow_key, spline_key, sampler_key = jax.random.split(rng_key, 3)
    bundle = _bundle_class(settings["local_sampler"])(
        rng_key=flow_key, n_dims=program.dimension, logpdf=log_density,
        rq_spline_hidden_units=list(settings["rq_spline_hidden_units"]),
        **{key: settings[key] for key in _BUNDLE_KEYS},
        **_local_kernel_arguments(settings, step_size, metric, n_leapfrog, program.dtype))
    if tuple(float(v) for v in settings["rq_spline_range"]) != DEFAULT_SPLINE_RANGE:
        _use_spline_range(bundle, program.dimension, settings, spline_key)
    if previous is not None:
        return _reuse(previous, bundle, sampler_key)
    # checkpoint_interval=0: no checkpoint files and no change to JAX's global cache settings.
    return Sampler(n_dim=program.dimension, n_chains=settings["n_chains"], rng_key=sampler_key,
                   resource_strategy_bundles=bundle, checkpoint_interval=0)


_STRATEGY_COUNTERS = ("_call_count", "_patience_count")


def _reuse(sampler, bundle, rng_key):
    """``sampler`` reset to a fresh start with ``bundle``'s resources.

    flowMC compiles its steps and the flow's training step against the
    strategy objects and the optimizer's update rule, so keeping those (with
    their cursors and counters reset, and the optimizer state re-initialised
    for the new flow) lets a second run skip recompilation. The new run is the
    same as with a fresh sampler.
    """
    import equinox as eqx

    resources = dict(bundle.resources)
    optimizer = sampler.resources["optimizer"]
    optimizer.optim_state = optimizer.optim.init(eqx.filter(resources["model"],
                                                            eqx.is_inexact_array))
    resources["optimizer"] = optimizer
    for strategy in sampler.strategies.values():
        if hasattr(strategy, "set_current_position"):
            strategy.set_current_position(0)
        for counter in _STRATEGY_COUNTERS:
            if hasattr(strategy, counter):
                setattr(strategy, counter, 0)
    sampler.resources = resources
    sampler.rng_key = rng_key
    return sampler


class LoopProgress:
    """A progress bar per phase, advanced after each flowMC training or production loop
    (:func:`hierax.infer.progress.progress_display`: plain lines when not a terminal).

    Each loop of flowMC's bundles ends with its ``update_local_step`` strategy,
    so wrapping that strategy counts loops without changing what it does.
    """

    def __init__(self, n_training_loops, n_production_loops, enabled):
        self.n_training_loops = n_training_loops
        self.n_production_loops = n_production_loops
        self.enabled = enabled
        self.loops_done = 0
        self._bar = None

    def attach(self, sampler, loops_done=0):
        """Count ``sampler``'s loops from now on; ``loops_done`` loops are already behind it."""
        strategy = sampler.strategies["update_local_step"]
        strategy = getattr(strategy, "counted_strategy", strategy)

        def counted(*arguments):
            result = strategy(*arguments)
            self._advance()
            return result

        counted.counted_strategy = strategy
        sampler.strategies["update_local_step"] = counted
        self.loops_done = loops_done
        if loops_done < self.n_training_loops:
            self._open("flowMC training", self.n_training_loops, loops_done)
        else:
            self._open("flowMC production", self.n_production_loops,
                       loops_done - self.n_training_loops)

    def _open(self, description, total, initial=0):
        if self.enabled:
            from hierax.infer.progress import progress_display

            self._bar = progress_display(total, description, unit="loop", initial=initial)

    def _advance(self):
        self.loops_done += 1
        if self._bar is not None:
            self._bar.update(1)
        if self.loops_done == self.n_training_loops:
            self.close()
            self._open("flowMC production", self.n_production_loops)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _acceptance_rate(buffer):
    values = np.asarray(buffer)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else float("nan")


def read_buffers(resources):
    """Production draws and statistics from a finished flowMC run (NumPy).

    Returns:
        ``(positions, fields, acceptance, loss)``: positions
        ``(n_chains, n_draws, d)`` in flowMC's coordinates; per-draw fields
        ``log_density``, ``global_move`` (the draw follows a flow-proposal step)
        and ``accept_prob`` (acceptance averaged over the thinning window of
        that step); acceptance rates by phase and move; the flow's training loss
        per epoch.
    """
    data = {name: np.asarray(resources[name].data) for name in (
        "positions_production", "log_prob_production", "local_accs_production",
        "global_accs_production", "local_accs_training", "global_accs_training",
        "loss_buffer")}
    global_move = np.isfinite(data["global_accs_production"])
    fields = {"log_density": data["log_prob_production"], "global_move": global_move,
              "accept_prob": np.where(global_move, data["global_accs_production"],
                                      data["local_accs_production"])}
    acceptance = {phase: {move: _acceptance_rate(data[f"{move}_accs_{phase}"])
                          for move in ("local", "global")}
                  for phase in ("training", "production")}
    loss = data["loss_buffer"]
    return data["positions_production"], fields, acceptance, loss[np.isfinite(loss)]
