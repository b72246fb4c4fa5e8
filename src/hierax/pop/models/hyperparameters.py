"""Hyperparameter names of the ``n_pls_m_gs`` family and the distributions they build.

Names follow GWKokab (``src/kokab/n_pls_m_gs``), ``<name>_<family>_<index>`` with
family ``pl``, ``g``, ``plp`` or ``bp2p`` and the index counted within the family;
only ``log_rate_<k>`` counts over all components (in the order of :data:`MASS_FAMILIES`):

- power law: ``alpha_pl_i, beta_pl_i, mmin_pl_i, mmax_pl_i`` (+ ``delta_pl_i`` with smoothing);
- Gaussian: ``m1_loc_g_j, m2_loc_g_j, m1_scale_g_j, m2_scale_g_j, m1_low_g_j,
  m1_high_g_j, m2_low_g_j, m2_high_g_j``;
- PowerLaw+Peak (:class:`~hierax.pop.models.PowerLawPeak`): ``alpha, beta, mmin, mmax,
  lam, mpp, sigpp, delta`` with suffix ``_plp_i``;
- BrokenPowerLaw+2 peaks (:class:`~hierax.pop.models.BrokenPowerLawTwoPeaks`):
  ``alpha_1, alpha_2, beta, mmin, mmax, m_break, lam_0, lam_1, mpp_1, sigpp_1, mpp_2,
  sigpp_2, delta`` with suffix ``_bp2p_i``;
- spin magnitudes: ``a_1_mean_<f>_i, a_1_variance_<f>_i, a_2_mean_<f>_i, a_2_variance_<f>_i``;
- tilts, peak at ``cos_tilt = 1`` (``"aligned"``): ``cos_tilt_zeta_<f>_i,
  cos_tilt_1_scale_<f>_i, cos_tilt_2_scale_<f>_i``; with a free peak (``"free_mean"``)
  also ``cos_tilt_loc_<f>_i``;
- effective spins: ``chi_eff_loc_<f>_i, chi_eff_scale_<f>_i`` (``"gaussian"``), with
  ``chi_eff_skewness_<f>_i`` (``"skew_normal"``), or with ``chi_p_loc, chi_p_scale,
  chi_eff_chi_p_correlation`` (``"gaussian_chi_p"``);
- eccentricity, truncated normal: ``eccentricity_loc/scale/low/high_<f>_i``;
  power law (density ``e^alpha``): ``eccentricity_alpha/low/high_<f>_i``;
- redshift, power law: ``redshift_kappa_<f>_i, redshift_z_max_<f>_i``; Madau-Dickinson:
  ``redshift_gamma/kappa/z_peak/z_max_<f>_i``.
"""

from __future__ import annotations

from hierax.distributions.power_law import DoublyTruncatedPowerLaw
from hierax.distributions.truncated import TruncatedNormal
from hierax.pop.models.mass import PowerLawPrimaryMassRatio
from hierax.pop.models.mass_gaussian import OrderedTruncatedNormalMasses
from hierax.pop.models.mass_lvk import BrokenPowerLawTwoPeaks, PowerLawPeak
from hierax.pop.models.redshift import MadauDickinsonRedshift, PowerLawRedshift
from hierax.pop.models.spin import BetaFromMeanVariance, IsotropicGaussianTilts
from hierax.pop.models.spin_lvk import (
    ChiEffGaussian,
    ChiEffSkewNormal,
    EffectiveSpinGaussian,
    GaussianTilts,
)

__all__ = [
    "ECCENTRICITY_OPTIONS",
    "EFFECTIVE_SPIN_OPTIONS",
    "MASS_FAMILIES",
    "REDSHIFT_OPTIONS",
    "TILT_OPTIONS",
    "component_hyperparameter_names",
]

MASS_FAMILIES = ("pl", "g", "plp", "bp2p")
"""Mass component families, in the order components are counted: power law in (m1, q),
ordered Gaussians, PowerLaw+Peak, BrokenPowerLaw+2 peaks."""
ECCENTRICITY_OPTIONS = ("truncated_normal", "power_law")
REDSHIFT_OPTIONS = ("power_law", "madau_dickinson")
TILT_OPTIONS = ("aligned", "free_mean")
EFFECTIVE_SPIN_OPTIONS = ("gaussian", "skew_normal", "gaussian_chi_p")

_MASS_NAMES = {
    "pl": ("alpha", "beta", "mmin", "mmax"),
    "g": ("m1_loc", "m2_loc", "m1_scale", "m2_scale", "m1_low", "m1_high", "m2_low", "m2_high"),
    "plp": ("alpha", "beta", "mmin", "mmax", "lam", "mpp", "sigpp", "delta"),
    "bp2p": ("alpha_1", "alpha_2", "beta", "mmin", "mmax", "m_break", "lam_0", "lam_1",
             "mpp_1", "sigpp_1", "mpp_2", "sigpp_2", "delta"),
}
_SPIN_NAMES = ("a_1_mean", "a_1_variance", "a_2_mean", "a_2_variance")
_TILT_NAMES = {
    "aligned": ("cos_tilt_zeta", "cos_tilt_1_scale", "cos_tilt_2_scale"),
    "free_mean": ("cos_tilt_zeta", "cos_tilt_loc", "cos_tilt_1_scale", "cos_tilt_2_scale"),
}
_EFFECTIVE_SPIN_NAMES = {
    "gaussian": ("chi_eff_loc", "chi_eff_scale"),
    "skew_normal": ("chi_eff_loc", "chi_eff_scale", "chi_eff_skewness"),
    "gaussian_chi_p": ("chi_eff_loc", "chi_eff_scale", "chi_p_loc", "chi_p_scale",
                       "chi_eff_chi_p_correlation"),
}
_ECCENTRICITY_NAMES = {
    "truncated_normal": (
        "eccentricity_loc",
        "eccentricity_scale",
        "eccentricity_low",
        "eccentricity_high",
    ),
    "power_law": ("eccentricity_alpha", "eccentricity_low", "eccentricity_high"),
}
_REDSHIFT_NAMES = {
    "power_law": ("redshift_kappa", "redshift_z_max"),
    "madau_dickinson": ("redshift_gamma", "redshift_kappa", "redshift_z_peak", "redshift_z_max"),
}


