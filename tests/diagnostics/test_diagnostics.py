"""Tests for hierax.diagnostics: ESS, R-hat, MCSE, intervals and summary tables."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from hierax.diagnostics import (
    autocorrelation,
    autocovariance,
    effective_sample_size,
    equal_tailed_interval,
    ess_bulk,
    ess_tail,
    format_summary,
    gelman_rubin,
    hpdi,
    mcse,
    print_summary,
    quantiles,
    rank_normalized_rhat,
    rhat,
    split_gelman_rubin,
    summary,
)

RTOL_REFERENCE = 1e-6
# Relative bias of the truncated Geyer estimator at N = 1000 draws per chain: simulation
# over 2560 replicates gives -1.4% for iid draws, +1.0% for phi = -0.3 and +1.1% for phi = 0.9.
ESS_BIAS_ALLOWANCE = 0.02


def ar1_chains(seed, phi, num_chains, num_draws, param_shape=()):
    """Stationary AR(1) chains ``x_t = phi x_{t-1} + e_t`` with unit innovations."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(num_chains, num_draws, *param_shape))
    draws = np.empty_like(noise)
    draws[:, 0] = noise[:, 0] / np.sqrt(1.0 - phi**2)
    for t in range(1, num_draws):
        draws[:, t] = phi * draws[:, t - 1] + noise[:, t]
    return draws


def reference_cases():
    """Fixed arrays covering correlation, ties, odd draw counts and shifted chains."""
    rng = np.random.default_rng(7)
    shifted = ar1_chains(1, 0.7, 4, 201, (2, 3)) + rng.normal(size=(4, 1, 1, 1))
    return {
        "ar1_multidim": ar1_chains(0, 0.6, 4, 300, (2, 3)),
        "shifted_odd_draws": shifted,
        "ties": np.round(ar1_chains(2, 0.3, 3, 120, (2,))),
        "skewed_antithetic": np.exp(ar1_chains(3, -0.4, 2, 150, (4,))),
    }


# --------------------------------------------------------------------------- reference: ArviZ


@pytest.fixture(scope="module")
def arviz_reference():
    """ArviZ diagnostics on ``reference_cases``, computed once per module."""
    az = pytest.importorskip("arviz")
    results = {}
    for name, draws in reference_cases().items():
        data = az.convert_to_dataset({"x": draws})

        def value(fn, data=data, **kwargs):
            return fn(data, **kwargs)["x"].values

        results[name] = {
            ("ess", "bulk"): value(az.ess, method="bulk"),
            ("ess", "tail"): value(az.ess, method="tail"),
            ("ess", "mean"): value(az.ess, method="mean"),
            ("ess", "sd"): value(az.ess, method="sd"),
            ("ess", "median"): value(az.ess, method="median"),
            ("ess", "quantile"): value(az.ess, method="quantile", prob=0.3),
            ("rhat", "rank"): value(az.rhat, method="rank"),
            ("rhat", "split"): value(az.rhat, method="split"),
            ("rhat", "identity"): value(az.rhat, method="identity"),
            ("mcse", "mean"): value(az.mcse, method="mean"),
            ("mcse", "sd"): value(az.mcse, method="sd"),
            ("mcse", "quantile"): value(az.mcse, method="quantile", prob=0.8),
        }
    return results


def hierax_diagnostics(draws):
    return {
        ("ess", "bulk"): effective_sample_size(draws, method="bulk"),
        ("ess", "tail"): effective_sample_size(draws, method="tail"),
        ("ess", "mean"): effective_sample_size(draws, method="mean"),
        ("ess", "sd"): effective_sample_size(draws, method="sd"),
        ("ess", "median"): effective_sample_size(draws, method="median"),
        ("ess", "quantile"): effective_sample_size(draws, method="quantile", prob=0.3),
        ("rhat", "rank"): rhat(draws),
        ("rhat", "split"): split_gelman_rubin(draws),
        ("rhat", "identity"): gelman_rubin(draws),
        ("mcse", "mean"): mcse(draws, method="mean"),
        ("mcse", "sd"): mcse(draws, method="sd"),
        ("mcse", "quantile"): mcse(draws, method="quantile", prob=0.8),
    }


@pytest.mark.parametrize("case", sorted(reference_cases()))
def test_matches_arviz(case, arviz_reference):
    draws = reference_cases()[case]
    ours = hierax_diagnostics(draws)
    for key, expected in arviz_reference[case].items():
        assert ours[key].shape == draws.shape[2:], key
        np.testing.assert_allclose(ours[key], expected, rtol=RTOL_REFERENCE, err_msg=str(key))


