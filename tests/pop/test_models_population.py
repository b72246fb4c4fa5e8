"""PopulationModel: names, mixture rate density, normalisation, sampling, jit/vmap/grad."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from hierax.pop.models import PopulationModel
from hierax.pop.parameters import parameter_names

SEED_000_NAMES = {"log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0"}

MASS_HYPER = {
    "log_rate_0": 2.0, "alpha_pl_0": 2.3, "beta_pl_0": 1.0, "mmin_pl_0": 5.0, "mmax_pl_0": 80.0,
    "log_rate_1": 0.5, "m1_loc_g_0": 35.0, "m2_loc_g_0": 30.0, "m1_scale_g_0": 4.0,
    "m2_scale_g_0": 5.0, "m1_low_g_0": 20.0, "m1_high_g_0": 60.0, "m2_low_g_0": 10.0,
    "m2_high_g_0": 50.0,
}


def _marginal_hyper(family):
    f = f"{family}_0"
    return {
        f"a_1_mean_{f}": 0.3, f"a_1_variance_{f}": 0.02, f"a_2_mean_{f}": 0.4,
        f"a_2_variance_{f}": 0.03, f"cos_tilt_zeta_{f}": 0.6, f"cos_tilt_1_scale_{f}": 0.5,
        f"cos_tilt_2_scale_{f}": 0.7, f"eccentricity_loc_{f}": 0.0,
        f"eccentricity_scale_{f}": 0.1, f"eccentricity_low_{f}": 0.0,
        f"eccentricity_high_{f}": 1.0, f"redshift_gamma_{f}": 2.7, f"redshift_kappa_{f}": 5.6,
        f"redshift_z_peak_{f}": 1.9, f"redshift_z_max_{f}": 3.0,
    }


FULL_MODEL = PopulationModel(1, 1, spin=True, tilt=True, eccentricity=True,
                             redshift="madau_dickinson", smoothing=True)
FULL_HYPER = {**MASS_HYPER, "delta_pl_0": 3.0, **_marginal_hyper("pl"), **_marginal_hyper("g")}


def test_names_follow_seed_000_and_gwkokab():
    model = PopulationModel()
    assert set(model.hyperparameter_names) == SEED_000_NAMES
    assert model.parameter_names == ("mass_1_source", "mass_2_source")
    assert FULL_MODEL.parameter_names == parameter_names(spin=True, tilt=True, eccentricity=True,
                                                         redshift=True)
    assert set(FULL_MODEL.hyperparameter_names) == set(FULL_HYPER)
    assert FULL_MODEL.n_components == 2
    assert PopulationModel(1, 1) == PopulationModel(1, 1)
    assert hash(PopulationModel(1, 1)) == hash(PopulationModel(1, 1))
    eccentric = PopulationModel(0, 1, eccentricity="power_law", redshift=True)
    assert {"eccentricity_alpha_g_0", "redshift_kappa_g_0", "redshift_z_max_g_0"} <= set(
        eccentric.hyperparameter_names)


def test_hyperparameter_and_option_errors():
    model = PopulationModel(1, 1)
    hyper = dict(MASS_HYPER)
    model.check_hyperparameters(hyper)
    with pytest.raises(ValueError, match=r"missing: \['alpha_pl_0'\]"):
        model.check_hyperparameters({k: v for k, v in hyper.items() if k != "alpha_pl_0"})
    with pytest.raises(ValueError, match=r"unknown: \['alpha_pl_7'\]"):
        model.check_hyperparameters({**hyper, "alpha_pl_7": 1.0})
    with pytest.raises(ValueError, match="missing hyperparameters.*m2_high_g_0"):
        model.log_rate_density(jnp.ones((3, 2)), {k: v for k, v in hyper.items()
                                                   if k != "m2_high_g_0"})
    with pytest.raises(ValueError, match=r"theta must have shape \(\.\.\., 2\)"):
        model.log_rate_density(jnp.ones((3, 4)), hyper)
    with pytest.raises(ValueError, match="redshift must be"):
        PopulationModel(redshift="gaussian")
    with pytest.raises(ValueError, match="at least one component"):
        PopulationModel(0, 0)
    with pytest.raises(ValueError, match="n_g must be an int"):
        PopulationModel(1, -1)


def test_mass_mixture_integrates_to_total_rate(x64):
    model = PopulationModel(1, 1)
    hyper = {k: jnp.asarray(v) for k, v in MASS_HYPER.items()}
    density = jax.jit(lambda theta: jnp.exp(model.log_rate_density(theta, hyper)))
    nodes, weights = special.roots_legendre(96)

    def inner(m1):
        edges = [5.0] + [b for b in (10.0, 20.0, 30.0) if b < m1] + [m1]
        total = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            m2 = lo + (hi - lo) * (nodes + 1) / 2
            theta = np.stack([np.full_like(m2, m1), m2], -1)
            total += (hi - lo) / 2 * np.sum(weights * np.asarray(density(theta)))
        return total

    value, _ = integrate.quad(inner, 5.0, 80.0, points=[20.0, 35.0, 60.0], limit=200,
                              epsrel=1e-10)
    expected = math.exp(MASS_HYPER["log_rate_0"]) + math.exp(MASS_HYPER["log_rate_1"])
    assert value == pytest.approx(expected, rel=1e-7)
    assert float(model.expected_number(hyper, 2.0)) == pytest.approx(2 * expected, rel=1e-12)
    # vmap over a batch of hyperparameters matches one-at-a-time evaluation.
    theta = jnp.asarray([[30.0, 25.0], [50.0, 12.0], [40.0, 45.0]])
    batched = {k: jnp.stack([v, v]) for k, v in hyper.items()}
    batched["log_rate_0"] = jnp.asarray([2.0, 3.0])
    per_batch, single = jax.jit(lambda t, b, h: (
        jax.vmap(model.log_rate_density, in_axes=(None, 0))(t, b), model.log_rate_density(t, h)
    ))(theta, batched, hyper)
    np.testing.assert_allclose(per_batch[0], single, rtol=1e-12)
    assert np.all(per_batch[1][:2] > per_batch[0][:2]) and np.all(np.isneginf(per_batch[:, 2]))


@pytest.mark.slow
def test_full_model_density_factorises_and_is_jit_vmap_grad_safe(x64):
    hyper = {k: jnp.asarray(v) for k, v in FULL_HYPER.items()}
    theta, labels = jax.jit(FULL_MODEL.sample, static_argnums=2)(jax.random.PRNGKey(0), hyper,
                                                                 4000)
    assert theta.shape == (4000, 8) and labels.dtype == jnp.int32
    assert np.all(theta[:, 1] <= theta[:, 0]) and np.all(np.isfinite(theta))
    # Labels follow R_k V_k / sum: binomial, 5 standard errors.
    log_weights = [FULL_HYPER[f"log_rate_{k}"] + float(FULL_MODEL._log_volumes(hyper)[k])
                   for k in range(2)]
    share = 1 / (1 + math.exp(log_weights[0] - log_weights[1]))
    assert abs(np.mean(labels) - share) < 5 * math.sqrt(share * (1 - share) / 4000)
    # Outside the support: -inf, with finite gradients everywhere.
    bad = theta[:4].at[0, 1].set(200.0).at[1, 2].set(1.5).at[2, 4].set(-2.0).at[3, 7].set(9.0)
    points = jnp.concatenate([bad, theta[4:40]])
    rho, manual, grads = _full_model_checks(points, hyper)
    # log rho = logsumexp_k(ln R_k + ln p_k + ln V_k), with p_k the normalised components.
    np.testing.assert_allclose(rho, manual, rtol=1e-9)
    assert np.all(np.isneginf(rho[:4])) and np.all(np.isfinite(rho[4:]))
    assert all(np.isfinite(g) for g in grads.values())


@jax.jit
def _full_model_checks(points, hyper):
    """One compilation for: log rho, its factorised form and its gradient."""
    rho = FULL_MODEL.log_rate_density(points, hyper)
    volumes = FULL_MODEL._log_volumes(hyper)
    manual = jax.scipy.special.logsumexp(jnp.stack([
        hyper[f"log_rate_{k}"] + dist.log_prob(points) + volumes[k]
        for k, dist in enumerate(FULL_MODEL.components(hyper))], -1), axis=-1)
    mask = jnp.isfinite(rho)
    grads = jax.grad(lambda h: jnp.sum(jnp.where(
        mask, FULL_MODEL.log_rate_density(points, h), 0.0)))(hyper)
    return rho, manual, grads


def test_redshift_total_rate_and_float32():
    model = PopulationModel(1, 0, redshift=True)
    hyper = {k: jnp.float32(v) for k, v in MASS_HYPER.items() if k.endswith("pl_0")}
    hyper.update(log_rate_0=jnp.float32(3.0), redshift_kappa_pl_0=jnp.float32(2.0),
                 redshift_z_max_pl_0=jnp.float32(2.0))
    number = jax.jit(model.expected_number)(hyper, 1.5)
    assert number.dtype == jnp.float32
    with jax.enable_x64(True):
        hyper64 = {k: jnp.float64(v) for k, v in hyper.items()}
        z = np.linspace(0.0, 2.0, 2001)
        theta = jnp.asarray(np.stack([np.full_like(z, 20.0), np.full_like(z, 10.0), z], -1))
        rate = np.exp(np.asarray(jax.jit(model.log_rate_density)(theta, hyper64)))
        volume = integrate.simpson(rate, x=z) / _pl_density(20.0, 10.0)
    assert float(number) == pytest.approx(1.5 * volume, rel=1e-4)
    theta, _ = model.sample(jax.random.key(1), hyper, 100)
    assert theta.dtype == jnp.float32 and np.all((theta[:, 2] >= 0) & (theta[:, 2] <= 2.0))


def _pl_density(m1, m2, alpha=2.3, beta=1.0, mmin=5.0, mmax=80.0):
    p_m1 = m1**-alpha * (1 - alpha) / (mmax ** (1 - alpha) - mmin ** (1 - alpha))
    q = m2 / m1
    p_q = q**beta * (1 + beta) / (1 - (mmin / m1) ** (1 + beta))
    return p_m1 * p_q / m1
