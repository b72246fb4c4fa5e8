"""to_inference_data: groups and shapes, plate-named dims, ArviZ diagnostics agreeing with
hierax.diagnostics, LOO, NetCDF round trip, runs saved and loaded with their groups,
plotting, predictive groups and errors."""

import sys
import warnings
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import xarray

import hierax
import hierax.distributions as dist
from hierax import diagnostics, handlers
from hierax.infer import MCMC, NUTS, Predictive
from hierax.infer.arviz import _DimNames, to_inference_data
from hierax.infer.checkpoint import save

az = pytest.importorskip("arviz")

NUM_CHAINS, NUM_DRAWS, NUM_PRIOR = 2, 200, 100
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma, y=None):
    mu = hierax.sample("mu", dist.Normal(0.0, 5.0))
    tau = hierax.sample("tau", dist.HalfCauchy(5.0))
    with hierax.plate("J", sigma.shape[0]):
        theta_tilde = hierax.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = hierax.deterministic("theta", mu + tau * theta_tilde)
        hierax.sample("obs", dist.Normal(theta, sigma), obs=y)


@pytest.fixture(scope="module")
def run():
    mcmc = MCMC(NUTS(eight_schools), num_warmup=200, num_samples=NUM_DRAWS,
                num_chains=NUM_CHAINS, chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), SIGMA, y=Y)
    prior = Predictive(eight_schools, num_samples=NUM_PRIOR)(
        jax.random.PRNGKey(1), SIGMA)
    predictive = Predictive(eight_schools, mcmc.get_samples())(
        jax.random.PRNGKey(2), SIGMA)
    idata = to_inference_data(mcmc, prior=prior, posterior_predictive=predictive)
    return mcmc, prior, predictive, idata


def test_groups_shapes_and_values(run):
    mcmc, _, _, idata = run
    assert set(idata.groups()) == {"posterior", "sample_stats", "observed_data",
                                   "log_likelihood", "prior", "prior_predictive",
                                   "posterior_predictive"}
    samples = mcmc.get_samples(group_by_chain=True)
    assert set(idata.posterior.data_vars) == {"mu", "tau", "theta_tilde", "theta"}
    for name, value in samples.items():
        np.testing.assert_array_equal(idata.posterior[name].values, np.asarray(value))
    assert idata.posterior["theta"].shape == (NUM_CHAINS, NUM_DRAWS, 8)
    np.testing.assert_array_equal(idata.observed_data["obs"].values, Y)


def test_sample_stats_use_arviz_names(run):
    mcmc, _, _, idata = run
    fields = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    stats = idata.sample_stats
    assert set(stats.data_vars) == {"diverging", "energy", "tree_depth", "n_steps",
                                    "step_size", "lp", "acceptance_rate"}
    for arviz_name, name in [("diverging", "diverging"), ("energy", "energy"),
                             ("tree_depth", "tree_depth"), ("n_steps", "num_steps"),
                             ("step_size", "step_size"), ("acceptance_rate", "accept_prob")]:
        assert stats[arviz_name].shape == (NUM_CHAINS, NUM_DRAWS)
        np.testing.assert_array_equal(stats[arviz_name].values, fields[name])
    np.testing.assert_array_equal(stats["lp"].values, -fields["potential_energy"])
    assert stats["diverging"].dtype == np.bool_
    # tree_depth counts merged doublings; a rejected last doubling still adds its steps.
    depth, steps = stats["tree_depth"].values, stats["n_steps"].values
    assert np.all((2**depth - 1 <= steps) & (steps <= 2 ** (depth + 1) - 1))


def test_plate_names_the_same_dim_in_every_group(run):
    _, _, _, idata = run
    chain_draw_j = ("chain", "draw", "J")
    assert idata.posterior["theta"].dims == chain_draw_j
    assert idata.posterior["theta_tilde"].dims == chain_draw_j
    assert idata.posterior["mu"].dims == ("chain", "draw")
    assert idata.observed_data["obs"].dims == ("J",)
    assert idata.log_likelihood["obs"].dims == chain_draw_j
    assert idata.posterior_predictive["obs"].dims == chain_draw_j
    assert idata.prior["theta"].dims == ("chain", "draw", "J")
    for group in ("posterior", "observed_data", "log_likelihood", "posterior_predictive"):
        np.testing.assert_array_equal(idata[group]["J"].values, np.arange(8))