def test_aliases_and_basic_method_agree():
    draws = reference_cases()["ar1_multidim"]
    np.testing.assert_array_equal(ess_bulk(draws), effective_sample_size(draws))
    np.testing.assert_array_equal(ess_tail(draws), effective_sample_size(draws, method="tail"))
    np.testing.assert_array_equal(
        effective_sample_size(draws, method="basic"), effective_sample_size(draws, method="mean")
    )
    np.testing.assert_array_equal(rank_normalized_rhat(draws), rhat(draws))
    tail_pair = ess_tail(draws, prob=(0.05, 0.95))
    np.testing.assert_array_equal(tail_pair, ess_tail(draws, prob=0.05))
    np.testing.assert_array_equal(tail_pair, ess_tail(draws))


def test_jax_float32_input_matches_numpy():
    draws = reference_cases()["ar1_multidim"].astype(np.float32)
    from_jax = hierax_diagnostics(jnp.asarray(draws))
    from_numpy = hierax_diagnostics(draws)
    for key, value in from_numpy.items():
        np.testing.assert_allclose(from_jax[key], value, rtol=1e-12, err_msg=str(key))


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("phi", [0.5, -0.3, 0.9])
def test_ess_of_ar1_matches_theory(phi):
    """ESS of AR(1) draws is C N (1 - phi) / (1 + phi).

    64 independent replicates (the vectorised parameter dimension) pin the mean
    estimate to 5 standard errors, plus ESS_BIAS_ALLOWANCE for the truncation
    bias of the estimator itself.
    """
    num_chains, num_draws, replicates = 4, 1000, 64
    draws = ar1_chains(11, phi, num_chains, num_draws, (replicates,))
    expected = num_chains * num_draws * (1.0 - phi) / (1.0 + phi)
    for method in ("basic", "bulk"):
        estimates = effective_sample_size(draws, method=method)
        standard_error = estimates.std(ddof=1) / np.sqrt(replicates)
        tolerance = 5.0 * standard_error + ESS_BIAS_ALLOWANCE * expected
        assert abs(estimates.mean() - expected) < tolerance, method


def test_ess_of_independent_draws_is_close_to_draw_count():
    draws = np.random.default_rng(3).normal(size=(4, 500, 64))
    estimates = effective_sample_size(draws, method="basic")
    standard_error = estimates.std(ddof=1) / np.sqrt(estimates.size)
    tolerance = 5.0 * standard_error + ESS_BIAS_ALLOWANCE * 2000.0
    assert abs(estimates.mean() - 2000.0) < tolerance
    assert np.all(estimates > 0.5 * 2000.0)


def test_rank_diagnostics_invariant_to_monotone_transform():
    draws = reference_cases()["ar1_multidim"]
    transformed = np.exp(2.0 * draws) + 3.0
    np.testing.assert_allclose(ess_bulk(transformed), ess_bulk(draws), rtol=1e-12)
    np.testing.assert_allclose(rhat(transformed), rhat(draws), rtol=1e-12)
    np.testing.assert_allclose(ess_tail(transformed), ess_tail(draws), rtol=1e-12)


def test_rhat_near_one_for_independent_chains():
    """For iid chains R-hat^2 - 1 is about (chi2_{m-1} / (m-1) - 1) / n, well below 0.005."""
    draws = np.random.default_rng(5).normal(size=(4, 1000, 3))
    for value in (rhat(draws), split_gelman_rubin(draws), gelman_rubin(draws)):
        assert np.all(np.abs(value - 1.0) < 0.005)


def test_rhat_large_for_chains_with_different_means():
    rng = np.random.default_rng(6)
    draws = rng.normal(size=(4, 500)) + 3.0 * np.arange(4)[:, None]
    assert rhat(draws) > 2.0
    assert split_gelman_rubin(draws) > 3.0
    assert gelman_rubin(draws) > 3.0


def test_folded_rhat_detects_different_scales():
    """Chains with equal means but one wider chain: classic split R-hat stays near 1,
    the folded half of the rank-normalised R-hat flags the mismatch."""
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4, 1000)) * np.array([3.0, 1.0, 1.0, 1.0])[:, None]
    assert split_gelman_rubin(draws) < 1.01
    assert rhat(draws) > 1.05


def test_rhat_single_chain_uses_split_halves():
    drifting = np.linspace(0.0, 10.0, 400)[None] + np.random.default_rng(1).normal(size=(1, 400))
    assert rhat(drifting) > 1.5
    assert split_gelman_rubin(drifting) > 1.5


