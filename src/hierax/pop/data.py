"""Per-event posterior samples for population inference, concatenated on the host.

A catalog of ``N`` events, event ``n`` carrying ``M_n`` posterior samples of
the source parameters ``theta`` (columns named by
:func:`hierax.pop.parameters.parameter_names`) and the log density
``ln pi_n(theta)`` of the reference prior under which they were drawn, is held
as one array of all samples concatenated in event order. Segment reductions
over this layout waste no work on padding.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["EventSamples", "FewSamplesWarning", "InputWarning", "MIN_SAMPLES_PER_EVENT",
           "subsample_rows"]

MIN_SAMPLES_PER_EVENT = 10
"""The fewest posterior samples per event that the readers accept without a warning.

The likelihood replaces each event's evidence integral by the average of
``rho / pi_n`` over the event's samples. That average is trusted only where its
effective number of samples ``N_eff = (sum w)^2 / sum w^2`` reaches the threshold
that :func:`hierax.pop.likelihood.record_diagnostics` checks at every draw (10 by
default). ``N_eff`` never exceeds the number of samples, so an event with fewer
than 10 samples fails that check at every hyperparameter value: its average
is too noisy for any posterior draw to be trusted. Real catalogs carry thousands
of samples per event; an event below this floor usually means a truncated file.
An event needs at least 2 samples for the average to have a variance at all;
fewer is an error.
"""


class InputWarning(UserWarning):
    """The input was accepted, but the result depends on a guess about it that the
    message names (e.g. a flat reference prior, too few samples, an unused prior key)."""


class FewSamplesWarning(InputWarning):
    """Events with fewer than :data:`MIN_SAMPLES_PER_EVENT` posterior samples."""


@dataclasses.dataclass(frozen=True, eq=False)
class EventSamples:
    """All events' posterior samples, concatenated.

    Attributes:
        theta: ``(S, d)`` float samples of every event, event after event.
        log_prior: ``(S,)`` ``ln pi_n(theta)`` of the reference prior (0 if none given).
        event_index: ``(S,)`` int32, sorted: the event of each sample.
        counts: ``(N,)`` int, samples per event (all >= 1).
        parameter_names: the ``d`` column names of ``theta``.
        event_names: ``N`` event names (e.g. file names).
        sources: where each event came from (its file), for messages; may be empty.
    """

    theta: np.ndarray
    log_prior: np.ndarray
    event_index: np.ndarray
    counts: np.ndarray
    parameter_names: tuple[str, ...]
    event_names: tuple[str, ...]
    sources: tuple[str, ...] = ()

    def __post_init__(self):
        _validate(self)

    @classmethod
    def from_list(
        cls,
        samples: Sequence[np.ndarray],
        log_priors: Sequence[np.ndarray] | None = None,
        parameter_names: Sequence[str] = (),
        event_names: Sequence[str] | None = None,
        sources: Sequence[str] = (),
    ) -> EventSamples:
        """Concatenate per-event arrays.

        Args:
            samples: ``N`` arrays of shape ``(M_n, d)``.
            log_priors: ``N`` arrays of shape ``(M_n,)``, ``ln pi_n`` at each sample;
                ``None`` for a flat reference prior (zeros).
            parameter_names: the ``d`` column names.
            event_names: ``N`` names; default ``event_0, event_1, ...``.
            sources: ``N`` descriptions of where each event came from (file names), or
                none.
        """
        samples = list(samples)
        if not samples:
            raise ValueError("EventSamples.from_list: no events given.")
        if event_names is None:
            event_names = [f"event_{n}" for n in range(len(samples))]
        event_names = tuple(str(name) for name in event_names)
        if len(event_names) != len(samples):
            raise ValueError(
                f"EventSamples.from_list: {len(samples)} events but {len(event_names)} names."
            )
        arrays = [_event_array(s, name) for s, name in zip(samples, event_names, strict=True)]
        if log_priors is None:
            priors = [np.zeros(a.shape[0]) for a in arrays]
        else:
            log_priors = list(log_priors)
            if len(log_priors) != len(arrays):
                raise ValueError(
                    f"EventSamples.from_list: {len(arrays)} events but "
                    f"{len(log_priors)} log_priors."
                )
            priors = [np.asarray(p, dtype=np.float64) for p in log_priors]
        for prior, array, name in zip(priors, arrays, event_names, strict=True):
            if prior.shape != (array.shape[0],):
                raise ValueError(
                    f"EventSamples: event {name!r}: log_prior has shape {prior.shape}, "
                    f"expected ({array.shape[0]},)."
                )
        counts = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        return cls(
            theta=np.concatenate(arrays, axis=0),
            log_prior=np.concatenate(priors),
            event_index=np.repeat(np.arange(len(arrays), dtype=np.int32), counts),
            counts=counts,
            parameter_names=tuple(parameter_names),
            event_names=event_names,
            sources=tuple(str(source) for source in sources),
        )

    @property
    def num_events(self) -> int:
        """``N``, the number of events."""
        return int(self.counts.shape[0])

    def describe_event(self, n: int) -> str:
        """``"event 'NAME'"``, with its source (file) when known, for messages."""
        source = f" (file '{self.sources[n]}')" if self.sources else ""
        return f"event '{self.event_names[n]}'{source}"

    @property
    def num_samples(self) -> int:
        """``S``, the total number of samples over all events."""
        return int(self.theta.shape[0])

    def event(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(theta (M_n, d), log_prior (M_n,))`` of event ``n``."""
        start = int(np.sum(self.counts[:n]))
        stop = start + int(self.counts[n])
        return self.theta[start:stop], self.log_prior[start:stop]


