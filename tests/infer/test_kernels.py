"""Tests of the flat-potential HMC/NUTS kernels: metrics, integrator, HMC and NUTS."""

import warnings

import jax
import jax.extend.random
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from hierax.infer.kernels import (
    HMCState,
    IntegratorState,
    gaussian_euclidean,
    hmc_step,
    init,
    new_integrator_state,
    nuts_step,
    run_sampling,
    run_warmup,
    velocity_verlet,
)
from hierax.infer.kernels.counter_rng import key_words, threefry2x32, uniform_from_counter
from hierax.infer.kernels.nuts import (
    _checkpoint_and_check,
    _checkpoint_slots,
    _empty_checkpoints,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az


def standard_normal_potential(x):
    return 0.5 * jnp.sum(x**2)


def ess_per_dim(draws):
    """ESS of each coordinate of ``draws`` shaped ``(chains, draws, d)``."""
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


# ----------------------------------------------------------------------------- metrics


def test_diagonal_metric_energy_and_velocity(float_dtype):
    inverse_mass = jnp.array([0.5, 2.0, 4.0], float_dtype)
    metric = gaussian_euclidean(inverse_mass)
    momentum = jnp.array([1.0, -2.0, 0.5], float_dtype)
    expected = 0.5 * (0.5 * 1.0 + 2.0 * 4.0 + 4.0 * 0.25)
    np.testing.assert_allclose(metric.kinetic_energy(momentum), expected, rtol=1e-6)
    np.testing.assert_allclose(metric.velocity(momentum), inverse_mass * momentum, rtol=1e-6)
    sample = metric.sample_momentum(jax.random.PRNGKey(0), jnp.zeros(3, float_dtype))
    assert sample.dtype == float_dtype and sample.shape == (3,)


def test_dense_metric_momentum_covariance_is_mass_matrix():
    inverse_mass = jnp.array([[2.0, 0.6], [0.6, 1.0]])
    mass = np.linalg.inv(np.asarray(inverse_mass))
    metric = gaussian_euclidean(inverse_mass)
    num = 20000
    keys = jax.random.split(jax.random.PRNGKey(1), num)
    momenta = np.asarray(jax.vmap(metric.sample_momentum, (0, None))(keys, jnp.zeros(2)))
    # Standard error of a Gaussian sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n).
    se = np.sqrt((np.outer(np.diag(mass), np.diag(mass)) + mass**2) / num)
    np.testing.assert_array_less(np.abs(np.cov(momenta.T) - mass), 5 * se)
    momentum = jnp.array([0.3, -1.2])
    expected = 0.5 * momentum @ inverse_mass @ momentum
    np.testing.assert_allclose(metric.kinetic_energy(momentum), expected, rtol=1e-6)


def test_metric_rejects_bad_shapes():
    with pytest.raises(ValueError, match="1-D .diagonal. or 2-D"):
        gaussian_euclidean(jnp.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="must be square"):
        gaussian_euclidean(jnp.ones((2, 3)))


def test_generalized_turning_criterion():
    metric = gaussian_euclidean(jnp.ones(2))
    p = jnp.array([1.0, 0.0])
    assert not metric.is_turning(p, p, 3 * p)
    assert metric.is_turning(p, -p, jnp.zeros(2))
    # Ends moving apart along the summed momentum: not turning; one end reversed: turning.
    left, right = jnp.array([1.0, 1.0]), jnp.array([1.0, -1.0])
    assert not metric.is_turning(left, right, left + right + jnp.array([2.0, 0.0]))
    assert metric.is_turning(left, right, left + right + jnp.array([0.0, -4.0]))
    # The criterion uses velocities M^{-1} p, not momenta.
    scaled = gaussian_euclidean(jnp.array([1.0, 100.0]))
    assert scaled.is_turning(left, right, left + right + jnp.array([1.0, -1.0]))


# -------------------------------------------------------------------------- integrator


def correlated_potential(x):
    precision = jnp.array([[2.0, -0.8], [-0.8, 1.0]], x.dtype)
    return 0.5 * x @ precision @ x


def _trajectory(state, potential_fn, metric, step_size, num_steps):
    step = velocity_verlet(potential_fn, metric)
    return jax.lax.scan(lambda s, _: (step(s, step_size), s), state, None, length=num_steps)


def test_leapfrog_is_reversible(float_dtype):
    metric = gaussian_euclidean(jnp.array([[1.0, 0.3], [0.3, 0.5]], float_dtype))
    start = new_integrator_state(correlated_potential, jnp.array([0.5, -1.0], float_dtype),
                                 jnp.array([1.0, 0.2], float_dtype))
    end, _ = _trajectory(start, correlated_potential, metric, 0.1, 20)
    flipped = end._replace(momentum=-end.momentum)
    back, _ = _trajectory(flipped, correlated_potential, metric, 0.1, 20)
    tol = 1e-4 if float_dtype == jnp.float32 else 1e-10
    np.testing.assert_allclose(back.position, start.position, atol=tol)
    np.testing.assert_allclose(-back.momentum, start.momentum, atol=tol)
    assert back.position.dtype == float_dtype and back.potential_energy.dtype == float_dtype


def test_leapfrog_energy_error_is_second_order(x64):
    metric = gaussian_euclidean(jnp.ones(2))
    start = new_integrator_state(correlated_potential, jnp.array([0.5, -1.0]),
                                 jnp.array([1.0, 0.2]))
    initial_energy = start.potential_energy + metric.kinetic_energy(start.momentum)

    def max_energy_error(step_size, num_steps):
        _, states = _trajectory(start, correlated_potential, metric, step_size, num_steps)
        energies = states.potential_energy + jax.vmap(metric.kinetic_energy)(states.momentum)
        return float(jnp.max(jnp.abs(energies - initial_energy)))

    coarse, fine = max_energy_error(0.1, 40), max_energy_error(0.05, 80)
    assert 3.6 < coarse / fine < 4.4
    assert coarse < 0.05


def test_leapfrog_uses_one_gradient_per_step():
    def potential(x):
        return jnp.sum(jnp.sin(x)) + 0.5 * jnp.sum(x**2)

    step = velocity_verlet(potential, gaussian_euclidean(jnp.ones(3)))
    state = new_integrator_state(potential, jnp.ones(3), jnp.ones(3))
    jaxpr = jax.make_jaxpr(step)(state, 0.1)
    names = [eqn.primitive.name for eqn in jaxpr.jaxpr.eqns]
    assert names.count("sin") == 1 and names.count("cos") == 1


def test_velocity_verlet_rejects_non_callable():
    with pytest.raises(TypeError, match="expected a Metric or a callable"):
        velocity_verlet(standard_normal_potential, jnp.ones(2))


# --------------------------------------------------------------------------------- HMC


def test_init_validates_position_and_potential():
    with pytest.raises(ValueError, match=r"flat 1-D array .* got shape \(2, 2\)"):
        init(jnp.zeros((2, 2)), standard_normal_potential)
    with pytest.raises(TypeError, match="floating dtype"):
        init(jnp.zeros(2, jnp.int32), standard_normal_potential)
    with pytest.raises(ValueError, match="potential_fn must return a scalar"):
        init(jnp.zeros(2), lambda x: x**2)


def test_hmc_samples_correlated_2d_gaussian():
    covariance = np.linalg.inv([[2.0, -0.8], [-0.8, 1.0]])
    state = init(jnp.zeros(2), correlated_potential)
    sample = jax.jit(lambda key: run_sampling(
        key, state, correlated_potential, 4000, 0.3, jnp.asarray(np.diag(covariance)),
        kernel="hmc", num_integration_steps=8))
    draws, info = sample(jax.random.PRNGKey(2))
    assert draws.shape == (4000, 2)
    assert_moments(draws[None], np.zeros(2), np.diag(covariance))
    np.testing.assert_allclose(np.corrcoef(np.asarray(draws).T)[0, 1],
                               covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1]),
                               atol=0.05)
    assert np.all(np.asarray(info.num_integration_steps) == 8)
    assert 0.7 < float(info.acceptance_rate.mean()) <= 1.0
    assert not bool(info.is_divergent.any())


