"""Per-event posterior files in any supported format, read with one call and one config.

:func:`read_events` finds the files of a glob, recognises their format and reads them
into :class:`hierax.pop.data.EventSamples`:

- ``"text"``: whitespace tables with a header line (seed 000, ``hierax-pop mock``);
  :func:`hierax.pop.readers.read_text_events`;
- ``"gwkokab"``: GWKokab's event HDF5 files (a ``GWKokabSyntheticDiscretePE``
  group); :func:`hierax.pop.readers.read_gwkokab_hdf5`;
- ``"pesummary"``: LVK PESummary (and GWTC-1) HDF5 files, with the PE prior divided
  out exactly; :func:`hierax.pop.pesummary.read_pesummary_events`.

HDF5 files (``.h5``, ``.hdf5``) are told apart by their content (the first file
decides; every file must have the same format). A *loader config*
(:class:`LoaderConfig`, ``hierax-pop infer --loader-cfg``) sets what the PESummary
reader needs beyond the columns, e.g. for GWTC-3's ``*_cosmo.h5`` files, whose
samples were reweighted to a prior uniform in comoving volume and source-frame time::

    {
      "labels": ["C01:Mixed"],
      "prior": {"mass": "flat_detector_components",
                "distance": "uniform_comoving_source_time",
                "spin": "uniform_isotropic", "spin_max": 0.99},
      "events": {"GW190814": {"mass": "flat_detector_components",
                              "distance": "dl_squared"}},
      "max_samples": 4000, "seed": 0
    }

``events`` overrides ``prior`` for the events it names (by file stem). ``max_samples``
keeps at most that many samples of each event, drawn without replacement from
``seed`` and the event's name, in every format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import pydantic

from hierax.pop.data import EventSamples, subsample_rows

__all__ = [
    "EVENT_FORMATS",
    "LoaderConfig",
    "downsample",
    "event_file_format",
    "parse_loader_config",
    "read_events",
]

EVENT_FORMATS = ("text", "gwkokab", "pesummary")
_HDF5_SUFFIXES = (".h5", ".hdf5")

_PriorSpec = str | dict[str, str | float | list[float]]


class LoaderConfig(pydantic.BaseModel):
    """How event files are read (module docstring); every key is optional.

    Attributes:
        format: ``"auto"`` (by suffix and content) or one of :data:`EVENT_FORMATS`.
        labels: preferred PESummary analyses, exact or ``fnmatch`` patterns (default:
            :data:`hierax.pop.pesummary.DEFAULT_LABELS`, ``C01:Mixed`` first).
        label_fallback: read another analysis with the columns when none of ``labels``
            has them (with a warning); ``False`` makes that an error.
        prior: ``"file"`` (each file's ``priors/analytic`` group) or a PE prior
            specification (:func:`hierax.pop.pe_prior.pe_prior`).
        events: per-event PE priors, overriding ``prior``.
        frame: ``"auto"``, ``"source"`` or ``"detector"`` columns for masses and redshift.
        cosmology: the source-frame cosmology (``"Planck15"``, ``"Planck18"``, ...);
            default: each file's, else Planck 2015.
        max_samples: keep at most this many samples per event (``None``: all).
        seed: seed of that draw.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    format: Literal["auto", "text", "gwkokab", "pesummary"] = "auto"
    labels: list[str] | None = None
    label_fallback: pydantic.StrictBool = True
    prior: _PriorSpec = "file"
    events: dict[str, _PriorSpec] = {}
    frame: Literal["auto", "source", "detector"] = "auto"
    cosmology: str | None = None
    max_samples: pydantic.conint(ge=2, strict=True) | None = None
    seed: pydantic.conint(ge=0, strict=True) = 0


def parse_loader_config(config: Mapping | None, *, source: str = "loader config"
                        ) -> LoaderConfig:
    """Validate ``config`` (``None``: the defaults); ``ValueError`` naming ``source`` and
    the key."""
    if config is None:
        return LoaderConfig()
    if isinstance(config, LoaderConfig):
        return config
    if not isinstance(config, Mapping):
        raise ValueError(f"{source}: expected a JSON object, got {type(config).__name__}.")
    try:
        return LoaderConfig(**config)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}"
            for e in error.errors())
        raise ValueError(f"{source}: {problems}.") from None


