"""Posterior credible intervals from draws.

``hpdi`` returns the shortest interval containing a fraction ``prob`` of the
draws (the highest posterior density interval for a unimodal density; Chen &
Shao 1999, "Monte Carlo estimation of Bayesian credible and HPD intervals",
J. Comput. Graph. Stat. 8(1)). ``equal_tailed_interval`` returns the
``(1 - prob) / 2`` and ``(1 + prob) / 2`` quantiles. Both keep the dtype of
their input.
"""

import numpy as np

from hierax.diagnostics._chains import check_axis, check_prob


def _as_samples(x, axis, caller: str):
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{caller}: expected an array with a draw axis, got a scalar.")
    axis = check_axis(arr, axis, caller)
    if arr.shape[axis] == 0:
        raise ValueError(f"{caller}: no draws along axis {axis} (shape {arr.shape}).")
    return arr, axis


def hpdi(x, prob: float = 0.9, axis: int = 0) -> np.ndarray:
    """Highest posterior density interval: the narrowest interval holding ``prob`` of the draws.

    Among the windows ``[x_(i), x_(i+k)]`` of the sorted draws, with
    ``k = floor(prob * n)``, the shortest is returned.

    Args:
        x: draws; ``axis`` indexes them (NumPy or JAX array).
        prob: probability mass inside the interval, in ``(0, 1)``.
        axis: the draw dimension.

    Returns:
        Array like ``x`` with dimension ``axis`` replaced by 2 (lower, upper).
    """
    prob = check_prob(prob, "hpdi")
    arr, axis = _as_samples(x, axis, "hpdi")
    ordered = np.sort(np.moveaxis(arr, axis, 0), axis=0)
    num = ordered.shape[0]
    span = min(int(prob * num), num - 1)
    widths = ordered[span:] - ordered[: num - span]
    start = np.argmin(widths, axis=0)[None]
    lower = np.take_along_axis(ordered, start, axis=0)
    upper = np.take_along_axis(ordered, start + span, axis=0)
    return np.moveaxis(np.concatenate([lower, upper], axis=0), 0, axis)


def quantiles(x, q, axis: int = 0) -> np.ndarray:
    """Type-7 (linear interpolation) sample quantiles along ``axis``.

    Args:
        x: draws; ``axis`` indexes them.
        q: float or sequence of levels in ``[0, 1]``.
        axis: the draw dimension.

    Returns:
        Array of shape ``np.shape(q) + shape_without_axis``.
    """
    arr, axis = _as_samples(x, axis, "quantiles")
    levels = np.asarray(q, dtype=np.float64)
    if not np.all((levels >= 0.0) & (levels <= 1.0)):
        raise ValueError(f"quantiles: levels q must lie in [0, 1], got {q!r}.")
    result = np.quantile(arr, levels, axis=axis)
    if np.issubdtype(arr.dtype, np.floating):
        result = result.astype(arr.dtype)
    return result


def equal_tailed_interval(x, prob: float = 0.9, axis: int = 0) -> np.ndarray:
    """Central interval between the ``(1 - prob) / 2`` and ``(1 + prob) / 2`` quantiles.

    Args:
        x: draws; ``axis`` indexes them.
        prob: probability mass inside the interval, in ``(0, 1)``.
        axis: the draw dimension.

    Returns:
        Array like ``x`` with dimension ``axis`` replaced by 2 (lower, upper),
        the same layout as :func:`hpdi`.
    """
    prob = check_prob(prob, "equal_tailed_interval")
    arr, axis = _as_samples(x, axis, "equal_tailed_interval")
    bounds = quantiles(arr, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], axis=axis)
    return np.moveaxis(bounds, 0, axis)
