"""Spin models of the LVK population analyses: free-mean tilts and effective-spin Gaussians.

- :class:`GaussianTilts`: cosines of both tilts, isotropic or (with probability ``zeta``)
  drawn from normals of free mean ``mu`` truncated to ``[-1, 1]``,

      p(z1, z2) = (1 - zeta) / 4 + zeta N_[-1,1](z1 | mu, s1) N_[-1,1](z2 | mu, s2),

  (Talbot & Thrane 2017, PRD 96, 023012, eq. 4, with ``mu = 1``; the mean is
  freed in Vitale, Biscoveanu & Talbot 2022, A&A 668, L2, and in the GWTC-3 and
  GWTC-4 population analyses, Abbott et al. 2023, PRX 13, 011048 and
  arXiv:2508.18083).
  With ``independent_tilts`` each tilt is its own mixture,
  ``p(z1, z2) = prod_i [(1 - zeta) / 2 + zeta N_[-1,1](z_i | mu, s_i)]``.
- :class:`ChiEffGaussian`: ``N_[-1,1](chi_eff | mu, sigma)`` (Miller, Callister & Farr
  2020, ApJ 895, 128; Abbott et al. 2021, ApJL 913, L7).
- :class:`EffectiveSpinGaussian`: ``(chi_eff, chi_p)`` from a bivariate normal with
  correlation ``rho``, truncated to ``[-1, 1] x [0, 1]`` (Miller, Callister & Farr 2020;
  Abbott et al. 2021, ApJL 913, L7; Abbott et al. 2023, PRX 13, 011048).
- :class:`ChiEffSkewNormal`: the skew normal of Azzalini (1985, Scand. J. Stat. 12, 171),
  ``2 / omega phi(z) Phi(alpha z)`` with ``z = (chi_eff - xi) / omega``, truncated to
  ``[-1, 1]``, as fitted to the GWTC-3 ``chi_eff`` distribution by Banagiri et al. (2025).
  (GWTC-4, arXiv:2508.18083 eq. B37, uses a different, two-piece "epsilon-skew" normal.)

Normalisation. Both normalisers are one-dimensional integrals in standard units,

    M = int_a^b phi(x) f(x) dx,

with ``[a, b]`` the range of the first coordinate. For the truncated bivariate normal,
``f(x) = Phi((h - rho x) / s) - Phi((l - rho x) / s)`` with ``s = sqrt(1 - rho^2)`` is the
probability that ``chi_p`` lies in its range ``[l, h]`` given ``chi_eff`` (the conditioning
step of Genz 1992, J. Comput. Graph. Stat. 1, 141); for the truncated skew normal,
``f(x) = Phi(alpha x)`` and the mass is ``2 M``. The integrand is entire and log-concave,
and ``f`` changes over a width ``s / |rho|`` (resp. ``1 / |alpha|``) around known points,
so composite Gauss-Legendre quadrature with panel breaks there, in the bulk of ``phi``
and near the ends of ``[a, b]`` is accurate to about ``1e-13`` relative in float64 when
the untruncated mode lies in or near the box (about ``1e-10`` six widths outside it), all
in log space: ``f`` is a difference of normal cdfs taken in their small tails.

Sampling is exact: the first coordinate is drawn from the truncated normal and accepted
with probability ``f(x) / max f`` (the maximum is known in closed form); ``chi_p`` then
comes from its conditional normal, truncated to ``[0, 1]``, by inverting its cdf.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.truncated import TruncatedNormal, log1mexp
from hierax.pop.models._numerics import (
    float_dtype,
    panel_nodes,
    parameter_batch_shape,
    safe_log,
    safe_logsumexp,
)

__all__ = [
    "ChiEffGaussian",
    "ChiEffSkewNormal",
    "EffectiveSpinGaussian",
    "GaussianTilts",
    "log_normal_interval",
    "log_normal_expectation",
    "skew_normal_location_scale",
]

_NODES_PER_PANEL = 16
_BULK_BREAKS = (-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0)
_END_STEPS = (0.5, 2.0, 8.0)
# Panel breaks at these multiples of a transition width on either side of it.
_TRANSITION_STEPS = (-6.0, -2.0, 2.0, 6.0)
_MAX_REJECTION_ROUNDS = 10_000
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_CHI_EFF_CHI_P_BOX = constraints.independent(
    constraints.interval(np.array([-1.0, 0.0]), np.array([1.0, 1.0])), 1
)




def _cast(values, dtype, shape):
    return [jnp.broadcast_to(jnp.asarray(v, dtype), shape) for v in values]


def _positive_or_one(scale):
    """``(safe_scale, ok)``: ``scale`` where it is a finite positive number, else 1."""
    ok = (scale > 0) & jnp.isfinite(scale)
    return jnp.where(ok, scale, 1.0), ok


# ----------------------------------------------------------------------------
# Normal masses and the one-dimensional integral behind both normalisers.


def log_normal_interval(lo, hi):
    """``log(Phi(hi) - Phi(lo))`` for ``lo <= hi`` (standard units), accurate in both tails.

    An interval whose midpoint is positive is reflected to ``[-hi, -lo]`` so that both
    cdf values are small numbers, then ``log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b)))``.
    ``-inf`` (finite gradients) for an empty interval. Any broadcastable shapes.
    """
    flip = lo + hi > 0
    a = jnp.where(flip, -hi, lo)
    b = jnp.where(flip, -lo, hi)
    log_b = log_ndtr(b)
    gap = log_ndtr(a) - log_b
    nonempty = gap < 0
    return jnp.where(nonempty, log_b + log1mexp(jnp.where(nonempty, gap, -1.0)), -jnp.inf)


def log_normal_expectation(log_f, lo, hi, breaks, dtype):
    """``log int_lo^hi phi(x) f(x) dx`` for the standard normal density ``phi``.

    Composite Gauss-Legendre quadrature over panels of ``[lo, hi]`` that break at the
    points where ``phi`` or ``f`` change their behaviour: ``0, +-2, +-4, +-8`` (the bulk
    of ``phi``), ``lo + c / max(1, r_lo)`` and ``hi - c / max(1, r_hi)`` for
    ``c = 0.5, 2, 8``, with ``r`` the slope of ``log(phi f)`` at that end (where the
    integrand peaks at an end it decays over ``1 / r`` from it), and the caller's
    ``breaks`` (the transitions of ``f``). The
    integrand is entire in ``x``, so each panel converges geometrically. The break
    positions carry no gradient (where clipped to ``lo`` or ``hi`` they follow it), so the
    derivative is the quadrature of the derivative.

    Args:
        log_f: function of ``x`` (shape ``batch + (K,)``) returning ``log f(x)``.
        lo, hi: arrays of shape ``batch``, ``lo <= hi``, finite.
        breaks: list of arrays broadcastable to ``batch``; points outside ``[lo, hi]``
            are harmless (their panels are empty).
        dtype: floating dtype of the computation.

    Returns:
        Array of shape ``batch`` (``-inf`` for an empty interval).
    """
    lo, hi = jnp.asarray(lo, dtype), jnp.asarray(hi, dtype)
    lo_rate, hi_rate = (jnp.maximum(1.0, jnp.abs(_log_integrand_slope(log_f, end)))
                        for end in (lo, hi))
    points = list(_BULK_BREAKS) + list(breaks)
    points += [lo + c / lo_rate for c in _END_STEPS] + [hi - c / hi_rate for c in _END_STEPS]
    stacked = jnp.stack([jnp.broadcast_to(jnp.asarray(b, dtype), lo.shape) for b in points], -1)
    raw = jax.lax.stop_gradient(jnp.sort(stacked, axis=-1))
    # A break at or beyond an end is that end, with its full gradient (``jnp.clip``
    # would share the gradient of a tie between the break and the end).
    low, high = lo[..., None], hi[..., None]
    inner = jnp.where(raw >= high, high, jnp.where(raw <= low, low, raw))
    edges = [lo] + [inner[..., i] for i in range(inner.shape[-1])] + [hi]
    x, log_weights = panel_nodes(edges, _NODES_PER_PANEL, dtype)
    log_integrand = -0.5 * x * x - _HALF_LOG_TWO_PI + log_f(x)
    return safe_logsumexp(log_integrand + log_weights, axis=-1)


def _log_integrand_slope(log_f, x):
    """``d/dx log(phi(x) f(x))`` at ``x`` (shape ``batch``), without gradient: how fast the
    integrand decays away from an end of the interval where it peaks."""
    def log_f_at(t):
        return log_f(t[..., None])[..., 0]

    _, slope = jax.jvp(log_f_at, (x,), (jnp.ones_like(x),))
    return jax.lax.stop_gradient(slope - x)


def _transition_points(center, width, active, fallback):
    """Breaks at ``center + k width`` (``k`` in ``_TRANSITION_STEPS``); ``fallback`` where
    ``active`` is false."""
    return [jnp.where(active, center + k * width, fallback) for k in _TRANSITION_STEPS]


def _rejection_sample(key, lo, hi, log_accept, log_accept_max, sample_shape, dtype):
    """Standard-normal draws truncated to ``[lo, hi]`` (shape ``batch``), each kept with
    probability ``exp(log_accept(x) - log_accept_max)``.

    Loops until every position holds an accepted draw (at most ``_MAX_REJECTION_ROUNDS``
    rounds); positions never accepted are NaN. Returns ``sample_shape + batch``.
    """
    proposal = TruncatedNormal(0.0, 1.0, lo, hi, validate_args=False)
    shape = tuple(sample_shape) + jnp.shape(lo)

    def keep_going(state):
        _, _, done, rounds = state
        return (~jnp.all(done)) & (rounds < _MAX_REJECTION_ROUNDS)

    def step(state):
        round_key, value, done, rounds = state
        round_key, key_x, key_u = jax.random.split(round_key, 3)
        x = proposal.sample(key_x, sample_shape).astype(dtype)
        log_u = jnp.log(jax.random.uniform(key_u, shape, dtype))
        accept = log_u <= log_accept(x) - log_accept_max
        return round_key, jnp.where(done, value, x), done | accept, rounds + 1

    init = (key, jnp.full(shape, jnp.nan, dtype), jnp.zeros(shape, bool), 0)
    _, value, done, _ = jax.lax.while_loop(keep_going, step, init)
    return jnp.where(done, value, jnp.nan)


# ----------------------------------------------------------------------------
# Tilts.


@jax.custom_jvp
def _log_mixture(weight, log_first, log_second):
    """``log((1 - weight) e^log_first + weight e^log_second)`` for ``weight`` in ``[0, 1]``.

    The value is a ``logaddexp`` of the two weighted terms (no underflow when one density
    is far below the other); the derivatives are those of the linear form, e.g.
    ``d/dweight = (e^log_second - e^log_first) / p``, finite at ``weight = 0`` and ``1``
    where ``log(weight)`` is not.
    """
    return jnp.logaddexp(safe_log(1 - weight) + log_first, safe_log(weight) + log_second)


@_log_mixture.defjvp
def _log_mixture_jvp(primals, tangents):
    weight, log_first, log_second = primals
    d_weight, d_first, d_second = tangents
    value = _log_mixture(weight, log_first, log_second)
    finite = jnp.isfinite(value)
    safe_value = jnp.where(finite, value, 0.0)
    first = jnp.where(finite, jnp.exp(log_first - safe_value), 0.0)  # e^log_first / p
    second = jnp.where(finite, jnp.exp(log_second - safe_value), 0.0)
    tangent = ((second - first) * d_weight + (1 - weight) * first * d_first
               + weight * second * d_second)
    return value, jnp.broadcast_to(tangent, jnp.shape(value)).astype(value.dtype)


class GaussianTilts(Distribution):
    """Cosines of the two spin tilts: isotropic, or (with probability ``zeta``) Gaussian.

    Args:
        zeta: weight of the Gaussian part, in ``[0, 1]``.
        loc: mean ``mu`` of both normals (before truncation to ``[-1, 1]``); ``mu = 1``
            is :class:`~hierax.pop.models.spin.IsotropicGaussianTilts`.
        scale1: width (``> 0``) of the normal of ``cos_tilt_1``.
        scale2: width of the normal of ``cos_tilt_2``; ``None`` (default) uses ``scale1``.
        independent_tilts: ``False`` (default): one mixture for the pair,
            ``(1 - zeta) / 4 + zeta N(z1) N(z2)``, as in the LVK analyses and in
            gwpopulation's ``independent_spin_orientation_gaussian_isotropic`` (whose
            "independent" refers to the two widths). ``True``: a product of two
            one-dimensional mixtures, ``prod_i [(1 - zeta) / 2 + zeta N(z_i)]``, so each
            tilt is aligned or isotropic on its own.

    ``event_shape`` is ``(2,)``: ``(cos_tilt_1, cos_tilt_2)``. Impossible parameters
    (``zeta`` outside ``[0, 1]``, a width ``<= 0``, a non-finite ``loc``): with concrete
    values the constructor raises ``ValueError``; under ``jit`` ``log_prob`` is ``-inf``
    and ``sample`` returns NaN.
    """

    arg_constraints = {
        "zeta": constraints.unit_interval,
        "loc": constraints.real,
        "scale1": constraints.positive,
        "scale2": constraints.positive,
    }
    support = constraints.independent(constraints.interval(-1.0, 1.0), 1)
    reparametrized_params = []
    pytree_aux_fields = ("independent_tilts",)

    def __init__(self, zeta, loc, scale1, scale2=None, *, independent_tilts=False,
                 validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, zeta=zeta, loc=loc, scale1=scale1,
                                            scale2=scale2)
        self.zeta, self.loc, self.scale1, self.scale2 = zeta, loc, scale1, scale2
        self.independent_tilts = bool(independent_tilts)
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _params(self):
        """``(zeta, [aligned_1, aligned_2], valid)`` with placeholders where invalid."""
        scale2 = self.scale1 if self.scale2 is None else self.scale2
        dtype = float_dtype(self.zeta, self.loc, self.scale1, scale2)
        zeta, loc, scale1, scale2 = _cast((self.zeta, self.loc, self.scale1, scale2), dtype,
                                          self.batch_shape)
        scale1, ok1 = _positive_or_one(scale1)
        scale2, ok2 = _positive_or_one(scale2)
        valid = ok1 & ok2 & (zeta >= 0) & (zeta <= 1) & jnp.isfinite(loc)
        loc = jnp.where(valid, loc, 0.0)
        zeta = jnp.where(valid, zeta, 0.5)
        aligned = [TruncatedNormal(loc, s, -1.0, 1.0, validate_args=False)
                   for s in (scale1, scale2)]
        return zeta, aligned, valid

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        zeta, aligned, valid = self._params()
        inside = jnp.all(jnp.abs(value) <= 1, axis=-1)
        z = [jnp.where(inside, value[..., i], 0.0) for i in range(2)]
        log_aligned = [a.log_prob(zi) for a, zi in zip(aligned, z, strict=True)]
        if self.independent_tilts:
            log_mix = sum(_log_mixture(zeta, -math.log(2.0), la) for la in log_aligned)
        else:
            log_mix = _log_mixture(zeta, -math.log(4.0), log_aligned[0] + log_aligned[1])
        return jnp.where(inside & valid, log_mix, -jnp.inf)

    def sample(self, key, sample_shape=()):
        zeta, aligned, valid = self._params()
        dtype = zeta.dtype
        shape = tuple(sample_shape) + self.batch_shape
        key_choice, key_iso, key_1, key_2 = jax.random.split(key, 4)
        draws = [jnp.broadcast_to(a.sample(k, sample_shape), shape)
                 for a, k in zip(aligned, (key_1, key_2), strict=True)]
        gaussian = jnp.stack(draws, axis=-1).astype(dtype)
        isotropic = jax.random.uniform(key_iso, shape + (2,), dtype, -1.0, 1.0)
        if self.independent_tilts:
            choose = jax.random.uniform(key_choice, shape + (2,), dtype) < zeta[..., None]
        else:
            choose = (jax.random.uniform(key_choice, shape, dtype) < zeta)[..., None]
        return jnp.where(valid[..., None], jnp.where(choose, gaussian, isotropic), jnp.nan)


# ----------------------------------------------------------------------------
# Effective spins.


class ChiEffGaussian(Distribution):
    """``chi_eff`` from a normal of mean ``loc`` and width ``scale`` truncated to ``[-1, 1]``.

    Impossible parameters (``scale <= 0``, non-finite ``loc``): with concrete values the
    constructor raises ``ValueError``; under ``jit`` ``log_prob`` is ``-inf`` and
    ``sample`` returns NaN.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.interval(-1.0, 1.0)
    reparametrized_params = ["loc", "scale"]

    def __init__(self, loc, scale, *, validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, loc=loc, scale=scale)
        self.loc, self.scale = loc, scale
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _truncated(self):
        dtype = float_dtype(self.loc, self.scale)
        loc, scale = _cast((self.loc, self.scale), dtype, self.batch_shape)
        scale, ok = _positive_or_one(scale)
        valid = ok & jnp.isfinite(loc)
        loc = jnp.where(valid, loc, 0.0)
        return TruncatedNormal(loc, scale, -1.0, 1.0, validate_args=False), valid

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        truncated, valid = self._truncated()
        inside = jnp.abs(value) <= 1
        log_density = truncated.log_prob(jnp.where(inside, value, 0.0))
        return jnp.where(inside & valid, log_density, -jnp.inf)

    def sample(self, key, sample_shape=()):
        truncated, valid = self._truncated()
        return jnp.where(valid, truncated.sample(key, sample_shape), jnp.nan)


