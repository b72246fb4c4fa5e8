"""MCMC runs that survive interrupts: a run written to a folder segment by segment.

:class:`CheckpointedRun` drives an :class:`~hierax.infer.MCMC` through its
warmup and sampling in *segments* of a few seconds each and writes every
segment to its own file as it ends::

    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=4)
    CheckpointedRun(mcmc, "run_state").run(jax.random.PRNGKey(0), data)
    # killed? run the same lines with resume=True:
    CheckpointedRun(mcmc, "run_state", resume=True).run(jax.random.PRNGKey(0), data)
    mcmc.get_samples()   # the whole run, the draws an uninterrupted run makes

Segment ``k`` (``segment_<k>.npz``) covers iterations ``[start, stop)`` of
every chain, warmup or sampling, and holds the chains' full state at ``stop``
(positions, step sizes, the metric and the adaptation's counters and running
moments: a :class:`~hierax.infer.mcmc.ChainState`), the draws and per-draw
statistics of its sampling iterations, its settings and a SHA-256 digest of all
of it. Iteration ``i`` of a chain uses ``fold_in(chain_key, i)`` and the
warmup's schedule depends only on ``i``, so a run continued from any segment
makes, bit for bit, the draws of the uninterrupted run.

Every segment is written atomically (temporary file, flush, rename) and read
back and checked against its digest before the run goes on. Resuming checks
every segment before any work: the run continues after the last segment of the
unbroken, intact sequence ``0, 1, ...``; a damaged segment is named and it and
the segments after it are removed (they cannot be trusted without it). An
interrupt (Ctrl-C, a killed process) loses at most the segment in progress,
about :data:`SEGMENT_SECONDS` of work.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hierax._files import replace_atomically
from hierax.infer.interrupts import interrupt_guard
from hierax.infer.progress import Pieces
from hierax.infer.state_tree import class_path, decode_state, encode_state

__all__ = ["MAX_SEGMENT_DRAWS", "SEGMENT_SECONDS", "CheckpointedRun", "CheckpointedWarmup",
           "SegmentStore"]

SEGMENT_SECONDS = 10.0
"""Wall time a segment aims at: the most work a killed run loses."""

MAX_SEGMENT_DRAWS = 100
"""Most draws per chain in one sampling segment (the size of the draw buffers)."""

FORMAT_NAME = "hierax-mcmc-segment"
FORMAT_VERSION = 1
_NAME = re.compile(r"segment_(\d{5,})\.npz")


class DamagedSegment(ValueError):
    """A segment file that is missing, unreadable or fails its digest."""


# -- one segment on disk ---------------------------------------------------------------


def _digest(meta_text: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the metadata and every array's key, dtype, shape and bytes."""
    digest = hashlib.sha256(meta_text.encode())
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


class Segment:
    """One segment read back: ``meta`` (dict), ``state`` (ChainState), ``draws`` and
    ``fields`` (dicts name -> ``(chains, kept, ...)`` arrays; empty for warmup)."""

    def __init__(self, path, meta, state, draws, fields):
        self.path, self.meta, self.state = path, meta, state
        self.draws, self.fields = draws, fields

    @property
    def stop(self) -> int:
        return int(self.meta["stop"])


