"""Shared test fixtures.

Tests that need double precision enable it locally with the ``x64`` fixture
(or ``jax.enable_x64(True)`` as a context manager), never globally.
"""

import jax
import jax.numpy as jnp
import pytest


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
