"""LVK mass models: a peaked primary-mass mixture with a smoothed power-law pairing.

    p(m1)      = g(m1) S(m1) / Z,                      Z    = int g(m) S(m) dm
    p(m2 | m1) = m2^beta S(m2) / F(m1)  on [mmin, m1],  F(m1) = int_mmin^m1 m^beta S(m) dm
    p(m1, m2)  = p(m1) p(m2 | m1)

``S`` is the Planck taper rising from 0 at ``mmin`` to 1 at ``mmin + delta_m``
(Talbot & Thrane 2018, ApJ 856, 173, eqs. 7-8; ``delta_m = 0`` is a sharp
edge) and ``g`` a mixture of normalised components:

- :class:`PowerLawPeak` ("Power Law + Peak": Talbot & Thrane 2018, eq. 11;
  Abbott et al. 2021, ApJL 913, L7, app. B; Abbott et al. 2023, PRX 13,
  011048, app. B.2)::

      g = (1 - lam) PL(m; -alpha, [mmin, mmax]) + lam N(m; mpp, sigpp, [mmin, peak_high])

- :class:`BrokenPowerLawTwoPeaks` ("Broken Power Law + 2 Peaks": Abac et al.
  2025, GWTC-4.0 populations, arXiv:2508.18083, app. B.3)::

      g = lam_0 BPL(m; alpha_1, alpha_2, m_break, [mmin, mmax])
          + lam_1 N(m; mpp_1, sigpp_1, [mmin, peak_high])
          + (1 - lam_0 - lam_1) N(m; mpp_2, sigpp_2, [mmin, peak_high])

  with ``BPL`` proportional to ``(m / m_break)^-alpha_1`` below the break and
  ``(m / m_break)^-alpha_2`` above it (continuous at the break).

Two conventions follow the code the LVK analyses ran (gwpopulation's
``SinglePeakSmoothedMassDistribution`` and its broken-power-law relatives):

- Each component is normalised on its own interval *before* it is mixed and
  tapered, and ``Z`` restores what the taper removes; ``lam`` is therefore the
  peak's share before smoothing, not the share of ``p(m1)``. The peaks are
  normals truncated to ``[mmin, peak_high]``: gwpopulation truncates them at
  the top of its normalisation grid (``gaussian_mass_maximum``, 100 Msun by
  default), *not* at the power law's ``mmax``, so a peak may reach above
  ``mmax``. ``peak_high`` defaults to 100 for that reason; pass ``mmax`` to
  cut the peaks where the power law ends.
- The pairing is normalised for every ``m1`` (``F(m1)`` above); in mass ratio
  it is ``p(q | m1) ∝ q^beta S(q m1)`` on ``[mmin / m1, 1]``, so the ``m1``
  marginal of ``p(m1, m2)`` is exactly ``p(m1)``.

Numerics. ``Z``: the part of every component above ``mmin + delta_m`` in
closed form (power-law integrals, normal cdfs in log space); the taper part by
composite Gauss-Legendre quadrature (16 nodes on each of 8 equal panels, with
extra panel breaks at ``m_break``, ``mmax``, ``peak_high`` and ``mpp +- 2, 6
sigpp``), so no panel straddles a kink and a narrow peak is resolved. ``F``:
above the taper in closed form; inside it the cumulative integrals at 129
equally spaced nodes are tabulated once per hyperparameter value (8-node
Gauss-Legendre per cell) and each ``m1`` adds a 6-node Gauss-Legendre integral
from the node below it: ``F`` is accurate to rounding from 5% of the taper
width up (where ``S > e^-20``; measured relative error 1e-4 at 2%, where
``S ~ e^-50``), for 6 taper evaluations per point (gwpopulation
instead uses the trapezoid rule on fixed grids of ``m1`` and ``q`` and
interpolates). Draws: ``m1`` by rejection from the untapered mixture (accepted
with probability ``S(m1)``; on average ``1 / Z`` rounds), ``m2`` by bisection
of ``F``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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
    gauss_legendre,
    log_planck_taper,
    log_power_integral,
    logsumexp_arrays,
    panel_nodes,
    parameter_batch_shape,
    power_law_icdf,
    safe_log,
    safe_logsumexp,
)

__all__ = ["BrokenPowerLawTwoPeaks", "PowerLawPeak"]

_PEAK_HIGH = 100.0
_TAPER_PANELS = 8
_PANEL_NODES = 16
_PEAK_BREAK_SIGMAS = (-6.0, -2.0, 2.0, 6.0)
_CELLS = 128
_CELL_NODES = 8
_LOCAL_NODES = 6
_MAX_REJECTION_ROUNDS = 10_000
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_FRACTION_SLACK = 1e-6  # lam_0 + lam_1 may exceed 1 by this much (rounding); the rest is 0
_NORMAL_Z_LIMIT = 1e4  # keeps infinite truncation points finite inside log_ndtr


# -- the mixture's components ---------------------------------------------------------


class _PowerLawPiece(NamedTuple):
    """``exp(log_scale) m^exponent`` on ``[low, high)`` (``[low, high]`` if ``closed``)."""

    log_scale: jax.Array
    exponent: jax.Array
    low: jax.Array
    high: jax.Array
    closed: bool = True


class _NormalPiece(NamedTuple):
    """``exp(log_weight)`` times the normal ``(loc, scale)`` truncated to ``[low, high]``;
    ``log_mass`` is the log probability of ``[low, high]`` under the untruncated normal."""

    log_weight: jax.Array
    loc: jax.Array
    scale: jax.Array
    low: jax.Array
    high: jax.Array
    log_mass: jax.Array


def _log_taper(mass, low, delta):
    """``log S(mass)`` of :func:`log_planck_taper`, also for ``delta = 0`` (a sharp edge:
    ``0`` above ``low``, ``-inf`` at or below it), with finite gradients there."""
    positive = delta > 0
    smooth = log_planck_taper(mass, low, jnp.where(positive, delta, 1.0))
    return jnp.where(positive, smooth, jnp.where(mass > low, 0.0, -jnp.inf))


def _log_normal_mass(loc, scale, low, high):
    """``log P(low <= X <= high)`` for ``X ~ N(loc, scale)``; ``-inf`` (finite gradients)
    for an empty interval. Both ends in the right tail use survival functions."""
    a = jnp.clip((low - loc) / scale, -_NORMAL_Z_LIMIT, _NORMAL_Z_LIMIT)
    b = jnp.clip((high - loc) / scale, -_NORMAL_Z_LIMIT, _NORMAL_Z_LIMIT)
    upper = a > 0
    head = jnp.where(upper, log_ndtr(-a), log_ndtr(b))
    gap = jnp.where(upper, log_ndtr(-b) - log_ndtr(-a), log_ndtr(a) - log_ndtr(b))
    nonempty = gap < 0
    return jnp.where(nonempty, head + log1mexp(jnp.where(nonempty, gap, -1.0)), -jnp.inf)


def _normal_piece(log_weight, loc, scale, low, high):
    """A :class:`_NormalPiece`; a peak without numerical mass in ``[low, high]`` gets weight 0."""
    log_mass = _log_normal_mass(loc, scale, low, high)
    finite = jnp.isfinite(log_mass)
    return _NormalPiece(jnp.where(finite, log_weight, -jnp.inf), loc, scale, low, high,
                        jnp.where(finite, log_mass, 0.0))


def _piece_log_density(piece, mass):
    """``log`` of one component (weight included) at ``mass > 0``; ``-inf`` outside it."""
    if isinstance(piece, _PowerLawPiece):
        below_high = (mass <= piece.high) if piece.closed else (mass < piece.high)
        inside = (mass >= piece.low) & below_high
        value = piece.log_scale + piece.exponent * jnp.log(mass)
    else:
        inside = (mass >= piece.low) & (mass <= piece.high)
        z = (mass - piece.loc) / piece.scale
        value = (piece.log_weight - piece.log_mass - jnp.log(piece.scale) - _HALF_LOG_TWO_PI
                 - 0.5 * z * z)
    return jnp.where(inside, value, -jnp.inf)


def _piece_log_mass_above(piece, start):
    """``log`` of the component's integral (weight included) over ``[max(start, low), high]``."""
    low = jnp.maximum(start, piece.low)
    if isinstance(piece, _PowerLawPiece):
        return piece.log_scale + log_power_integral(piece.exponent, jnp.log(low),
                                                    jnp.log(piece.high))
    partial = _log_normal_mass(piece.loc, piece.scale, low, piece.high)
    return piece.log_weight + partial - piece.log_mass


