"""Progress reporting for long sampler loops.

The driver runs its compiled loop piece by piece and reports between pieces;
the pieces only change when the host looks at the state, never the draws.
"""

from __future__ import annotations

import math

__all__ = ["ProgressBar"]

UPDATES_PER_PHASE = 50


class ProgressBar:
    """A tqdm bar for one phase (``warmup`` or ``sample``) of one run.

    Args:
        phase: the phase name shown on the bar.
        start, stop: the iterations the phase runs between.
        enabled: when False, :meth:`stops` yields the end at once and nothing is shown.
        label: optional prefix (e.g. ``"chain 2"``).
        position: the terminal line of the bar, when several run at once (one per
            concurrent chain).
    """

    def __init__(self, phase: str, start: int, stop: int, *, enabled: bool = True,
                 label: str | None = None, position: int | None = None):
        self.phase = phase
        self.start = start
        self.stop = stop
        self.enabled = enabled and stop > start
        self._done = start
        self._bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            description = f"{label} {phase}" if label else phase
            self._bar = tqdm(total=stop - start, desc=description, leave=True,
                             dynamic_ncols=True, position=position)

    def stops(self):
        """Iterations at which the loop hands control back to report progress."""
        if not self.enabled:
            if self.stop > self.start:
                yield self.stop
            return
        piece = max(1, math.ceil((self.stop - self.start) / UPDATES_PER_PHASE))
        yield from range(self.start + piece, self.stop, piece)
        yield self.stop

    def update(self, iteration: int, stats: dict) -> None:
        """Advance to ``iteration`` and show ``stats`` (step size, divergences)."""
        if self._bar is None:
            return
        self._bar.update(iteration - self._done)
        self._done = iteration
        self._bar.set_postfix(
            {"step size": f"{stats['step_size']:.3g}", "divergences": stats["divergences"]},
            refresh=False,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
