"""Selection from found sensitivity injections.

Two file formats:

1. LVK sensitivity-injection HDF5 files (O3 ``injections`` group, the O1+O2+O3
   mixture, O4 ``events`` table), read by :mod:`.lvk_injections`: layouts,
   detection thresholds (FAR per search, SNR for semianalytic injections), the
   draw density in the population's coordinates and the combination of several
   campaigns are described there.
2. hierax's own ``.npz`` format: one array per column (named as in
   :mod:`hierax.pop.parameters`), ``log_draw_density`` (ln of the draw density in
   exactly those columns), the scalars ``total_generated`` and ``analysis_time``
   (years), and optionally a boolean ``detected`` (default: all found).

If the population has no redshift, the injections' redshift is integrated out
with the weight ``dV_C/dz / (1 + z)`` [Gpc^3] (the population is then a rate
density per comoving volume).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import PRIMARY_MASS, REDSHIFT
from .base import SelectionEstimator
from .lvk_injections import lvk_injections

__all__ = ["injection", "write_injection_npz"]

_HDF5_SUFFIXES = (".hdf5", ".h5", ".hdf")


def injection(
    filename: str | os.PathLike | Sequence[str | os.PathLike],
    parameter_names: Sequence[str],
    *,
    far_cut: float = 1.0,
    snr_cut: float = 10.0,
    ifar_pipelines: Sequence[str] | None = None,
    snr_field: str | None = None,
    spin_magnitude_max: float = 0.998,
    time: float | None = None,
    cosmology: Cosmology = PLANCK15,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """Read found injections from ``filename`` (``.hdf5``/``.h5`` LVK layout or ``.npz``).

    Args:
        filename: the injection file, or several LVK files of different campaigns
            (combined, :func:`.lvk_injections.combine_injection_sets`).
        parameter_names: the population's columns.
        far_cut: false-alarm-rate threshold per year (found: ``FAR < far_cut`` in a search).
        snr_cut: network SNR threshold of semianalytic injections.
        ifar_pipelines: searches whose FAR/IFAR columns count (default: all).
        snr_field: SNR field of semianalytic injections (default: per layout).
        spin_magnitude_max: largest injected spin magnitude (LVK files).
        time: observing time in years; default the file's analysis time.
        cosmology: for the volume weight of populations without redshift.
        batch_size: chunk size for evaluating the rate density over the draws.
    """
    paths = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
    for path in map(os.fspath, paths):
        if not os.path.exists(path):
            raise ValueError(f"injection: file {path!r} does not exist.")
    names = tuple(parameter_names)
    if paths and all(os.fspath(p).endswith(_HDF5_SUFFIXES) for p in paths):
        return lvk_injections(
            paths,
            names,
            far_cut=far_cut,
            snr_cut=snr_cut,
            pipelines=ifar_pipelines,
            snr_field=snr_field,
            spin_magnitude_max=spin_magnitude_max,
            time=time,
            cosmology=cosmology,
            batch_size=batch_size,
        )
    if len(paths) != 1 or not os.fspath(paths[0]).endswith(".npz"):
        raise ValueError(
            f"injection: {[os.fspath(p) for p in paths]!r}: expected one .npz file or one or "
            "more .hdf5/.h5/.hdf files."
        )
    path = os.fspath(paths[0])
    columns, log_q, total, analysis_time = _read_npz(path, names)
    if not columns[PRIMARY_MASS].size:
        raise ValueError(f"injection: no injection in {path!r} passes the detection threshold.")
    log_weight = np.zeros_like(log_q)
    if REDSHIFT not in names:
        z = columns[REDSHIFT]
        log_weight = np.log(np.asarray(cosmology.differential_comoving_volume(z))) - np.log1p(z)
    theta = np.column_stack([columns[name] for name in names])
    return SelectionEstimator(
        theta=theta,
        log_weight=log_weight,
        log_draw_density=log_q,
        total_draws=total,
        time=analysis_time if time is None else time,
        parameter_names=names,
        batch_size=batch_size,
        description=f"injection({os.path.basename(path)})",
    )


def write_injection_npz(
    filename, columns: dict, log_draw_density, total_generated, analysis_time, detected=None
) -> None:
    """Write injections in hierax's ``.npz`` format (see the module docstring)."""
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in columns.items()}
    arrays["log_draw_density"] = np.asarray(log_draw_density, dtype=np.float64)
    arrays["total_generated"] = np.asarray(int(total_generated))
    arrays["analysis_time"] = np.asarray(float(analysis_time))
    if detected is not None:
        arrays["detected"] = np.asarray(detected, dtype=bool)
    np.savez(filename, **arrays)


def _read_npz(path, names):
    with np.load(path) as data:
        content = {key: np.asarray(data[key]) for key in data.files}
    required = ["log_draw_density", "total_generated", "analysis_time"]
    required += [n for n in names if n != REDSHIFT] + [REDSHIFT]
    missing = [key for key in required if key not in content]
    if missing and not (missing == [REDSHIFT] and REDSHIFT not in names):
        raise ValueError(f"injection: {path!r} lacks the arrays {missing}.")
    detected = content.get("detected", np.ones(content["log_draw_density"].shape, bool))
    columns = {k: v[detected] for k, v in content.items() if v.shape == detected.shape}
    if REDSHIFT not in names and REDSHIFT not in columns:
        raise ValueError(
            f"injection: {path!r} has no {REDSHIFT!r} column to integrate the volume over."
        )
    return (
        columns,
        columns["log_draw_density"],
        int(content["total_generated"]),
        float(content["analysis_time"]),
    )
