"""A selection estimator for gwkokab's ``custom`` pmean config, from exported draws.

gwkokab's commands take the expected number of detections from a pmean JSON;
its ``"estimator_type": "custom"`` form imports a Python file and calls its
``custom_poisson_mean_estimator(key, parameters, filename, **kwargs)``. This file is
that module for ``bench/pop_time_to_ess.py``: ``filename`` is an ``.npz`` of the
selection draws hierax uses on the same catalog (written by that script), so both
libraries estimate mu from the very same draws with the same formula,

    mu = T / N_draw * sum_j exp(ln R(theta_j) - ln q_j),
    Var(mu) = (T / N_draw)^2 sum_j e^{2 l_j} - (T^2 / N_draw^3) (sum_j e^{l_j})^2

(Farr 2019, RNAAS 3, 66; gwkokab's injection estimator). ``ln q_j`` here folds in
hierax's per-draw weight (``ln q_j - ln w_j``). The rate density is evaluated on all
draws at once rather than one draw at a time (gwkokab's ``jax.lax.map``), which only
makes gwkokab faster.

Runs in gwkokab's environment: imports JAX and NumPy only.
"""

from __future__ import annotations


def injection_mean(scaled_mixture, samples, log_weights, T_obs, total_draws):
    """``(mu, Var(mu))`` of the module docstring, all draws at once.

    ``scaled_mixture.log_prob(samples)`` is ``ln R(theta_j)`` (gwkokab's rate-scaled
    population); ``log_weights`` is ``ln q_j``; non-finite terms count as zero.
    """
    import jax.numpy as jnp
    from jax import nn as jnn

    log_terms = scaled_mixture.log_prob(samples) - log_weights
    finite = jnp.isfinite(log_terms)
    lse = jnn.logsumexp(log_terms, where=finite, axis=-1)
    lse2 = jnn.logsumexp(2.0 * log_terms, where=finite, axis=-1)
    log_t, log_n = jnp.log(T_obs), jnp.log(total_draws)
    variance = jnp.exp(2.0 * log_t - 2.0 * log_n + lse2) - jnp.exp(
        2.0 * log_t - 3.0 * log_n + 2.0 * lse
    )
    return T_obs * jnp.exp(lse) / total_draws, variance


def custom_poisson_mean_estimator(key, parameters, filename, **unused):
    """``(None, estimator, estimator_kwargs)`` as gwkokab's pmean loaders return."""
    import functools

    import jax.numpy as jnp
    import numpy as np

    del key, unused
    with np.load(filename) as npz:
        names = [str(name) for name in npz["parameter_names"]]
        if list(parameters) != names:
            raise ValueError(f"{filename}: draws have columns {names}, the model {parameters}")
        kwargs = {"samples": jnp.asarray(npz["theta"]),
                  "log_weights": jnp.asarray(npz["log_draw_weight"]),
                  "T_obs": jnp.asarray(float(npz["time"]))}
        total_draws = float(npz["total_draws"])
    return None, functools.partial(injection_mean, total_draws=total_draws), kwargs
