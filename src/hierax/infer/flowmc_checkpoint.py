"""flowMC runs that survive interrupts, resumed to the draws of an uninterrupted run.

:class:`CheckpointedFlowMC` runs a :class:`~hierax.infer.flowmc.FlowMC` as
``FlowMC.run`` does (NUTS warmup, then flowMC's strategy loop) and writes its
progress to a folder as it goes::

    sampler = FlowMC(model, n_chains=20, ...)
    CheckpointedFlowMC(sampler, "run_state").run(jax.random.PRNGKey(0), data)
    # interrupted? run the same lines with resume=True:
    CheckpointedFlowMC(sampler, "run_state", resume=True).run(jax.random.PRNGKey(0), data)
    sampler.get_samples()   # the draws of an uninterrupted sampler.run(...)

Folder layout::

    run_state/
        warmup/segment_00000.npz ...  the NUTS warmup, a segment every few seconds
                                      (hierax.infer.resumable.CheckpointedWarmup)
        flowmc/segment_00000.npz ...  flowMC's whole run state after one strategy
                                      call; the newest two are kept

What is saved, and when:

- the NUTS warmup that tunes flowMC's local kernel: segments of
  :class:`~hierax.infer.resumable.CheckpointedWarmup` (each chain's state at the
  segment's end), one every ``segment_seconds``;
- flowMC's strategy loop, driven here strategy by strategy (flowMC's own
  checkpointing stays off: it also changes JAX's global compilation-cache
  settings): after a strategy call once ``segment_seconds`` have passed since
  the last checkpoint, and always at the end of the training phase and at the
  end of the run, a checkpoint with the number of strategy calls done, the
  loop's rng key, the chains' last positions, every resource (buffers with
  their cursors, local kernel, flow, flow proposal, optimizer state, the
  ``State`` resource), the strategies' cursors and counters
  (:mod:`hierax.infer.flowmc_state`), and the warmup's result (step size,
  inverse mass matrix, leapfrog steps, starts);
- with each piece its settings (every FlowMC setting but ``progress_bar`` and
  ``verbose``, the model's dimension and dtype, a digest of the model's array
  arguments, the key, flowMC's version) and a SHA-256 digest over all of it.

Why the draws are identical: the run's key is split as ``FlowMC.run`` splits
it; the warmup continued from a segment is bit for bit the uninterrupted one
(see :mod:`hierax.infer.resumable`); the strategy loop makes the calls
``flowMC.Sampler.sample`` makes, in its order, and a checkpoint holds
everything the calls after it read (resources, Python-side cursors and
counters, key, positions) with the same values, dtypes and weak types, put
back into a sampler built from the same settings, so the remaining calls run
the same compiled steps on the same inputs.

Every piece is written atomically and read back and checked against its digest.
Resuming checks every flowMC checkpoint before any work and continues from the
newest intact one; a damaged one is named through ``log`` and removed, and
when none is left the run continues from the warmup's segments (checked the
same way). Pieces written with other settings are refused with a ValueError
naming the settings that differ. Nothing is unpickled: pieces hold JSON and
arrays only. Still, resume only from folders you made.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from hierax.infer.flowmc import raw_key, run_keys
from hierax.infer.flowmc_state import encode_sampler, restore_sampler
from hierax.infer.flowmc_warmup import LocalTuning
from hierax.infer.interrupts import interrupt_guard, raise_if_interrupted
from hierax.infer.resumable import (
    SEGMENT_SECONDS,
    CheckpointedWarmup,
    DamagedSegment,
    SegmentStore,
    _digest,
)

__all__ = ["KEPT_CHECKPOINTS", "CheckpointedFlowMC", "holds_run", "run_settings"]

KEPT_CHECKPOINTS = 2
"""flowMC checkpoints kept: the newest, and one to fall back to if it is damaged."""

WARMUP_FOLDER = "warmup"
FLOWMC_FOLDER = "flowmc"
_UNSAVED_SETTINGS = ("progress_bar", "verbose")


def _data_digest(dynamic) -> str:
    """SHA-256 of the model's array arguments (shapes, dtypes and values)."""
    import jax

    leaves = {str(i): np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(dynamic))}
    return _digest("", leaves)


def _listed(value):
    return None if value is None else np.asarray(value).tolist()


def run_settings(flow, program, dynamic, rng_key) -> dict:
    """What a resumed run must share with the run that wrote the folder (JSON values)."""
    settings = {k: v for k, v in flow.settings.items() if k not in _UNSAVED_SETTINGS}
    settings.update(step_size=_listed(flow.step_size),
                    inverse_mass_matrix=_listed(flow.inverse_mass_matrix),
                    dimension=int(program.dimension), dtype=np.dtype(program.dtype).str,
                    model_data=_data_digest(dynamic),
                    rng_key=np.asarray(raw_key(rng_key)).tolist(),
                    flowmc_version=importlib.metadata.version("flowMC"))
    return json.loads(json.dumps(settings))