def test_log_likelihood_matches_scipy(run):
    _, _, _, idata = run
    theta = idata.posterior["theta"].values.astype(np.float64)
    expected = scipy.stats.norm(theta, SIGMA).logpdf(Y)
    np.testing.assert_allclose(idata.log_likelihood["obs"].values, expected, rtol=1e-5,
                               atol=1e-5)


def test_summary_agrees_with_hierax_diagnostics(run):
    mcmc, _, _, idata = run
    assert list(az.summary(idata, var_names=["mu", "tau"]).index) == ["mu", "tau"]
    # ArviZ folds float32 draws in float32 (|x - median|), hierax in float64; on float64
    # copies of the same draws both give the same ranks, hence the same diagnostics.
    table = az.summary(idata.posterior.astype(np.float64), var_names=["mu", "tau", "theta"],
                       round_to="none")
    samples = mcmc.get_samples(group_by_chain=True)
    for name in ("mu", "tau", "theta"):
        draws = np.asarray(samples[name])
        rows = [name] if draws.ndim == 2 else [f"{name}[{j}]" for j in range(draws.shape[2])]
        for column, ours in [("ess_bulk", diagnostics.ess_bulk(draws)),
                             ("ess_tail", diagnostics.ess_tail(draws)),
                             ("r_hat", diagnostics.rhat(draws))]:
            np.testing.assert_allclose(table.loc[rows, column].to_numpy(),
                                       np.ravel(ours), rtol=1e-6, err_msg=f"{name} {column}")
        np.testing.assert_allclose(table.loc[rows, "mean"].to_numpy(),
                                   np.ravel(draws.astype(np.float64).mean(axis=(0, 1))),
                                   rtol=1e-5)


def test_loo_is_below_the_in_sample_log_predictive_density(run):
    _, _, _, idata = run
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = az.loo(idata, pointwise=True)
    assert loo["n_data_points"] == 8 and loo["n_samples"] == NUM_CHAINS * NUM_DRAWS
    assert np.isfinite(loo["elpd_loo"])
    ll = idata.log_likelihood["obs"].values.astype(np.float64).reshape(-1, 8)
    lppd = scipy.special.logsumexp(ll, axis=0) - np.log(ll.shape[0])
    # Importance weights decrease with the likelihood, so each leave-one-out
    # predictive density is at most the in-sample one.
    assert np.all(loo["loo_i"].values <= lppd + 1e-6)
    np.testing.assert_allclose(loo["p_loo"], lppd.sum() - loo["elpd_loo"], rtol=1e-4)


def test_netcdf_round_trip(run, tmp_path):
    _, _, _, idata = run
    path = tmp_path / "x.nc"
    idata.to_netcdf(path)
    loaded = az.from_netcdf(path)
    assert set(loaded.groups()) == set(idata.groups())
    for group in idata.groups():
        original, restored = idata[group], loaded[group]
        assert set(restored.data_vars) == set(original.data_vars)
        for name in original.data_vars:
            assert restored[name].dims == original[name].dims
            np.testing.assert_array_equal(restored[name].values, original[name].values)


def assert_same_group(actual, expected):
    """Same variables, dims, coordinates, values and dtypes; attributes but ``created_at``."""
    xarray.testing.assert_identical(actual.assign_attrs(created_at=None),
                                    expected.assign_attrs(created_at=None))
    for name, variable in expected.variables.items():
        assert actual[name].dtype == variable.dtype, name


