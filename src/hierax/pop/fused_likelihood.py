r"""One-pass event and selection sums for a single sharp-edged power law.

For the population of one power-law mass component without smoothing
(``PopulationModel(n_pl=1)`` over the columns ``(m1, m2)``), every term of the
hierarchical likelihood (:mod:`hierax.pop.likelihood`) has a closed form in the
precomputed ``l1 = ln m1``, ``l2 = ln m2`` of each sample. With
``c = beta + 1``, ``mag = max(|c|, sqrt(tiny))``, ``w = max(l1 - ln mmin, eps)``
and ``x = mag w``, the density of :class:`hierax.pop.models.PowerLawPrimaryMassRatio`
is (its module docstring; ``F(m1) = e^{c a} w g(x)`` with ``a = l1`` if ``c >= 0``
else ``ln mmin``)

    ln rho - ln pi = K + A l1 + beta l2 + off - ln(w g(x)),      g(x) = (1 - e^{-x}) / x,

inside the support ``mmin <= m2 <= m1 <= mmax`` and ``-inf`` outside, where
``K = ln R - ln Z - c 1[c < 0] ln mmin``, ``A = -alpha - c 1[c >= 0]`` and
``off = -ln pi`` (``ln w_j - ln q_j`` for a selection draw). So

    sum_i e^{ln rho_i - ln pi_i} = e^{K + m} sum_i e_i,
    e_i = e^{A l1 + beta l2 + off - m} / (w g(x)),

with ``m`` the largest exponent, needs two exponentials and no logarithm per
sample (``ln rho`` itself needs a logarithm and an ``expm1``, which XLA:CPU
evaluates several times slower than ``exp``). ``g`` is a series for small ``x``
(no cancellation), so ``c = 0`` (``beta = -1``) is exact.

Each partial derivative of ``ln sum_i e_i`` is a weighted mean over the same
``e_i``, so the gradient costs five sums in the same pass,

    d/dalpha = -<l1>,   d/dbeta = <l2> - <a> + sign(c) <w phi(x)>,
    d/dln mmin = <t / (w g(x))> - c 1[c < 0],

with ``<f> = sum_i e_i f_i / sum_i e_i``, ``t = e^{-x}`` and
``phi(x) = 1/x - 1/(e^x - 1)`` (a series for small ``x``), plus the partials of
``ln Z(alpha, mmin, mmax)``. Moving a mass edge across a sample changes the
support, a step with no derivative, as in the generic path.

Precision: the samples are evaluated and summed in the caller's dtype; the per
event combination too. A float32 sum over a few thousand terms in ``[0, 1]``
carries a relative error of order 1e-7, well inside the Monte Carlo error of
the estimate. The functions are differentiable in forward and reverse mode
(``jax.custom_jvp``) and batch under ``vmap``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .models.mass import sharp_log_normalizer
from .models.population import PopulationModel

__all__ = ["FusedPowerLaw", "FusedTerms", "Moments", "fused_power_law"]

# Row counts of the sample axis are padded to a multiple of this (XLA:CPU vectorises
# elementwise loops over such lengths; see ``hierax.pop.likelihood._ROW_MULTIPLE``).
_COLUMN_MULTIPLE = 16
# Below this x (float32, float64) g(x) and phi(x) come from their Taylor series; the
# truncation errors x^5/720 and x^5/30240 are then below the dtype's rounding.
_SERIES_BELOW = {4: 0.1, 8: 1e-3}
_HYPERPARAMETERS = ("log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0")


class _Block(NamedTuple):
    """``(groups, width)`` float64 NumPy arrays of one block of samples.

    ``off`` is ``-inf`` on padding and on samples with ``m2 > m1`` (outside every
    power law's support), so neither needs a mask.
    """

    m1: np.ndarray
    m2: np.ndarray
    log_m1: np.ndarray
    log_m2: np.ndarray
    off: np.ndarray


def _block(theta, log_masses, off, groups, width) -> _Block:
    """Reshape rows ``(groups * width, ...)`` to a block padded to a column multiple."""
    pad = (-width) % _COLUMN_MULTIPLE

    def shaped(values, fill=None):
        values = np.asarray(values, np.float64).reshape(groups, width)
        if pad:
            tail = (np.repeat(values[:, :1], pad, axis=1) if fill is None
                    else np.full((groups, pad), fill))
            values = np.concatenate([values, tail], axis=1)
        return values

    off = np.where(theta[:, 1] <= theta[:, 0], off, -np.inf)
    return _Block(shaped(theta[:, 0]), shaped(theta[:, 1]), shaped(log_masses[:, 0]),
                  shaped(log_masses[:, 1]), shaped(off, -np.inf))


class _Coefficients(NamedTuple):
    """Scalars (or batched arrays under ``vmap``) shared by every sample."""

    slope_m1: jax.Array  # A = -alpha - c 1[c >= 0]
    beta: jax.Array
    mmin: jax.Array
    mmax: jax.Array
    log_mmin: jax.Array
    magnitude: jax.Array  # max(|c|, sqrt(tiny))


def _coefficients(alpha, beta, mmin, mmax):
    c = beta + 1
    magnitude = jnp.maximum(jnp.abs(c), math.sqrt(jnp.finfo(c.dtype).tiny))
    slope_m1 = -alpha - jnp.where(c >= 0, c, 0.0)
    return _Coefficients(slope_m1, beta, mmin, mmax, jnp.log(mmin), magnitude)


def _series_g(x):
    """``(1 - e^{-x}) / x`` to ``x^4``."""
    return 1 - x * (1 / 2 - x * (1 / 6 - x * (1 / 24 - x / 120)))


def _series_phi(x):
    """``1/x - 1/(e^x - 1)`` to ``x^3``."""
    return 1 / 2 - x * (1 / 12 - x * x / 720)


def _block_sums(block, k: _Coefficients, gradient: bool):
    """Per group: ``m``, ``sum e``, ``sum e^2`` and, with ``gradient``, the four weighted
    sums ``sum e l1, sum e l2, sum e w phi, sum e t / (w g)`` (module docstring); each
    ``(groups,)``. (``jit`` drops the sums nobody uses.)"""
    dtype = k.beta.dtype
    m1, m2, l1, l2, off = (jnp.asarray(a, dtype) for a in block)
    inside = (m2 >= k.mmin) & (m1 <= k.mmax)
    exponent = jnp.where(inside, k.slope_m1 * l1 + k.beta * l2 + off, -jnp.inf)
    peak = jnp.max(exponent, axis=-1, keepdims=True)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
    eps = jnp.finfo(dtype).eps
    raw_width = l1 - k.log_mmin
    width = jnp.maximum(raw_width, eps)
    x = k.magnitude * width
    t = jnp.exp(-x)
    small = x < _SERIES_BELOW[jnp.dtype(dtype).itemsize]
    inverse_magnitude = 1 / k.magnitude
    # 1 / (w g(x)), with w g(x) = (1 - t) / |c| away from 0: the only division per sample.
    reciprocal = 1 / jnp.where(small, width * _series_g(x), (1 - t) * inverse_magnitude)
    e = jnp.exp(exponent - peak) * reciprocal
    sums = [jnp.sum(e, axis=-1), jnp.sum(jnp.square(e), axis=-1)]
    if gradient:
        # w phi(x) = (1 - x t / (1 - t)) / |c| = (1 - w t / (w g)) / |c| away from 0.
        width_phi = jnp.where(small, width * _series_phi(x),
                              (1 - width * t * reciprocal) * inverse_magnitude)
        edge = jnp.where(raw_width > eps, t * reciprocal, 0.0)
        sums += [jnp.sum(e * f, axis=-1) for f in (l1, l2, width_phi, edge)]
    return peak[:, 0], sums


class Moments(NamedTuple):
    """Shifted moments of the Monte Carlo terms ``l_i = ln rho_i - ln pi_i``, as
    :func:`hierax.pop.selection.base.shifted_moments` returns them.

    Attributes:
        peak: the shift ``m``.
        first: ``sum_i e^{l_i - m}``.
        second: ``sum_i e^{2 (l_i - m)}``.
    """

    peak: jax.Array
    first: jax.Array
    second: jax.Array


class FusedTerms(NamedTuple):
    """What :class:`FusedPowerLaw` returns; only the log sums carry derivatives.

    Attributes:
        event_log_sums: ``(N,)`` ``ln sum_i rho_ni / pi_ni`` per event (events' order).
        log_mu: ``ln mu_hat`` of the selection draws.
        event_moments: :class:`Moments` of each event, each ``(N,)``.
        selection_moments: :class:`Moments` of the selection terms ``ln w_j + ln rho_j
            - ln q_j`` (scalars).
    """

    event_log_sums: jax.Array
    log_mu: jax.Array
    event_moments: Moments
    selection_moments: Moments


def _group_terms(blocks, k, constant, gradient):
    """For the groups of ``blocks`` (concatenated): ``K + m + ln sum e``, the
    :class:`Moments` and, with ``gradient``, the ``(groups, 5)`` means ``<l1>, <l2>,
    <w phi>, <t / (w g)>`` and ``1[sum e > 0]`` (else ``None``)."""
    values, moments, means = [], [], []
    for block in blocks:
        peak, (total, square, *weighted) = _block_sums(block, k, gradient)
        positive = total > 0
        safe = jnp.where(positive, total, 1.0)
        values.append(jnp.where(positive, constant + peak + jnp.log(safe), -jnp.inf))
        moments.append(Moments(constant + peak, total, square))
        if gradient:
            block_means = [jnp.where(positive, s / safe, 0.0) for s in weighted]
            means.append(jnp.stack(block_means + [positive.astype(total.dtype)], axis=-1))
    moments = Moments(*(jnp.concatenate(m) for m in zip(*moments, strict=True)))
    return jnp.concatenate(values), moments, jnp.concatenate(means) if gradient else None


class FusedPowerLaw:
    """The event sums and ``mu_hat`` of one sharp power law in one pass (module docstring).

    Built by :func:`fused_power_law`; called with the hyperparameter dict, returns
    :class:`FusedTerms`.
    """

    def __init__(self, event_blocks, inverse, selection_block, log_scale):
        self._event_blocks = tuple(event_blocks)
        self._inverse = None if inverse is None else np.asarray(inverse, np.int32)
        self._selection_block = selection_block
        self._log_scale = float(log_scale)
        self._terms = self._differentiable_terms()

    def __call__(self, hyper) -> FusedTerms:
        dtype = jnp.result_type(float)
        args = [jnp.asarray(hyper[name], dtype) for name in _HYPERPARAMETERS]
        return self._terms(*args)

    def _evaluate(self, args, gradient):
        """``(FusedTerms, Jacobians)``: with ``gradient``, the Jacobians ``(N, 5)`` and
        ``(5,)`` of ``event_log_sums`` and ``log_mu`` in ``_HYPERPARAMETERS`` order, else
        ``None``. The arguments are scalars (``vmap`` batches this function as a whole).
        """
        log_rate, alpha, beta, mmin, mmax = args
        k = _coefficients(alpha, beta, mmin, mmax)
        c = beta + 1
        log_z, (z_alpha, z_mmin, z_mmax) = jax.value_and_grad(
            sharp_log_normalizer, (0, 1, 2))(alpha, mmin, mmax)
        negative = c < 0
        constant = log_rate - log_z - jnp.where(negative, c, 0.0) * k.log_mmin
        event_values, event_moments, event_means = _group_terms(
            self._event_blocks, k, constant, gradient)
        selection_value, selection_moments, selection_means = _group_terms(
            (self._selection_block,), k, constant, gradient)
        terms = FusedTerms(self._ordered(event_values), self._log_scale + selection_value[0],
                           Moments(*map(self._ordered, event_moments)),
                           Moments(*(m[0] for m in selection_moments)))
        if not gradient:
            return terms, None
        # d|c|/dbeta; ln F is smooth through c = 0, where both one-sided forms agree.
        sign = jnp.where(negative, -1.0, 1.0)

        def jacobian(means):
            # A group whose sum is 0 (ln = -inf) gets a zero row, as in the generic path.
            mean_l1, mean_l2, mean_width_phi, mean_edge, positive = means.T
            anchor = jnp.where(negative, k.log_mmin, mean_l1)
            rows = jnp.stack([
                jnp.ones_like(mean_l1),
                -mean_l1 - z_alpha,
                mean_l2 - anchor + sign * mean_width_phi,
                (mean_edge - jnp.where(negative, c, 0.0)) / mmin - z_mmin,
                -z_mmax * jnp.ones_like(mean_l1),
            ], axis=-1)
            return rows * positive[:, None]

        return terms, (self._ordered(jacobian(event_means)), jacobian(selection_means)[0])

    def _ordered(self, values):
        """Rows in bucket order to the events' order (first axis)."""
        return values if self._inverse is None else values[jnp.asarray(self._inverse)]

    def _differentiable_terms(self):
        @jax.custom_jvp
        def terms(*args):
            return self._evaluate(args, gradient=False)[0]

        @terms.defjvp
        def terms_jvp(primals, tangents):
            terms, (event_jac, selection_jac) = self._evaluate(primals, gradient=True)
            direction = jnp.stack(tangents)
            no_tangent = jax.tree.map(jnp.zeros_like, (terms.event_moments,
                                                       terms.selection_moments))
            return terms, FusedTerms(event_jac @ direction, selection_jac @ direction,
                                     *no_tangent)

        return terms


def fused_power_law(population, layout, selection) -> FusedPowerLaw | None:
    """The one-pass sums for ``population`` over a bucket ``layout`` and ``selection``, or
    ``None`` where they do not apply.

    They apply when ``population`` is a :class:`hierax.pop.models.PopulationModel` with
    one sharp power law over the two masses only
    (:attr:`~hierax.pop.models.PopulationModel.is_single_sharp_power_law`) and the
    selection draws are evaluated in one piece (no ``batch_size``).

    Args:
        population: the likelihood's population.
        layout: a :class:`hierax.pop.likelihood.BucketLayout`.
        selection: a :class:`hierax.pop.selection.SelectionEstimator`.
    """
    if not (isinstance(population, PopulationModel) and population.is_single_sharp_power_law):
        return None
    if selection.batch_size is not None or layout.theta.shape[1] != 2:
        return None
    rows = population.prepare_rows(np.asarray(layout.theta, np.float64))
    blocks = []
    for bucket in layout.buckets:
        start, stop = bucket.start, bucket.start + bucket.size * bucket.width
        off = -np.asarray(layout.log_prior[start:stop], np.float64)
        if bucket.mask is not None:
            off = np.where(np.asarray(bucket.mask).reshape(-1), off, -np.inf)
        blocks.append(_block(rows.theta[start:stop], rows.log_masses[start:stop], off,
                             bucket.size, bucket.width))
    draws = population.prepare_rows(np.asarray(selection.theta, np.float64))
    selection_block = _block(draws.theta, draws.log_masses,
                             selection.log_weight - selection.log_draw_density, 1,
                             selection.num_draws)
    inverse = None if layout.identity_order else layout.inverse
    return FusedPowerLaw(blocks, inverse, selection_block, selection.log_scale)
