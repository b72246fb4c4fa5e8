"""FFT-based autocovariance and autocorrelation of sample sequences.

The lag-``k`` sums ``sum_t (x_t - xbar)(x_{t+k} - xbar)`` are obtained for all
lags at once with the Wiener-Khinchin theorem: zero-pad the centred sequence
to at least twice its length (so the circular correlation equals the linear
one), take ``|FFT|^2`` and transform back. Cost ``O(N log N)`` per sequence.
"""

import numpy as np
from scipy import fft

from hierax.diagnostics._chains import check_axis


def _lagged_sums(x, axis: int, caller: str) -> np.ndarray:
    """Centred lag sums ``S_k`` for ``k = 0 .. N-1`` along ``axis`` (float64)."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{caller}: expected an array with at least one dimension, got a scalar.")
    axis = check_axis(arr, axis, caller)
    arr = np.moveaxis(arr.astype(np.float64), axis, -1)
    num = arr.shape[-1]
    if num == 0:
        raise ValueError(f"{caller}: the sample axis {axis} of shape {np.shape(x)} is empty.")
    centred = arr - arr.mean(axis=-1, keepdims=True)
    padded_len = fft.next_fast_len(2 * num, real=True)
    spectrum = np.fft.rfft(centred, n=padded_len, axis=-1)
    sums = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=padded_len, axis=-1)[..., :num]
    return np.moveaxis(sums, -1, axis)


def _lag_divisor(num: int, bias: bool) -> np.ndarray:
    if bias:
        return np.full(num, float(num))
    return np.arange(num, 0, -1, dtype=np.float64)


def autocovariance(x, axis: int = 0, bias: bool = True) -> np.ndarray:
    """Autocovariance of ``x`` at every lag along ``axis``.

    Args:
        x: array-like of any shape; ``axis`` indexes the draws.
        axis: the draw dimension.
        bias: if True (default) the lag-``k`` sum is divided by ``N`` (the
            positive-definite estimator used by Geyer 1992 and Stan); otherwise
            by ``N - k``.

    Returns:
        float64 array of the same shape as ``x``; entry ``k`` along ``axis`` is
        the lag-``k`` autocovariance (lag 0 is the biased variance when ``bias``).

    References:
        Geyer (1992), "Practical Markov Chain Monte Carlo", Statistical Science 7(4).
    """
    return _autocovariance(x, axis, bias, "autocovariance")


def _autocovariance(x, axis: int, bias: bool, caller: str) -> np.ndarray:
    sums = _lagged_sums(x, axis, caller)
    axis = axis % sums.ndim
    divisor = _lag_divisor(sums.shape[axis], bias)
    return sums / np.expand_dims(divisor, tuple(d for d in range(sums.ndim) if d != axis))


def autocorrelation(x, axis: int = 0, bias: bool = True) -> np.ndarray:
    """Autocorrelation of ``x`` at every lag along ``axis``.

    The autocovariance (see :func:`autocovariance`) normalised by its lag-0
    value, so the lag-0 entry is 1. A constant sequence has zero variance and
    yields NaN at every lag.

    Args:
        x: array-like of any shape; ``axis`` indexes the draws.
        axis: the draw dimension.
        bias: divisor convention of :func:`autocovariance`.

    Returns:
        float64 array of the same shape as ``x``.
    """
    acov = _autocovariance(x, axis, bias, "autocorrelation")
    lag0 = np.take(acov, [0], axis=axis % acov.ndim)
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov / lag0
