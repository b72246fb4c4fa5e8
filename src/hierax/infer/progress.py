"""Progress reporting for long sampler loops, and the pieces those loops run in.

The driver runs its compiled loop piece by piece and reports between pieces;
the pieces only change when the host looks at the state, never the draws.
Pieces are sized by time (:class:`Pieces`), so that control comes back to
Python, where a Ctrl-C is delivered, about every :data:`PIECE_SECONDS`
whatever the model's speed, with or without a progress bar.

Where output goes to a terminal (or a notebook), progress is a tqdm bar; where
it goes to a file or a pipe (a batch job's log), it is a plain line every
:data:`LOG_SECONDS`, with no carriage returns or cursor movements
(:func:`progress_display`).
"""

from __future__ import annotations

import math
import sys
import time

__all__ = ["LOG_SECONDS", "PIECE_SECONDS", "Pieces", "ProgressBar", "progress_display"]

PIECE_SECONDS = 0.5
"""Wall time a compiled piece of a sampler loop aims at: a Ctrl-C lands after at most about
this long (plus one iteration). Each piece costs one host round trip (tens of microseconds)."""

UPDATES_PER_PHASE = 50
"""Most updates a terminal progress bar gets per phase (a piece never spans more)."""

LOG_SECONDS = 10.0
"""Least wall time between two plain progress lines when output is not a terminal."""

_GROWTH = 4  # a piece is at most this many times longer (in iterations) than the previous one


class Pieces:
    """Stops of a loop from ``start`` to ``stop``, each piece about :data:`PIECE_SECONDS` long.

    Iterate to get the next stop; the time between two ``next`` calls is taken as
    the time of the piece just run, so run (and wait for) each piece before
    asking for the next stop. The first piece is one iteration (it may pay for
    compilation); later pieces grow at most ``4x`` per step toward the length the
    *slowest* iterations seen so far allow (NUTS iterations vary a thousandfold in
    cost during warmup, so the average would overshoot). ``max_piece`` caps a
    piece's length in iterations.
    """

    def __init__(self, start: int, stop: int, *, max_piece: int | None = None,
                 seconds: float | None = None):
        self._start = self.position = start
        self.stop = stop
        self.max_piece = max(1, max_piece or stop - start)
        self.seconds = PIECE_SECONDS if seconds is None else seconds
        self._length = 0
        self._asked = None
        self._slowest = 0.0  # seconds per iteration, over the pieces after the first

    def __iter__(self):
        return self

    def _next_length(self) -> int:
        if not self._length:
            return 1
        per_iteration = (time.perf_counter() - self._asked) / self._length
        first_piece = self.position - self._length == self._start
        if not first_piece:
            self._slowest = max(self._slowest, per_iteration)
        fits = round(self.seconds / max(self._slowest or per_iteration, 1e-12))
        return max(1, min(fits, self._length * _GROWTH))

    def __next__(self) -> int:
        if self.position >= self.stop:
            raise StopIteration
        self._length = min(self._next_length(), self.max_piece, self.stop - self.position)
        self.position += self._length
        self._asked = time.perf_counter()
        return self.position


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _to_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or _in_notebook()


class _PlainProgress:
    """A tqdm-like counter that prints a plain line at most every ``LOG_SECONDS``.

    For output that is not a terminal: no carriage returns or cursor movements,
    just ``desc: done/total unit (percent), rate, postfix`` lines, and a last
    line when closed.
    """

    def __init__(self, total, desc, unit, initial, stream):
        self.total, self.desc, self.unit = total, desc, unit
        self.n = initial
        self._initial = initial
        self._stream = stream
        self._postfix = {}
        self._started = self._printed = time.monotonic()
        self._closed = False

    def update(self, count=1):
        self.n += count
        if time.monotonic() - self._printed >= LOG_SECONDS:
            self._print()

    def set_postfix(self, values, refresh=False):
        self._postfix = dict(values)

    def _print(self):
        elapsed = time.monotonic() - self._started
        rate = (self.n - self._initial) / elapsed if elapsed > 0 else 0.0
        percent = 100.0 * self.n / self.total if self.total else 100.0
        parts = [f"{self.desc}: {self.n}/{self.total} {self.unit} ({percent:.0f}%)",
                 f"{rate:.3g} {self.unit}/s"]
        parts += [f"{key} {value}" for key, value in self._postfix.items()]
        print(", ".join(parts), file=self._stream, flush=True)
        self._printed = time.monotonic()

    def close(self):
        if not self._closed:
            self._closed = True
            self._print()


def progress_display(total: int, desc: str, *, unit: str = "it", initial: int = 0,
                     position: int | None = None, stream=None):
    """A progress counter with tqdm's ``update``/``set_postfix``/``close``.

    A tqdm bar when ``stream`` (default ``sys.stderr``) is a terminal or the code
    runs in a notebook; otherwise plain lines every :data:`LOG_SECONDS` (see
    :class:`_PlainProgress`), which read well in a log file.
    """
    stream = sys.stderr if stream is None else stream
    if not _to_terminal(stream):
        return _PlainProgress(total, desc, unit, initial, stream)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=True,
                dynamic_ncols=True, position=position, file=stream)


class ProgressBar:
    """Progress of one phase (``warmup`` or ``sample``) of one or more chains.

    Args:
        phase: the phase name shown on the bar.
        start, stop: the iterations the phase runs between.
        enabled: when False, nothing is shown.
        label: optional prefix (e.g. ``"chain 2"``).
        position: the terminal line of the bar, when several run at once (one per
            concurrent chain).
        phase_start: the iteration the phase began at, when this bar continues it
            (a resumed run): the bar counts from there.

    A bar may span several calls of the driver (a run continued segment by
    segment); :meth:`max_piece` keeps each piece within one update of the bar.
    """

    def __init__(self, phase: str, start: int, stop: int, *, enabled: bool = True,
                 label: str | None = None, position: int | None = None,
                 phase_start: int | None = None):
        self.phase = phase
        self.start = start
        self.stop = stop
        self.enabled = enabled and stop > start
        self._done = start
        self._bar = None
        if self.enabled:
            description = f"{label} {phase}" if label else phase
            origin = start if phase_start is None else phase_start
            self._bar = progress_display(stop - origin, description, position=position,
                                         initial=start - origin)

    def max_piece(self) -> int | None:
        """Longest piece (iterations) for :data:`UPDATES_PER_PHASE` updates; None if hidden."""
        if not self.enabled:
            return None
        return math.ceil((self.stop - self.start) / UPDATES_PER_PHASE)

    def update(self, iteration: int, stats: dict) -> None:
        """Advance to ``iteration`` and show ``stats`` (step size, divergences)."""
        if self._bar is None:
            return
        self._bar.set_postfix(
            {"step size": f"{stats['step_size']:.3g}", "divergences": stats["divergences"]},
            refresh=False,
        )
        self._bar.update(iteration - self._done)
        self._done = iteration

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
