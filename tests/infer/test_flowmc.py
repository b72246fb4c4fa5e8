"""FlowMC: flowMC's local-global sampler on hierax models, tuned by a NUTS warmup.

One flowMC run (module fixture) on a model with three independent parts whose
posterior is known exactly:

- ``x``: a 2-D Gaussian with correlation 0.8;
- ``scale``: LogNormal(0, 0.5), a positive (constrained) site;
- ``b``: a 1-D mixture 0.3 N(-3, 0.4) + 0.7 N(3, 0.4). Its modes are 15 sd
  apart, so local MALA steps never cross; the mode weights are right only if
  the flow's global moves carry chains between the modes.

Tolerances are 5 Monte Carlo standard errors, with the bulk ESS of the
flowMC chains (hierax.diagnostics) as the effective number of draws.
"""

import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax.diagnostics import ess_bulk
from hierax.infer import MCMC, NUTS

pytest.importorskip("flowMC")

from hierax.infer.flowmc import FlowMC  # noqa: E402
from hierax.infer.flowmc_bundle import _local_kernel_arguments, make_log_density  # noqa: E402

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])
WEIGHTS = np.array([0.3, 0.7])
LOCS = np.array([-3.0, 3.0])
MIX_SD = 0.4
LOG_SD = 0.5

SMALL_RUN = dict(n_chains=16, n_local_steps=20, n_global_steps=20, n_training_loops=4,
                 n_production_loops=6, n_epochs=10, batch_size=256, n_max_examples=2000,
                 rq_spline_hidden_units=(16, 16), rq_spline_n_layers=2, warmup_steps=200,
                 progress_bar=False)

SEED_BUNDLE_CONFIG = {  # seed 000's flowMC_config.json
    "chain_batch_size": 0, "n_chains": 100, "batch_size": 10000, "n_epochs": 4,
    "n_max_examples": 200000, "history_window": 2000, "n_NFproposal_batch_size": 50,
    "n_global_steps": 100, "n_local_steps": 100, "n_production_loops": 10,
    "n_training_loops": 10, "global_thinning": 4, "local_thinning": 4,
    "local_sampler_name": "hmc", "step_size": 0.01, "condition_matrix": 1.0, "n_leapfrog": 5,
    "rq_spline_hidden_units": [64, 64], "rq_spline_n_bins": 10, "rq_spline_n_layers": 8,
    "rq_spline_range": [-10.0, 10.0], "learning_rate": 0.001, "verbose": False,
}


def three_part_model():
    hierax.sample("x", dist.MultivariateNormal(jnp.asarray(MEAN), jnp.asarray(COV)))
    hierax.sample("scale", dist.LogNormal(0.0, LOG_SD))
    hierax.sample("b", dist.MixtureSameFamily(dist.Categorical(probs=jnp.asarray(WEIGHTS)),
                                              dist.Normal(jnp.asarray(LOCS), MIX_SD)))


@pytest.fixture(scope="module")
def flow_run():
    sampler = FlowMC(three_part_model, **SMALL_RUN)
    sampler.run(jax.random.PRNGKey(0))
    samples = {k: np.asarray(v) for k, v in sampler.get_samples(group_by_chain=True).items()}
    return sampler, samples


def _mean_tolerance(chains):
    """5 Monte Carlo standard errors of the mean of ``(chains, draws)`` draws."""
    return 5 * np.std(chains) / np.sqrt(ess_bulk(chains))


def _sd_tolerance(chains):
    """5 standard errors of the sample sd: var(s^2) ~ (m4 - s^4) / ESS, delta method."""
    centred = chains - np.mean(chains)
    variance = np.mean(centred**2)
    fourth = np.mean(centred**4)
    return 5 * np.sqrt((fourth - variance**2) / ess_bulk(chains)) / (2 * np.sqrt(variance))


@pytest.mark.slow
def test_gaussian_moments_and_correlation(flow_run):
    _, samples = flow_run
    x = samples["x"]
    assert x.shape == (16, 6 * 40, 2)
    for i in range(2):
        assert abs(x[..., i].mean() - MEAN[i]) < _mean_tolerance(x[..., i])
        assert abs(x[..., i].std() - 1.0) < _sd_tolerance(x[..., i])
    flat = x.reshape(-1, 2)
    # Correlation 0.8: the sd of the sample correlation is (1 - rho^2) / sqrt(n).
    ess = min(ess_bulk(x[..., 0]), ess_bulk(x[..., 1]))
    assert abs(np.corrcoef(flat.T)[0, 1] - 0.8) < 5 * (1 - 0.8**2) / np.sqrt(ess)


