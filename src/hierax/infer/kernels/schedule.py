"""Stan's windowed warmup schedule.

Warmup is split into a fast initial buffer (step size only), a series of slow windows
of doubling length in which the (co)variance of the positions is estimated, and a fast
terminal buffer. The last slow window is stretched to reach the terminal buffer.

References:
    Stan Development Team. Stan reference manual, "HMC algorithm parameters: automatic
    parameter tuning" (windowed adaptation, defaults 75 / 25 / 50).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["WarmupSchedule", "build_schedule"]

_MIN_ADAPTIVE_WARMUP = 20


class WarmupSchedule(NamedTuple):
    """Per-iteration flags of a warmup of ``num_warmup`` iterations (NumPy, static).

    Attributes:
        slow: ``(num_warmup,)`` bool, the iteration's sample feeds the (co)variance estimate.
        window_end: ``(num_warmup,)`` bool, a slow window closes after this iteration.
        windows: ``((start, stop), ...)`` half-open iteration ranges of the slow windows.
        init_buffer, term_buffer, base_window: the sizes actually used.
    """

    slow: np.ndarray
    window_end: np.ndarray
    windows: tuple
    init_buffer: int
    term_buffer: int
    base_window: int


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"build_schedule: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"build_schedule: {name} must be >= {minimum}, got {value}")


def _slow_windows(num_warmup, init_buffer, term_buffer, base_window):
    """Window bounds by Stan's rule: double, and stretch when the next would not fit."""
    slow_stop = num_warmup - term_buffer
    windows = []
    start, size = init_buffer, base_window
    last = init_buffer + base_window - 1  # inclusive index of the window's final iteration
    while True:
        windows.append((start, last + 1))
        if last >= slow_stop - 1:
            return tuple(windows)
        start, size = last + 1, 2 * size
        last = last + size
        if last + 2 * size >= slow_stop:
            last = slow_stop - 1


def build_schedule(num_warmup: int, init_buffer: int = 75, term_buffer: int = 50,
                   base_window: int = 25) -> WarmupSchedule:
    """Stan's adaptation windows for ``num_warmup`` iterations.

    When ``init_buffer + base_window + term_buffer > num_warmup``, Stan's fallback uses
    15% / 75% / 10% of the warmup (buffers rounded down, one slow window in between).
    With fewer than 20 warmup iterations no slow window is scheduled (step size only).

    Example: ``num_warmup=1000`` gives slow windows of 25, 50, 100, 200 and 500
    iterations between a 75-iteration initial and a 50-iteration terminal buffer.

    Raises:
        TypeError / ValueError: for non-integer or negative sizes, or ``base_window < 1``.
    """
    _check_count("num_warmup", num_warmup, 0)
    _check_count("init_buffer", init_buffer, 0)
    _check_count("term_buffer", term_buffer, 0)
    _check_count("base_window", base_window, 1)
    num_warmup = int(num_warmup)
    slow = np.zeros(num_warmup, bool)
    window_end = np.zeros(num_warmup, bool)
    if num_warmup < _MIN_ADAPTIVE_WARMUP:
        return WarmupSchedule(slow, window_end, (), num_warmup, 0, 0)
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.1 * num_warmup)
        base_window = num_warmup - (init_buffer + term_buffer)
    windows = _slow_windows(num_warmup, init_buffer, term_buffer, base_window)
    for start, stop in windows:
        slow[start:stop] = True
        window_end[stop - 1] = True
    return WarmupSchedule(slow, window_end, windows, init_buffer, term_buffer, base_window)
