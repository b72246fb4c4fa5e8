"""Tests of the continuous univariate families against SciPy and closed forms."""

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from hierax.distributions import constraints
from hierax.distributions import continuous as dist
from hierax.distributions.distribution import validation_enabled

BATCH = 4
NUM_DRAWS = 20_000


@dataclass
class Case:
    """One family: how to build it, its SciPy twin, and its parameter ranges."""

    make: object  # params dict -> Distribution
    scipy: object  # params dict (float64 numpy) -> frozen scipy distribution
    ranges: dict  # parameter name -> (low, high) for uniform random values
    has_icdf: bool = True
    has_cdf: bool = True
    finite_moments: bool = True
    outside: tuple = ()  # values outside the support, as functions of params
    invalid: dict = field(default_factory=dict)  # parameter -> invalid value

    def params(self, seed, dtype, shape=(BATCH,)):
        rng = np.random.default_rng(seed)
        raw = {k: rng.uniform(lo, hi, shape) for k, (lo, hi) in self.ranges.items()}
        if "high" in raw:  # Uniform: high = low + width
            raw["high"] = raw["low"] + raw["high"]
        return {k: jnp.asarray(v, dtype) for k, v in raw.items()}


def _np(params):
    return {k: np.asarray(v, np.float64) for k, v in params.items()}


