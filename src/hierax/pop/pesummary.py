"""LVK PESummary posterior files, read with their parameter-estimation prior divided out.

:func:`read_pesummary_events` reads one event per file into
:class:`hierax.pop.data.EventSamples`, in source-frame masses, redshift and the
spin columns asked for, with ``log_prior`` the density of the prior the samples
were drawn under (:mod:`hierax.pop.pe_prior`). Three layouts are recognised by
what a file holds:

1. ``<label>/posterior_samples`` (PESummary metafiles since 2020, the GWTC-2,
   GWTC-2.1 and GWTC-3 releases; GWTC-2's preferred analysis is the label
   ``PublicationSamples``): a structured dataset with one field per parameter, a
   group with ``parameter_names`` and ``samples``, or a group of 1-D datasets, one
   per parameter. The cosmology is the string ``<label>/meta_data/meta_data/cosmology``
   and the priors are bilby prior strings in ``<label>/priors/analytic/<parameter>``.
2. ``posterior_samples/<label>`` at the root (older PESummary metafiles), with
   ``meta_data/<label>/meta_data/cosmology`` and ``priors/analytic/<label>/<parameter>``.
3. GWTC-1 releases: structured datasets ``<analysis>_posterior`` at the root
   (``Overall_posterior`` is the combined one) with the columns
   ``m1_detector_frame_Msun, m2_detector_frame_Msun, luminosity_distance_Mpc, spin1,
   spin2, costilt1, costilt2``, read as ``mass_1, mass_2, luminosity_distance, a_1,
   a_2, cos_tilt_1, cos_tilt_2``. These files store no analytic prior: pass it (the
   GWTC-1 prior is ``{"mass": "flat_detector_components", "distance": "dl_squared",
   "spin": "uniform_isotropic"}``, Abbott et al. 2019, PRX 9, 031040).

An analysis (label) is chosen per file: the first entry of ``labels`` (exact names or
:mod:`fnmatch` patterns) naming an analysis with every column needed, else the first
analysis in the file's order (h5py lists names alphabetically) that has them, with a
:class:`LabelFallbackWarning` when the file holds several.

Masses and redshift come from the source-frame columns ``mass_1_source,
mass_2_source, redshift`` when present (``frame="auto"``), otherwise from the
detector-frame ``mass_1, mass_2, luminosity_distance`` with ``z = D_L^{-1}(d_L)`` and
``m = m_d / (1 + z)``. The cosmology of that conversion is ``cosmology`` if given,
else the file's, else Planck 2015 (:data:`hierax.pop.cosmology.PLANCK15`); source-frame
columns in another (known) cosmology are taken back to the detector frame with it
and converted again. The PE prior comes from the file's ``priors`` group or from the
caller; a prior that is absent or that hierax cannot divide out is an error, never a
silent flat prior. The ``priors`` group records the prior the sampler used; files whose
samples were reweighted afterwards to another distance prior (e.g. the ``*_cosmo.h5``
files of GWTC-2.1 and GWTC-3, reweighted to a prior uniform in comoving volume and
source-frame time) need that prior passed explicitly if their group was not updated.

Events keep their own number of samples (:class:`EventSamples` concatenates events
of any lengths); ``max_samples`` draws at most that many of each event's samples,
without replacement, reproducibly from ``seed`` and the event's name.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.data import EventSamples, InputWarning, subsample_rows
from hierax.pop.pe_prior import (
    PEPrior,
    cosmology_from_description,
    log_pe_prior,
    outside_support,
    pe_prior,
    pe_prior_from_analytic,
)
from hierax.pop.readers import _check_sample_counts, _h5py, _open_hdf5, find_event_files

__all__ = [
    "DEFAULT_COLUMNS",
    "DEFAULT_LABELS",
    "LabelFallbackWarning",
    "read_pesummary_events",
]

DEFAULT_LABELS = ("C01:Mixed", "*Mixed*", "PublicationSamples", "Overall_posterior")
"""Preferred analyses: the GWTC-2.1/3 combined samples, then any mixed ones, then the
GWTC-2 and GWTC-1 preferred sets."""
DEFAULT_COLUMNS = ("mass_1_source", "mass_2_source", "redshift")
SOURCE_FRAME = ("mass_1_source", "mass_2_source", "redshift")
DETECTOR_FRAME = ("mass_1", "mass_2", "luminosity_distance")
SPIN_COLUMNS = ("a_1", "a_2", "cos_tilt_1", "cos_tilt_2", "chi_eff", "chi_p")
FRAMES = ("auto", "source", "detector")
FILE_PRIOR = "file"
GWTC1_NAMES = {
    "mass_1": "m1_detector_frame_Msun",
    "mass_2": "m2_detector_frame_Msun",
    "luminosity_distance": "luminosity_distance_Mpc",
    "a_1": "spin1",
    "a_2": "spin2",
    "cos_tilt_1": "costilt1",
    "cos_tilt_2": "costilt2",
}
"""hierax names of the GWTC-1 release columns."""
_SPEC_KEYS = ("mass", "distance", "spin", "spin_max", "cosmology")


class LabelFallbackWarning(InputWarning):
    """No preferred analysis (``labels``) of an event file has every column needed, so
    another analysis of the file is read; the message names both."""


class _Analysis(NamedTuple):
    """One analysis of a file: its label and the HDF5 paths of its parts."""

    label: str
    samples: str
    meta: str | None
    priors: str | None


class _Request(NamedTuple):
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    priors: Mapping[str, object]  # event name -> FILE_PRIOR or PEPrior; "" for every event
    cosmology: Cosmology | None
    frame: str
    label_fallback: bool = True


def read_pesummary_events(
    paths,
    *,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    labels: Sequence[str] = DEFAULT_LABELS,
    prior=FILE_PRIOR,
    cosmology: Cosmology | None = None,
    frame: str = "auto",
    max_samples: int | None = None,
    seed: int = 0,
    label_fallback: bool = True,
) -> EventSamples:
    """Read LVK PESummary (and GWTC-1) posterior files, one event per file.

    Args:
        paths: a glob, a regular expression over a directory, or a list of files
            (:func:`hierax.pop.readers.find_event_files`); events are named by file stem.
        columns: the ``theta`` columns, in order: ``mass_1_source`` and
            ``mass_2_source``, and any of ``redshift, a_1, a_2, cos_tilt_1, cos_tilt_2``
            or ``chi_eff`` (``chi_p`` is refused: its PE prior is not implemented, see
            :mod:`hierax.pop.pe_prior`).
        labels: preferred analyses, exact labels or fnmatch patterns, in order.
        label_fallback: when no analysis of a file matches ``labels`` with every column
            needed, read the first one that has them (with a
            :class:`LabelFallbackWarning`); ``False`` makes that an error naming the file,
            the labels asked for and what each analysis lacks.
        prior: ``"file"`` (the file's ``priors/analytic`` group), a
            :class:`~hierax.pop.pe_prior.PEPrior` or a mapping such as
            ``{"mass": "flat_detector_components", "distance": "dl_squared"}`` for every
            event, or a mapping from event names to either (events not named read the
            file's).
        cosmology: the cosmology of the source frame; ``None`` takes each file's
            (``meta_data/meta_data/cosmology``), or Planck 2015 when it has none.
        frame: ``"auto"``, ``"source"`` or ``"detector"``: which columns give masses and
            redshift (see the module docstring).
        max_samples: keep at most this many samples per event (drawn without
            replacement); ``None`` keeps all.
        seed: seed of those draws.

    Returns:
        :class:`EventSamples` with ``log_prior = ln pi_PE`` in the coordinates of
        ``columns`` (up to a constant per event).

    Raises:
        ValueError: naming the file, the group and the field, for a file without
            samples, without the columns, with a prior that is absent or cannot be
            divided out, or with samples outside the prior's support.

    Example::

        events = read_pesummary_events(
            "GWTC-3/*_PEDataRelease_mixed_cosmo.h5",
            columns=("mass_1_source", "mass_2_source", "redshift", "a_1", "a_2"),
            prior={"mass": "flat_detector_components",
                   "distance": "uniform_comoving_source_time",
                   "spin": "uniform_isotropic", "spin_max": 0.99},
            max_samples=4000,
        )
    """
    request = _check_request(columns, labels, prior, cosmology, frame)
    request = request._replace(label_fallback=bool(label_fallback))
    max_samples = _check_max_samples(max_samples)
    files = find_event_files(paths)
    names = [path.stem for path in files]
    unknown = [name for name in request.priors if name and name not in names]
    if unknown:
        raise ValueError(
            f"read_pesummary_events: `prior` names events {unknown} that are not among the "
            f"files read ({names[:10]}{' ...' if len(names) > 10 else ''})."
        )
    theta, log_priors = [], []
    for path in files:
        samples, log_prior = _read_event(path, request)
        if max_samples is not None and samples.shape[0] > max_samples:
            keep = subsample_rows(samples.shape[0], max_samples, seed, path.stem)
            samples, log_prior = samples[keep], log_prior[keep]
        theta.append(samples)
        log_priors.append(log_prior)
    _check_sample_counts(files, [s.shape[0] for s in theta])
    return EventSamples.from_list(
        theta, log_priors, parameter_names=request.columns, event_names=names,
        sources=[str(path) for path in files],
    )


# -- arguments ------------------------------------------------------------------------------------


def _check_request(columns, labels, prior, cosmology, frame) -> _Request:
    columns = (columns,) if isinstance(columns, str) else tuple(str(c) for c in columns)
    if "chi_p" in columns:
        raise ValueError(
            "read_pesummary_events: chi_p cannot be read with its PE prior divided out: the "
            "density of the LVK spin prior in chi_p (alone or with chi_eff) is not "
            "implemented (jointly with chi_eff it has no closed form). Model a_1, a_2, "
            "cos_tilt_1, cos_tilt_2 (or chi_eff) instead."
        )
    allowed = (*SOURCE_FRAME, *SPIN_COLUMNS[:-1])
    wrong = [c for c in columns if c not in allowed]
    if wrong or len(set(columns)) != len(columns):
        raise ValueError(
            f"read_pesummary_events: columns must be distinct names among {list(allowed)}, "
            f"got {list(columns)}."
        )
    if not {"mass_1_source", "mass_2_source"} <= set(columns):
        raise ValueError(
            "read_pesummary_events: columns must include mass_1_source and mass_2_source "
            f"(the PE prior is removed in the masses), got {list(columns)}."
        )
    labels = (labels,) if isinstance(labels, str) else tuple(str(label) for label in labels)
    if frame not in FRAMES:
        raise ValueError(f"read_pesummary_events: frame must be one of {list(FRAMES)}, "
                         f"got {frame!r}.")
    if cosmology is not None and not isinstance(cosmology, Cosmology):
        raise TypeError("read_pesummary_events: cosmology must be a hierax.pop.cosmology."
                        f"Cosmology or None, got {type(cosmology).__name__}.")
    return _Request(columns, labels, _checked_priors(prior), cosmology, frame)


def _checked_priors(prior) -> dict[str, object]:
    """``{"": spec}`` for one prior of every event, else ``{event: spec}``."""
    if isinstance(prior, str) and prior == FILE_PRIOR:
        return {"": FILE_PRIOR}
    if isinstance(prior, PEPrior) or (isinstance(prior, Mapping)
                                      and any(key in _SPEC_KEYS for key in prior)):
        return {"": pe_prior(prior, where="read_pesummary_events: prior")}
    if isinstance(prior, Mapping):
        return {"": FILE_PRIOR} | {
            str(name): spec if isinstance(spec, str) and spec == FILE_PRIOR
            else pe_prior(spec, where=f"read_pesummary_events: prior of event {name!r}")
            for name, spec in prior.items()
        }
    raise TypeError(
        "read_pesummary_events: prior must be 'file', a PEPrior, a mapping with keys "
        f"{list(_SPEC_KEYS)}, or a mapping from event names to those; got {prior!r}."
    )


def _check_max_samples(max_samples) -> int | None:
    if max_samples is None:
        return None
    if isinstance(max_samples, bool) or not isinstance(max_samples, int | np.integer) \
            or max_samples < 2:
        raise ValueError(
            f"read_pesummary_events: max_samples must be None or an integer >= 2, got "
            f"{max_samples!r}."
        )
    return int(max_samples)


# -- one file -------------------------------------------------------------------------------------


def _read_event(path: Path, request: _Request) -> tuple[np.ndarray, np.ndarray]:
    """``theta (M, d)`` and ``log_prior (M,)`` of one file."""
    h5py = _h5py()
    with _open_hdf5(path) as handle:
        analyses = _find_analyses(handle, h5py)
        if not analyses:
            raise ValueError(
                f"event file '{path}' holds no posterior samples: no '<label>/posterior_"
                "samples', 'posterior_samples/<label>' or GWTC-1 '<name>_posterior' "
                f"(top-level keys: {sorted(handle.keys())})."
            )
        names = {a.label: _column_names(handle[a.samples], h5py) for a in analyses}
        analysis = _choose_analysis(analyses, names, request, path)
        available = names[analysis.label]
        file_cosmology = _file_cosmology(handle, analysis, path)
        prior = _event_prior(handle, analysis, request, path, h5py)
        frame = _frame(available, request.frame)
        wanted = [c for c in request.columns if c in SPIN_COLUMNS]
        wanted += list(SOURCE_FRAME if frame == "source" else DETECTOR_FRAME)
        data = _read_columns(handle[analysis.samples], available, wanted, path, analysis, h5py)
    where = f"event file '{path}', analysis '{analysis.label}'"
    cosmology = request.cosmology or file_cosmology or PLANCK15
    columns = _source_frame(data, frame, cosmology, file_cosmology, where)
    if prior.cosmology is None:
        prior = dataclasses.replace(prior, cosmology=file_cosmology or cosmology)
    return _theta_and_log_prior(columns, prior, cosmology, request.columns, where)


def _theta_and_log_prior(columns, prior, cosmology, wanted, where):
    modelled = {name: columns[name] for name in (*SOURCE_FRAME, *wanted) if name in columns}
    for name in ("mass_1_source", "mass_2_source"):
        bad = ~(modelled[name] > 0)
        if np.any(bad):
            row = int(np.argmax(bad))
            raise ValueError(f"{where}, column {name!r}: sample {row + 1} (1-based) is "
                             f"{modelled[name][row]}, not a positive mass.")
    violation = outside_support(prior, {n: v for n, v in modelled.items() if n in SPIN_COLUMNS})
    if violation is not None:
        name, row = violation
        raise ValueError(
            f"{where}, column {name!r}: sample {row + 1} (1-based) has {name} = "
            f"{modelled[name][row]}, outside the support of the PE prior ({_describe(prior)})."
        )
    try:
        log_prior = log_pe_prior(prior, modelled, cosmology=cosmology,
                                 include_redshift="redshift" in wanted)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    bad = ~np.isfinite(log_prior)
    if np.any(bad):
        row = int(np.argmax(bad))
        shown = ", ".join(f"{n} = {modelled[n][row]:.6g}" for n in modelled)
        raise ValueError(
            f"{where}: the PE prior density is zero or undefined at sample {row + 1} "
            f"(1-based: {shown}); the samples cannot come from the prior ({_describe(prior)})."
        )
    theta = np.column_stack([np.asarray(columns[name], np.float64) for name in wanted])
    return theta, log_prior


def _describe(prior: PEPrior) -> str:
    return (f"mass {prior.mass!r}, distance {prior.distance!r}, spin {prior.spin!r}, "
            f"spin_max {prior.spin_max}")


def _find_analyses(handle, h5py) -> list[_Analysis]:
    analyses = []
    root = handle.get("posterior_samples")
    if isinstance(root, h5py.Group):
        for label in root:
            analyses.append(_Analysis(label, f"posterior_samples/{label}",
                                      f"meta_data/{label}/meta_data", f"priors/analytic/{label}"))
    for key in handle:
        node = handle[key]
        if key != "posterior_samples" and isinstance(node, h5py.Group) \
                and "posterior_samples" in node:
            analyses.append(_Analysis(key, f"{key}/posterior_samples",
                                      f"{key}/meta_data/meta_data", f"{key}/priors/analytic"))
        elif isinstance(node, h5py.Dataset) and node.dtype.names \
                and key.lower().endswith("_posterior"):
            analyses.append(_Analysis(key, key, None, None))
    return analyses


def _column_names(node, h5py) -> tuple[str, ...]:
    if isinstance(node, h5py.Dataset):
        return tuple(node.dtype.names or ())
    if "parameter_names" in node and "samples" in node:
        return tuple(_text(name) for name in node["parameter_names"][()])
    return tuple(key for key, value in node.items()
                 if isinstance(value, h5py.Dataset) and value.ndim == 1
                 and np.issubdtype(value.dtype, np.number))


def _resolve(name: str, available) -> str | None:
    """The file's name for hierax column ``name`` (itself or its GWTC-1 name), or ``None``."""
    if name in available:
        return name
    alias = GWTC1_NAMES.get(name)
    return alias if alias in available else None


def _missing(available, request: _Request) -> list[str]:
    """Columns an analysis lacks for ``request`` (one frame's set, whichever is closer)."""
    spins = [c for c in request.columns if c in SPIN_COLUMNS and _resolve(c, available) is None]
    frames = {"source": SOURCE_FRAME, "detector": DETECTOR_FRAME}
    options = [frames[request.frame]] if request.frame != "auto" else list(frames.values())
    lacking = [[c for c in option if _resolve(c, available) is None] for option in options]
    return spins + min(lacking, key=len)


def _choose_analysis(analyses, names, request: _Request, path: Path) -> _Analysis:
    fits = [a for a in analyses if not _missing(names[a.label], request)]
    for pattern in request.labels:
        for analysis in fits:
            if analysis.label == pattern or fnmatch.fnmatchcase(analysis.label, pattern):
                return analysis
    if not request.label_fallback:
        asked = [a for a in analyses if any(a.label == p or fnmatch.fnmatchcase(a.label, p)
                                            for p in request.labels)]
        detail = "; ".join(f"'{a.samples}' lacks {', '.join(_missing(names[a.label], request))}"
                           for a in asked) or "no analysis has that label"
        raise ValueError(
            f"event file '{path}': no analysis {list(request.labels)} with every column "
            f"needed ({detail}). Analyses present: {[a.label for a in analyses]}."
        )
    if not fits:
        lacking = "; ".join(f"'{a.samples}' lacks {', '.join(_missing(names[a.label], request))}"
                            for a in analyses)
        raise ValueError(
            f"event file '{path}': no analysis has every column needed ({lacking}). "
            f"Analyses present: {[a.label for a in analyses]}."
        )
    if len(analyses) > 1:
        preferred = [a.label for a in analyses
                     if any(a.label == p or fnmatch.fnmatchcase(a.label, p)
                            for p in request.labels)]
        reason = (f"the preferred analyses {preferred} lack columns needed" if preferred
                  else f"no analysis matches labels {list(request.labels)}")
        warnings.warn(
            f"event file '{path}': {reason}, so analysis '{fits[0].label}' is read "
            f"(present: {[a.label for a in analyses]}).",
            LabelFallbackWarning,
            stacklevel=4,
        )
    return fits[0]


def _frame(available, frame: str) -> str:
    if frame != "auto":
        return frame
    return "source" if all(_resolve(c, available) for c in SOURCE_FRAME) else "detector"


def _read_columns(node, available, wanted, path, analysis, h5py) -> dict[str, np.ndarray]:
    """The ``wanted`` hierax columns as float64 ``(M,)`` arrays, checked finite."""
    files = {name: _resolve(name, available) for name in wanted}
    if isinstance(node, h5py.Dataset):
        data = {name: np.asarray(node[stored], np.float64).ravel()
                for name, stored in files.items()}
    elif "parameter_names" in node and "samples" in node:
        table = np.asarray(node["samples"][()], np.float64).reshape(-1, len(available))
        data = {name: table[:, available.index(stored)] for name, stored in files.items()}
    else:
        data = {name: np.asarray(node[stored][()], np.float64) for name, stored in files.items()}
    lengths = {name: values.shape[0] for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"event file '{path}', group '{analysis.samples}': the parameter datasets have "
            f"different lengths {lengths}."
        )
    for name, values in data.items():
        bad = ~np.isfinite(values)
        if np.any(bad):
            row = int(np.argmax(bad))
            raise ValueError(
                f"event file '{path}', '{analysis.samples}', field {files[name]!r}: non-finite "
                f"value {values[row]} at sample {row + 1} (1-based)."
            )
    return data


def _source_frame(data, frame, cosmology: Cosmology, file_cosmology, where):
    """``data`` with ``mass_1_source, mass_2_source, redshift`` in ``cosmology``."""
    columns = dict(data)
    if frame == "source":
        z = data["redshift"]
        if file_cosmology is None or file_cosmology == cosmology:
            return columns
        # Back to the detector frame in the file's cosmology, then forward in ours.
        columns["mass_1"] = data["mass_1_source"] * (1 + z)
        columns["mass_2"] = data["mass_2_source"] * (1 + z)
        columns["luminosity_distance"] = file_cosmology.luminosity_distance(z)
    distance = columns["luminosity_distance"]
    largest = float(cosmology.luminosity_distance(np.asarray([cosmology.z_max]))[0])
    bad = (distance <= 0) | (distance > largest)
    if np.any(bad):
        row = int(np.argmax(bad))
        raise ValueError(
            f"{where}, field 'luminosity_distance': sample {row + 1} (1-based) is "
            f"{distance[row]:.6g} Mpc, outside (0, {largest:.6g}] (the distances up to the "
            f"cosmology's z_max = {cosmology.z_max})."
        )
    z = cosmology.redshift_at_luminosity_distance(distance)
    columns["redshift"] = z
    columns["mass_1_source"] = columns["mass_1"] / (1 + z)
    columns["mass_2_source"] = columns["mass_2"] / (1 + z)
    return columns


def _file_cosmology(handle, analysis: _Analysis, path: Path) -> Cosmology | None:
    if analysis.meta is None or f"{analysis.meta}/cosmology" not in handle:
        return None
    field = f"{analysis.meta}/cosmology"
    return cosmology_from_description(
        _text(handle[field][()]), where=f"event file '{path}', dataset '{field}'"
    )


def _event_prior(handle, analysis: _Analysis, request: _Request, path: Path, h5py) -> PEPrior:
    event = path.stem
    spec = request.priors.get(event, request.priors[""])
    if isinstance(spec, PEPrior):
        return spec
    group = handle.get(analysis.priors) if analysis.priors else None
    entries = {}
    if isinstance(group, h5py.Group):
        entries = {key: _text(node[()]) for key, node in group.items()
                   if isinstance(node, h5py.Dataset)}
    if not entries:
        place = f"group '{analysis.priors}'" if analysis.priors else "a priors group"
        raise ValueError(
            f"event file '{path}': analysis '{analysis.label}' stores no analytic PE prior "
            f"(no {place}), and a prior must never be assumed. Pass it as prior="
            "{'mass': 'flat_detector_components', 'distance': 'dl_squared' or "
            "'uniform_comoving_source_time', 'spin': 'uniform_isotropic'} (for every event) "
            f"or prior={{'{event}': {{...}}}} (for this event)."
        )
    spins = any(c in SPIN_COLUMNS for c in request.columns)
    return pe_prior_from_analytic(entries, where=f"event file '{path}', group "
                                  f"'{analysis.priors}'", spin=spins)


def _text(value) -> str:
    """A string from an HDF5 value: bytes, a string, or a one-element array of either."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        value = value.ravel()[0]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