class SegmentStore:
    """The segment files of one run in ``folder`` (see the module docstring)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def path(self, index: int) -> Path:
        return self.folder / f"segment_{index:05d}.npz"

    def indices(self) -> list[int]:
        """Indices of the segment files present, sorted."""
        if not self.folder.is_dir():
            return []
        found = (_NAME.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def write(self, index: int, meta: dict, state, draws: dict, fields: dict) -> None:
        """Write segment ``index`` atomically, then read it back and check its digest.

        Raises:
            OSError: if the file on disk does not read back as written.
        """
        structure, state_arrays = encode_state(state)
        arrays, entries = {}, []
        for group, values in (("state", state_arrays), ("draw", draws), ("field", fields)):
            for name, value in values.items():
                key = f"a{len(entries)}"
                entries.append({"key": key, "group": group, "name": name})
                arrays[key] = np.asarray(value)
        meta = {**meta, "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "index": index, "structure": structure, "arrays": entries}
        meta_text = json.dumps(meta, sort_keys=True)
        digest = _digest(meta_text, arrays)
        path = self.path(index)

        def write(temporary):
            with open(temporary, "wb") as stream:
                np.savez(stream, meta=np.array(meta_text), digest=np.array(digest), **arrays)

        self.folder.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, write)
        try:
            self.read(index)
        except DamagedSegment as error:
            raise OSError(f"{path} did not read back as written ({error}); check the "
                          "disk") from None

    def read(self, index: int) -> Segment:
        """Segment ``index``, checked against its digest.

        Raises:
            DamagedSegment: naming the file and what is wrong with it.
        """
        path = self.path(index)
        if not path.is_file():
            raise DamagedSegment(f"{path} is missing")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta_text = str(data["meta"][()])
                stored = str(data["digest"][()])
                arrays = {k: data[k] for k in data.files if k not in ("meta", "digest")}
            meta = json.loads(meta_text)
        except Exception:  # any failure to read means the file is damaged
            raise DamagedSegment(f"{path} is damaged (truncated or corrupted: it cannot be "
                                 "read)") from None
        if _digest(meta_text, arrays) != stored:
            raise DamagedSegment(f"{path} is damaged (it fails its SHA-256 check: its content "
                                 "changed after it was written)")
        if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
            raise DamagedSegment(f"{path} is not a hierax segment of format version "
                                 f"{FORMAT_VERSION}")
        groups = {"state": {}, "draw": {}, "field": {}}
        for entry in meta["arrays"]:
            groups[entry["group"]][entry["name"]] = arrays[entry["key"]]
        state = decode_state(meta["structure"], groups["state"], str(path))
        return Segment(path, meta, state, groups["draw"], groups["field"])

    def remove_from(self, index: int) -> list[Path]:
        """Delete segments ``index, index + 1, ...`` (returned) and leftover temporary files."""
        removed = [self.path(i) for i in self.indices() if i >= index]
        for path in removed + list(self.folder.glob(".segment_*")):
            path.unlink(missing_ok=True)
        return removed


# -- the run ---------------------------------------------------------------------------


def _settings(mcmc) -> dict:
    """What a resumed run must share with the run that wrote the segments."""
    program = mcmc._program
    return {"num_warmup": mcmc.num_warmup, "num_samples": mcmc.num_samples,
            "num_chains": mcmc.num_chains, "thinning": mcmc.thinning,
            "chain_method": mcmc.chain_method, "sampler": class_path(type(mcmc.sampler)),
            "dimension": int(program.dimension), "dtype": np.dtype(program.dtype).str}


def _slice_rows(values: dict, kept: int) -> dict:
    return {name: np.asarray(value)[:, :kept] for name, value in values.items()}


class CheckpointedRun:
    """Run ``mcmc`` segment by segment into ``folder``; resume from it after an interrupt.

    Args:
        mcmc: an :class:`~hierax.infer.MCMC`; after :meth:`run` its ``get_samples``,
            ``get_extra_fields`` and ``last_state`` describe the whole run.
        folder: where the segments go (created if needed).
        resume: continue the run found in ``folder``; without it an earlier run's
            segments there are an error.
        log: called with one line for each notable event (resuming, a damaged
            segment); default: nothing.
        segment_seconds: wall time a segment aims at (:data:`SEGMENT_SECONDS`).
        max_segment_draws: most draws per chain in a sampling segment (a warmup
            segment takes at most as many iterations as a sampling segment).

    Attributes (after :meth:`run`):
        resumed_from: the iteration the run continued from (0 for a new run).
        removed: the segment files removed as damaged or orphaned when resuming.
    """

    def __init__(self, mcmc, folder, *, resume: bool = False,
                 log: Callable[[str], object] | None = None,
                 segment_seconds: float = SEGMENT_SECONDS,
                 max_segment_draws: int = MAX_SEGMENT_DRAWS):
        self.mcmc = mcmc
        self.store = SegmentStore(folder)
        self.resume = resume
        self.log = log or (lambda message: None)
        self.segment_seconds = segment_seconds
        self.max_segment_draws = max_segment_draws
        self.resumed_from = 0
        self.removed: list[Path] = []

    # -- resuming ----------------------------------------------------------------

    def _intact_segments(self, settings) -> list[Segment]:
        """The unbroken, intact segments ``0, 1, ...`` on disk; the rest is removed."""
        indices = self.store.indices()
        if indices and not self.resume:
            raise ValueError(f"{self.store.folder} holds the segments of an earlier run; "
                             "pass resume=True to continue it, or use another folder.")
        segments, problem = [], None
        for index in range(len(indices)):
            try:
                segment = self.store.read(index)
            except DamagedSegment as error:
                problem = str(error)
                break
            self._check_fits(segment, settings, segments)
            segments.append(segment)
        self.removed = self.store.remove_from(len(segments))
        if problem is not None:
            where = f"iteration {segments[-1].stop}" if segments else "the start"
            later = len(self.removed) - 1
            self.log(f"{problem}; continuing from {where} after the last intact segment "
                     f"(removed it{f' and the {later} after it' if later else ''}).")
        return segments

    def _check_fits(self, segment, settings, before) -> None:
        saved = segment.meta["settings"]
        changed = sorted(k for k in settings if saved.get(k) != settings[k])
        if changed:
            details = ", ".join(f"{k} {saved.get(k)!r} -> {settings[k]!r}" for k in changed)
            raise ValueError(f"cannot resume from {segment.path}: the run was made with other "
                             f"settings ({details}); use the same settings or another folder.")
        expected = before[-1].stop if before else 0
        if int(segment.meta["start"]) != expected:
            raise ValueError(f"cannot resume: {segment.path} starts at iteration "
                             f"{segment.meta['start']}, expected {expected}; the folder mixes "
                             "segments of different runs.")

    # -- running -----------------------------------------------------------------

    def run(self, rng_key, *args, init_params=None, extra_fields=(), **kwargs) -> None:
        """Warm up and sample as ``mcmc.run`` would, writing a segment every few seconds."""
        mcmc = self.mcmc
        key = mcmc._start(rng_key, args, kwargs, init_params)
        settings = _settings(mcmc)
        segments = self._intact_segments(settings)
        if segments:
            chain = jax.tree.map(jnp.asarray, segments[-1].state)
            self.resumed_from = segments[-1].stop
        else:
            chain = mcmc._initial_chain_state(key, init_params)
        end_of_warmup = mcmc.num_warmup
        end = end_of_warmup + mcmc.num_samples
        with interrupt_guard():  # a Ctrl-C between two segments is not lost either
            if self._iteration(chain) < end_of_warmup:
                chain = self._warmup(chain, segments, settings)
            if self._iteration(chain) < end:
                chain = self._sample(chain, segments, settings)
        self._finish(chain, segments, extra_fields)

    @staticmethod
    def _iteration(chain) -> int:
        return int(np.min(np.asarray(chain.iteration)))

    def _write(self, segments, settings, phase, start, chain, seconds, draws=None,
               fields=None, rows=0):
        meta = {"settings": settings, "phase": phase, "start": start,
                "stop": self._iteration(chain), "seconds": seconds, "rows": rows,
                "kept": 0 if draws is None else int(next(iter(draws.values())).shape[1])}
        index = len(segments)
        self.store.write(index, meta, chain, draws or {}, fields or {})
        segments.append(Segment(self.store.path(index), meta, chain, draws or {}, fields or {}))

    def _warmup(self, chain, segments, settings):
        mcmc = self.mcmc
        stop = mcmc.num_warmup
        bars = mcmc.phase_bars("warmup", chain, stop, phase_start=0)
        try:
            start = self._iteration(chain)
            began = time.perf_counter()
            longest = self.max_segment_draws * mcmc.thinning
            for segment_stop in Pieces(start, stop, max_piece=longest,
                                       seconds=self.segment_seconds):
                chain, _ = mcmc._run_phase("warmup", chain, segment_stop, first=stop, bars=bars)
                now = time.perf_counter()
                self._write(segments, settings, "warmup", start, chain, now - began)
                start, began = segment_stop, now
        finally:
            for bar in bars:
                bar.close()
        return chain

    def _sample_rows(self, segments) -> int:
        """Draws per chain in each sampling segment: what ``segment_seconds`` allows."""
        mcmc = self.mcmc
        cap = min(self.max_segment_draws, mcmc.num_kept)
        sampled = [s for s in segments if s.meta["phase"] == "sample"]
        if sampled:
            return int(sampled[-1].meta["rows"])
        timed = [s for s in segments[1:] if s.meta["phase"] == "warmup"]  # 0 paid to compile
        seconds = sum(s.meta["seconds"] for s in timed)
        if not timed or seconds <= 0:
            return cap
        rate = sum(s.stop - int(s.meta["start"]) for s in timed) / seconds
        return int(np.clip(rate * self.segment_seconds // mcmc.thinning, 1, cap))

    def _sample(self, chain, segments, settings):
        mcmc = self.mcmc
        stop = mcmc.num_warmup + mcmc.num_samples
        rows = self._sample_rows(segments)
        bars = mcmc.phase_bars("sample", chain, stop, phase_start=mcmc.num_warmup)
        try:
            start = self._iteration(chain)
            while start < stop:
                began = time.perf_counter()
                segment_stop = min(start + rows * mcmc.thinning, stop)
                chain, buffers = mcmc._run_phase("sample", chain, segment_stop, first=start,
                                                 num_rows=rows, bars=bars)
                mcmc._collect(buffers, (), rows)
                kept = -(-(segment_stop - start) // mcmc.thinning)
                draws = _slice_rows(mcmc._samples, kept)
                fields = _slice_rows(mcmc._extra_fields, kept)
                self._write(segments, settings, "sample", start, chain,
                            time.perf_counter() - began, draws, fields, rows)
                start = segment_stop
        finally:
            for bar in bars:
                bar.close()
        return chain

    def _finish(self, chain, segments, extra_fields) -> None:
        """The whole run's draws and statistics into ``mcmc``."""
        sampled = [s for s in segments if s.meta["phase"] == "sample"]
        draws = {k: np.concatenate([s.draws[k] for s in sampled], axis=1)
                 for k in sampled[0].draws}
        fields = {k: np.concatenate([s.fields[k] for s in sampled], axis=1)
                  for k in sampled[0].fields}
        self.mcmc._adopt_results(draws, fields, chain, extra_fields)


