"""From a model to functions of its parameters: log density, potential, transforms.

A model's latent sites live on their supports (a scale is positive, a
probability vector on the simplex). Samplers work on an unconstrained space
instead: each latent site ``z`` is written ``z = T(u)`` with
``T = biject_to(support)`` and ``u`` unconstrained, and the density of ``u``
carries the Jacobian,

    log p(u) = log p(T(u)) + log |det dT/du|.

The *potential energy* is ``-log p(u)``. Because ``T`` is taken from each
site's distribution while the model runs, supports that depend on other
latents (``Uniform(low, high)`` with latent bounds) are handled exactly.
Sites with real support pay nothing for the transform.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from hierax._messenger import Messenger
from hierax.distributions import constraints
from hierax.distributions.transforms import biject_to
from hierax.distributions.util import sum_rightmost
from hierax.handlers import seed, substitute, trace

__all__ = [
    "ModelInfo",
    "ParamInfo",
    "constrain_fn",
    "latent_sites",
    "log_density",
    "log_likelihood",
    "potential_energy",
    "trace_model",
    "transform_fn",
    "unconstrain_fn",
]


class ParamInfo(NamedTuple):
    """Unconstrained parameters ``z`` with their potential energy and its gradient."""

    z: Any
    potential_energy: Any
    z_grad: Any


class ModelInfo(NamedTuple):
    """What :func:`~hierax.infer.program.initialize_model` returns."""

    param_info: ParamInfo
    potential_fn: Any
    postprocess_fn: Any
    model_trace: dict


# ----------------------------------------------------------------------------
# traces and log densities


def trace_model(model, model_args=(), model_kwargs=None, params=None):
    """Run ``model`` (optionally with ``params`` substituted) and return its trace."""
    model_kwargs = {} if model_kwargs is None else model_kwargs
    if params:
        model = substitute(model, data=params)
    return trace(model).get_trace(*model_args, **model_kwargs)


def _site_log_prob(site):
    fn = site["fn"]
    if site["intermediates"]:
        log_prob = fn.log_prob(site["value"], site["intermediates"])
    else:
        log_prob = fn.log_prob(site["value"])
    if site["scale"] is not None:
        log_prob = site["scale"] * log_prob
    return log_prob


def log_density(model, model_args, model_kwargs, params):
    """The joint log density of ``model`` at constrained values ``params``.

    Returns:
        ``(log_joint, trace)``: a scalar and the model's trace.
    """
    model_trace = trace_model(model, model_args, model_kwargs, params)
    return _trace_log_joint(model_trace), model_trace


def _trace_log_joint(model_trace):
    log_joint = 0.0
    for site in model_trace.values():
        if site["type"] == "sample":
            log_joint = log_joint + jnp.sum(_site_log_prob(site))
        log_det = site.get("log_det_jacobian")
        if log_det is not None:
            log_joint = log_joint + jnp.sum(log_det)
    return log_joint


def latent_sites(model_trace) -> dict:
    """The latent (unobserved, non-auxiliary) sample sites of a trace."""
    return {
        name: site
        for name, site in model_trace.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and not site["infer"].get("is_auxiliary", False)
    }


def _check_continuous(site):
    if site["fn"].is_discrete:
        raise ValueError(
            f"latent site '{site['name']}' has a discrete distribution "
            f"({type(site['fn']).__name__}); HMC and NUTS need continuous latents. Observe "
            "it, marginalise it out, or use a continuous reparameterization."
        )


class _unconstrained(Messenger):
    """Map unconstrained values ``u`` of latent sites to ``T(u)``, recording log|det J|."""

    def __init__(self, fn, unconstrained_params):
        self.unconstrained_params = unconstrained_params
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "sample" or msg["is_observed"]:
            return
        name = msg["name"]
        if name not in self.unconstrained_params:
            return
        _check_continuous(msg)
        u = self.unconstrained_params[name]
        support = msg["fn"].support
        if support is constraints.real:
            msg["value"] = u
            return
        transform = biject_to(support)
        value = transform(u)
        log_det = transform.log_abs_det_jacobian(u, value)
        extra_dims = jnp.ndim(log_det) - jnp.ndim(value) + len(msg["fn"].event_shape)
        log_det = sum_rightmost(log_det, extra_dims)
        if msg["scale"] is not None:
            log_det = msg["scale"] * log_det
        msg["value"] = value
        msg["log_det_jacobian"] = log_det


def potential_energy(model, model_args, model_kwargs, params):
    """``-log p(u)`` at unconstrained ``params`` (a dict site -> array), Jacobians included."""
    model_kwargs = {} if model_kwargs is None else model_kwargs
    model_trace = trace(_unconstrained(model, params)).get_trace(*model_args, **model_kwargs)
    return -_trace_log_joint(model_trace)


# ----------------------------------------------------------------------------
# constrained <-> unconstrained


def transform_fn(transforms, params, invert=False):
    """Apply ``transforms[name]`` (or its inverse) to each ``params[name]``."""
    return {
        name: (transforms[name].inv(value) if invert else transforms[name](value))
        if name in transforms else value
        for name, value in params.items()
    }


def constrain_fn(model, model_args, model_kwargs, params, return_deterministic=False):
    """Map unconstrained ``params`` to the model's constrained values.

    With ``return_deterministic=True`` the values of deterministic sites are
    included (computed by running the model).
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    model_trace = trace(_unconstrained(model, params)).get_trace(*model_args, **model_kwargs)
    return {
        name: site["value"]
        for name, site in model_trace.items()
        if name in params or (return_deterministic and site["type"] == "deterministic")
    }


