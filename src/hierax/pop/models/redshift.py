"""Redshift models: a merger-rate evolution ``psi(z)`` times the comoving volume.

The number of mergers per unit source-frame time and redshift is

    dN / (dt dz) = R_0 psi(z) dV_C/dz / (1 + z),       psi(0) = 1,

on ``[0, z_max]`` (the ``1 + z`` converts source-frame to detector-frame time;
Fishbach, Holz & Farr 2018, ApJL 863, L41). :meth:`RedshiftModel.log_rate_factor`
is ``log(psi(z) dV_C/dz / (1 + z))`` (``dV_C/dz`` in Gpc^3, so that ``R_0`` is in
Gpc^-3 yr^-1), :meth:`RedshiftModel.log_volume` its integral ``V`` over
``[0, z_max]`` (Gauss-Legendre), and ``log_prob`` the normalised density
``p(z) = psi(z) dV_C/dz / (1 + z) / V``. Draws invert a cumulative table of the
density on a fixed grid of ``z / z_max``.

- :class:`PowerLawRedshift`: ``psi(z) = (1 + z)^kappa``.
- :class:`MadauDickinsonRedshift`: ``psi(z) = (1 + z)^gamma / (1 + ((1 + z)/(1 + z_peak))^kappa)``,
  scaled so that ``psi(0) = 1`` (Madau & Dickinson 2014, ARA&A 52, 415, eq. 15).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.util import is_concrete
from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.models._numerics import (
    cumulative_trapezoid,
    float_dtype,
    integrate_panels,
    invert_cumulative,
    parameter_batch_shape,
)

__all__ = ["MadauDickinsonRedshift", "PowerLawRedshift", "RedshiftModel"]

_PANELS = 4
_NODES_PER_PANEL = 48
_SAMPLING_GRID = 4097


class RedshiftModel(Distribution):
    """Base class: subclasses define ``_param_names`` and :meth:`log_psi`.

    Args:
        z_max: upper end of the support (``0 < z_max <= cosmology.z_max``).
        cosmology: a :class:`~hierax.pop.cosmology.Cosmology` (Planck 2015 by default).
    """

    _param_names: tuple[str, ...] = ()
    pytree_aux_fields = ("cosmology",)
    reparametrized_params = []

    def _init_redshift(self, params, z_max, cosmology, validate_args):
        if not isinstance(cosmology, Cosmology):
            raise TypeError(
                f"{type(self).__name__}: cosmology must be a hierax.pop.cosmology.Cosmology, "
                f"got {type(cosmology).__name__}."
            )
        params = dict(params, z_max=z_max)
        batch_shape = parameter_batch_shape(type(self).__name__, **params)
        for name, value in params.items():
            setattr(self, name, value)
        self.cosmology = cosmology
        super().__init__(batch_shape, (), validate_args=validate_args)

    def _check_args(self) -> None:
        super()._check_args()
        if is_concrete(self.z_max) and np.any(np.asarray(self.z_max) > self.cosmology.z_max):
            raise ValueError(
                f"{type(self).__name__}: z_max={np.asarray(self.z_max).tolist()} exceeds the "
                f"cosmology's tabulated range z_max={self.cosmology.z_max}."
            )

    @constraints.dependent_property
    def support(self):
        return constraints.interval(0.0, self.z_max)

    @property
    def _dtype(self):
        return float_dtype(*(getattr(self, n) for n in self._param_names), self.z_max)

    def log_psi(self, z):
        """``log psi(z)``, the rate evolution with ``psi(0) = 1``."""
        raise NotImplementedError

    def log_rate_factor(self, z):
        """``log(psi(z) dV_C/dz / (1 + z))`` [log Gpc^3]; ``-inf`` outside ``(0, z_max]``."""
        z = jnp.asarray(z)
        inside = (z > 0) & (z <= self.z_max)
        safe_z = jnp.where(inside, z, self.z_max / 2)
        value = (
            self.log_psi(safe_z)
            + jnp.log(self.cosmology.differential_comoving_volume(safe_z))
            - jnp.log1p(safe_z)
        )
        return jnp.where(inside, value, -jnp.inf)

    def log_volume(self):
        """``log V``, ``V = int_0^z_max psi(z) dV_C/dz / (1 + z) dz`` [Gpc^3]; ``batch_shape``."""
        dtype = self._dtype
        z_max = jnp.broadcast_to(jnp.asarray(self.z_max, dtype), self.batch_shape)
        breaks = [z_max * (i / _PANELS) for i in range(_PANELS + 1)]
        expanded = self._expanded()
        return integrate_panels(expanded.log_rate_factor, breaks, _NODES_PER_PANEL, dtype)

    def _expanded(self):
        """A copy with a trailing unit axis on every parameter (for grids of ``z``)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        dtype = self._dtype
        for name in (*self._param_names, "z_max"):
            value = jnp.broadcast_to(jnp.asarray(getattr(self, name), dtype), self.batch_shape)
            setattr(clone, name, value[..., None])
        return clone

    @validate_sample
    def log_prob(self, value):
        return self.log_rate_factor(value) - self.log_volume()

    def sample(self, key, sample_shape=()):
        dtype = self._dtype
        shape = tuple(sample_shape) + self.batch_shape
        t = jnp.linspace(0.0, 1.0, _SAMPLING_GRID, dtype=dtype)
        z_max = jnp.broadcast_to(jnp.asarray(self.z_max, dtype), self.batch_shape)
        grid = z_max[..., None] * t
        log_density = self._expanded().log_rate_factor(grid) - self.log_volume()[..., None]
        table = cumulative_trapezoid(jnp.exp(log_density), z_max / (_SAMPLING_GRID - 1))
        u = jax.random.uniform(key, shape, dtype)
        fraction = invert_cumulative(table, u * table[..., -1])
        return jnp.clip(fraction * z_max, 0.0, z_max)


