"""Population models: mass, spin, tilt, eccentricity and redshift distributions.

The LVK model set: :class:`PowerLawPeak` and :class:`BrokenPowerLawTwoPeaks` (masses),
:class:`BetaFromMeanVariance` (spin magnitudes), :class:`GaussianTilts` (tilts with a
free mean), :class:`EffectiveSpinGaussian`, :class:`ChiEffGaussian` and
:class:`ChiEffSkewNormal` (effective spins), :class:`PowerLawRedshift` and
:class:`MadauDickinsonRedshift`.

:class:`PopulationModel` combines them into the rate density
``rho(theta | Lambda) = sum_k R_k p_k(theta | Lambda_k)`` of the ``n_pls_m_gs``
family (power-law and Gaussian mass components).
"""

from hierax.pop.models.mass import PowerLawPrimaryMassRatio
from hierax.pop.models.mass_gaussian import OrderedTruncatedNormalMasses
from hierax.pop.models.mass_lvk import BrokenPowerLawTwoPeaks, PowerLawPeak
from hierax.pop.models.population import PopulationModel, PreparedRows
from hierax.pop.models.product import ProductDistribution
from hierax.pop.models.redshift import MadauDickinsonRedshift, PowerLawRedshift, RedshiftModel
from hierax.pop.models.spin import BetaFromMeanVariance, IsotropicGaussianTilts
from hierax.pop.models.spin_lvk import (
    ChiEffGaussian,
    ChiEffSkewNormal,
    EffectiveSpinGaussian,
    GaussianTilts,
    skew_normal_location_scale,
)

__all__ = [
    "BetaFromMeanVariance",
    "BrokenPowerLawTwoPeaks",
    "ChiEffGaussian",
    "ChiEffSkewNormal",
    "EffectiveSpinGaussian",
    "GaussianTilts",
    "IsotropicGaussianTilts",
    "MadauDickinsonRedshift",
    "OrderedTruncatedNormalMasses",
    "PopulationModel",
    "PreparedRows",
    "PowerLawPeak",
    "PowerLawPrimaryMassRatio",
    "PowerLawRedshift",
    "ProductDistribution",
    "RedshiftModel",
    "skew_normal_location_scale",
]