def unconstrain_fn(model, model_args, model_kwargs, params):
    """Map constrained ``params`` (latent site values) to unconstrained space."""
    model_trace = trace_model(model, model_args, model_kwargs, params)
    result = {}
    for name, value in params.items():
        site = model_trace.get(name)
        if site is None or site["type"] != "sample":
            result[name] = value
            continue
        result[name] = biject_to(site["fn"].support).inv(value)
    return result


# ----------------------------------------------------------------------------
# per-observation log-likelihood


def log_likelihood(model, posterior_samples, *args, parallel=False, batch_ndims=1, **kwargs):
    """Per-draw, per-observation log-likelihood of each observed site.

    Args:
        model: the model.
        posterior_samples: dict site -> array with ``batch_ndims`` leading
            draw dims (e.g. ``(num_samples, ...)``).
        *args, **kwargs: the model's arguments.
        parallel: evaluate all draws at once with ``vmap`` (else ``lax.map``).
        batch_ndims: number of leading draw dims (1, or 2 for ``(chains, draws)``).

    Returns:
        dict observed site -> array of shape ``draws + site batch shape``.
    """
    if batch_ndims not in (1, 2):
        raise ValueError(f"log_likelihood: batch_ndims must be 1 or 2, got {batch_ndims}.")
    leading = _leading_shape(posterior_samples, batch_ndims)
    flat = jax.tree_util.tree_map(
        lambda x: jnp.reshape(x, (-1,) + jnp.shape(x)[batch_ndims:]), posterior_samples
    )

    def single(sample):
        model_trace = trace_model(seed(model, rng_seed=0), args, kwargs, sample)
        return {
            name: _site_log_prob(site)
            for name, site in model_trace.items()
            if site["type"] == "sample" and site["is_observed"]
            and not site["infer"].get("is_auxiliary", False)
        }

    out = jax.vmap(single)(flat) if parallel else jax.lax.map(single, flat)
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x, leading + jnp.shape(x)[1:]), out)


def _leading_shape(samples, batch_ndims):
    shapes = {jnp.shape(v)[:batch_ndims] for v in jax.tree_util.tree_leaves(samples)}
    if len(shapes) != 1:
        raise ValueError(
            f"posterior samples disagree on their leading {batch_ndims} draw dim(s): "
            f"{sorted(shapes)}."
        )
    return shapes.pop()
