"""Shared test fixtures.

Tests that need double precision enable it locally with the ``x64`` fixture
(or ``jax.enable_x64(True)`` as a context manager), never globally.

Compiled programs are kept in a persistent XLA cache shared by the test workers and
by the command-line runs the tests start: many tests build the same model afresh (a
new ``MCMC`` object, a resumed run, a new process), and XLA then finds the program
instead of compiling it again. The cache is keyed by the program and the JAX version,
so it never changes a result. The suite takes about 30% less time with it, the
checkpoint tests of tests/infer/test_resumable.py about 60% less.
"""

import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

XLA_CACHE = Path(tempfile.gettempdir()) / "hierax-tests-xla-cache"


def _share_compiled_programs() -> None:
    settings = {
        "jax_compilation_cache_dir": str(XLA_CACHE),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    for name, value in settings.items():
        os.environ.setdefault(name.upper(), str(value))  # command-line runs started by tests
        jax.config.update(name, type(value)(os.environ[name.upper()]))


_share_compiled_programs()


@pytest.fixture(params=["float32", "float64"])
def float_dtype(request):
    """Run the test body once in float32 and once with x64 enabled (float64)."""
    if request.param == "float64":
        with jax.enable_x64(True):
            yield jnp.float64
    else:
        yield jnp.float32


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    with jax.enable_x64(True):
        yield