def _piece_quantile(piece, u):
    """Quantile ``u`` (shape ``sample + batch``) of the untapered component."""
    if isinstance(piece, _PowerLawPiece):
        return power_law_icdf(piece.exponent, jnp.log(piece.low), jnp.log(piece.high), u)
    normal = TruncatedNormal(piece.loc, piece.scale, piece.low, piece.high, validate_args=False)
    return normal.icdf(u)


def _expand(piece):
    """The component with every array field given a trailing axis (for quadrature nodes)."""
    return type(piece)(*(f if isinstance(f, bool) else jnp.expand_dims(f, -1) for f in piece))


def _log_mixture(pieces, mass):
    """``log g(mass)``: the untapered mixture density (``-inf`` where it is 0)."""
    return logsumexp_arrays([_piece_log_density(piece, mass) for piece in pieces])


# -- normalisers ----------------------------------------------------------------------------


def _log_primary_normalizer(pieces, mmin, delta, breaks, dtype):
    """``log Z = log int g S``: closed form above ``mmin + delta``, quadrature below.

    Args:
        pieces: the mixture's components (parameters of shape ``batch``).
        mmin, delta: taper start and width, shape ``batch``.
        breaks: extra panel breaks (shape ``batch`` each), clipped to the taper.
    """
    edge = mmin + delta
    log_tail = logsumexp_arrays([_piece_log_mass_above(piece, edge) for piece in pieces])
    uniform = [mmin + delta * (j / _TAPER_PANELS) for j in range(_TAPER_PANELS + 1)]
    extra = [jnp.clip(b, mmin, edge) for b in breaks]
    ordered = jnp.sort(jnp.stack(jnp.broadcast_arrays(*uniform, *extra), axis=-1), axis=-1)
    points, log_weights = panel_nodes([ordered[..., i] for i in range(ordered.shape[-1])],
                                      _PANEL_NODES, dtype)
    expanded = [_expand(piece) for piece in pieces]
    log_integrand = (_log_mixture(expanded, points)
                     + _log_taper(points, mmin[..., None], delta[..., None]))
    log_taper = safe_logsumexp(log_integrand + log_weights, axis=-1)
    return logsumexp_arrays([log_taper, log_tail])


