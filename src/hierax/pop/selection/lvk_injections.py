"""LVK sensitivity-injection files as a selection estimator.

An injection campaign ``k`` draws ``N_k`` simulated signals ``theta_j`` from a
known density ``p_k``, adds them to ``T_k`` years of detector data and records
which searches find them. The expected number of detections of a population
with rate density ``rho(theta | Lambda)`` (per year) is estimated by

    mu_hat(Lambda) = sum_k (T_k / N_k) sum_{j found in k} w_j rho(theta_j | Lambda) / p_k(theta_j)

(Tiwari 2018, CQG 35, 145009; Farr 2019, RNAAS 3, 66). ``p_k`` is the draw
density recorded in the file and ``w_j`` the file's per-injection weight, which
multiplies the injection's term of the sum: the ``weights`` field of the O4
files (Essick et al. 2025, arXiv:2508.10638, "Compact binary coalescence
sensitivity estimates with injection campaigns during the LIGO-Virgo-KAGRA
Collaborations' fourth observing run"; in the cumulative O4 mixtures it carries
each campaign's share of the time relative to its share of the draws), the
``mixture_weight`` field of the O1+O2+O3 mixture (LIGO-T2100377), and 1 where a
file has neither. Each draw is therefore given the effective density
``q_j = p_k(theta_j) / w_j``. ``N_k`` is the file's ``total_generated``, which
counts the draws that were never simulated because they could not be detected
(O4 files do not store them).

File layouts (:func:`lvk_injection_layout`)
-------------------------------------------
``"o3"``
    Group ``injections`` of one-dimensional datasets (``endo3_*pop-LIGO-T2100113``):
    ``mass1_source``, ``mass2_source``, ``redshift``, ``spin{1,2}{x,y,z}``, the
    joint draw density ``sampling_pdf`` over the source masses, redshift and
    Cartesian spin components, factors such as
    ``mass1_source_mass2_source_sampling_pdf`` and ``redshift_sampling_pdf``,
    one ``far_<search>`` (per year) and/or ``ifar_<search>`` (years) per search,
    and the attributes ``total_generated`` and ``analysis_time_s`` (seconds), on
    the group or on the file.
``"o1o2o3_mixture"``
    The same group with a ``name`` per injection (``o1``, ``o2``, ``o3``): the O1
    and O2 rows are semianalytic (no search was run on them) and carry a network
    SNR (``optimal_snr_net``) instead of a false-alarm rate.
``"o4"``
    Compound dataset ``events`` (``samples-rpo4*``, ``mixture-*`` files;
    Essick et al. 2025) with fields ``mass1_source``, ``mass2_source``,
    ``redshift`` or ``z``, ``spin{1,2}{x,y,z}`` and/or
    ``spin{1,2}_{magnitude,polar_angle,azimuthal_angle}``, log draw densities
    ``lnpdraw_<variables>`` (joint, e.g.
    ``lnpdraw_mass1_source_mass2_source_redshift_spin1x_spin1y_spin1z_spin2x_spin2y_spin2z``,
    or factorised, e.g. ``lnpdraw_mass1_source``,
    ``lnpdraw_mass2_source_GIVEN_mass1_source``, ``lnpdraw_z``,
    ``lnpdraw_spin1_magnitude``, ``lnpdraw_spin1_polar_angle``), ``weights``,
    ``<search>_far`` or ``far_<search>`` per search and, in the cumulative
    mixtures, ``semianalytic_observed_phase_maximized_snr_net`` for the
    semianalytic rows; file attributes (or root datasets) ``total_generated`` and
    ``total_analysis_time`` (seconds). An ``events`` group of datasets is read
    the same way.

Detection
---------
An injection of a real campaign is found when its false-alarm rate is below
``far_cut`` per year in any of the selected searches (``ifar > 1 / far_cut``),
the LVK convention with ``far_cut = 1`` (GWTC-3 and GWTC-4 population
analyses). A semianalytic injection is found when its network SNR exceeds
``snr_cut`` (10 by default, the threshold gwpopulation and GWKokab apply to the
O1/O2 rows of the mixture): ``optimal_snr_net`` for the ``o1``/``o2`` rows,
``semianalytic_observed_phase_maximized_snr_net`` in O4 files (where it is set
only for semianalytic rows, so it is combined with the searches by "or"). An O3
file without any false-alarm-rate column is read as entirely semianalytic.

Draw density in the population's coordinates
--------------------------------------------
The population's columns (:mod:`hierax.pop.parameters`) are source-frame
masses, redshift and, when modelled, spin magnitudes ``a_i`` and tilt cosines
``cos t_i``. The file's densities are brought to those coordinates:

- Cartesian spin components: ``d^3 chi = a^2 da dcos(t) dphi``, so
  ``p(a, cos t, phi) = a^2 p(chi_x, chi_y, chi_z)``.
- Polar angle ``t``: ``p(cos t) = p(t) / sin t``.
- The azimuth ``phi`` is never modelled. A factor for it alone is left out
  (exact); inside a joint density it is integrated out assuming the draws are
  azimuthally symmetric, ``p(a, cos t) = 2 pi a^2 p(chi)`` -- exact for the
  isotropic LVK injections (:func:`spin_polar_coordinates`).
- A spin magnitude or tilt the population does not model is left out when the
  file gives it its own factor (exact); inside a joint density it is divided out
  assuming the injected spins are independent of the other parameters, uniform
  in magnitude on ``[0, spin_magnitude_max]`` and isotropic -- as the O3 and O4
  BBH campaigns were drawn.

Among the combinations of density fields that cover the needed variables, the
one that needs the fewest of these assumptions is used.

Several files
-------------
Files of different campaigns combine into one set of draws (Essick 2023,
arXiv:2307.02765, on combining injection sets; Essick et al. 2025). With
``T = sum_k T_k`` and ``N = sum_k N_k``, the estimator above is
``(T / N) sum_j exp(ln w'_j + ln rho_j - ln q_j)`` with the per-draw weight

    ln w'_j = ln(T_k / T) - ln(N_k / N)        for a draw of campaign k,

that is, each draw keeps its own campaign's density, rescaled by the ratio of
the campaign's share of the draws to its share of the time. When every campaign
used the same density and ``N_k`` is proportional to ``T_k`` the weights vanish
and the combined set is one draw from the time-weighted mixture. The variance
that :class:`~hierax.pop.selection.base.SelectionEstimator` reports treats the
pooled draws as one sample; it is never smaller than the variance estimate of
the stratified sum, ``sum_k (T_k / N_k)^2 [sum_j e^{2 l_j} - (sum_j e^{l_j})^2 / N_k]``
with ``l_j = ln rho_j - ln q_j`` summed over the draws of campaign ``k``
(Cauchy-Schwarz), so its effective number of draws is conservative.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from ..parameters import (
    COS_TILTS,
    ECCENTRICITY,
    PRIMARY_MASS,
    REDSHIFT,
    SECONDARY_MASS,
    SPIN_MAGNITUDES,
)
from ..readers import _h5py, _open_hdf5
from .base import SelectionEstimator

__all__ = [
    "LAYOUTS",
    "InjectionSet",
    "combine_injection_sets",
    "lvk_injection_layout",
    "lvk_injections",
    "read_lvk_injections",
    "spin_polar_coordinates",
]

SECONDS_PER_YEAR = 365.25 * 86400.0
LAYOUTS = ("o3", "o1o2o3_mixture", "o4")
SEMIANALYTIC_RUNS = ("o1", "o2")

_TOTAL_KEYS = ("total_generated",)
_TIME_KEYS = ("analysis_time_s", "total_analysis_time", "analysis_time")
_WEIGHT_FIELDS = ("weights", "mixture_weight")
_SNR_FIELDS = {
    "o3": ("observed_phase_maximized_snr_net", "observed_snr_net", "optimal_snr_net"),
    "o1o2o3_mixture": ("optimal_snr_net",),
    "o4": ("semianalytic_observed_phase_maximized_snr_net",),
}
_COLUMN_FIELDS = {
    PRIMARY_MASS: ("mass1_source", "mass_1_source"),
    SECONDARY_MASS: ("mass2_source", "mass_2_source"),
    REDSHIFT: ("redshift", "z"),
    ECCENTRICITY: ("eccentricity",),
}


def _vocabulary() -> dict[tuple[str, ...], str]:
    """Words of the density field names (split at "_") -> symbols. Variables: "m1", "m2",
    "z", "e" and per spin i "a<i>", "ct<i>" (cos tilt), "phi<i>"; the Cartesian symbols
    "s<i>x/y/z" and the polar angle "theta<i>" are mapped onto them by :func:`_canonical`."""
    words = {
        ("mass1", "source"): "m1",
        ("mass", "1", "source"): "m1",
        ("mass2", "source"): "m2",
        ("mass", "2", "source"): "m2",
        ("redshift",): "z",
        ("z",): "z",
        ("eccentricity",): "e",
    }
    for i in (1, 2):
        words.update({(f"spin{i}{axis}",): f"s{i}{axis}" for axis in "xyz"})
        words[(f"spin{i}", "magnitude")] = f"a{i}"
        words[(f"spin{i}", "polar", "angle")] = f"theta{i}"
        words[(f"spin{i}", "azimuthal", "angle")] = f"phi{i}"
    return words


_VOCABULARY = _vocabulary()
_WORDS = sorted(_VOCABULARY, key=len, reverse=True)
_CARTESIAN = {i: (f"s{i}x", f"s{i}y", f"s{i}z") for i in (1, 2)}
_READABLE = {
    "m1": "mass1_source",
    "m2": "mass2_source",
    "z": "redshift",
    "e": "eccentricity",
    **{f"a{i}": f"spin{i} magnitude" for i in (1, 2)},
    **{f"ct{i}": f"spin{i} tilt" for i in (1, 2)},
    **{f"phi{i}": f"spin{i} azimuth" for i in (1, 2)},
}


class InjectionSet(NamedTuple):
    """Found injections of one or more campaigns, ready for :class:`SelectionEstimator`.

    Attributes:
        columns: name -> ``(J,)`` values of the found draws, in the population's column
            names (:mod:`hierax.pop.parameters`); always includes ``redshift``.
        log_draw_density: ``(J,)`` ``ln q_j``, the effective draw density (file weights
            applied) in the requested columns and redshift.
        log_weight: ``(J,)`` per-draw log weights of a combination (zeros for one file).
        total_generated: ``N``, all draws made, found or not.
        analysis_time: ``T`` in years.
        layout: one of :data:`LAYOUTS`, or several joined with ``"+"``.
        filename: the file (or files, comma-separated).
    """

    columns: dict[str, np.ndarray]
    log_draw_density: np.ndarray
    log_weight: np.ndarray
    total_generated: int
    analysis_time: float
    layout: str
    filename: str


class _Factor(NamedTuple):
    """One draw-density field: ``ln p(head | given)`` (or its linear value)."""

    field: str
    head: frozenset
    given: frozenset
    is_log: bool
    cartesian: tuple[int, ...]  # spins whose Cartesian components are in ``head``
    polar: tuple[int, ...]  # spins whose polar angle is in ``head``


def spin_polar_coordinates(spin_x, spin_y, spin_z):
    """Spin magnitude, tilt cosine and the log-Jacobian with the azimuth integrated out.

    For a density ``p(chi)`` of the Cartesian components that does not depend on
    the azimuth (true for isotropic draws), the density of ``(a, cos t)`` is
    ``2 pi a^2 p(chi)``: ``d^3 chi = a^2 da dcos(t) dphi`` and the azimuth
    integrates to ``2 pi``.

    Args:
        spin_x, spin_y, spin_z: ``(...)`` dimensionless spin components.

    Returns:
        ``(a, cos_tilt, log_jacobian)``, each ``(...)``, with
        ``log_jacobian = ln(2 pi a^2) = ln p(a, cos t) - ln p(chi)``.
    """
    spin_x, spin_y, spin_z = (np.asarray(v, dtype=np.float64) for v in (spin_x, spin_y, spin_z))
    magnitude = np.sqrt(spin_x**2 + spin_y**2 + spin_z**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_tilt = np.where(magnitude > 0, spin_z / magnitude, 1.0)
        log_jacobian = np.log(2 * np.pi) + 2 * np.log(magnitude)
    return magnitude, cos_tilt, log_jacobian


def lvk_injection_layout(filename: str | os.PathLike) -> str:
    """The layout of an LVK injection file: ``"o3"``, ``"o1o2o3_mixture"`` or ``"o4"``.

    Raises:
        ValueError: for a file of none of these layouts, naming what it holds.
    """
    path = _existing_path(filename)
    with _open(path) as handle:
        return _layout(handle, path)


def read_lvk_injections(
    filename: str | os.PathLike,
    parameter_names: Sequence[str],
    *,
    far_cut: float = 1.0,
    snr_cut: float = 10.0,
    pipelines: Sequence[str] | None = None,
    snr_field: str | None = None,
    spin_magnitude_max: float = 0.998,
) -> InjectionSet:
    """Read the found injections of one LVK file (module docstring).

    Args:
        filename: the HDF5 file.
        parameter_names: the population's columns.
        far_cut: false-alarm-rate threshold per year (found: ``FAR < far_cut`` in a search).
        snr_cut: network SNR threshold of semianalytic injections.
        pipelines: searches that count (``"gstlal"``, ``"far_gstlal"``, ``"ifar_gstlal"``
            or ``"gstlal_far"``); default all the file has.
        snr_field: the SNR field of semianalytic injections; default per layout.
        spin_magnitude_max: largest injected spin magnitude, used only where an unmodelled
            magnitude must be divided out of a joint density.
    """
    path = _existing_path(filename)
    names = tuple(parameter_names)
    _check_options(names, far_cut, snr_cut, spin_magnitude_max, path)
    with _open(path) as handle:
        layout = _layout(handle, path)
        table = _Table(handle["events" if layout == "o4" else "injections"], path)
        total = int(_metadata(handle, table, _TOTAL_KEYS, "the number of generated injections"))
        seconds = _metadata(handle, table, _TIME_KEYS, "the analysis time")
        found = _found(table, layout, far_cut, snr_cut, pipelines, snr_field)
        rows = np.flatnonzero(found)
        columns = _columns(table, names, rows)
        log_q = _log_draw_density(table, names, rows, spin_magnitude_max)
        log_q = log_q - _log_file_weights(table, rows)
    if not seconds > 0:
        raise ValueError(f"{table.where}: the analysis time must be > 0 s, got {seconds}.")
    return InjectionSet(
        columns=columns,
        log_draw_density=log_q,
        log_weight=np.zeros_like(log_q),
        total_generated=total,
        analysis_time=seconds / SECONDS_PER_YEAR,
        layout=layout,
        filename=path,
    )


def combine_injection_sets(sets: Sequence[InjectionSet]) -> InjectionSet:
    """Pool the found draws of several campaigns (module docstring, "Several files").

    Each draw gets ``ln w' = ln(T_k / T) - ln(N_k / N)`` added to its log weight.
    """
    sets = list(sets)
    if not sets:
        raise ValueError("combine_injection_sets: no injection set given.")
    keys = set(sets[0].columns)
    for other in sets[1:]:
        if set(other.columns) != keys:
            raise ValueError(
                f"combine_injection_sets: {other.filename!r} has columns "
                f"{sorted(other.columns)} but {sets[0].filename!r} has {sorted(keys)}."
            )
    time = sum(s.analysis_time for s in sets)
    total = sum(s.total_generated for s in sets)
    log_weight = [
        s.log_weight + np.log(s.analysis_time / time) - np.log(s.total_generated / total)
        for s in sets
    ]
    return InjectionSet(
        columns={key: np.concatenate([s.columns[key] for s in sets]) for key in sorted(keys)},
        log_draw_density=np.concatenate([s.log_draw_density for s in sets]),
        log_weight=np.concatenate(log_weight),
        total_generated=total,
        analysis_time=time,
        layout="+".join(s.layout for s in sets),
        filename=", ".join(s.filename for s in sets),
    )


def lvk_injections(
    filenames: str | os.PathLike | Sequence[str | os.PathLike],
    parameter_names: Sequence[str],
    *,
    far_cut: float = 1.0,
    snr_cut: float = 10.0,
    pipelines: Sequence[str] | None = None,
    snr_field: str | None = None,
    spin_magnitude_max: float = 0.998,
    time: float | None = None,
    cosmology: Cosmology = PLANCK15,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """A :class:`SelectionEstimator` from one or more LVK injection files.

    Args:
        filenames: one file or a sequence of files of different campaigns (combined).
        parameter_names: the population's columns.
        far_cut, snr_cut, pipelines, snr_field, spin_magnitude_max: as in
            :func:`read_lvk_injections`, for every file.
        time: observing time in years replacing the files' total analysis time (the
            relative weights of a combination are kept).
        cosmology: for the volume weight ``dV_C/dz / (1 + z)`` [Gpc^3] of populations
            without redshift.
        batch_size: chunk size for evaluating the rate density over the draws.
    """
    paths = [filenames] if isinstance(filenames, (str, os.PathLike)) else list(filenames)
    if not paths:
        raise ValueError("lvk_injections: no injection file given.")
    names = tuple(parameter_names)
    options = dict(
        far_cut=far_cut,
        snr_cut=snr_cut,
        pipelines=pipelines,
        snr_field=snr_field,
        spin_magnitude_max=spin_magnitude_max,
    )
    sets = [read_lvk_injections(path, names, **options) for path in paths]
    pooled = sets[0] if len(sets) == 1 else combine_injection_sets(sets)
    log_weight = pooled.log_weight
    if REDSHIFT not in names:
        z = pooled.columns[REDSHIFT]
        volume = np.asarray(cosmology.differential_comoving_volume(z), dtype=np.float64)
        log_weight = log_weight + np.log(volume) - np.log1p(z)
    labels = ", ".join(os.path.basename(s.filename) for s in sets)
    return SelectionEstimator(
        theta=np.column_stack([pooled.columns[name] for name in names]),
        log_weight=log_weight,
        log_draw_density=pooled.log_draw_density,
        total_draws=pooled.total_generated,
        time=pooled.analysis_time if time is None else time,
        parameter_names=names,
        batch_size=batch_size,
        description=f"injection({labels})",
    )


# -- files, tables, metadata --------------------------------------------------------------


def _existing_path(filename) -> str:
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise ValueError(f"injection file {path!r} does not exist.")
    return path


def _open(path: str):
    return _open_hdf5(path, kind="injection file")


def _layout(handle, path: str) -> str:
    h5py = _h5py()
    injections = handle.get("injections")
    if isinstance(injections, h5py.Group):
        return "o1o2o3_mixture" if "name" in injections else "o3"
    events = handle.get("events")
    if events is not None and any(k in _field_names(events) for k in _COLUMN_FIELDS[PRIMARY_MASS]):
        return "o4"
    entries = [
        f"{key} ({'group' if isinstance(node, h5py.Group) else 'dataset'})"
        for key, node in handle.items()
    ]
    raise ValueError(
        f"injection file {path!r} has no known LVK layout: no 'injections' group (O3) and no "
        f"'events' table with a 'mass1_source' field (O4); it holds {entries or 'nothing'}."
    )


def _field_names(node) -> tuple[str, ...]:
    h5py = _h5py()
    if isinstance(node, h5py.Dataset):
        return tuple(node.dtype.names or ())
    return tuple(
        key for key, item in node.items() if isinstance(item, h5py.Dataset) and item.ndim == 1
    )


class _Table:
    """The per-injection fields of a group of datasets or of a compound dataset."""

    def __init__(self, node, path: str):
        self.node = node
        self.compound = isinstance(node, _h5py().Dataset)
        self.names = _field_names(node)
        self.label = f"{'dataset' if self.compound else 'group'} {node.name.lstrip('/')!r}"
        self.where = f"injection file {path!r}, {self.label}"

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def first(self, candidates: Iterable[str]) -> str | None:
        return next((name for name in candidates if name in self.names), None)

    def read(self, name: str, rows=None, dtype=np.float64) -> np.ndarray:
        """The field ``name`` (all rows, or those indexed by ``rows``)."""
        if name not in self.names:
            raise ValueError(f"{self.where} lacks the field {name!r}.")
        values = np.asarray(self.node[name] if self.compound else self.node[name][()])
        if dtype is not None:
            values = values.astype(dtype)
        return values if rows is None else values[rows]

    def size(self) -> int:
        field = self.first(_COLUMN_FIELDS[PRIMARY_MASS])
        if field is None:
            raise ValueError(f"{self.where} lacks the field 'mass1_source'.")
        return int(self.read(field, dtype=None).shape[0])


def _metadata(handle, table: _Table, keys, what: str) -> float:
    """The first of ``keys`` among the table's attributes, the file's, or root datasets."""
    for attrs in (table.node.attrs, handle.attrs):
        for key in keys:
            if key in attrs:
                return float(np.asarray(attrs[key]).ravel()[0])
    for key in keys:
        if key in handle and isinstance(handle[key], _h5py().Dataset):
            return float(np.asarray(handle[key][()]).ravel()[0])
    raise ValueError(
        f"{table.where}: cannot find {what}: no attribute {' or '.join(map(repr, keys))} on "
        f"the {table.label} or the file, and no root dataset of that name."
    )


def _check_options(names, far_cut, snr_cut, spin_magnitude_max, path) -> None:
    if not (np.isfinite(far_cut) and far_cut > 0):
        raise ValueError(f"injection file {path!r}: far_cut must be > 0 per year, got {far_cut}.")
    if not np.isfinite(snr_cut):
        raise ValueError(f"injection file {path!r}: snr_cut must be finite, got {snr_cut}.")
    if not (np.isfinite(spin_magnitude_max) and 0 < spin_magnitude_max <= 1):
        raise ValueError(
            f"injection file {path!r}: spin_magnitude_max must lie in (0, 1], got "
            f"{spin_magnitude_max}."
        )
    known = set(_COLUMN_FIELDS) | set(SPIN_MAGNITUDES) | set(COS_TILTS)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"injection file {path!r} provides no column for {unknown}; LVK injections give "
            f"{sorted(known)}."
        )


# -- detection ----------------------------------------------------------------------------


def _found(table: _Table, layout, far_cut, snr_cut, pipelines, snr_field) -> np.ndarray:
    """Boolean mask of the found rows (module docstring, "Detection")."""
    searches = _search_columns(table, pipelines)
    snr_key = _snr_key(table, layout, snr_field)
    if not searches and snr_key is None:
        raise ValueError(
            f"{table.where} has neither false-alarm-rate fields (far_*, ifar_*, *_far) nor an "
            f"SNR field ({', '.join(_SNR_FIELDS[layout])}) to decide detection."
        )
    size = table.size()
    real = np.zeros(size, bool)
    for field, inverse in searches.values():
        values = table.read(field)
        with np.errstate(divide="ignore"):
            real |= (1.0 / values if inverse else values) < far_cut
    semi = table.read(snr_key) > snr_cut if snr_key is not None else np.zeros(size, bool)
    if layout == "o1o2o3_mixture":
        runs = np.char.lower(_strings(table.read("name", dtype=None)))
        found = np.where(np.isin(runs, SEMIANALYTIC_RUNS), semi, real)
    elif layout == "o3":
        found = real if searches else semi
    else:
        found = real | semi
    if not found.any():
        raise ValueError(
            f"{table.where}: no injection passes the detection threshold (FAR < {far_cut} per "
            f"year in {sorted(searches) or 'no search'}; SNR > {snr_cut} in "
            f"{snr_key or 'no SNR field'} for semianalytic injections)."
        )
    return found


def _search_columns(table: _Table, pipelines) -> dict[str, tuple[str, bool]]:
    """search -> (field, is_inverse); a FAR field wins over an IFAR field of the same search."""
    columns: dict[str, tuple[str, bool]] = {}
    for field in table.names:
        parsed = _search_of(field)
        if parsed is not None and (parsed[0] not in columns or not parsed[1]):
            columns[parsed[0]] = (field, parsed[1])
    if pipelines is None:
        return columns
    wanted = {(_search_of(name) or (name, False))[0] for name in pipelines}
    missing = sorted(wanted - set(columns))
    if missing:
        raise ValueError(
            f"{table.where} lacks ifar columns (FAR or IFAR) for the searches {missing}; "
            f"searches in the file: {sorted(columns)}."
        )
    return {name: columns[name] for name in sorted(wanted)}


def _search_of(field: str) -> tuple[str, bool] | None:
    """``("gstlal", inverse)`` for ``far_gstlal``/``gstlal_far`` (False) or ``ifar_*`` (True)."""
    lowered = field.lower()
    for kind in ("ifar", "far"):
        if lowered.startswith(kind + "_") and len(field) > len(kind) + 1:
            return field[len(kind) + 1 :], kind == "ifar"
        if lowered.endswith("_" + kind) and len(field) > len(kind) + 1:
            return field[: -len(kind) - 1], kind == "ifar"
    return None


def _snr_key(table: _Table, layout: str, snr_field: str | None) -> str | None:
    if snr_field is None:
        return table.first(_SNR_FIELDS[layout])
    if snr_field not in table:
        raise ValueError(f"{table.where} lacks the SNR field {snr_field!r}.")
    return snr_field


def _strings(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "S":
        return np.char.decode(values, "ascii")
    if values.dtype.kind == "O":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
    return values.astype(str)


# -- columns ------------------------------------------------------------------------------


def _columns(table: _Table, names, rows) -> dict[str, np.ndarray]:
    """The found rows of the requested columns and redshift."""
    columns = {}
    for name in dict.fromkeys(names + (REDSHIFT,)):
        if name in _COLUMN_FIELDS:
            field = table.first(_COLUMN_FIELDS[name])
            if field is None:
                raise ValueError(
                    f"{table.where} provides no column for {name!r} (no field "
                    f"{' or '.join(map(repr, _COLUMN_FIELDS[name]))})."
                )
            columns[name] = table.read(field, rows)
    for i in (1, 2):
        if SPIN_MAGNITUDES[i - 1] in names or COS_TILTS[i - 1] in names:
            magnitude, cos_tilt = _spin(table, i, rows)
            for name, values in ((SPIN_MAGNITUDES[i - 1], magnitude), (COS_TILTS[i - 1], cos_tilt)):
                if name in names:
                    columns[name] = values
    return columns


def _spin(table: _Table, i: int, rows) -> tuple[np.ndarray, np.ndarray]:
    """``(a_i, cos t_i)`` of the found rows from Cartesian or polar spin fields."""
    cartesian = [f"spin{i}{axis}" for axis in "xyz"]
    if all(field in table for field in cartesian):
        return spin_polar_coordinates(*(table.read(f, rows) for f in cartesian))[:2]
    polar = [f"spin{i}_magnitude", f"spin{i}_polar_angle"]
    if all(field in table for field in polar):
        return table.read(polar[0], rows), np.cos(table.read(polar[1], rows))
    raise ValueError(f"{table.where} lacks the spin {i} fields {cartesian} (or {polar}).")


# -- draw density -------------------------------------------------------------------------


def _log_draw_density(table: _Table, names, rows, a_max: float) -> np.ndarray:
    """``ln q`` of the found rows in the requested columns and redshift (module docstring)."""
    needed = _needed_variables(names)
    factors = _factors(table)
    chosen = _choose_factors(factors, needed)
    if chosen is None:
        fields = [f.field for f in factors] or "none"
        raise ValueError(
            f"{table.where}: its draw-density fields ({fields}) do not give the density of "
            f"{[_READABLE[v] for v in sorted(needed)]}."
        )
    spins = {}

    def spin(i):
        if i not in spins:
            spins[i] = _spin(table, i, rows)
        return spins[i]

    log_q = np.zeros(rows.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for factor in chosen:
            values = table.read(factor.field, rows)
            log_q += values if factor.is_log else np.log(values)
            for i in factor.cartesian:
                log_q += 2 * np.log(spin(i)[0])
            for i in factor.polar:
                log_q -= 0.5 * np.log1p(-(spin(i)[1] ** 2))
        covered = frozenset().union(*(f.head for f in chosen))
        for variable in sorted(covered - needed):
            log_q -= _log_assumed_marginal(variable, a_max)
            if variable.startswith("a"):
                _check_magnitudes(spin(int(variable[1]))[0], a_max, variable[1], table)
    bad = ~np.isfinite(log_q)
    if bad.any():
        raise ValueError(
            f"{table.where}: the draw density from {[f.field for f in chosen]} is zero or not "
            f"finite for {int(bad.sum())} found injections."
        )
    return log_q


def _check_magnitudes(magnitude: np.ndarray, a_max: float, spin: str, table: _Table) -> None:
    """Magnitudes divided out as uniform on ``[0, a_max]`` must not exceed ``a_max``."""
    largest = float(np.max(magnitude))
    if largest > a_max * (1 + 1e-6):
        raise ValueError(
            f"{table.where}: spin {spin} magnitudes reach {largest:.6g} > "
            f"spin_magnitude_max={a_max}; set spin_magnitude_max to the injected maximum."
        )


def _needed_variables(names) -> frozenset:
    needed = {"m1", "m2", "z"}
    if ECCENTRICITY in names:
        needed.add("e")
    for i in (1, 2):
        if SPIN_MAGNITUDES[i - 1] in names:
            needed.add(f"a{i}")
        if COS_TILTS[i - 1] in names:
            needed.add(f"ct{i}")
    return frozenset(needed)


def _log_assumed_marginal(variable: str, a_max: float) -> float:
    """ln of the injected marginal density assumed for a variable divided out of a joint."""
    if variable.startswith("phi"):
        return -np.log(2 * np.pi)
    if variable.startswith("ct"):
        return -np.log(2.0)
    return -np.log(a_max)


def _factors(table: _Table) -> list[_Factor]:
    """The parseable draw-density fields of a table."""
    factors = []
    for field in table.names:
        if field.startswith("lnpdraw_"):
            parsed, is_log = _parse(field[len("lnpdraw_") :]), True
        elif field == "sampling_pdf":
            parts = ["mass1_source_mass2_source_redshift"]
            parts += [f"spin{i}x_spin{i}y_spin{i}z" for i in (1, 2) if f"spin{i}x" in table]
            parsed, is_log = _parse("_".join(parts)), False
        elif field.endswith("_sampling_pdf"):
            parsed, is_log = _parse(field[: -len("_sampling_pdf")]), False
        else:
            continue
        if parsed is not None:
            factors.append(_Factor(field, *parsed[:2], is_log, *parsed[2:]))
    return factors


def _parse(text: str):
    """``(head, given, cartesian, polar)`` of ``"<variables>[_GIVEN_<variables>]"``, or None."""
    head_text, _, given_text = text.partition("_GIVEN_")
    head = _canonical(_words(head_text))
    given = _canonical(_words(given_text)) if given_text else (frozenset(), (), ())
    if head is None or given is None or not head[0] or head[0] & given[0]:
        return None
    return head[0], given[0], head[1], head[2]


def _words(text: str) -> list[str] | None:
    """Split ``text`` into symbols of :data:`_VOCABULARY` (None if it has other words)."""
    parts, symbols, start = text.split("_"), [], 0
    while start < len(parts):
        word = next((w for w in _WORDS if tuple(parts[start : start + len(w)]) == w), None)
        if word is None:
            return None
        symbols.append(_VOCABULARY[word])
        start += len(word)
    return symbols


def _canonical(symbols):
    """Map symbols to the variables (Cartesian spin triples to ``a, ct, phi``)."""
    if symbols is None or len(set(symbols)) != len(symbols):
        return None
    variables, cartesian, polar = set(), [], []
    for i, triple in _CARTESIAN.items():
        present = [s for s in triple if s in symbols]
        if present and len(present) < 3:
            return None
        if present:
            cartesian.append(i)
            variables |= {f"a{i}", f"ct{i}", f"phi{i}"}
    for symbol in symbols:
        if any(symbol in triple for triple in _CARTESIAN.values()):
            continue
        variable = symbol.replace("theta", "ct")
        if symbol.startswith("theta"):
            polar.append(int(symbol[-1]))
        if variable in variables:
            return None
        variables.add(variable)
    return frozenset(variables), tuple(cartesian), tuple(polar)


def _choose_factors(factors: list[_Factor], needed: frozenset) -> list[_Factor] | None:
    """Factors with disjoint heads covering ``needed`` and their conditions, fewest
    extra (assumed) variables first, then fewest factors; None if there is none."""
    spin_variables = {f"{p}{i}" for p in ("a", "ct", "phi") for i in (1, 2)}
    usable = [f for f in factors if f.head - needed <= spin_variables]
    best: list = []

    def search(chosen: list[_Factor], covered: frozenset) -> None:
        conditions = frozenset().union(*(f.given for f in chosen)) if chosen else frozenset()
        missing = (needed | conditions) - covered
        if not missing:
            key = (len(covered - needed), len(chosen))
            if not best or key < best[0]:
                best[:] = [key, list(chosen)]
            return
        target = min(missing)
        for factor in usable:
            if target in factor.head and not factor.head & covered:
                search(chosen + [factor], covered | factor.head)

    search([], frozenset())
    return best[1] if best else None


def _log_file_weights(table: _Table, rows) -> np.ndarray:
    """``ln w_j`` of the found rows from ``weights``/``mixture_weight`` (0 without)."""
    field = table.first(_WEIGHT_FIELDS)
    if field is None:
        return np.zeros(rows.shape[0])
    weights = table.read(field, rows)
    if not np.all(np.isfinite(weights) & (weights > 0)):
        raise ValueError(
            f"{table.where}: the field {field!r} has found injections with a weight "
            f"that is not finite and > 0."
        )
    return np.log(weights)
