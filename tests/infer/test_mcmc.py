"""NUTS/HMC through the MCMC driver on targets with known answers.

Tolerances come from Monte Carlo error: a posterior mean is checked to within
5 standard errors, ``5 * sd / sqrt(ESS)``, with ESS the rank-normalized bulk
ESS of the run itself (so a slowly mixing run gets no free pass: R-hat and a
minimum ESS are asserted too).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import hierax
import hierax.distributions as dist
from hierax.diagnostics import ess_bulk, rhat
from hierax.infer import HMC, MCMC, NUTS


def run_nuts(model, *args, num_chains=4, num_warmup=500, num_samples=1000, seed=0,
             kernel=None, **kwargs):
    kernel = kernel or NUTS(model)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *args, **kwargs)
    return mcmc


def assert_moments(draws, mean, sd, min_ess=400):
    """draws: (chains, draws, ...). Check mean within 5 MC s.e., sd within 10%, R-hat, ESS."""
    draws = np.asarray(draws)
    ess = np.atleast_1d(ess_bulk(draws))
    assert np.all(ess > min_ess), f"ESS too low: {ess}"
    assert np.all(np.atleast_1d(rhat(draws)) < 1.01)
    flat = draws.reshape((-1,) + draws.shape[2:])
    tolerance = 5 * np.asarray(sd) / np.sqrt(ess)
    np.testing.assert_array_less(np.abs(flat.mean(0) - mean), tolerance)
    np.testing.assert_allclose(flat.std(0), sd, rtol=0.1)


def test_standard_normal_1d():
    def model():
        hierax.sample("x", dist.Normal(0.0, 1.0))

    mcmc = run_nuts(model)
    assert_moments(mcmc.get_samples(group_by_chain=True)["x"], 0.0, 1.0)


def test_standard_normal_10d_with_scales():
    scales = jnp.logspace(-1, 1, 10)

    def model():
        hierax.sample("x", dist.Normal(0.0, scales))

    mcmc = run_nuts(model)
    assert_moments(mcmc.get_samples(group_by_chain=True)["x"], np.zeros(10), np.asarray(scales))


def test_correlated_gaussian_dense_mass_recovers_covariance():
    covariance = np.array([[1.0, 0.99], [0.99, 1.0]]) * np.array([[1.0, 3.0], [3.0, 9.0]])

    def model():
        hierax.sample("x", dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=covariance))

    mcmc = run_nuts(model, kernel=NUTS(model, dense_mass=True))
    draws = mcmc.get_samples(group_by_chain=True)["x"]
    assert_moments(draws, np.zeros(2), np.sqrt(np.diag(covariance)))
    inverse_mass = np.asarray(mcmc.last_state.kernel_state.inverse_mass_matrix[0])
    np.testing.assert_allclose(inverse_mass, covariance, rtol=0.25, atol=0.1)
    correlation = np.corrcoef(np.asarray(draws).reshape(-1, 2).T)[0, 1]
    assert abs(correlation - 0.99) < 0.005


def test_beta_bernoulli_conjugate():
    data = jnp.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], dtype=jnp.float32)

    def model(y):
        p = hierax.sample("p", dist.Beta(2.0, 2.0))
        with hierax.plate("n", y.shape[0]):
            hierax.sample("y", dist.Bernoulli(probs=p), obs=y)

    posterior = scipy.stats.beta(2 + data.sum(), 2 + len(data) - data.sum())
    mcmc = run_nuts(model, data)
    assert_moments(mcmc.get_samples(group_by_chain=True)["p"], posterior.mean(), posterior.std())


def test_gamma_poisson_conjugate():
    counts = jnp.array([3, 7, 4, 6, 5, 2, 8, 5], dtype=jnp.float32)

    def model(y):
        rate = hierax.sample("rate", dist.Gamma(2.0, 0.5))
        with hierax.plate("n", y.shape[0]):
            hierax.sample("y", dist.Poisson(rate), obs=y)

    posterior = scipy.stats.gamma(2 + float(counts.sum()), scale=1 / (0.5 + len(counts)))
    mcmc = run_nuts(model, counts)
    assert_moments(mcmc.get_samples(group_by_chain=True)["rate"], posterior.mean(),
                   posterior.std())


def logistic_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    y = (rng.uniform(size=60) < 1 / (1 + np.exp(-(0.5 + 1.5 * x)))).astype(np.float32)
    return x.astype(np.float32), y


def logistic_reference(x, y):
    """Posterior mean and sd of (a, b) by quadrature on a fine grid."""
    a = np.linspace(-3, 4, 561)
    b = np.linspace(-2, 6, 641)
    grid_a, grid_b = np.meshgrid(a, b, indexing="ij")
    logits = grid_a[..., None] + grid_b[..., None] * x
    log_like = np.sum(y * logits - np.logaddexp(0, logits), axis=-1)
    log_post = log_like + scipy.stats.norm(0, 2).logpdf(grid_a) + scipy.stats.norm(0, 2).logpdf(
        grid_b)
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    means = np.array([np.sum(weights * grid_a), np.sum(weights * grid_b)])
    sds = np.sqrt([np.sum(weights * grid_a**2) - means[0] ** 2,
                   np.sum(weights * grid_b**2) - means[1] ** 2])
    return means, sds


def test_logistic_regression():
    x, y = logistic_data()

    def model(x, y):
        a = hierax.sample("a", dist.Normal(0.0, 2.0))
        b = hierax.sample("b", dist.Normal(0.0, 2.0))
        with hierax.plate("n", x.shape[0]):
            hierax.sample("y", dist.Bernoulli(logits=a + b * x), obs=y)

    means, sds = logistic_reference(x, y)
    samples = run_nuts(model, x, y).get_samples(group_by_chain=True)
    assert_moments(samples["a"], means[0], sds[0])
    assert_moments(samples["b"], means[1], sds[1])


def test_hmc_fixed_trajectory():
    def model():
        hierax.sample("x", dist.Normal(jnp.array([1.0, -2.0]), jnp.array([0.5, 2.0])))

    mcmc = run_nuts(model, kernel=HMC(model, trajectory_length=1.5))
    assert_moments(mcmc.get_samples(group_by_chain=True)["x"], [1.0, -2.0], [0.5, 2.0],
                   min_ess=300)


# ----------------------------------------------------------------------------
# Eight schools (seed 001)

J = 8
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_noncentered(J, sigma, y=None):
    mu = hierax.sample("mu", dist.Normal(0, 5))
    tau = hierax.sample("tau", dist.HalfCauchy(5))
    with hierax.plate("J", J):
        theta_0 = hierax.sample("theta_0", dist.Normal(0, 1))
        theta = hierax.deterministic("theta", mu + theta_0 * tau)
        hierax.sample("obs", dist.Normal(theta, sigma), obs=y)


def eight_schools_centered(J, sigma, y=None):
    mu = hierax.sample("mu", dist.Normal(0, 5))
    tau = hierax.sample("tau", dist.HalfCauchy(5))
    with hierax.plate("J", J):
        theta = hierax.sample("theta", dist.Normal(mu, tau))
        hierax.sample("obs", dist.Normal(theta, sigma), obs=y)


def test_eight_schools_noncentered_posterior():
    mcmc = run_nuts(eight_schools_noncentered, J, SIGMA, y=Y, num_warmup=1000)
    samples = mcmc.get_samples()
    assert abs(float(samples["mu"].mean()) - 4.4) < 0.3
    assert abs(float(samples["tau"].mean()) - 3.6) < 0.3
    assert samples["theta"].shape == (4000, 8)
    assert mcmc.num_divergences < 0.01 * 4000


def test_eight_schools_centered_reports_divergences(capsys):
    mcmc = run_nuts(eight_schools_centered, J, SIGMA, y=Y, num_warmup=500)
    assert mcmc.num_divergences > 20
    mcmc.print_summary()
    out = capsys.readouterr().out
    assert f"Number of divergences: {mcmc.num_divergences}" in out
    assert "theta[7]" in out and "n_eff" in out and "r_hat" in out


# ----------------------------------------------------------------------------
# Mechanics: progress bar, recompilation, chain methods, continuation


def normal_model(y):
    mu = hierax.sample("mu", dist.Normal(0.0, 10.0))
    with hierax.plate("n", y.shape[0]):
        hierax.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_progress_bar_does_not_change_draws():
    y = jnp.array([0.3, 1.2, -0.4])
    draws = []
    for progress_bar in (True, False):
        mcmc = MCMC(NUTS(normal_model), num_warmup=100, num_samples=100,
                    progress_bar=progress_bar)
        mcmc.run(jax.random.PRNGKey(3), y)
        draws.append(np.asarray(mcmc.get_samples()["mu"]))
    np.testing.assert_array_equal(draws[0], draws[1])


def test_second_run_does_not_retrace():
    traces = []

    def counted(y):
        traces.append(1)
        normal_model(y)

    mcmc = MCMC(NUTS(counted), num_warmup=50, num_samples=50, num_chains=2,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), jnp.array([0.1, 0.2]))
    after_first = len(traces)
    mcmc.run(jax.random.PRNGKey(1), jnp.array([1.1, 1.2]))
    assert len(traces) - after_first <= 2, "the second run re-traced the sampler"
    assert float(mcmc.get_samples()["mu"].mean()) > 0.3  # it used the new data


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized", "parallel"])
def test_chain_methods_shapes(chain_method):
    mcmc = MCMC(NUTS(normal_model), num_warmup=30, num_samples=40, num_chains=3,
                chain_method=chain_method, progress_bar=False, thinning=2)
    with pytest.warns(UserWarning, match="runs them vectorized") if (
            chain_method == "parallel" and jax.local_device_count() < 3
            and jax.default_backend() != "cpu") else _nothing():
        mcmc.run(jax.random.PRNGKey(0), jnp.zeros(2))
    assert mcmc.get_samples(group_by_chain=True)["mu"].shape == (3, 20)
    assert mcmc.get_samples()["mu"].shape == (60,)
    fields = mcmc.get_extra_fields(group_by_chain=True)
    assert fields["diverging"].shape == (3, 20)
    assert fields["num_steps"].dtype == jnp.int32


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_parallel_chains_on_one_cpu_run_in_threads_with_the_sequential_draws():
    """On one CPU device, "parallel" runs each chain's loop in its own thread (with a
    progress bar per chain); the draws are exactly those of "sequential"."""
    if jax.local_device_count() > 1 or jax.default_backend() != "cpu":
        pytest.skip("needs a single CPU device")
    results = {}
    for method, progress in (("sequential", False), ("parallel", True)):
        mcmc = MCMC(NUTS(normal_model), num_warmup=60, num_samples=40, num_chains=3,
                    chain_method=method, progress_bar=progress)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mcmc.run(jax.random.PRNGKey(3), jnp.array([1.0, 2.0]))
        results[method] = (np.asarray(mcmc.get_samples(group_by_chain=True)["mu"]),
                           np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"]))
    assert mcmc.chain_method_used == "threads"
    np.testing.assert_array_equal(results["parallel"][0], results["sequential"][0])
    np.testing.assert_array_equal(results["parallel"][1], results["sequential"][1])
    # Continuing a threaded run gives the draws of an uninterrupted sequential one.
    longer = MCMC(NUTS(normal_model), num_warmup=60, num_samples=80, num_chains=3,
                  chain_method="sequential", progress_bar=False)
    longer.run(jax.random.PRNGKey(3), jnp.array([1.0, 2.0]))
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.run(jax.random.PRNGKey(3), jnp.array([1.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(mcmc.get_samples(group_by_chain=True)["mu"]),
                                  np.asarray(longer.get_samples(group_by_chain=True)["mu"])[:, 40:])


def test_sequential_and_vectorized_give_the_same_draws():
    results = []
    for method in ("sequential", "vectorized"):
        mcmc = MCMC(NUTS(normal_model), num_warmup=50, num_samples=50, num_chains=2,
                    chain_method=method, progress_bar=False)
        mcmc.run(jax.random.PRNGKey(5), jnp.array([1.0, 2.0]))
        results.append(np.asarray(mcmc.get_samples(group_by_chain=True)["mu"]))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-5)


def test_continuing_from_last_state_equals_a_longer_run():
    y = jnp.array([0.5, -0.5, 1.0])
    long = MCMC(NUTS(normal_model), num_warmup=50, num_samples=60, progress_bar=False)
    long.run(jax.random.PRNGKey(7), y)
    short = MCMC(NUTS(normal_model), num_warmup=50, num_samples=30, progress_bar=False)
    short.run(jax.random.PRNGKey(7), y)
    first_half = np.asarray(short.get_samples()["mu"])
    short.post_warmup_state = short.last_state
    short.run(short.post_warmup_state.rng_key, y)
    second_half = np.asarray(short.get_samples()["mu"])
    np.testing.assert_array_equal(np.concatenate([first_half, second_half]),
                                  np.asarray(long.get_samples()["mu"]))


def test_deterministic_sites_are_stored():
    mcmc = run_nuts(eight_schools_noncentered, J, SIGMA, y=Y, num_chains=1, num_warmup=50,
                    num_samples=20)
    samples = mcmc.get_samples()
    expected = samples["mu"][:, None] + samples["theta_0"] * samples["tau"][:, None]
    np.testing.assert_allclose(samples["theta"], expected, rtol=1e-5, atol=1e-5)


def test_argument_errors():
    with pytest.raises(ValueError, match="chain_method must be one of"):
        MCMC(NUTS(normal_model), num_warmup=1, num_samples=1, chain_method="threads")
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        MCMC(NUTS(normal_model), num_warmup=1, num_samples=0)
    with pytest.raises(ValueError, match="target_accept_prob must be in"):
        NUTS(normal_model, target_accept_prob=1.5)
    with pytest.raises(ValueError, match="exactly one of model= and potential_fn="):
        NUTS()
    mcmc = MCMC(NUTS(normal_model), num_warmup=1, num_samples=1)
    with pytest.raises(RuntimeError, match="call run"):
        mcmc.get_samples()


def test_discrete_and_delta_latents_are_refused():
    def discrete():
        hierax.sample("k", dist.Poisson(3.0))

    def delta():
        hierax.sample("d", dist.Delta(1.0))

    with pytest.raises(ValueError, match="latent site 'k' has a discrete distribution"):
        run_nuts(discrete, num_chains=1, num_warmup=1, num_samples=1)
    with pytest.raises(ValueError, match="latent site 'd' is a Delta.*deterministic"):
        run_nuts(delta, num_chains=1, num_warmup=1, num_samples=1)


def test_impossible_start_names_the_site():
    def model():
        x = hierax.sample("x", dist.Normal(0.0, 1.0))
        hierax.sample("obs", dist.Uniform(x + 100.0, x + 101.0), obs=0.0)

    with pytest.raises(ValueError, match="observed site 'obs': log density is -inf"):
        run_nuts(model, num_chains=1, num_warmup=1, num_samples=1)


def test_potential_fn_kernel():
    def potential(params):
        return 0.5 * jnp.sum((params["x"] - 3.0) ** 2)

    mcmc = MCMC(NUTS(potential_fn=potential), num_warmup=300, num_samples=1000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params={"x": jnp.zeros((2, 3))})
    draws = mcmc.get_samples(group_by_chain=True)["x"]
    assert draws.shape == (2, 1000, 3)
    assert_moments(draws, np.full(3, 3.0), np.ones(3))


def test_warmup_then_run_equals_a_single_run():
    y = jnp.array([0.5, -0.5])
    single = MCMC(NUTS(normal_model), num_warmup=40, num_samples=30, progress_bar=False)
    single.run(jax.random.PRNGKey(2), y)
    assert single.post_warmup_state is None  # run() alone keeps warming up on every call
    split = MCMC(NUTS(normal_model), num_warmup=40, num_samples=30, progress_bar=False)
    split.warmup(jax.random.PRNGKey(2), y)
    assert split.post_warmup_state is not None
    split.run(jax.random.PRNGKey(99), y)  # the chains keep their own keys
    np.testing.assert_array_equal(np.asarray(split.get_samples()["mu"]),
                                  np.asarray(single.get_samples()["mu"]))
    # The state a run starts from stays usable: a second run from it repeats the draws.
    first = np.asarray(split.get_samples()["mu"])
    jax.tree.map(np.asarray, split.post_warmup_state)
    split.run(jax.random.PRNGKey(99), y)
    np.testing.assert_array_equal(np.asarray(split.get_samples()["mu"]), first)


def test_collect_warmup_keeps_the_warmup_draws_and_changes_nothing_else():
    y = jnp.array([0.5, -0.5])
    plain = MCMC(NUTS(normal_model), num_warmup=40, num_samples=30, num_chains=2,
                 progress_bar=False)
    plain.run(jax.random.PRNGKey(2), y)
    mcmc = MCMC(NUTS(normal_model), num_warmup=40, num_samples=30, num_chains=2,
                progress_bar=False)
    mcmc.warmup(jax.random.PRNGKey(2), y, collect_warmup=True, extra_fields=("num_steps",))
    warm = mcmc.get_samples(group_by_chain=True)["mu"]
    steps = mcmc.get_extra_fields(group_by_chain=True)["num_steps"]
    assert warm.shape == (2, 40) and steps.shape == (2, 40)
    assert np.all(np.asarray(steps) >= 1) and np.unique(np.asarray(warm)).size > 60
    mcmc.run(jax.random.PRNGKey(99), y)  # sampling continues as if nothing was recorded
    np.testing.assert_array_equal(np.asarray(mcmc.get_samples()["mu"]),
                                  np.asarray(plain.get_samples()["mu"]))
    thinned = MCMC(NUTS(normal_model), num_warmup=40, num_samples=30, thinning=3,
                   progress_bar=False)
    thinned.warmup(jax.random.PRNGKey(2), y, collect_warmup=True)
    assert thinned.get_samples()["mu"].shape == (14,)  # iterations 0, 3, ..., 39


def test_typed_keys_and_init_params():
    mcmc = MCMC(NUTS(normal_model), num_warmup=20, num_samples=10, num_chains=2,
                progress_bar=False)
    mcmc.run(jax.random.key(0), jnp.zeros(2), init_params={"mu": jnp.array(0.3)})
    assert mcmc.get_samples()["mu"].shape == (20,)
    with pytest.raises(ValueError, match=r"init_params has 3 values; expected 1"):
        mcmc.run(jax.random.PRNGKey(0), jnp.zeros(2), init_params={"mu": jnp.zeros(3)})


def test_dense_mass_by_site_groups():
    covariance = np.array([[1.0, 0.9], [0.9, 1.0]])

    def model():
        hierax.sample("xy", dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=covariance))
        hierax.sample("z", dist.Normal(0.0, 3.0))

    mcmc = run_nuts(model, kernel=NUTS(model, dense_mass=[("xy",)]), num_chains=2)
    metric = np.asarray(mcmc.last_state.kernel_state.inverse_mass_matrix[0])
    assert metric.shape == (3, 3)
    # xy (flat entries 0, 1) is a dense block; z (entry 2) is not coupled to it
    assert abs(metric[0, 1]) > 0.3
    np.testing.assert_array_equal(metric[2, :2], 0.0)
    np.testing.assert_allclose(metric[2, 2], 9.0, rtol=0.3)
    with pytest.raises(ValueError, match=r"dense_mass names unknown latent sites \['w'\]"):
        run_nuts(model, kernel=NUTS(model, dense_mass=[("w",)]), num_chains=1,
                 num_warmup=10, num_samples=10)


def grouped_model(group, y=None):
    with hierax.plate("groups", np.unique(group).size):  # needs the concrete array
        mu = hierax.sample("mu", dist.Normal(0.0, 1.0))
    with hierax.plate("data", group.size):
        hierax.sample("y", dist.Normal(mu[group], 1.0), obs=y)


def test_models_that_need_concrete_array_arguments():
    group = np.array([0, 0, 1, 1, 2])
    mcmc = MCMC(NUTS(grouped_model), num_warmup=30, num_samples=20, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), group, y=np.zeros(5))
    assert mcmc.get_samples()["mu"].shape == (20, 3)
    strict = MCMC(NUTS(grouped_model), num_warmup=3, num_samples=3, progress_bar=False,
                  jit_model_args=True)
    with pytest.raises(ValueError, match="needs concrete values of its array arguments"):
        strict.run(jax.random.PRNGKey(0), group, y=np.zeros(5))