def _log_pairing_integrand(mass, beta, low, delta):
    """``log((mass / low)^beta S(mass))``; parameters broadcast against ``mass``."""
    return beta * (jnp.log(mass) - jnp.log(low)) + _log_taper(mass, low, delta)


def _pairing_table(beta, low, delta, dtype):
    """``T_k = int_low^{low + k h} (m / low)^beta S(m) dm`` for ``k = 0 .. _CELLS``,
    ``h = delta / _CELLS`` (8-node Gauss-Legendre per cell); shape ``batch + (_CELLS + 1,)``."""
    nodes, weights = gauss_legendre(_CELL_NODES, dtype)
    offsets = jnp.arange(_CELLS, dtype=dtype)[:, None] + nodes
    step = delta / _CELLS
    mass = low[..., None, None] + step[..., None, None] * offsets
    log_f = _log_pairing_integrand(mass, beta[..., None, None], low[..., None, None],
                                   delta[..., None, None])
    cells = step[..., None] * jnp.sum(weights * jnp.exp(log_f), axis=-1)
    return jnp.concatenate([jnp.zeros_like(cells[..., :1]), jnp.cumsum(cells, axis=-1)], axis=-1)


def _table_entries(table, index):
    """``table[..., index]`` for ``table`` of shape ``batch + (K,)`` and ``index`` of shape
    ``sample + batch``, without broadcasting the table over the samples."""
    batch = table.shape[:-1]
    offsets = jnp.arange(math.prod(batch), dtype=jnp.int32).reshape(batch) * table.shape[-1]
    return table.reshape(-1)[offsets + index]