class EffectiveSpinGaussian(Distribution):
    """``(chi_eff, chi_p)`` from a correlated bivariate normal truncated to ``[-1, 1] x [0, 1]``.

        p(chi_eff, chi_p) = N2((chi_eff, chi_p) | (mu_eff, mu_p), Sigma) / M,
        Sigma = [[s_eff^2, rho s_eff s_p], [rho s_eff s_p, s_p^2]],

    ``M`` the mass of the untruncated normal inside the box (:meth:`log_box_probability`).

    Args:
        chi_eff_loc, chi_eff_scale: mean and width (``> 0``) of ``chi_eff`` before truncation.
        chi_p_loc, chi_p_scale: the same for ``chi_p``.
        correlation: ``rho``, in ``(-1, 1)``.

    ``event_shape`` is ``(2,)``: ``(chi_eff, chi_p)``. ``M`` is accurate to about
    ``1e-12`` relative in float64 wherever the untruncated mean lies within a few widths of
    the box. Draws are exact (rejection on ``chi_eff``, acceptance probability
    ``E[f] / max f`` in the notation of the module docstring); after 10,000 rounds
    unaccepted draws are NaN, which needs a ``chi_p`` range far in the tail of the
    conditional normal for almost every ``chi_eff``.
    Impossible parameters (a width ``<= 0``, ``|rho| >= 1``, a non-finite mean): with
    concrete values the constructor raises ``ValueError``; under ``jit`` ``log_prob`` is
    ``-inf`` and ``sample`` returns NaN.
    """

    arg_constraints = {
        "chi_eff_loc": constraints.real,
        "chi_eff_scale": constraints.positive,
        "chi_p_loc": constraints.real,
        "chi_p_scale": constraints.positive,
        "correlation": constraints.open_interval(-1.0, 1.0),
    }
    support = _CHI_EFF_CHI_P_BOX
    reparametrized_params = []

    def __init__(self, chi_eff_loc, chi_eff_scale, chi_p_loc, chi_p_scale, correlation, *,
                 validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, chi_eff_loc=chi_eff_loc,
                                            chi_eff_scale=chi_eff_scale, chi_p_loc=chi_p_loc,
                                            chi_p_scale=chi_p_scale, correlation=correlation)
        self.chi_eff_loc, self.chi_eff_scale = chi_eff_loc, chi_eff_scale
        self.chi_p_loc, self.chi_p_scale = chi_p_loc, chi_p_scale
        self.correlation = correlation
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _params(self):
        """``(loc1, scale1, loc2, scale2, rho, valid)``, batch-shaped, safe where invalid."""
        raw = (self.chi_eff_loc, self.chi_eff_scale, self.chi_p_loc, self.chi_p_scale,
               self.correlation)
        loc1, scale1, loc2, scale2, rho = _cast(raw, float_dtype(*raw), self.batch_shape)
        scale1, ok1 = _positive_or_one(scale1)
        scale2, ok2 = _positive_or_one(scale2)
        valid = ok1 & ok2 & (jnp.abs(rho) < 1) & jnp.isfinite(loc1) & jnp.isfinite(loc2)
        loc1, loc2 = jnp.where(valid, loc1, 0.0), jnp.where(valid, loc2, 0.5)
        rho = jnp.where(valid, rho, 0.0)
        return loc1, scale1, loc2, scale2, rho, valid

    def _standard_box(self):
        """The box in standard units, ``rho``, ``s = sqrt(1 - rho^2)`` and ``valid``."""
        loc1, scale1, loc2, scale2, rho, valid = self._params()
        box = ((-1.0 - loc1) / scale1, (1.0 - loc1) / scale1,
               (0.0 - loc2) / scale2, (1.0 - loc2) / scale2)
        return box, rho, jnp.sqrt((1 - rho) * (1 + rho)), valid

    def log_box_probability(self):
        """``log M``: log of the untruncated normal's mass in the box; ``batch_shape``.

        ``-inf`` where the parameters are impossible.
        """
        (lo1, hi1, lo2, hi2), rho, s, valid = self._standard_box()
        log_m = _log_bivariate_box(lo1, hi1, lo2, hi2, rho, s, lo1.dtype)
        return jnp.where(valid, log_m, -jnp.inf)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        loc1, scale1, loc2, scale2, rho, valid = self._params()
        z1 = (value[..., 0] - loc1) / scale1
        z2 = (value[..., 1] - loc2) / scale2
        one_minus_rho2 = (1 - rho) * (1 + rho)
        quadratic = z1 * z1 + (z2 - rho * z1) ** 2 / one_minus_rho2
        log_norm = (2 * _HALF_LOG_TWO_PI + jnp.log(scale1) + jnp.log(scale2)
                    + 0.5 * jnp.log(one_minus_rho2) + self.log_box_probability())
        finite = jnp.isfinite(log_norm)
        log_density = -0.5 * quadratic - jnp.where(finite, log_norm, 0.0)
        chi_eff, chi_p = value[..., 0], value[..., 1]
        in_box = (jnp.abs(chi_eff) <= 1) & (chi_p >= 0) & (chi_p <= 1)
        inside = in_box & valid & finite
        return jnp.where(inside, log_density, -jnp.inf)

    def sample(self, key, sample_shape=()):
        loc1, scale1, loc2, scale2, rho, valid = self._params()
        (lo1, hi1, lo2, hi2), _, s, _ = self._standard_box()
        dtype = lo1.dtype
        key_eff, key_p = jax.random.split(key)
        safe_rho = jnp.where(rho == 0, 1.0, rho)
        # f(x) is largest where the conditional chi_p normal is centred on its range.
        x_best = jnp.where(rho == 0, 0.0, jnp.clip((lo2 + hi2) / (2 * safe_rho), lo1, hi1))

        def log_f(x):
            return log_normal_interval((lo2 - rho * x) / s, (hi2 - rho * x) / s)

        x = _rejection_sample(key_eff, lo1, hi1, log_f, log_f(x_best), sample_shape, dtype)
        accepted = ~jnp.isnan(x)
        x = jnp.where(accepted, x, 0.0)
        conditional = TruncatedNormal(loc2 + scale2 * rho * x, scale2 * s, 0.0, 1.0,
                                      validate_args=False)
        chi_p = jnp.clip(conditional.sample(key_p).astype(dtype), 0.0, 1.0)
        chi_eff = jnp.clip(loc1 + scale1 * x, -1.0, 1.0)
        keep = accepted & valid
        return jnp.where(keep[..., None], jnp.stack([chi_eff, chi_p], axis=-1), jnp.nan)


