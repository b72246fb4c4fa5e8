"""The power-law mass component ``pl``: a power law in ``m1`` and in the mass ratio.

    p(m1)      ∝ m1^-alpha S(m1)             on [mmin, mmax]
    p(q | m1)  ∝ q^beta S(q m1)              on [mmin / m1, 1]
    p(m1, m2)  = p(m1) p(q = m2/m1 | m1) / m1

(Abbott et al. 2021, ApJL 913, L7, "Power Law" model, with the optional
low-mass smoothing ``S`` of Talbot & Thrane 2018, ApJ 856, 173). Without
smoothing ``S = 1`` and both normalisers are closed forms that are smooth
through ``alpha = 1`` and ``beta = -1``. Writing ``F(m) = int_mmin^m x^beta S(x) dx``
and ``Z = int_mmin^mmax m^-alpha S(m) dm``, the joint density is

    log p(m1, m2) = -alpha log m1 + beta log m2 + log S(m1) + log S(m2) - log Z - log F(m1).

With smoothing, the integrals over the taper ``[mmin, mmin + delta]`` are
tabulated once per hyperparameter value on a fixed grid (cumulative
trapezoid rule, ``_TAPER_GRID`` points) and the power-law remainder is added
in closed form; a density evaluation at any number of points then costs one
table look-up each.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, check_ordered_bounds, validate_sample
from hierax.pop.models._numerics import (
    MassPairSupport,
    cumulative_trapezoid,
    float_dtype,
    interp_uniform,
    invert_cumulative,
    log_planck_taper,
    log_power_integral,
    log_power_law_cdf,
    log_power_law_cdf_partials,
    parameter_batch_shape,
    power_law_icdf,
    safe_log,
    sum_to_batch,
    weighted_feature_sums,
)

__all__ = ["PowerLawPrimaryMassRatio"]

_TAPER_GRID = 2049


class PowerLawPrimaryMassRatio(Distribution):
    """Density of ``(m1, m2)`` from a power law in ``m1`` and in ``q = m2 / m1``.

    Args:
        alpha: spectral index of ``m1`` (density ``m1^-alpha``), any real.
        beta: spectral index of ``q`` (density ``q^beta``), any real.
        mmin, mmax: mass bounds, ``0 < mmin < mmax``.
        delta: width of the Planck-taper smoothing of the low-mass edge
            (``> 0``), or ``None`` for a sharp edge.

    ``event_shape`` is ``(2,)`` (``m1, m2``); ``log_prob`` is ``-inf`` outside
    ``mmin <= m2 <= m1 <= mmax``. Draws invert the cdfs: ``m1`` from its
    marginal, then ``m2`` from its conditional.
    """

    arg_constraints = {
        "alpha": constraints.real,
        "beta": constraints.real,
        "mmin": constraints.positive,
        "mmax": constraints.positive,
        "delta": constraints.positive,
    }
    reparametrized_params = ["alpha", "beta", "mmin", "mmax", "delta"]

    def __init__(self, alpha, beta, mmin, mmax, delta=None, *, validate_args=None):
        params = {"alpha": alpha, "beta": beta, "mmin": mmin, "mmax": mmax}
        if delta is not None:
            params["delta"] = delta
        batch_shape = parameter_batch_shape("PowerLawPrimaryMassRatio", **params)
        self.alpha, self.beta, self.mmin, self.mmax, self.delta = alpha, beta, mmin, mmax, delta
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        check_ordered_bounds(self, self.mmin, self.mmax)

    @constraints.dependent_property(event_dim=1)
    def support(self):
        return MassPairSupport(self.mmin, self.mmax, self.mmin, self.mmax)

    @property
    def _dtype(self):
        return float_dtype(self.alpha, self.beta, self.mmin, self.mmax)

    def _params(self):
        """Parameters broadcast to ``batch_shape`` in the working dtype."""
        dtype = self._dtype
        names = ("alpha", "beta", "mmin", "mmax") + (() if self.delta is None else ("delta",))
        return [
            jnp.broadcast_to(jnp.asarray(getattr(self, n), dtype), self.batch_shape) for n in names
        ]

    # -- normalisers ----------------------------------------------------------

    def _taper(self):
        """Taper tables: ``(log_edge, log_z, table_m1, table_m2)``.

        ``table_m1``/``table_m2`` (shape ``batch + (K,)``) are cumulative integrals of
        ``(m/mmin)^-alpha S(m)`` and ``(m/mmin)^beta S(m)`` over ``[mmin, edge]``,
        ``edge = min(mmin + delta, mmax)``, on ``linspace(0, 1, K)`` in
        ``(m - mmin) / (edge - mmin)``.
        """
        alpha, beta, mmin, mmax, delta = self._params()
        span = jnp.minimum(delta, mmax - mmin)
        t = jnp.linspace(0.0, 1.0, _TAPER_GRID, dtype=self._dtype)
        mass = mmin[..., None] + span[..., None] * t
        log_ratio = jnp.log(mass) - jnp.log(mmin)[..., None]
        log_s = log_planck_taper(mass, mmin[..., None], delta[..., None])
        step = span / (_TAPER_GRID - 1)
        table_m1 = cumulative_trapezoid(jnp.exp(-alpha[..., None] * log_ratio + log_s), step)
        table_m2 = cumulative_trapezoid(jnp.exp(beta[..., None] * log_ratio + log_s), step)
        log_edge = jnp.log(mmin + span)
        log_tail = log_power_integral(-alpha, log_edge, jnp.log(mmax))
        log_taper = -alpha * jnp.log(mmin) + safe_log(table_m1[..., -1])
        log_z = jnp.logaddexp(log_taper, log_tail)
        return log_edge, log_z, table_m1, table_m2

    def _log_secondary_integral(self, m1, tables=None):
        """``log F(m1) = log int_mmin^m1 m^beta S(m) dm`` (shape of ``m1``)."""
        alpha, beta, mmin, mmax = self._params()[:4]
        log_m1 = jnp.log(m1)
        if self.delta is None:
            return log_power_law_cdf(beta, jnp.log(mmin), log_m1)
        log_edge, _, _, table_m2 = tables if tables is not None else self._taper()
        edge = jnp.exp(log_edge)
        t = (m1 - mmin) / (edge - mmin)
        partial = interp_uniform(table_m2, t)
        log_taper = beta * jnp.log(mmin) + safe_log(partial)
        log_tail = log_power_integral(beta, log_edge, jnp.maximum(log_m1, log_edge))
        return jnp.logaddexp(log_taper, log_tail)

    def log_normalizer(self):
        """``log int m^-alpha S(m) dm`` over ``[mmin, mmax]``, shape ``batch_shape``."""
        alpha, _, mmin, mmax = self._params()[:4]
        if self.delta is None:
            return log_power_integral(-alpha, jnp.log(mmin), jnp.log(mmax))
        return self._taper()[1]

    # -- the interface ----------------------------------------------------------

    def _log_prob_sharp(self, m1, m2, log_m1, log_m2):
        """``log p(m1, m2)`` without smoothing, given ``log m1`` and ``log m2`` (finite)."""
        return _sharp_log_prob(*self._params()[:4], m1, m2, log_m1, log_m2)

    def log_prob_from_logs(self, value, log_value):
        """:meth:`log_prob` given ``log(value)`` as well (callers that evaluate the same
        points many times compute it once); ``value`` must be positive."""
        value = jnp.asarray(value)
        if self.delta is not None:
            return self.log_prob(value)
        log_value = jnp.asarray(log_value)
        return self._log_prob_sharp(value[..., 0], value[..., 1], log_value[..., 0],
                                    log_value[..., 1])

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        alpha, beta, mmin, mmax = self._params()[:4]
        m1, m2 = value[..., 0], value[..., 1]
        inside = (m2 >= mmin) & (m2 <= m1) & (m1 <= mmax)
        middle = jnp.sqrt(mmin * mmax)
        safe_m1 = jnp.where(inside, m1, middle)
        safe_m2 = jnp.where(inside, m2, jnp.sqrt(mmin * middle))
        if self.delta is None:
            return self._log_prob_sharp(m1, m2, jnp.log(safe_m1), jnp.log(safe_m2))
        log_density = -alpha * jnp.log(safe_m1) + beta * jnp.log(safe_m2)
        tables = self._taper()
        log_z = tables[1]
        log_f = self._log_secondary_integral(safe_m1, tables)
        delta = self._params()[4]
        log_density = (
            log_density
            + log_planck_taper(safe_m1, mmin, delta)
            + log_planck_taper(safe_m2, mmin, delta)
        )
        # Far inside the taper the tabulated F underflows: the density there is 0.
        inside = inside & jnp.isfinite(log_f) & jnp.isfinite(log_density)
        log_f = jnp.where(inside, log_f, 0.0)
        log_density = jnp.where(inside, log_density, 0.0)
        return jnp.where(inside, log_density - log_z - log_f, -jnp.inf)

    def sample(self, key, sample_shape=()):
        dtype = self._dtype
        shape = tuple(sample_shape) + self.batch_shape
        key_m1, key_m2 = jax.random.split(key)
        u1 = jax.random.uniform(key_m1, shape, dtype)
        u2 = jax.random.uniform(key_m2, shape, dtype)
        if self.delta is None:
            m1, m2 = self._sample_sharp(u1, u2)
        else:
            m1, m2 = self._sample_smooth(u1, u2)
        return jnp.stack([m1, m2], axis=-1)

    def _sample_sharp(self, u1, u2):
        alpha, beta, mmin, mmax = self._params()[:4]
        log_mmin = jnp.log(mmin)
        m1 = power_law_icdf(-alpha, log_mmin, jnp.log(mmax), u1)
        m2 = power_law_icdf(beta, log_mmin, jnp.log(m1), u2)
        return m1, jnp.clip(m2, mmin, m1)

    def _sample_smooth(self, u1, u2):
        alpha, beta, mmin, mmax = self._params()[:4]
        tables = self._taper()
        log_edge, log_z, table_m1, table_m2 = tables
        edge = jnp.exp(log_edge)
        # m1: the taper holds a fraction of the mass, the power-law tail the rest.
        log_taper = -alpha * jnp.log(mmin) + safe_log(table_m1[..., -1])
        taper_fraction = jnp.exp(log_taper - log_z)
        in_taper = u1 < taper_fraction
        t1 = invert_cumulative(table_m1, jnp.minimum(u1 / taper_fraction, 1.0) * table_m1[..., -1])
        tail_u = jnp.clip((u1 - taper_fraction) / (1.0 - taper_fraction), 0.0, 1.0)
        m1_tail = power_law_icdf(-alpha, log_edge, jnp.log(mmax), tail_u)
        m1 = jnp.where(in_taper, mmin + (edge - mmin) * t1, m1_tail)
        m1 = jnp.clip(m1, mmin, mmax)
        # m2 | m1: the same split with F(m1) as the total.
        log_f = self._log_secondary_integral(m1, tables)
        log_f_taper = beta * jnp.log(mmin) + safe_log(table_m2[..., -1])
        log_target = jnp.log(u2) + log_f
        in_taper2 = log_target < log_f_taper
        scaled = jnp.exp(log_target - beta * jnp.log(mmin))
        t2 = invert_cumulative(table_m2, jnp.minimum(scaled, table_m2[..., -1]))
        tail_fraction = -jnp.expm1(jnp.minimum(log_f_taper - log_f, 0.0))
        u_tail = jnp.clip(
            (jnp.exp(log_target - log_f) - jnp.exp(log_f_taper - log_f))
            / jnp.where(tail_fraction > 0, tail_fraction, 1.0),
            0.0,
            1.0,
        )
        m2_tail = power_law_icdf(beta, log_edge, jnp.maximum(jnp.log(m1), log_edge), u_tail)
        m2 = jnp.where(in_taper2, mmin + (edge - mmin) * t2, m2_tail)
        return m1, jnp.clip(m2, mmin, m1)


# -- the sharp-edged density with a hand-written gradient ---------------------------
#
# Inside the support, with c = beta + 1,
#     log p = -alpha log m1 + beta log m2 - log Z(alpha, mmin, mmax) - log F(m1; beta, mmin),
# so the per-sample derivatives are log m1, log m2 and the partials of log F; the
# gradient of each hyperparameter is one weighted sum over the samples
# (``weighted_feature_sums``), and nothing per-sample is saved
# beyond the inputs. Samples outside the support contribute nothing.


def _sharp_inside(mmin, mmax, m1, m2):
    return (m2 >= mmin) & (m2 <= m1) & (m1 <= mmax)


def sharp_log_normalizer(alpha, mmin, mmax):
    """``ln Z = ln int_mmin^mmax m^-alpha dm`` of the sharp-edged power law."""
    return log_power_integral(-alpha, jnp.log(mmin), jnp.log(mmax))


@jax.custom_vjp
def _sharp_log_prob(alpha, beta, mmin, mmax, m1, m2, log_m1, log_m2):
    """``log p(m1, m2)`` of the sharp-edged power law; ``-inf`` outside the support.

    Parameters have the batch shape, the samples ``sample + batch`` (broadcastable).
    """
    inside = _sharp_inside(mmin, mmax, m1, m2)
    log_f = log_power_law_cdf(beta, jnp.log(mmin), log_m1)
    log_p = -alpha * log_m1 + beta * log_m2 - sharp_log_normalizer(alpha, mmin, mmax) - log_f
    return jnp.where(inside, log_p, -jnp.inf)


def _sharp_forward(alpha, beta, mmin, mmax, m1, m2, log_m1, log_m2):
    value = _sharp_log_prob(alpha, beta, mmin, mmax, m1, m2, log_m1, log_m2)
    return value, (alpha, beta, mmin, mmax, m1, m2, log_m1, log_m2)


def _sharp_backward(residuals, cotangent):
    alpha, beta, mmin, mmax, m1, m2, log_m1, log_m2 = residuals
    batch_shape = jnp.shape(alpha)
    inside = _sharp_inside(mmin, mmax, m1, m2)
    weight = jnp.where(inside, cotangent, 0.0)
    d_beta, d_log_mmin, d_log_x = log_power_law_cdf_partials(beta, jnp.log(mmin), log_m1)
    # The scalar normaliser's partials are folded into the features, so that each sum
    # is taken over the centred per-sample derivative (no float32 cancellation).
    _, pull_z = jax.vjp(sharp_log_normalizer, alpha, mmin, mmax)
    z_alpha, z_mmin, z_mmax = pull_z(jnp.ones_like(alpha))
    features = [-log_m1 - z_alpha, log_m2 - d_beta, -d_log_mmin / mmin - z_mmin]
    grad_alpha, grad_beta, grad_mmin = weighted_feature_sums(weight, features, batch_shape)
    grad_mmax = -z_mmax * sum_to_batch(weight, batch_shape)
    cot_log_m1 = _unbroadcast(weight * (-alpha - d_log_x), jnp.shape(log_m1))
    cot_log_m2 = _unbroadcast(weight * beta, jnp.shape(log_m2))
    grads = (grad_alpha, grad_beta, grad_mmin, grad_mmax)
    grads = tuple(jnp.asarray(g, jnp.result_type(p)) for g, p in zip(grads, residuals[:4],
                                                                     strict=True))
    return grads + (jnp.zeros_like(m1), jnp.zeros_like(m2),
                    cot_log_m1.astype(jnp.result_type(log_m1)),
                    cot_log_m2.astype(jnp.result_type(log_m2)))


def _unbroadcast(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting to ``x.shape``)."""
    return sum_to_batch(x, shape) if jnp.shape(x) != shape else x


_sharp_log_prob.defvjp(_sharp_forward, _sharp_backward)