def test_saved_run_keeps_every_group(run, tmp_path):
    mcmc, prior, predictive, idata = run
    path = tmp_path / "run.nc"
    save(mcmc, path, prior=prior, posterior_predictive=predictive)
    saved = hierax.load(path)
    assert set(saved.groups) == set(idata.groups()) - {"sample_stats"}
    restored = to_inference_data(saved)
    assert set(restored.groups()) == set(idata.groups())
    for group in idata.groups():
        assert_same_group(restored[group], idata[group])
    assert "log_likelihood" not in to_inference_data(saved, log_likelihood=False).groups()
    # Draws given for a loaded run replace the saved ones (no plates known: default dims).
    replaced = to_inference_data(saved, prior={"mu": np.ones(3), "obs": np.zeros((3, 8))})
    assert set(replaced.prior.data_vars) == {"mu"}
    assert replaced.prior_predictive["obs"].dims == ("chain", "draw", "obs_dim_0")

    # ArviZ reads the same groups from the file (sample_stats keeps hierax's names there).
    from_file = az.from_netcdf(path)
    for group in set(idata.groups()) - {"sample_stats"}:
        assert_same_group(from_file[group], idata[group])
    assert from_file.sample_stats["accept_prob"].dims == ("chain", "draw")


def test_saved_run_keeps_user_coords_and_dims(run, tmp_path):
    mcmc, _, _, _ = run
    extras = {"log_likelihood": False, "coords": {"school": np.array(list("ABCDEFGH"))},
              "dims": {"theta": ["school"], "obs": ["school"]}}
    expected = to_inference_data(mcmc, **extras)
    path = tmp_path / "run.nc"
    save(mcmc, path, **extras)
    restored = to_inference_data(hierax.load(path))
    assert set(restored.groups()) == {"posterior", "sample_stats", "observed_data"}
    for group in expected.groups():
        assert_same_group(restored[group], expected[group])


def test_plots_run_with_agg_backend(run):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, _, idata = run
    try:
        axes = az.plot_posterior(idata, var_names=["mu"])
        assert np.size(axes) == 1
        axes = az.plot_forest(idata, var_names=["mu", "tau"], ess=True)
        assert np.size(axes) == 2
    finally:
        plt.close("all")


def test_prior_and_posterior_predictive_groups(run):
    _, prior, predictive, idata = run
    assert set(idata.prior.data_vars) == {"mu", "tau", "theta_tilde", "theta"}
    assert set(idata.prior_predictive.data_vars) == {"obs"}
    assert idata.prior["mu"].shape == (1, NUM_PRIOR)
    np.testing.assert_array_equal(idata.prior_predictive["obs"].values[0],
                                  np.asarray(prior["obs"]))
    obs = idata.posterior_predictive["obs"]
    assert obs.shape == (NUM_CHAINS, NUM_DRAWS, 8)
    np.testing.assert_array_equal(obs.values.reshape(-1, 8), np.asarray(predictive["obs"]))
    # The draws of chain c follow the posterior draws of chain c (theta is recomputed).
    np.testing.assert_allclose(idata.posterior_predictive["theta"].values,
                               idata.posterior["theta"].values, rtol=1e-5, atol=1e-5)


def test_predictive_layouts(run):
    mcmc, _, _, _ = run
    grouped = {"obs": np.zeros((NUM_CHAINS, NUM_DRAWS, 8))}
    other = {"obs": np.zeros((50, 8))}
    kept = to_inference_data(mcmc, posterior_predictive=grouped, log_likelihood=False)
    assert kept.posterior_predictive["obs"].shape == (NUM_CHAINS, NUM_DRAWS, 8)
    single = to_inference_data(mcmc, posterior_predictive=other, log_likelihood=False)
    assert single.posterior_predictive["obs"].shape == (1, 50, 8)


def test_user_coords_and_dims_override_plates(run):
    mcmc, _, _, _ = run
    schools = np.array(list("ABCDEFGH"))
    idata = to_inference_data(mcmc, log_likelihood=False, coords={"school": schools},
                              dims={"theta": ["school"], "obs": ["school"]})
    assert idata.posterior["theta"].dims == ("chain", "draw", "school")
    assert idata.observed_data["obs"].dims == ("school",)
    np.testing.assert_array_equal(idata.posterior["school"].values, schools)
    assert idata.posterior["theta_tilde"].dims == ("chain", "draw", "J")


