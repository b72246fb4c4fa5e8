import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from hierax.pop.cosmology import PLANCK15, SPEED_OF_LIGHT_KM_S, Cosmology

H0, OM = 67.74, 0.3075
DH = SPEED_OF_LIGHT_KM_S / H0


def hogg_comoving_distance(z):
    return DH * quad(lambda x: 1 / np.sqrt(OM * (1 + x) ** 3 + 1 - OM), 0, z,
                     epsabs=0, epsrel=1e-12)[0]


REDSHIFTS = np.array([0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0])


def test_against_hogg_quadrature(x64):
    dc = np.array([hogg_comoving_distance(z) for z in REDSHIFTS])
    e = np.sqrt(OM * (1 + REDSHIFTS) ** 3 + 1 - OM)
    z = jnp.asarray(REDSHIFTS)
    np.testing.assert_allclose(PLANCK15.comoving_distance(z), dc, rtol=2e-5)
    np.testing.assert_allclose(PLANCK15.luminosity_distance(z), (1 + REDSHIFTS) * dc, rtol=2e-5)
    np.testing.assert_allclose(PLANCK15.differential_comoving_volume(z),
                               4 * np.pi * DH * dc**2 / e / 1e9, rtol=5e-5)
    np.testing.assert_allclose(PLANCK15.comoving_volume(z), 4 * np.pi / 3 * dc**3 / 1e9,
                               rtol=5e-5)
    np.testing.assert_allclose(PLANCK15.efunc(z), e, rtol=1e-12)
    # Planck 2015 check value: D_L(z = 1) is about 6.7 Gpc
    assert 6600 < float(PLANCK15.luminosity_distance(1.0)) < 6800


def test_inverse_round_trip(x64):
    z = jnp.linspace(0.001, 9.0, 101)
    back = PLANCK15.redshift_at_luminosity_distance(PLANCK15.luminosity_distance(z))
    np.testing.assert_allclose(back, z, rtol=1e-4)  # two linear interpolations


def test_dtype_jit_and_grad(float_dtype):
    z = jnp.asarray([0.2, 1.0, 3.0], dtype=float_dtype)
    assert PLANCK15.luminosity_distance(z).dtype == float_dtype
    assert PLANCK15.differential_comoving_volume(z).dtype == float_dtype
    jitted = jax.jit(PLANCK15.luminosity_distance)(z)
    np.testing.assert_allclose(jitted, PLANCK15.luminosity_distance(z), rtol=1e-6)
    grad = jax.vmap(jax.grad(PLANCK15.comoving_distance))(z)
    e = np.sqrt(OM * (1 + np.asarray(z, np.float64)) ** 3 + 1 - OM)
    np.testing.assert_allclose(grad, DH / e, rtol=2e-3)  # dD_C/dz = D_H / E(z)


def test_invalid_cosmology():
    with pytest.raises(ValueError, match="hubble_constant must be > 0"):
        Cosmology(hubble_constant=-1.0)
    with pytest.raises(ValueError, match="matter_density"):
        Cosmology(matter_density=1.5)