def test_hmc_rejects_divergent_proposal():
    state = init(jnp.array([1.0, 1.0]), standard_normal_potential)
    new_state, info = hmc_step(jax.random.PRNGKey(0), state, standard_normal_potential, 50.0,
                               jnp.ones(2), 5, max_delta_energy=100.0)
    assert bool(info.is_divergent) and not bool(info.is_accepted)
    np.testing.assert_array_equal(new_state.position, state.position)
    assert float(info.acceptance_rate) < 1e-6


# -------------------------------------------------------------------------------- NUTS


def _brute_force_turning(momenta, velocities, n, extra_checks=True):
    """Stan's checks on every block completed at leaf n (trapezoidal rho)."""

    def turning(a, b, rho):
        rho = rho - 0.5 * (momenta[a] + momenta[b])
        return velocities[a] @ rho <= 0 or velocities[b] @ rho <= 0

    size, result = 2, False
    while (n + 1) % size == 0:
        start, mid = n + 1 - size, n + 1 - size // 2
        result |= turning(start, n, momenta[start:n + 1].sum(0))
        if extra_checks:
            result |= turning(start, mid, momenta[start:mid].sum(0) + momenta[mid])
            result |= turning(mid - 1, n, momenta[mid:n + 1].sum(0) + momenta[mid - 1])
        size *= 2
    return result


