"""Potential scale reduction factors (R-hat).

``gelman_rubin`` is the classic statistic of Gelman & Rubin (1992),
``split_gelman_rubin`` applies it to chains split in half (Gelman et al. 2013,
BDA3 section 11.4), and ``rhat`` (alias ``rank_normalized_rhat``) is the
recommended rank-normalised split R-hat: the maximum of the split R-hat of
the rank-normalised draws (bulk) and of the rank-normalised folded draws
``|x - median|`` (tails), Vehtari et al. (2021), section 4.

References:
    Gelman & Rubin (1992), "Inference from iterative simulation using multiple
    sequences", Statistical Science 7(4), 457-472.
    Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
    folding, and localization: an improved R-hat for assessing convergence of
    MCMC", Bayesian Analysis 16(2), 667-718.
"""

import numpy as np

from hierax.diagnostics._chains import (
    all_finite,
    as_chains,
    fold,
    per_parameter,
    rank_normalize,
    split_chains,
)


def potential_scale_reduction(chains: np.ndarray) -> np.ndarray:
    """R-hat of chains ``(C, N, M)`` taken as given, shape ``(M,)``.

    ``sqrt(var_plus / W)`` with ``W`` the mean within-chain variance and
    ``var_plus = (N - 1) / N * W + B / N``, ``B / N`` the variance of the chain
    means. Zero within-chain variance gives NaN (all draws equal) or inf.
    """
    num_draws = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean(axis=0)
    between = chains.mean(axis=1).var(axis=0, ddof=1)
    var_plus = within * (num_draws - 1.0) / num_draws + between
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.sqrt(var_plus / within)
    return np.where(all_finite(chains), value, np.nan)


def _rank_normalized_split_rhat(chains: np.ndarray) -> np.ndarray:
    split = split_chains(chains)
    bulk = potential_scale_reduction(rank_normalize(split))
    tail = potential_scale_reduction(rank_normalize(fold(split)))
    return np.fmax(bulk, tail)


def gelman_rubin(x) -> np.ndarray:
    """Classic (non-split) Gelman-Rubin R-hat, vectorised over parameters.

    Args:
        x: draws of shape ``(num_chains, num_draws, *param_shape)`` with at
            least 2 chains and 2 draws.

    Returns:
        float64 array of shape ``param_shape``.
    """
    chains = as_chains(x, "gelman_rubin", min_draws=2, min_chains=2)
    return per_parameter(potential_scale_reduction, chains)


def split_gelman_rubin(x) -> np.ndarray:
    """Split R-hat: Gelman-Rubin R-hat of the chains split in half.

    Args:
        x: draws of shape ``(num_chains, num_draws, *param_shape)`` with
            ``num_draws >= 4`` (one chain suffices).

    Returns:
        float64 array of shape ``param_shape``.
    """
    chains = as_chains(x, "split_gelman_rubin")
    return per_parameter(lambda c: potential_scale_reduction(split_chains(c)), chains)


def rhat(x) -> np.ndarray:
    """Rank-normalised split R-hat (Vehtari et al. 2021), vectorised over parameters.

    The maximum of the split R-hat of rank-normalised draws and of
    rank-normalised folded draws; values above 1.01 indicate non-convergence.
    Works with a single chain (split into two halves), like Stan. Constant
    draws give NaN, as does a parameter with a NaN draw.

    Args:
        x: draws of shape ``(num_chains, num_draws, *param_shape)`` with
            ``num_draws >= 4``.

    Returns:
        float64 array of shape ``param_shape``.
    """
    return per_parameter(_rank_normalized_split_rhat, as_chains(x, "rhat"))


def rank_normalized_rhat(x) -> np.ndarray:
    """Alias of :func:`rhat`: rank-normalised split R-hat, shape ``param_shape``."""
    return rhat(x)
