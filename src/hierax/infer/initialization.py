"""Where a sampler starts: init strategies and :func:`initialize_model`.

An init strategy is a function ``site -> value`` (a constrained value for a
latent sample site, or ``None`` to leave the site alone), used with the
``substitute`` handler while the model runs once. Called with keyword
arguments only, each strategy returns itself configured, so both
``init_to_median`` and ``init_to_median(num_samples=31)`` work.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from hierax.distributions.distribution import Delta, validation_enabled
from hierax.distributions.transforms import biject_to
from hierax.handlers import seed, substitute, trace
from hierax.infer.util import (
    _unconstrained,
    latent_sites,
)

__all__ = [
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
]

MAX_INIT_TRIES = 100


def _is_latent(site):
    return (
        site["type"] == "sample"
        and not site["is_observed"]
        and not site["fn"].is_discrete
        and not site["infer"].get("is_auxiliary", False)
    )


def _site_key(site):
    key = site["kwargs"].get("rng_key")
    if key is None:
        raise ValueError(
            f"init strategy: site '{site['name']}' has no random key; run it under seed()."
        )
    return key


def init_to_uniform(site=None, radius: float = 2.0):
    """Start each latent at ``T(u)``, ``u ~ Uniform(-radius, radius)`` in unconstrained space.

    This is Stan's default initialisation (``radius=2``).
    """
    if site is None:
        return functools.partial(init_to_uniform, radius=radius)
    if not _is_latent(site):
        return None
    transform = biject_to(site["fn"].support)
    shape = tuple(site["kwargs"].get("sample_shape", ())) + site["fn"].shape()
    unconstrained_shape = transform.inverse_shape(shape)
    dtype = jnp.result_type(float)
    u = jax.random.uniform(
        _site_key(site), unconstrained_shape, dtype=dtype, minval=-radius, maxval=radius
    )
    return transform(u)


def init_to_feasible(site=None):
    """Start each latent at ``T(0)``: the image of the unconstrained origin."""
    if site is None:
        return init_to_feasible
    return init_to_uniform(site, radius=0.0)


def init_to_sample(site=None):
    """Start each latent at a draw from its prior."""
    if site is None:
        return init_to_sample
    if not _is_latent(site):
        return None
    return site["fn"](rng_key=_site_key(site), sample_shape=site["kwargs"].get("sample_shape", ()))


def init_to_median(site=None, num_samples: int = 15):
    """Start each latent at the element-wise median of ``num_samples`` prior draws."""
    if site is None:
        return functools.partial(init_to_median, num_samples=num_samples)
    if not _is_latent(site):
        return None
    try:
        draws = site["fn"].sample(_site_key(site), (num_samples,) + tuple(
            site["kwargs"].get("sample_shape", ())))
    except NotImplementedError:
        return init_to_uniform(site)
    return jnp.median(draws, axis=0)


def init_to_mean(site=None):
    """Start each latent at its prior mean (the median where the mean is not defined)."""
    if site is None:
        return init_to_mean
    if not _is_latent(site):
        return None
    try:
        mean = site["fn"].mean
    except NotImplementedError:
        return init_to_median(site)
    shape = tuple(site["kwargs"].get("sample_shape", ())) + site["fn"].shape()
    mean = jnp.broadcast_to(mean, shape)
    if not isinstance(mean, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(mean))):
        return init_to_median(site)
    return mean


def init_to_value(site=None, values=None, fallback=init_to_uniform):
    """Start the named latents at ``values`` (constrained); others by ``fallback``."""
    values = {} if values is None else values
    if site is None:
        return functools.partial(init_to_value, values=values, fallback=fallback)
    if site["type"] == "sample" and not site["is_observed"] and site["name"] in values:
        return values[site["name"]]
    return fallback(site) if fallback is not None else None


# ----------------------------------------------------------------------------
# initial unconstrained parameters


def _initial_trace(rng_key, model, init_strategy, model_args, model_kwargs):
    strategy = init_strategy() if _needs_configuring(init_strategy) else init_strategy
    initialized = substitute(seed(model, rng_seed=rng_key), substitute_fn=strategy)
    return trace(initialized).get_trace(*model_args, **model_kwargs)


def _needs_configuring(strategy):
    return strategy in (init_to_uniform, init_to_median, init_to_value)


def _check_latents(model_trace):
    for name, site in latent_sites(model_trace).items():
        if isinstance(site["fn"], Delta):
            raise ValueError(
                f"latent site '{name}' is a Delta (a point mass); HMC and NUTS cannot move it. "
                f"Record the value with hierax.deterministic('{name}', value) instead, or "
                "observe the site with obs=."
            )
        if site["fn"].is_discrete:
            raise ValueError(
                f"latent site '{name}' has a discrete distribution ({type(site['fn']).__name__}); "
                "HMC and NUTS need continuous latents. Observe it, marginalise it out, or "
                "reparameterize it as a continuous variable."
            )


def _unconstrained_init(model_trace):
    return {
        name: biject_to(site["fn"].support).inv(site["value"])
        for name, site in latent_sites(model_trace).items()
    }


def _diagnose_invalid_start(model, model_args, model_kwargs, params, grad) -> str:
    problems = []
    with validation_enabled(False):  # the error below says it all; no warnings on top
        model_trace = trace(_unconstrained(model, params)).get_trace(*model_args,
                                                                     **model_kwargs)
        log_probs = {name: np.asarray(site["fn"].log_prob(site["value"]))
                     for name, site in model_trace.items() if site["type"] == "sample"}
    for name, site in model_trace.items():
        if site["type"] != "sample":
            continue
        log_prob = log_probs[name]
        if not np.all(np.isfinite(log_prob)):
            kind = "observed" if site["is_observed"] else "latent"
            problems.append(f"{kind} site '{name}': log density is {_describe(log_prob)}")
    for name, g in grad.items():
        if not np.all(np.isfinite(np.asarray(g))):
            problems.append(f"latent site '{name}': gradient of the potential is not finite")
    detail = "; ".join(problems) or "the potential energy is not finite"
    return (
        f"Cannot find a valid initial point after {MAX_INIT_TRIES} tries: {detail}. Check the "
        "priors' supports against the data, or give a start with init_to_value(values=...)."
    )


def _describe(values) -> str:
    bad = values[~np.isfinite(values)]
    return "nan" if np.any(np.isnan(bad)) else f"{bad.flat[0]}"