def _log_pairing_normalizer(table, beta, low, delta, m1):
    """``log F(m1) = log int_low^m1 m^beta S(m) dm``, shape of ``m1`` (``sample + batch``).

    Inside the taper: the tabulated integral up to the node below ``m1`` plus a
    6-node Gauss-Legendre integral from that node to ``m1``; above it: the whole
    table plus the power-law integral in closed form.
    """
    dtype = table.dtype
    edge = low + delta
    inner = jnp.clip(m1, low, edge)
    step = delta / _CELLS
    safe_step = jnp.where(step > 0, step, 1.0)
    cell = jnp.clip(jnp.floor((inner - low) / safe_step), 0, _CELLS - 1).astype(jnp.int32)
    start = low + cell * step
    width = jnp.maximum(inner - start, 0.0)
    nodes, weights = gauss_legendre(_LOCAL_NODES, dtype)
    points = start[..., None] + width[..., None] * nodes
    log_f = _log_pairing_integrand(points, beta[..., None], low[..., None], delta[..., None])
    local = width * jnp.sum(weights * jnp.exp(log_f), axis=-1)
    log_taper = beta * jnp.log(low) + safe_log(_table_entries(table, cell) + local)
    log_tail = log_power_integral(beta, jnp.log(edge), jnp.log(jnp.maximum(m1, edge)))
    return logsumexp_arrays([log_taper, log_tail])


# -- the shared distribution -------------------------------------------------------------------


