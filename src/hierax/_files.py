"""Writing files atomically: results are never seen half-written.

Every file hierax writes for a user (checkpoints, mock catalogs, configs, reports)
goes through :func:`replace_atomically`: the content is written to a temporary
file in the target's folder, flushed to disk, then renamed over the target
(``os.replace``, atomic on POSIX and Windows) and the folder is flushed, so a
reader, or a run resumed after a crash, finds either the old file or the new one.
A folder of several files (a mock catalog's realization) is written the same way
with :func:`replace_folder_atomically`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["replace_atomically", "replace_folder_atomically", "write_text_atomically"]


def replace_atomically(path, write: Callable[[str], object], *, suffix: str = ".tmp") -> None:
    """Call ``write(temporary_path)``, flush the file to disk and move it onto ``path``.

    Args:
        path: the target file; its folder must exist.
        write: writes the content to the temporary path it is given.
        suffix: the temporary file's suffix (writers that infer a format from the
            extension, such as matplotlib's ``savefig``, need the real one).

    The file gets the permissions of a newly created file (``0o666`` less the
    umask), not ``mkstemp``'s private ``0o600``. On any error, including
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=suffix)
    os.close(handle)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        write(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder) -> None:
    """Flush the folder's entry for the renamed file (POSIX; a no-op elsewhere)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomically(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`replace_atomically`)."""
    replace_atomically(path, lambda temporary: Path(temporary).write_text(text))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def replace_folder_atomically(path) -> Iterator[Path]:
    """Yield a new, empty temporary folder next to ``path``; move it onto ``path`` at the end.

    Write the folder's content inside the ``with`` block. When the block ends without
    error, a folder already at ``path`` is moved aside, the new one renamed into its
    place and the old one deleted, so ``path`` never holds a partial folder and an
    earlier complete one is kept until the new one is complete. On any error,
    including ``KeyboardInterrupt``, the temporary folder is deleted and ``path`` is
    untouched. The parent folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(temporary, 0o777 & ~_umask())
        yield temporary
        _move_folder_into_place(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync_folder(path.parent)


def _move_folder_into_place(temporary: Path, path: Path) -> None:
    """Rename ``temporary`` to ``path``, deleting what ``path`` held only once it is there."""
    if not path.exists():
        os.replace(temporary, path)
        return
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
    os.replace(path, old / path.name)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.replace(old / path.name, path)
        raise
    finally:
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