def test_constant_chains_documented_values():
    constant = np.full((4, 100, 2), 1.5)
    np.testing.assert_array_equal(ess_bulk(constant), [400.0, 400.0])
    np.testing.assert_array_equal(ess_tail(constant), [400.0, 400.0])
    assert np.all(np.isnan(rhat(constant)))
    assert np.all(np.isnan(split_gelman_rubin(constant)))
    np.testing.assert_array_equal(mcse(constant), [0.0, 0.0])
    assert np.all(np.isnan(autocorrelation(constant[0], axis=0)))


def test_separately_constant_chains_give_huge_rhat():
    draws = np.stack([np.zeros(100), np.ones(100)])
    assert rhat(draws) > 1e6
    assert split_gelman_rubin(draws) == np.inf


def test_non_finite_draws_give_nan_only_for_that_parameter():
    draws = np.random.default_rng(2).normal(size=(2, 50, 2))
    draws[1, 10, 0] = np.nan
    for value in (ess_bulk(draws), ess_tail(draws), rhat(draws), mcse(draws), mcse(draws, "sd")):
        assert np.isnan(value[0]) and np.isfinite(value[1])


def test_mcse_mean_of_independent_draws():
    """For iid draws MCSE(mean) ~ sd / sqrt(S).

    sqrt(S / ESS) has a bias of about +0.7% (half the ESS bias) and a standard error of
    about 0.3% over 64 replicates, so 2% is beyond 5 standard errors plus the bias.
    """
    draws = np.random.default_rng(8).normal(size=(4, 1000, 64))
    ratio = mcse(draws) * np.sqrt(4000.0)
    assert abs(ratio.mean() - 1.0) < 0.02


# --------------------------------------------------------------------------- autocorrelation


def brute_force_autocovariance(x, bias):
    centred = x - x.mean()
    num = len(x)
    sums = np.array([np.dot(centred[: num - k], centred[k:]) for k in range(num)])
    return sums / (num if bias else np.arange(num, 0, -1))