class _TaperedMixturePairing(Distribution):
    """Shared machinery of the LVK models: ``p(m1) = g S / Z`` times the smoothed pairing.

    Subclasses set ``_param_names`` and ``_fallback`` (a valid value of every
    parameter, used in place of impossible ones under ``jit``) and implement
    ``_pieces``, ``_taper_breaks``, ``_relations`` and ``_valid``.
    """

    _param_names: tuple[str, ...] = ()
    _fallback: dict = {}
    reparametrized_params = []

    def _store(self, values, validate_args):
        batch_shape = parameter_batch_shape(
            type(self).__name__, **dict(zip(self._param_names, values, strict=True)))
        for name, value in zip(self._param_names, values, strict=True):
            setattr(self, name, value)
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        for names, holds, requirement in self._relations():
            values = [getattr(self, n) for n in names]
            if not all(is_concrete(v) for v in values):
                continue
            arrays = [np.asarray(v) for v in values]
            if not np.all(holds(*arrays)):
                shown = ", ".join(f"{n}={a.tolist()}" for n, a in zip(names, arrays, strict=True))
                raise ValueError(
                    f"{type(self).__name__}: parameter `{names[-1]}` is impossible: need "
                    f"{requirement}, got {shown}."
                )

    @constraints.dependent_property(event_dim=1)
    def support(self):
        high = jnp.maximum(self.mmax, self.peak_high)
        return MassPairSupport(self.mmin, high, self.mmin, high)

    @property
    def _dtype(self):
        return float_dtype(*(getattr(self, n) for n in self._param_names))

    def _params(self):
        """``(params, valid)``: parameters broadcast to ``batch_shape`` in the working dtype,
        impossible ones replaced by ``_fallback``, and where they were all possible."""
        dtype = self._dtype
        raw = {n: jnp.broadcast_to(jnp.asarray(getattr(self, n), dtype), self.batch_shape)
               for n in self._param_names}
        valid = self._valid(raw)
        safe = {n: jnp.where(valid, v, jnp.asarray(self._fallback[n], dtype))
                for n, v in raw.items()}
        return safe, valid

    # -- pieces of the density (public for tests and comparisons) ----------------------------

    def log_primary_normalizer(self):
        """``log Z = log int g(m) S(m) dm``, shape ``batch_shape``."""
        p, _ = self._params()
        return _log_primary_normalizer(self._pieces(p), p["mmin"], p["delta_m"],
                                       self._taper_breaks(p), self._dtype)

    def primary_log_prob(self, m1):
        """``log p(m1)``, the marginal of the primary mass; ``m1`` of shape ``sample + batch``
        (``-inf`` outside the support or for impossible parameters)."""
        p, valid = self._params()
        m1 = jnp.asarray(m1, self._dtype)
        inside = (m1 >= p["mmin"]) & (m1 <= jnp.maximum(p["mmax"], p["peak_high"])) & valid
        safe_m1 = jnp.where(inside, m1, p["mmax"])
        pieces = self._pieces(p)
        log_z = _log_primary_normalizer(pieces, p["mmin"], p["delta_m"], self._taper_breaks(p),
                                        self._dtype)
        log_p = _log_mixture(pieces, safe_m1) + _log_taper(safe_m1, p["mmin"], p["delta_m"]) - log_z
        ok = inside & jnp.isfinite(log_p)
        return jnp.where(ok, jnp.where(ok, log_p, 0.0), -jnp.inf)

    def log_pairing_normalizer(self, m1):
        """``log F(m1) = log int_mmin^m1 m^beta S(m) dm`` (``m1 >= mmin``), shape of ``m1``."""
        p, _ = self._params()
        m1 = jnp.maximum(jnp.asarray(m1, self._dtype), p["mmin"])
        table = _pairing_table(p["beta"], p["mmin"], p["delta_m"], self._dtype)
        return _log_pairing_normalizer(table, p["beta"], p["mmin"], p["delta_m"], m1)

    # -- the interface ------------------------------------------------------------------------

    def log_prob_from_logs(self, value, log_value):
        """:meth:`log_prob` (the interface of the power-law component; ``log_value`` unused)."""
        del log_value
        return self.log_prob(value)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        p, valid = self._params()
        dtype = self._dtype
        mmin, delta, beta = p["mmin"], p["delta_m"], p["beta"]
        high = jnp.maximum(p["mmax"], p["peak_high"])
        m1, m2 = value[..., 0], value[..., 1]
        inside = (m2 >= mmin) & (m2 <= m1) & (m1 <= high) & valid
        middle = (mmin + high) / 2
        safe_m1 = jnp.where(inside, m1, middle).astype(dtype)
        safe_m2 = jnp.where(inside, m2, middle).astype(dtype)
        pieces = self._pieces(p)
        log_z = _log_primary_normalizer(pieces, mmin, delta, self._taper_breaks(p), dtype)
        table = _pairing_table(beta, mmin, delta, dtype)
        log_f = _log_pairing_normalizer(table, beta, mmin, delta, safe_m1)
        log_p = (_log_mixture(pieces, safe_m1) + _log_taper(safe_m1, mmin, delta) - log_z
                 + beta * jnp.log(safe_m2) + _log_taper(safe_m2, mmin, delta) - log_f)
        ok = inside & jnp.isfinite(log_p)
        return jnp.where(ok, jnp.where(ok, log_p, 0.0), -jnp.inf)

    def sample(self, key, sample_shape=()):
        """Draws of ``(m1, m2)``, shape ``sample_shape + batch_shape + (2,)``; NaN where the
        parameters are impossible or ``m1`` was not accepted within 10,000 rounds."""
        p, valid = self._params()
        dtype = self._dtype
        shape = tuple(sample_shape) + self.batch_shape
        key_m1, key_m2 = jax.random.split(key)
        m1 = _sample_primary(key_m1, shape, self._pieces(p), p["mmin"], p["delta_m"], dtype)
        m2 = _sample_secondary(key_m2, m1, p["beta"], p["mmin"], p["delta_m"], dtype)
        draws = jnp.stack([m1, m2], axis=-1)
        return jnp.where(valid[..., None], draws, jnp.nan)


