"""flowMC's normalizing-flow-enhanced MCMC for any hierax model (the ``flow`` extra).

flowMC (Wong, Gabrié & Foreman-Mackey 2023, JOSS 8, 5021; Gabrié, Rotskoff &
Vanden-Eijnden 2022, PNAS 119, e2109420119) alternates, on many chains, local
gradient-based steps (MALA or HMC) with global independence Metropolis-Hastings
steps whose proposals come from a normalizing flow (a masked-coupling
rational-quadratic spline, Durkan et al. 2019) trained on the chains' past
positions. Global moves let chains jump between modes that local steps
cannot cross.

How hierax drives it (:class:`FlowMC`):

1. the model becomes a flat log density in unconstrained coordinates, the
   same potential as NUTS uses (:class:`~hierax.infer.program.ModelProgram`);
2. a short hierax NUTS warmup (Stan's windowed adaptation, a few chains) gives
   the local sampler's step size and inverse mass matrix and the chains'
   starting points (see :mod:`hierax.infer.flowmc_warmup`), instead of
   hand-tuned values;
3. flowMC runs ``n_training_loops`` loops of (local steps, flow training,
   global steps) and then ``n_production_loops`` loops of (local steps,
   global steps) with the flow and the local kernel frozen.

Which draws are the posterior: the production-phase positions of all
``n_chains`` chains, local and global moves together in the order flowMC
stores them (after thinning). The flow is frozen in production, so each chain
is a Markov chain whose transitions (fixed MALA/HMC kernels and an
independence sampler with a fixed proposal) all leave the posterior
invariant; :meth:`FlowMC.print_summary` reports rank-normalized split-R-hat
and bulk ESS (Vehtari et al. 2021) across these chains. Training-phase draws
are discarded, like warmup draws.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.infer.flowmc_bundle import (
    LoopProgress,
    build_sampler,
    import_flowmc,
    make_log_density,
    read_buffers,
)
from hierax.infer.flowmc_warmup import LocalTuning, nuts_local_tuning
from hierax.infer.initialization import init_to_uniform

__all__ = ["FlowMC"]

POSTERIOR_DRAWS = ("production-phase draws of every flowMC chain, local and global moves "
                   "together (training-phase draws discarded)")

_POSITIVE_INTS = ("n_chains", "n_local_steps", "n_global_steps", "n_training_loops",
                  "n_production_loops", "n_epochs", "batch_size", "n_max_examples",
                  "history_window", "n_NFproposal_batch_size", "local_thinning",
                  "global_thinning", "rq_spline_n_bins", "rq_spline_n_layers", "warmup_chains")


def _check_int(name, value, least):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        kind = "a positive" if least == 1 else "a non-negative"
        raise ValueError(f"FlowMC: {name} must be {kind} int, got {value!r}.")
    return int(value)


def raw_key(rng_key):
    """``rng_key`` as raw ``uint32`` key data (typed keys are unwrapped)."""
    if rng_key is None:
        raise ValueError("FlowMC.run: rng_key is required (e.g. jax.random.PRNGKey(0)).")
    if jnp.issubdtype(jnp.result_type(rng_key), jax.dtypes.prng_key):
        return jax.random.key_data(rng_key)
    return jnp.asarray(rng_key)


class RunKeys(NamedTuple):
    """The keys one run splits its key into: model program, NUTS warmup, flowMC."""

    program: Any
    warmup: Any
    flow: Any


def run_keys(rng_key) -> RunKeys:
    """The :class:`RunKeys` of a run with ``rng_key``."""
    return RunKeys(*jax.random.split(raw_key(rng_key), 3))


class Launch(NamedTuple):
    """A flowMC run ready to go (from :meth:`FlowMC._launch`).

    Attributes:
        sampler: the ``flowMC.Sampler``, its resources fresh.
        starts: ``(n_chains, d)`` starting positions in flowMC's coordinates.
        data: the ``data`` dict flowMC passes to the log density.
        cholesky: ``L`` of a dense inverse mass matrix (flowMC moves in ``L^{-1} z``),
            or None.
        dynamic: the model's array arguments.
        local_tuning: the run's :class:`~hierax.infer.flowmc_warmup.LocalTuning`
            with the step size, inverse mass matrix and leapfrog steps it uses.
    """

    sampler: Any
    starts: Any
    data: dict
    cholesky: Any
    dynamic: Any
    local_tuning: LocalTuning


class FlowMC:
    """Normalizing-flow-enhanced MCMC (flowMC 0.6) on a hierax model, tuned by NUTS warmup.

    Args:
        model: the model (any hierax model with continuous latent sites).
        n_chains: flowMC chains.
        n_local_steps, n_global_steps: local (MALA/HMC) and global (flow) steps per loop.
        n_training_loops: loops that train the flow (their draws are discarded).
        n_production_loops: loops whose draws are the posterior.
        n_epochs: flow training epochs per training loop.
        learning_rate, batch_size, n_max_examples, history_window: flow training
            (Adam learning rate, minibatch size, examples per loop, how many of
            each chain's latest stored steps train the flow).
        n_NFproposal_batch_size: flow proposals evaluated per batch.
        chain_batch_size: chains per batch in flowMC's steps (0: all at once).
        local_thinning, global_thinning: keep every k-th local / global step.
        local_sampler: ``"mala"`` or ``"hmc"``.
        step_size: the local step size ``eps``; None takes NUTS warmup's.
        inverse_mass_matrix: scalar, ``(d,)`` or ``(d, d)`` in the model's flat
            unconstrained coordinates; None takes NUTS warmup's. MALA moves with
            per-dimension steps ``eps * sqrt(diag)``; HMC uses it as flowMC's
            ``condition_matrix``; a dense matrix whitens the coordinates flowMC
            sees (see :mod:`hierax.infer.flowmc_bundle`).
        n_leapfrog: HMC leapfrog steps; None takes the median number NUTS took
            after warmup.
        adapt_step_size: let flowMC rescale the step size during training loops
            toward its target acceptance (0.574 MALA, 0.65 HMC), starting from
            ``eps``; production always uses fixed settings. The per-dimension
            profile stays the one of the inverse mass matrix.
        rq_spline_hidden_units, rq_spline_n_bins, rq_spline_n_layers,
            rq_spline_range: the flow's conditioner widths, spline bins,
            coupling layers and spline interval (on standardized data).
        warmup_steps: NUTS warmup iterations per warmup chain (0 skips warmup:
            then ``step_size`` is required and chains start from ``init_strategy``).
        warmup_chains: NUTS chains in the warmup.
        dense_mass: adapt a dense inverse mass matrix in warmup.
        target_accept_prob, max_tree_depth: NUTS warmup settings.
        init_strategy: where warmup (or, without warmup, flowMC) chains start.
        progress_bar: show warmup and per-loop flowMC progress bars.
        verbose: flowMC's own logging and flow-training progress bars.

    Example::

        >>> sampler = FlowMC(model, n_chains=20, n_local_steps=50, n_global_steps=50,
        ...                  n_training_loops=5, n_production_loops=5, n_epochs=20)
        >>> sampler.run(jax.random.PRNGKey(0), data)           # doctest: +SKIP
        >>> sampler.print_summary()                             # doctest: +SKIP
    """

    def __init__(self, model, *, n_chains=20, n_local_steps=50, n_global_steps=50,
                 n_training_loops=5, n_production_loops=5, n_epochs=20, learning_rate=1e-3,
                 batch_size=10000, n_max_examples=10000, history_window=100,
                 n_NFproposal_batch_size=10000, chain_batch_size=0, local_thinning=1,
                 global_thinning=1, local_sampler="mala", step_size=None,
                 inverse_mass_matrix=None, n_leapfrog=None, adapt_step_size=True,
                 rq_spline_hidden_units=(32, 32), rq_spline_n_bins=8, rq_spline_n_layers=4,
                 rq_spline_range=(-10.0, 10.0), warmup_steps=500, warmup_chains=4,
                 dense_mass=False, target_accept_prob=0.8, max_tree_depth=10,
                 init_strategy=init_to_uniform, progress_bar=True, verbose=False):
        import_flowmc()
        settings = dict(locals())
        for name in ("self", "model", "step_size", "inverse_mass_matrix", "init_strategy"):
            settings.pop(name)
        self.model = model
        self.init_strategy = init_strategy
        self.settings = self._validated(settings)
        self.step_size = self._check_step_size(step_size)
        self.inverse_mass_matrix = self._check_matrix(inverse_mass_matrix)
        if self.settings["warmup_steps"] == 0 and self.step_size is None:
            raise ValueError("FlowMC: warmup_steps=0 needs an explicit step_size (the NUTS "
                             "warmup is what provides it otherwise).")
        self.local_tuning = None
        self._samples = None
        self._program = None
        self._cache = {}

    # -- settings ------------------------------------------------------------------

    @staticmethod
    def _validated(settings):
        for name in _POSITIVE_INTS:
            settings[name] = _check_int(name, settings[name], 1)
        for name in ("chain_batch_size", "warmup_steps"):
            settings[name] = _check_int(name, settings[name], 0)
        for steps, thinning in (("n_local_steps", "local_thinning"),
                                ("n_global_steps", "global_thinning")):
            if settings[thinning] > settings[steps]:
                raise ValueError(f"FlowMC: {thinning}={settings[thinning]} exceeds "
                                 f"{steps}={settings[steps]}; no step would be stored.")
        local = str(settings["local_sampler"]).strip().lower()
        if local not in ("mala", "hmc"):
            raise ValueError(f"FlowMC: local_sampler must be 'mala' or 'hmc', got "
                             f"{settings['local_sampler']!r}.")
        settings["local_sampler"] = local
        if settings["n_leapfrog"] is not None:
            settings["n_leapfrog"] = _check_int("n_leapfrog", settings["n_leapfrog"], 1)
        low, high = (float(v) for v in settings["rq_spline_range"])
        if not low < high:
            raise ValueError(f"FlowMC: rq_spline_range must be (low, high) with low < high, "
                             f"got {settings['rq_spline_range']!r}.")
        if not 0.0 < float(settings["learning_rate"]):
            raise ValueError(f"FlowMC: learning_rate must be positive, got "
                             f"{settings['learning_rate']!r}.")
        return settings

    @staticmethod
    def _check_step_size(step_size):
        if step_size is None:
            return None
        value = np.asarray(step_size, dtype=float)
        if value.ndim > 1 or not np.all(np.isfinite(value)) or not np.all(value > 0):
            raise ValueError(f"FlowMC: step_size must be a positive scalar or (d,) vector, got "
                             f"{step_size!r}.")
        return value

    @staticmethod
    def _check_matrix(matrix):
        if matrix is None:
            return None
        value = np.asarray(matrix, dtype=float)
        if value.ndim > 2 or not np.all(np.isfinite(value)):
            raise ValueError(f"FlowMC: inverse_mass_matrix must be a finite scalar, (d,) or "
                             f"(d, d) array, got shape {value.shape}.")
        return value

    @classmethod
    def from_bundle_config(cls, model, bundle_config, *, local_tuning="warmup", **overrides):
        """A FlowMC from GWKokab's flowMC ``bundle_config`` (flat or nested with ``data_dump``).

        Keys map onto flowMC 0.6 as described in :mod:`hierax.infer.flowmc_config`:
        ``local_sampler_name`` picks the bundle, ``rq_spline_range`` is applied
        by hierax, ``n_leapfrog`` has no effect with MALA (warned), and the
        hand-tuned ``step_size`` / ``condition_matrix`` are replaced by the NUTS
        warmup's values (warned) unless ``local_tuning="config"``.
        ``overrides`` are further FlowMC arguments (e.g. ``warmup_steps``).
        """
        from hierax.infer.flowmc_config import flowmc_arguments

        arguments = flowmc_arguments(bundle_config, local_tuning=local_tuning)
        return cls(model, **{**arguments, **overrides})

    # -- running -------------------------------------------------------------------

    def run(self, rng_key, *args, **kwargs):
        """NUTS warmup, then flowMC's training and production loops.

        A second ``run`` on arguments of the same shapes reuses the compiled
        warmup, local and global steps and constraining map. To write the run
        to a folder as it goes and resume it after an interrupt, see
        :class:`~hierax.infer.flowmc_checkpoint.CheckpointedFlowMC`.

        Args:
            rng_key: a ``jax.random`` key (the same key gives the same draws).
            *args, **kwargs: the model's arguments.
        """
        keys = run_keys(rng_key)
        program, dynamic = self._prepare(keys.program, args, kwargs)
        tuning = self._tune(program, dynamic, keys.warmup, args, kwargs)
        launch = self._launch(program, dynamic, tuning, keys.flow)
        progress = self._progress(launch.sampler)
        try:
            launch.sampler.sample(launch.starts, launch.data)
        finally:
            progress.close()
        self._finish(launch)

    def _launch(self, program, dynamic, tuning, flow_key) -> Launch:
        """The flowMC sampler set up from ``tuning``, with its starts and data."""
        step_size, inverse_mass = self._local_settings(tuning, program.dimension)
        whitened = inverse_mass.ndim == 2
        cholesky = np.linalg.cholesky(inverse_mass) if whitened else None
        metric = np.ones(program.dimension) if whitened else inverse_mass
        n_leapfrog = self.settings["n_leapfrog"] or tuning.n_leapfrog
        log_density = self._cached(("logpdf", whitened),
                                   lambda: make_log_density(program, whitened))
        previous = self._cache.get(("sampler", whitened))
        sampler = build_sampler(program, log_density, self.settings, step_size, metric,
                                n_leapfrog, flow_key, previous=previous)
        self._cache[("sampler", whitened)] = sampler
        starts = tuning.starts if cholesky is None else np.linalg.solve(
            cholesky, tuning.starts.T).T
        data = {"dynamic": dynamic}
        if whitened:
            data["cholesky"] = jnp.asarray(cholesky, program.dtype)
        local_tuning = tuning._replace(step_size=step_size, inverse_mass_matrix=inverse_mass,
                                       n_leapfrog=n_leapfrog)
        return Launch(sampler, jnp.asarray(starts, program.dtype), data, cholesky, dynamic,
                      local_tuning)

    def _progress(self, sampler, loops_done=0) -> LoopProgress:
        """Per-loop progress bars attached to ``sampler`` (``loops_done`` loops behind it)."""
        progress = LoopProgress(self.settings["n_training_loops"],
                                self.settings["n_production_loops"], self.settings["progress_bar"])
        progress.attach(sampler, loops_done)
        return progress

    def _finish(self, launch) -> None:
        """The finished run's draws, statistics and local tuning into this object."""
        self._collect(launch.sampler.resources, launch.cholesky, launch.dynamic)
        self.local_tuning = launch.local_tuning

    def _prepare(self, key, args, kwargs):
        """The model program (kept while the argument shapes stay) and this run's arrays."""
        from hierax.infer.program import ModelProgram

        program = ModelProgram(self.model, args, kwargs, self.init_strategy, key)
        if self._program is None or self._program.static_key != program.static_key:
            self._program = program
            self._cache = {}
        return self._program, program.split.dynamic

    def _cached(self, name, factory):
        if name not in self._cache:
            self._cache[name] = factory()
        return self._cache[name]

    def _tune(self, program, dynamic, key, args, kwargs, run_warmup=None) -> LocalTuning:
        """Local step size, inverse mass matrix and starts: NUTS warmup or the given values.

        ``run_warmup``: how the NUTS warmup runs (see
        :func:`~hierax.infer.flowmc_warmup.nuts_local_tuning`).
        """
        settings = self.settings
        if settings["warmup_steps"] == 0:
            starts = program.initial_positions(key, settings["n_chains"], dynamic)
            return LocalTuning(float(np.mean(self.step_size)), np.ones(program.dimension),
                               settings["n_leapfrog"] or 10, np.asarray(starts), 0)
        return nuts_local_tuning(
            self.model, program, dynamic, key, args, kwargs,
            num_warmup=settings["warmup_steps"], num_chains=settings["warmup_chains"],
            num_starts=settings["n_chains"], dense_mass=settings["dense_mass"],
            target_accept_prob=settings["target_accept_prob"],
            max_tree_depth=settings["max_tree_depth"], init_strategy=self.init_strategy,
            progress_bar=settings["progress_bar"], cache=self._cache, run_warmup=run_warmup)

    def _local_settings(self, tuning, dimension):
        """``(step_size, inverse_mass_matrix)``: explicit values where given, else warmup's."""
        step_size = tuning.step_size if self.step_size is None else self.step_size
        inverse_mass = tuning.inverse_mass_matrix if self.inverse_mass_matrix is None \
            else self.inverse_mass_matrix
        inverse_mass = np.asarray(inverse_mass, dtype=float)
        if inverse_mass.ndim == 0:
            inverse_mass = np.full(dimension, float(inverse_mass))
        expected = ((dimension,), (dimension, dimension))
        if inverse_mass.shape not in expected:
            raise ValueError(f"FlowMC: inverse_mass_matrix has shape {inverse_mass.shape}; the "
                             f"model has {dimension} unconstrained dimensions, so expected "
                             f"{expected[0]} or {expected[1]}.")
        if np.ndim(step_size) == 1 and np.shape(step_size) != (dimension,):
            raise ValueError(f"FlowMC: step_size has shape {np.shape(step_size)}; expected a "
                             f"scalar or ({dimension},).")
        if np.ndim(step_size) == 1 and inverse_mass.ndim == 2:
            raise ValueError("FlowMC: a per-dimension step_size cannot be combined with a dense "
                             "inverse_mass_matrix; give a scalar step_size.")
        return step_size, inverse_mass

    def _collect(self, resources, cholesky, dynamic):
        positions, fields, acceptance, loss = read_buffers(resources)
        if cholesky is not None:
            positions = positions @ cholesky.T
        program = self._program
        chains, draws, dimension = positions.shape

        def constrain(flat, dynamic):
            return jax.lax.map(lambda z: program.postprocess(z, dynamic), flat,
                               batch_size=min(256, flat.shape[0]))

        flat = jnp.asarray(positions.reshape(-1, dimension), program.dtype)
        samples = self._cached("constrain", lambda: jax.jit(constrain))(flat, dynamic)
        self._samples = {name: np.asarray(value).reshape((chains, draws) + np.shape(value)[1:])
                         for name, value in samples.items()}
        fields["potential_energy"] = -fields.pop("log_density")
        self._extra_fields = fields
        self.acceptance = acceptance
        self.training_loss = loss

    # -- results -------------------------------------------------------------------

    def _require_run(self):
        if self._samples is None:
            raise RuntimeError("FlowMC has no draws yet: call run() first.")

    @property
    def posterior_draws(self) -> str:
        """Which draws :meth:`get_samples` returns."""
        return POSTERIOR_DRAWS

    def get_samples(self, group_by_chain=False):
        """Constrained production draws per site.

        Shaped ``(chains, draws, ...)``, or ``(chains * draws, ...)`` chain after chain.
        """
        self._require_run()
        return {name: jnp.asarray(value if group_by_chain
                                  else value.reshape((-1,) + value.shape[2:]))
                for name, value in self._samples.items()}

    def get_extra_fields(self, group_by_chain=False):
        """Per-draw statistics of the production draws.

        Returns:
            dict with ``potential_energy`` (minus the log density in
            unconstrained space), ``global_move`` (True where the draw follows
            a flow-proposal step, False after a local step) and ``accept_prob``
            (acceptance of that step, averaged over its thinning window);
            ``(chains, draws)`` or flattened. Acceptance rates by phase
            (``training``/``production``) and move (``local``/``global``) are
            in :attr:`acceptance`.
        """
        self._require_run()
        return {name: jnp.asarray(value if group_by_chain else value.reshape(-1))
                for name, value in self._extra_fields.items()}

    def print_summary(self, prob=0.9, exclude_deterministic=True):
        """Mean, sd, interval, bulk ESS and R-hat per site across chains, and acceptance rates."""
        from hierax.diagnostics import print_summary

        self._require_run()
        samples = self._samples
        if exclude_deterministic:
            samples = {k: v for k, v in samples.items() if k in self._program.latent_names}
        rates = self.acceptance
        extra = {
            "draws": POSTERIOR_DRAWS,
            "acceptance (local/global), training": _rates_text(rates["training"]),
            "acceptance (local/global), production": _rates_text(rates["production"]),
        }
        print_summary(samples, prob=prob, group_by_chain=True, extra=extra)


def _rates_text(rates):
    return f"{rates['local']:.3f} / {rates['global']:.3f}"