POSITIVE_OUTSIDE = (lambda p: -1.0,)
CASES = {
    "Normal": Case(
        lambda p: dist.Normal(p["loc"], p["scale"]),
        lambda p: stats.norm(p["loc"], p["scale"]),
        {"loc": (-2, 2), "scale": (0.5, 2)},
        invalid={"scale": -1.0, "loc": math.nan},
    ),
    "HalfNormal": Case(
        lambda p: dist.HalfNormal(p["scale"]),
        lambda p: stats.halfnorm(scale=p["scale"]),
        {"scale": (0.5, 2)},
        outside=POSITIVE_OUTSIDE,
        invalid={"scale": 0.0},
    ),
    "Cauchy": Case(
        lambda p: dist.Cauchy(p["loc"], p["scale"]),
        lambda p: stats.cauchy(p["loc"], p["scale"]),
        {"loc": (-2, 2), "scale": (0.5, 2)},
        finite_moments=False,
        invalid={"scale": -2.0},
    ),
    "HalfCauchy": Case(
        lambda p: dist.HalfCauchy(p["scale"]),
        lambda p: stats.halfcauchy(scale=p["scale"]),
        {"scale": (0.5, 2)},
        finite_moments=False,
        outside=POSITIVE_OUTSIDE,
        invalid={"scale": -1.0},
    ),
    "Uniform": Case(
        lambda p: dist.Uniform(p["low"], p["high"]),
        lambda p: stats.uniform(p["low"], p["high"] - p["low"]),
        {"low": (-2, 2), "high": (0.5, 3)},
        outside=(lambda p: p["low"] - 0.5, lambda p: p["high"] + 0.5),
        invalid={"high": -5.0},
    ),
    "Exponential": Case(
        lambda p: dist.Exponential(p["rate"]),
        lambda p: stats.expon(scale=1 / p["rate"]),
        {"rate": (0.5, 3)},
        outside=POSITIVE_OUTSIDE,
        invalid={"rate": -1.0},
    ),
    "Gamma": Case(
        lambda p: dist.Gamma(p["concentration"], p["rate"]),
        lambda p: stats.gamma(p["concentration"], scale=1 / p["rate"]),
        {"concentration": (0.5, 5), "rate": (0.5, 3)},
        has_icdf=False,
        outside=POSITIVE_OUTSIDE,
        invalid={"concentration": -1.0, "rate": 0.0},
    ),
    "InverseGamma": Case(
        lambda p: dist.InverseGamma(p["concentration"], p["rate"]),
        lambda p: stats.invgamma(p["concentration"], scale=p["rate"]),
        {"concentration": (5, 8), "rate": (0.5, 3)},
        has_icdf=False,
        outside=POSITIVE_OUTSIDE,
        invalid={"concentration": 0.0, "rate": -1.0},
    ),
    "Chi2": Case(
        lambda p: dist.Chi2(p["df"]),
        lambda p: stats.chi2(p["df"]),
        {"df": (1, 8)},
        has_icdf=False,
        outside=POSITIVE_OUTSIDE,
        invalid={"df": -3.0},
    ),
    "Beta": Case(
        lambda p: dist.Beta(p["concentration1"], p["concentration0"]),
        lambda p: stats.beta(p["concentration1"], p["concentration0"]),
        {"concentration1": (0.5, 4), "concentration0": (0.5, 4)},
        has_icdf=False,
        outside=(lambda p: -0.25, lambda p: 1.25),
        invalid={"concentration1": -1.0, "concentration0": 0.0},
    ),
    "LogNormal": Case(
        lambda p: dist.LogNormal(p["loc"], p["scale"]),
        lambda p: stats.lognorm(p["scale"], scale=np.exp(p["loc"])),
        {"loc": (-1, 1), "scale": (0.2, 0.5)},
        outside=POSITIVE_OUTSIDE,
        invalid={"scale": -1.0},
    ),
    "StudentT": Case(
        lambda p: dist.StudentT(p["df"], p["loc"], p["scale"]),
        lambda p: stats.t(p["df"], p["loc"], p["scale"]),
        {"df": (5, 10), "loc": (-2, 2), "scale": (0.5, 2)},
        has_icdf=False,
        invalid={"df": -1.0, "scale": 0.0},
    ),
    "Laplace": Case(
        lambda p: dist.Laplace(p["loc"], p["scale"]),
        lambda p: stats.laplace(p["loc"], p["scale"]),
        {"loc": (-2, 2), "scale": (0.5, 2)},
        invalid={"scale": -1.0},
    ),
    "Logistic": Case(
        lambda p: dist.Logistic(p["loc"], p["scale"]),
        lambda p: stats.logistic(p["loc"], p["scale"]),
        {"loc": (-2, 2), "scale": (0.5, 2)},
        invalid={"scale": -1.0},
    ),
    "Pareto": Case(
        lambda p: dist.Pareto(p["scale"], p["alpha"]),
        lambda p: stats.pareto(p["alpha"], scale=p["scale"]),
        {"scale": (0.5, 2), "alpha": (5, 8)},
        outside=(lambda p: 0.5 * p["scale"], lambda p: -1.0),
        invalid={"scale": -1.0, "alpha": 0.0},
    ),
    "Weibull": Case(
        lambda p: dist.Weibull(p["scale"], p["concentration"]),
        lambda p: stats.weibull_min(p["concentration"], scale=p["scale"]),
        {"scale": (0.5, 2), "concentration": (0.8, 3)},
        outside=POSITIVE_OUTSIDE,
        invalid={"scale": -1.0, "concentration": -2.0},
    ),
    "Gumbel": Case(
        lambda p: dist.Gumbel(p["loc"], p["scale"]),
        lambda p: stats.gumbel_r(p["loc"], p["scale"]),
        {"loc": (-2, 2), "scale": (0.5, 2)},
        invalid={"scale": -1.0},
    ),
    "VonMises": Case(
        lambda p: dist.VonMises(p["loc"], p["concentration"]),
        lambda p: stats.vonmises(p["concentration"], loc=p["loc"]),
        {"loc": (-2, 2), "concentration": (0.5, 5)},
        has_icdf=False,
        has_cdf=False,
        outside=(lambda p: -3.5, lambda p: 3.5),
        invalid={"concentration": -1.0},
    ),
}
FAMILIES = sorted(CASES)
BOUNDED = [name for name in FAMILIES if CASES[name].outside]


def _tolerance(dtype, loose=1.0):
    """Relative/absolute tolerances: tens of ulps of float32, thousands of ulps of float64.

    The observed errors against SciPy are at most ~2e-6 (float32) and ~5e-15 (float64).
    """
    if dtype == jnp.float32:
        return {"rtol": 5e-6 * loose, "atol": 5e-6 * loose}
    return {"rtol": 1e-12 * loose, "atol": 1e-12 * loose}


