"""hierax: hierarchical Bayesian inference on JAX.

A model is a Python function written with the primitives re-exported here
(``sample``, ``plate``, ``deterministic``, ...), distributions from
:mod:`hierax.distributions`, and effect handlers from :mod:`hierax.handlers`.
The public modeling API follows NumPyro's, so ``import hierax as numpyro``
runs a NumPyro model.
"""

from hierax import handlers, util  # isort: skip  (the modeling layer first)
from hierax import diagnostics, distributions, infer, viz
from hierax.distributions.distribution import enable_validation
from hierax.infer.arviz import to_inference_data
from hierax.infer.checkpoint import load
from hierax.primitives import (
    CondIndepStackFrame,
    deterministic,
    factor,
    get_mask,
    param,
    plate,
    plate_stack,
    prng_key,
    sample,
    subsample,
)
from hierax.util import enable_x64, set_host_device_count, set_platform
from hierax.viz import render_model

__version__ = "0.1.0"

__all__ = [
    "CondIndepStackFrame",
    "deterministic",
    "diagnostics",
    "distributions",
    "enable_validation",
    "enable_x64",
    "factor",
    "get_mask",
    "handlers",
    "infer",
    "load",
    "param",
    "plate",
    "plate_stack",
    "prng_key",
    "render_model",
    "sample",
    "set_host_device_count",
    "set_platform",
    "subsample",
    "to_inference_data",
    "util",
    "viz",
]
