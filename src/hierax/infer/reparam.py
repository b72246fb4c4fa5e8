"""Reparameterizers for the :class:`~hierax.handlers.reparam` handler.

A reparameterizer rewrites one sample site into an equivalent model that is
easier to sample: ``TransformReparam`` samples the base of a
``TransformedDistribution`` and pushes it through the transforms;
``LocScaleReparam`` moves a location-scale family towards its standard form
(non-centering; Papaspiliopoulos, Roberts & Sköld 2007; Betancourt &
Girolami 2015). Each is called as ``reparam(name, fn, obs)`` and returns
``(new_fn, value)``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import (
    ExpandedDistribution,
    ImproperUniform,
    Independent,
    MaskedDistribution,
)
from hierax.distributions.transformed import TransformedDistribution
from hierax.primitives import factor, sample

__all__ = ["CircularReparam", "LocScaleReparam", "Reparam", "TransformReparam"]


class Reparam:
    """Base class of reparameterizers: ``reparam(name, fn, obs) -> (new_fn, value)``."""

    @staticmethod
    def _unwrap(fn):
        """The distribution under ``Independent``/``Expanded``/``Masked`` wrappers."""
        while isinstance(fn, (Independent, ExpandedDistribution, MaskedDistribution)):
            fn = fn.base_dist
        return fn

    @staticmethod
    def _check_latent(name, obs, what):
        if obs is not None:
            raise ValueError(f"{what}: site '{name}' is observed; only latent sites can be "
                             "reparameterized.")

    def __call__(self, name, fn, obs):
        raise NotImplementedError


def _as_site_shaped(dist, shape, event_dim):
    """``dist`` expanded to ``shape`` with ``event_dim`` rightmost dims as its event."""
    own_event = len(dist.event_shape)
    dist = dist.expand(tuple(shape[: len(shape) - own_event]))
    extra = event_dim - own_event
    return dist.to_event(extra) if extra > 0 else dist


class TransformReparam(Reparam):
    """Sample ``{name}_base`` from the base distribution and apply the transforms.

    The site becomes deterministic: its value is the transformed base draw.
    Works on ``TransformedDistribution`` sites, also inside plates.
    """

    def __call__(self, name, fn, obs):
        self._check_latent(name, obs, "TransformReparam")
        core = self._unwrap(fn)
        if not isinstance(core, TransformedDistribution):
            raise TypeError(f"TransformReparam: site '{name}' must have a "
                            f"TransformedDistribution, got {type(core).__name__}.")
        site_shape = fn.shape()
        base_shape = site_shape
        for transform in reversed(core.transforms):
            base_shape = transform.inverse_shape(base_shape)
        base = core.base_dist
        base_event_dim = len(fn.event_shape) - len(core.event_shape) + len(base.event_shape)
        x = sample(f"{name}_base", _as_site_shaped(base, base_shape, base_event_dim))
        for transform in core.transforms:
            x = transform(x)
        return None, x


_LOC_SCALE_FAMILIES = ("Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel")


class LocScaleReparam(Reparam):
    """Partially or fully non-center a location-scale site.

    With ``centered = c`` in ``[0, 1]`` the site ``x ~ F(loc, scale)`` is
    written ``x = loc + scale^(1-c) (x_decentered - c loc)`` with
    ``x_decentered ~ F(c loc, scale^c)``: ``c = 1`` leaves the model
    unchanged, ``c = 0`` is the fully non-centered form that removes the
    funnel of hierarchical models (Papaspiliopoulos, Roberts & Sköld 2007;
    Gorinova, Moore & Hoffman 2020).

    Args:
        centered: a number in ``[0, 1]``. ``None`` (learnable centering in
            NumPyro) is refused: under MCMC it would silently fix the
            centering at 0.5. Use ``centered=0`` for hierarchical scales.
        shape_params: names of the family's other parameters to keep (``("df",)``
            for ``StudentT``).
    """

    def __init__(self, centered=None, shape_params=()):
        if centered is None:
            raise ValueError(
                "LocScaleReparam(centered=None) would learn the centering by SVI; with MCMC "
                "give a number instead: centered=0 (non-centered, the usual fix for "
                "divergences in hierarchical models) or a value in [0, 1]."
            )
        if not isinstance(centered, (int, float)) or not 0 <= centered <= 1:
            raise ValueError(f"LocScaleReparam: centered must be in [0, 1], got {centered!r}.")
        self.centered = float(centered)
        self.shape_params = tuple(shape_params)

    def __call__(self, name, fn, obs):
        self._check_latent(name, obs, "LocScaleReparam")
        if self.centered == 1:
            return fn, None
        core = self._unwrap(fn)
        transforms = []
        if isinstance(core, TransformedDistribution):
            transforms = list(core.transforms)
            core = self._unwrap(core.base_dist)
        family = type(core).__name__
        if family not in _LOC_SCALE_FAMILIES:
            raise TypeError(f"LocScaleReparam: site '{name}' has {family}, which is not a "
                            f"location-scale family ({', '.join(_LOC_SCALE_FAMILIES)}) nor a "
                            "TransformedDistribution of one; use TransformReparam instead.")
        c = self.centered
        loc, scale = core.loc, core.scale
        params = {key: getattr(core, key) for key in self.shape_params}
        if c == 0:  # the standard form: no dependence on loc or scale at all
            decentered = type(core)(**params, loc=jnp.zeros_like(loc), scale=jnp.ones_like(scale))
        else:
            decentered = type(core)(**params, loc=c * loc, scale=scale**c)
        base_shape = fn.shape()
        for transform in reversed(transforms):
            base_shape = transform.inverse_shape(base_shape)
        x = sample(f"{name}_decentered",
                   _as_site_shaped(decentered, base_shape, len(base_shape) - len(fn.batch_shape)))
        value = loc + scale ** (1 - c) * (x - c * loc)
        for transform in transforms:
            value = transform(value)
        return None, value


class CircularReparam(Reparam):
    """Sample a ``VonMises`` site on the real line and wrap it to ``[-pi, pi)``.

    The unwrapped value ``{name}_unwrapped`` has a flat prior, and the von
    Mises density of the wrapped value is added with ``factor``, so HMC moves
    freely across the ``-pi``/``pi`` seam.
    """

    def __call__(self, name, fn, obs):
        self._check_latent(name, obs, "CircularReparam")
        core = self._unwrap(fn)
        if type(core).__name__ != "VonMises":
            raise TypeError(f"CircularReparam: site '{name}' must have a VonMises "
                            f"distribution, got {type(core).__name__}.")
        unwrapped = sample(f"{name}_unwrapped",
                           ImproperUniform(constraints.real, fn.batch_shape, fn.event_shape))
        value = jnp.remainder(unwrapped + math.pi, 2 * math.pi) - math.pi
        factor(f"{name}_factor", fn.log_prob(value))
        return None, value