def _check_settings(path, saved: dict, settings: dict) -> None:
    """A ValueError naming every setting in which ``saved`` differs from ``settings``."""
    changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if changed:
        details = ", ".join(f"{k} {saved.get(k)!r} -> {settings.get(k)!r}" for k in changed)
        raise ValueError(f"cannot resume from {path}: it was written by a flowMC run with "
                         f"other settings ({details}); use the same settings or another "
                         "folder.")


def holds_run(folder) -> bool:
    """Whether ``folder`` holds pieces of a checkpointed flowMC run (an interrupted or
    finished one): what ``resume=True`` continues."""
    folder = Path(folder)
    return any(SegmentStore(folder / part).indices() for part in (WARMUP_FOLDER, FLOWMC_FOLDER))


def _loops_done(order, done: int) -> int:
    """flowMC loops finished after the first ``done`` strategy calls."""
    return order[:done].count("update_local_step")


class CheckpointedFlowMC:
    """Run a FlowMC into ``folder`` piece by piece; resume it from there after an interrupt.

    Args:
        sampler: a :class:`~hierax.infer.flowmc.FlowMC`; after :meth:`run` its
            ``get_samples``, ``get_extra_fields``, ``print_summary``,
            ``local_tuning``, ``acceptance`` and ``training_loss`` are those of
            an uninterrupted ``sampler.run`` with the same arguments.
        folder: where the pieces go (created if needed; layout in the module docstring).
        resume: continue the run found in ``folder``; without it an earlier run's
            pieces there are an error.
        log: called with one line for each notable event (resuming, a damaged
            piece); default: nothing.
        segment_seconds: wall time between two pieces: the most work an
            interrupt loses (a flowMC strategy call is never split, so a piece
            can take longer).

    Attributes (after :meth:`run`):
        resumed_after: flowMC strategy calls the run continued after (0 when
            it started flowMC from the warmup).
        removed: the flowMC checkpoint files removed as damaged when resuming.
    """

    def __init__(self, sampler, folder, *, resume: bool = False,
                 log: Callable[[str], object] | None = None,
                 segment_seconds: float = SEGMENT_SECONDS):
        self.sampler = sampler
        self.folder = Path(folder)
        self.store = SegmentStore(self.folder / FLOWMC_FOLDER)
        self.resume = resume
        self.log = log or (lambda message: None)
        self.segment_seconds = segment_seconds
        self.resumed_after = 0
        self.removed: list[Path] = []
        self._next_index = 0

    # -- resuming ----------------------------------------------------------------

    def _check_empty(self) -> None:
        """Without ``resume``, the folder must hold no earlier run."""
        if not self.resume and holds_run(self.folder):
            raise ValueError(f"{self.folder} holds an earlier flowMC run; pass resume=True to "
                             "continue it, or use another folder.")

    def _newest_checkpoint(self, settings):
        """The newest intact flowMC checkpoint (None if none); damaged ones are removed."""
        intact, problems = [], []
        for index in self.store.indices():
            try:
                segment = self.store.read(index)
            except DamagedSegment as error:
                problems.append(str(error))
                self.removed.append(self.store.path(index))
                self.store.path(index).unlink(missing_ok=True)
                continue
            _check_settings(segment.path, segment.meta["settings"], settings)
            intact.append(segment)
        self._prune(intact[-1].meta["index"] if intact else -1)
        newest = intact[-1] if intact else None
        if problems:
            where = (f"{newest.path.name} ({newest.meta['done']} flowMC strategy calls done)"
                     if newest else "the end of the NUTS warmup")
            for problem in problems:
                self.log(f"{problem}; removed it and continuing from {where}.")
        return newest

    def _prune(self, newest: int) -> None:
        """Keep the checkpoints up to ``newest`` and the one before; drop leftovers."""
        self.store.remove_from(newest + 1)  # also temporary files of a killed write
        for index in self.store.indices():
            if index <= newest - KEPT_CHECKPOINTS:
                self.store.path(index).unlink(missing_ok=True)
        self._next_index = newest + 1

    def _warmup_runner(self, settings):
        """``run_warmup`` for :func:`~hierax.infer.flowmc_warmup.nuts_local_tuning`."""

        def run_warmup(mcmc, key, model_args, model_kwargs):
            warmup = CheckpointedWarmup(mcmc, self.folder / WARMUP_FOLDER, resume=self.resume,
                                        log=self.log, segment_seconds=self.segment_seconds,
                                        settings=settings)
            warmup.run(key, *model_args, **model_kwargs)
            at, total = warmup.resumed_from, mcmc.num_warmup
            if at:
                self.log(f"continuing the NUTS warmup from iteration {at} of {total}." if at < total
                         else f"the NUTS warmup in {warmup.store.folder} is complete.")

        return run_warmup

    # -- running -----------------------------------------------------------------

    def run(self, rng_key, *args, **kwargs) -> None:
        """Warm up and run flowMC as ``sampler.run`` would, writing a piece every few seconds."""
        flow = self.sampler
        keys = run_keys(rng_key)
        program, dynamic = flow._prepare(keys.program, args, kwargs)
        settings = run_settings(flow, program, dynamic, rng_key)
        self._check_empty()
        saved = self._newest_checkpoint(settings)
        if saved is None:
            tuning = flow._tune(program, dynamic, keys.warmup, args, kwargs,
                                run_warmup=self._warmup_runner(settings))
        else:
            tuning = _saved_tuning(saved)
        launch = flow._launch(program, dynamic, tuning, keys.flow)
        loop = _StrategyLoop(self, launch, settings, tuning)
        if saved is not None:
            loop.restore(saved)
            self.resumed_after = loop.done
            self.log(f"continuing the flowMC run from {saved.path} ({loop.done} of "
                     f"{len(loop.order)} strategy calls done).")
        with interrupt_guard():
            loop.run()
        flow._finish(launch)

    def _write(self, meta: dict, state: dict) -> None:
        """Write the next flowMC checkpoint (checked) and drop the ones no longer kept."""
        index = self._next_index
        self.store.write(index, meta, state, {}, {})
        self._prune(index)


