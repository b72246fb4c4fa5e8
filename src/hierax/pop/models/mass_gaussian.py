"""The Gaussian mass component ``g``: truncated normals in ``m1`` and ``m2`` with ``m2 <= m1``.

    p(m1, m2) = N_[a1,b1](m1 | mu1, s1) N_[a2,b2](m2 | mu2, s2) 1[m2 <= m1] / Z
    Z         = P(X2 <= X1) = int N_[a1,b1](x | mu1, s1) P(X2 <= x) dx

for independent truncated normals ``X1``, ``X2``. Two independent truncated
normals put mass at ``m2 > m1`` whenever their ranges overlap; restricting
to the ordered region and renormalising keeps the model consistent with the
labelling ``m1 >= m2`` of every catalog.

``Z`` is a one-dimensional integral, computed by composite Gauss-Legendre
quadrature over the part of ``[max(a1, a2), min(b1, b2)]`` within 12 standard
deviations of ``mu1``, with panel breaks around ``mu2`` so that a narrow
``m2`` distribution is resolved; the part ``x > b2`` (where ``P(X2 <= x) = 1``)
is a difference of normal cdfs. Draws are exact: ``m1`` by rejection from its
truncated normal (acceptance probability ``P(X2 <= m1)``), then ``m2`` from its
conditional, a normal truncated to ``[a2, min(b2, m1)]``, by inverting its cdf.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.truncated import TruncatedNormal, log1mexp
from hierax.distributions.util import is_concrete
from hierax.pop.models._numerics import (
    MassPairSupport,
    float_dtype,
    panel_nodes,
    parameter_batch_shape,
    safe_logsumexp,
    sum_to_batch,
    weighted_feature_sums,
)

__all__ = ["OrderedTruncatedNormalMasses"]

_NODES_PER_PANEL = 48
_WINDOW_SIGMAS = 12.0
_BREAK_SIGMAS = (-6.0, -2.0, 2.0, 6.0)
_MAX_REJECTION_ROUNDS = 10_000
_LOG_TWO_PI = float(np.log(2 * np.pi))

_PARAM_NAMES = (
    "m1_loc",
    "m1_scale",
    "m1_low",
    "m1_high",
    "m2_loc",
    "m2_scale",
    "m2_low",
    "m2_high",
)


class OrderedTruncatedNormalMasses(Distribution):
    """Truncated normals in ``m1`` and ``m2``, restricted to ``m2 <= m1`` and renormalised.

    Args:
        m1_loc, m1_scale: location and scale (``> 0``) of the ``m1`` normal.
        m1_low, m1_high: truncation of ``m1`` (``m1_low < m1_high``).
        m2_loc, m2_scale, m2_low, m2_high: the same for ``m2``.

    ``event_shape`` is ``(2,)``; ``log_prob`` is ``-inf`` outside
    ``{m1 in [m1_low, m1_high], m2 in [m2_low, m2_high], m2 <= m1}``.
    The rejection step of :meth:`sample` needs on average ``1 / Z`` rounds
    (``Z`` = :meth:`ordered_probability`); it stops after 10,000 rounds, so
    hyperparameters with ``Z`` below about ``1e-3`` leave a few draws unaccepted,
    which are returned as NaN rather than silently biased.
    """

    arg_constraints = {
        "m1_loc": constraints.real,
        "m1_scale": constraints.positive,
        "m1_low": constraints.real,
        "m1_high": constraints.real,
        "m2_loc": constraints.real,
        "m2_scale": constraints.positive,
        "m2_low": constraints.real,
        "m2_high": constraints.real,
    }
    reparametrized_params = []

    def __init__(
        self,
        m1_loc,
        m1_scale,
        m1_low,
        m1_high,
        m2_loc,
        m2_scale,
        m2_low,
        m2_high,
        *,
        validate_args=None,
    ):
        values = (m1_loc, m1_scale, m1_low, m1_high, m2_loc, m2_scale, m2_low, m2_high)
        batch_shape = parameter_batch_shape(
            "OrderedTruncatedNormalMasses", **dict(zip(_PARAM_NAMES, values, strict=True)))
        for name, value in zip(_PARAM_NAMES, values, strict=True):
            setattr(self, name, value)
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        pairs = (
            ("m1_low", "m1_high", "<"),
            ("m2_low", "m2_high", "<"),
            ("m2_low", "m1_high", "<="),
        )
        for low_name, high_name, relation in pairs:
            low, high = getattr(self, low_name), getattr(self, high_name)
            if not (is_concrete(low) and is_concrete(high)):
                continue
            low, high = np.asarray(low), np.asarray(high)
            ok = np.all(low < high) if relation == "<" else np.all(low <= high)
            if not ok:
                raise ValueError(
                    f"OrderedTruncatedNormalMasses: need {low_name} {relation} {high_name} "
                    f"(else the support is empty), got {low_name}={low.tolist()}, "
                    f"{high_name}={high.tolist()}."
                )

    @constraints.dependent_property(event_dim=1)
    def support(self):
        return MassPairSupport(self.m1_low, self.m1_high, self.m2_low, self.m2_high)

    @property
    def _dtype(self):
        return float_dtype(*(getattr(self, n) for n in _PARAM_NAMES))

    def _params(self):
        dtype = self._dtype
        return [
            jnp.broadcast_to(jnp.asarray(getattr(self, n), dtype), self.batch_shape)
            for n in _PARAM_NAMES
        ]

    def _marginals(self):
        loc1, scale1, low1, high1, loc2, scale2, low2, high2 = self._params()
        first = TruncatedNormal(loc1, scale1, low1, high1, validate_args=False)
        second = TruncatedNormal(loc2, scale2, low2, high2, validate_args=False)
        return first, second

    def log_ordered_probability(self):
        """``log Z = log P(X2 <= X1)`` for the independent truncated normals; ``batch_shape``.

        Every normal cdf the quadrature needs (at all nodes of all panels and at the
        truncation points) comes from one vectorised ``log_ndtr`` call. ``0`` exactly
        when ``m2_high <= m1_low`` (then every ``m2`` lies below every ``m1``).
        """
        loc1, scale1, low1, high1, loc2, scale2, low2, high2 = self._params()
        lo = jnp.maximum(low1, low2)
        hi = jnp.minimum(high1, high2)
        lo_window = jnp.clip(loc1 - _WINDOW_SIGMAS * scale1, lo, hi)
        hi_window = jnp.clip(loc1 + _WINDOW_SIGMAS * scale1, lo_window, hi)
        breaks = [lo_window]
        for k in _BREAK_SIGMAS:
            breaks.append(jnp.clip(loc2 + k * scale2, breaks[-1], hi_window))
        breaks.append(hi_window)
        nodes, log_weights = panel_nodes(breaks, _NODES_PER_PANEL, self._dtype)
        above = jnp.clip(high2, low1, high1)
        # Standardised points: m2 nodes; then m1/m2 truncation points and "above".
        z_nodes = (nodes - loc2[..., None]) / scale2[..., None]
        ends = jnp.stack([(low1 - loc1) / scale1, (high1 - loc1) / scale1,
                          (above - loc1) / scale1, (low2 - loc2) / scale2,
                          (high2 - loc2) / scale2], axis=-1)
        points = jnp.concatenate([z_nodes, ends], axis=-1)
        log_cdf = log_ndtr(jnp.concatenate([points, -points], axis=-1))
        count = points.shape[-1]
        log_lower, log_upper = log_cdf[..., :count], log_cdf[..., count:]
        a1, b1, c1, a2, b2 = (log_lower[..., -5 + i] for i in range(5))
        sa1, sb1, sc1, sa2, sb2 = (log_upper[..., -5 + i] for i in range(5))
        end_z = ends
        log_z1 = _log_normal_mass(a1, b1, sa1, sb1, end_z[..., 0])
        log_z2 = _log_normal_mass(a2, b2, sa2, sb2, end_z[..., 3])
        # log P(X2 <= x) at the nodes (clipped to the m2 truncation).
        n_nodes = z_nodes.shape[-1]
        log_below = _log_normal_mass(
            a2[..., None], log_lower[..., :n_nodes], sa2[..., None], log_upper[..., :n_nodes],
            end_z[..., 3:4],
        ) - log_z2[..., None]
        log_below = jnp.where(z_nodes <= end_z[..., 3:4], -jnp.inf, jnp.minimum(log_below, 0.0))
        z1 = (nodes - loc1[..., None]) / scale1[..., None]
        log_density = (-0.5 * z1 * z1 - jnp.log(scale1)[..., None] - 0.5 * _LOG_TWO_PI
                       - log_z1[..., None])
        log_overlap = safe_logsumexp(log_density + log_below + log_weights, axis=-1)
        # Above high2 every m2 lies below m1: the mass of X1 there counts fully.
        log_above = _log_normal_mass(c1, b1, sc1, sb1, end_z[..., 2]) - log_z1
        log_above = jnp.minimum(log_above, 0.0)
        total = jnp.logaddexp(log_overlap, log_above)
        return jnp.where(high2 <= low1, 0.0, total)

    def ordered_probability(self):
        """``Z = P(X2 <= X1)``, the normaliser of the ordered region; ``batch_shape``."""
        return jnp.exp(self.log_ordered_probability())

    def _log_normalizer(self):
        """``log Z + sum_i (log Z_i + log s_i + log(2 pi) / 2)``, shape ``batch_shape``:
        everything in ``-log p`` but the two quadratic forms (``Z_i``: truncation masses)."""
        _, scale1, _, _, _, scale2, _, _ = self._params()
        first, second = self._marginals()
        log_truncation = first._log_cdf_ends()[2] + second._log_cdf_ends()[2]
        log_scales = jnp.log(scale1) + jnp.log(scale2) + _LOG_TWO_PI
        return self.log_ordered_probability() + log_truncation + log_scales

    def log_prob_from_logs(self, value, log_value):
        """:meth:`log_prob` (the interface of the power-law component; ``log_value`` unused)."""
        del log_value
        return self.log_prob(value)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        params = self._params()
        return _quadratic_log_prob(*params, value[..., 0], value[..., 1])

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        loc1, scale1, low1, high1, loc2, scale2, low2, high2 = self._params()
        _, second = self._marginals()
        proposal = TruncatedNormal(
            loc1, scale1, jnp.maximum(low1, low2), high1, validate_args=False
        )
        key_m1, key_m2 = jax.random.split(key)
        m1 = _rejection_sample(key_m1, shape, proposal, second, self._dtype)
        cap = jnp.where(jnp.isnan(m1), high2, jnp.minimum(high2, m1))
        conditional = TruncatedNormal(
            loc2, scale2, jnp.minimum(low2, cap), cap, validate_args=False
        )
        m2 = jnp.minimum(conditional.sample(key_m2), cap)
        m2 = jnp.where(jnp.isnan(m1), jnp.nan, m2)
        return jnp.stack([m1, m2], axis=-1)


# -- the per-sample density with a hand-written gradient -------------------------------
#
# Inside the support log p = -(z1^2 + z2^2) / 2 - N(Lambda) with z_i = (m_i - loc_i) / s_i,
# so d/dloc_i = z_i / s_i and d/ds_i = z_i^2 / s_i per sample; the four weighted sums are
# taken by ``weighted_feature_sums`` and the normaliser ``N`` (a function of
# the hyperparameters only) is differentiated by its own pullback. Nothing per-sample is
# saved beyond the inputs; samples outside the support contribute nothing.


def _quadratic_parts(loc1, scale1, low1, high1, loc2, scale2, low2, high2, m1, m2):
    z1 = (m1 - loc1) / scale1
    z2 = (m2 - loc2) / scale2
    inside = (m1 >= low1) & (m1 <= high1) & (m2 >= low2) & (m2 <= high2) & (m2 <= m1)
    return z1, z2, inside


def _log_normalizer_of(*params):
    return OrderedTruncatedNormalMasses(*params, validate_args=False)._log_normalizer()


@jax.custom_vjp
def _quadratic_log_prob(loc1, scale1, low1, high1, loc2, scale2, low2, high2, m1, m2):
    """``-(z1^2 + z2^2) / 2 - N`` inside the support (``N``: :meth:`_log_normalizer`),
    ``-inf`` outside or where ``N`` is not finite. Parameters have the batch shape,
    ``m1, m2`` ``sample + batch``."""
    params = (loc1, scale1, low1, high1, loc2, scale2, low2, high2)
    log_norm = _log_normalizer_of(*params)
    z1, z2, inside = _quadratic_parts(*params, m1, m2)
    finite = jnp.isfinite(log_norm)
    safe_norm = jnp.where(finite, log_norm, 0.0)
    return jnp.where(inside & finite, -0.5 * (z1 * z1 + z2 * z2) - safe_norm, -jnp.inf)


def _quadratic_forward(*args):
    return _quadratic_log_prob(*args), args


def _quadratic_backward(args, cotangent):
    params, (m1, m2) = args[:8], args[8:]
    loc1, scale1, _, _, loc2, scale2, _, _ = params
    log_norm, pull_norm = jax.vjp(_log_normalizer_of, *params)
    finite = jnp.isfinite(log_norm)
    n = pull_norm(jnp.where(finite, 1.0, 0.0).astype(log_norm.dtype))
    z1, z2, inside = _quadratic_parts(*params, m1, m2)
    weight = jnp.where(inside & finite, cotangent, 0.0)
    batch_shape = jnp.shape(loc1)
    # The normaliser's partials are folded into the per-sample features (centred sums).
    features = [z1 / scale1 - n[0], z1 * z1 / scale1 - n[1],
                z2 / scale2 - n[4], z2 * z2 / scale2 - n[5]]
    g_loc1, g_scale1, g_loc2, g_scale2 = weighted_feature_sums(weight, features, batch_shape)
    total = sum_to_batch(weight, batch_shape)
    grads = (g_loc1, g_scale1, -n[2] * total, -n[3] * total,
             g_loc2, g_scale2, -n[6] * total, -n[7] * total)
    grads = tuple(jnp.asarray(g, jnp.result_type(a)) for g, a in zip(grads, params,
                                                                     strict=True))
    cot_m1 = _unbroadcast(-weight * z1 / scale1, jnp.shape(m1)).astype(jnp.result_type(m1))
    cot_m2 = _unbroadcast(-weight * z2 / scale2, jnp.shape(m2)).astype(jnp.result_type(m2))
    return grads + (cot_m1, cot_m2)


def _unbroadcast(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting to ``x.shape``)."""
    return sum_to_batch(x, shape) if jnp.shape(x) != shape else x


