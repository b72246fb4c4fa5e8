"""What an inference run writes into ``--output``, every file atomically.

Layout of an output folder::

    inference.nc        ArviZ InferenceData (posterior, sample_stats, configs as attributes)
    samples.dat         posterior draws as text, one header line (GWKokab's layout)
    prior.json, sampler.json, pmean.json   the configs used
    summary.txt         R-hat / ESS table and the convergence and Monte Carlo verdicts
    log.txt             the run's log
    run.json            the run's inputs (what --resume must match) and its status
    state/              what --resume needs: segment_<k>.npz, each a checkpoint with the
                        draws of its iterations and a SHA-256 digest
                        (hierax.infer.resumable)

Atomic: each file is written to a temporary file in its folder, flushed and
renamed over the target (``os.replace``), so a reader (or a resumed run) never
sees a half-written file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from logging.handlers import MemoryHandler
from pathlib import Path

import numpy as np

from hierax._files import replace_atomically, write_text_atomically
from hierax.cli.errors import WARNINGS_LOGGER

__all__ = [
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
    """A logger writing to ``path`` (appending, so a resumed run adds to its log).

    The warnings the command has shown so far, and those it shows from now on,
    are written there too (:data:`hierax.cli.errors.WARNINGS_LOGGER`).
    """
    logger = logging.getLogger(f"hierax.cli.run.{os.fspath(path)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    for pending in logging.getLogger(WARNINGS_LOGGER).handlers:
        if isinstance(pending, MemoryHandler):
            pending.setTarget(handler)
            pending.flushLevel = logging.DEBUG  # from now on, pass each warning straight on
            pending.flush()
    return logger