def _setup(name, dtype, seed=0):
    case = CASES[name]
    params = case.params(seed, dtype)
    frozen = case.scipy(_np(params))
    values = frozen.rvs(size=(5, BATCH), random_state=np.random.default_rng(seed + 1))
    values = np.asarray(jnp.asarray(values, dtype), np.float64)  # what the dtype can hold
    return case, case.make(params), frozen, values


@pytest.mark.parametrize("name", FAMILIES)
def test_log_prob_matches_scipy(name, float_dtype):
    _, d, frozen, values = _setup(name, float_dtype)
    log_prob = d.log_prob(jnp.asarray(values, float_dtype))
    assert log_prob.shape == (5, BATCH)
    assert log_prob.dtype == float_dtype
    np.testing.assert_allclose(log_prob, frozen.logpdf(values), **_tolerance(float_dtype))


@pytest.mark.parametrize("name", [n for n in FAMILIES if CASES[n].has_cdf])
def test_cdf_icdf_match_scipy(name, float_dtype):
    case, d, frozen, values = _setup(name, float_dtype)
    cdf = d.cdf(jnp.asarray(values, float_dtype))
    assert cdf.dtype == float_dtype
    np.testing.assert_allclose(cdf, frozen.cdf(values), **_tolerance(float_dtype))
    if not case.has_icdf:
        return
    q = np.array([0.02, 0.25, 0.5, 0.75, 0.98])[:, None]
    quantiles = d.icdf(jnp.asarray(q, float_dtype))
    assert quantiles.shape == (5, BATCH)
    np.testing.assert_allclose(quantiles, frozen.ppf(q), **_tolerance(float_dtype, 2))
    np.testing.assert_allclose(d.cdf(quantiles), np.broadcast_to(q, (5, BATCH)),
                               **_tolerance(float_dtype, 2))


@pytest.mark.parametrize("name", FAMILIES)
def test_entropy_and_moments_match_scipy(name, float_dtype):
    case, d, frozen, _ = _setup(name, float_dtype)
    entropy = d.entropy()
    assert entropy.shape == (BATCH,) and entropy.dtype == float_dtype
    np.testing.assert_allclose(entropy, frozen.entropy(), **_tolerance(float_dtype, 2))
    assert d.mean.shape == (BATCH,) and d.variance.shape == (BATCH,)
    if case.finite_moments and name != "VonMises":
        np.testing.assert_allclose(d.mean, frozen.mean(), **_tolerance(float_dtype))
        np.testing.assert_allclose(d.variance, frozen.var(), **_tolerance(float_dtype))


def _assert_within_standard_errors(estimate, expected, standard_error, what):
    z = np.abs(estimate - expected) / standard_error
    assert np.all(z < 5), f"{what}: estimate {estimate}, expected {expected}, z-scores {z}"


def _assert_kolmogorov_smirnov_accepts(case, d, x):
    """Each batch column of ``x`` must pass a KS test against SciPy's cdf (p > 1e-6)."""
    params = _np({k: getattr(d, k) for k in case.ranges})
    if isinstance(d, dist.VonMises):  # compare centred angles, wrapped back to [-pi, pi)
        x = np.remainder(x - params["loc"] + np.pi, 2 * np.pi) - np.pi
        params["loc"] = np.zeros(BATCH)
    for i in range(BATCH):
        frozen = case.scipy({k: v[i] for k, v in params.items()})
        p_value = stats.kstest(x[:, i], frozen.cdf).pvalue
        assert p_value > 1e-6, f"column {i}: KS p-value {p_value}"


