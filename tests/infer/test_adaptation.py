"""Tests of Stan-style warmup: schedule, dual averaging, Welford, step-size heuristic."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.infer.kernels import (
    build_schedule,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
    init,
    make_kernel,
    run_sampling,
    run_warmup,
    welford_covariance,
    welford_init,
    welford_update,
    window_adaptation,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az


def ess_per_dim(draws):
    draws = np.asarray(draws, dtype=np.float64)
    return np.array([az.ess(draws[..., i]) for i in range(draws.shape[-1])])


def assert_moments(draws, mean, variance, num_se=5.0):
    """Mean and variance of ``(chains, draws, d)`` draws within ``num_se`` MC errors."""
    draws = np.asarray(draws, dtype=np.float64)
    flat = draws.reshape(-1, draws.shape[-1])
    mean_error = num_se * flat.std(0) / np.sqrt(ess_per_dim(draws))
    np.testing.assert_array_less(np.abs(flat.mean(0) - mean), mean_error)
    squares = (draws - mean) ** 2
    flat_sq = squares.reshape(-1, draws.shape[-1])
    var_error = num_se * flat_sq.std(0) / np.sqrt(ess_per_dim(squares))
    np.testing.assert_array_less(np.abs(flat_sq.mean(0) - variance), var_error)


def gaussian_potential(scales):
    def potential(x):
        return 0.5 * jnp.sum((x / scales.astype(x.dtype)) ** 2)

    return potential


# ---------------------------------------------------------------------------- schedule


def test_schedule_matches_stan_for_1000_iterations():
    schedule = build_schedule(1000)
    assert schedule.windows == ((75, 100), (100, 150), (150, 250), (250, 450), (450, 950))
    assert [stop - start for start, stop in schedule.windows] == [25, 50, 100, 200, 500]
    assert schedule.slow.shape == (1000,) and schedule.slow.sum() == 875
    assert not schedule.slow[:75].any() and not schedule.slow[950:].any()
    np.testing.assert_array_equal(np.flatnonzero(schedule.window_end), [99, 149, 249, 449, 949])


def test_schedule_stretches_last_window():
    # 175: the doubled window [100, 150) would leave too little room, so it ends at 125.
    assert build_schedule(175).windows == ((75, 100), (100, 125))
    assert build_schedule(2000).windows[-2:] == ((450, 850), (850, 1950))
    assert build_schedule(150).windows == ((75, 100),)


def test_schedule_short_warmup_fallback():
    schedule = build_schedule(100)  # 75 + 25 + 50 > 100: 15% / 75% / 10%.
    assert (schedule.init_buffer, schedule.term_buffer, schedule.base_window) == (15, 10, 75)
    assert schedule.windows == ((15, 90),)
    np.testing.assert_array_equal(np.flatnonzero(schedule.window_end), [89])
    tiny = build_schedule(19)
    assert tiny.windows == () and not tiny.slow.any() and not tiny.window_end.any()
    assert build_schedule(0).slow.shape == (0,)


def test_schedule_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_warmup must be >= 0, got -1"):
        build_schedule(-1)
    with pytest.raises(TypeError, match="base_window must be an int"):
        build_schedule(100, base_window=2.5)
    with pytest.raises(ValueError, match="base_window must be >= 1, got 0"):
        build_schedule(100, base_window=0)


# ----------------------------------------------------------------------- dual averaging


def test_dual_averaging_first_update_closed_form():
    state = dual_averaging_init(0.5)
    np.testing.assert_allclose(state.mu, math.log(5.0), rtol=1e-6)
    np.testing.assert_allclose(dual_averaging_final(state), 0.5, rtol=1e-6)  # no update yet
    state = dual_averaging_update(state, 0.3, target_accept=0.8)
    # t = 1: Hbar = (0.8 - 0.3) / 11, x = mu - 1 / 0.05 * Hbar, xbar = x.
    expected = math.log(5.0) - 20.0 * 0.5 / 11.0
    np.testing.assert_allclose(state.log_step_size, expected, rtol=1e-6)
    np.testing.assert_allclose(state.log_step_size_avg, expected, rtol=1e-6)
    np.testing.assert_allclose(dual_averaging_final(state), math.exp(expected), rtol=1e-6)


def test_dual_averaging_converges_on_deterministic_acceptance(float_dtype):
    # Acceptance exp(-step_size) reaches the target 0.8 at step_size = -log(0.8).
    def body(state, _):
        accept = jnp.exp(-jnp.exp(state.log_step_size))
        return dual_averaging_update(state, accept, target_accept=0.8), None

    state = dual_averaging_init(jnp.asarray(1.0, float_dtype))
    state, _ = jax.lax.scan(body, state, None, length=2000)
    assert state.log_step_size.dtype == float_dtype
    np.testing.assert_allclose(dual_averaging_final(state), -math.log(0.8), rtol=0.02)


def test_dual_averaging_treats_nan_acceptance_as_zero():
    state = dual_averaging_init(1.0)
    from_nan = dual_averaging_update(state, jnp.nan)
    from_zero = dual_averaging_update(state, 0.0)
    np.testing.assert_allclose(from_nan.log_step_size, from_zero.log_step_size)
    assert float(from_nan.log_step_size) < float(state.mu)


# ------------------------------------------------------------------------------ Welford


def test_welford_diagonal_and_dense_match_numpy(float_dtype):
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(50, 3)) @ np.array([[1.0, 0.5, 0.0], [0, 2.0, 0.3], [0, 0, 0.5]])
    samples = jnp.asarray(samples, float_dtype)
    for dense in (False, True):
        state = welford_init(samples[0], dense)
        state, _ = jax.lax.scan(lambda s, x: (welford_update(s, x), None), state, samples)
        assert int(state.count) == 50 and state.m2.dtype == float_dtype
        raw = np.cov(np.asarray(samples, np.float64).T)
        raw = raw if dense else np.diag(raw)
        rtol = 1e-4 if float_dtype == jnp.float32 else 1e-10
        np.testing.assert_allclose(welford_covariance(state, regularize=False), raw, rtol=rtol)
        shrink = (50 / 55) * raw + 1e-3 * (5 / 55) * (np.eye(3) if dense else np.ones(3))
        np.testing.assert_allclose(welford_covariance(state), shrink, rtol=rtol)
        np.testing.assert_allclose(state.mean, np.asarray(samples).mean(0), rtol=rtol,
                                   atol=rtol)


def test_welford_init_rejects_non_flat_position():
    with pytest.raises(ValueError, match=r"welford_init: position must be 1-D .* \(2, 2\)"):
        welford_init(jnp.zeros((2, 2)))


# ------------------------------------------------------------------- step-size heuristic


@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_find_reasonable_step_size_tracks_scale(scale):
    potential = gaussian_potential(jnp.full(5, scale))
    state = init(jnp.full(5, 0.5 * scale), potential)

    def find(key):
        return find_reasonable_step_size(key, state, potential, jnp.ones(5), 1.0)

    step_sizes = jax.jit(jax.vmap(find))(jax.random.split(jax.random.PRNGKey(0), 8))
    # A single leapfrog step on N(0, s^2) has an acceptance near 0.8 for step ~ s.
    assert np.all((step_sizes > 0.1 * scale) & (step_sizes < 10.0 * scale))


# ------------------------------------------------------------------- window adaptation


def _warmup_then_sample(key, position, potential, num_warmup, num_samples, **options):
    key_warmup, key_sample = jax.random.split(key)
    state, step_size, inverse_mass, warmup_info = run_warmup(
        key_warmup, position, potential, num_warmup, **options)
    sample_options = {k: v for k, v in options.items()
                      if k in ("kernel", "max_tree_depth", "num_integration_steps",
                               "trajectory_length")}
    draws, info = run_sampling(key_sample, state, potential, num_samples, step_size,
                               inverse_mass, **sample_options)
    return step_size, inverse_mass, warmup_info, draws, info


def test_diagonal_adaptation_recovers_scales_and_targets_acceptance():
    scales = jnp.geomspace(0.1, 10.0, 6)
    potential = gaussian_potential(scales)

    def run(key):
        return _warmup_then_sample(key, jnp.ones(6), potential, 1000, 2000)

    step_size, inverse_mass, warmup_info, draws, info = jax.jit(run)(jax.random.PRNGKey(1))
    ratio = np.asarray(inverse_mass) / np.asarray(scales) ** 2
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio
    assert_moments(draws[None], np.zeros(6), np.asarray(scales) ** 2)
    # Dual averaging holds the acceptance statistic at the target during the last slow
    # window (after it has had 150 iterations to settle).
    late_accept = float(warmup_info.acceptance_rate[600:950].mean())
    assert abs(late_accept - 0.8) < 0.05
    assert float(step_size) > 0.3
    assert not bool(info.is_divergent.any())


def test_dense_adaptation_recovers_strong_correlation():
    covariance = np.array([[1.0, 0.99 * 2.0], [0.99 * 2.0, 4.0]])
    precision = jnp.asarray(np.linalg.inv(covariance))

    def potential(x):
        return 0.5 * x @ precision.astype(x.dtype) @ x

    def run(key):
        return _warmup_then_sample(key, jnp.array([1.0, -1.0]), potential, 1000, 2000,
                                   dense=True)

    step_size, inverse_mass, _, draws, info = jax.jit(run)(jax.random.PRNGKey(3))
    inverse_mass = np.asarray(inverse_mass)
    assert inverse_mass.shape == (2, 2)
    np.testing.assert_allclose(inverse_mass, covariance, rtol=0.25)
    estimated_rho = inverse_mass[0, 1] / np.sqrt(inverse_mass[0, 0] * inverse_mass[1, 1])
    assert abs(estimated_rho - 0.99) < 0.005
    assert_moments(draws[None], np.zeros(2), np.diag(covariance))
    # A dense metric whitens the target: long steps, short trees.
    assert float(step_size) > 0.4 and float(info.num_integration_steps.mean()) < 8


def test_hmc_warmup_with_trajectory_length():
    scales = jnp.array([0.5, 1.0, 3.0])
    potential = gaussian_potential(scales)

    def run(key):
        return _warmup_then_sample(key, jnp.ones(3), potential, 500, 3000, kernel="hmc",
                                   trajectory_length=1.5, target_accept=0.75)

    step_size, inverse_mass, warmup_info, draws, info = jax.jit(run)(jax.random.PRNGKey(4))
    assert_moments(draws[None], np.zeros(3), np.asarray(scales) ** 2)
    np.testing.assert_array_equal(info.num_integration_steps,
                                  int(np.ceil(1.5 / float(step_size))))
    assert abs(float(warmup_info.acceptance_rate[250:450].mean()) - 0.75) < 0.05


@pytest.mark.parametrize("precision, switch", [("float32", "adapt_step_size"),
                                              ("float64", "adapt_mass_matrix")])
def test_adaptation_switches_and_dtype(precision, switch):
    potential = gaussian_potential(jnp.array([2.0, 0.5]))
    with jax.enable_x64(precision == "float64"):
        dtype = jnp.dtype(precision)
        run = jax.jit(lambda key, position: run_warmup(
            key, position, potential, 60, initial_step_size=0.3, **{switch: False}))
        state, step_size, inverse_mass, infos = run(jax.random.PRNGKey(5), jnp.ones(2, dtype))
    assert state.position.dtype == dtype and step_size.dtype == dtype
    assert inverse_mass.dtype == dtype and infos.acceptance_rate.dtype == dtype
    assert infos.acceptance_rate.shape == (60,)
    if switch == "adapt_step_size":
        np.testing.assert_allclose(step_size, 0.3, rtol=1e-6)
        assert not np.allclose(inverse_mass, 1.0)  # one slow window ([9, 54)) ran
    else:
        np.testing.assert_array_equal(inverse_mass, np.ones(2))
        assert not np.isclose(float(step_size), 0.3)


def test_window_adaptation_functions_under_vmap():
    """Manual loop over init/update (the driver's pattern) with chains on a vmap axis."""
    potential = gaussian_potential(jnp.array([1.0, 4.0]))
    adaptation = window_adaptation("hmc", num_warmup=40, dense=False, num_integration_steps=5)
    assert adaptation.schedule.windows == ((6, 36),)

    def one_chain(key, position):
        state = init(position, potential)
        key_init, key_loop = jax.random.split(key)
        adapt_state = adaptation.init(key_init, state, potential)

        def body(carry, inputs):
            state, adapt_state = carry
            key, iteration = inputs
            key_step, key_adapt = jax.random.split(key)
            state, info = adaptation.kernel(key_step, state, potential, adapt_state.step_size,
                                            adapt_state.inverse_mass_matrix)
            adapt_state = adaptation.update(key_adapt, adapt_state, state, potential, info,
                                            iteration)
            return (state, adapt_state), None

        inputs = (jax.random.split(key_loop, 40), jnp.arange(40))
        (state, adapt_state), _ = jax.lax.scan(body, (state, adapt_state), inputs)
        return adaptation.final(adapt_state)

    keys = jax.random.split(jax.random.PRNGKey(6), 3)
    step_sizes, inverse_mass = jax.jit(jax.vmap(one_chain))(keys, jnp.ones((3, 2)))
    assert step_sizes.shape == (3,) and inverse_mass.shape == (3, 2)
    assert np.all(np.asarray(inverse_mass[:, 1]) > np.asarray(inverse_mass[:, 0]))
    assert np.all(np.isfinite(np.asarray(step_sizes)))


def test_window_adaptation_rejects_bad_options():
    with pytest.raises(ValueError, match="kernel must be 'nuts' or 'hmc', got 'mala'"):
        window_adaptation("mala", 100)
    with pytest.raises(ValueError, match="needs exactly one of num_integration_steps"):
        make_kernel("hmc")
    with pytest.raises(ValueError, match="needs exactly one of num_integration_steps"):
        make_kernel("hmc", num_integration_steps=5, trajectory_length=1.0)
    with pytest.raises(ValueError, match="target_accept must be in .0, 1., got 1.5"):
        window_adaptation("nuts", 100, target_accept=1.5)
    adaptation = window_adaptation("nuts", 100, dense=True, initial_inverse_mass_matrix=jnp.ones(2))
    state = init(jnp.zeros(2), gaussian_potential(jnp.ones(2)))
    with pytest.raises(ValueError, match=r"must have shape \(2, 2\) \(dense=True\), got \(2,\)"):
        adaptation.init(jax.random.PRNGKey(0), state, gaussian_potential(jnp.ones(2)))
