"""Helpers of the population benchmarks that drive the ``hierax-pop`` command line."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_hierax_pop(*args: str) -> float:
    """Run ``hierax-pop ARGS`` in a fresh interpreter; its wall seconds.

    Raises RuntimeError with the end of its standard error if it fails.
    """
    command = [sys.executable, "-c", "import sys; from hierax.cli.main import pop_main; "
               "sys.exit(pop_main(sys.argv[1:]))", *args]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"hierax-pop {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return wall


def write_report(folder, stem: str, data, text: str) -> None:
    """Write ``STEM.json`` and ``STEM.md`` into ``folder``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in ((f"{stem}.json", json.dumps(data, indent=1)), (f"{stem}.md", text)):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(content)
        tmp.replace(folder / name)


@contextlib.contextmanager
def work_folder(path, prefix: str):
    """``path`` as a folder (created), or a temporary one removed afterwards when None."""
    folder = Path(path or tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        if path is None:
            shutil.rmtree(folder, ignore_errors=True)
