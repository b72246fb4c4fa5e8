"""The effect-handler protocol behind every primitive.

A primitive (``sample``, ``param``, ``deterministic``, ...) builds a *message*, a
dict describing the site, and hands it to :func:`apply_stack`. Each active
handler, innermost first, may edit the message in ``process_message`` (set a
value, rescale it, wrap the distribution); then the default behaviour runs
(sample from ``fn`` if no value was set); then the same handlers, outermost
last, see the final message in ``postprocess_message`` (e.g. to record it).
A handler sets ``msg["stop"] = True`` to hide the site from the handlers outside it.

The stack is private to hierax and only holds Python objects while a model
runs, so models can be traced by ``jit`` and ``vmap`` any number of times. Each
thread has its own stack, so models can be run or traced in several threads at
once (as :class:`hierax.infer.MCMC` does with concurrent chains).

References: Pyro's Poutine and NumPyro's handler design (Bingham et al. 2019,
"Pyro: Deep Universal Probabilistic Programming"; Phan, Pradhan & Jankowiak 2019).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["Messenger", "apply_stack", "default_message"]

class _ThreadStacks(threading.local):
    def __init__(self):
        self.handlers: list[Messenger] = []


_STACKS = _ThreadStacks()


def _stack() -> list[Messenger]:
    """The calling thread's handler stack."""
    return _STACKS.handlers


def default_message(**fields) -> dict[str, Any]:
    """A message with every field a handler may read, updated by ``fields``."""
    msg = {
        "type": None,
        "name": None,
        "fn": None,
        "args": (),
        "kwargs": {},
        "value": None,
        "scale": None,
        "is_observed": False,
        "intermediates": [],
        "cond_indep_stack": [],
        "infer": {},
    }
    msg.update(fields)
    return msg


class Messenger:
    """Base class of effect handlers.

    Used as a context manager (``with handler: model()``) or as a wrapper
    (``handler(model)(*args)``). Subclasses override ``process_message``
    and/or ``postprocess_message``.
    """

    def __init__(self, fn=None):
        if fn is not None and not callable(fn):
            raise TypeError(
                f"{type(self).__name__} expects a callable model as its first argument, "
                f"got {type(fn).__name__}."
            )
        self.fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn, updated=[])

    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        stack = _stack()
        if exc_type is None:
            if not stack or stack[-1] is not self:
                raise RuntimeError(
                    f"{type(self).__name__} left the handler stack out of order; "
                    "handlers must be exited in the reverse order they were entered."
                )
            stack.pop()
        elif self in stack:
            # An exception unwinds this handler and everything entered after it.
            del stack[stack.index(self):]

    def process_message(self, msg: dict) -> None:
        """Edit ``msg`` before the site's value is computed."""

    def postprocess_message(self, msg: dict) -> None:
        """See ``msg`` after the site's value is computed."""

    def __call__(self, *args, **kwargs):
        if self.fn is None:
            raise TypeError(
                f"{type(self).__name__} was created without a model; use it as a context "
                f"manager, or pass the model: {type(self).__name__}(model, ...)."
            )
        with self:
            return self.fn(*args, **kwargs)


def _default_process(msg: dict) -> None:
    if msg["value"] is not None or msg["fn"] is None:
        return
    if msg["type"] == "sample":
        if msg["kwargs"].get("rng_key") is None:
            raise ValueError(
                f"sample site '{msg['name']}' needs a random key but none was given. Run "
                "the model under hierax.handlers.seed(model, rng_seed=0), or use "
                "Predictive / MCMC, or pass rng_key= to hierax.sample."
            )
        msg["value"], msg["intermediates"] = msg["fn"](
            *msg["args"], sample_intermediates=True, **msg["kwargs"]
        )
    else:
        msg["value"] = msg["fn"](*msg["args"], **msg["kwargs"])


def apply_stack(msg: dict) -> dict:
    """Run ``msg`` through the active handlers and the default behaviour.

    Returns the final message; the primitive returns its ``"value"``.
    """
    stack = _stack()
    processed = 0
    for handler in reversed(stack):
        handler.process_message(msg)
        processed += 1
        if msg.get("stop"):
            break
    _default_process(msg)
    for handler in stack[len(stack) - processed:]:
        handler.postprocess_message(msg)
    return msg


def handler_stack_is_empty() -> bool:
    """Whether no handler is active (primitives then act directly)."""
    return not _stack()


def active_handlers() -> tuple[Messenger, ...]:
    """The active handlers, outermost first (read-only view)."""
    return tuple(_stack())