def event_file_format(path) -> str:
    """The format of one event file: ``"text"``, ``"gwkokab"`` or ``"pesummary"``.

    HDF5 files holding GWKokab's ``GWKokabSyntheticDiscretePE`` group are GWKokab's;
    other HDF5 files are read as PESummary (whose reader names what it misses).
    """
    from hierax.pop.readers import GWKOKAB_DATASET, _open_hdf5

    path = Path(path)
    if path.suffix.lower() not in _HDF5_SUFFIXES:
        return "text"
    with _open_hdf5(path) as handle:
        group = GWKOKAB_DATASET.split("/")[0]
        return "gwkokab" if group in handle else "pesummary"


def read_events(pattern, columns: Sequence[str], config: LoaderConfig | Mapping | None = None,
                *, log_prior_column: str | None = "auto") -> EventSamples:
    """Read the event files of ``pattern`` (glob, regular expression or list of paths).

    Args:
        pattern: the files, one event each (:func:`hierax.pop.readers.find_event_files`).
        columns: the ``theta`` columns, in order (e.g. a population's
            ``parameter_names``).
        config: a :class:`LoaderConfig` or its mapping (``None``: the defaults).
        log_prior_column: for text and GWKokab files, the column holding ``ln pi``
            (``"auto"``: ``log_prior`` when every file has it). PESummary files store
            their prior separately; it is divided out from ``config.prior``.

    Raises:
        ValueError: naming the file and what is wrong with it; also when a key of the
            config does not apply to the files' format.
    """
    from hierax.pop.readers import find_event_files, read_gwkokab_hdf5, read_text_events

    config = parse_loader_config(config)
    files = find_event_files(pattern)
    kind = config.format if config.format != "auto" else event_file_format(files[0])
    if kind == "pesummary":
        if log_prior_column not in ("auto", None):
            raise ValueError(
                f"event file '{files[0]}' is a PESummary file: its {log_prior_column!r} "
                "field, if any, is the sampler's prior in its own coordinates (chirp mass, "
                "mass ratio, luminosity distance, ...), not in the population's columns; "
                "hierax divides out the prior of the file's priors/analytic group or of the "
                "loader config instead. Leave the log_prior column out.")
        return _read_pesummary(files, columns, config)
    _check_no_pesummary_keys(config, kind, files[0])
    reader = read_text_events if kind == "text" else read_gwkokab_hdf5
    events = reader(files, tuple(columns), log_prior_column=log_prior_column)
    if config.max_samples is not None:
        events = downsample(events, config.max_samples, config.seed)
    return events


def _read_pesummary(files, columns, config: LoaderConfig) -> EventSamples:
    from hierax.pop.pe_prior import cosmology_from_description
    from hierax.pop.pesummary import DEFAULT_LABELS, read_pesummary_events

    prior = config.prior
    if config.events:
        names = {path.stem for path in files}
        unknown = sorted(set(config.events) - names)
        if unknown:
            raise ValueError(f"loader config: 'events' names {unknown}, which are not among "
                             f"the event files read ({len(names)} files).")
        prior = {name: config.events.get(name, config.prior) for name in sorted(names)}
    cosmology = (None if config.cosmology is None
                 else cosmology_from_description(config.cosmology, where="loader config "
                                                 "key 'cosmology'"))
    return read_pesummary_events(
        files, columns=tuple(columns),
        labels=DEFAULT_LABELS if config.labels is None else tuple(config.labels),
        prior=prior, cosmology=cosmology, frame=config.frame,
        max_samples=config.max_samples, seed=config.seed,
        label_fallback=config.label_fallback)


_PESUMMARY_KEYS = ("labels", "prior", "events", "frame", "cosmology")


def _check_no_pesummary_keys(config: LoaderConfig, kind: str, example: Path) -> None:
    given = [k for k in _PESUMMARY_KEYS if k in config.model_fields_set]
    if not config.label_fallback:
        given.append("label_fallback")
    if given:
        raise ValueError(f"loader config: {', '.join(given)} apply to PESummary files, but "
                         f"the event files are {kind} files (e.g. '{example}').")


def downsample(events: EventSamples, max_samples: int, seed: int = 0) -> EventSamples:
    """At most ``max_samples`` samples of each event, drawn without replacement.

    The draw of each event depends only on ``seed`` and the event's name, so adding or
    removing other events leaves it unchanged; rows keep their order.
    """
    theta, log_prior = [], []
    for n, name in enumerate(events.event_names):
        rows, prior = events.event(n)
        if rows.shape[0] > max_samples:
            keep = subsample_rows(rows.shape[0], max_samples, seed, name)
            rows, prior = rows[keep], prior[keep]
        theta.append(rows)
        log_prior.append(prior)
    return EventSamples.from_list(theta, log_prior, parameter_names=events.parameter_names,
                                  event_names=events.event_names, sources=events.sources)
