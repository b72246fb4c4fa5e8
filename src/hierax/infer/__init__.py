"""Inference: NUTS and HMC with Stan-style warmup, the MCMC driver, Predictive.

The layers inside: :mod:`hierax.infer.kernels` holds the pure transition and
adaptation functions over flat positions; :mod:`hierax.infer.util` and
:mod:`hierax.infer.initialization` turn a model into a potential; the
:class:`MCMC` driver runs chains (kernels ``NUTS``, ``HMC``, ``Slice``,
``NUTSWithinGibbs``); :class:`Predictive` draws predictions.
"""

from hierax.infer import reparam
from hierax.infer.arviz import to_inference_data
from hierax.infer.checkpoint import SavedRun, load, resume, save
from hierax.infer.flowmc import FlowMC
from hierax.infer.gibbs import NUTSWithinGibbs
from hierax.infer.hmc import HMC, NUTS
from hierax.infer.initialization import (
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)
from hierax.infer.mcmc import MCMC
from hierax.infer.predictive import Predictive
from hierax.infer.program import initialize_model
from hierax.infer.resumable import CheckpointedRun
from hierax.infer.slice import Slice
from hierax.infer.util import (
    constrain_fn,
    log_density,
    log_likelihood,
    potential_energy,
    transform_fn,
    unconstrain_fn,
)

__all__ = [
    "CheckpointedRun",
    "FlowMC",
    "Slice",
    "HMC",
    "MCMC",
    "NUTS",
    "NUTSWithinGibbs",
    "Predictive",
    "SavedRun",
    "constrain_fn",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
    "initialize_model",
    "log_density",
    "load",
    "log_likelihood",
    "potential_energy",
    "reparam",
    "resume",
    "save",
    "to_inference_data",
    "transform_fn",
    "unconstrain_fn",
]
