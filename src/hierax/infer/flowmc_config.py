"""From a GWKokab-style flowMC ``bundle_config`` dict to :class:`~hierax.infer.FlowMC` arguments.

GWKokab's ``flowMC_config.json`` holds a ``bundle_config`` written for an
earlier flowMC release. This module maps each of its keys onto the arguments of
:class:`~hierax.infer.FlowMC`, which drives flowMC 0.6's
``RQSpline_MALA_Bundle`` / ``RQSpline_HMC_Bundle``:

=========================== ==================================================================
key                         how it is honoured
=========================== ==================================================================
n_chains, n_local_steps,    passed on unchanged (flowMC 0.6 has the same names)
n_global_steps,
n_training_loops,
n_production_loops,
n_epochs, learning_rate,
batch_size, n_max_examples,
history_window,
n_NFproposal_batch_size,
chain_batch_size,
local_thinning,
global_thinning, verbose,
rq_spline_hidden_units,
rq_spline_n_bins,
rq_spline_n_layers
local_sampler_name          ``local_sampler``: picks the MALA or the HMC bundle (0.6 has no
                            such key; the bundle class decides)
rq_spline_range             ``rq_spline_range``: 0.6's bundles no longer take it; FlowMC
                            builds the flow with this spline range itself
n_leapfrog                  ``n_leapfrog`` of the HMC local sampler (``hmc_n_leapfrog`` in
                            0.6); with MALA it has no effect and a warning says so
step_size, condition_matrix hand-tuned local-sampler settings (``mala_step_size`` /
                            ``hmc_step_size`` and ``condition_matrix`` in 0.6). By default
                            the hierax NUTS warmup supplies both and a warning says the
                            config values are not used; with ``local_tuning="config"`` they
                            are used as given (``condition_matrix`` is the inverse mass
                            matrix: a scalar, a diagonal or a dense matrix)
data_dump (nested form)     GWKokab's output settings; nothing here reads them, so a warning
                            names them
=========================== ==================================================================

Unknown keys are a ``ValueError`` listing the known ones.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["BUNDLE_CONFIG_KEYS", "flowmc_arguments"]

_SAME_NAME = (
    "n_chains", "n_local_steps", "n_global_steps", "n_training_loops", "n_production_loops",
    "n_epochs", "learning_rate", "batch_size", "n_max_examples", "history_window",
    "n_NFproposal_batch_size", "chain_batch_size", "local_thinning", "global_thinning",
    "verbose", "rq_spline_hidden_units", "rq_spline_n_bins", "rq_spline_n_layers",
    "rq_spline_range",
)
_LOCAL_TUNING_KEYS = ("step_size", "condition_matrix")

#: Every key :func:`flowmc_arguments` accepts inside ``bundle_config``.
BUNDLE_CONFIG_KEYS = frozenset(_SAME_NAME) | {"local_sampler_name", "n_leapfrog",
                                              *_LOCAL_TUNING_KEYS}


def _unnest(config: dict) -> dict:
    """The ``bundle_config`` part of a nested ``{data_dump, bundle_config}`` dict."""
    if "bundle_config" not in config:
        return dict(config)
    outer = set(config) - {"bundle_config", "data_dump"}
    if outer:
        raise ValueError(f"FlowMC.from_bundle_config: unknown top-level keys {sorted(outer)}; "
                         "the nested form has only 'data_dump' and 'bundle_config'.")
    if config.get("data_dump"):
        warnings.warn(f"FlowMC.from_bundle_config: data_dump {dict(config['data_dump'])} has "
                      "no effect here; the draws are read with FlowMC.get_samples().",
                      UserWarning, stacklevel=4)
    return dict(config["bundle_config"])


def _condition_matrix(value):
    """The config's ``condition_matrix`` as an inverse mass matrix: scalar, (d,) or (d, d)."""
    matrix = np.asarray(value, dtype=float)
    if matrix.ndim > 2 or not np.all(np.isfinite(matrix)):
        raise ValueError(f"FlowMC.from_bundle_config: condition_matrix must be a finite scalar, "
                         f"diagonal or matrix, got {value!r}.")
    return matrix


def flowmc_arguments(bundle_config: dict, local_tuning: str = "warmup") -> dict:
    """Keyword arguments of :class:`~hierax.infer.FlowMC` from a ``bundle_config`` dict.

    Args:
        bundle_config: GWKokab's ``bundle_config`` dict, or the nested
            ``{"data_dump": ..., "bundle_config": ...}`` form.
        local_tuning: ``"warmup"`` (step size and inverse mass matrix from the
            hierax NUTS warmup; config ``step_size`` / ``condition_matrix`` are
            reported and not used) or ``"config"`` (use them as given).

    Returns:
        dict of FlowMC keyword arguments.

    Raises:
        ValueError: unknown keys, a bad ``local_sampler_name`` or ``local_tuning``.
    """
    if not isinstance(bundle_config, dict):
        raise TypeError(f"FlowMC.from_bundle_config: bundle_config must be a dict, got "
                        f"{type(bundle_config).__name__}.")
    if local_tuning not in ("warmup", "config"):
        raise ValueError(f"FlowMC.from_bundle_config: local_tuning must be 'warmup' or "
                         f"'config', got {local_tuning!r}.")
    config = _unnest(bundle_config)
    unknown = set(config) - BUNDLE_CONFIG_KEYS
    if unknown:
        raise ValueError(f"FlowMC.from_bundle_config: unknown keys {sorted(unknown)}; known "
                         f"keys: {sorted(BUNDLE_CONFIG_KEYS)}.")
    arguments = {key: config[key] for key in _SAME_NAME if key in config}
    sampler = str(config.get("local_sampler_name", "mala")).strip().lower()
    if sampler not in ("mala", "hmc"):
        raise ValueError(f"FlowMC.from_bundle_config: local_sampler_name must be 'mala' or "
                         f"'hmc', got {config['local_sampler_name']!r}.")
    arguments["local_sampler"] = sampler
    ignored = []
    if "n_leapfrog" in config:
        if sampler == "hmc":
            arguments["n_leapfrog"] = int(config["n_leapfrog"])
        else:
            ignored.append("n_leapfrog (MALA takes no leapfrog steps)")
    tuning = [key for key in _LOCAL_TUNING_KEYS if key in config]
    if local_tuning == "config":
        if "step_size" in config:
            arguments["step_size"] = config["step_size"]
        if "condition_matrix" in config:
            arguments["inverse_mass_matrix"] = _condition_matrix(config["condition_matrix"])
    elif tuning:
        ignored.append(f"{' and '.join(tuning)} (replaced by the step size and inverse mass "
                       "matrix of the hierax NUTS warmup; pass local_tuning='config' to use "
                       "them)")
    if ignored:
        warnings.warn("FlowMC.from_bundle_config: these keys have no effect: "
                      + "; ".join(ignored) + ".", UserWarning, stacklevel=3)
    return arguments
