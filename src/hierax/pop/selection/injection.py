"""Selection from found sensitivity injections.

Two file formats:

1. The LVK sensitivity-injection HDF5 layout (O3, e.g. ``endo3_bbhpop-LIGO-T2100113``):
   group ``injections`` with datasets ``mass1_source``, ``mass2_source``,
   ``redshift``, ``sampling_pdf`` (joint draw density in source masses, redshift
   and Cartesian spin components), ``spin{1,2}{x,y,z}``, one ``ifar_<pipeline>``
   per search pipeline (years) and ``optimal_snr_net``/``observed_snr_net``; and the
   attributes ``total_generated`` and ``analysis_time_s``. An injection is found when
   any selected pipeline's ``ifar`` exceeds ``1 / far_cut``; files without ``ifar``
   columns (and O1/O2 entries marked in ``name``) use the network SNR ``> snr_cut``.
   Spins are converted to magnitudes and tilt cosines, with the Jacobian
   ``2 pi a^2`` per spin after integrating the azimuth; columns the population
   does not model are divided out assuming isotropic spins with magnitudes
   uniform on ``[0, spin_magnitude_max]`` (as the O3 injections were drawn).
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
from ..parameters import COS_TILTS, PRIMARY_MASS, REDSHIFT, SECONDARY_MASS, SPIN_MAGNITUDES
from .base import SelectionEstimator

__all__ = ["injection", "write_injection_npz"]

SECONDS_PER_YEAR = 365.25 * 86400.0
_SNR_COLUMNS = ("observed_phase_maximized_snr_net", "observed_snr_net", "optimal_snr_net")


def injection(
    filename: str | os.PathLike,
    parameter_names: Sequence[str],
    *,
    far_cut: float = 1.0,
    snr_cut: float = 10.0,
    ifar_pipelines: Sequence[str] | None = None,
    spin_magnitude_max: float = 0.998,
    time: float | None = None,
    cosmology: Cosmology = PLANCK15,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """Read found injections from ``filename`` (``.hdf5``/``.h5`` LVK layout or ``.npz``).

    Args:
        filename: the injection file.
        parameter_names: the population's columns.
        far_cut: false-alarm-rate threshold per year (found: ``ifar > 1 / far_cut``).
        snr_cut: network SNR threshold where no ``ifar`` is available.
        ifar_pipelines: pipelines whose ``ifar_<name>`` columns count (default: all).
        spin_magnitude_max: largest injected spin magnitude (LVK files).
        time: observing time in years; default the file's analysis time.
        cosmology: for the volume weight of populations without redshift.
        batch_size: chunk size for evaluating the rate density over the draws.
    """
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise ValueError(f"injection: file {path!r} does not exist.")
    names = tuple(parameter_names)
    if path.endswith(".npz"):
        columns, log_q, total, analysis_time = _read_npz(path, names)
    elif path.endswith((".hdf5", ".h5", ".hdf")):
        columns, log_q, total, analysis_time = _read_lvk(
            path, names, far_cut, snr_cut, ifar_pipelines, spin_magnitude_max
        )
    else:
        raise ValueError(f"injection: {path!r}: expected a .hdf5/.h5 or .npz file.")
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


def _read_lvk(path, names, far_cut, snr_cut, ifar_pipelines, spin_magnitude_max):
    import h5py

    with h5py.File(path, "r") as handle:
        if "injections" not in handle:
            raise ValueError(
                f"injection: {path!r} has no 'injections' group (groups: {list(handle)})."
            )
        group = handle["injections"]
        for attr in ("total_generated", "analysis_time_s"):
            if attr not in group.attrs:
                raise ValueError(f"injection: {path!r}: 'injections' lacks attribute {attr!r}.")
        data = {key: np.asarray(group[key][()]) for key in group.keys()}
        total = int(np.asarray(group.attrs["total_generated"]))
        analysis_time = float(np.asarray(group.attrs["analysis_time_s"])) / SECONDS_PER_YEAR
    for key in ("mass1_source", "mass2_source", "redshift", "sampling_pdf"):
        if key not in data:
            raise ValueError(f"injection: {path!r}: 'injections' lacks dataset {key!r}.")
    found = _found(data, path, far_cut, snr_cut, ifar_pipelines)
    data = {key: value[found] for key, value in data.items() if value.shape == found.shape}
    columns = {
        PRIMARY_MASS: data["mass1_source"],
        SECONDARY_MASS: data["mass2_source"],
        REDSHIFT: data["redshift"],
    }
    log_q = np.log(data["sampling_pdf"])
    for i in (1, 2):
        log_q = log_q + _spin_columns(data, i, names, columns, spin_magnitude_max, path)
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise ValueError(f"injection: {path!r} provides no column for {unknown}.")
    return columns, log_q, total, analysis_time


def _spin_columns(data, i, names, columns, a_max, path) -> np.ndarray:
    """Add ``a_i``, ``cos_tilt_i``; return the log-Jacobian to the modelled spin columns."""
    keys = [f"spin{i}{axis}" for axis in "xyz"]
    if not all(key in data for key in keys):
        if SPIN_MAGNITUDES[i - 1] in names or COS_TILTS[i - 1] in names:
            raise ValueError(f"injection: {path!r} has no Cartesian spins {keys}.")
        return np.zeros(data["sampling_pdf"].shape)
    sx, sy, sz = (data[key] for key in keys)
    magnitude = np.sqrt(sx**2 + sy**2 + sz**2)
    columns[SPIN_MAGNITUDES[i - 1]] = magnitude
    columns[COS_TILTS[i - 1]] = sz / magnitude
    log_jacobian = np.log(2 * np.pi * magnitude**2)
    if COS_TILTS[i - 1] not in names:
        log_jacobian = log_jacobian - np.log(0.5)
    if SPIN_MAGNITUDES[i - 1] not in names:
        log_jacobian = log_jacobian + np.log(a_max)
    return log_jacobian


def _found(data, path, far_cut, snr_cut, ifar_pipelines) -> np.ndarray:
    shape = data["mass1_source"].shape
    ifar_keys = [key for key in data if key.startswith("ifar")]
    if ifar_pipelines is not None:
        wanted = {
            f"ifar_{name}" if not name.startswith("ifar") else name for name in ifar_pipelines
        }
        missing = sorted(wanted - set(ifar_keys))
        if missing:
            raise ValueError(
                f"injection: {path!r} lacks ifar columns {missing} (available: {ifar_keys})."
            )
        ifar_keys = sorted(wanted)
    found = np.zeros(shape, bool)
    for key in ifar_keys:
        found |= data[key] > 1.0 / far_cut
    snr_key = next((key for key in _SNR_COLUMNS if key in data), None)
    if "name" in data and snr_key is not None:
        early = np.isin(data["name"], [b"o1", b"o2", "o1", "o2"])
        found |= early & (data[snr_key] > snr_cut)
    if not ifar_keys:
        if snr_key is None:
            raise ValueError(
                f"injection: {path!r} has neither ifar_* nor SNR columns to decide detection."
            )
        found |= data[snr_key] > snr_cut
    return found