def subsample_rows(count: int, keep: int, seed: int, name: str) -> np.ndarray:
    """``keep`` sorted row indices out of ``count``, drawn without replacement from
    ``seed`` and the event's ``name`` (so one event's draw does not depend on the others)."""
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])
    return np.sort(rng.choice(count, size=keep, replace=False))


def _event_array(samples, name: str) -> np.ndarray:
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(
            f"EventSamples: event {name!r}: samples must have shape (M, d) with M >= 1, "
            f"got {np.shape(samples)}."
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _validate(events: EventSamples) -> None:
    theta, names = events.theta, events.event_names
    if theta.ndim != 2:
        raise ValueError(f"EventSamples: theta must have shape (S, d), got {theta.shape}.")
    num_samples, dim = theta.shape
    if len(events.parameter_names) != dim:
        raise ValueError(
            f"EventSamples: theta has {dim} columns but parameter_names is "
            f"{events.parameter_names!r}."
        )
    counts = np.asarray(events.counts)
    if counts.ndim != 1 or np.any(counts < 1) or int(counts.sum()) != num_samples:
        raise ValueError(
            f"EventSamples: counts must be positive and sum to {num_samples}, got {counts}."
        )
    if len(names) != counts.shape[0]:
        raise ValueError(f"EventSamples: {counts.shape[0]} events but {len(names)} names.")
    if events.sources and len(events.sources) != counts.shape[0]:
        raise ValueError(
            f"EventSamples: {counts.shape[0]} events but {len(events.sources)} sources."
        )
    expected_index = np.repeat(np.arange(counts.shape[0]), counts)
    if events.event_index.shape != (num_samples,) or np.any(events.event_index != expected_index):
        raise ValueError("EventSamples: event_index must be sorted and match counts.")
    if events.log_prior.shape != (num_samples,):
        raise ValueError(
            f"EventSamples: log_prior has shape {events.log_prior.shape}, "
            f"expected ({num_samples},)."
        )
    _check_finite(theta, events.log_prior, events.event_index, names, events.parameter_names)


def _check_finite(theta, log_prior, event_index, event_names, parameter_names) -> None:
    bad_rows = ~np.all(np.isfinite(theta), axis=1)
    if np.any(bad_rows):
        row = int(np.argmax(bad_rows))
        column = int(np.argmax(~np.isfinite(theta[row])))
        event = int(event_index[row])
        raise ValueError(
            f"EventSamples: event {event_names[event]!r} has a non-finite sample "
            f"({theta[row, column]}) in column {parameter_names[column]!r}: sample "
            f"{_position_in_event(event_index, row)} of the event (1-based)."
        )
    bad_prior = ~np.isfinite(log_prior)
    if np.any(bad_prior):
        row = int(np.argmax(bad_prior))
        event = int(event_index[row])
        raise ValueError(
            f"EventSamples: event {event_names[event]!r} has a non-finite log_prior "
            f"({log_prior[row]}) at sample {_position_in_event(event_index, row)} of the event "
            "(1-based)."
        )


def _position_in_event(event_index, row: int) -> int:
    """The 1-based position of sample ``row`` (an index into all samples) in its event."""
    first = int(np.searchsorted(event_index, event_index[row], side="left"))
    return row - first + 1