def test_subtree_checkpoints_match_brute_force_checks():
    rng = np.random.default_rng(3)
    num_leaves, num_slots = 64, 6
    inverse_mass = np.array([1.0, 3.0])
    flags, expected, main_only = [], [], []
    check = jax.jit(_checkpoint_and_check)
    for _ in range(3):
        angles = np.cumsum(rng.uniform(-0.3, 0.6, num_leaves))
        momenta = np.stack([np.cos(angles), np.sin(angles)], -1) + 0.6 * rng.normal(
            size=(num_leaves, 2))
        velocities = momenta * inverse_mass
        checkpoints = _empty_checkpoints(num_slots, jnp.zeros(2))
        total = np.zeros(2)
        for n in range(num_leaves):
            previous = n - 1 if n > 0 else 0
            checkpoints, turning = check(
                checkpoints, jnp.int32(n), jnp.asarray(momenta[n]), jnp.asarray(velocities[n]),
                jnp.asarray(total), jnp.asarray(momenta[previous]),
                jnp.asarray(velocities[previous]))
            flags.append(bool(turning))
            expected.append(_brute_force_turning(momenta, velocities, n))
            main_only.append(_brute_force_turning(momenta, velocities, n, extra_checks=False))
            total = total + momenta[n]
    assert flags == expected
    assert any(expected) and not all(expected)
    assert expected != main_only  # the extra checks fire somewhere on their own


def test_checkpoint_slots():
    slots = [tuple(int(v) for v in _checkpoint_slots(jnp.int32(n))) for n in range(8)]
    # Even leaves write at slot_max and complete nothing (slot_min > slot_max);
    # leaf 3 completes blocks [2, 3] (slot 1) and [0..3] (slot 0); leaf 7 three blocks.
    assert slots == [(1, 0), (0, 0), (2, 1), (0, 1), (2, 1), (1, 1), (3, 2), (0, 2)]


def test_nuts_standard_normal_1d():
    def run(key):
        key_warmup, key_sample = jax.random.split(key)
        state, step_size, inverse_mass, _ = run_warmup(
            key_warmup, jnp.array([2.0]), standard_normal_potential, 300)
        return run_sampling(key_sample, state, standard_normal_potential, 3000, step_size,
                            inverse_mass)

    draws, info = jax.jit(run)(jax.random.PRNGKey(4))
    assert draws.shape == (3000, 1)
    assert_moments(draws[None], np.zeros(1), np.ones(1))
    assert not bool(info.is_divergent.any())