def test_explicit_model_arguments_replace_the_run_arguments(run):
    mcmc, _, _, _ = run
    y_new = Y + 1.0
    idata = to_inference_data(mcmc, model_args=(SIGMA,), model_kwargs={"y": y_new})
    np.testing.assert_array_equal(idata.observed_data["obs"].values, y_new)
    theta = idata.posterior["theta"].values.astype(np.float64)
    np.testing.assert_allclose(idata.log_likelihood["obs"].values,
                               scipy.stats.norm(theta, SIGMA).logpdf(y_new), rtol=1e-5,
                               atol=1e-5)


def test_without_observations_there_are_no_observation_groups(run):
    mcmc, _, _, _ = run
    idata = to_inference_data(mcmc, model_kwargs={})
    assert "observed_data" not in idata.groups()
    assert "log_likelihood" not in idata.groups()


def test_dim_names_of_event_dims_and_nested_plates():
    def model():
        with hierax.plate("A", 2, dim=-2), hierax.plate("B", 5):
            hierax.sample("z", dist.Normal(0.0, 1.0))
        with hierax.plate("N", 4):
            hierax.sample("x", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
        hierax.deterministic("d", jnp.zeros((2, 5)))

    model_trace = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    names = _DimNames(model_trace)
    assert names.names("z", (2, 5)) == ["A", "B"]
    assert names.names("x", (4, 3)) == ["N", "x_dim_1"]
    assert names.names("x", (4,), batch_only=True) == ["N"]
    # A size that disagrees with the plate (e.g. predictions on new data) is not named after it.
    assert names.names("x", (6, 3)) == ["x_dim_0", "x_dim_1"]
    assert names.names("d", (2, 5)) == ["d_dim_0", "d_dim_1"]
    assert names.names("unknown", (7,)) == ["unknown_dim_0"]
    np.testing.assert_array_equal(names.coords["B"], np.arange(5))


class _PotentialRun:
    """The results an MCMC run on a ``potential_fn`` offers: draws and statistics, no model."""

    sampler = SimpleNamespace(model=None, potential_fn=lambda params: 0.0)

    def get_samples(self, group_by_chain=False):
        return {"x": np.arange(15.0).reshape(1, 5, 3)}

    def get_extra_fields(self, group_by_chain=False):
        return {"diverging": np.zeros((1, 5), bool), "potential_energy": np.full((1, 5), 2.5)}


def test_run_without_model_has_posterior_and_sample_stats_only():
    idata = to_inference_data(_PotentialRun(), posterior_predictive={"y": np.ones((5, 2))})
    assert set(idata.groups()) == {"posterior", "sample_stats", "posterior_predictive"}
    assert idata.posterior["x"].dims == ("chain", "draw", "x_dim_0")
    assert set(idata.sample_stats.data_vars) == {"diverging", "lp"}
    np.testing.assert_array_equal(idata.sample_stats["lp"].values, np.full((1, 5), -2.5))
    assert idata.posterior_predictive["y"].shape == (1, 5, 2)


def test_user_errors(run):
    mcmc, _, _, _ = run
    with pytest.raises(TypeError, match="expected a hierax MCMC object, got dict"):
        to_inference_data({"mu": np.zeros(3)})
    with pytest.raises(TypeError, match="prior must be a dict site -> array"):
        to_inference_data(mcmc, prior=[np.zeros(3)], log_likelihood=False)
    with pytest.raises(ValueError, match="posterior_predictive site 'obs' has shape"):
        to_inference_data(mcmc, posterior_predictive={"obs": 1.0}, log_likelihood=False)
    with pytest.raises(RuntimeError, match="call run"):
        to_inference_data(MCMC(NUTS(eight_schools), num_warmup=1, num_samples=1,
                               progress_bar=False))


def test_missing_arviz_names_the_extra(run, monkeypatch):
    mcmc, _, _, _ = run
    monkeypatch.setitem(sys.modules, "arviz", None)
    with pytest.raises(ImportError, match=r'pip install "hierax\[plot\]"'):
        to_inference_data(mcmc)