def _sample_primary(key, shape, pieces, mmin, delta, dtype):
    """``m1`` from ``g S / Z``: a component by its weight, a draw from it, kept with
    probability ``S(m1)``; loops until every position holds a kept draw (NaN after
    ``_MAX_REJECTION_ROUNDS`` rounds)."""
    log_masses = jnp.stack([_piece_log_mass_above(piece, piece.low) for piece in pieces],
                           axis=-1)
    tiny = jnp.finfo(dtype).tiny

    def propose(round_key):
        key_pick, key_value, key_keep = jax.random.split(round_key, 3)
        pick = jax.random.categorical(key_pick, log_masses, axis=-1, shape=shape)
        u = jax.random.uniform(key_value, shape, dtype, minval=tiny, maxval=1.0)
        candidates = jnp.stack([_piece_quantile(piece, u) for piece in pieces], axis=-1)
        value = jnp.take_along_axis(candidates, pick[..., None], axis=-1)[..., 0]
        keep = jax.random.uniform(key_keep, shape, dtype, minval=tiny, maxval=1.0)
        return value, jnp.log(keep) < _log_taper(value, mmin, delta)

    def keep_going(state):
        _, _, done, rounds = state
        return (~jnp.all(done)) & (rounds < _MAX_REJECTION_ROUNDS)

    def step(state):
        round_key, value, done, rounds = state
        round_key, sub = jax.random.split(round_key)
        candidate, accept = propose(sub)
        return round_key, jnp.where(done, value, candidate), done | accept, rounds + 1

    init = (key, jnp.full(shape, jnp.nan, dtype), jnp.zeros(shape, bool), 0)
    _, value, done, _ = jax.lax.while_loop(keep_going, step, init)
    return jnp.where(done, value, jnp.nan)


