"""What an inference run writes into ``--output``, every file atomically.

Layout of an output folder::

    inference.nc        ArviZ InferenceData (posterior, sample_stats, configs as attributes)
    samples.dat         posterior draws as text, one header line (GWKokab's layout)
    prior.json, sampler.json, pmean.json, run.json   the configs and settings used
    summary.txt         R-hat / ESS table and the convergence and Monte Carlo verdicts
    log.txt             the run's log
    state/              what --resume needs: checkpoint.nc (sampler state) and
                        chunk_<k>.npz (the draws of chunk k, appended as they come)

Atomic: each file is written to a temporary file in its folder, flushed and
renamed over the target (``os.replace``), so a reader (or a resumed run) never
sees a half-written file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hierax._files import replace_atomically, write_text_atomically

__all__ = [
    "ChunkStore",
    "open_log",
    "write_inference_data",
    "write_json_atomically",
    "write_samples_dat",
    "write_text_atomically",
]


def write_json_atomically(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_samples_dat(path, samples: Mapping[str, np.ndarray]) -> None:
    """Draws as whitespace text: a header of names, one row per draw (chains after each other).

    ``samples`` maps name -> ``(chains, draws)`` scalars per draw.
    """
    names = list(samples)
    columns = [np.asarray(samples[n], dtype=np.float64).reshape(-1) for n in names]
    table = np.column_stack(columns) if columns else np.zeros((0, 0))

    def write(tmp):
        np.savetxt(tmp, table, header=" ".join(names), comments="", fmt="%.10g")

    replace_atomically(Path(path), write)


def write_inference_data(path, posterior: Mapping, sample_stats: Mapping, attrs: Mapping):
    """Write an ``arviz.InferenceData`` NetCDF file atomically; returns the InferenceData.

    ``posterior`` and ``sample_stats`` map names to ``(chains, draws, ...)`` arrays;
    ``attrs`` (strings, numbers) become attributes of the InferenceData (file root).
    """
    import arviz

    data = arviz.from_dict(posterior={k: np.asarray(v) for k, v in posterior.items()},
                           sample_stats={k: np.asarray(v) for k, v in sample_stats.items()},
                           attrs=dict(attrs))
    replace_atomically(Path(path), lambda tmp: data.to_netcdf(tmp, engine="h5netcdf"))
    return data


def open_log(path) -> logging.Logger:
    """A logger writing to ``path`` (appending, so a resumed run adds to its log)."""
    logger = logging.getLogger(f"hierax.cli.run.{os.fspath(path)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


class ChunkStore:
    """Draws appended to ``folder`` chunk by chunk, ``chunk_<k>.npz`` each written atomically.

    Each chunk holds named arrays shaped ``(chains, draws_in_chunk, ...)``.
    """

    _PATTERN = re.compile(r"chunk_(\d+)\.npz")

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:05d}.npz"

    def indices(self) -> list[int]:
        """Indices of the chunks on disk, sorted."""
        found = (self._PATTERN.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def append(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write chunk ``index`` (replacing one left by an interrupted run)."""

        def write(tmp):
            with open(tmp, "wb") as stream:
                np.savez(stream, **{k: np.asarray(v) for k, v in arrays.items()})

        replace_atomically(self._path(index), write)

    def keep_first(self, count: int) -> None:
        """Delete chunks ``count, count + 1, ...`` (written after the last checkpoint)."""
        for index in self.indices():
            if index >= count:
                self._path(index).unlink()

    def read(self, count: int) -> dict[str, np.ndarray]:
        """Chunks ``0 .. count - 1`` concatenated along the draw axis."""
        parts = []
        for index in range(count):
            with np.load(self._path(index)) as data:
                parts.append({k: data[k] for k in data.files})
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