@pytest.mark.parametrize("name", FAMILIES)
def test_samples_have_right_shape_support_and_moments(name, float_dtype):
    case, d, frozen, _ = _setup(name, float_dtype)
    assert d.batch_shape == (BATCH,) and d.event_shape == ()
    # Both key styles must work: new-style typed keys in float32, raw uint32 keys in float64.
    key = jax.random.key(7) if float_dtype == jnp.float32 else jax.random.PRNGKey(7)
    draws = d.sample(key, (NUM_DRAWS // 100, 100))
    assert draws.shape == (NUM_DRAWS // 100, 100, BATCH) and draws.dtype == float_dtype
    assert d.log_prob(draws).shape == (NUM_DRAWS // 100, 100, BATCH)
    assert bool(jnp.all(d.support(draws)))
    x = np.asarray(draws, np.float64).reshape(NUM_DRAWS, BATCH)
    _assert_kolmogorov_smirnov_accepts(case, d, x)
    if name == "VonMises":  # circular moments: E cos(x - loc) = 1 - variance, E sin(x - loc) = 0
        loc = np.asarray(d.loc, np.float64)
        resultant = 1 - np.asarray(d.variance, np.float64)
        cos, sin = np.cos(x - loc), np.sin(x - loc)
        se = np.sqrt(np.maximum(cos.var(0), sin.var(0)) / NUM_DRAWS)
        _assert_within_standard_errors(cos.mean(0), resultant, se, "mean cosine")
        _assert_within_standard_errors(sin.mean(0), 0.0, se, "mean sine")
        return
    if not case.finite_moments:
        return
    mean, variance = np.asarray(d.mean, np.float64), np.asarray(d.variance, np.float64)
    excess_kurtosis = np.asarray(frozen.stats(moments="k"), np.float64)
    fourth_central = (excess_kurtosis + 3) * variance**2
    _assert_within_standard_errors(x.mean(0), mean, np.sqrt(variance / NUM_DRAWS), "mean")
    se_variance = np.sqrt((fourth_central - variance**2) / NUM_DRAWS)
    _assert_within_standard_errors(x.var(0, ddof=1), variance, se_variance, "variance")


@pytest.mark.parametrize("name", FAMILIES)
def test_scalar_parameters_give_scalar_batch(name):
    case = CASES[name]
    scalar = case.make(case.params(0, jnp.float32, shape=()))
    assert scalar.batch_shape == () and scalar.event_shape == ()
    values = scalar.support.feasible_like(jnp.zeros((3, 2, BATCH)))
    assert scalar.log_prob(values).shape == (3, 2, BATCH)
    assert scalar.mean.shape == () and scalar.variance.shape == ()
    assert scalar.entropy().shape == ()


def test_parameters_broadcast_and_keep_their_dtype(x64):
    d = dist.Gamma(jnp.ones((3, 1), jnp.float32), jnp.full((4,), 2.0, jnp.float32))
    assert d.batch_shape == (3, 4)
    draws = d.sample(jax.random.PRNGKey(0), (2,))
    assert draws.shape == (2, 3, 4) and draws.dtype == jnp.float32
    assert d.log_prob(jnp.float32(1.0)).dtype == jnp.float32
    assert dist.Normal(0.0, 1.0).sample(jax.random.PRNGKey(0)).dtype == jnp.float64
    assert dist.StudentT(3.0).batch_shape == ()
    with pytest.raises(ValueError, match=r"Normal: parameter shapes loc \(3,\), scale \(4,\)"):
        dist.Normal(jnp.zeros(3), jnp.ones(4))


def test_numpyro_defaults():
    for d in (dist.Normal(), dist.Cauchy(), dist.Laplace(), dist.Logistic(), dist.Gumbel(),
              dist.LogNormal()):
        assert (d.loc, d.scale) == (0.0, 1.0)
    assert dist.HalfNormal().scale == 1.0 and dist.HalfCauchy().scale == 1.0
    assert (dist.Uniform().low, dist.Uniform().high) == (0.0, 1.0)
    assert dist.Exponential().rate == 1.0
    assert dist.Gamma(2.0).rate == 1.0 and dist.InverseGamma(2.0).rate == 1.0
    t = dist.StudentT(3.0)
    assert (t.df, t.loc, t.scale) == (3.0, 0.0, 1.0)


@pytest.mark.parametrize(
    "name, parameter",
    [(name, p) for name in FAMILIES for p in CASES[name].invalid],
)
def test_invalid_parameters_raise(name, parameter):
    case = CASES[name]
    params = {k: float(v) for k, v in case.params(0, jnp.float32, shape=()).items()}
    params[parameter] = case.invalid[parameter]
    with pytest.raises(ValueError, match=rf"{name}: parameter `{parameter}`"):
        case.make(params)
    with validation_enabled(False):
        case.make(params)  # validation off: no check


@pytest.mark.parametrize("name", BOUNDED)
def test_log_prob_is_minus_inf_outside_support_with_finite_gradients(name):
    case = CASES[name]
    params = case.params(0, jnp.float32)
    values = jnp.stack([
        jnp.broadcast_to(jnp.asarray(outside(params), jnp.float32), (BATCH,))
        for outside in case.outside
    ])

    @jax.jit
    def log_prob_and_grads(params, values):
        def total(p):  # -inf has zero derivative; no NaN may leak into the gradient
            log_prob = case.make(p).log_prob(values)
            return jnp.sum(jnp.exp(log_prob)), log_prob

        return jax.grad(total, has_aux=True)(params)

    grads, log_prob = log_prob_and_grads(params, values)
    assert bool(jnp.all(log_prob == -jnp.inf))
    for g in jax.tree_util.tree_leaves(grads):
        assert bool(jnp.all(g == 0))
    if case.has_cdf:
        cdf = case.make(params).cdf(values)
        assert bool(jnp.all((cdf == 0) | (cdf == 1)))
    with pytest.warns(UserWarning, match=f"{name}.log_prob: value outside the support"):
        case.make(params).log_prob(values)


@pytest.mark.parametrize("name", FAMILIES)
def test_log_prob_and_sample_gradients_are_finite(name, float_dtype):
    case, _, _, values = _setup(name, float_dtype)
    params = case.params(0, float_dtype)
    values = jnp.asarray(values, float_dtype)
    reparam = case.make(params).reparametrized_params
    assert set(reparam) <= set(params)
    # Sample gradients are costly to compile: one dtype suffices for them.
    with_samples = float_dtype == jnp.float32

    @jax.jit
    def gradients(params):
        log_prob_grads = jax.grad(lambda p: jnp.sum(case.make(p).log_prob(values)))(params)
        if not with_samples:
            return log_prob_grads, {}

        def total_draw(reparam_params):
            d = case.make({**params, **reparam_params})
            return jnp.sum(d.sample(jax.random.PRNGKey(3), (8,)))

        return log_prob_grads, jax.grad(total_draw)({k: params[k] for k in reparam})

    log_prob_grads, sample_grads = gradients(params)
    assert set(log_prob_grads) == set(params)
    for g in jax.tree_util.tree_leaves((log_prob_grads, sample_grads)):
        assert bool(jnp.all(jnp.isfinite(g)))
    assert all(bool(jnp.all(g != 0)) for g in log_prob_grads.values())
    assert all(bool(jnp.any(g != 0)) for g in sample_grads.values())
    assert set(sample_grads) == (set(reparam) if with_samples else set())


@pytest.mark.parametrize("name", FAMILIES)
def test_distributions_cross_jit(name):
    case, d, _, values = _setup(name, jnp.float32)
    values = jnp.asarray(values, jnp.float32)
    d_out, log_prob = jax.jit(lambda d, x: (d, d.log_prob(x)))(d, values)
    assert type(d_out) is type(d) and d_out.batch_shape == d.batch_shape
    np.testing.assert_allclose(log_prob, d.log_prob(values), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_out.mean, d.mean, rtol=1e-6)


def test_vmap_over_parameters_matches_batch():
    locs, scales = jnp.linspace(-1.0, 1.0, 4), jnp.linspace(0.5, 2.0, 4)
    by_vmap = jax.vmap(lambda m, s: dist.StudentT(4.0, m, s).log_prob(0.3))(locs, scales)
    np.testing.assert_allclose(by_vmap, dist.StudentT(4.0, locs, scales).log_prob(0.3), rtol=1e-6)


def test_undefined_moments_follow_numpyro():
    cauchy = dist.Cauchy(jnp.zeros(2), 1.0)
    assert bool(jnp.all(jnp.isnan(cauchy.mean))) and bool(jnp.all(jnp.isnan(cauchy.variance)))
    half = dist.HalfCauchy(jnp.ones(2))
    assert bool(jnp.all(jnp.isinf(half.mean))) and bool(jnp.all(jnp.isinf(half.variance)))
    t = dist.StudentT(jnp.array([0.5, 1.5, 3.0]), 1.0, 2.0)
    np.testing.assert_equal(np.asarray(t.mean), [np.inf, 1.0, 1.0])
    np.testing.assert_allclose(np.asarray(t.variance), [np.nan, np.inf, 12.0])
    for d in (dist.Pareto(1.0, jnp.array([0.5, 1.5, 3.0])),
              dist.InverseGamma(jnp.array([0.5, 1.5, 3.0]), 1.0)):
        assert np.isinf(d.mean[0]) and np.isfinite(d.mean[1]) and np.isfinite(d.mean[2])
        assert np.all(np.isinf(d.variance[:2])) and np.isfinite(d.variance[2])


def test_uniform_support_is_dependent_and_checks_order():
    assert constraints.is_dependent(dist.Uniform.support)
    support = dist.Uniform(jnp.array([0.0, 1.0]), 3.0).support
    np.testing.assert_array_equal(support(jnp.array([2.0, 0.5])), [True, False])
    with pytest.raises(ValueError, match="Uniform: parameter `high` must exceed `low`"):
        dist.Uniform(2.0, 1.0)
    log_prob = jax.jit(lambda d, x: d.log_prob(x))(dist.Uniform(0.0, 2.0), jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(log_prob, [-math.log(2.0), -np.inf])


def test_chi2_is_gamma_with_half_rate():
    chi2, gamma = dist.Chi2(jnp.array([1.0, 4.0])), dist.Gamma(jnp.array([0.5, 2.0]), 0.5)
    np.testing.assert_allclose(chi2.log_prob(1.7), gamma.log_prob(1.7), rtol=1e-6)
    assert isinstance(chi2, dist.Gamma) and chi2.reparametrized_params == ["df"]


@pytest.mark.parametrize("kappa", [1e-3, 1e3, 1e5])
def test_von_mises_extreme_concentrations(kappa, float_dtype):
    """Near-uniform and very concentrated draws keep the right circular spread."""
    d = dist.VonMises(jnp.asarray(3.0, float_dtype), jnp.asarray(kappa, float_dtype))
    draws = jax.jit(lambda d, k: d.sample(k, (NUM_DRAWS,)))(d, jax.random.key(2))
    assert bool(jnp.all(d.support(draws)))
    cos = np.cos(np.asarray(draws, np.float64) - 3.0)
    one_minus_cos = 1 - cos
    expected = float(d.variance)  # E[1 - cos(x - loc)]
    se = one_minus_cos.std() / math.sqrt(NUM_DRAWS)
    _assert_within_standard_errors(one_minus_cos.mean(), expected, se, f"kappa={kappa}")


def test_von_mises_sampling_under_vmap():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    d = dist.VonMises(0.5, jnp.array([0.5, 5.0, 50.0]))
    draws = jax.jit(jax.vmap(lambda k: d.sample(k, (1000,))))(keys)
    assert draws.shape == (3, 1000, 3)
    resultant = np.mean(np.cos(np.asarray(draws) - 0.5), axis=(0, 1))
    np.testing.assert_allclose(resultant, 1 - np.asarray(d.variance), atol=0.05)


def test_constant_parameters_inside_traced_functions():
    """Concrete parameters are still checked (and valid ones accepted) while tracing."""

    @jax.jit
    def log_density(x):
        return dist.Normal(0.0, 1.0).log_prob(x) + dist.Uniform(0.0, 2.0).log_prob(1.0)

    np.testing.assert_allclose(log_density(0.5), stats.norm.logpdf(0.5) - math.log(2), rtol=1e-6)
    grad_low = jax.grad(lambda low: dist.Uniform(low, 2.0).log_prob(1.5))(0.0)
    np.testing.assert_allclose(grad_low, 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="Gamma: parameter `rate`"):
        jax.jit(lambda x: dist.Gamma(2.0, -1.0).log_prob(x))(1.0)
