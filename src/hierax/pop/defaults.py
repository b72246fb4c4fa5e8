"""Defaults of population inference, in one place: priors, sampler settings, selection,
Monte Carlo error thresholds and the true values of mock catalogs.

``hierax-pop`` (``config-template``, ``infer``, ``mock``) and the Python entry points
(:func:`hierax.pop.inference.run_nuts`, :func:`population_kernel`) read them from here.

Hyperparameter names follow :mod:`hierax.pop.models.hyperparameters`:
``<stem>_<family>_<index>`` with family ``pl``, ``g``, ``plp`` or ``bp2p``. The prior
ranges of the LVK model set are those of the GWTC-3 population analysis (LVK 2023,
PRX 13, 011048, appendix tables) where it fits them; ranges hierax adds are marked.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_PMEAN",
    "DEFAULT_TRUTHS",
    "MONTE_CARLO_THRESHOLDS",
    "NUTS_SETTINGS",
    "PRIOR_RULES",
    "SLICE_MCMC_SETTINGS",
    "default_prior",
    "default_truths",
    "population_kernel",
]

_F = r"_(?:pl|g|plp|bp2p)_[0-9]+"
"""Suffix of a per-component hyperparameter of any mass family."""


def _uniform(low: float, high: float) -> dict:
    return {"dist": "Uniform", "low": low, "high": high}


PRIOR_RULES: tuple[tuple[str, object], ...] = (
    (r"log_rate_[0-9]+", _uniform(-11.5, 11.5)),
    # power law in (m1, q): GWKokab's tutorial ranges
    (r"alpha_pl_[0-9]+", _uniform(-5.0, 5.0)),
    (r"beta_pl_[0-9]+", _uniform(-5.0, 5.0)),
    (r"mmin_pl_[0-9]+", _uniform(1.0, 20.0)),
    (r"mmax_pl_[0-9]+", _uniform(30.0, 100.0)),
    (r"delta_pl_[0-9]+", _uniform(0.1, 10.0)),
    # ordered Gaussians
    (r"m[12]_loc_g_[0-9]+", _uniform(5.0, 80.0)),
    (r"m[12]_scale_g_[0-9]+", _uniform(0.5, 20.0)),
    (r"m[12]_low_g_[0-9]+", 2.0),
    (r"m[12]_high_g_[0-9]+", 150.0),
    # PowerLaw+Peak (GWTC-3)
    (r"alpha_plp_[0-9]+", _uniform(-4.0, 12.0)),
    (r"beta_plp_[0-9]+", _uniform(-2.0, 7.0)),
    (r"mmin_plp_[0-9]+", _uniform(2.0, 10.0)),
    (r"mmax_plp_[0-9]+", _uniform(30.0, 100.0)),
    (r"lam_plp_[0-9]+", _uniform(0.0, 1.0)),
    (r"mpp_plp_[0-9]+", _uniform(20.0, 50.0)),
    (r"sigpp_plp_[0-9]+", _uniform(1.0, 10.0)),
    (r"delta_plp_[0-9]+", _uniform(0.0, 10.0)),
    # BrokenPowerLaw+2 peaks (ranges chosen by hierax around the GWTC-4.0 features)
    (r"alpha_[12]_bp2p_[0-9]+", _uniform(-4.0, 12.0)),
    (r"beta_bp2p_[0-9]+", _uniform(-2.0, 7.0)),
    (r"mmin_bp2p_[0-9]+", _uniform(2.0, 10.0)),
    (r"mmax_bp2p_[0-9]+", _uniform(60.0, 200.0)),
    (r"m_break_bp2p_[0-9]+", _uniform(20.0, 50.0)),
    (r"lam_[01]_bp2p_[0-9]+", _uniform(0.0, 1.0)),
    (r"mpp_1_bp2p_[0-9]+", _uniform(5.0, 20.0)),
    (r"sigpp_1_bp2p_[0-9]+", _uniform(0.5, 5.0)),
    (r"mpp_2_bp2p_[0-9]+", _uniform(25.0, 60.0)),
    (r"sigpp_2_bp2p_[0-9]+", _uniform(1.0, 10.0)),
    (r"delta_bp2p_[0-9]+", _uniform(0.0, 10.0)),
    # spin magnitudes (Beta from mean and variance) and GWKokab's other spellings
    (r"(chi[12]_mean|mean_chi[12]|a_[12]_mean)" + _F, _uniform(0.0, 1.0)),
    (r"(chi[12]_variance|variance_chi[12]|a_[12]_variance)" + _F, _uniform(0.001, 0.25)),
    (r"(chi[12]|a_[12])_loc" + _F, _uniform(0.0, 1.0)),
    (r"(chi[12]|a_[12])_scale" + _F, _uniform(0.01, 1.0)),
    (r"(chi[12]|a_[12])_low" + _F, 0.0),
    (r"(chi[12]|a_[12])_high" + _F, 1.0),
    # tilts
    (r"cos_tilt_zeta" + _F, _uniform(0.0, 1.0)),
    (r"cos_tilt_loc" + _F, _uniform(-1.0, 1.0)),
    (r"cos_tilt_?[12]_scale" + _F, _uniform(0.1, 4.0)),
    # effective spins
    (r"chi_eff_loc" + _F, _uniform(-1.0, 1.0)),
    (r"chi_eff_scale" + _F, _uniform(0.01, 1.0)),
    (r"chi_eff_skewness" + _F, _uniform(-10.0, 10.0)),
    (r"chi_p_loc" + _F, _uniform(0.0, 1.0)),
    (r"chi_p_scale" + _F, _uniform(0.01, 1.0)),
    (r"chi_eff_chi_p_correlation" + _F, _uniform(-0.75, 0.75)),
    # eccentricity
    (r"(eccentricity|ecc)_loc" + _F, 0.0),
    (r"(eccentricity|ecc)_scale" + _F, _uniform(0.001, 0.5)),
    (r"(eccentricity|ecc)_low" + _F, 0.0),
    (r"(eccentricity|ecc)_high" + _F, 1.0),
    (r"(eccentricity|ecc)_alpha" + _F, _uniform(-5.0, 5.0)),
    # redshift
    (r"(redshift_)?(kappa|lamb|lambda)" + _F, _uniform(-5.0, 10.0)),
    (r"(redshift_)?gamma" + _F, _uniform(-5.0, 10.0)),
    (r"(redshift_)?z_peak" + _F, _uniform(0.5, 4.0)),
    (r"(redshift_)?z_max" + _F, 3.0),
)
"""Default prior of each hyperparameter family, first match wins: a prior config value
(:mod:`hierax.pop.priors`), a number (fixed) or a name (tied)."""

DEFAULT_TRUTHS: tuple[tuple[str, float], ...] = (
    (r"log_rate_[0-9]+", 3.75),
    (r"alpha_pl_[0-9]+", 2.0),
    (r"beta_pl_[0-9]+", 1.0),
    (r"mmin_pl_[0-9]+", 10.0),
    (r"mmax_pl_[0-9]+", 50.0),
    (r"delta_pl_[0-9]+", 3.0),
    (r"m1_loc_g_[0-9]+", 35.0),
    (r"m2_loc_g_[0-9]+", 30.0),
    (r"m[12]_scale_g_[0-9]+", 4.0),
    (r"m[12]_low_g_[0-9]+", 2.0),
    (r"m[12]_high_g_[0-9]+", 150.0),
    # PowerLaw+Peak: near the GWTC-3 medians
    (r"alpha_plp_[0-9]+", 3.4),
    (r"beta_plp_[0-9]+", 1.1),
    (r"mmin_plp_[0-9]+", 5.0),
    (r"mmax_plp_[0-9]+", 87.0),
    (r"lam_plp_[0-9]+", 0.04),
    (r"mpp_plp_[0-9]+", 34.0),
    (r"sigpp_plp_[0-9]+", 3.6),
    (r"delta_plp_[0-9]+", 4.8),
    # BrokenPowerLaw+2 peaks: features like those GWTC-4.0 reports
    (r"alpha_1_bp2p_[0-9]+", 1.7),
    (r"alpha_2_bp2p_[0-9]+", 4.5),
    (r"beta_bp2p_[0-9]+", 1.2),
    (r"mmin_bp2p_[0-9]+", 5.0),
    (r"mmax_bp2p_[0-9]+", 100.0),
    (r"m_break_bp2p_[0-9]+", 35.0),
    (r"lam_0_bp2p_[0-9]+", 0.8),
    (r"lam_1_bp2p_[0-9]+", 0.15),
    (r"mpp_1_bp2p_[0-9]+", 10.0),
    (r"sigpp_1_bp2p_[0-9]+", 1.0),
    (r"mpp_2_bp2p_[0-9]+", 34.0),
    (r"sigpp_2_bp2p_[0-9]+", 4.0),
    (r"delta_bp2p_[0-9]+", 4.5),
    (r"a_[12]_mean" + _F, 0.3),
    (r"a_[12]_variance" + _F, 0.03),
    (r"cos_tilt_zeta" + _F, 0.5),
    (r"cos_tilt_loc" + _F, 1.0),
    (r"cos_tilt_[12]_scale" + _F, 1.0),
    (r"chi_eff_loc" + _F, 0.06),
    (r"chi_eff_scale" + _F, 0.12),
    (r"chi_eff_skewness" + _F, 0.0),
    (r"chi_p_loc" + _F, 0.2),
    (r"chi_p_scale" + _F, 0.1),
    (r"chi_eff_chi_p_correlation" + _F, 0.0),
    (r"eccentricity_loc" + _F, 0.0),
    (r"eccentricity_scale" + _F, 0.05),
    (r"eccentricity_alpha" + _F, 0.0),
    (r"eccentricity_low" + _F, 0.0),
    (r"eccentricity_high" + _F, 1.0),
    (r"redshift_gamma" + _F, 2.7),
    (r"redshift_kappa" + _F, 2.7),
    (r"redshift_z_peak" + _F, 1.9),
    (r"redshift_z_max" + _F, 1.5),
)
"""True hyperparameter values of ``hierax-pop mock`` when ``--model-params`` leaves them
out (first match)."""

SLICE_MCMC_SETTINGS = {"num_warmup": 600, "num_samples": 1000, "num_chains": 4}
"""``MCMC`` settings of the default sampler (:func:`population_kernel`); see
``docs/pop_sampler.md`` for the measurements behind them."""

NUTS_SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4,
                 "target_accept_prob": 0.9, "max_tree_depth": 10}
"""Settings of NUTS runs when none are given (:func:`hierax.pop.inference.run_nuts`,
``hierax-pop infer --sampler nuts``)."""

DEFAULT_PMEAN = {"estimator_type": "analytic_pdet"}
"""The selection config of ``hierax-pop infer`` and ``mock`` without ``--pmean-cfg``."""

MONTE_CARLO_THRESHOLDS = {"min_event_effective_samples": 10.0,
                          "max_log_likelihood_variance": 1.0,
                          "min_selection_ratio": 4.0}
"""Thresholds on the Monte Carlo error of the likelihood estimate: per-event effective
samples, ``Var(ln L)`` (Talbot & Golomb 2023, MNRAS 526, 3495) and selection effective
draws per event (Farr 2019, RNAAS 3, 66)."""


def _first_match(rules, name):
    for pattern, value in rules:
        if re.fullmatch(pattern, name):
            return value
    return None


def default_prior(name: str):
    """The :data:`PRIOR_RULES` entry for ``name``, or ``None`` when no rule matches."""
    value = _first_match(PRIOR_RULES, name)
    return dict(value) if isinstance(value, dict) else value


def default_truths(names) -> dict[str, float]:
    """The :data:`DEFAULT_TRUTHS` value of each hyperparameter in ``names`` that has one."""
    values = {}
    for name in names:
        value = _first_match(DEFAULT_TRUTHS, name)
        if value is not None:
            values[name] = value
    return values


def population_kernel(model, **settings):
    """The default kernel for population hyper-posteriors: slice sampling on every site.

    Sharp mass edges make the Monte Carlo population likelihood a step function
    of ``mmin`` and ``mmax``; slice updates along adapted directions are exact for
    such densities and need no gradients (``docs/pop_sampler.md``). ``settings``
    override :class:`hierax.infer.Slice`'s arguments. Run it with
    ``MCMC(kernel, **SLICE_MCMC_SETTINGS)``.
    """
    from hierax.infer import Slice

    return Slice(model, **settings)
