"""Flat Lambda-CDM distances and volumes, tabulated once and interpolated in JAX.

For a flat universe with matter density ``Om0`` and a cosmological constant
(radiation neglected, which changes distances by less than 0.1% below z = 10),

    E(z)    = sqrt(Om0 (1 + z)^3 + 1 - Om0)
    D_C(z)  = (c / H0) int_0^z dz' / E(z')            comoving distance
    D_L(z)  = (1 + z) D_C(z)                           luminosity distance
    dV_C/dz = 4 pi (c / H0) D_C(z)^2 / E(z)            all-sky comoving volume per unit z

(Hogg 1999, arXiv:astro-ph/9905116, eqs. 14-16, 21 and 28). ``D_C`` is
integrated once in NumPy float64 on a fine grid to ``z_max`` and
interpolated linearly. For JAX arrays, tracers and Python numbers the functions
are JAX functions: differentiable, usable under ``jit``/``vmap``, keeping the
dtype of their argument; a NumPy array gives a NumPy float64 result computed in
NumPy (no JAX dispatch, as when tabulating selection draws).

Units: distances in Mpc, volumes in Gpc^3.
"""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np
from scipy import integrate

__all__ = ["Cosmology", "PLANCK15"]

SPEED_OF_LIGHT_KM_S = 299_792.458
_MPC3_PER_GPC3 = 1e9


@dataclasses.dataclass(frozen=True)
class Cosmology:
    """A flat Lambda-CDM cosmology.

    Args:
        hubble_constant: ``H0`` in km/s/Mpc.
        matter_density: ``Om0``, the matter density parameter today.
        z_max: largest redshift tabulated (inclusive); larger redshifts are an error
            when concrete and clamped when traced.
        grid_size: number of grid points in ``z`` (denser near ``z = 0``).
    """

    hubble_constant: float = 67.74
    matter_density: float = 0.3075
    z_max: float = 20.0
    grid_size: int = 8001

    def __post_init__(self):
        if not self.hubble_constant > 0:
            raise ValueError(f"Cosmology: hubble_constant must be > 0, got {self.hubble_constant}")
        if not 0 < self.matter_density <= 1:
            raise ValueError(
                f"Cosmology: matter_density must lie in (0, 1], got {self.matter_density}"
            )
        if not self.z_max > 0:
            raise ValueError(f"Cosmology: z_max must be > 0, got {self.z_max}")

    @property
    def hubble_distance(self) -> float:
        """``c / H0`` in Mpc."""
        return SPEED_OF_LIGHT_KM_S / self.hubble_constant

    def efunc(self, z):
        """``E(z) = H(z) / H0``; ``z`` any shape, same shape out."""
        z, xp = _as_float(z)
        return xp.sqrt(self.matter_density * (1 + z) ** 3 + (1 - self.matter_density))

    def comoving_distance(self, z):
        """Line-of-sight comoving distance ``D_C(z)`` in Mpc."""
        grid_z, grid_dc = self._table()
        z, xp = _as_float(z)
        return xp.interp(z, grid_z.astype(z.dtype), grid_dc.astype(z.dtype))

    def luminosity_distance(self, z):
        """Luminosity distance ``D_L(z) = (1 + z) D_C(z)`` in Mpc."""
        z, _ = _as_float(z)
        return (1 + z) * self.comoving_distance(z)

    def differential_comoving_volume(self, z):
        """All-sky ``dV_C/dz`` in Gpc^3 per unit redshift."""
        z, _ = _as_float(z)
        dc = self.comoving_distance(z)
        return 4 * np.pi * self.hubble_distance * dc**2 / self.efunc(z) / _MPC3_PER_GPC3

    def comoving_volume(self, z):
        """All-sky comoving volume inside redshift ``z``, ``(4 pi / 3) D_C^3``, in Gpc^3."""
        return 4 * np.pi / 3 * self.comoving_distance(z) ** 3 / _MPC3_PER_GPC3

    def redshift_at_luminosity_distance(self, distance):
        """The redshift whose luminosity distance is ``distance`` (Mpc); inverse of ``D_L``."""
        grid_z, grid_dc = self._table()
        distance, xp = _as_float(distance)
        grid_dl = (1 + grid_z) * grid_dc
        return xp.interp(distance, grid_dl.astype(distance.dtype), grid_z.astype(distance.dtype))

    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        return _comoving_distance_table(
            self.hubble_constant, self.matter_density, self.z_max, self.grid_size
        )


def _as_float(x):
    """``(x, its array module)``: a NumPy array as float64 NumPy, anything else as a JAX
    array of a floating dtype (integers become the default float)."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False), np
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x, jnp


@functools.lru_cache(maxsize=16)
def _comoving_distance_table(hubble_constant, matter_density, z_max, grid_size):
    """``(z, D_C(z))`` on a grid uniform in ``log(1 + z)``, integrated in float64."""
    grid_z = np.expm1(np.linspace(0.0, np.log1p(z_max), grid_size))
    inverse_e = 1.0 / np.sqrt(matter_density * (1 + grid_z) ** 3 + (1 - matter_density))
    # Integrate in u = log(1 + z): dz = (1 + z) du, uniform steps, Simpson-accurate.
    u = np.log1p(grid_z)
    integrand = inverse_e * (1 + grid_z)
    distance = integrate.cumulative_simpson(integrand, x=u, initial=0.0)
    hubble_distance = SPEED_OF_LIGHT_KM_S / hubble_constant
    grid_z.setflags(write=False)
    distance = distance * hubble_distance
    distance.setflags(write=False)
    return grid_z, distance


PLANCK15 = Cosmology()
"""Planck 2015 (Planck Collaboration 2016, A&A 594, A13, Table 4, last column):
``H0 = 67.74`` km/s/Mpc, ``Om0 = 0.3075``."""