_quadratic_log_prob.defvjp(_quadratic_forward, _quadratic_backward)


def _log_normal_mass(log_cdf_lo, log_cdf_hi, log_sf_lo, log_sf_hi, z_lo):
    """``log(Phi(hi) - Phi(lo))`` from ``log Phi`` and ``log Phi(-.)`` at both ends; the
    upper-tail form where ``lo > 0`` keeps precision there. ``-inf`` (finite gradients)
    for an empty interval."""
    upper = z_lo > 0
    head, gap = (jnp.where(upper, log_sf_lo, log_cdf_hi),
                 jnp.where(upper, log_sf_hi - log_sf_lo, log_cdf_lo - log_cdf_hi))
    nonempty = gap < 0
    safe_gap = jnp.where(nonempty, gap, -1.0)
    return jnp.where(nonempty, head + log1mexp(safe_gap), -jnp.inf)


def _rejection_sample(key, shape, proposal, second, dtype):
    """Draws of ``m1`` from ``proposal`` accepted with probability ``P(X2 <= m1)``.

    Loops until every position holds an accepted draw (at most
    ``_MAX_REJECTION_ROUNDS`` rounds); positions never accepted are NaN.
    """

    def propose(round_key):
        key_x, key_u = jax.random.split(round_key)
        x = proposal.sample(key_x, shape[: len(shape) - len(proposal.batch_shape)])
        u = jax.random.uniform(key_u, shape, dtype)
        return x, u < second.cdf(x)

    def keep_going(state):
        _, _, done, rounds = state
        return (~jnp.all(done)) & (rounds < _MAX_REJECTION_ROUNDS)

    def step(state):
        round_key, value, done, rounds = state
        round_key, sub = jax.random.split(round_key)
        x, accept = propose(sub)
        value = jnp.where(done, value, x)
        return round_key, value, done | accept, rounds + 1

    init = (key, jnp.full(shape, jnp.nan, dtype), jnp.zeros(shape, bool), 0)
    _, value, done, _ = jax.lax.while_loop(keep_going, step, init)
    return jnp.where(done, value, jnp.nan)