@pytest.mark.parametrize("bias", [True, False])
def test_autocovariance_matches_brute_force_along_axis(bias):
    x = np.random.default_rng(4).normal(size=(3, 37, 2))
    result = autocovariance(x, axis=1, bias=bias)
    assert result.shape == x.shape
    for i, j in np.ndindex(3, 2):
        expected = brute_force_autocovariance(x[i, :, j], bias)
        np.testing.assert_allclose(result[i, :, j], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(autocovariance(x, axis=-2, bias=bias), result)
    np.testing.assert_allclose(autocorrelation(x, axis=1, bias=bias), result / result[:, :1])


def test_autocorrelation_of_white_noise_vanishes_beyond_lag_zero():
    """Sample autocorrelations of white noise have standard error 1 / sqrt(N)."""
    num = 20000
    rho = autocorrelation(np.random.default_rng(9).normal(size=num))
    assert rho[0] == pytest.approx(1.0)
    assert np.all(np.abs(rho[1:21]) < 5.0 / np.sqrt(num))


def test_autocorrelation_of_ar1_decays_geometrically():
    """Bartlett: Var(r_k) <= (1 + phi^2) / ((1 - phi^2) N) for an AR(1)."""
    phi, num = 0.6, 20000
    rho = autocorrelation(ar1_chains(12, phi, 1, num)[0])
    tolerance = 5.0 * np.sqrt((1.0 + phi**2) / ((1.0 - phi**2) * num))
    np.testing.assert_allclose(rho[1:5], phi ** np.arange(1, 5), atol=tolerance)


# --------------------------------------------------------------------------- intervals


def test_hpdi_of_normal_draws():
    """The width of the shortest window errs like a difference of two sample quantiles,
    standard error sqrt(2 p (1 - p) / N) / phi(z). Its location converges only at the
    cube-root rate (Kim & Pollard 1990, Ann. Statist. 18(1)); its standard deviation at
    N = 20000, 0.038 by simulation over 300 seeds, sets the endpoint tolerance."""
    num = 20000
    draws = np.random.default_rng(13).normal(size=num)
    interval = hpdi(draws, prob=0.9)
    z = stats.norm.ppf(0.95)
    width_tolerance = 5.0 * np.sqrt(2.0 * 0.05 * 0.95 / num) / stats.norm.pdf(z)
    assert interval[1] - interval[0] == pytest.approx(2.0 * z, abs=width_tolerance)
    np.testing.assert_allclose(interval, [-z, z], atol=5.0 * 0.038)
    assert np.mean((draws >= interval[0]) & (draws <= interval[1])) == pytest.approx(0.9, abs=1e-3)


def test_hpdi_of_exponential_draws_starts_at_zero():
    """Shortest 90% interval of Exp(1) is [0, log 10]; the lower end is near the minimum."""
    num = 20000
    draws = np.random.default_rng(14).exponential(size=num)
    lower, upper = hpdi(draws, prob=0.9)
    assert 0.0 <= lower < 20.0 / num
    tolerance = 5.0 * np.sqrt(0.9 * 0.1 / num) / 0.1
    assert upper == pytest.approx(np.log(10.0), abs=tolerance)
    central_lower, _ = equal_tailed_interval(draws, prob=0.9)
    assert central_lower == pytest.approx(-np.log(0.95), abs=0.01)


def test_hpdi_is_shortest_window_along_axis():
    rng = np.random.default_rng(15)
    x = rng.gamma(2.0, size=(5, 41, 3))
    result = hpdi(x, prob=0.5, axis=1)
    assert result.shape == (5, 2, 3)
    for i, j in np.ndindex(5, 3):
        ordered = np.sort(x[i, :, j])
        span = int(0.5 * 41)
        widths = ordered[span:] - ordered[: 41 - span]
        assert result[i, 1, j] - result[i, 0, j] == pytest.approx(widths.min())
    jax_result = hpdi(jnp.asarray(x, dtype=jnp.float32), prob=0.5, axis=1)
    assert jax_result.dtype == np.float32 and jax_result.shape == (5, 2, 3)


def test_quantiles_and_equal_tailed_interval():
    x = np.random.default_rng(16).normal(size=(200, 3)).astype(np.float32)
    result = quantiles(x, [0.1, 0.5], axis=0)
    assert result.shape == (2, 3) and result.dtype == np.float32
    np.testing.assert_allclose(result, np.quantile(x, [0.1, 0.5], axis=0), rtol=1e-6)
    interval = equal_tailed_interval(x.T, prob=0.8, axis=1)
    assert interval.shape == (3, 2)
    np.testing.assert_allclose(interval.T, np.quantile(x, [0.1, 0.9], axis=0), rtol=1e-6)


# --------------------------------------------------------------------------- summary


@pytest.fixture(scope="module")
def posterior():
    rng = np.random.default_rng(17)
    return {
        "mu": rng.normal(size=(2, 100)),
        "theta": rng.normal(loc=[1.0, 2.0, 3.0], size=(2, 100, 3)),
        "L": rng.normal(size=(2, 100, 2, 2)),
    }


def test_summary_contents(posterior):
    result = summary(posterior, prob=0.9)
    assert set(result) == {"mu", "theta", "L"}
    expected_keys = ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "ess_tail", "r_hat"]
    assert list(result["theta"]) == [*expected_keys, "mcse_mean"]
    theta = posterior["theta"]
    pooled = theta.reshape(-1, 3)
    stats_theta = result["theta"]
    np.testing.assert_allclose(stats_theta["mean"], pooled.mean(0))
    np.testing.assert_allclose(stats_theta["std"], pooled.std(0, ddof=1))
    np.testing.assert_allclose(stats_theta["median"], np.median(pooled, 0))
    np.testing.assert_allclose(stats_theta["5.0%"], np.quantile(pooled, 0.05, axis=0))
    np.testing.assert_allclose(stats_theta["95.0%"], np.quantile(pooled, 0.95, axis=0))
    np.testing.assert_array_equal(stats_theta["n_eff"], ess_bulk(theta))
    np.testing.assert_array_equal(stats_theta["ess_tail"], ess_tail(theta))
    np.testing.assert_array_equal(stats_theta["r_hat"], rhat(theta))
    np.testing.assert_array_equal(stats_theta["mcse_mean"], mcse(theta))
    assert result["L"]["mean"].shape == (2, 2) and result["mu"]["r_hat"].shape == ()


def test_summary_interval_keys_follow_prob(posterior):
    keys = list(summary(posterior, prob=0.89)["mu"])
    assert keys[3:5] == ["5.5%", "94.5%"]


def test_summary_without_chain_dimension_and_other_inputs(posterior):
    single = posterior["theta"][0]
    flat = summary({"theta": single}, group_by_chain=False)["theta"]
    grouped = summary({"theta": single[None]})["theta"]
    for key, value in grouped.items():
        np.testing.assert_array_equal(flat[key], value, err_msg=key)
    from_array = summary(jnp.asarray(single[None]))
    assert list(from_array) == ["Param:0"]
    from_list = summary([single[None], single[None, :, 0]])
    assert list(from_list) == ["Param:0", "Param:1"]


