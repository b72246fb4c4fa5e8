"""Names of the per-event source parameters, shared by models, data, selection and mocks.

An event's parameters are one row ``theta`` of an array of shape ``(..., d)``
whose columns follow :func:`parameter_names`: the masses first, then the
optional marginals in a fixed order. Masses are source-frame solar masses.
"""

from __future__ import annotations

__all__ = [
    "PRIMARY_MASS",
    "SECONDARY_MASS",
    "SPIN_MAGNITUDES",
    "COS_TILTS",
    "CHI_EFF",
    "CHI_P",
    "ECCENTRICITY",
    "REDSHIFT",
    "parameter_names",
]

PRIMARY_MASS = "mass_1_source"
SECONDARY_MASS = "mass_2_source"
SPIN_MAGNITUDES = ("a_1", "a_2")
COS_TILTS = ("cos_tilt_1", "cos_tilt_2")
CHI_EFF = "chi_eff"
CHI_P = "chi_p"
ECCENTRICITY = "eccentricity"
REDSHIFT = "redshift"


def parameter_names(
    *, spin: bool = False, tilt: bool = False, eccentricity: bool = False,
    redshift: bool = False, chi_eff: bool = False, chi_p: bool = False,
) -> tuple[str, ...]:
    """Column names of ``theta`` for a population with the given marginals.

    Order: ``mass_1_source, mass_2_source[, a_1, a_2][, cos_tilt_1, cos_tilt_2]
    [, chi_eff[, chi_p]][, eccentricity][, redshift]``.
    """
    names = [PRIMARY_MASS, SECONDARY_MASS]
    if spin:
        names += SPIN_MAGNITUDES
    if tilt:
        names += COS_TILTS
    if chi_eff or chi_p:
        names += [CHI_EFF, CHI_P] if chi_p else [CHI_EFF]
    if eccentricity:
        names.append(ECCENTRICITY)
    if redshift:
        names.append(REDSHIFT)
    return tuple(names)
