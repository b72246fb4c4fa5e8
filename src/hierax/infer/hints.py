"""Advice for runs with divergent transitions: find the funnels.

The most common cause of divergences in hierarchical models is a funnel: a
location-scale latent inside a plate, ``theta ~ Normal(mu, tau)``, whose scale
is itself a latent. When ``tau`` is small the ``theta`` must crowd together and
no single step size fits both ends (Neal 2003; Betancourt & Girolami 2015).
Non-centering, ``LocScaleReparam(centered=0)``, removes it.

:func:`funnel_sites` finds such sites structurally: it traces the model to a
jaxpr as a function of all latent values and follows which inputs each
site's scale parameter depends on.
"""

from __future__ import annotations

import jax
from jax.extend import core as jax_core

from hierax.handlers import seed, substitute, trace
from hierax.infer.reparam import _LOC_SCALE_FAMILIES, Reparam

__all__ = ["divergence_hints", "funnel_sites"]


def _scale_parameters(model, model_args, model_kwargs, latent_names):
    """``values -> {site: scale}`` for location-scale latents that sit in a plate."""

    def scales(values):
        model_trace = trace(substitute(seed(model, rng_seed=0), data=values)).get_trace(
            *model_args, **model_kwargs)
        out = {}
        for name in latent_names:
            site = model_trace.get(name)
            if site is None or site["type"] != "sample" or not site["cond_indep_stack"]:
                continue
            core = Reparam._unwrap(site["fn"])
            if type(core).__name__ in _LOC_SCALE_FAMILIES:
                out[name] = core.scale
        return out

    return scales


def _input_dependencies(closed_jaxpr):
    """For each output of the jaxpr, the set of input positions it depends on."""
    jaxpr = closed_jaxpr.jaxpr
    depends = {var: {i} for i, var in enumerate(jaxpr.invars)}
    for eqn in jaxpr.eqns:
        sources = set()
        for var in eqn.invars:
            if not isinstance(var, jax_core.Literal):
                sources |= depends.get(var, set())
        for var in eqn.outvars:
            depends[var] = sources
    return [set() if isinstance(var, jax_core.Literal) else depends.get(var, set())
            for var in jaxpr.outvars]


def funnel_sites(model, model_args, model_kwargs, values):
    """Location-scale latents in a plate whose scale depends on other latents.

    Args:
        model: the model.
        model_args, model_kwargs: its arguments.
        values: dict latent site -> a value (e.g. one posterior draw).

    Returns:
        A list of ``(site, plate names, latent sites its scale depends on)``.
    """
    names = sorted(values)
    scales = _scale_parameters(model, model_args, model_kwargs, names)
    closed, out_shape = jax.make_jaxpr(scales, return_shape=True)(values)
    input_leaves, _ = jax.tree_util.tree_flatten_with_path(values)
    input_names = [path[0].key for path, _ in input_leaves]
    output_leaves, _ = jax.tree_util.tree_flatten_with_path(out_shape)
    output_names = [path[0].key for path, _ in output_leaves]
    dependencies = _input_dependencies(closed)
    parents = {}
    for name, inputs in zip(output_names, dependencies, strict=True):
        parents.setdefault(name, set()).update(input_names[i] for i in inputs)
    model_trace = trace(substitute(seed(model, rng_seed=0), data=values)).get_trace(
        *model_args, **model_kwargs)
    found = []
    for name in output_names:
        others = sorted(parents[name] - {name})
        if others:
            plates = tuple(frame.name for frame in model_trace[name]["cond_indep_stack"])
            found.append((name, plates, tuple(others)))
    return found


def divergence_hints(model, model_args, model_kwargs, values) -> list[str]:
    """Sentences suggesting ``LocScaleReparam(centered=0)`` for each funnel site."""
    hints = []
    for name, plates, parents in funnel_sites(model, model_args, model_kwargs, values):
        plate_text = ", ".join(f"'{p}'" for p in plates)
        parent_text = ", ".join(f"'{p}'" for p in parents)
        hints.append(
            f"Hint: the latent site '{name}' (in plate {plate_text}) has a scale that depends "
            f"on {parent_text}; such funnels cause divergences. Non-center it: "
            f"hierax.handlers.reparam(model, config={{'{name}': "
            "hierax.infer.reparam.LocScaleReparam(centered=0)})."
        )
    return hints
