"""How the command line reports bad input: one line on stderr and exit code 2.

Every entry point runs its action through :func:`run_cli`. Errors caused by
what the user gave (a :class:`UserInputError`, or a ``ValueError``,
``TypeError`` or ``OSError`` raised while validating input, which is how the
library reports bad values) print ``PROG: error: MESSAGE`` and exit with code
2, without a traceback. Ctrl-C prints ``PROG: interrupted`` and exits with code
130 (128 + SIGINT). Any other exception is a defect and propagates with its
traceback. Setting the environment variable ``HIERAX_TRACEBACK=1`` re-raises
input errors too, for debugging.

Warnings (a guess the results depend on, such as a flat reference prior) print
one line each, ``PROG: warning: MESSAGE``, and go to the logger
:data:`WARNINGS_LOGGER`, which holds them until a run's log file is opened
(:func:`hierax.cli.outputs.open_log`) so that the log keeps them too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from logging.handlers import MemoryHandler
from pathlib import Path

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "WARNINGS_LOGGER",
    "UserInputError",
    "read_json_file",
    "run_cli",
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_INPUT_ERRORS = (ValueError, TypeError, OSError)
WARNINGS_LOGGER = "hierax.cli.warnings"
"""Logger of the warnings a command shows; a buffer until a run's log file takes them."""


class UserInputError(ValueError):
    """A problem with a command-line argument or an input file.

    ``source`` (a file name or an option such as ``--prior-cfg``) and ``key``
    (a dotted path inside that file) prefix the message when given.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.source = source
        self.key = key
        self.detail = message
        prefix = "".join(f"{part}: " for part in (source, key) if part)
        super().__init__(prefix + message)


def read_json_file(path, *, what: str = "config") -> dict:
    """Read a JSON object from ``path``; bad files raise :class:`UserInputError`.

    ``what`` names the file's role in messages (e.g. ``"sampler config"``).
    """
    source = f"{what} '{path}'"
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise UserInputError("file not found", source=source) from None
    except IsADirectoryError:
        raise UserInputError("is a directory, not a JSON file", source=source) from None
    except OSError as exc:
        raise UserInputError(f"cannot be read ({exc.strerror})", source=source) from None
    if not text.strip():
        raise UserInputError("the file is empty", source=source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: "
                             f"{exc.msg}", source=source) from None
    if not isinstance(data, dict):
        raise UserInputError(f"the top level must be a JSON object, got "
                             f"{type(data).__name__}", source=source)
    return data


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def run_cli(prog: str, action: Callable[[], object]) -> int:
    """Run ``action()``; map input errors to exit code 2 and Ctrl-C to 130.

    Returns 0 on success (or the action's integer return value). On failure
    raises ``SystemExit`` with the code after printing one line to stderr.
    """
    try:
        with _WarningLines(prog):
            result = action()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except _INPUT_ERRORS as exc:
        if os.environ.get("HIERAX_TRACEBACK"):
            raise
        print(f"{prog}: error: {_one_line(_describe(exc))}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    return result if isinstance(result, int) else 0


class _WarningLines:
    """Shows each warning as one ``PROG: warning: ...`` line and logs it (a context)."""

    def __init__(self, prog: str):
        self.prog = prog
        self.logger = logging.getLogger(WARNINGS_LOGGER)
        self.buffer = MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
        self.caught = warnings.catch_warnings()

    def show(self, message, category, filename, lineno, file=None, line=None):
        text = _one_line(str(message))
        print(f"{self.prog}: warning: {text}", file=sys.stderr)
        self.logger.warning(text)

    def __enter__(self):
        self.caught.__enter__()
        warnings.showwarning = self.show
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.buffer)
        return self

    def __exit__(self, *exc_info):
        self.logger.removeHandler(self.buffer)
        self.buffer.close()
        return self.caught.__exit__(*exc_info)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"'{exc.filename}': {exc.strerror}"
    return str(exc) or type(exc).__name__