# -- only the warmup ------------------------------------------------------------------


class CheckpointedWarmup(CheckpointedRun):
    """Only the warmup of ``mcmc``, segment by segment into ``folder``, resumable.

    Like :meth:`MCMC.warmup <hierax.infer.MCMC.warmup>`: after :meth:`run`,
    ``mcmc.post_warmup_state`` (and ``last_state``) is the chains' state at the
    end of the warmup, bit for bit the one of an uninterrupted warmup. Its
    segments are those of :class:`CheckpointedRun` (warmup phase only).

    Args:
        mcmc, folder, resume, log, segment_seconds, max_segment_draws: as for
            :class:`CheckpointedRun`.
        settings: further settings the segments record and a resumed run must
            share (JSON values; e.g. those of a sampler that runs this warmup),
            named in the error when they differ.
    """

    def __init__(self, mcmc, folder, *, settings: dict | None = None, **options):
        super().__init__(mcmc, folder, **options)
        self.settings = json.loads(json.dumps(settings or {}))

    def _intact_segments(self, settings) -> list[Segment]:
        return super()._intact_segments({**settings, **self.settings})

    def _write(self, segments, settings, *args, **kwargs):
        super()._write(segments, {**settings, **self.settings}, *args, **kwargs)

    def _sample(self, chain, segments, settings):
        return chain  # warmup only

    def _finish(self, chain, segments, extra_fields) -> None:
        self.mcmc.post_warmup_state = chain
        self.mcmc.last_state = chain
