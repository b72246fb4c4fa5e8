"""Shared array plumbing for the MCMC diagnostics.

Every diagnostic works on host NumPy arrays laid out as
``(num_chains, num_draws, *param_shape)``. The helpers here validate that
layout, flatten the parameter dimensions into one trailing axis so that the
estimators are vectorised over parameters, and implement the split-chain,
rank-normalisation and folding transforms of Vehtari, Gelman, Simpson,
Carpenter & Bürkner (2021), "Rank-normalization, folding, and localization:
an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
16(2), 667-718.

Computations run in float64 on the host regardless of the input precision;
this is deliberate: the diagnostics are summaries of finished runs and the
extra precision is free there.
"""

from collections.abc import Callable

import numpy as np
from scipy import special

MIN_SPLIT_DRAWS = 4
"""Fewest draws per chain for which split-chain diagnostics are defined."""

BLOM_OFFSET = 3.0 / 8.0
"""Fractional offset of the rank back-transformation (Blom 1958)."""


def as_chains(x, caller: str, *, min_draws: int = MIN_SPLIT_DRAWS, min_chains: int = 1):
    """Convert ``x`` to a float64 array of shape ``(num_chains, num_draws, *param_shape)``.

    Args:
        x: array-like (NumPy or JAX) with at least two dimensions.
        caller: name of the public function, used in error messages.
        min_draws: smallest accepted ``num_draws``.
        min_chains: smallest accepted ``num_chains``.

    Raises:
        TypeError: if ``x`` is not numeric.
        ValueError: if ``x`` has fewer than two dimensions, too few draws or chains.
    """
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{caller}: expected a numeric array, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{caller}: complex samples are not supported (dtype {arr.dtype}).")
    if arr.ndim < 2:
        raise ValueError(
            f"{caller}: expected samples of shape (num_chains, num_draws, ...), "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] < min_chains:
        raise ValueError(
            f"{caller}: needs at least {min_chains} chains, got shape {arr.shape} "
            f"({arr.shape[0]} chains)."
        )
    if arr.shape[1] < min_draws:
        raise ValueError(
            f"{caller}: needs at least {min_draws} draws per chain, got shape {arr.shape} "
            f"({arr.shape[1]} draws)."
        )
    return arr.astype(np.float64)


def per_parameter(estimator: Callable[[np.ndarray], np.ndarray], chains: np.ndarray):
    """Apply ``estimator`` to ``chains`` with the parameter dims flattened.

    Args:
        estimator: maps an array of shape ``(C, N, M)`` to one of shape ``(M,)``.
        chains: array of shape ``(C, N, *param_shape)``.

    Returns:
        Array of shape ``param_shape`` (0-d for a scalar parameter); NaN for
        every parameter with a NaN draw.
    """
    num_chains, num_draws = chains.shape[:2]
    param_shape = chains.shape[2:]
    flat = chains.reshape(num_chains, num_draws, int(np.prod(param_shape, dtype=int)))
    has_nan = np.isnan(flat).any(axis=(0, 1))
    return np.where(has_nan, np.nan, estimator(flat)).reshape(param_shape)


def all_finite(chains: np.ndarray) -> np.ndarray:
    """Mask of shape ``(M,)`` marking parameters whose draws are all finite."""
    return np.isfinite(chains).all(axis=(0, 1))


def split_chains(chains: np.ndarray) -> np.ndarray:
    """Split every chain in half: ``(C, N, M) -> (2C, N // 2, M)``.

    With an odd number of draws the middle draw is dropped, as in Stan.
    """
    half = chains.shape[1] // 2
    return np.concatenate([chains[:, :half], chains[:, chains.shape[1] - half :]], axis=0)


def rank_normalize(chains: np.ndarray) -> np.ndarray:
    """Rank-normalise the draws of each parameter, pooled over chains.

    Average ranks ``r`` of all ``S = C * N`` draws are mapped to normal scores
    ``Phi^-1((r - 3/8) / (S + 1/4))`` (Blom 1958; Vehtari et al. 2021, eq. 14).

    Args:
        chains: array of shape ``(C, N, M)``.

    Returns:
        Array of shape ``(C, N, M)``.
    """
    from scipy import stats  # imported here: scipy.stats takes 0.2 s to import

    num_chains, num_draws, num_params = chains.shape
    pooled = chains.reshape(num_chains * num_draws, num_params)
    ranks = stats.rankdata(pooled, method="average", axis=0)
    size = pooled.shape[0]
    scores = special.ndtri((ranks - BLOM_OFFSET) / (size - 2.0 * BLOM_OFFSET + 1.0))
    return scores.reshape(chains.shape)


def fold(chains: np.ndarray) -> np.ndarray:
    """Absolute deviation from the pooled median of each parameter, shape ``(C, N, M)``."""
    return np.abs(chains - np.median(chains, axis=(0, 1)))


def pooled_quantile(chains: np.ndarray, prob) -> np.ndarray:
    """Type-7 (linear) quantile of the pooled draws of each parameter, shape ``(M,)``."""
    return np.quantile(chains, prob, axis=(0, 1))


def check_prob(prob, caller: str, name: str = "prob") -> float:
    """Validate a probability strictly inside ``(0, 1)`` and return it as a float."""
    try:
        value = float(prob)
    except (TypeError, ValueError):
        raise TypeError(f"{caller}: {name} must be a float in (0, 1), got {prob!r}.") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"{caller}: {name} must lie strictly between 0 and 1, got {prob!r}.")
    return value


def check_axis(arr: np.ndarray, axis, caller: str) -> int:
    """Validate ``axis`` for ``arr`` and return it as a non-negative int."""
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{caller}: axis must be an int, got {axis!r}.")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"{caller}: axis {axis} is out of range for shape {arr.shape}.")
    return int(axis) % arr.ndim
