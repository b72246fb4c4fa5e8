"""NUTS within Gibbs: exact marginals with a step-shaped site, chain methods, errors, resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax.diagnostics import ess_bulk, rhat
from hierax.infer import MCMC, NUTSWithinGibbs
from hierax.infer.gibbs import NUTSWithinGibbsState
from hierax.infer.resumable import CheckpointedRun, SegmentStore

# "s" has the piecewise-constant density 1/2 on [0, 1/2), 3/2 on [1/2, 1]: a sharp step.
STEP_MEAN = (0.5 * 0.25 + 3 * 0.5 * 0.75) / 2.0
STEP_VARIANCE = (1 * 0.5**3 / 3 + 3 * (1 - 0.5**3) / 3) / 2.0 - STEP_MEAN**2
# Given s, "xy" is Gaussian around (s, 2 s) with this covariance (correlation 0.6).
COVARIANCE = np.array([[1.0, 1.2], [1.2, 4.0]])
SHIFT = np.array([1.0, 2.0])


def model():
    s = hierax.sample("s", dist.Uniform(0.0, 1.0))
    hierax.factor("step", jnp.where(s >= 0.5, jnp.log(3.0), 0.0))
    hierax.sample("xy", dist.MultivariateNormal(s * jnp.asarray(SHIFT), COVARIANCE))


# Exact marginals: xy = SHIFT s + e, e ~ N(0, COVARIANCE) independent of s.
EXACT_MEAN = {"s": STEP_MEAN, "x": SHIFT[0] * STEP_MEAN, "y": SHIFT[1] * STEP_MEAN}
EXACT_VARIANCE = {"s": STEP_VARIANCE,
                  "x": COVARIANCE[0, 0] + SHIFT[0] ** 2 * STEP_VARIANCE,
                  "y": COVARIANCE[1, 1] + SHIFT[1] ** 2 * STEP_VARIANCE}


def make_mcmc(num_warmup=300, num_samples=1000, num_chains=4, chain_method="vectorized",
              **kernel_options):
    kernel = NUTSWithinGibbs(model, slice_sites=["s"], **kernel_options)
    return MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=chain_method, progress_bar=False)


@pytest.fixture(scope="module")
def fitted():
    mcmc = make_mcmc()
    mcmc.run(jax.random.PRNGKey(7))
    return mcmc


def _within_monte_carlo_error(draws, exact, what, num_errors=5.0):
    """``draws`` ``(chains, n)`` estimate ``exact`` within ``num_errors`` Monte Carlo
    standard errors (standard deviation / sqrt(bulk ESS))."""
    error = draws.std() / np.sqrt(ess_bulk(draws))
    assert abs(draws.mean() - exact) < num_errors * error, (what, draws.mean(), exact, error)


def test_marginal_means_and_variances_are_exact(fitted):
    samples = {k: np.asarray(v) for k, v in fitted.get_samples(group_by_chain=True).items()}
    columns = {"s": samples["s"], "x": samples["xy"][..., 0], "y": samples["xy"][..., 1]}
    for name, draws in columns.items():
        assert rhat(draws) < 1.01, name
        _within_monte_carlo_error(draws, EXACT_MEAN[name], f"mean of {name}")
        # The variance is the mean of the squared deviations from the exact mean.
        _within_monte_carlo_error((draws - EXACT_MEAN[name]) ** 2, EXACT_VARIANCE[name],
                                  f"variance of {name}")
    # The step itself: a quarter of the mass below 1/2.
    _within_monte_carlo_error((columns["s"] >= 0.5).astype(float), 0.75, "P(s >= 1/2)")
    # Both blocks mix: NUTS on the smooth block, slice sampling on the step.
    assert ess_bulk(columns["y"]) > 800
    assert ess_bulk(columns["s"]) > 1500


def test_statistics_and_adapted_state(fitted):
    fields = {k: np.asarray(v) for k, v in fitted.get_extra_fields(group_by_chain=True).items()}
    assert fields["expansions"].shape == fields["contractions"].shape == (4, 1000, 1)
    assert not fields["diverging"].any()
    assert 2 <= fields["num_evaluations"].mean() < 10  # one direction, ~5 evaluations
    assert 1 <= fields["tree_depth"].max() < fitted.sampler.max_tree_depth
    assert np.all(fields["num_steps"] >= 1)
    assert 0.6 < fields["accept_prob"].mean() < 0.99
    state = fitted.last_state.kernel_state
    assert isinstance(state, NUTSWithinGibbsState)
    # The flat layout sorts sites: "s" (index 0) is sliced, "xy" (1, 2) goes to NUTS.
    assert state.position.shape == (4, 3)
    assert state.slice_widths.shape == (4, 1)
    assert state.inverse_mass_matrix.shape == (4, 2)
    # The adapted NUTS metric is the variance of xy given s, about diag(COVARIANCE).
    np.testing.assert_allclose(np.asarray(state.inverse_mass_matrix).mean(0),
                               np.diag(COVARIANCE), rtol=0.5)
    np.testing.assert_array_equal(fields["step_size"][:, -1], np.asarray(state.step_size))


def test_the_nuts_update_recomputes_the_gradient_after_the_slice_update(fitted):
    """A transition never reads the cached gradient: continuing the chains from states
    whose gradient is wrong makes the draws of continuing them from the right one."""
    state = fitted.last_state
    program = fitted._program
    kernel_state = state.kernel_state
    wrong = state._replace(kernel_state=kernel_state._replace(
        potential_energy_grad=jnp.full_like(kernel_state.potential_energy_grad, 1e3)))
    runs = []
    for start in (state, wrong):
        mcmc = make_mcmc()  # the fixture's program, from the compilation cache
        mcmc.post_warmup_state = start
        mcmc.run(jax.random.PRNGKey(7))
        runs.append(mcmc)
    for name, value in runs[0].get_samples(group_by_chain=True).items():
        np.testing.assert_array_equal(runs[1].get_samples(group_by_chain=True)[name], value)
    # Each transition leaves the state with the potential and gradient of its position.
    end = runs[0].last_state.kernel_state
    energy, grad = jax.vmap(jax.value_and_grad(lambda z: program.potential(z, ())))(
        end.position)
    np.testing.assert_allclose(end.potential_energy, energy, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(end.potential_energy_grad, grad[:, program.nuts_indices],
                               rtol=1e-4, atol=1e-4)


def test_vectorized_and_sequential_chains_make_the_same_draws(fitted):
    """The same key gives every chain the same draws one chain after another (the
    fixture's run is vectorized)."""
    sequential = make_mcmc(chain_method="sequential")
    sequential.run(jax.random.PRNGKey(7))
    vectorized = {k: np.asarray(v) for k, v in fitted.get_samples(group_by_chain=True).items()}
    for name, draws in sequential.get_samples(group_by_chain=True).items():
        # Rounding differs between the batched and the single-chain program; compare
        # the first 200 draws, before such differences could grow.
        np.testing.assert_allclose(np.asarray(draws)[:, :200], vectorized[name][:, :200],
                                   rtol=1e-4, atol=1e-5)
    fields = sequential.get_extra_fields(group_by_chain=True)
    for name in ("num_steps", "num_evaluations", "tree_depth"):
        np.testing.assert_array_equal(
            np.asarray(fields[name])[:, :200],
            np.asarray(fitted.get_extra_fields(group_by_chain=True)[name])[:, :200])
    assert not np.array_equal(vectorized["s"][0], vectorized["s"][1])


def test_a_resumed_checkpointed_run_makes_the_draws_of_an_uninterrupted_one(fitted, tmp_path):
    def checkpointed(resume):
        mcmc = make_mcmc()
        run = CheckpointedRun(mcmc, tmp_path / "state", resume=resume, segment_seconds=1e9,
                              max_segment_draws=1000, log=lambda message: None)
        run.run(jax.random.PRNGKey(7))
        return mcmc, run

    first, _ = checkpointed(resume=False)
    store = SegmentStore(tmp_path / "state")
    phases = [store.read(i).meta["phase"] for i in store.indices()]
    assert phases[-3:] == ["warmup", "warmup", "sample"]
    # Lose the last warmup segment and the sampling: the run resumes inside the warmup,
    # from the adaptation state saved with the segment before.
    store.remove_from(len(phases) - 2)
    resumed, run = checkpointed(resume=True)
    assert 0 < run.resumed_from < 300
    for mcmc in (first, resumed):
        for name, value in fitted.get_samples(group_by_chain=True).items():
            np.testing.assert_array_equal(mcmc.get_samples(group_by_chain=True)[name], value)
        for name, value in fitted.get_extra_fields(group_by_chain=True).items():
            np.testing.assert_array_equal(mcmc.get_extra_fields(group_by_chain=True)[name],
                                          value)


@pytest.mark.parametrize(
    "slice_sites, match",
    [
        ([], "at least one latent site"),
        (None, "at least one latent site"),
        (["s", "s"], "names a site twice"),
    ],
)
def test_invalid_slice_sites_at_construction(slice_sites, match):
    with pytest.raises(ValueError, match=match):
        NUTSWithinGibbs(model, slice_sites=slice_sites)


@pytest.mark.parametrize(
    "slice_sites, match",
    [
        (["edge"], r"unknown latent sites \['edge'\]; the latent sites are \['s', 'xy'\]"),
        (["s", "xy"], "covers every latent site.*use Slice"),
    ],
)
def test_invalid_slice_sites_for_the_model(slice_sites, match):
    mcmc = MCMC(NUTSWithinGibbs(model, slice_sites=slice_sites), num_warmup=1, num_samples=1,
                progress_bar=False)
    with pytest.raises(ValueError, match=match):
        mcmc.run(jax.random.PRNGKey(0))


def test_other_invalid_settings():
    with pytest.raises(ValueError, match="exactly one of model= and potential_fn="):
        NUTSWithinGibbs(slice_sites=["s"])
    with pytest.raises(ValueError, match="target_accept_prob"):
        NUTSWithinGibbs(model, ["s"], target_accept_prob=1.5)
    with pytest.raises(ValueError, match="width must be positive"):
        NUTSWithinGibbs(model, ["s"], slice_width=0.0)


def test_potential_fn_over_a_dict_of_parameters():
    def potential(params):
        return 0.5 * (params["a"] ** 2 + jnp.sum(params["b"] ** 2))

    mcmc = MCMC(NUTSWithinGibbs(potential_fn=potential, slice_sites="a", max_tree_depth=5),
                num_warmup=50, num_samples=200, num_chains=2, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params={"a": jnp.zeros(2), "b": jnp.zeros((2, 2))})
    samples = mcmc.get_samples(group_by_chain=True)
    assert samples["a"].shape == (2, 200) and samples["b"].shape == (2, 200, 2)
    for draws in (samples["a"], samples["b"][..., 0], samples["b"][..., 1]):
        _within_monte_carlo_error(np.asarray(draws), 0.0, "standard normal mean")
