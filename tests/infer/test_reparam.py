"""Reparameterizers (LocScale, Transform, Circular) and the divergence hints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

import hierax as numpyro
import hierax.distributions as dist
from hierax import handlers
from hierax.infer import MCMC, NUTS
from hierax.infer.hints import funnel_sites
from hierax.infer.reparam import CircularReparam, LocScaleReparam, TransformReparam

J = 8
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def centered(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def get_trace(model, *args, **kwargs):
    return handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(*args, **kwargs)


@pytest.mark.parametrize("centered_value", [0.0, 0.3])
def test_loc_scale_reparam_values(centered_value):
    model = handlers.reparam(centered, config={"theta": LocScaleReparam(centered_value)})
    tr = get_trace(model, J, SIGMA)
    assert tr["theta"]["type"] == "deterministic"
    assert tr["theta_decentered"]["value"].shape == (8,)
    mu, tau = tr["mu"]["value"], tr["tau"]["value"]
    x = tr["theta_decentered"]["value"]
    c = centered_value
    np.testing.assert_allclose(tr["theta"]["value"], mu + tau ** (1 - c) * (x - c * mu),
                               rtol=1e-5)
    decentered_fn = tr["theta_decentered"]["fn"]
    np.testing.assert_allclose(decentered_fn.log_prob(x),
                               dist.Normal(c * mu, tau**c).log_prob(x), rtol=1e-5)


def test_loc_scale_reparam_of_transformed_and_shape_params():
    def model():
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        with numpyro.plate("n", 3):
            numpyro.sample("r", dist.TransformedDistribution(dist.Normal(mu, 2.0),
                                                             dist.transforms.ExpTransform()))
            numpyro.sample("t", dist.StudentT(4.0, mu, 2.0))

    config = {"r": LocScaleReparam(0), "t": LocScaleReparam(0, shape_params=("df",))}
    tr = get_trace(handlers.reparam(model, config=config))
    mu = tr["mu"]["value"]
    np.testing.assert_allclose(tr["r"]["value"], jnp.exp(mu + 2.0 * tr["r_decentered"]["value"]),
                               rtol=1e-5)
    assert tr["t_decentered"]["fn"].base_dist.df == 4.0
    np.testing.assert_allclose(tr["t"]["value"], mu + 2.0 * tr["t_decentered"]["value"],
                               rtol=1e-5)


def test_loc_scale_reparam_errors():
    with pytest.raises(ValueError, match="centered=None.*centered=0"):
        LocScaleReparam()
    with pytest.raises(ValueError, match=r"centered must be in \[0, 1\]"):
        LocScaleReparam(2.0)

    def model():
        numpyro.sample("g", dist.Gamma(2.0, 1.0))

    with pytest.raises(TypeError, match="site 'g' has Gamma, which is not a location-scale"):
        get_trace(handlers.reparam(model, config={"g": LocScaleReparam(0)}))
    with pytest.raises(TypeError, match="site 'g' must have a TransformedDistribution"):
        get_trace(handlers.reparam(model, config={"g": TransformReparam()}))


def test_non_centering_removes_the_funnel():
    model = handlers.reparam(centered, config={"theta": LocScaleReparam(0)})
    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=500, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), J, SIGMA, y=Y)
    assert mcmc.num_divergences < 0.01 * 1000
    assert mcmc.get_samples()["theta"].shape == (1000, 8)
    assert mcmc.divergence_hints() == []


def test_funnel_hint_names_the_site(capsys):
    values = {"mu": jnp.array(0.0), "tau": jnp.array(1.0), "theta": jnp.zeros(8)}
    assert funnel_sites(centered, (J, SIGMA), {"y": Y}, values) == [("theta", ("J",), ("tau",))]
    mcmc = MCMC(NUTS(centered), num_warmup=300, num_samples=300, num_chains=2,
                chain_method="vectorized", progress_bar=True)
    mcmc.run(jax.random.PRNGKey(1), J, SIGMA, y=Y)
    assert mcmc.num_divergences > 0
    closing = capsys.readouterr().err
    assert "draws were divergent transitions" in closing
    assert "LocScaleReparam(centered=0)" in closing
    mcmc.print_summary()
    out = capsys.readouterr().out
    assert "Hint: the latent site 'theta' (in plate 'J') has a scale that depends on 'tau'" in out


def test_circular_reparam_samples_von_mises():
    def model():
        numpyro.sample("angle", dist.VonMises(3.0, 2.0))

    reparam_model = handlers.reparam(model, config={"angle": CircularReparam()})
    tr = get_trace(handlers.substitute(reparam_model, data={"angle_unwrapped": 4.0}))
    assert {"angle_unwrapped", "angle_factor", "angle"} <= set(tr)
    np.testing.assert_allclose(tr["angle"]["value"], 4.0 - 2 * np.pi, rtol=1e-6)
    mcmc = MCMC(NUTS(reparam_model), num_warmup=300, num_samples=1000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0))
    angles = np.asarray(mcmc.get_samples()["angle"])
    assert np.all((angles >= -np.pi) & (angles < np.pi))
    # circular mean resultant: E[cos(x - loc)] = I1(k) / I0(k)
    expected = scipy.special.i1(2.0) / scipy.special.i0(2.0)
    resultant = np.mean(np.cos(angles - 3.0))
    assert abs(resultant - expected) < 5 * np.std(np.cos(angles - 3.0)) / np.sqrt(500)
