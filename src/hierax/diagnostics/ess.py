"""Effective sample size (ESS) of MCMC draws.

All estimators share one core: the multi-chain autocorrelation estimate of
the Stan reference manual, truncated with Geyer's initial positive sequence
and made monotone with Geyer's initial monotone sequence, applied to split
chains. They differ in the transform applied to the draws first:

* ``"bulk"``: rank-normalised draws (Vehtari et al. 2021, section 4.2);
* ``"tail"``: minimum over the indicators of the 5% and 95% quantiles;
* ``"quantile"``: indicator ``x <= q_prob``;
* ``"basic"`` / ``"mean"``: the raw draws (ESS for the posterior mean);
* ``"sd"``: squared deviations from the pooled mean.

References:
    Geyer (1992), "Practical Markov Chain Monte Carlo", Statistical Science 7(4).
    Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
    folding, and localization: an improved R-hat for assessing convergence of
    MCMC", Bayesian Analysis 16(2), 667-718.
    Stan Development Team, Stan Reference Manual, "Effective sample size".
"""

import numpy as np

from hierax.diagnostics._chains import (
    all_finite,
    as_chains,
    check_prob,
    per_parameter,
    pooled_quantile,
    rank_normalize,
    split_chains,
)
from hierax.diagnostics.correlation import autocovariance

ESS_METHODS = ("bulk", "tail", "basic", "mean", "sd", "quantile", "median")
DEFAULT_TAIL_PROBS = (0.05, 0.95)


def _combined_autocorrelation(chains: np.ndarray) -> np.ndarray:
    """Multi-chain autocorrelation ``rho_t`` of shape ``(N, M)`` for chains ``(C, N, M)``.

    ``rho_t = 1 - (W - mean_c acov_c(t)) / var_plus`` with ``W`` the mean
    within-chain variance and ``var_plus`` the pooled variance estimate.
    """
    num_chains, num_draws = chains.shape[:2]
    acov = autocovariance(chains, axis=1)
    within = acov[:, 0].mean(axis=0) * num_draws / (num_draws - 1.0)
    var_plus = within * (num_draws - 1.0) / num_draws
    if num_chains > 1:
        var_plus = var_plus + chains.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    return rho


