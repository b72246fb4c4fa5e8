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
``event_10``). Every problem (no file, a file of the wrong kind, no header line, a
row with too few or too many values, a missing column, a non-finite value, fewer
than 2 samples) is a ``ValueError`` naming the file and, where it applies, the
line of a text file (1-based, the header is line 1) or the sample of an HDF5
file (1-based) and the column.

The ``log_prior_column`` argument of each reader: ``"auto"`` (default) takes the
column ``log_prior`` when every file has it and a flat reference prior (zeros) when
none has, with a :class:`NoLogPriorWarning`; a name requires that column in every
file; ``None`` ignores it.

Events with fewer than :data:`hierax.pop.data.MIN_SAMPLES_PER_EVENT` samples are
read with a :class:`hierax.pop.data.FewSamplesWarning` naming them.
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hierax.pop.data import MIN_SAMPLES_PER_EVENT, EventSamples, FewSamplesWarning, InputWarning

__all__ = [
    "NoLogPriorWarning",
    "find_event_files",
    "read_text_events",
    "read_gwkokab_hdf5",
    "read_pesummary",
]

AUTO = "auto"
DEFAULT_LOG_PRIOR_COLUMN = "log_prior"
GWKOKAB_DATASET = "GWKokabSyntheticDiscretePE/posterior_samples"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SNIFF_BYTES = 4096


class NoLogPriorWarning(InputWarning):
    """No event file gives the log density of the prior its samples were drawn under,
    so a flat reference prior is assumed."""