def _named(stems, family, index):
    return tuple(f"{stem}_{family}_{index}" for stem in stems)


def component_hyperparameter_names(
    family, index, k, *, spin, tilt, eccentricity, redshift, smoothing, effective_spin=None
):
    """Names read by one component, ``log_rate_<k>`` first, in a fixed order.

    ``tilt``, ``eccentricity``, ``redshift`` and ``effective_spin`` are ``None`` or one
    of their options (:data:`TILT_OPTIONS`, ...).
    """
    stems = list(_MASS_NAMES[family])
    if family == "pl" and smoothing:
        stems.append("delta")
    if spin:
        stems.extend(_SPIN_NAMES)
    if tilt is not None:
        stems.extend(_TILT_NAMES[tilt])
    if effective_spin is not None:
        stems.extend(_EFFECTIVE_SPIN_NAMES[effective_spin])
    if eccentricity is not None:
        stems.extend(_ECCENTRICITY_NAMES[eccentricity])
    if redshift is not None:
        stems.extend(_REDSHIFT_NAMES[redshift])
    return (f"log_rate_{k}",) + _named(stems, family, index)


def _values(hyper, stems, family, index):
    return [hyper[name] for name in _named(stems, family, index)]


def mass_distribution(family, index, hyper, *, smoothing, validate_args=None):
    """The mass distribution (event_shape ``(2,)``) of one component."""
    if family == "pl":
        alpha, beta, mmin, mmax = _values(hyper, _MASS_NAMES["pl"], family, index)
        delta = hyper[f"delta_pl_{index}"] if smoothing else None
        return PowerLawPrimaryMassRatio(alpha, beta, mmin, mmax, delta,
                                        validate_args=validate_args)
    if family == "plp":
        return PowerLawPeak(*_values(hyper, _MASS_NAMES["plp"], family, index),
                            validate_args=validate_args)
    if family == "bp2p":
        return BrokenPowerLawTwoPeaks(*_values(hyper, _MASS_NAMES["bp2p"], family, index),
                                      validate_args=validate_args)
    loc1, loc2, scale1, scale2, low1, high1, low2, high2 = _values(
        hyper, _MASS_NAMES["g"], family, index)
    return OrderedTruncatedNormalMasses(loc1, scale1, low1, high1, loc2, scale2, low2, high2,
                                        validate_args=validate_args)


def spin_distributions(family, index, hyper, validate_args=None):
    """``[p(a_1), p(a_2)]`` of one component."""
    mean1, var1, mean2, var2 = _values(hyper, _SPIN_NAMES, family, index)
    return [BetaFromMeanVariance(mean1, var1, validate_args=validate_args),
            BetaFromMeanVariance(mean2, var2, validate_args=validate_args)]


def tilt_distribution(family, index, hyper, option="aligned", validate_args=None):
    """``p(cos_tilt_1, cos_tilt_2)`` of one component (event_shape ``(2,)``)."""
    values = _values(hyper, _TILT_NAMES[option], family, index)
    if option == "aligned":
        return IsotropicGaussianTilts(*values, validate_args=validate_args)
    return GaussianTilts(*values, validate_args=validate_args)


def effective_spin_distribution(family, index, hyper, option, validate_args=None):
    """``p(chi_eff)`` or ``p(chi_eff, chi_p)`` (event_shape ``(2,)``) of one component."""
    values = _values(hyper, _EFFECTIVE_SPIN_NAMES[option], family, index)
    kind = {"gaussian": ChiEffGaussian, "skew_normal": ChiEffSkewNormal,
            "gaussian_chi_p": EffectiveSpinGaussian}[option]
    return kind(*values, validate_args=validate_args)


def eccentricity_distribution(family, index, hyper, option, validate_args=None):
    """``p(eccentricity)`` of one component."""
    values = _values(hyper, _ECCENTRICITY_NAMES[option], family, index)
    if option == "truncated_normal":
        loc, scale, low, high = values
        return TruncatedNormal(loc, scale, low, high, validate_args=validate_args)
    alpha, low, high = values
    return DoublyTruncatedPowerLaw(alpha, low, high, validate_args=validate_args)


def redshift_distribution(family, index, hyper, option, cosmology, validate_args=None):
    """The redshift model of one component."""
    values = _values(hyper, _REDSHIFT_NAMES[option], family, index)
    if option == "power_law":
        kappa, z_max = values
        return PowerLawRedshift(kappa, z_max, cosmology=cosmology, validate_args=validate_args)
    gamma, kappa, z_peak, z_max = values
    return MadauDickinsonRedshift(gamma, kappa, z_peak, z_max, cosmology=cosmology,
                                  validate_args=validate_args)
