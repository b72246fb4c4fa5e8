"""Gravitational-wave population inference on hierax.

Infer the population of merging compact binaries (merger rates, the mass
distribution and optionally spins, tilts, eccentricity and redshift) from a
catalog of per-event posterior samples, accounting for the selection effects
of the detectors:

- :mod:`hierax.pop.models`: population models, a rate density
  ``rho(theta | Lambda) = sum_k R_k p_k(theta | Lambda_k)``;
- :mod:`hierax.pop.likelihood`: the hierarchical likelihood of the discrete
  method with its Monte Carlo error diagnostics;
- :mod:`hierax.pop.selection`: the expected number of detections
  ``mu(Lambda)`` (injections, a semi-analytic detector, neural or tabulated VT);
- :mod:`hierax.pop.mock` and :mod:`hierax.pop.readers`: mock catalogs and the
  readers of per-event posterior samples; :mod:`hierax.pop.pesummary` reads LVK
  PESummary releases and removes their parameter-estimation prior
  (:mod:`hierax.pop.pe_prior`);
- :mod:`hierax.pop.event_files`: event files of any format (text, GWKokab, PESummary)
  read with one loader config; :mod:`hierax.pop.lvk_files` writes the LVK formats and
  :mod:`hierax.pop.mock_lvk` makes LVK-like mock catalogs;
- :mod:`hierax.pop.priors`: priors on the hyperparameters from JSON configs;
- :mod:`hierax.pop.predictive`: population-predictive distributions, R(z), events
  reweighted to the population and the posterior predictive check;
- :mod:`hierax.pop.defaults`: the defaults of all of the above.

Needs the ``pop`` extra: ``pip install "hierax[pop]"``.
"""

from hierax.pop import selection
from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.data import MIN_SAMPLES_PER_EVENT, EventSamples, FewSamplesWarning, InputWarning
from hierax.pop.event_files import LoaderConfig, read_events
from hierax.pop.inference import (
    DIAGNOSTIC_SITES,
    ordered_hyperparameter_pairs,
    population_model,
    run_nuts,
    sharp_edge_hyperparameters,
)
from hierax.pop.likelihood import (
    DiscreteLikelihood,
    LikelihoodTerms,
    MonteCarloErrorWarning,
    check_monte_carlo_error,
    record_diagnostics,
)
from hierax.pop.mock import LOG_PRIOR_COLUMN, MockCatalog, make_mock_catalog, write_mock_catalog
from hierax.pop.mock_errors import MockErrorModel
from hierax.pop.models import (
    BetaFromMeanVariance,
    BrokenPowerLawTwoPeaks,
    IsotropicGaussianTilts,
    MadauDickinsonRedshift,
    OrderedTruncatedNormalMasses,
    PopulationModel,
    PowerLawPeak,
    PowerLawPrimaryMassRatio,
    PowerLawRedshift,
    ProductDistribution,
    RedshiftModel,
)
from hierax.pop.models.config import PopulationConfig, parse_model_config
from hierax.pop.parameters import parameter_names
from hierax.pop.pe_prior import PEPrior, log_pe_prior
from hierax.pop.pesummary import LabelFallbackWarning, read_pesummary_events
from hierax.pop.priors import (
    PriorSpec,
    UnusedPriorKeyWarning,
    log_prior,
    parse_prior_config,
    sample_hyperparameters,
)
from hierax.pop.readers import (
    NoLogPriorWarning,
    find_event_files,
    read_gwkokab_hdf5,
    read_pesummary,
    read_text_events,
)
from hierax.pop.selection import (
    AnalyticDetector,
    SelectionEstimator,
    SelectionTerms,
    analytic_pdet,
    custom,
    injection,
    neural_vt,
    vt_grid,
)
from hierax.pop.selection import from_config as selection_from_config

__all__ = [
    "DIAGNOSTIC_SITES",
    "PLANCK15",
    "LOG_PRIOR_COLUMN",
    "MIN_SAMPLES_PER_EVENT",
    "AnalyticDetector",
    "BetaFromMeanVariance",
    "BrokenPowerLawTwoPeaks",
    "Cosmology",
    "DiscreteLikelihood",
    "EventSamples",
    "FewSamplesWarning",
    "InputWarning",
    "IsotropicGaussianTilts",
    "LabelFallbackWarning",
    "LikelihoodTerms",
    "LoaderConfig",
    "MadauDickinsonRedshift",
    "MockCatalog",
    "MockErrorModel",
    "MonteCarloErrorWarning",
    "NoLogPriorWarning",
    "OrderedTruncatedNormalMasses",
    "PEPrior",
    "PopulationConfig",
    "PopulationModel",
    "PowerLawPeak",
    "PowerLawPrimaryMassRatio",
    "PowerLawRedshift",
    "PriorSpec",
    "ProductDistribution",
    "RedshiftModel",
    "SelectionEstimator",
    "SelectionTerms",
    "UnusedPriorKeyWarning",
    "analytic_pdet",
    "check_monte_carlo_error",
    "custom",
    "find_event_files",
    "injection",
    "log_pe_prior",
    "log_prior",
    "make_mock_catalog",
    "neural_vt",
    "ordered_hyperparameter_pairs",
    "parameter_names",
    "parse_model_config",
    "parse_prior_config",
    "population_model",
    "read_events",
    "read_gwkokab_hdf5",
    "read_pesummary",
    "read_pesummary_events",
    "read_text_events",
    "record_diagnostics",
    "run_nuts",
    "sample_hyperparameters",
    "selection",
    "selection_from_config",
    "sharp_edge_hyperparameters",
    "vt_grid",
    "write_mock_catalog",
]
