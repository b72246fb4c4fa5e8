"""Writers of LVK-format files: PESummary posteriors and O3/O4 sensitivity injections.

Each writer produces a file that the matching hierax reader reads back exactly:

- :func:`write_pesummary_event` -> :func:`hierax.pop.pesummary.read_pesummary_events`
  (PESummary metafile, one analysis ``label``, in one of the layouts
  ``"structured"`` -- a compound dataset ``<label>/posterior_samples``, as in the
  GWTC-2.1 and GWTC-3 releases --, ``"datasets"`` -- a group of 1-D datasets --,
  ``"parameter_names"`` -- a group with ``parameter_names`` and a 2-D
  ``samples`` --, or ``"root"`` -- the older ``posterior_samples/<label>`` group);
- :func:`write_o3_injections` and :func:`write_o4_injections` ->
  :func:`hierax.pop.selection.lvk_injections.read_lvk_injections` (the O3
  ``injections`` group with a linear ``sampling_pdf`` and ``ifar_<search>``; the O4
  ``events`` compound dataset with ``lnpdraw_*`` fields, ``weights`` and
  ``<search>_far``; the layouts are described in that module).

Every file is written to a temporary name in its folder and renamed into place
(:func:`hierax._files.replace_atomically`), so a reader never sees half a file.
Numbers are stored as float64; arrays are checked (1-D, one length, finite where
the readers require it) before anything is written, and a bad input is a
``ValueError`` naming the argument and the column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hierax._files import replace_atomically
from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.pe_prior import cosmology_from_description
from hierax.pop.readers import _h5py

__all__ = [
    "PESUMMARY_LAYOUTS",
    "cosmology_description",
    "write_o3_injections",
    "write_o4_injections",
    "write_pesummary_event",
]

PESUMMARY_LAYOUTS = ("structured", "datasets", "parameter_names", "root")
_SOURCE_FIELDS = ("mass1_source", "mass2_source", "redshift")


def cosmology_description(cosmology: Cosmology | str) -> str:
    """The text PESummary stores for ``cosmology``: ``"Planck15"`` for
    :data:`~hierax.pop.cosmology.PLANCK15`, otherwise an astropy-like
    ``FlatLambdaCDM(H0=..., Om0=...)`` (a string is checked and returned as is)."""
    if isinstance(cosmology, str):
        cosmology_from_description(cosmology, where="cosmology")  # readable, or ValueError
        return cosmology
    if not isinstance(cosmology, Cosmology):
        raise TypeError(f"cosmology must be a hierax Cosmology or a name, got "
                        f"{type(cosmology).__name__}.")
    if cosmology == PLANCK15:
        return "Planck15"
    return (f"FlatLambdaCDM(H0={cosmology.hubble_constant!r} km / (Mpc s), "
            f"Om0={cosmology.matter_density!r})")


def write_pesummary_event(
    path,
    samples: Mapping[str, np.ndarray],
    *,
    label: str = "C01:Mixed",
    priors: Mapping[str, str] | None = None,
    cosmology: Cosmology | str | None = "Planck15",
    layout: str = "structured",
) -> Path:
    """Write one event's posterior samples as a PESummary metafile.

    Args:
        path: the file (``.h5``); its folder is created if needed. The event is named by
            the file stem when read.
        samples: parameter name (bilby's: ``mass_1``, ``mass_1_source``, ``redshift``,
            ``luminosity_distance``, ``a_1``, ``cos_tilt_1``, ...) -> ``(M,)`` finite
            values, ``M >= 1``, one ``M`` for all.
        label: the analysis label (no ``/``).
        priors: parameter -> bilby prior string, stored in the analysis'
            ``priors/analytic`` group (e.g. ``"PowerLaw(alpha=2, minimum=10,
            maximum=10000, name='luminosity_distance')"``); ``None`` stores no prior, and
            the reader then needs the prior passed explicitly.
        cosmology: stored as ``meta_data/meta_data/cosmology``; a name, a
            :class:`Cosmology` (:func:`cosmology_description`) or ``None`` (not stored).
        layout: one of :data:`PESUMMARY_LAYOUTS` (module docstring).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: for no samples, arrays that are not 1-D, of different lengths or
            not finite, a bad label or layout, or prior entries that are not strings.
    """
    where = "write_pesummary_event"
    columns = _checked_columns(samples, where, "samples", allow_inf=False)
    if not isinstance(label, str) or not label or "/" in label:
        raise ValueError(f"{where}: label must be a non-empty string without '/', got {label!r}.")
    if layout not in PESUMMARY_LAYOUTS:
        raise ValueError(f"{where}: layout must be one of {list(PESUMMARY_LAYOUTS)}, "
                         f"got {layout!r}.")
    prior_strings = {}
    for key, text in (priors or {}).items():
        if not isinstance(key, str) or not key or "/" in key or not isinstance(text, str):
            raise ValueError(f"{where}: priors must map parameter names to bilby prior "
                             f"strings, got {key!r}: {text!r}.")
        prior_strings[key] = text
    described = None if cosmology is None else cosmology_description(cosmology)
    h5py = _h5py()

    def write(temporary: str) -> None:
        with h5py.File(temporary, "w") as handle:
            handle.create_dataset("version/pesummary", data=np.array([b"hierax"]))
            if layout == "root":
                samples_path, meta, prior_group = (f"posterior_samples/{label}",
                                                   f"meta_data/{label}/meta_data",
                                                   f"priors/analytic/{label}")
            else:
                samples_path, meta, prior_group = (f"{label}/posterior_samples",
                                                   f"{label}/meta_data/meta_data",
                                                   f"{label}/priors/analytic")
            _write_samples(handle, samples_path, columns, layout)
            if described is not None:
                handle.create_dataset(f"{meta}/cosmology", data=np.array([described.encode()]))
            for key, text in prior_strings.items():
                handle.create_dataset(f"{prior_group}/{key}", data=np.array([text.encode()]))

    return _write_file(path, write)


def _write_samples(handle, node_path: str, columns: dict[str, np.ndarray], layout: str) -> None:
    names = list(columns)
    if layout == "structured":
        table = np.zeros(len(columns[names[0]]), dtype=[(name, "<f8") for name in names])
        for name in names:
            table[name] = columns[name]
        handle.create_dataset(node_path, data=table)
    elif layout == "datasets":
        for name in names:
            handle.create_dataset(f"{node_path}/{name}", data=columns[name])
    else:  # "parameter_names" and "root": names plus a (M, d) table
        group = handle.create_group(node_path)
        group.create_dataset("parameter_names", data=np.array([n.encode() for n in names]))
        group.create_dataset("samples", data=np.column_stack([columns[n] for n in names]))


def write_o3_injections(
    path,
    columns: Mapping[str, np.ndarray],
    *,
    ifar: Mapping[str, np.ndarray],
    total_generated: int,
    analysis_time_s: float,
    sampling_pdf: np.ndarray | None = None,
    log_sampling_pdf: np.ndarray | None = None,
) -> Path:
    """Write an O3-layout injection file (group ``injections``; LIGO-T2100113).

    Args:
        path: the file; its folder is created if needed.
        columns: field -> ``(N,)`` values of every stored injection: ``mass1_source``,
            ``mass2_source`` and ``redshift`` are required; Cartesian spins
            ``spin{1,2}{x,y,z}`` come in complete triples; other fields (e.g.
            ``optimal_snr_net`` or factor densities ``redshift_sampling_pdf``) are
            stored as given.
        ifar: search name (``"gstlal"``) -> ``(N,)`` inverse false-alarm rates in years
            (``>= 0``, ``inf`` allowed), stored as ``ifar_<search>``; at least one.
        total_generated: ``N_total >= N``, all draws made, stored or not.
        analysis_time_s: the observing time in seconds (> 0).
        sampling_pdf, log_sampling_pdf: exactly one: the joint draw density (or its log)
            over source masses, redshift and the Cartesian spin components present,
            ``(N,)``, > 0 (stored linear as ``sampling_pdf``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    where = "write_o3_injections"
    fields = _injection_fields(columns, where)
    size = len(fields["mass1_source"])
    if (sampling_pdf is None) == (log_sampling_pdf is None):
        raise ValueError(f"{where}: give exactly one of sampling_pdf and log_sampling_pdf.")
    if sampling_pdf is None:
        density = np.exp(_checked_array(log_sampling_pdf, size, where, "log_sampling_pdf"))
    else:
        density = _checked_array(sampling_pdf, size, where, "sampling_pdf")
    if not np.all(density > 0):
        raise ValueError(f"{where}: the draw density must be > 0 (and representable as a "
                         "float64) for every injection.")
    searches = _searches(ifar, size, where, "ifar")
    fields["sampling_pdf"] = density
    _add_searches(fields, {f"ifar_{name}": values for name, values in searches.items()}, where)
    total, seconds = _checked_counts(total_generated, analysis_time_s, size, where,
                                     "analysis_time_s")
    h5py = _h5py()

    def write(temporary: str) -> None:
        with h5py.File(temporary, "w") as handle:
            group = handle.create_group("injections")
            for name, values in fields.items():
                group.create_dataset(name, data=values)
            group.attrs["total_generated"] = total
            group.attrs["analysis_time_s"] = seconds

    return _write_file(path, write)


def write_o4_injections(
    path,
    columns: Mapping[str, np.ndarray],
    *,
    lnpdraw: Mapping[str, np.ndarray],
    far: Mapping[str, np.ndarray],
    total_generated: int,
    total_analysis_time: float,
    weights: np.ndarray | None = None,
) -> Path:
    """Write an O4-layout injection file (compound dataset ``events``; Essick et al. 2025,
    arXiv:2508.10638).

    Args:
        path: the file; its folder is created if needed.
        columns: field -> ``(N,)`` values, as in :func:`write_o3_injections` (``z`` may
            replace ``redshift``; polar spins ``spin{i}_magnitude``,
            ``spin{i}_polar_angle``, ``spin{i}_azimuthal_angle`` may be stored too).
        lnpdraw: log draw densities ``(N,)``, keyed by the variables (``"mass1_source_
            mass2_source_redshift"``, ``"spin1_magnitude"``) or the full field name
            (``"lnpdraw_..."``); the reader divides the product of the factors it
            needs by ``weights``.
        far: search name -> ``(N,)`` false-alarm rates per year (``>= 0``, ``inf``
            allowed), stored as ``<search>_far``; at least one.
        total_generated: ``N_total >= N`` (O4 files leave out draws that could never be
            detected but count them here).
        total_analysis_time: the observing time in seconds (> 0).
        weights: ``(N,)`` positive per-injection weights; default ones.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    where = "write_o4_injections"
    fields = _injection_fields(columns, where, redshift_names=("redshift", "z"))
    size = len(fields["mass1_source"])
    if not isinstance(lnpdraw, Mapping) or not lnpdraw:
        raise ValueError(f"{where}: lnpdraw must be a non-empty mapping of log draw densities.")
    densities = {}
    for key, values in lnpdraw.items():
        name = key if str(key).startswith("lnpdraw_") else f"lnpdraw_{key}"
        densities[name] = _checked_array(values, size, where, f"lnpdraw[{key!r}]")
    weights = np.ones(size) if weights is None else _checked_array(weights, size, where, "weights")
    if not np.all(weights > 0):
        raise ValueError(f"{where}: weights must be > 0.")
    searches = _searches(far, size, where, "far")
    _add_searches(fields, densities | {"weights": weights}, where)
    _add_searches(fields, {f"{name}_far": values for name, values in searches.items()}, where)
    total, seconds = _checked_counts(total_generated, total_analysis_time, size, where,
                                     "total_analysis_time")
    table = np.zeros(size, dtype=[(name, "<f8") for name in fields])
    for name, values in fields.items():
        table[name] = values
    h5py = _h5py()

    def write(temporary: str) -> None:
        with h5py.File(temporary, "w") as handle:
            handle.create_dataset("events", data=table)
            handle.attrs["total_generated"] = total
            handle.attrs["total_analysis_time"] = seconds

    return _write_file(path, write)


# -- checks ---------------------------------------------------------------------------------------


def _write_file(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, write, suffix=path.suffix or ".tmp")
    return path


def _checked_array(values, size: int | None, where: str, name: str, *,
                   allow_inf: bool = False) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be numbers, got {type(values).__name__}.") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{where}: {name} must be a non-empty 1-D array, got shape {array.shape}.")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{where}: {name} has {array.shape[0]} values, expected {size} (one "
                         "per sample/injection).")
    bad = np.isnan(array) if allow_inf else ~np.isfinite(array)
    if np.any(bad):
        row = int(np.argmax(bad))
        raise ValueError(f"{where}: {name} has the non-finite value {array[row]} at index {row}.")
    return array


def _checked_columns(columns, where: str, argument: str, *, allow_inf: bool) -> dict:
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError(f"{where}: {argument} must be a non-empty mapping of names to arrays.")
    checked, size = {}, None
    for name, values in columns.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{where}: {argument} has the invalid column name {name!r}.")
        checked[name] = _checked_array(values, size, where, f"{argument}[{name!r}]",
                                       allow_inf=allow_inf)
        size = checked[name].shape[0]
    return checked


def _injection_fields(columns, where: str, redshift_names=("redshift",)) -> dict:
    fields = _checked_columns(columns, where, "columns", allow_inf=False)
    needed = ["mass1_source", "mass2_source"]
    missing = [n for n in needed if n not in fields]
    if not any(n in fields for n in redshift_names):
        missing.append(" or ".join(redshift_names))
    if missing:
        raise ValueError(f"{where}: columns lacks {missing} (present: {sorted(fields)}).")
    for i in (1, 2):
        triple = [f"spin{i}{axis}" for axis in "xyz"]
        present = [n for n in triple if n in fields]
        if present and len(present) < 3:
            raise ValueError(f"{where}: the Cartesian spin {i} needs all of {triple}, got "
                             f"only {present}.")
    searches = [n for n in fields if n.lower().startswith(("far_", "ifar_"))
                or n.lower().endswith(("_far", "_ifar"))]
    if searches:
        raise ValueError(f"{where}: columns {searches} look like false-alarm rates; pass them "
                         "as ifar/far (search name -> values).")
    return fields


def _searches(values, size: int, where: str, kind: str) -> dict[str, np.ndarray]:
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"{where}: {kind} must be a non-empty mapping of search names to "
                         "arrays (at least one search decides detection).")
    checked = {}
    for name, array in values.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{where}: invalid search name {name!r} in {kind}.")
        array = _checked_array(array, size, where, f"{kind}[{name!r}]", allow_inf=True)
        if np.any(array < 0):
            raise ValueError(f"{where}: {kind}[{name!r}] must be >= 0.")
        checked[name] = array
    return checked


def _add_searches(fields: dict, extra: Mapping[str, np.ndarray], where: str) -> None:
    clash = sorted(set(fields) & set(extra))
    if clash:
        raise ValueError(f"{where}: the fields {clash} are given twice.")
    fields.update(extra)


def _checked_counts(total, seconds, size: int, where: str, time_name: str):
    if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < size:
        raise ValueError(f"{where}: total_generated must be an integer >= the {size} stored "
                         f"injections, got {total!r}.")
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{where}: {time_name} must be a finite number of seconds > 0, got "
                         f"{seconds!r}.")
    return int(total), seconds