def test_summary_with_too_few_draws_reports_nan_diagnostics():
    result = summary({"x": np.arange(6.0).reshape(2, 3)})["x"]
    assert result["mean"] == pytest.approx(2.5)
    assert np.isnan(result["n_eff"]) and np.isnan(result["r_hat"])


def test_format_summary_table(posterior):
    extra = {"num_divergences": 5, "num_max_tree_depth": 0, "max_tree_depth": 10}
    text = format_summary(posterior, extra=extra, hints=["Consider reparameterizing."])
    lines = text.splitlines()
    header = next(line for line in lines if "n_eff" in line and "mean" in line)
    assert header.split() == ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]
    labels = [line.split()[0] for line in lines if line.strip().startswith(("mu", "theta", "L["))]
    assert labels == [
        "mu",
        "theta[0]",
        "theta[1]",
        "theta[2]",
        "L[0,0]",
        "L[0,1]",
        "L[1,0]",
        "L[1,1]",
    ]
    row_lengths = {len(line) for line in lines if line.strip().split(" ")[0] in labels}
    assert row_lengths == {len(header)}
    theta_row = next(line for line in lines if line.strip().startswith("theta[1]"))
    mean_cell = theta_row.split()[1]
    assert mean_cell == f"{summary(posterior)['theta']['mean'][1]:.2f}"
    assert any(
        "n_eff" in line and "rank-normalized" in line and "Vehtari" in line for line in lines
    )
    assert "Number of divergences: 5" in lines
    assert any(
        line.startswith("Number of transitions that hit the maximum tree depth: 0")
        for line in lines
    )
    assert lines[-1] == "Consider reparameterizing."


def test_format_summary_without_extra_and_hints_in_extra(posterior):
    plain = format_summary({"mu": posterior["mu"]}, prob=0.5)
    assert "25.0%" in plain and "75.0%" in plain
    assert "divergences" not in plain
    with_hints = format_summary({"mu": posterior["mu"]}, extra={"hints": ["check priors"]})
    assert with_hints.splitlines()[-1] == "check priors"


def test_print_summary_prints_formatted_text(posterior, capsys):
    print_summary(posterior, extra={"num_divergences": 2})
    printed = capsys.readouterr().out
    assert printed == format_summary(posterior, extra={"num_divergences": 2}) + "\n"
    assert "Number of divergences: 2" in printed


# --------------------------------------------------------------------------- input errors


def test_input_errors():
    draws = np.zeros((2, 10))
    with pytest.raises(ValueError, match=r"effective_sample_size: unknown method 'foo'"):
        effective_sample_size(draws, method="foo")
    with pytest.raises(ValueError, match=r"method='quantile' needs prob"):
        effective_sample_size(draws, method="quantile")
    with pytest.raises(ValueError, match=r"prob must lie strictly between 0 and 1, got 1.5"):
        effective_sample_size(draws, method="quantile", prob=1.5)
    with pytest.raises(ValueError, match=r"rhat: expected samples of shape .* got shape \(10,\)"):
        rhat(np.zeros(10))
    with pytest.raises(ValueError, match=r"needs at least 4 draws per chain, got shape \(2, 3\)"):
        ess_bulk(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"gelman_rubin: needs at least 2 chains"):
        gelman_rubin(np.zeros((1, 10)))
    with pytest.raises(ValueError, match=r"mcse: unknown method 'bulk'"):
        mcse(draws, method="bulk")
    with pytest.raises(ValueError, match=r"mcse: method='quantile' needs prob"):
        mcse(draws, method="quantile")
    with pytest.raises(TypeError, match=r"expected a numeric array, got dtype <U1"):
        ess_bulk(np.full((2, 10), "a"))
    with pytest.raises(ValueError, match=r"hpdi: prob must lie strictly between 0 and 1"):
        hpdi(np.zeros(10), prob=0.0)
    with pytest.raises(ValueError, match=r"hpdi: axis 2 is out of range for shape \(10,\)"):
        hpdi(np.zeros(10), axis=2)
    with pytest.raises(ValueError, match=r"quantiles: levels q must lie in \[0, 1\]"):
        quantiles(np.zeros(10), 2.0)
    with pytest.raises(ValueError, match=r"autocorrelation: expected an array .* got a scalar"):
        autocorrelation(np.float64(1.0))
    with pytest.raises(ValueError, match=r"summary: site 'mu' must have shape"):
        summary({"mu": np.zeros(5)})
    with pytest.raises(TypeError, match=r"summary: site 'mu' has non-numeric dtype"):
        summary({"mu": np.full((2, 5), "a")})