class _Table(NamedTuple):
    """One file's columns: ``names``, ``(M, k)`` float64 ``data`` and ``locate(row)``,
    which says where 0-based ``row`` of ``data`` is in the file (e.g. ``"line 7"``)."""

    names: tuple[str, ...]
    data: np.ndarray
    locate: Callable[[int], str]


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

    def load(path: Path) -> _Table:
        with _open_hdf5(path) as handle:
            if dataset not in handle:
                raise ValueError(
                    f"event file '{path}' has no dataset {dataset!r}; "
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
        log_prior_column: a column holding ``ln pi`` of the samples, if any. LVK files
            store the prior separately: without this column the samples are taken as
            drawn under a flat reference prior, with a :class:`NoLogPriorWarning`.
            :func:`hierax.pop.pesummary.read_pesummary_events` removes the LVK prior
            exactly, converts detector-frame columns and prefers ``C01:Mixed``.
    """

    def load(path: Path) -> _Table:
        h5py = _h5py()
        with _open_hdf5(path) as handle:
            labels = [k for k in handle if _has_posterior(handle[k], h5py)]
            chosen = _choose_label(labels, label, path)
            return _table_from_hdf5(handle[chosen]["posterior_samples"], path)

    events = _read_all(find_event_files(pattern), columns, log_prior_column, load)
    if log_prior_column is None:
        warnings.warn(
            f"read_pesummary: the samples of {', '.join(_checked_columns(columns))} are taken "
            "as drawn under a flat reference prior in these columns, which LVK samples are "
            "not; hierax.pop.pesummary.read_pesummary_events removes the LVK prior.",
            NoLogPriorWarning,
            stacklevel=2,
        )
    return events


# -- all files together -----------------------------------------------------------------


def _read_all(paths, columns, log_prior_column, load) -> EventSamples:
    columns = _checked_columns(columns)
    tables = [(path, load(path)) for path in paths]
    for path, table in tables:
        _check_header(path, table.names, columns)
        _require_columns(path, table.names, columns)
    prior_name = _resolve_log_prior_column(log_prior_column, tables)
    wanted = columns + ((prior_name,) if prior_name else ())
    selected = [_select(path, table, wanted) for path, table in tables]
    _check_sample_counts(paths, [len(s) for s in selected])
    if prior_name is None and log_prior_column == AUTO:
        _warn_flat_prior(columns)
    return EventSamples.from_list(
        [s[:, : len(columns)] for s in selected],
        [s[:, len(columns)] if prior_name else np.zeros(len(s)) for s in selected],
        parameter_names=columns,
        event_names=[p.stem for p in paths],
        sources=[str(p) for p in paths],
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(path: Path, names, columns) -> None:
    """A first line of numbers is data, not the header line naming the columns."""
    if names and all(_is_number(n) for n in names):
        raise ValueError(
            f"event file '{path}' has no header line naming its columns: line 1 holds "
            f"numbers ({' '.join(names[:4])}{' ...' if len(names) > 4 else ''}). Add a first "
            f"line with the column names: {' '.join(columns)}, and "
            f"{DEFAULT_LOG_PRIOR_COLUMN} if the file gives the log density of the prior "
            "the samples were drawn under."
        )


def _require_columns(path: Path, names, wanted) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(
            f"event file '{path}' has no column {missing[0]!r} "
            f"(missing {', '.join(missing)}; the file has {', '.join(names)})."
        )


def _resolve_log_prior_column(log_prior_column, tables) -> str | None:
    if log_prior_column != AUTO:
        return log_prior_column
    having = [DEFAULT_LOG_PRIOR_COLUMN in table.names for _, table in tables]
    if all(having):
        return DEFAULT_LOG_PRIOR_COLUMN
    if any(having):
        path = tables[having.index(False)][0]
        other = tables[having.index(True)][0]
        raise ValueError(
            f"event file '{path}' has no column '{DEFAULT_LOG_PRIOR_COLUMN}' while other "
            f"files have one (e.g. '{other}'): the log density of the prior the samples "
            f"were drawn under must be given for every event or for none; add the "
            f"'{DEFAULT_LOG_PRIOR_COLUMN}' column to this file."
        )
    return None


def _warn_flat_prior(columns) -> None:
    warnings.warn(
        f"no event file has a '{DEFAULT_LOG_PRIOR_COLUMN}' column, so the samples of "
        f"{', '.join(columns)} are taken as drawn under a flat reference prior in these "
        "columns; if they were not, the inferred population is biased. Add a "
        f"'{DEFAULT_LOG_PRIOR_COLUMN}' column (the natural log of the sampling prior's "
        "density at each sample, in these columns) to every event file.",
        NoLogPriorWarning,
        stacklevel=4,
    )


def _check_sample_counts(paths, counts) -> None:
    """Fewer than 2 samples is an error; fewer than ``MIN_SAMPLES_PER_EVENT`` a warning."""
    for path, count in zip(paths, counts, strict=True):
        if count < 2:
            raise ValueError(
                f"event file '{path}' has {_count(count, 'sample')}; averaging over an event's "
                f"samples needs at least 2 (and {MIN_SAMPLES_PER_EVENT} or more to be "
                "trusted)."
            )
    few = [f"{p.stem} ({c})" for p, c in zip(paths, counts, strict=True)
           if c < MIN_SAMPLES_PER_EVENT]
    if few:
        shown = ", ".join(few[:10]) + (f" and {len(few) - 10} more" if len(few) > 10 else "")
        warnings.warn(
            f"{len(few)} event(s) have fewer than {MIN_SAMPLES_PER_EVENT} posterior samples: "
            f"{shown}; the average over so few samples is too noisy to trust, so every "
            "posterior draw will fail the Monte Carlo error check. Use more samples per event.",
            FewSamplesWarning,
            stacklevel=4,
        )


def _select(path: Path, table: _Table, wanted) -> np.ndarray:
    """Columns ``wanted`` of ``table`` as float64 ``(M, len(wanted))``, checked finite."""
    _require_columns(path, table.names, wanted)
    if table.data.shape[0] == 0:
        raise ValueError(f"event file '{path}' has no samples (column header only).")
    selected = table.data[:, [table.names.index(c) for c in wanted]]
    finite = np.isfinite(selected)
    if not np.all(finite):
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"event file '{path}', column {wanted[column]!r}: non-finite value "
            f"{selected[row, column]} at {table.locate(int(row))}."
        )
    return selected


# -- text tables ---------------------------------------------------------------------------


def _load_text(path: Path) -> _Table:
    """The table of a whitespace text file whose first line names the columns."""
    _check_text_file(path)
    try:
        with open(path, encoding="utf-8") as stream:
            names = tuple(stream.readline().lstrip("#").split())
            if not names:
                raise ValueError(f"event file '{path}' is empty (no header line).")
            data = _numeric_rows(stream, path, names)
    except UnicodeDecodeError:
        raise _not_text(path) from None
    return _Table(names, data, lambda row: _text_line(path, row))


def _check_text_file(path: Path) -> None:
    """Refuse HDF5 and other binary files with a message saying what they are."""
    with open(path, "rb") as stream:
        start = stream.read(_SNIFF_BYTES)
    if start.startswith(_HDF5_SIGNATURE):
        raise ValueError(
            f"event file '{path}' is an HDF5 file, not a text table; read it as HDF5 (name "
            "it with a .h5 or .hdf5 suffix)."
        )
    if b"\x00" in start:
        raise _not_text(path)


def _not_text(path: Path) -> ValueError:
    return ValueError(
        f"event file '{path}' is not a text table: it holds binary data, not lines of "
        "numbers under a header line of column names."
    )


def _numeric_rows(stream, path: Path, names) -> np.ndarray:
    """The rows after the header as ``(M, len(names))`` float64; a bad row is named."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(stream, dtype=np.float64, ndmin=2)
    except ValueError:
        raise _text_problem(path, names) from None
    if data.size == 0:
        return np.zeros((0, len(names)))
    if data.shape[1] != len(names):
        raise _text_problem(path, names)
    return data


def _data_lines(path: Path):
    """``(line number, values)`` of the non-empty lines after the header (comments cut)."""
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            values = line.split("#", 1)[0].split()
            if number > 1 and values:
                yield number, values


def _text_problem(path: Path, names) -> ValueError:
    """The first row of a text file with the wrong number of values or a non-number."""
    for number, values in _data_lines(path):
        if len(values) != len(names):
            return ValueError(
                f"event file '{path}', line {number}: {_count(len(values), 'value')} where the "
                f"header line names {len(names)} columns ({' '.join(names)}); every row "
                "needs one value per column."
            )
        for position, token in enumerate(values):
            if not _is_number(token):
                return ValueError(
                    f"event file '{path}', line {number}, column {position + 1} "
                    f"({names[position]}): {token!r} is not numeric."
                )
    return ValueError(f"event file '{path}' is not numeric: its rows cannot be read as "
                      "numbers.")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _text_line(path: Path, row: int) -> str:
    """``"line N"``: the line of the file (1-based, header included) holding data ``row``."""
    for index, (number, _) in enumerate(_data_lines(path)):
        if index == row:
            return f"line {number}"
    return f"row {row + 1} after the header"


# -- HDF5 files ------------------------------------------------------------------------------


def _open_hdf5(path, kind: str = "event file"):
    """``h5py.File(path, "r")``; a file that is no HDF5 file, or a damaged one, is named
    as such (``kind`` says what the file should be: ``"event file"``, ``"injection file"``)."""
    h5py = _h5py()
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"{kind} '{path}' is not an HDF5 file (it lacks the HDF5 signature)"
            f"{_looks_like_text(path)}."
        )
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ValueError(
            f"{kind} '{path}' cannot be opened as an HDF5 file; it may be truncated "
            "or damaged."
        ) from None