def _log_bivariate_box(lo1, hi1, lo2, hi2, rho, s, dtype):
    """``log P(lo1 < X1 < hi1, lo2 < X2 < hi2)`` for standard normals of correlation ``rho``
    (``s = sqrt(1 - rho^2)``); all arguments of shape ``batch``."""
    active = rho != 0
    safe_rho = jnp.where(active, rho, 1.0)
    breaks = []
    for edge in (lo2, hi2):
        # f changes where the conditional mean rho x crosses an edge, over a width s/|rho|;
        # where that edge is far in the tail, phi(x) f(x) peaks near x = rho * edge.
        breaks += _transition_points(edge / safe_rho, s / jnp.abs(safe_rho), active, hi1)
        breaks.append(rho * edge)

    def log_f(x):
        r, w = rho[..., None], s[..., None]
        return log_normal_interval((lo2[..., None] - r * x) / w, (hi2[..., None] - r * x) / w)

    return log_normal_expectation(log_f, lo1, hi1, breaks, dtype)


def skew_normal_location_scale(mean, standard_deviation, skewness):
    """``(loc, scale)`` of the skew normal with the given untruncated mean and width.

    With ``delta = alpha / sqrt(1 + alpha^2)`` (``alpha`` = ``skewness``), the skew
    normal has mean ``loc + scale delta sqrt(2 / pi)`` and variance
    ``scale^2 (1 - 2 delta^2 / pi)`` (Azzalini 1985); this inverts those relations for
    the parametrisation by mean, width and shape. Any broadcastable shapes.
    """
    delta = skewness / jnp.sqrt(1 + skewness * skewness)
    scale = standard_deviation / jnp.sqrt(1 - 2 * delta * delta / math.pi)
    return mean - scale * delta * math.sqrt(2 / math.pi), scale


