"""The model code of the tutorials (seeds 001-004), written for NumPyro, runs on hierax
by changing the import, and its sites have the shapes the tutorials print."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax as numpyro
import hierax.distributions as dist
from hierax import handlers
from hierax.distributions import MixtureGeneral, TransformedDistribution
from hierax.distributions.transforms import AffineTransform
from hierax.handlers import condition, reparam
from hierax.infer import Predictive
from hierax.infer.reparam import TransformReparam


def site_shapes(model, *args, seed=0, **kwargs):
    tr = handlers.trace(handlers.seed(model, rng_seed=seed)).get_trace(*args, **kwargs)
    return {name: jnp.shape(site["value"]) for name, site in tr.items()}


# ----------------------------------------------------------------------------
# Seed 001: eight schools

J = 8
y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def es_0(J, sigma):
    mu = numpyro.sample('mu', dist.Normal(0, 5))
    tau = numpyro.sample('tau', dist.HalfCauchy(5))

    with numpyro.plate('J', J):
        theta = numpyro.sample('theta', dist.Normal(mu, tau))
        numpyro.sample('obs', dist.Normal(theta, sigma))


def es_1(J, sigma):
    mu = numpyro.sample('mu', dist.Normal(0, 5))
    tau = numpyro.sample('tau', dist.HalfCauchy(5))

    with numpyro.plate('J', J):
        theta_0 = numpyro.sample('theta_0', dist.Normal(0, 1))
        theta = numpyro.deterministic('theta', mu + theta_0 * tau)
        numpyro.sample('obs', dist.Normal(theta, sigma))


def es_2(J, sigma):
    mu = numpyro.sample('mu', dist.Normal(0, 5))
    tau = numpyro.sample('tau', dist.HalfCauchy(5))

    with numpyro.plate('J', J):
        with reparam(config={'theta': TransformReparam()}):
            theta = numpyro.sample(
                'theta',
                TransformedDistribution(dist.Normal(0., 1.), AffineTransform(mu, tau)))
        numpyro.sample('obs', dist.Normal(theta, sigma))


def test_seed001_prior_predictive_shapes_and_moments():
    samples = Predictive(es_0, num_samples=1000)(jax.random.PRNGKey(0), J, sigma)
    assert samples['mu'].shape == (1000,)
    assert samples['tau'].shape == (1000,)
    assert samples['theta'].shape == (1000, 8)
    assert samples['obs'].shape == (1000, 8)
    assert abs(float(jnp.mean(samples['mu']))) < 5 * 5 / np.sqrt(1000)
    assert abs(float(jnp.var(samples['mu'])) - 25) < 5 * 25 * np.sqrt(2 / 1000)


def test_seed001_manual_and_handler_reparam_sites():
    shapes = site_shapes(es_1, J, sigma)
    assert shapes == {'mu': (), 'tau': (), 'theta_0': (8,), 'theta': (8,), 'obs': (8,)}
    shapes = site_shapes(es_2, J, sigma)
    assert shapes == {'mu': (), 'tau': (), 'theta_base': (8,), 'theta': (8,), 'obs': (8,)}
    samples = Predictive(es_2, num_samples=200)(jax.random.PRNGKey(1), J, sigma)
    assert samples['theta'].shape == (200, 8) and samples['theta_base'].shape == (200, 8)


def test_seed001_reparam_values_are_affine_of_base():
    tr = handlers.trace(handlers.seed(es_2, rng_seed=3)).get_trace(J, sigma)
    expected = tr['mu']['value'] + tr['tau']['value'] * tr['theta_base']['value']
    np.testing.assert_allclose(tr['theta']['value'], expected, rtol=1e-6)
    assert tr['theta']['type'] == 'deterministic'


def test_seed001_condition():
    conditioned = condition(es_0, data={'obs': y})
    tr = handlers.trace(handlers.seed(conditioned, rng_seed=0)).get_trace(J, sigma)
    assert tr['obs']['is_observed']
    np.testing.assert_array_equal(tr['obs']['value'], y)


# ----------------------------------------------------------------------------
# Seed 002: linear regression with outliers; Gaia distances


def linear_model(x, yerr, y=None):
    theta = numpyro.sample("theta", dist.Uniform(-0.5 * jnp.pi, 0.5 * jnp.pi))
    b_perp = numpyro.sample("b_perp", dist.Normal(0, 1))
    m = numpyro.deterministic("m", jnp.tan(theta))
    b = numpyro.deterministic("b", b_perp / jnp.cos(theta))
    with numpyro.plate("data", len(x)):
        numpyro.sample("y", dist.Normal(m * x + b, yerr), obs=y)


def linear_mixture_member_prob_model(x, yerr, y=None):
    theta = numpyro.sample("theta", dist.Uniform(-0.5 * jnp.pi, 0.5 * jnp.pi))
    b_perp = numpyro.sample("b_perp", dist.Normal(0.0, 1.0))
    m = numpyro.deterministic("m", jnp.tan(theta))
    b = numpyro.deterministic("b", b_perp / jnp.cos(theta))
    fg_dist = dist.Normal(m * x + b, yerr)
    bg_mean = numpyro.sample("bg_mean", dist.Normal(0.0, 1.0))
    bg_sigma = numpyro.sample("bg_sigma", dist.HalfNormal(3.0))
    bg_dist = dist.Normal(bg_mean, jnp.sqrt(bg_sigma**2 + yerr**2))
    Q = numpyro.sample("Q", dist.Uniform(0.0, 1.0))
    mixture = MixtureGeneral(
        dist.Categorical(probs=jnp.array([Q, 1.0 - Q])), [fg_dist, bg_dist]
    )
    with numpyro.plate("data", len(x)):
        y_ = numpyro.sample("obs", mixture, obs=y)

    log_probs = mixture.component_log_probs(y_)
    numpyro.deterministic(
        "p", log_probs - jax.nn.logsumexp(log_probs, axis=-1, keepdims=True)
    )


def gaia_single_model(plx_err, plx=None, plx_zp=0.0, L=370.0):
    normed = numpyro.sample("normed", dist.Chi2(6))
    distance = numpyro.deterministic("r", 0.5 * L * normed)
    numpyro.sample("plx", dist.Normal(1000.0 / distance + plx_zp, plx_err), obs=plx)


def gaia_cluster_model(plx_err, plx=None, plx_zp=0.0):
    log_L = numpyro.sample("log_L", dist.Normal(np.log(370.0), 2.0))
    log_D = numpyro.sample("log_D", dist.Normal(np.log(920.0), 2.0))
    log_sigma = numpyro.sample("log_sigma", dist.Normal(0.0, 2.0))
    Q = numpyro.sample("Q", dist.Uniform(0.0, 1.0))
    L = numpyro.deterministic("L", jnp.exp(log_L))
    numpyro.deterministic("D", jnp.exp(log_D))
    numpyro.deterministic("approx_size", jnp.exp(log_sigma + log_D))
    with numpyro.plate("stars", len(plx_err)):
        dist_bg = dist.TransformedDistribution(
            dist.Chi2(6),
            dist.transforms.AffineTransform(
                0.0, 0.5 * L, domain=dist.constraints.positive
            ),
        )
        dist_fg = dist.TransformedDistribution(
            dist.Normal(log_D, jnp.exp(log_sigma)),
            dist.transforms.ExpTransform(),
        )
        mixture = MixtureGeneral(
            dist.Categorical(probs=jnp.stack((Q, 1 - Q), axis=-1)),
            [dist_fg, dist_bg],
        )
        r = numpyro.sample("r", mixture)
        log_probs = mixture.component_log_probs(r)
        numpyro.deterministic(
            "p", log_probs - jax.nn.logsumexp(log_probs, axis=-1, keepdims=True)
        )
        plx_true = numpyro.deterministic("plx_true", 1000.0 / r + plx_zp)
        numpyro.sample("plx_obs", dist.Normal(plx_true, plx_err), obs=plx)


def test_seed002_linear_models():
    x = np.sort(np.random.default_rng(0).uniform(-3, 3, 50))
    yerr = np.full(50, 0.2)
    shapes = site_shapes(linear_model, x, yerr)
    assert shapes == {'theta': (), 'b_perp': (), 'm': (), 'b': (), 'y': (50,)}
    shapes = site_shapes(linear_mixture_member_prob_model, x, yerr, y=np.zeros(50))
    assert shapes['obs'] == (50,) and shapes['p'] == (50, 2)


def test_seed002_gaia_models():
    plx_err = np.linspace(0.01, 0.5, 40).astype(np.float32)
    shapes = site_shapes(gaia_single_model, 0.1)
    assert shapes == {'normed': (), 'r': (), 'plx': ()}
    prior_pred = Predictive(gaia_cluster_model, num_samples=50)(
        jax.random.PRNGKey(11), plx_err, plx_zp=-0.02)
    assert prior_pred['r'].shape == (50, 40)
    assert prior_pred['p'].shape == (50, 40, 2)
    assert prior_pred['plx_obs'].shape == (50, 40)
    assert bool(jnp.all(prior_pred['r'] > 0))


def test_seed002_cluster_log_density_and_gradient_are_finite():
    from hierax.infer.util import log_density

    plx_err = np.linspace(0.01, 0.5, 40).astype(np.float32)
    plx = np.full(40, 1.1, np.float32)
    params = {'log_L': 5.9, 'log_D': 6.7, 'log_sigma': -3.0, 'Q': 0.4,
              'r': jnp.linspace(50.0, 5000.0, 40)}

    def joint(params):
        return log_density(gaia_cluster_model, (plx_err,), {'plx': plx}, params)[0]

    value, grads = jax.value_and_grad(joint)(params)
    assert jnp.isfinite(value)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))


# ----------------------------------------------------------------------------
# Seed 003: linear regressions and the hierarchical HR diagram

min_dist, max_dist = 100.0, 2000.0
E_parallax = 1e-4
logtemp0 = 4.0
mag0 = 10.0
gain = 1e4


def model(X, Y, E):
    m = numpyro.sample("m", numpyro.distributions.Uniform(-5, 5))
    c = numpyro.sample("c", numpyro.distributions.Uniform(-10, 10))
    y_model = m * X + c
    with numpyro.plate('data', len(X)):
        numpyro.sample('y', numpyro.distributions.Normal(y_model, E), obs=Y)


def model_XYerr(X, Y, E_X, E_Y):
    angle = numpyro.sample('angle', numpyro.distributions.Uniform(-jnp.pi / 2, jnp.pi / 2))
    b_perp = numpyro.sample('b_perp', numpyro.distributions.Uniform(-5, 5))
    m = numpyro.deterministic("m", jnp.tan(angle))
    c = numpyro.deterministic("c", b_perp / jnp.cos(angle))
    with numpyro.plate('data', len(X)):
        x_model = numpyro.sample('x', numpyro.distributions.Normal(X, E_X))
        y_model = m * x_model + c
        numpyro.sample('y', numpyro.distributions.Normal(y_model, E_Y), obs=Y)


def HRmodel(cluster_index, logtemps, parallax=None, fluxcounts=None):
    slope = numpyro.sample('slope', dist.Uniform(-10, 0))
    offset = numpyro.sample('offset', dist.Uniform(-10, 10))
    spread = numpyro.sample('spread', dist.HalfNormal(2.5))

    n_clusters = np.unique(cluster_index).size
    n_stars = cluster_index.size

    with numpyro.plate("clusters", n_clusters):
        distance = numpyro.sample(
            'root_dist', dist.DoublyTruncatedPowerLaw(alpha=2.0, low=min_dist, high=max_dist))
        dist_mod = jnp.log10(distance / 10) * 5.0
        numpyro.sample('parallax', dist.Normal(jnp.power(distance, -1), E_parallax),
                       obs=parallax)

    with numpyro.plate('stars', n_stars):
        absolute_magnitude = numpyro.sample(
            'absolute_magnitude', dist.Normal((logtemps - logtemp0) * slope + offset, spread))
        apparent_magnitude = numpyro.deterministic(
            'apparent_magnitude', absolute_magnitude + dist_mod[cluster_index])
        fluxmag = numpyro.deterministic('fluxmag', -(apparent_magnitude - mag0) / 2.5)
        flux = jnp.power(10, fluxmag) * gain
        numpyro.sample('fluxcounts', dist.Poisson(flux), obs=fluxcounts)


def test_seed003_regressions():
    X = np.linspace(0, 10, 20)
    assert site_shapes(model, X, 2 * X + 1, np.ones(20))['y'] == (20,)
    shapes = site_shapes(model_XYerr, X, 2 * X + 1, np.full(20, 0.5), np.ones(20))
    assert shapes['x'] == (20,) and shapes['m'] == () and shapes['y'] == (20,)


def test_seed003_hr_model():
    cluster_index = np.repeat(np.arange(5), 6)
    logtemps = np.random.default_rng(0).uniform(3.6, 4.2, cluster_index.size)
    shapes = site_shapes(HRmodel, cluster_index, logtemps)
    assert shapes['root_dist'] == (5,) and shapes['parallax'] == (5,)
    assert shapes['absolute_magnitude'] == (30,) and shapes['fluxcounts'] == (30,)
    draws = Predictive(HRmodel, num_samples=100)(jax.random.PRNGKey(0), cluster_index, logtemps)
    assert bool(jnp.all((draws['root_dist'] >= min_dist) & (draws['root_dist'] <= max_dist)))


# ----------------------------------------------------------------------------
# Seed 004: the Bayesian workflow with Predictive


def linear_regression_model(x, y=None):
    """y = a*x + b + noise. We observe (x, y); infer a, b, sigma."""
    a = numpyro.sample("a", dist.Normal(0.0, 2.0))
    b = numpyro.sample("b", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    mu = a * x + b
    numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


def test_seed004_predictive_with_fixed_params_and_prior():
    x_grid = jnp.linspace(-2, 2, 50)
    fixed = Predictive(
        linear_regression_model,
        num_samples=4,
        params={"a": jnp.array(1.5), "b": jnp.array(-0.5), "sigma": jnp.array(0.3)},
    )(jax.random.PRNGKey(2), x=x_grid)
    assert fixed["y"].shape == (4, 50)
    residuals = fixed["y"] - (1.5 * x_grid - 0.5)
    assert abs(float(jnp.std(residuals)) - 0.3) < 5 * 0.3 / np.sqrt(2 * 200)
    prior = Predictive(linear_regression_model, num_samples=20)(jax.random.PRNGKey(3), x=x_grid)
    assert prior["y"].shape == (20, 50) and prior["a"].shape == (20,)


def test_seed004_posterior_predictive_uses_the_draws():
    x_grid = jnp.linspace(-2, 2, 50)
    posterior = {"a": jnp.full(300, 1.5), "b": jnp.full(300, -0.5), "sigma": jnp.full(300, 1e-3)}
    draws = Predictive(linear_regression_model, posterior_samples=posterior,
                       num_samples=300)(jax.random.PRNGKey(4), x=x_grid)
    assert set(draws) == {"y"}
    np.testing.assert_allclose(draws["y"].mean(0), 1.5 * x_grid - 0.5, atol=1e-3)


@pytest.mark.parametrize("parallel", [False, True])
def test_predictive_recomputes_deterministic_sites(parallel):
    posterior = {"mu": jnp.arange(5.0), "tau": jnp.ones(5), "theta_0": jnp.zeros((5, 8)),
                 "theta": jnp.full((5, 8), 99.0)}
    draws = Predictive(es_1, posterior_samples=posterior, parallel=parallel)(
        jax.random.PRNGKey(0), J, sigma)
    np.testing.assert_allclose(draws["theta"], jnp.broadcast_to(jnp.arange(5.0)[:, None], (5, 8)))
    assert draws["obs"].shape == (5, 8)
