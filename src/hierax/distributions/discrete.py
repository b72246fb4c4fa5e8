"""Discrete distribution families (NumPyro's names and arguments).

Families with two parametrisations come as a pair of classes plus a factory:
``Bernoulli(probs=...)`` builds a :class:`BernoulliProbs` and
``Bernoulli(logits=...)`` a :class:`BernoulliLogits`; likewise
:func:`Binomial`, :func:`Categorical`, :func:`Geometric`,
:func:`NegativeBinomial` and :func:`Multinomial`. Exactly one of ``probs`` and
``logits`` must be given.

Samples are integer arrays (the default JAX integer dtype), except
:class:`GeometricProbs`/:class:`GeometricLogits`, whose draws are floats of the
parameter's dtype, as in NumPyro. ``log_prob`` accepts integer or float values,
computes in the floating dtype of the parameters, and is ``-inf`` at values
outside the support (with finite gradients with respect to the parameters).

The formulas are textbook ones; see e.g. N. L. Johnson, A. W. Kemp and S. Kotz,
*Univariate Discrete Distributions*, 3rd ed., Wiley (2005).

The families live in three modules and are collected here:

- :mod:`~hierax.distributions.discrete_binary`: :func:`Bernoulli`, :func:`Binomial`;
- :mod:`~hierax.distributions.discrete_categorical`: :func:`Categorical`,
  :func:`Multinomial`;
- :mod:`~hierax.distributions.discrete_counts`: :class:`Poisson`,
  :func:`NegativeBinomial`, :class:`NegativeBinomial2`, :func:`Geometric`,
  :class:`DiscreteUniform`.
"""

from hierax.distributions.discrete_binary import (
    Bernoulli,
    BernoulliLogits,
    BernoulliProbs,
    Binomial,
    BinomialLogits,
    BinomialProbs,
)
from hierax.distributions.discrete_categorical import (
    Categorical,
    CategoricalLogits,
    CategoricalProbs,
    Multinomial,
    MultinomialLogits,
    MultinomialProbs,
)
from hierax.distributions.discrete_counts import (
    DiscreteUniform,
    Geometric,
    GeometricLogits,
    GeometricProbs,
    NegativeBinomial,
    NegativeBinomial2,
    NegativeBinomialLogits,
    NegativeBinomialProbs,
    Poisson,
)

__all__ = [
    "Bernoulli",
    "BernoulliLogits",
    "BernoulliProbs",
    "Binomial",
    "BinomialLogits",
    "BinomialProbs",
    "Categorical",
    "CategoricalLogits",
    "CategoricalProbs",
    "DiscreteUniform",
    "Geometric",
    "GeometricLogits",
    "GeometricProbs",
    "Multinomial",
    "MultinomialLogits",
    "MultinomialProbs",
    "NegativeBinomial",
    "NegativeBinomial2",
    "NegativeBinomialLogits",
    "NegativeBinomialProbs",
    "Poisson",
]