def test_nuts_10d_four_chains_vmap_rhat():
    num_chains, dim = 4, 10

    def run(key, position):
        key_warmup, key_sample = jax.random.split(key)
        state, step_size, inverse_mass, _ = run_warmup(
            key_warmup, position, standard_normal_potential, 300)
        draws, info = run_sampling(key_sample, state, standard_normal_potential, 500,
                                   step_size, inverse_mass)
        return draws, info, step_size

    keys = jax.random.split(jax.random.PRNGKey(5), num_chains)
    positions = 3.0 * jax.random.normal(jax.random.PRNGKey(6), (num_chains, dim))
    draws, info, step_sizes = jax.jit(jax.vmap(run))(keys, positions)
    assert draws.shape == (num_chains, 500, dim) and step_sizes.shape == (num_chains,)
    assert_moments(draws, np.zeros(dim), np.ones(dim))
    rhat = np.array([az.rhat(np.asarray(draws[..., i])) for i in range(dim)])
    assert np.all(rhat < 1.01)
    assert not bool(info.is_divergent.any())


def test_nuts_tree_depth_and_step_caps():
    max_depth = 4
    state = init(jnp.zeros(3), standard_normal_potential)

    @jax.jit
    def sample(key, step_size):
        return run_sampling(key, state, standard_normal_potential, 50, step_size, jnp.ones(3),
                            max_tree_depth=max_depth)

    # A tiny step never U-turns within 2^4 - 1 steps: the depth cap binds exactly.
    _, info = sample(jax.random.PRNGKey(7), 1e-3)
    np.testing.assert_array_equal(info.tree_depth, max_depth)
    np.testing.assert_array_equal(info.num_integration_steps, 2**max_depth - 1)
    assert float(info.acceptance_rate.min()) > 0.999
    _, info = sample(jax.random.PRNGKey(8), 0.4)
    assert int(info.tree_depth.max()) <= max_depth
    assert int(info.num_integration_steps.max()) <= 2**max_depth - 1
    assert bool(info.is_turning.all())
    # Stan's convention: depth counts merged doublings (2^depth - 1 steps); a rejected
    # subtree of the next depth adds at most 2^depth more.
    steps, depth = np.asarray(info.num_integration_steps), np.asarray(info.tree_depth)
    assert np.all(steps >= 2**depth - 1) and np.all(steps <= 2 ** (depth + 1) - 1)
    assert np.any(steps > 2**depth - 1) and np.any(steps == 2**depth - 1)


def test_nuts_rejects_bad_max_tree_depth():
    state = init(jnp.zeros(2), standard_normal_potential)
    with pytest.raises(ValueError, match="max_tree_depth must be between 1 and 30, got 0"):
        nuts_step(jax.random.PRNGKey(0), state, standard_normal_potential, 0.1, jnp.ones(2),
                  max_tree_depth=0)
    with pytest.raises(TypeError, match="max_tree_depth must be a Python int"):
        nuts_step(jax.random.PRNGKey(0), state, standard_normal_potential, 0.1, jnp.ones(2),
                  max_tree_depth=2.5)


def funnel_potential(x):
    """Neal's funnel: v ~ N(0, 3^2), z_i | v ~ N(0, exp(v))."""
    v, z = x[0], x[1:]
    return v**2 / 18.0 + 0.5 * jnp.sum(z**2) * jnp.exp(-v) + 0.5 * z.shape[0] * v


def test_nuts_flags_divergences_on_funnel():
    state = init(jnp.full(6, 0.5), funnel_potential)
    draws, info = jax.jit(lambda key: run_sampling(
        key, state, funnel_potential, 500, 0.8, jnp.ones(6)))(jax.random.PRNGKey(9))
    divergent = np.asarray(info.is_divergent)
    assert divergent.sum() >= 5
    assert np.all(np.isfinite(np.asarray(draws)))
    # A divergence stops the tree early: it never reaches the full 2^10 - 1 steps.
    assert np.all(np.asarray(info.num_integration_steps)[divergent] < 2**10 - 1)
    assert not np.any(np.asarray(info.is_turning)[divergent])


def test_nuts_divergence_on_non_finite_potential():
    def potential(x):
        return jnp.where(x[0] > 1.5, jnp.nan, 0.5 * jnp.sum(x**2))

    state = init(jnp.array([1.4, 0.0]), potential)
    keys = jax.random.split(jax.random.key(10), 64)  # new-style typed keys
    step = jax.jit(jax.vmap(lambda k: nuts_step(k, state, potential, 0.5, jnp.ones(2))))
    new_states, info = step(keys)
    assert bool(info.is_divergent.any())
    assert bool(jnp.all(new_states.position[:, 0] <= 1.5))
    assert bool(jnp.all(jnp.isfinite(new_states.potential_energy)))


