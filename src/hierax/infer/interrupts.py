"""Ctrl-C that is never lost during a long sampler loop.

Python delivers SIGINT by raising ``KeyboardInterrupt`` wherever the main thread
happens to be; when that is a garbage-collection or finalizer callback (JAX
registers one that runs often), the exception is printed as "Exception ignored
in ..." and dropped, and the run goes on as if nothing had been pressed.

While :func:`interrupt_guard` is active, SIGINT still raises
``KeyboardInterrupt`` at once, and it also sets a flag that
:func:`raise_if_interrupted` turns into a ``KeyboardInterrupt`` at the next
safe point: the sampler loops call it between compiled pieces, in every chain's
thread. A ``KeyboardInterrupt`` dropped that way is not reported as an ignored
exception either (it is not ignored). The guard changes the SIGINT handler (and
``sys.unraisablehook``) only where Python's own handler is in place, only in the
main thread, and puts both back when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

__all__ = ["interrupt_guard", "raise_if_interrupted"]

_requested = threading.Event()
_depth = 0
_lock = threading.Lock()


def _handle_sigint(signum, frame):
    _requested.set()
    raise KeyboardInterrupt


def _quiet_about_interrupts(previous_hook):
    """An unraisable-exception hook that leaves out the KeyboardInterrupt of a Ctrl-C."""

    def hook(unraisable):
        if not (_requested.is_set() and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            previous_hook(unraisable)

    return hook


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed inside the current guard."""
    if _requested.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_guard():
    """Remember a Ctrl-C during the block (see the module docstring); reentrant."""
    global _depth
    installs = (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    with _lock:
        outermost = _depth == 0
        _depth += 1
    if outermost:
        _requested.clear()
    if installs:
        previous_handler = signal.signal(signal.SIGINT, _handle_sigint)
        previous_hook, sys.unraisablehook = sys.unraisablehook, _quiet_about_interrupts(
            sys.unraisablehook)
    try:
        yield
        raise_if_interrupted()  # pressed, but the exception was swallowed on the way
    finally:
        if installs:
            signal.signal(signal.SIGINT, previous_handler)
            sys.unraisablehook = previous_hook
        with _lock:
            _depth -= 1
