"""Mock measurement errors: posterior samples for a simulated detection.

The masses follow the chirp-mass / symmetric-mass-ratio ("banana") model of
Mandel, Farr, Colonna, Stevenson, Tino & Veitch (2017, MNRAS 465, 3254, Sec. 3),
with the post-Newtonian cap on the chirp-mass error used by GWKokab. For an event
with true chirp mass ``Mc``, symmetric mass ratio ``eta`` and signal-to-noise
ratio ``rho``:

    s      = rho / 12
    v      = min((pi Mc f_ref T_sun)^(1/3), 0.2),            f_ref = 20 Hz
    sigma_lnMc = chirp_mass_scale * min(0.07, 0.45 (v / 0.2)^7) / s
    sigma_Mc   = Mc  * sigma_lnMc
    sigma_eta  = eta * eta_scale * 0.03 / s

The likelihood is Gaussian around an observed point ``Mc_obs = Mc + sigma_Mc n_1``,
``eta_obs = eta + sigma_eta n_2`` (``n_i`` standard normal), so the truth is a fair
draw from it. With a flat prior on ``Mc > 0`` and ``0 < eta < 1/4``, the posterior is
a product of truncated normals, from which the samples are drawn exactly (nothing
is discarded). Other parameters ``x_j`` get the same treatment with a fixed scale
(optionally ``* 12 / rho``) and a flat prior on their physical interval
``[low_j, high_j]``.

The samples are returned in the sampled coordinates ``(m1, m2, x_j...)`` with
``m1 >= m2``. Their reference prior there is the flat prior times the Jacobian of
``(Mc, eta) -> (m1, m2)``:

    |d(Mc, eta) / d(m1, m2)| = Mc (m1 - m2) / (m1 + m2)^3

so ``ln pi = ln Mc + ln(m1 - m2) - 3 ln(m1 + m2) - sum_j ln(high_j - low_j)`` (finite
intervals only; the flat priors on ``Mc`` and on an unbounded interval are improper and
contribute a constant 0). Inference divides this prior out.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from jax.scipy import special

from hierax.pop.parameters import (
    COS_TILTS,
    ECCENTRICITY,
    PRIMARY_MASS,
    REDSHIFT,
    SECONDARY_MASS,
    SPIN_MAGNITUDES,
)

__all__ = [
    "MockErrorModel",
    "chirp_mass",
    "symmetric_mass_ratio",
    "component_masses",
    "log_jacobian_chirp_mass_eta",
    "sample_truncated_normal",
]

SOLAR_MASS_SECONDS = 4.925490947641267e-06
"""``G M_sun / c^3`` in seconds."""
REFERENCE_FREQUENCY_HZ = 20.0
REFERENCE_SNR = 12.0

DEFAULT_ERROR_SCALES = {
    SPIN_MAGNITUDES[0]: 0.1,
    SPIN_MAGNITUDES[1]: 0.1,
    COS_TILTS[0]: 0.1,
    COS_TILTS[1]: 0.1,
    ECCENTRICITY: 0.05,
    REDSHIFT: 0.1,
}
"""Standard deviation of the error of each non-mass parameter (at SNR 12 if scaled)."""

DEFAULT_BOUNDS = {
    SPIN_MAGNITUDES[0]: (0.0, 1.0),
    SPIN_MAGNITUDES[1]: (0.0, 1.0),
    COS_TILTS[0]: (-1.0, 1.0),
    COS_TILTS[1]: (-1.0, 1.0),
    ECCENTRICITY: (0.0, 1.0),
    REDSHIFT: (0.0, math.inf),
}
"""Physical interval (the flat prior's support) of each non-mass parameter."""


def chirp_mass(m1, m2):
    """``Mc = (m1 m2)^(3/5) / (m1 + m2)^(1/5)``."""
    return (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2


def symmetric_mass_ratio(m1, m2):
    """``eta = m1 m2 / (m1 + m2)^2``."""
    return m1 * m2 / (m1 + m2) ** 2


def component_masses(mc, eta):
    """Inverse of ``(m1, m2) -> (Mc, eta)`` with ``m1 >= m2``.

    Uses ``M = Mc eta^(-3/5)``, ``d = sqrt(1 - 4 eta)``, ``m1 = M (1 + d) / 2`` and the
    cancellation-free ``m2 = 2 M eta / (1 + d)``. Returns ``(m1, m2, d)``.
    """
    total = mc * eta ** (-0.6)
    root = jnp.sqrt(jnp.clip(1 - 4 * eta, 0.0, None))
    return total * (1 + root) / 2, 2 * total * eta / (1 + root), root


def log_jacobian_chirp_mass_eta(m1, m2):
    """``ln |d(Mc, eta) / d(m1, m2)| = ln Mc + ln(m1 - m2) - 3 ln(m1 + m2)``."""
    return jnp.log(chirp_mass(m1, m2)) + jnp.log(m1 - m2) - 3 * jnp.log(m1 + m2)


def sample_truncated_normal(key, loc, scale, low, high, shape=()):
    """Exact draws from ``Normal(loc, scale)`` restricted to ``[low, high]``.

    Inverse-CDF sampling in the lower tail (an interval above the mean is reflected
    first), with the CDF handled in log space so that intervals far in a tail keep
    their precision. ``loc, scale, low, high`` broadcast against ``shape``; the dtype
    is that of ``loc``.
    """
    loc = jnp.asarray(loc)
    dtype = loc.dtype if jnp.issubdtype(loc.dtype, jnp.floating) else jnp.result_type(float)
    shape = jnp.broadcast_shapes(tuple(shape), jnp.shape(loc), jnp.shape(scale))
    lower = (jnp.asarray(low, dtype) - loc) / scale
    upper = (jnp.asarray(high, dtype) - loc) / scale
    flip = lower > 0
    a = jnp.where(flip, -upper, lower)
    b = jnp.where(flip, -lower, upper)
    log_cdf_b = special.log_ndtr(b)
    ratio = jnp.exp(special.log_ndtr(a) - log_cdf_b)
    uniform = jax.random.uniform(key, shape, dtype)
    log_u = log_cdf_b + jnp.log(ratio + uniform * (1 - ratio))
    standard = jnp.clip(special.ndtri(jnp.exp(log_u)), a, b)
    standard = jnp.where(flip, -standard, standard)
    return jnp.clip(loc + scale * standard, low, high).astype(dtype)


@dataclasses.dataclass(frozen=True)
class MockErrorModel:
    """Settings of the mock posterior: banana errors in the masses, truncated normals else.

    Args:
        chirp_mass_scale: multiplier of the chirp-mass error (GWKokab's ``scale_Mc``).
        eta_scale: multiplier of the symmetric-mass-ratio error (``scale_eta``).
        scales: standard deviation of the error of each non-mass parameter, by column
            name; defaults in ``DEFAULT_ERROR_SCALES``.
        bounds: ``(low, high)`` flat-prior interval of each non-mass parameter;
            defaults in ``DEFAULT_BOUNDS`` (``high`` may be ``inf``).
        scale_with_snr: multiply the non-mass scales by ``12 / rho``.
        snr_threshold: ``rho_th`` of the SNR draw ``rho = rho_th u^(-1/3)``, ``u ~ U(0, 1)``,
            the distribution of sources uniform in Euclidean volume above threshold
            (Schutz 2011, CQG 28, 125023); used when the detector reports no SNR.
        max_redraws: rounds of redrawing the samples that land, by floating-point
            rounding, on a boundary of the open support (``m1 = m2``, ``eta = 0``, or a
            parameter's ``low``/``high``); such draws have probability zero in exact
            arithmetic and are replaced by fresh draws from the same distribution.
    """

    chirp_mass_scale: float = 1.0
    eta_scale: float = 1.0
    scales: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_ERROR_SCALES)
    )
    bounds: Mapping[str, tuple[float, float]] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_BOUNDS)
    )
    scale_with_snr: bool = False
    snr_threshold: float = 9.0
    max_redraws: int = 64

    def __post_init__(self):
        for name in ("chirp_mass_scale", "eta_scale", "snr_threshold"):
            value = getattr(self, name)
            if not (_is_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"MockErrorModel: {name} must be a finite number > 0, got {value!r}."
                )
        if not (isinstance(self.max_redraws, int) and self.max_redraws >= 0):
            raise ValueError(
                f"MockErrorModel: max_redraws must be an int >= 0, got {self.max_redraws!r}."
            )
        for name, scale in self.scales.items():
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(f"MockErrorModel: scale of {name!r} must be > 0, got {scale!r}.")
        for name, (low, high) in self.bounds.items():
            if not low < high or math.isnan(low) or math.isnan(high):
                raise ValueError(
                    f"MockErrorModel: bounds of {name!r} must satisfy low < high, "
                    f"got ({low!r}, {high!r})."
                )

    def column_settings(self, parameter_names: Sequence[str]):
        """Per-column ``(scales, lows, highs)`` of the non-mass columns, as float tuples.

        Raises ``ValueError`` if the masses are not the first two columns or a column
        has no scale or bounds.
        """
        names = tuple(parameter_names)
        if names[:2] != (PRIMARY_MASS, SECONDARY_MASS):
            raise ValueError(
                f"MockErrorModel: the first two columns must be {PRIMARY_MASS!r} and "
                f"{SECONDARY_MASS!r}, got {names[:2]!r}."
            )
        missing = [n for n in names[2:] if n not in self.scales or n not in self.bounds]
        if missing:
            raise ValueError(
                f"MockErrorModel: no error scale or bounds for column(s) {missing}; "
                f"pass them in `scales` and `bounds`."
            )
        scales = tuple(float(self.scales[n]) for n in names[2:])
        lows = tuple(float(self.bounds[n][0]) for n in names[2:])
        highs = tuple(float(self.bounds[n][1]) for n in names[2:])
        return scales, lows, highs

    def log_prior_offset(self, parameter_names: Sequence[str]) -> float:
        """``-sum_j ln(high_j - low_j)`` over the finite non-mass intervals."""
        _, lows, highs = self.column_settings(parameter_names)
        widths = [h - lo for lo, h in zip(lows, highs, strict=True) if math.isfinite(h - lo)]
        return -float(sum(math.log(w) for w in widths))

    def draw_snr(self, key, num: int, dtype=None):
        """``(num,)`` SNRs ``rho_th u^(-1/3)`` with ``u ~ U(0, 1]``."""
        dtype = dtype or jnp.result_type(float)
        u = jax.random.uniform(key, (num,), dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
        return self.snr_threshold * u ** (-1.0 / 3.0)

    def posterior_samples(self, key, truths, snr, parameter_names, num_samples: int):
        """Mock posterior samples of a batch of events.

        Args:
            key: a PRNG key.
            truths: ``(n, d)`` true parameters, columns ``parameter_names``.
            snr: ``(n,)`` signal-to-noise ratios.
            parameter_names: the ``d`` column names (masses first).
            num_samples: samples per event ``M``.

        Returns:
            ``(samples (n, M, d), log_prior (n, M), centers (n, d), widths (n, d),
            unresolved (n,))``: ``centers``/``widths`` are the likelihood's centre and
            standard deviations in the error coordinates ``(Mc, eta, x_j...)``;
            ``unresolved`` counts samples still invalid after ``max_redraws`` rounds
            (zero in practice; callers must check).
        """
        scales, lows, highs = self.column_settings(parameter_names)
        samples, log_jacobian, centers, widths, unresolved = _batched_posterior(
            key,
            jnp.asarray(truths),
            jnp.asarray(snr),
            scales=scales,
            lows=lows,
            highs=highs,
            chirp_mass_scale=float(self.chirp_mass_scale),
            eta_scale=float(self.eta_scale),
            scale_with_snr=bool(self.scale_with_snr),
            num_samples=int(num_samples),
            max_redraws=int(self.max_redraws),
        )
        log_prior = log_jacobian + self.log_prior_offset(parameter_names)
        return samples, log_prior, centers, widths, unresolved


def _mass_error_widths(mc, eta, snr, chirp_mass_scale, eta_scale):
    """``(sigma_Mc, sigma_eta)`` of the banana model (module docstring)."""
    snr_factor = snr / REFERENCE_SNR
    v = jnp.minimum((jnp.pi * mc * REFERENCE_FREQUENCY_HZ * SOLAR_MASS_SECONDS) ** (1 / 3), 0.2)
    relative_mc = jnp.minimum(0.07, 0.45 * (v / 0.2) ** 7) / snr_factor
    return mc * chirp_mass_scale * relative_mc, eta * eta_scale * 0.03 / snr_factor


def _likelihoods(key, truths, snr, scales, chirp_mass_scale, eta_scale, scale_with_snr):
    """Centres and widths ``(n, d)`` of the mock likelihoods in ``(Mc, eta, x_j...)``."""
    dtype = truths.dtype
    m1, m2 = truths[:, 0], truths[:, 1]
    mc, eta = chirp_mass(m1, m2), symmetric_mass_ratio(m1, m2)
    sigma_mc, sigma_eta = _mass_error_widths(mc, eta, snr, chirp_mass_scale, eta_scale)
    other = jnp.broadcast_to(jnp.asarray(scales, dtype), (truths.shape[0], len(scales)))
    if scale_with_snr:
        other = other * (REFERENCE_SNR / snr)[:, None]
    widths = jnp.concatenate([jnp.stack([sigma_mc, sigma_eta], 1), other], 1).astype(dtype)
    truth_error_coords = jnp.concatenate([jnp.stack([mc, eta], 1), truths[:, 2:]], 1)
    return truth_error_coords + widths * jax.random.normal(key, widths.shape, dtype), widths


@functools.partial(
    jax.jit,
    static_argnames=(
        "scales",
        "lows",
        "highs",
        "chirp_mass_scale",
        "eta_scale",
        "scale_with_snr",
        "num_samples",
        "max_redraws",
    ),
)
def _batched_posterior(
    key,
    truths,
    snr,
    *,
    scales,
    lows,
    highs,
    chirp_mass_scale,
    eta_scale,
    scale_with_snr,
    num_samples,
    max_redraws,
):
    """Samples ``(n, M, d)``, ``ln |Jacobian|`` ``(n, M)``, centres, widths, unresolved."""
    dtype = truths.dtype
    key_center, key_draw = jax.random.split(key)
    centers, widths = _likelihoods(
        key_center, truths, snr, scales, chirp_mass_scale, eta_scale, scale_with_snr
    )
    low = jnp.asarray((0.0, 0.0) + lows, dtype)
    high = jnp.asarray((math.inf, 0.25) + highs, dtype)
    shape = (truths.shape[0], num_samples, truths.shape[1])

    def draw(k):
        z = sample_truncated_normal(k, centers[:, None], widths[:, None], low, high, shape)
        m1, m2, root = component_masses(z[..., 0], z[..., 1])
        theta = jnp.concatenate([jnp.stack([m1, m2], -1), z[..., 2:]], -1)
        total = m1 + m2
        log_jacobian = jnp.log(z[..., 0]) + jnp.log(total * root) - 3 * jnp.log(total)
        inside = jnp.all((z[..., 2:] > low[2:]) & (z[..., 2:] < high[2:]), -1)
        finite = jnp.all(jnp.isfinite(theta), -1) & jnp.isfinite(log_jacobian)
        return theta, log_jacobian, finite & inside & (m2 > 0) & (m1 > m2)

    def redraw(state):
        round_, theta, log_jacobian, valid = state
        new_theta, new_log_jacobian, new_valid = draw(jax.random.fold_in(key_draw, round_))
        theta = jnp.where(valid[..., None], theta, new_theta)
        log_jacobian = jnp.where(valid, log_jacobian, new_log_jacobian)
        return round_ + 1, theta, log_jacobian, valid | new_valid

    def unfinished(state):
        return (state[0] <= max_redraws) & ~jnp.all(state[3])

    initial = (
        jnp.asarray(0),
        jnp.zeros(shape, dtype),
        jnp.zeros(shape[:2], dtype),
        jnp.zeros(shape[:2], bool),
    )
    _, theta, log_jacobian, valid = jax.lax.while_loop(unfinished, redraw, initial)
    return theta, log_jacobian, centers, widths, jnp.sum(~valid, axis=1)


def _is_real(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)
