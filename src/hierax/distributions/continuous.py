"""Continuous univariate distribution families (NumPyro's names, arguments and defaults).

The families live in three modules by support and are collected here:

- :mod:`~hierax.distributions.continuous_real`: :class:`Normal`, :class:`Cauchy`,
  :class:`Laplace`, :class:`Logistic`, :class:`Gumbel`, :class:`StudentT`,
  :class:`Uniform`;
- :mod:`~hierax.distributions.continuous_positive`: :class:`HalfNormal`,
  :class:`HalfCauchy`, :class:`Exponential`, :class:`LogNormal`, :class:`Gamma`,
  :class:`Chi2`, :class:`InverseGamma`, :class:`Pareto`, :class:`Weibull`;
- :mod:`~hierax.distributions.continuous_bounded`: :class:`Beta`, :class:`VonMises`.

All have scalar events; ``batch_shape`` is the broadcast of the parameter
shapes, and draws and densities use the parameters' floating dtype.
"""

from hierax.distributions.continuous_bounded import Beta, VonMises
from hierax.distributions.continuous_positive import (
    Chi2,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Pareto,
    Weibull,
)
from hierax.distributions.continuous_real import (
    Cauchy,
    Gumbel,
    Laplace,
    Logistic,
    Normal,
    StudentT,
    Uniform,
)

__all__ = [
    "Beta",
    "Cauchy",
    "Chi2",
    "Exponential",
    "Gamma",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "InverseGamma",
    "Laplace",
    "LogNormal",
    "Logistic",
    "Normal",
    "Pareto",
    "StudentT",
    "Uniform",
    "VonMises",
    "Weibull",
]