def _integrated_time(rho: np.ndarray) -> np.ndarray:
    """Integrated autocorrelation time ``tau`` of shape ``(M,)`` from ``rho`` ``(N, M)``.

    Pairs ``P_k = rho_{2k} + rho_{2k+1}`` are summed while positive (initial
    positive sequence), replaced by their running minimum (initial monotone
    sequence), and the even lag of the first non-positive pair is added once
    when positive, following the Stan implementation.
    """
    num_draws = rho.shape[0]
    last_pair = max((num_draws - 3) // 2, 0)
    even = rho[0 : 2 * last_pair + 1 : 2]
    pairs = even + rho[1 : 2 * last_pair + 2 : 2]
    stops = ~(pairs > 0.0)
    stops[-1] = True
    stop_index = np.argmax(stops, axis=0)
    kept = np.arange(last_pair + 1)[:, None] < stop_index[None, :]
    monotone = np.minimum.accumulate(pairs, axis=0)
    head = 2.0 * np.where(kept, monotone, 0.0).sum(axis=0)
    stop_even = np.take_along_axis(even, stop_index[None, :], axis=0)[0]
    stop_pair = np.take_along_axis(pairs, stop_index[None, :], axis=0)[0]
    tail = np.where((stop_even > 0.0) | (stop_pair >= 0.0), stop_even, 0.0)
    return -1.0 + head + tail


def geyer_ess(chains: np.ndarray) -> np.ndarray:
    """ESS of chains ``(C, N, M)`` without any transform or splitting, shape ``(M,)``.

    A parameter whose draws are all equal (range below float64 resolution) gets
    ESS ``C * N``; one with a non-finite draw gets NaN. ``tau`` is bounded below
    by ``1 / log10(C * N)`` as in Stan, capping ESS at ``C N log10(C N)``.
    """
    size = chains.shape[0] * chains.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = _integrated_time(_combined_autocorrelation(chains))
        ess = size / np.maximum(tau, 1.0 / np.log10(size))
    constant = np.ptp(chains, axis=(0, 1)) < np.finfo(np.float64).resolution
    ess = np.where(constant, float(size), ess)
    return np.where(all_finite(chains), ess, np.nan)


def _ess_split(chains):
    return geyer_ess(split_chains(chains))


def _ess_bulk(chains):
    return geyer_ess(rank_normalize(split_chains(chains)))


def quantile_indicator_ess(chains: np.ndarray, prob: float) -> np.ndarray:
    """ESS of the indicator ``x <= q_prob`` on split chains; ``(C, N, M) -> (M,)``."""
    indicator = chains <= pooled_quantile(chains, prob)
    return geyer_ess(split_chains(indicator.astype(np.float64)))


def _ess_sd(chains):
    squared = (chains - chains.mean(axis=(0, 1))) ** 2
    return geyer_ess(split_chains(squared))


def _tail_probs(prob, caller):
    if prob is None:
        return DEFAULT_TAIL_PROBS
    if np.ndim(prob) == 0:
        low = check_prob(prob, caller)
        return (low, 1.0 - low)
    if len(prob) != 2:
        raise ValueError(f"{caller}: tail prob must be a float or a pair, got {prob!r}.")
    return tuple(check_prob(p, caller) for p in prob)


def _ess_tail(chains, prob, caller):
    low, high = _tail_probs(prob, caller)
    return np.minimum(quantile_indicator_ess(chains, low), quantile_indicator_ess(chains, high))


def _estimator_for(method: str, prob, caller: str):
    if method == "bulk":
        return _ess_bulk
    if method in ("basic", "mean"):
        return _ess_split
    if method == "sd":
        return _ess_sd
    if method == "tail":
        return lambda chains: _ess_tail(chains, prob, caller)
    if method == "median":
        return lambda chains: quantile_indicator_ess(chains, 0.5)
    if method == "quantile":
        if prob is None:
            raise ValueError(f"{caller}: method='quantile' needs prob, a float in (0, 1).")
        quantile_prob = check_prob(prob, caller)
        return lambda chains: quantile_indicator_ess(chains, quantile_prob)
    raise ValueError(f"{caller}: unknown method {method!r}; expected one of {ESS_METHODS}.")


def effective_sample_size(x, method: str = "bulk", prob=None) -> np.ndarray:
    """Effective sample size of MCMC draws, vectorised over parameters.

    Args:
        x: draws of shape ``(num_chains, num_draws, *param_shape)`` with
            ``num_draws >= 4`` (NumPy or JAX array).
        method: ``"bulk"`` (default; rank-normalised split chains),
            ``"tail"`` (min of the 5% and 95% quantile ESS), ``"basic"``
            (split chains, no rank normalisation; the classic estimator),
            ``"mean"`` (same as ``"basic"``), ``"sd"``, ``"quantile"``
            (needs ``prob``) or ``"median"``.
        prob: quantile level for ``"quantile"``; for ``"tail"`` a float ``p``
            (levels ``p`` and ``1 - p``) or a pair of levels.

    Returns:
        float64 array of shape ``param_shape``. Constant draws give
        ``2 * (num_draws // 2) * num_chains``; a parameter with a NaN draw gives NaN.

    Raises:
        ValueError: for an unknown method, a bad ``prob`` or a bad shape.

    References:
        Vehtari et al. (2021), Bayesian Analysis 16(2), 667-718; Geyer (1992),
        Statistical Science 7(4), 473-483.
    """
    caller = "effective_sample_size"
    estimator = _estimator_for(method, prob, caller)
    return per_parameter(estimator, as_chains(x, caller))


def ess_bulk(x) -> np.ndarray:
    """Bulk ESS: ``effective_sample_size(x, method="bulk")``, shape ``param_shape``."""
    return effective_sample_size(x, method="bulk")


def ess_tail(x, prob=None) -> np.ndarray:
    """Tail ESS: minimum of the 5% and 95% quantile ESS, shape ``param_shape``.

    ``prob`` optionally overrides the quantile levels (float ``p`` or a pair).
    """
    return effective_sample_size(x, method="tail", prob=prob)
