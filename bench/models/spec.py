"""What a benchmark model module provides, and the shared sampler settings.

A model module in ``bench/models/`` defines ``NAME``, ``TITLE``, ``TARGET_CLASS``
(``"small"`` or ``"large"``: which performance targets apply) and
``build(npx, dist, infer, quick) -> Problem``, where ``npx`` is the modeling
module (``hierax`` or ``numpyro``), ``dist`` its distributions module and
``infer`` its inference module. The same module therefore gives the same model,
data and settings to every sampler. Adding a model is adding one such module
and its name to ``MODEL_NAMES`` in :mod:`bench.models.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Sampler settings shared by every library (NUTS, float32, chains vectorized)."""

    num_warmup: int
    num_samples: int
    num_chains: int
    target_accept: float = 0.8
    dense_mass: bool = False
    max_tree_depth: int = 10


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, built for one modeling library.

    Attributes:
        model: the model function.
        args, kwargs: its arguments (NumPy float32 arrays).
        settings: :class:`Settings`.
        latent_sites: latent sample sites whose draws enter ESS and the mean check.
        init_strategy: an init strategy of the library (``None``: the library's default);
            BlackJAX starts where hierax's ``ModelProgram`` puts this strategy's start.
    """

    model: Callable
    args: tuple
    kwargs: dict
    settings: Settings
    latent_sites: tuple
    init_strategy: Any = None