def _exact_banana(key, num):
    """x0 ~ N(0, 1), x1 | x0 ~ N(0, exp(x0 / 2)^2): exact draws of ``banana_potential``."""
    key_a, key_b = jax.random.split(key)
    a = jax.random.normal(key_a, (num,))
    return jnp.stack([a, jax.random.normal(key_b, (num,)) * jnp.exp(a / 2)], -1)


def banana_potential(x):
    return 0.5 * x[0] ** 2 + 0.5 * (x[1] * jnp.exp(-x[0] / 2)) ** 2 + 0.5 * x[0]


def test_nuts_leaves_target_invariant():
    """Transitions started from exact draws must keep the exact distribution."""
    num = 4000

    def three_steps(key, position):
        draws, _ = run_sampling(key, init(position, banana_potential), banana_potential, 3,
                                0.6, jnp.ones(2), max_tree_depth=6)
        return draws[-1]

    start = _exact_banana(jax.random.PRNGKey(11), num)
    keys = jax.random.split(jax.random.PRNGKey(12), num)
    moved = np.asarray(jax.jit(jax.vmap(three_steps))(keys, start))
    reference = np.asarray(_exact_banana(jax.random.PRNGKey(13), num))
    assert np.mean(np.any(moved != np.asarray(start), axis=1)) > 0.95
    # Two-sample KS at level 1e-3: critical value 1.95 * sqrt(2 / n).
    critical = 1.95 * np.sqrt(2.0 / num)
    for stat in (lambda x: x[:, 0], lambda x: x[:, 1], lambda x: x[:, 0] * x[:, 1]):
        assert scipy.stats.ks_2samp(stat(moved), stat(reference)).statistic < critical


def test_kernels_keep_dtype(float_dtype):
    position = jnp.array([0.3, -0.2], float_dtype)
    state = init(position, correlated_potential)
    assert state.potential_energy.dtype == float_dtype
    assert state.potential_energy_grad.dtype == float_dtype

    @jax.jit
    def both(key, state):
        nuts_state, nuts_info = nuts_step(key, state, correlated_potential, 0.5,
                                          jnp.ones(2, float_dtype))
        hmc_state, hmc_info = hmc_step(key, state, correlated_potential, 0.5,
                                       jnp.eye(2, dtype=float_dtype), 3)
        return nuts_state, nuts_info, hmc_state, hmc_info

    nuts_state, nuts_info, hmc_state, hmc_info = both(jax.random.PRNGKey(0), state)
    for new in (nuts_state, hmc_state):
        assert isinstance(new, HMCState)
        assert all(leaf.dtype == float_dtype for leaf in new)
    assert nuts_info.acceptance_rate.dtype == float_dtype
    assert nuts_info.energy.dtype == float_dtype
    assert hmc_info.energy.dtype == float_dtype
    assert int(nuts_info.num_integration_steps) >= 1


def test_counter_rng_is_threefry_and_uniform(float_dtype):
    key = jnp.array([123, 456], jnp.uint32)
    counters = jnp.arange(6, dtype=jnp.uint32)
    reference = jax.extend.random.threefry_2x32(key, jnp.concatenate([counters, 7 + counters]))
    x0, x1 = threefry2x32(key[0], key[1], counters, 7 + counters)
    np.testing.assert_array_equal(jnp.concatenate([x0, x1]), reference)
    words = key_words(jax.random.key(1))
    draws = np.asarray(uniform_from_counter(words, jnp.arange(20000), float_dtype))
    assert draws.dtype == float_dtype and draws.min() >= 0.0 and draws.max() < 1.0
    assert scipy.stats.kstest(draws, "uniform").statistic < 1.95 / np.sqrt(20000)


def test_integrator_state_is_a_pytree():
    state = IntegratorState(jnp.zeros(2), jnp.ones(2), jnp.zeros(()), jnp.zeros(2))
    assert len(jax.tree.leaves(state)) == 4
