"""Readers of per-event posterior samples into :class:`hierax.pop.data.EventSamples`.

Three layouts, one file per event:

- whitespace text with a header line of column names (seed 000 / GWKokab ``.dat``
  files and :func:`hierax.pop.mock.write_mock_catalog` output):
  :func:`read_text_events`;
- GWKokab 0.3 event HDF5 files: a structured dataset
  ``/GWKokabSyntheticDiscretePE/posterior_samples`` (one field per parameter):
  :func:`read_gwkokab_hdf5`;
- LVK PESummary HDF5 files: ``/<label>/posterior_samples``, a structured dataset
  (or, in older files, a group with ``parameter_names`` and ``samples``):
  :func:`read_pesummary`.

Files are named by a glob pattern (GWKokab's ``--posterior-regex`` is a glob); if
no file matches, the pattern's last component is tried as a regular expression
over its directory. Files are taken in natural order (``event_2`` before
``event_10``). Every problem (no file, empty file, missing column, non-finite
value) is a ``ValueError`` naming the file and, where it applies, the column.

The ``log_prior_column`` argument of each reader: ``"auto"`` (default) takes the
column ``log_prior`` when every file has it and a flat reference prior (zeros) when
none has; a name requires that column in every file; ``None`` ignores it.
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hierax.pop.data import EventSamples

__all__ = ["find_event_files", "read_text_events", "read_gwkokab_hdf5", "read_pesummary"]

AUTO = "auto"
DEFAULT_LOG_PRIOR_COLUMN = "log_prior"
GWKOKAB_DATASET = "GWKokabSyntheticDiscretePE/posterior_samples"


def find_event_files(pattern) -> list[Path]:
    """The files named by ``pattern``, in natural order.

    ``pattern`` is a glob (``"data/realization_0/posteriors/event_*.dat"``); if it
    matches nothing, its last component is used as a regular expression matched in
    full against the names in its directory (``"data/event_[0-9]+\\.dat"``). A list
    or tuple of paths is taken as given.
    """
    if isinstance(pattern, list | tuple):
        files = [Path(p) for p in pattern]
        missing = [str(p) for p in files if not p.is_file()]
        if not files or missing:
            raise ValueError(f"find_event_files: no such file(s): {missing or 'empty list'}.")
        return files
    pattern = os.fspath(pattern)
    matches = [p for p in glob.glob(pattern) if os.path.isfile(p)]
    if not matches:
        matches = _regex_matches(pattern)
    if not matches:
        raise ValueError(
            f"find_event_files: no file matches {pattern!r} (neither as a glob nor as a "
            "regular expression over its directory)."
        )
    return sorted((Path(p) for p in matches), key=_natural_key)


def read_text_events(
    pattern,
    columns: Sequence[str],
    *,
    log_prior_column: str | None = AUTO,
) -> EventSamples:
    """Read whitespace text files with a header line of column names.

    Args:
        pattern: glob / regular expression / list of paths (:func:`find_event_files`).
        columns: the parameter columns to keep, in this order (the ``theta`` columns).
        log_prior_column: see the module docstring.

    Returns:
        :class:`EventSamples` with one event per file, named by the file stem.
    """
    return _read_all(find_event_files(pattern), columns, log_prior_column, _load_text)


def read_gwkokab_hdf5(
    pattern,
    columns: Sequence[str],
    *,
    dataset: str = GWKOKAB_DATASET,
    log_prior_column: str | None = AUTO,
) -> EventSamples:
    """Read GWKokab 0.3 event HDF5 files (``event_<i>.hdf5``).

    Args:
        pattern: glob / regular expression / list of paths.
        columns: the parameter columns (structured-array fields) to keep.
        dataset: path of the structured samples dataset inside each file.
        log_prior_column: see the module docstring.
    """

    def load(path: Path):
        h5py = _h5py()
        with h5py.File(path, "r") as handle:
            if dataset not in handle:
                raise ValueError(
                    f"read_gwkokab_hdf5: file {str(path)!r} has no dataset {dataset!r}; "
                    f"top-level keys: {sorted(handle.keys())}."
                )
            return _table_from_hdf5(handle[dataset], path)

    return _read_all(find_event_files(pattern), columns, log_prior_column, load)


def read_pesummary(
    pattern,
    columns: Sequence[str],
    *,
    label: str | None = None,
    log_prior_column: str | None = None,
) -> EventSamples:
    """Read LVK PESummary HDF5 files (``<label>/posterior_samples``).

    Args:
        pattern: glob / regular expression / list of paths.
        columns: the parameter columns to keep (e.g. ``"mass_1_source"``).
        label: the analysis to read (e.g. ``"C01:Mixed"``); ``None`` takes the only
            one, or the first in the file's order when there are several.
        log_prior_column: a column holding ``ln pi`` of the samples, if any; LVK files
            store the prior separately, so the default is a flat reference prior.
    """

    def load(path: Path):
        h5py = _h5py()
        with h5py.File(path, "r") as handle:
            labels = [k for k in handle if _has_posterior(handle[k], h5py)]
            chosen = _choose_label(labels, label, path)
            return _table_from_hdf5(handle[chosen]["posterior_samples"], path)

    return _read_all(find_event_files(pattern), columns, log_prior_column, load)


def _read_all(paths, columns, log_prior_column, load) -> EventSamples:
    columns = _checked_columns(columns)
    tables = [(path, load(path)) for path in paths]
    prior_name = _resolve_log_prior_column(log_prior_column, tables)
    samples, log_priors = [], []
    for path, (names, data) in tables:
        wanted = columns + ((prior_name,) if prior_name else ())
        selected = _select(path, names, data, wanted)
        samples.append(selected[:, : len(columns)])
        log_priors.append(selected[:, len(columns)] if prior_name else np.zeros(len(selected)))
    return EventSamples.from_list(
        samples, log_priors, parameter_names=columns, event_names=[p.stem for p, _ in tables]
    )


def _checked_columns(columns) -> tuple[str, ...]:
    if isinstance(columns, str):
        columns = (columns,)
    columns = tuple(str(c) for c in columns)
    if not columns:
        raise ValueError("readers: `columns` must name at least one parameter column.")
    if len(set(columns)) != len(columns):
        raise ValueError(f"readers: `columns` has duplicates: {columns}.")
    return columns


def _resolve_log_prior_column(log_prior_column, tables) -> str | None:
    if log_prior_column != AUTO:
        return log_prior_column
    having = [DEFAULT_LOG_PRIOR_COLUMN in names for _, (names, _) in tables]
    if all(having):
        return DEFAULT_LOG_PRIOR_COLUMN
    if any(having):
        path = tables[having.index(False)][0]
        raise ValueError(
            f"readers: file {str(path)!r} has no column {DEFAULT_LOG_PRIOR_COLUMN!r} while "
            "other files have one; pass log_prior_column=None to ignore it everywhere."
        )
    return None


def _select(path: Path, names: tuple[str, ...], data: np.ndarray, wanted) -> np.ndarray:
    """Columns ``wanted`` of ``data`` as float64 ``(M, len(wanted))``, checked finite."""
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(
            f"readers: file {str(path)!r} has no column {missing[0]!r} "
            f"(missing {missing}; available: {list(names)})."
        )
    if data.shape[0] == 0:
        raise ValueError(f"readers: file {str(path)!r} has no samples (column header only).")
    selected = data[:, [names.index(c) for c in wanted]]
    finite = np.isfinite(selected)
    if not np.all(finite):
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"readers: file {str(path)!r}, column {wanted[column]!r}: non-finite value "
            f"{selected[row, column]} in sample {row}."
        )
    return selected


def _load_text(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """``(column names, (M, k) float64 values)`` of a whitespace table with a header."""
    with open(path) as stream:
        header = stream.readline()
        names = tuple(header.lstrip("#").split())
        if not names:
            raise ValueError(f"readers: file {str(path)!r} is empty (no header line).")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                data = np.loadtxt(stream, dtype=np.float64, ndmin=2)
        except ValueError as error:
            raise ValueError(f"readers: file {str(path)!r} is not numeric: {error}") from None
    if data.size == 0:
        data = np.zeros((0, len(names)))
    if data.shape[1] != len(names):
        raise ValueError(
            f"readers: file {str(path)!r} has {data.shape[1]} values per row but "
            f"{len(names)} column names in its header."
        )
    return names, data


def _table_from_hdf5(node, path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """``(names, (M, k) float64)`` from a structured dataset or a PESummary group."""
    if hasattr(node, "dtype") and node.dtype.names:
        values = node[()]
        names = tuple(node.dtype.names)
        numeric = [n for n in names if np.issubdtype(values.dtype[n], np.number)]
        data = np.column_stack([np.asarray(values[n], np.float64).ravel() for n in numeric])
        return tuple(numeric), data.reshape(-1, len(numeric))
    if hasattr(node, "keys") and {"parameter_names", "samples"} <= set(node.keys()):
        names = tuple(_decode(n) for n in node["parameter_names"][()])
        return names, np.asarray(node["samples"][()], np.float64).reshape(-1, len(names))
    raise ValueError(
        f"readers: file {str(path)!r}: {node.name!r} is neither a structured dataset nor a "
        "group with `parameter_names` and `samples`."
    )


def _has_posterior(node, h5py) -> bool:
    return isinstance(node, h5py.Group) and "posterior_samples" in node


def _choose_label(labels: list[str], label: str | None, path: Path) -> str:
    if not labels:
        raise ValueError(
            f"read_pesummary: file {str(path)!r} has no group with a `posterior_samples` dataset."
        )
    if label is None:
        return labels[0]
    if label not in labels:
        raise ValueError(
            f"read_pesummary: file {str(path)!r} has no analysis {label!r}; "
            f"available labels: {labels}."
        )
    return label


def _regex_matches(pattern: str) -> list[str]:
    directory, name = os.path.split(pattern)
    directory = directory or "."
    try:
        expression = re.compile(name)
    except re.error:
        return []
    if not os.path.isdir(directory):
        return []
    return [
        os.path.join(directory, entry)
        for entry in os.listdir(directory)
        if expression.fullmatch(entry) and os.path.isfile(os.path.join(directory, entry))
    ]


def _natural_key(path: Path):
    parts = re.split(r"(\d+)", str(path))
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _h5py():
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - h5py is part of the pop extra
        raise ImportError(
            "Reading HDF5 event files needs h5py (`pip install hierax[pop]`)."
        ) from error
    return h5py
