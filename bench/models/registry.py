"""The benchmark models, by name (one module each in ``bench/models/``)."""

from __future__ import annotations

import importlib

MODEL_NAMES = ("eight_schools", "outliers", "gaia_cluster", "gaussian_100d")


def load(name: str):
    """The model module ``bench.models.<name>``."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown benchmark model {name!r}; known: {MODEL_NAMES}")
    return importlib.import_module(f"bench.models.{name}")