@pytest.mark.slow
def test_positive_site_is_returned_constrained(flow_run):
    sampler, samples = flow_run
    scale = samples["scale"]
    assert np.all(scale > 0)
    true_mean = np.exp(LOG_SD**2 / 2)
    true_sd = np.sqrt((np.exp(LOG_SD**2) - 1) * np.exp(LOG_SD**2))
    assert abs(scale.mean() - true_mean) < _mean_tolerance(scale)
    assert abs(scale.std() - true_sd) < _sd_tolerance(scale)
    # log(scale) is the unconstrained coordinate: N(0, 0.5).
    log_scale = np.log(scale)
    assert abs(log_scale.mean()) < _mean_tolerance(log_scale)
    assert np.all(np.isfinite(np.asarray(sampler.get_extra_fields()["potential_energy"])))


@pytest.mark.slow
def test_global_moves_give_the_mixture_weights(flow_run):
    sampler, samples = flow_run
    upper = (samples["b"] > 0).astype(float)
    ess = ess_bulk(upper)
    # The test has power only if chains switch modes often: require a real ESS.
    assert ess > 100
    assert abs(upper.mean() - WEIGHTS[1]) < 5 * np.sqrt(WEIGHTS[0] * WEIGHTS[1] / ess)
    switches = np.abs(np.diff(upper, axis=1)).sum(axis=1)
    assert np.all(switches > 0)  # every chain visits both modes
    # Within a mode, the spread is the component's.
    lower_draws = samples["b"][samples["b"] < 0]
    assert abs(lower_draws.mean() - LOCS[0]) < 5 * MIX_SD / np.sqrt(ess * WEIGHTS[0])
    fields = sampler.get_extra_fields(group_by_chain=True)
    assert fields["global_move"].shape == (16, 240)
    assert 0 < int(np.sum(fields["global_move"])) < fields["global_move"].size
    assert sampler.acceptance["production"]["global"] > 0.05


@pytest.mark.slow
def test_agrees_with_nuts_within_a_fifth_of_a_posterior_sd(flow_run):
    """The issue's acceptance 3, on the unimodal sites (NUTS cannot cross b's modes)."""
    _, samples = flow_run
    mcmc = MCMC(NUTS(three_part_model), num_warmup=400, num_samples=500, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1))
    nuts = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}
    for name in ("x", "scale"):
        flow = samples[name].reshape((-1,) + samples[name].shape[2:])
        gap = np.abs(flow.mean(0) - nuts[name].mean(0))
        assert np.all(gap < 0.2 * flow.std(0)), (name, gap, flow.std(0))


@pytest.mark.slow
def test_summary_reports_ess_rhat_and_which_draws(flow_run, capsys):
    sampler, _ = flow_run
    sampler.print_summary()
    text = capsys.readouterr().out
    assert "n_eff" in text and "r_hat" in text
    assert "production-phase draws" in text
    assert "acceptance (local/global), production" in text
    assert "production-phase" in sampler.posterior_draws
    assert sampler.local_tuning.starts.shape == (16, 4)
    assert sampler.local_tuning.inverse_mass_matrix.shape == (4,)


@pytest.mark.slow
def test_same_key_gives_the_same_draws(flow_run):
    sampler, samples = flow_run
    # A typed key with the same bits as PRNGKey(0); the second run reuses the compiled steps.
    sampler.run(jax.random.key(0))
    again = sampler.get_samples(group_by_chain=True)
    for name, value in samples.items():
        np.testing.assert_array_equal(np.asarray(again[name]), value)


# -- cheap checks: no sampling ------------------------------------------------------


def test_missing_flowmc_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "flowMC", None)
    with pytest.raises(ImportError, match=r'pip install "hierax\[flow\]"'):
        FlowMC(three_part_model)


def test_results_before_run_are_an_error():
    with pytest.raises(RuntimeError, match="call run"):
        FlowMC(three_part_model).get_samples()