class ChiEffSkewNormal(Distribution):
    """``chi_eff`` from a skew normal truncated to ``[-1, 1]``.

        p(chi_eff) = 2 / scale phi(z) Phi(skewness z) / M,   z = (chi_eff - loc) / scale,

    ``M`` the skew normal's mass in ``[-1, 1]`` (:meth:`log_interval_probability`).

    Args:
        loc: location ``xi`` (the mode and the mean only when ``skewness = 0``).
        scale: scale ``omega > 0``.
        skewness: Azzalini's shape ``alpha`` (any real; ``0`` is the truncated normal,
            positive values skew towards large ``chi_eff``). It is not the third
            standardised moment, which is a function of it bounded by about ``+-0.995``.

    This is the parametrisation of Banagiri et al. (2025), whose ``mu``, ``sigma`` and
    ``eta`` are ``loc``, ``scale`` and ``skewness``; for the mean and width of the
    untruncated skew normal use :func:`skew_normal_location_scale`. Draws are exact
    (rejection from the truncated normal with acceptance ``Phi(alpha z) / max Phi``);
    after 10,000 rounds unaccepted draws are NaN, which needs ``loc`` far outside
    ``[-1, 1]`` on the side the skew leans away from. Impossible parameters
    (``scale <= 0``, non-finite values): concrete ones raise ``ValueError``; under ``jit``
    ``log_prob`` is ``-inf`` and ``sample`` returns NaN.
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "skewness": constraints.real,
    }
    support = constraints.interval(-1.0, 1.0)
    reparametrized_params = []

    def __init__(self, loc, scale, skewness, *, validate_args=None):
        batch_shape = parameter_batch_shape(type(self).__name__, loc=loc, scale=scale,
                                            skewness=skewness)
        self.loc, self.scale, self.skewness = loc, scale, skewness
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _params(self):
        raw = (self.loc, self.scale, self.skewness)
        loc, scale, alpha = _cast(raw, float_dtype(*raw), self.batch_shape)
        scale, ok = _positive_or_one(scale)
        valid = ok & jnp.isfinite(loc) & jnp.isfinite(alpha)
        return jnp.where(valid, loc, 0.0), scale, jnp.where(valid, alpha, 0.0), valid

    def _log_truncated_mass(self):
        """``log(M / 2)`` and the pieces: ``(log_half_mass, lo, hi, alpha, valid)``."""
        loc, scale, alpha, valid = self._params()
        lo, hi = (-1.0 - loc) / scale, (1.0 - loc) / scale
        active = alpha != 0
        safe_alpha = jnp.where(active, alpha, 1.0)
        # Phi(alpha x) rises from 0 to 1 around x = 0 over a width 1/|alpha|.
        breaks = _transition_points(0.0, 1.0 / jnp.abs(safe_alpha), active, hi)

        def log_f(x):
            return log_ndtr(alpha[..., None] * x)

        log_half = log_normal_expectation(log_f, lo, hi, breaks, lo.dtype)
        return log_half, lo, hi, alpha, valid

    def log_interval_probability(self):
        """``log M``: log of the untruncated skew normal's mass in ``[-1, 1]``; ``batch_shape``."""
        log_half, _, _, _, valid = self._log_truncated_mass()
        return jnp.where(valid, log_half + math.log(2.0), -jnp.inf)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        loc, scale, alpha, valid = self._params()
        log_half, _, _, _, _ = self._log_truncated_mass()
        z = (value - loc) / scale
        log_density = (-0.5 * z * z - _HALF_LOG_TWO_PI - jnp.log(scale)
                       + log_ndtr(alpha * z) - log_half)
        inside = (jnp.abs(value) <= 1) & valid & jnp.isfinite(log_half)
        return jnp.where(inside, log_density, -jnp.inf)

    def sample(self, key, sample_shape=()):
        loc, scale, alpha, valid = self._params()
        lo, hi = (-1.0 - loc) / scale, (1.0 - loc) / scale
        # Phi(alpha x) is monotone: largest at the end of [lo, hi] the skew leans to.
        log_max = log_ndtr(alpha * jnp.where(alpha > 0, hi, lo))

        def log_accept(x):
            return log_ndtr(alpha * x)

        x = _rejection_sample(key, lo, hi, log_accept, log_max, sample_shape, lo.dtype)
        draws = jnp.clip(loc + scale * x, -1.0, 1.0)
        return jnp.where(valid & ~jnp.isnan(x), draws, jnp.nan)