class PowerLawRedshift(RedshiftModel):
    """``psi(z) = (1 + z)^kappa`` on ``[0, z_max]`` (Fishbach, Holz & Farr 2018).

    Args:
        kappa: power of ``1 + z`` (GWKokab's ``redshift_kappa``; ``lambda`` elsewhere).
        z_max: largest redshift.
        cosmology: flat Lambda-CDM cosmology for ``dV_C/dz``.
    """

    arg_constraints = {"kappa": constraints.real, "z_max": constraints.positive}
    _param_names = ("kappa",)

    def __init__(self, kappa, z_max, *, cosmology=PLANCK15, validate_args=None):
        self._init_redshift({"kappa": kappa}, z_max, cosmology, validate_args)

    def log_psi(self, z):
        return self.kappa * jnp.log1p(z)


class MadauDickinsonRedshift(RedshiftModel):
    """Madau-Dickinson star-formation-like rate evolution, ``psi(0) = 1``.

    ``psi(z) = (1 + (1 + z_peak)^-kappa) (1 + z)^gamma / (1 + ((1 + z)/(1 + z_peak))^kappa)``:
    rises as ``(1 + z)^gamma`` at low redshift, turns over near ``z_peak`` and
    falls as ``(1 + z)^(gamma - kappa)`` beyond (Madau & Dickinson 2014 fit:
    ``gamma = 2.7, kappa = 5.6, z_peak = 1.9``).

    Args:
        gamma: low-redshift slope.
        kappa: change of slope past the peak.
        z_peak: redshift of the turnover (``> -1``; ``z_peak >= 0`` in practice).
        z_max: largest redshift.
        cosmology: flat Lambda-CDM cosmology for ``dV_C/dz``.
    """

    arg_constraints = {
        "gamma": constraints.real,
        "kappa": constraints.real,
        "z_peak": constraints.greater_than(-1.0),
        "z_max": constraints.positive,
    }
    _param_names = ("gamma", "kappa", "z_peak")

    def __init__(self, gamma, kappa, z_peak, z_max, *, cosmology=PLANCK15, validate_args=None):
        params = {"gamma": gamma, "kappa": kappa, "z_peak": z_peak}
        self._init_redshift(params, z_max, cosmology, validate_args)

    def log_psi(self, z):
        log_peak = jnp.log1p(self.z_peak)
        log_1pz = jnp.log1p(z)
        return (
            self.gamma * log_1pz
            - jax.nn.softplus(self.kappa * (log_1pz - log_peak))
            + jax.nn.softplus(-self.kappa * log_peak)
        )
