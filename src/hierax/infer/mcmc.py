"""The multi-chain MCMC driver.

:class:`MCMC` runs a kernel (:class:`~hierax.infer.NUTS`, :class:`~hierax.infer.HMC`)
for ``num_warmup`` adaptation steps and ``num_samples`` draws on several chains.

How a run is executed:

- Each chain's state is a :class:`ChainState` pytree. The key of iteration
  ``i`` is ``fold_in(chain_key, i)``, so the draws do not depend on how the
  run is split into pieces: with or without a progress bar, in one call or
  continued later from ``last_state``, the same key gives the same draws.
- Warmup and sampling are each one compiled loop with dynamic bounds; the
  progress bar runs them piece by piece. Draws are written into preallocated
  buffers inside the loop, with no host round trip per iteration.
- Array arguments of the model are traced inputs, so a second ``run`` on data
  of the same shapes reuses the compiled program.
- ``chain_method``: ``"sequential"`` (one chain after another, one
  compilation), ``"vectorized"`` (``vmap`` over chains), ``"parallel"``
  (chains spread over devices with ``shard_map``). ``"parallel"`` on a single
  CPU device runs each chain's compiled loop in its own host thread, so that
  the chains share the cores (XLA leaves a core idle at every synchronisation
  inside one chain's step; on a 2-core CPU, four NUTS chains of a population
  likelihood took 34 s in threads against 40 s one after the other, and slice
  sampling 64 s against 75 s, BENCHMARKS.md); the draws are those of
  ``"sequential"``. On a single accelerator it runs
  vectorized and says so.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.infer.interrupts import interrupt_guard, raise_if_interrupted
from hierax.infer.progress import Pieces, ProgressBar

__all__ = ["MCMC", "ChainState"]

_CHAIN_METHODS = ("sequential", "parallel", "vectorized")
# How ``"parallel"`` runs on one CPU device: chains one per host thread, each
# executing the sequential program (see the module docstring).
_THREADS = "threads"


class ChainState(NamedTuple):
    """The full state of one chain (a leading chain dim when several run together).

    Attributes:
        iteration: number of transitions taken so far (warmup included).
        rng_key: the chain's key; iteration ``i`` uses ``fold_in(rng_key, i)``.
        kernel_state: the kernel's state (position, adaptation, step size, ...).
        num_divergences: divergent transitions so far (warmup and sampling).
    """

    iteration: Any
    rng_key: Any
    kernel_state: Any
    num_divergences: Any


def _single_key(rng_key):
    """One raw key from ``rng_key``, which may have a leading chain dim (``last_state.rng_key``).

    When a run continues from a saved state, the chains use their own stored
    keys; this key only seeds the bookkeeping trace of the model.
    """
    if jnp.issubdtype(jnp.result_type(rng_key), jax.dtypes.prng_key):
        # Typed keys become raw key data, which the host-side bookkeeping can hold.
        rng_key = jax.random.key_data(rng_key)
    key = np.asarray(rng_key)
    if key.ndim == 1:
        return rng_key
    return jnp.asarray(key.reshape(-1, key.shape[-1])[0])


def _check_positive_int(name, value, allow_zero=False):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or (
        value < 0 if allow_zero else value < 1
    ):
        least = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"MCMC: {name} must be {least} int, got {value!r}.")
    return int(value)


class MCMC:
    """Run an MCMC kernel on one or more chains (NumPyro's ``MCMC``).

    Args:
        sampler: the kernel, e.g. ``NUTS(model)``.
        num_warmup: adaptation steps (discarded).
        num_samples: draws kept per chain (before thinning).
        num_chains: number of chains.
        thinning: keep every ``thinning``-th draw.
        postprocess_fn: optional function applied to each draw's constrained values.
        chain_method: ``"parallel"`` (the default, as in NumPyro), ``"sequential"`` or
            ``"vectorized"`` (see the module docstring). On one CPU device,
            ``"parallel"`` runs the chains in host threads, the fastest way there
            (four NUTS chains of eight schools: 0.31 s against 0.51 s one after the
            other and 0.42 s vectorized, BENCHMARKS.md); on one accelerator it runs
            them vectorized and says so.
        progress_bar: show progress (phase, step size, divergences so far).
        jit_model_args: array arguments are traced inputs by default, so new
            data of the same shapes never recompiles. A model that needs their
            concrete values (``np.unique(x)``, Python ``if`` on data) gets them as
            constants instead, as in NumPyro, and recompiles when they change;
            ``jit_model_args=True`` makes that an error instead.

    Example::

        >>> import jax, jax.numpy as jnp
        >>> import hierax, hierax.distributions as dist
        >>> from hierax.infer import MCMC, NUTS
        >>> def model(y):
        ...     mu = hierax.sample("mu", dist.Normal(0.0, 10.0))
        ...     hierax.sample("y", dist.Normal(mu, 1.0), obs=y)
        >>> mcmc = MCMC(NUTS(model), num_warmup=200, num_samples=200, progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0), jnp.array([0.5, 1.5]))
        >>> mcmc.get_samples()["mu"].shape
        (200,)
    """

    def __init__(self, sampler, *, num_warmup, num_samples, num_chains=1, thinning=1,
                 postprocess_fn=None, chain_method="parallel", progress_bar=True,
                 jit_model_args=False):
        if chain_method not in _CHAIN_METHODS:
            raise ValueError(
                f"MCMC: chain_method must be one of {_CHAIN_METHODS}, got {chain_method!r}."
            )
        self.sampler = sampler
        self.num_warmup = _check_positive_int("num_warmup", num_warmup, allow_zero=True)
        self.num_samples = _check_positive_int("num_samples", num_samples)
        self.num_chains = _check_positive_int("num_chains", num_chains)
        self.thinning = _check_positive_int("thinning", thinning)
        if self.thinning > self.num_samples:
            raise ValueError(
                f"MCMC: thinning={thinning} exceeds num_samples={num_samples}."
            )
        self.postprocess_fn = postprocess_fn
        self.chain_method = chain_method
        self.progress_bar = bool(progress_bar)
        self.jit_model_args = jit_model_args
        self.post_warmup_state = None
        self.last_state = None
        self._program = None
        self._compiled = {}
        self._samples = None
        self._extra_fields = None
        self._dynamic = None
        self._method_used = None

    # -- setup -------------------------------------------------------------------

    @property
    def num_kept(self) -> int:
        return self.num_samples // self.thinning

    def _resolve_chain_method(self):
        if self.num_chains == 1:
            return "sequential", 1
        if self.chain_method != "parallel":
            return self.chain_method, 1
        devices = jax.local_device_count()
        usable = max(d for d in range(1, min(devices, self.num_chains) + 1)
                     if self.num_chains % d == 0)
        if usable == 1 and jax.local_devices()[0].platform == "cpu":
            return _THREADS, 1
        if usable == 1:
            warnings.warn(
                f"chain_method='parallel': only {devices} device(s) can run the "
                f"{self.num_chains} chains, so hierax runs them vectorized on one device.",
                stacklevel=3,
            )
            return "vectorized", 1
        return "parallel", usable

    def _prepare(self, rng_key, args, kwargs, init_params):
        program = self.sampler.build_program(rng_key, args, kwargs, init_params,
                                             num_chains=self.num_chains,
                                             jit_model_args=self.jit_model_args)
        if self._program is None or self._program.static_key != program.static_key:
            self._program = program
            self._compiled = {}
        self._dynamic = program.split.dynamic
        return self._program

    def _initial_chain_state(self, rng_key, init_params):
        program = self._program
        if init_params is None:  # a model (a potential_fn needs init_params)
            # One compiled call finds the starts and builds the chains' states.
            start = self._compiled_fn("start", self._make_start)
            positions, valid, state = start(rng_key, self._dynamic)
            program.require_valid(positions, valid, self._dynamic)
            return state
        positions = self._positions_from(init_params)
        program.check_positions(positions, self._dynamic)
        init_state = self._compiled_fn("init", lambda: jax.jit(self._init_chains_fn()))
        return init_state(rng_key, positions, self._dynamic)

    def _positions_from(self, init_params):
        """Flat starts ``(num_chains, d)`` from unconstrained ``init_params``.

        Values may carry a leading chain dim, or be one start shared by every chain.
        """
        program = self._program
        size = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(init_params))
        if size == program.dimension:
            single = program.ravel(init_params)
            return jnp.broadcast_to(single, (self.num_chains, program.dimension))
        if size == self.num_chains * program.dimension:
            return jax.vmap(program.ravel)(init_params)
        raise ValueError(
            f"init_params has {size} values; expected {program.dimension} (one start for every "
            f"chain) or {self.num_chains} x {program.dimension} (a leading chain dim)."
        )

    # -- compiled pieces ---------------------------------------------------------

    def _compiled_fn(self, name, factory):
        key = (name, self._method_used)
        if key not in self._compiled:
            self._compiled[key] = factory()
        return self._compiled[key]

    def _init_chains_fn(self):
        """``init_chains(rng_key, positions, dynamic)``: the chains' initial ChainState."""
        program, sampler, num_warmup = self._program, self.sampler, self.num_warmup

        def init_one(position, dynamic):
            return sampler.init_state(position, program, dynamic, num_warmup)

        def init_chains(rng_key, positions, dynamic):
            num_chains = positions.shape[0]
            chain_keys = jax.random.split(jax.random.fold_in(rng_key, 1), num_chains)
            kernel_states = jax.vmap(init_one, in_axes=(0, None))(positions, dynamic)
            zeros = jnp.zeros((num_chains,), jnp.int32)
            return ChainState(zeros, chain_keys, kernel_states, zeros)

        return init_chains

    def _make_start(self):
        """``start(rng_key, dynamic) -> (positions, valid, ChainState)`` (compiled)."""
        program, num_chains, init_chains = self._program, self.num_chains, self._init_chains_fn()

        def start(rng_key, dynamic):
            positions, valid = program.find_initial_positions(rng_key, num_chains, dynamic)
            return positions, valid, init_chains(rng_key, positions, dynamic)

        return jax.jit(start)

    def _loop(self):
        """``run(chain, buffers, first, start, stop, dynamic)``: iterations ``start .. stop - 1``.

        One compiled program serves warmup and sampling: iterations below
        ``num_warmup`` run the kernel's adaptation around the transition;
        iteration ``i >= first`` is recorded in buffer row ``(i - first) / thinning``
        when that is an integer. The loop index is shared by all chains, so
        the adaptation branches stay real branches under ``vmap``.
        """
        program, sampler = self._program, self.sampler
        thinning, num_warmup = self.thinning, self.num_warmup

        def run(chain, buffers, first, start, stop, dynamic):
            def body(i, carry):
                chain, buffers = carry
                key_before, key_step, key_after = jax.random.split(
                    jax.random.fold_in(chain.rng_key, i), 3)
                in_warmup = i < num_warmup
                state = jax.lax.cond(
                    in_warmup,
                    lambda s: sampler.warmup_before(key_before, s, i, num_warmup, program,
                                                    dynamic),
                    lambda s: s, chain.kernel_state)
                state, info = sampler.step(key_step, state, program, dynamic)
                state = jax.lax.cond(
                    in_warmup,
                    lambda s: sampler.warmup_after(key_after, s, info, i, num_warmup, program,
                                                   dynamic),
                    lambda s: s, state)
                fields = sampler.info_fields(info, state)
                step = i - first
                keep = (step >= 0) & (step % thinning == 0)
                index = jnp.where(keep, step // thinning, buffers["z"].shape[0])
                record = {"z": sampler.position(state), **fields}
                buffers = {k: buffers[k].at[index].set(record[k], mode="drop")
                           for k in buffers}
                chain = ChainState(jnp.asarray(i + 1, jnp.int32), chain.rng_key, state,
                                   chain.num_divergences + fields["diverging"].astype(jnp.int32))
                return chain, buffers

            return jax.lax.fori_loop(start, stop, body, (chain, buffers))

        return self._batch(run, num_batched=2, num_unbatched=4)

    def _batch(self, run, num_batched, num_unbatched):
        """Compile ``run`` for the chain method: chains are the leading dim of batched args."""
        in_axes = (0,) * num_batched + (None,) * num_unbatched
        # The chain state and the draw buffers are updated in place: donating
        # them avoids a copy of every buffer at each call.
        donate = tuple(range(num_batched))
        method = self._method_used
        if method in ("sequential", _THREADS):
            return jax.jit(run, donate_argnums=donate)
        vectorized = jax.vmap(run, in_axes=in_axes)
        if method == "vectorized":
            return jax.jit(vectorized, donate_argnums=donate)
        return self._sharded(vectorized, num_batched, num_unbatched)

    def _sharded(self, vectorized, num_batched, num_unbatched):
        from jax.sharding import Mesh, PartitionSpec

        devices = np.array(jax.local_devices()[: self._num_devices])
        mesh = Mesh(devices, ("chains",))
        specs = (PartitionSpec("chains"),) * num_batched + (PartitionSpec(),) * num_unbatched
        out_specs = PartitionSpec("chains")
        mapped = jax.shard_map(vectorized, mesh=mesh, in_specs=specs, out_specs=out_specs,
                               check_vma=False)
        return jax.jit(mapped, donate_argnums=tuple(range(num_batched)))

    def _postprocess_fn(self):
        program = self._program
        # Draws per vectorized batch: on a CPU, batches that keep the model's intermediates
        # in cache (16 draws: 0.12 ms per draw against 0.25 ms with 256 on a 297k-sample
        # population likelihood); on accelerators, wide batches.
        batch = 16 if jax.default_backend() == "cpu" else 256

        def postprocess(z, dynamic):
            return jax.lax.map(lambda zi: program.postprocess(zi, dynamic), z,
                               batch_size=min(batch, z.shape[0]))

        return jax.jit(postprocess)

    # -- running -------------------------------------------------------------------

    def _empty_buffers(self, leading=(), num_rows=None):
        """Host-side zero buffers for the recorded draws (moved to the device on first use)."""
        program = self._program
        n = self.num_kept if num_rows is None else num_rows
        buffers = {"z": np.zeros(leading + (n, program.dimension), program.dtype)}
        for name, (dtype, shape) in self.sampler.info_layout(program).items():
            buffers[name] = np.zeros(leading + (n,) + shape, dtype)
        return buffers

    def _chains_as_groups(self, chain):
        """Split a batched ChainState into the groups the compiled loop takes.

        Sequential (and threaded) chains are sliced on the host, so no device
        computation (and no compilation) is spent on bookkeeping.
        """
        if self._one_chain_per_call():
            host = jax.tree_util.tree_map(np.asarray, chain)
            return [jax.tree_util.tree_map(lambda x, i=i: x[i], host)
                    for i in range(self.num_chains)]
        return [chain]

    @staticmethod
    def _stack_groups(groups, sequential):
        if not sequential:
            return groups[0]
        return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]),
                                      *groups)

    def _one_chain_per_call(self) -> bool:
        return self._method_used in ("sequential", _THREADS)

    def phase_bars(self, phase, chain, stop_iteration, phase_start=None):
        """Progress bars for advancing ``chain`` to ``stop_iteration``: one per chain when
        chains run one per call (sequential, threads), else one for all.

        Returns a list of :class:`~hierax.infer.progress.ProgressBar`; pass it to
        :meth:`_run_phase` to keep one bar across several calls (close each at the end).
        ``phase_start``: where the phase began, when ``chain`` continues it.
        """
        one_per_call = self._one_chain_per_call()
        iterations = np.asarray(chain.iteration).reshape(-1)
        starts = [int(i) for i in iterations] if one_per_call else [int(iterations.min())]
        divergences = np.asarray(chain.num_divergences).reshape(-1)
        baselines = ([int(d) for d in divergences] if one_per_call
                     else [int(divergences.sum())])
        several = len(starts) > 1
        bars = []
        for index, (start, baseline) in enumerate(zip(starts, baselines, strict=True)):
            bar = ProgressBar(phase, start, stop_iteration, enabled=self.progress_bar,
                              label=f"chain {index}" if several else None,
                              position=index if several and self._method_used == _THREADS
                              else None, phase_start=phase_start)
            bar.divergences_before = baseline
            bars.append(bar)
        return bars

    def _run_phase(self, phase, chain, stop_iteration, first, num_rows=None, bars=None):
        """Advance every chain to ``stop_iteration``, recording draws from ``first`` on
        into ``num_rows`` buffer rows (default :attr:`num_kept`).

        The compiled loop runs in pieces of about
        :data:`~hierax.infer.progress.PIECE_SECONDS`, so a Ctrl-C lands within about
        that long, and is never lost (:mod:`hierax.infer.interrupts`); with several
        chains in threads, the others stop after their current piece. ``bars``: from
        :meth:`phase_bars`, kept open (a bar spanning several calls); by default this
        call makes and closes its own.

        Returns ``(chain, buffers)``.
        """
        one_per_call = self._one_chain_per_call()
        loop = self._compiled_fn("loop", self._loop)
        groups = self._chains_as_groups(chain)
        leading = () if one_per_call else (self.num_chains,)
        first = np.int32(first)
        concurrent = self._method_used == _THREADS and len(groups) > 1
        own_bars = bars is None
        if own_bars:
            bars = self.phase_bars(phase, chain, stop_iteration)
        stopping = threading.Event()

        def advance(group, buffers, bar):
            position = int(np.min(np.asarray(group.iteration)))
            for stop in Pieces(position, stop_iteration, max_piece=bar.max_piece()):
                raise_if_interrupted()
                if stopping.is_set():  # another chain failed or the run was interrupted
                    break
                group, buffers = loop(group, buffers, first, np.int32(position),
                                      np.int32(stop), self._dynamic)
                jax.block_until_ready(group.iteration)  # the piece's time, for Pieces
                bar.update(stop, self._progress_stats(group, bar.divergences_before))
                position = stop
            return group, buffers

        inputs = [(group, self._empty_buffers(leading, num_rows)) for group in groups]
        try:
            with interrupt_guard():
                if not concurrent:
                    results = [advance(g, b, bar)
                               for (g, b), bar in zip(inputs, bars, strict=True)]
                else:
                    results = self._advance_in_threads(advance, inputs, bars, loop, first,
                                                       stopping)
        finally:
            if own_bars:
                for bar in bars:
                    bar.close()
        chain = self._stack_groups([g for g, _ in results], one_per_call)
        buffers = self._stack_groups([b for _, b in results], one_per_call)
        return chain, buffers

    def _advance_in_threads(self, advance, inputs, bars, loop, first, stopping):
        """Each chain's ``advance`` in its own host thread, after compiling in this one."""
        group, buffers = inputs[0]
        at = np.int32(np.min(np.asarray(group.iteration)))
        inputs[0] = loop(group, buffers, first, at, at, self._dynamic)  # an empty range compiles
        pool = ThreadPoolExecutor(max_workers=min(len(inputs), 2 * (os.cpu_count() or 1)))
        try:
            futures = [pool.submit(advance, g, b, bar)
                       for (g, b), bar in zip(inputs, bars, strict=True)]
            return [future.result() for future in futures]
        except BaseException:
            # Ctrl-C or a failed chain: the others stop after their current piece.
            stopping.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _progress_stats(self, group, divergences_before):
        """Mean step size over chains, and divergences in this phase so far."""
        step_size = np.asarray(self.sampler.step_size(group.kernel_state))
        divergences = int(np.sum(np.asarray(group.num_divergences))) - divergences_before
        return {"step_size": float(np.mean(step_size)), "divergences": divergences}

    def _start(self, rng_key, args, kwargs, init_params):
        if rng_key is None:
            raise ValueError("MCMC.run: rng_key is required (e.g. jax.random.PRNGKey(0)).")
        rng_key = _single_key(rng_key)
        self._method_used, self._num_devices = self._resolve_chain_method()
        self._prepare(rng_key, args, kwargs, init_params)
        return rng_key

    def warmup(self, rng_key, *args, extra_fields=(), collect_warmup=False, init_params=None,
               **kwargs):
        """Run only the warmup; the next :meth:`run` starts sampling from its end state.

        With ``collect_warmup=True`` the warmup iterations are kept (every
        ``thinning``-th), and :meth:`get_samples` and :meth:`get_extra_fields`
        return them, with the ``extra_fields`` asked for, until the next ``run``.
        """
        rng_key = self._start(rng_key, args, kwargs, init_params)
        chain = self._initial_chain_state(rng_key, init_params)
        if not collect_warmup:
            chain, _ = self._run_phase("warmup", chain, self.num_warmup,
                                       first=self.num_warmup)
        else:
            rows = -(-self.num_warmup // self.thinning)
            chain, buffers = self._run_phase("warmup", chain, self.num_warmup, first=0,
                                             num_rows=rows)
            self._collect(buffers, extra_fields, rows)
        self.post_warmup_state = chain
        self.last_state = chain

    def run(self, rng_key, *args, extra_fields=(), init_params=None, **kwargs):
        """Warm up (unless ``post_warmup_state`` is set) and draw ``num_samples`` per chain.

        To continue a finished run, set ``mcmc.post_warmup_state = mcmc.last_state``
        and call ``run`` again: the new draws are those an uninterrupted longer
        run would have made.

        Args:
            rng_key: a ``jax.random`` key.
            *args, **kwargs: the model's arguments.
            extra_fields: names of per-draw sampler statistics to keep (see
                :meth:`get_extra_fields`); ``diverging`` is always kept.
            init_params: unconstrained starting values (dict site -> array,
                with a leading chain dim when ``num_chains > 1``).
        """
        rng_key = self._start(rng_key, args, kwargs, init_params)
        if self.post_warmup_state is not None:
            self._check_resume_state(self.post_warmup_state)
            # The compiled loop consumes (donates) its input state; the user's copy stays valid.
            chain = jax.tree.map(lambda leaf: jnp.array(leaf, copy=True), self.post_warmup_state)
        else:
            chain = self._initial_chain_state(rng_key, init_params)
            if self.num_warmup:
                chain, _ = self._run_phase("warmup", chain, self.num_warmup,
                                           first=self.num_warmup)
        start = int(np.min(np.asarray(chain.iteration)))
        chain, buffers = self._run_phase("sample", chain, start + self.num_samples, first=start)
        self.last_state = chain
        self._collect(buffers, extra_fields)
        if self.progress_bar and self.num_divergences:
            self._report_divergences()

    def _report_divergences(self):
        """The progress bar's closing line: how many draws diverged, and what may help."""
        total = self.num_chains * self.num_kept
        lines = [f"{self.num_divergences} of {total} draws were divergent transitions."]
        lines += self.divergence_hints()
        print("\n".join(lines), file=sys.stderr)

    def _check_resume_state(self, chain):
        chains = jnp.shape(chain.iteration)[0]
        if chains != self.num_chains:
            raise ValueError(
                f"MCMC.run: post_warmup_state has {chains} chains but num_chains="
                f"{self.num_chains}."
            )

    def _collect(self, buffers, extra_fields, num_rows=None):
        num_rows = self.num_kept if num_rows is None else num_rows
        buffers = {k: np.asarray(v) for k, v in buffers.items()}
        positions = buffers.pop("z")
        flat = positions.reshape((-1, positions.shape[-1]))
        postprocess = self._compiled_fn("postprocess", self._postprocess_fn)
        samples = postprocess(flat, self._dynamic)
        if self.postprocess_fn is not None:
            samples = jax.vmap(self.postprocess_fn)(samples)
        self._samples = {
            name: np.asarray(value).reshape((self.num_chains, num_rows)
                                            + np.shape(value)[1:])
            for name, value in samples.items()
        }
        unknown = set(extra_fields) - set(buffers) - {"z"}
        if unknown:
            raise ValueError(
                f"MCMC.run: unknown extra_fields {sorted(unknown)}; available: "
                f"{sorted(buffers)}."
            )
        self._extra_fields = buffers

    def _adopt_results(self, samples, extra_fields, last_state, wanted_fields=()):
        """Take a whole run's draws assembled elsewhere (:mod:`hierax.infer.resumable`)."""
        unknown = set(wanted_fields) - set(extra_fields)
        if unknown:
            raise ValueError(
                f"MCMC.run: unknown extra_fields {sorted(unknown)}; available: "
                f"{sorted(extra_fields)}."
            )
        self._samples = {k: np.asarray(v) for k, v in samples.items()}
        self._extra_fields = {k: np.asarray(v) for k, v in extra_fields.items()}
        self.last_state = last_state

    # -- results ---------------------------------------------------------------------

    def _require_run(self):
        if self._samples is None:
            raise RuntimeError("MCMC has no draws yet: call run() first.")

    def get_samples(self, group_by_chain=False):
        """Draws per site, shaped ``(chains, draws, ...)`` or ``(chains * draws, ...)``."""
        self._require_run()
        if group_by_chain:
            return {k: jnp.asarray(v) for k, v in self._samples.items()}
        return {k: jnp.asarray(v.reshape((-1,) + v.shape[2:])) for k, v in self._samples.items()}

    def get_extra_fields(self, group_by_chain=False):
        """Per-draw statistics: diverging, accept_prob, num_steps, tree_depth, energy, ..."""
        self._require_run()
        fields = self._extra_fields
        if group_by_chain:
            return {k: jnp.asarray(v) for k, v in fields.items()}
        return {k: jnp.asarray(v.reshape((-1,) + v.shape[2:])) for k, v in fields.items()}

    def print_summary(self, prob=0.9, exclude_deterministic=True):
        """Print mean, std, median, interval, n_eff and r_hat per site, and divergences."""
        from hierax.diagnostics import print_summary

        self._require_run()
        samples = self._samples
        latent_names = self._program.latent_names
        if exclude_deterministic and latent_names:
            samples = {k: v for k, v in samples.items() if k in latent_names}
        fields = self._extra_fields
        extra = {"num_divergences": int(np.sum(np.asarray(fields["diverging"])))}
        if extra["num_divergences"]:
            extra["hints"] = self.divergence_hints()
        if "tree_depth" in fields:
            max_depth = getattr(self.sampler, "max_tree_depth", None)
            if max_depth is not None:
                extra["num_max_tree_depth"] = int(
                    np.sum(np.asarray(fields["tree_depth"]) >= max_depth))
                extra["max_tree_depth"] = max_depth
        print_summary(samples, prob=prob, group_by_chain=True, extra=extra)

    def save(self, path, **groups) -> None:
        """Write draws, statistics, settings, the sampler state and ArviZ groups to ``path``.

        Keyword arguments (``prior``, ``posterior_predictive``, ``log_likelihood``,
        ``coords``, ``dims``, ``model_args``, ``model_kwargs``) are those of
        :func:`hierax.infer.checkpoint.save`; ``hierax.load(path)`` reads the run back,
        ``hierax.to_inference_data`` of it gives the saved groups, and
        ``hierax.infer.checkpoint.resume(mcmc, path)`` continues the run.
        """
        from hierax.infer.checkpoint import save

        save(self, path, **groups)

    def divergence_hints(self) -> list[str]:
        """Advice on the funnels that usually cause divergences (see :mod:`hierax.infer.hints`)."""
        from hierax.infer.hints import divergence_hints

        self._require_run()
        model = getattr(self.sampler, "model", None)
        if model is None:
            return []
        args, kwargs = self._program.arguments(self._dynamic)
        first_draw = {name: self._samples[name][0, 0] for name in self._program.latent_names}
        try:
            return divergence_hints(model, args, kwargs, first_draw)
        except Exception as error:  # advice must never break a finished run
            return [f"(no reparameterization hint: {type(error).__name__}: {error})"]

    @property
    def num_divergences(self) -> int:
        self._require_run()
        return int(np.sum(np.asarray(self._extra_fields["diverging"])))

    @property
    def chain_method_used(self) -> str:
        """How the chains actually ran: the ``chain_method``, except that ``"parallel"``
        on one device runs as ``"threads"`` (CPU) or ``"vectorized"`` (accelerator)."""
        return self._method_used