def _saved_tuning(segment) -> LocalTuning:
    """The warmup's result recorded in a flowMC checkpoint."""
    meta, arrays = segment.meta["tuning"], segment.state["tuning"]
    return LocalTuning(step_size=meta["step_size"],
                       inverse_mass_matrix=arrays["inverse_mass_matrix"],
                       n_leapfrog=meta["n_leapfrog"], starts=arrays["starts"],
                       num_divergences=meta["num_divergences"])


class _StrategyLoop:
    """flowMC's strategy loop, strategy by strategy, as ``flowMC.Sampler.sample`` runs it,
    writing a checkpoint through its :class:`CheckpointedFlowMC` when one is due."""

    def __init__(self, owner, launch, settings, tuning):
        sampler = launch.sampler
        self.owner, self.launch, self.settings, self.tuning = owner, launch, settings, tuning
        self.order = list(sampler.strategy_order)
        if "check_early_stop" in self.order:
            raise NotImplementedError("CheckpointedFlowMC: flowMC's early stopping is not "
                                      "supported.")
        self.templates = dict(sampler.resources)
        self.done = 0
        self.key = sampler.rng_key
        self.last_step = jnp.atleast_2d(launch.starts)

    def restore(self, segment) -> None:
        """Continue after the strategy calls recorded in ``segment``."""
        if segment.meta["strategy_order"] != self.order:
            raise ValueError(f"cannot resume from {segment.path}: its flowMC strategy order "
                             "differs from this run's; use the same settings or another folder.")
        sampler = self.launch.sampler
        restore_sampler(sampler, segment.meta, segment.state["resources"], str(segment.path))
        self.done = int(segment.meta["done"])
        self.key = jnp.asarray(segment.state["rng_key"])
        self.last_step = jnp.asarray(segment.state["last_step"])

    def _due(self, since: float) -> bool:
        return (time.perf_counter() - since >= self.owner.segment_seconds
                or self.done in (self.order.index("reset_steppers"), len(self.order)))

    def run(self) -> None:
        """The strategy calls after :attr:`done`, with checkpoints."""
        sampler, data = self.launch.sampler, self.launch.data
        progress = self.owner.sampler._progress(sampler, _loops_done(self.order, self.done))
        since = time.perf_counter()
        try:
            while self.done < len(self.order):
                raise_if_interrupted()
                strategy = sampler.strategies[self.order[self.done]]
                self.key, sampler.resources, self.last_step = strategy(
                    self.key, sampler.resources, self.last_step, data)
                self.done += 1
                if self._due(since):
                    self.owner._write(*self._checkpoint(time.perf_counter() - since))
                    since = time.perf_counter()
        finally:
            progress.close()

    def _checkpoint(self, seconds: float) -> tuple[dict, dict]:
        """``(meta, state)`` of a checkpoint after :attr:`done` strategy calls."""
        meta, resources = encode_sampler(self.launch.sampler, self.templates)
        tuning = self.tuning
        meta.update(settings=self.settings, done=self.done, strategy_order=self.order,
                    seconds=seconds,
                    tuning={"step_size": float(tuning.step_size),
                            "n_leapfrog": int(tuning.n_leapfrog),
                            "num_divergences": int(tuning.num_divergences)})
        state = {"rng_key": np.asarray(self.key), "last_step": np.asarray(self.last_step),
                 "resources": resources,
                 "tuning": {"inverse_mass_matrix": np.asarray(tuning.inverse_mass_matrix),
                            "starts": np.asarray(tuning.starts)}}
        return meta, state
