"""Population models: mass, spin, tilt, eccentricity and redshift distributions.

:class:`PopulationModel` combines them into the rate density
``rho(theta | Lambda) = sum_k R_k p_k(theta | Lambda_k)`` of the ``n_pls_m_gs``
family (power-law and Gaussian mass components).
"""

from hierax.pop.models.mass import PowerLawPrimaryMassRatio
from hierax.pop.models.mass_gaussian import OrderedTruncatedNormalMasses
from hierax.pop.models.population import PopulationModel, PreparedRows
from hierax.pop.models.product import ProductDistribution
from hierax.pop.models.redshift import MadauDickinsonRedshift, PowerLawRedshift, RedshiftModel
from hierax.pop.models.spin import BetaFromMeanVariance, IsotropicGaussianTilts

__all__ = [
    "BetaFromMeanVariance",
    "IsotropicGaussianTilts",
    "MadauDickinsonRedshift",
    "OrderedTruncatedNormalMasses",
    "PopulationModel",
    "PreparedRows",
    "PowerLawPrimaryMassRatio",
    "PowerLawRedshift",
    "ProductDistribution",
    "RedshiftModel",
]