def _sample_secondary(key, m1, beta, mmin, delta, dtype):
    """``m2`` given ``m1`` by bisection of ``F(m2) = u F(m1)`` on ``[mmin, m1]``."""
    table = _pairing_table(beta, mmin, delta, dtype)
    u = jax.random.uniform(key, jnp.shape(m1), dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
    top = jnp.where(jnp.isnan(m1), mmin, m1)
    log_target = jnp.log(u) + _log_pairing_normalizer(table, beta, mmin, delta, top)

    def halve(_, bounds):
        low, high = bounds
        middle = (low + high) / 2
        below = _log_pairing_normalizer(table, beta, mmin, delta, middle) < log_target
        return jnp.where(below, middle, low), jnp.where(below, high, middle)

    iterations = jnp.finfo(dtype).nmant + 8
    low, high = jax.lax.fori_loop(0, iterations, halve, (jnp.broadcast_to(mmin, top.shape), top))
    return jnp.where(jnp.isnan(m1), jnp.nan, jnp.clip((low + high) / 2, mmin, top))


# -- the two models --------------------------------------------------------------------------


class PowerLawPeak(_TaperedMixturePairing):
    """The "Power Law + Peak" model: a smoothed power law plus a Gaussian peak in ``m1``.

    Args:
        alpha: spectral index of the power law in ``m1`` (density ``m1^-alpha``).
        beta: spectral index of the pairing (density ``m2^beta`` given ``m1``).
        mmin, mmax: bounds of the power law (``0 < mmin < mmax``); ``mmin`` also
            bounds the peak and ``m2`` from below.
        lam: fraction of the peak before smoothing, in ``[0, 1]``.
        mpp, sigpp: mean and standard deviation (``> 0``) of the peak.
        delta_m: width of the low-mass taper (``>= 0``; ``0`` is a sharp edge).
        peak_high: upper truncation of the peak (default 100, as in gwpopulation
            and the LVK GWTC-2/GWTC-3 analyses; see the module docstring).

    ``event_shape`` is ``(2,)`` (``m1, m2`` in source-frame solar masses);
    ``log_prob`` is ``-inf`` outside ``mmin <= m2 <= m1 <= max(mmax, peak_high)``
    and, under ``jit``, for impossible parameters (concrete ones raise
    ``ValueError`` at construction).
    """

    arg_constraints = {
        "alpha": constraints.real,
        "beta": constraints.real,
        "mmin": constraints.positive,
        "mmax": constraints.positive,
        "lam": constraints.unit_interval,
        "mpp": constraints.real,
        "sigpp": constraints.positive,
        "delta_m": constraints.nonnegative,
        "peak_high": constraints.positive,
    }
    _param_names = ("alpha", "beta", "mmin", "mmax", "lam", "mpp", "sigpp", "delta_m",
                    "peak_high")
    _fallback = {"alpha": 2.0, "beta": 1.0, "mmin": 5.0, "mmax": 80.0, "lam": 0.1,
                 "mpp": 35.0, "sigpp": 4.0, "delta_m": 4.0, "peak_high": 100.0}

    def __init__(self, alpha, beta, mmin, mmax, lam, mpp, sigpp, delta_m, *,
                 peak_high=_PEAK_HIGH, validate_args=None):
        self._store((alpha, beta, mmin, mmax, lam, mpp, sigpp, delta_m, peak_high),
                    validate_args)

    def _relations(self):
        return [(("mmin", "mmax"), np.less, "mmin < mmax"),
                (("mmin", "peak_high"), np.less, "mmin < peak_high")]

    def _valid(self, p):
        finite = jnp.isfinite(p["alpha"]) & jnp.isfinite(p["beta"]) & jnp.isfinite(p["mpp"])
        return (finite & (p["mmin"] > 0) & (p["mmax"] > p["mmin"]) & (p["lam"] >= 0)
                & (p["lam"] <= 1) & (p["sigpp"] > 0) & (p["delta_m"] >= 0)
                & (p["peak_high"] > p["mmin"]) & jnp.isfinite(p["mmax"]))

    def _pieces(self, p):
        alpha, mmin, mmax, lam = p["alpha"], p["mmin"], p["mmax"], p["lam"]
        log_norm = log_power_integral(-alpha, jnp.log(mmin), jnp.log(mmax))
        return [
            _PowerLawPiece(safe_log(1 - lam) - log_norm, -alpha, mmin, mmax),
            _normal_piece(safe_log(lam), p["mpp"], p["sigpp"], mmin, p["peak_high"]),
        ]

    def _taper_breaks(self, p):
        peaks = [p["mpp"] + k * p["sigpp"] for k in _PEAK_BREAK_SIGMAS]
        return [p["mmax"], p["peak_high"], *peaks]


class BrokenPowerLawTwoPeaks(_TaperedMixturePairing):
    """The GWTC-4.0 "Broken Power Law + 2 Peaks" model: a smoothed broken power law plus two peaks.

    Args:
        alpha_1, alpha_2: spectral indices of ``m1`` below and above ``m_break``.
        beta: spectral index of the pairing (density ``m2^beta`` given ``m1``).
        mmin, mmax: bounds of the broken power law (``0 < mmin < mmax``).
        m_break: break mass, ``mmin <= m_break <= mmax``; gwpopulation's
            ``break_fraction`` ``b`` is ``m_break = mmin + b (mmax - mmin)``
            (:meth:`break_mass`).
        lam_0, lam_1: fractions of the broken power law and of the first peak,
            both before smoothing; the second peak has the rest, so
            ``lam_0 + lam_1 <= 1`` (a sum above 1 by less than 1e-6, from
            rounding, leaves the second peak empty). gwpopulation's two-peak
            models write ``lam`` for the peaks' total and ``lam_1`` for the first
            peak's share of it: ``lam_0 = 1 - lam``, ``lam_1 = lam lam_1``.
        mpp_1, sigpp_1, mpp_2, sigpp_2: means and standard deviations of the peaks.
        delta_m: width of the low-mass taper (``>= 0``).
        peak_high: upper truncation of both peaks (default 100, as in gwpopulation).

    ``event_shape`` is ``(2,)``; ``log_prob`` is ``-inf`` outside
    ``mmin <= m2 <= m1 <= max(mmax, peak_high)``. Both masses share ``mmin``
    and ``delta_m`` (a separate secondary minimum is not modelled).
    """

    arg_constraints = {
        "alpha_1": constraints.real,
        "alpha_2": constraints.real,
        "beta": constraints.real,
        "mmin": constraints.positive,
        "mmax": constraints.positive,
        "m_break": constraints.positive,
        "lam_0": constraints.unit_interval,
        "lam_1": constraints.unit_interval,
        "mpp_1": constraints.real,
        "sigpp_1": constraints.positive,
        "mpp_2": constraints.real,
        "sigpp_2": constraints.positive,
        "delta_m": constraints.nonnegative,
        "peak_high": constraints.positive,
    }
    _param_names = ("alpha_1", "alpha_2", "beta", "mmin", "mmax", "m_break", "lam_0", "lam_1",
                    "mpp_1", "sigpp_1", "mpp_2", "sigpp_2", "delta_m", "peak_high")
    _fallback = {"alpha_1": 2.0, "alpha_2": 4.0, "beta": 1.0, "mmin": 5.0, "mmax": 80.0,
                 "m_break": 35.0, "lam_0": 0.8, "lam_1": 0.1, "mpp_1": 10.0, "sigpp_1": 1.0,
                 "mpp_2": 35.0, "sigpp_2": 4.0, "delta_m": 4.0, "peak_high": 100.0}

    def __init__(self, alpha_1, alpha_2, beta, mmin, mmax, m_break, lam_0, lam_1, mpp_1,
                 sigpp_1, mpp_2, sigpp_2, delta_m, *, peak_high=_PEAK_HIGH,
                 validate_args=None):
        self._store((alpha_1, alpha_2, beta, mmin, mmax, m_break, lam_0, lam_1, mpp_1,
                     sigpp_1, mpp_2, sigpp_2, delta_m, peak_high), validate_args)

    @staticmethod
    def break_mass(mmin, mmax, break_fraction):
        """``m_break = mmin + break_fraction (mmax - mmin)`` (gwpopulation's parametrisation)."""
        return mmin + break_fraction * (mmax - mmin)

    def _relations(self):
        return [(("mmin", "mmax"), np.less, "mmin < mmax"),
                (("mmin", "peak_high"), np.less, "mmin < peak_high"),
                (("mmin", "m_break"), np.less_equal, "mmin <= m_break"),
                (("mmax", "m_break"), np.greater_equal, "m_break <= mmax"),
                (("lam_0", "lam_1"), lambda a, b: a + b <= 1 + _FRACTION_SLACK,
                 "lam_0 + lam_1 <= 1")]

    def _valid(self, p):
        finite = (jnp.isfinite(p["alpha_1"]) & jnp.isfinite(p["alpha_2"])
                  & jnp.isfinite(p["beta"]) & jnp.isfinite(p["mpp_1"])
                  & jnp.isfinite(p["mpp_2"]) & jnp.isfinite(p["mmax"]))
        lam_0, lam_1 = p["lam_0"], p["lam_1"]
        return (finite & (p["mmin"] > 0) & (p["mmax"] > p["mmin"])
                & (p["m_break"] >= p["mmin"]) & (p["m_break"] <= p["mmax"])
                & (lam_0 >= 0) & (lam_1 >= 0) & (lam_0 + lam_1 <= 1 + _FRACTION_SLACK)
                & (p["sigpp_1"] > 0) & (p["sigpp_2"] > 0) & (p["delta_m"] >= 0)
                & (p["peak_high"] > p["mmin"]))

    def _pieces(self, p):
        alpha_1, alpha_2, mmin, mmax = p["alpha_1"], p["alpha_2"], p["mmin"], p["mmax"]
        m_break, lam_0, lam_1 = p["m_break"], p["lam_0"], p["lam_1"]
        log_break = jnp.log(m_break)
        # Both segments are (m / m_break)^-alpha_i: continuous at the break.
        below = alpha_1 * log_break + log_power_integral(-alpha_1, jnp.log(mmin), log_break)
        above = alpha_2 * log_break + log_power_integral(-alpha_2, log_break, jnp.log(mmax))
        log_weight = safe_log(lam_0) - logsumexp_arrays([below, above])
        peak_high = p["peak_high"]
        peaks = [
            _normal_piece(weight, p[f"mpp_{i}"], p[f"sigpp_{i}"], mmin, peak_high)
            for i, weight in ((1, safe_log(lam_1)),
                              (2, safe_log(jnp.maximum(1 - lam_0 - lam_1, 0.0))))
        ]
        return [
            _PowerLawPiece(log_weight + alpha_1 * log_break, -alpha_1, mmin, m_break,
                           closed=False),
            _PowerLawPiece(log_weight + alpha_2 * log_break, -alpha_2, m_break, mmax),
            *peaks,
        ]

    def _taper_breaks(self, p):
        peaks = [p[f"mpp_{i}"] + k * p[f"sigpp_{i}"] for i in (1, 2) for k in _PEAK_BREAK_SIGMAS]
        return [p["m_break"], p["mmax"], p["peak_high"], *peaks]