@pytest.mark.parametrize("kwargs, message", [
    ({"n_chains": 0}, "n_chains must be a positive int"),
    ({"n_local_steps": 4, "local_thinning": 5}, "local_thinning=5 exceeds n_local_steps=4"),
    ({"local_sampler": "nuts"}, "local_sampler must be 'mala' or 'hmc'"),
    ({"warmup_steps": 0}, "warmup_steps=0 needs an explicit step_size"),
    ({"step_size": -0.1}, "step_size must be a positive"),
    ({"rq_spline_range": (3.0, 1.0)}, "rq_spline_range"),
])
def test_bad_settings_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FlowMC(three_part_model, **kwargs)


def test_seed_bundle_config_maps_to_flowmc_06_and_warns_about_unused_keys():
    with pytest.warns(UserWarning) as record:
        sampler = FlowMC.from_bundle_config(three_part_model, {
            "data_dump": {"n_samples": 10000}, "bundle_config": SEED_BUNDLE_CONFIG})
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert any("data_dump {'n_samples': 10000} has no effect" in m for m in messages)
    assert any("step_size and condition_matrix (replaced by" in m for m in messages)
    settings = sampler.settings
    assert settings["local_sampler"] == "hmc" and settings["n_leapfrog"] == 5
    assert settings["n_chains"] == 100 and settings["history_window"] == 2000
    assert tuple(settings["rq_spline_range"]) == (-10.0, 10.0)
    assert sampler.step_size is None and sampler.inverse_mass_matrix is None


def test_config_local_tuning_uses_the_hand_tuned_values_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = FlowMC.from_bundle_config(three_part_model, SEED_BUNDLE_CONFIG,
                                            local_tuning="config", warmup_steps=50)
    assert float(sampler.step_size) == 0.01
    assert float(sampler.inverse_mass_matrix) == 1.0
    assert sampler.settings["warmup_steps"] == 50


def test_bundle_config_errors_and_mala_leapfrog_warning():
    with pytest.raises(ValueError, match=r"unknown keys \['n_chain'\]"):
        FlowMC.from_bundle_config(three_part_model, {"n_chain": 3})
    with pytest.raises(ValueError, match="local_sampler_name must be 'mala' or 'hmc'"):
        FlowMC.from_bundle_config(three_part_model, {"local_sampler_name": "gibbs"})
    config = {**SEED_BUNDLE_CONFIG, "local_sampler_name": "MALA"}
    with pytest.warns(UserWarning, match="n_leapfrog"):
        sampler = FlowMC.from_bundle_config(three_part_model, config)
    assert sampler.settings["local_sampler"] == "mala"


def test_local_kernels_take_the_warmup_metric():
    metric = np.array([4.0, 0.25])
    mala = _local_kernel_arguments({"local_sampler": "mala", "adapt_step_size": True}, 0.5,
                                   metric, 7, jnp.float32)
    np.testing.assert_allclose(mala["mala_step_size"], [1.0, 0.25])
    assert mala["mala_step_size"].dtype == jnp.float32
    assert mala["adapt_step_size_per_dim"] is False
    hmc = _local_kernel_arguments({"local_sampler": "hmc", "adapt_step_size": False}, 0.5,
                                  metric, 7, jnp.float32)
    np.testing.assert_allclose(hmc["condition_matrix"], metric)
    assert hmc["hmc_step_size"] == 0.5 and hmc["hmc_n_leapfrog"] == 7


def test_whitened_log_density_is_the_model_density_at_l_times_y():
    from hierax.infer.program import ModelProgram

    program = ModelProgram(three_part_model, (), {}, rng_key=jax.random.PRNGKey(0))
    dynamic = program.split.dynamic
    cholesky = jnp.array([[1.0, 0.0, 0.0, 0.0], [0.5, 2.0, 0.0, 0.0],
                          [0.0, 0.3, 1.5, 0.0], [0.1, 0.0, 0.2, 0.7]])
    y = jnp.array([0.3, -0.2, 0.5, 0.1])
    whitened = make_log_density(program, whitened=True)(y, {"dynamic": dynamic,
                                                           "cholesky": cholesky})
    plain = make_log_density(program, whitened=False)(cholesky @ y, {"dynamic": dynamic})
    np.testing.assert_allclose(whitened, plain, rtol=1e-6)
    np.testing.assert_allclose(plain, -program.potential(cholesky @ y, dynamic), rtol=1e-6)
