"""Monte Carlo standard errors (MCSE) of posterior summaries.

* mean: ``sd / sqrt(ESS_mean)``;
* sd: delta method on the variance, ``sqrt(Var[(x - xbar)^2] / ESS / (4 E[(x - xbar)^2]))``
  with the ESS of the squared deviations;
* quantile: half the width of the interval between the order statistics at
  the 15.9% and 84.1% points of the Beta(ESS p + 1, ESS (1 - p) + 1)
  distribution of the quantile's rank, with the quantile-indicator ESS.

References:
    Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
    folding, and localization: an improved R-hat for assessing convergence of
    MCMC", Bayesian Analysis 16(2), 667-718 (section 4.3, appendix).
    Stan Development Team, Stan Reference Manual, "Monte Carlo standard error".
"""

import numpy as np
from scipy import special

from hierax.diagnostics._chains import (
    all_finite,
    as_chains,
    check_prob,
    per_parameter,
    split_chains,
)
from hierax.diagnostics.ess import geyer_ess, quantile_indicator_ess

MCSE_METHODS = ("mean", "sd", "quantile", "median")
ONE_SIGMA_PROBS = (float(special.ndtr(-1.0)), float(special.ndtr(1.0)))


def _mcse_mean(chains: np.ndarray) -> np.ndarray:
    num_params = chains.shape[2]
    std = chains.reshape(-1, num_params).std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return std / np.sqrt(geyer_ess(split_chains(chains)))


def _mcse_sd(chains: np.ndarray) -> np.ndarray:
    squared = (chains - chains.mean(axis=(0, 1))) ** 2
    ess = geyer_ess(split_chains(squared))
    expected_var = squared.mean(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        var_of_var = ((squared**2).mean(axis=(0, 1)) - expected_var**2) / ess
        return np.sqrt(var_of_var / expected_var / 4.0)


def _mcse_quantile(chains: np.ndarray, prob: float) -> np.ndarray:
    ess = quantile_indicator_ess(chains, prob)
    pooled = np.sort(chains.reshape(-1, chains.shape[2]), axis=0)
    size = pooled.shape[0]
    with np.errstate(invalid="ignore"):
        rank_low, rank_high = (
            special.betaincinv(ess * prob + 1.0, ess * (1.0 - prob) + 1.0, level)  # Beta ppf
            for level in ONE_SIGMA_PROBS
        )
    index_low = np.floor(np.fmax(rank_low * size - 1.0, 0.0)).astype(int)
    index_high = np.ceil(np.fmin(rank_high * size - 1.0, size - 1.0)).astype(int)
    low = np.take_along_axis(pooled, index_low[None, :], axis=0)[0]
    high = np.take_along_axis(pooled, index_high[None, :], axis=0)[0]
    return np.where(all_finite(chains), (high - low) / 2.0, np.nan)


def mcse(x, method: str = "mean", prob=None) -> np.ndarray:
    """Monte Carlo standard error of a posterior summary, vectorised over parameters.

    Args:
        x: draws of shape ``(num_chains, num_draws, *param_shape)`` with
            ``num_draws >= 4`` (NumPy or JAX array).
        method: ``"mean"`` (default), ``"sd"``, ``"quantile"`` (needs ``prob``)
            or ``"median"``.
        prob: quantile level in ``(0, 1)`` for ``method="quantile"``.

    Returns:
        float64 array of shape ``param_shape``; NaN for a parameter with a NaN draw.

    Raises:
        ValueError: for an unknown method, a missing or bad ``prob`` or a bad shape.
    """
    caller = "mcse"
    if method == "mean":
        estimator = _mcse_mean
    elif method == "sd":
        estimator = _mcse_sd
    elif method == "median":
        estimator = lambda chains: _mcse_quantile(chains, 0.5)  # noqa: E731
    elif method == "quantile":
        if prob is None:
            raise ValueError(f"{caller}: method='quantile' needs prob, a float in (0, 1).")
        level = check_prob(prob, caller)
        estimator = lambda chains: _mcse_quantile(chains, level)  # noqa: E731
    else:
        raise ValueError(f"{caller}: unknown method {method!r}; expected one of {MCSE_METHODS}.")
    return per_parameter(estimator, as_chains(x, caller))