def _looks_like_text(path: Path) -> str:
    with open(path, "rb") as stream:
        start = stream.read(_SNIFF_BYTES)
    try:
        start.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if b"\x00" in start:
        return ""
    return ("; it looks like a text table: give text event files a name that does not end "
            "in .h5 or .hdf5, such as .dat")


def _table_from_hdf5(node, path: Path) -> _Table:
    """The table of a structured dataset or a PESummary group."""
    locate = _hdf5_sample
    if hasattr(node, "dtype") and node.dtype.names:
        values = node[()]
        names = tuple(node.dtype.names)
        numeric = [n for n in names if np.issubdtype(values.dtype[n], np.number)]
        data = np.column_stack([np.asarray(values[n], np.float64).ravel() for n in numeric])
        return _Table(tuple(numeric), data.reshape(-1, len(numeric)), locate)
    if hasattr(node, "keys") and {"parameter_names", "samples"} <= set(node.keys()):
        names = tuple(_decode(n) for n in node["parameter_names"][()])
        data = np.asarray(node["samples"][()], np.float64).reshape(-1, len(names))
        return _Table(names, data, locate)
    raise ValueError(
        f"event file '{path}': {node.name!r} is neither a structured dataset nor a "
        "group with `parameter_names` and `samples`."
    )


def _hdf5_sample(row: int) -> str:
    return f"sample {row + 1} (1-based)"


def _has_posterior(node, h5py) -> bool:
    return isinstance(node, h5py.Group) and "posterior_samples" in node


def _choose_label(labels: list[str], label: str | None, path: Path) -> str:
    if not labels:
        raise ValueError(
            f"event file '{path}' has no group with a `posterior_samples` dataset."
        )
    if label is None:
        return labels[0]
    if label not in labels:
        raise ValueError(
            f"event file '{path}' has no analysis {label!r}; "
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
            "Reading HDF5 files (events, injections) needs h5py (`pip install hierax[pop]`)."
        ) from error
    return h5py
