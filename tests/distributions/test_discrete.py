"""Tests of the discrete families against SciPy, closed forms and sampling frequencies."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from hierax.distributions import discrete as dist
from hierax.distributions.distribution import validation_enabled

NUM_DRAWS = 20_000
CHI2_LEVEL = 1e-4  # a fixed-seed test fails only if the sampler is off by more than noise


def _expit(x):
    return special.expit(np.asarray(x, np.float64))


@dataclass
class Case:
    """A family: how to build it (params -> dist), its SciPy pmf and test values."""

    make: object
    params: dict
    values: np.ndarray  # integer grid, broadcast against the batch
    scipy_logpmf: object  # (values, params as float64 numpy) -> log pmf
    scipy_moments: object = None  # params -> (mean, var)


P3 = np.array([0.15, 0.5, 0.85])
L3 = np.array([-1.5, 0.2, 2.0])
GRID = np.arange(0, 45)[:, None]

CASES = {
    "BernoulliProbs": Case(
        lambda p: dist.Bernoulli(probs=p["p"]), {"p": P3}, np.arange(2)[:, None],
        lambda k, p: stats.bernoulli.logpmf(k, p["p"]),
        lambda p: stats.bernoulli.stats(p["p"]),
    ),
    "BernoulliLogits": Case(
        lambda p: dist.Bernoulli(logits=p["l"]), {"l": L3}, np.arange(2)[:, None],
        lambda k, p: stats.bernoulli.logpmf(k, _expit(p["l"])),
        lambda p: stats.bernoulli.stats(_expit(p["l"])),
    ),
    "BinomialProbs": Case(
        lambda p: dist.Binomial(p["n"], probs=p["p"]),
        {"n": np.array([0.0, 1.0, 7.0, 40.0]), "p": np.array([0.3, 0.5, 0.05, 0.9])}, GRID,
        lambda k, p: stats.binom.logpmf(k, p["n"], p["p"]),
        lambda p: stats.binom.stats(p["n"], p["p"]),
    ),
    "BinomialLogits": Case(
        lambda p: dist.Binomial(p["n"], logits=p["l"]),
        {"n": np.array([3.0, 12.0, 40.0]), "l": L3}, GRID,
        lambda k, p: stats.binom.logpmf(k, p["n"], _expit(p["l"])),
        lambda p: stats.binom.stats(p["n"], _expit(p["l"])),
    ),
    "CategoricalProbs": Case(
        lambda p: dist.Categorical(probs=p["p"]),
        {"p": np.array([[0.2, 0.3, 0.5, 0.0], [0.1, 0.1, 0.1, 0.7]])}, np.arange(4)[:, None],
        lambda k, p: np.log(np.take_along_axis(p["p"], np.broadcast_to(k, (4, 2)).T, -1).T),
    ),
    "CategoricalLogits": Case(
        lambda p: dist.Categorical(logits=p["l"]),
        {"l": np.array([[0.2, -1.0, 3.0], [1.0, 1.0, -2.0]])}, np.arange(3)[:, None],
        lambda k, p: np.take_along_axis(
            p["l"] - special.logsumexp(p["l"], -1, keepdims=True),
            np.broadcast_to(k, (3, 2)).T, -1).T,
    ),
    "Poisson": Case(
        lambda p: dist.Poisson(p["rate"]), {"rate": np.array([0.3, 4.0, 25.0])}, GRID,
        lambda k, p: stats.poisson.logpmf(k, p["rate"]),
        lambda p: stats.poisson.stats(p["rate"]),
    ),
    "NegativeBinomialProbs": Case(
        lambda p: dist.NegativeBinomial(p["r"], probs=p["p"]),
        {"r": np.array([0.7, 3.0, 12.5]), "p": np.array([0.4, 0.75, 0.2])}, GRID,
        lambda k, p: stats.nbinom.logpmf(k, p["r"], 1 - p["p"]),
        lambda p: stats.nbinom.stats(p["r"], 1 - p["p"]),
    ),
    "NegativeBinomialLogits": Case(
        lambda p: dist.NegativeBinomial(p["r"], logits=p["l"]),
        {"r": np.array([0.7, 3.0, 12.5]), "l": np.array([-0.5, 1.0, -1.5])}, GRID,
        lambda k, p: stats.nbinom.logpmf(k, p["r"], _expit(-p["l"])),
        lambda p: stats.nbinom.stats(p["r"], _expit(-p["l"])),
    ),
    "NegativeBinomial2": Case(
        lambda p: dist.NegativeBinomial2(p["mu"], p["c"]),
        {"mu": np.array([0.5, 4.0, 10.0]), "c": np.array([2.0, 0.8, 30.0])}, GRID,
        lambda k, p: stats.nbinom.logpmf(k, p["c"], p["c"] / (p["c"] + p["mu"])),
        lambda p: stats.nbinom.stats(p["c"], p["c"] / (p["c"] + p["mu"])),
    ),
    # SciPy's geom counts trials (support 1, 2, ...); ours counts failures.
    "GeometricProbs": Case(
        lambda p: dist.Geometric(probs=p["p"]), {"p": np.array([0.1, 0.5, 0.95])}, GRID,
        lambda k, p: stats.geom.logpmf(k + 1, p["p"]),
        lambda p: (stats.geom.mean(p["p"]) - 1, stats.geom.var(p["p"])),
    ),
    "GeometricLogits": Case(
        lambda p: dist.Geometric(logits=p["l"]), {"l": L3}, GRID,
        lambda k, p: stats.geom.logpmf(k + 1, _expit(p["l"])),
        lambda p: (stats.geom.mean(_expit(p["l"])) - 1, stats.geom.var(_expit(p["l"]))),
    ),
    "DiscreteUniform": Case(
        lambda p: dist.DiscreteUniform(p["low"], p["high"]),
        {"low": np.array([0, -3, 2]), "high": np.array([3, 4, 2])}, np.arange(-4, 6)[:, None],
        lambda k, p: stats.randint.logpmf(k, p["low"], p["high"] + 1),
        lambda p: stats.randint.stats(p["low"], p["high"] + 1),
    ),
}


def _cast(params, dtype):
    return {
        k: jnp.asarray(v, dtype) if np.issubdtype(v.dtype, np.floating) else jnp.asarray(v)
        for k, v in params.items()
    }


def _rtol(dtype):
    return 2e-5 if dtype == jnp.float32 else 1e-10


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_prob_and_moments_match_scipy(name, float_dtype):
    case = CASES[name]

    @jax.jit  # one compilation per case (eager op-by-op dispatch is slower here)
    def evaluate(params, values):
        d = case.make(params)
        moments = (d.mean, d.variance) if case.scipy_moments is not None else None
        return d.log_prob(values), moments

    log_prob, moments = evaluate(_cast(case.params, float_dtype), jnp.asarray(case.values))
    assert log_prob.dtype == float_dtype
    with np.errstate(divide="ignore"):
        expected = case.scipy_logpmf(case.values, case.params)
    np.testing.assert_allclose(log_prob, expected, rtol=_rtol(float_dtype), atol=_rtol(float_dtype))
    if moments is not None:
        with np.errstate(divide="ignore", invalid="ignore"):  # SciPy's unused kurtosis
            mean, var = case.scipy_moments(case.params)
        np.testing.assert_allclose(moments[0], mean, rtol=_rtol(float_dtype) * 10)
        np.testing.assert_allclose(moments[1], var, rtol=_rtol(float_dtype) * 10)


@pytest.mark.parametrize("name", ["MultinomialProbs", "MultinomialLogits"])
def test_multinomial_log_prob_matches_scipy(name, float_dtype):
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    counts = np.array([[[0, 0, 5], [1, 2, 2]], [[5, 0, 0], [3, 1, 1]]])  # (2, 2, 3)
    if name == "MultinomialProbs":
        d = dist.Multinomial(5, probs=jnp.asarray(probs, float_dtype))
    else:
        d = dist.Multinomial(5, logits=jnp.asarray(np.log(probs) + 0.7, float_dtype))
    log_prob = d.log_prob(jnp.asarray(counts))
    assert log_prob.shape == (2, 2) and log_prob.dtype == float_dtype
    np.testing.assert_allclose(log_prob, stats.multinomial.logpmf(counts, 5, probs),
                               rtol=_rtol(float_dtype))
    np.testing.assert_allclose(d.mean, 5 * probs, rtol=1e-6)
    np.testing.assert_allclose(d.variance, 5 * probs * (1 - probs), rtol=1e-6)


def test_cdf_and_entropy_match_scipy(x64):
    x = jnp.arange(-2.0, 12.0, 0.5)
    checks = [
        (dist.Poisson(3.5).cdf(x), stats.poisson.cdf(x, 3.5)),
        (dist.Geometric(probs=0.3).cdf(x), stats.geom.cdf(np.floor(x) + 1, 0.3)),
        (dist.Geometric(logits=-0.4).cdf(x), stats.geom.cdf(np.floor(x) + 1, _expit(-0.4))),
        (dist.DiscreteUniform(-1, 6).cdf(x), stats.randint.cdf(x, -1, 7)),
        (dist.Bernoulli(probs=0.3).cdf(x), stats.bernoulli.cdf(x, 0.3)),
        (dist.Bernoulli(probs=0.3).entropy(), stats.bernoulli.entropy(0.3)),
        (dist.Bernoulli(logits=-8.0).entropy(), stats.bernoulli.entropy(_expit(-8.0))),
        (dist.Geometric(probs=0.3).entropy(), stats.geom.entropy(0.3)),
        (dist.Geometric(logits=1.2).entropy(), stats.geom.entropy(_expit(1.2))),
        (dist.DiscreteUniform(-1, 6).entropy(), np.log(8)),
        (dist.Categorical(probs=jnp.array([0.2, 0.0, 0.8])).entropy(),
         stats.entropy([0.2, 0.0, 0.8])),
        (dist.Categorical(logits=jnp.array([0.2, -jnp.inf, 1.0])).entropy(),
         stats.entropy(special.softmax([0.2, -np.inf, 1.0]))),
    ]
    for ours, expected in checks:
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------
# Sampling.


def _chi_square_check(samples, pmf_values, support):
    """Pearson's test of ``samples`` against ``pmf_values`` on ``support``, pooling small bins.

    Bins with fewer than 5 expected counts are merged into one "rest" bin (which also
    catches any draw outside ``support``), so the chi-square approximation holds.
    """
    samples = np.asarray(samples).ravel()
    n = samples.size
    expected = n * np.asarray(pmf_values, np.float64)
    observed = np.array([(samples == v).sum() for v in support], np.float64)
    big = expected >= 5
    stat_expected = list(expected[big])
    stat_observed = list(observed[big])
    rest_expected = n - expected[big].sum()
    rest_observed = n - observed[big].sum()
    if rest_expected >= 1e-9 * n:
        stat_expected.append(rest_expected)
        stat_observed.append(rest_observed)
    else:  # the big bins carry all the mass: nothing may fall outside them
        assert rest_observed == 0, f"{rest_observed} draws outside the support"
    stat_expected, stat_observed = np.array(stat_expected), np.array(stat_observed)
    if len(stat_expected) == 1:  # a point mass: every draw must sit on it
        assert stat_observed[0] == n
        return
    statistic = np.sum((stat_observed - stat_expected) ** 2 / stat_expected)
    df = len(stat_expected) - 1
    threshold = stats.chi2.ppf(1 - CHI2_LEVEL, df)
    assert statistic < threshold, f"chi2={statistic:.1f} > {threshold:.1f} (df={df})"


SAMPLING_CASES = {
    "BernoulliProbs": (dist.Bernoulli(probs=0.3), stats.bernoulli(0.3)),
    "BernoulliLogits": (dist.Bernoulli(logits=-0.7), stats.bernoulli(_expit(-0.7))),
    "BinomialProbs": (dist.Binomial(25, probs=0.3), stats.binom(25, 0.3)),
    "BinomialLogits": (dist.Binomial(25, logits=1.1), stats.binom(25, _expit(1.1))),
    "Poisson": (dist.Poisson(3.5), stats.poisson(3.5)),
    "PoissonLarge": (dist.Poisson(60.0), stats.poisson(60.0)),
    "NegativeBinomialProbs": (dist.NegativeBinomial(2.5, probs=0.6), stats.nbinom(2.5, 0.4)),
    "NegativeBinomialLogits": (dist.NegativeBinomial(0.8, logits=0.5),
                               stats.nbinom(0.8, _expit(-0.5))),
    "NegativeBinomial2": (dist.NegativeBinomial2(4.0, 1.5), stats.nbinom(1.5, 1.5 / 5.5)),
    "GeometricProbs": (dist.Geometric(probs=0.2), stats.geom(0.2, loc=-1)),
    "GeometricLogits": (dist.Geometric(logits=0.5), stats.geom(_expit(0.5), loc=-1)),
    "DiscreteUniform": (dist.DiscreteUniform(-2, 5), stats.randint(-2, 6)),
    "Categorical": (dist.Categorical(probs=jnp.array([0.1, 0.0, 0.6, 0.3])),
                    stats.rv_discrete(values=(np.arange(4), [0.1, 0.0, 0.6, 0.3]))),
}


@pytest.mark.parametrize("name", sorted(SAMPLING_CASES))
def test_sample_frequencies_and_moments(name):
    d, reference = SAMPLING_CASES[name]
    samples = jax.jit(lambda d, key: d.sample(key, (NUM_DRAWS,)))(d, jax.random.PRNGKey(7))
    assert samples.shape == (NUM_DRAWS,)
    if not name.startswith("Geometric"):
        assert jnp.issubdtype(samples.dtype, jnp.integer)
    support = np.arange(int(reference.ppf(1e-12)), int(reference.ppf(1 - 1e-12)) + 1)
    _chi_square_check(samples, reference.pmf(support), support)
    mean, var = reference.stats()
    sample_mean = np.mean(np.asarray(samples, np.float64))
    assert abs(sample_mean - mean) < 5 * np.sqrt(var / NUM_DRAWS)


def test_binomial_sampling_with_traced_total_count_under_jit_and_vmap():
    total_counts = jnp.array([0.0, 1.0, 6.0, 30.0, 2000.0])
    probs = jnp.array([0.5, 0.9, 0.25, 0.6, 0.01])

    @jax.jit
    def draw(key, n, p):
        return dist.Binomial(n, probs=p).sample(key, (4000,))

    keys = jax.random.split(jax.random.PRNGKey(3), 5)
    samples = np.asarray(jax.vmap(draw)(keys, total_counts, probs))
    assert samples.shape == (5, 4000)
    for row, n, p in zip(samples, np.asarray(total_counts), np.asarray(probs), strict=True):
        assert row.min() >= 0 and row.max() <= n
        support = np.arange(0, int(n) + 1)
        _chi_square_check(row, stats.binom.pmf(support, n, p), support)


def test_multinomial_sampling_frequencies_and_traced_total_count():
    probs = np.array([0.2, 0.5, 0.3])
    d = dist.Multinomial(3, probs=jnp.asarray(probs))
    samples = np.asarray(d.sample(jax.random.PRNGKey(11), (NUM_DRAWS,)))
    assert samples.shape == (NUM_DRAWS, 3) and np.all(samples.sum(-1) == 3)
    outcomes = [(a, b, 3 - a - b) for a in range(4) for b in range(4 - a)]
    codes = samples[:, 0] * 4 + samples[:, 1]
    support = np.array([a * 4 + b for a, b, _ in outcomes])
    pmf = stats.multinomial.pmf(np.array(outcomes), 3, probs)
    _chi_square_check(codes, pmf, support)
    # A traced total count inside jit, with a batch of counts.
    draw = jax.jit(lambda key, n: dist.Multinomial(n, logits=jnp.zeros(4)).sample(key, (2,)))
    drawn = draw(jax.random.PRNGKey(0), jnp.array([0, 5, 17]))
    assert drawn.shape == (2, 3, 4)
    np.testing.assert_array_equal(drawn.sum(-1), np.broadcast_to([0, 5, 17], (2, 3)))


def _shape(fn, *args):
    """Output shape of ``fn(*args)``, by tracing only (no compilation)."""
    return jax.eval_shape(fn, *args).shape


def test_sample_shapes_and_batch_broadcasting():
    key = jax.random.PRNGKey(0)
    d = dist.Binomial(jnp.array([[3], [5]]), probs=jnp.array([0.2, 0.5, 0.9]))
    assert d.batch_shape == (2, 3)
    assert _shape(lambda: d.sample(key, (4,))) == (4, 2, 3)
    assert _shape(d.log_prob, jnp.array([1, 2, 3])) == (2, 3)
    assert _shape(d.log_prob, jnp.zeros((7, 1, 1))) == (7, 2, 3)
    cat = dist.Categorical(logits=jnp.zeros((2, 3, 5)))
    assert cat.batch_shape == (2, 3) and cat.event_shape == ()
    assert _shape(lambda: cat.sample(key, (4,))) == (4, 2, 3)
    assert _shape(cat.log_prob, jnp.array(4)) == (2, 3)
    assert _shape(cat.log_prob, jnp.zeros((6, 1, 3), int)) == (6, 2, 3)
    mult = dist.Multinomial(jnp.array([2, 4]), probs=jnp.full((3, 1, 5), 0.2))
    assert mult.batch_shape == (3, 2) and mult.event_shape == (5,)
    assert _shape(lambda: mult.sample(key, (4,))) == (4, 3, 2, 5)
    assert _shape(mult.log_prob, jnp.zeros((7, 1, 1, 5))) == (7, 3, 2)
    nb = dist.NegativeBinomial2(jnp.ones((3, 1)), jnp.ones(2))
    assert nb.batch_shape == (3, 2) and _shape(lambda: nb.sample(key, (5,))) == (5, 3, 2)
    uniform = dist.DiscreteUniform(jnp.array([0, 10]), 12)
    assert _shape(lambda: uniform.sample(key, (3,))) == (3, 2)
    geometric = dist.Geometric(probs=jnp.full((2, 2), 0.5))
    assert _shape(lambda: geometric.sample(key)) == (2, 2)
    poisson = dist.Poisson(jnp.ones(3))
    assert _shape(poisson.log_prob, jnp.zeros((4, 1))) == (4, 3)
    # Both key styles work.
    assert dist.Poisson(2.0).sample(jax.random.key(1), (3,)).shape == (3,)
    assert dist.Bernoulli(probs=0.5).sample(jax.random.key(1), (3,)).shape == (3,)


def test_enumerate_support_shapes_and_values():
    bern = dist.Bernoulli(probs=jnp.full((2, 3), 0.4))
    assert bern.enumerate_support().shape == (2, 2, 3)
    assert bern.enumerate_support(expand=False).shape == (2, 1, 1)
    cat = dist.Categorical(probs=jnp.full((3, 4), 0.25))
    np.testing.assert_array_equal(cat.enumerate_support()[:, 0], np.arange(4))
    assert cat.enumerate_support().shape == (4, 3)
    binom = dist.Binomial(5, probs=jnp.array([0.1, 0.2, 0.3]))
    assert binom.enumerate_support().shape == (6, 3)
    assert binom.enumerate_support(expand=False).shape == (6, 1)
    uniform = dist.DiscreteUniform(jnp.array([0, 2]), jnp.array([3, 5]))
    np.testing.assert_array_equal(uniform.enumerate_support(), [[0, 2], [1, 3], [2, 4], [3, 5]])
    total_mass = jax.jit(lambda d, v: jax.scipy.special.logsumexp(d.log_prob(v), axis=0))
    for d in (bern, cat, binom, uniform):
        assert d.has_enumerate_support
        np.testing.assert_allclose(total_mass(d, d.enumerate_support()), 0.0, atol=1e-5)


def test_enumerate_support_errors():
    with pytest.raises(ValueError, match="BinomialProbs.enumerate_support.*same total_count"):
        dist.Binomial(jnp.array([2, 3]), probs=0.5).enumerate_support()
    with pytest.raises(ValueError, match="DiscreteUniform.enumerate_support.*same number"):
        dist.DiscreteUniform(0, jnp.array([2, 3])).enumerate_support()

    def enumerate_traced(n, p):
        return dist.Binomial(n, probs=p).enumerate_support()

    with pytest.raises(ValueError, match="BinomialProbs.enumerate_support needs a concrete"):
        jax.jit(enumerate_traced)(3, 0.5)
    # A concrete total_count inside a trace is fine.
    values = jax.jit(lambda p: dist.Binomial(3, probs=p).enumerate_support())(jnp.ones(2) / 2)
    assert values.shape == (4, 2)


# ----------------------------------------------------------------------------
# Support, validation, transformations.


def test_out_of_support_values_give_minus_inf_with_finite_gradients():
    cases = [
        (lambda t: dist.Bernoulli(probs=t), 0.3, 2.0),
        (lambda t: dist.Bernoulli(logits=t), 0.3, 0.5),
        (lambda t: dist.Binomial(5, probs=t), 0.3, 7.0),
        (lambda t: dist.Binomial(5, logits=t), 0.3, 2.5),
        (lambda t: dist.Poisson(t), 2.0, -1.0),
        (lambda t: dist.NegativeBinomial(t, probs=0.4), 2.0, 1.5),
        (lambda t: dist.NegativeBinomial2(t, 2.0), 2.0, -3.0),
        (lambda t: dist.Geometric(probs=t), 0.3, -2.0),
        (lambda t: dist.Geometric(logits=t), 0.3, 0.5),
        (lambda t: dist.Categorical(logits=jnp.array([0.0, t])), 0.3, 2.0),
        (lambda t: dist.Multinomial(3, probs=jnp.array([t, 1 - t])), 0.3, jnp.array([1.0, 1.0])),
        (lambda t: dist.DiscreteUniform(0, 3), 0.3, 4.0),
    ]
    for make, theta, outside in cases:
        with pytest.warns(UserWarning, match="outside the support"):
            assert make(theta).log_prob(outside) == -jnp.inf
        grad = jax.jit(jax.grad(lambda t, make=make, outside=outside: make(t).log_prob(outside)))
        with validation_enabled(False):
            assert np.isfinite(grad(theta)), make(theta)


def test_gradients_inside_support_match_finite_differences(x64):
    cases = [
        (lambda t: dist.Binomial(9, logits=t), 0.4, 3.0),
        (lambda t: dist.Binomial(9, probs=t), 0.4, 3.0),
        (lambda t: dist.NegativeBinomial2(t, 1.7), 2.5, 4.0),
        (lambda t: dist.NegativeBinomial(t, logits=-0.3), 2.5, 4.0),
        (lambda t: dist.Geometric(logits=t), 0.4, 3.0),
        (lambda t: dist.Poisson(t), 2.5, 4.0),
        (lambda t: dist.Multinomial(4, logits=jnp.array([t, 0.0, 1.0])), 0.4,
         jnp.array([1.0, 1.0, 2.0])),
    ]
    step = 1e-6
    for make, theta, value in cases:

        @jax.jit
        def grad_and_difference(t, make=make, value=value):
            log_prob = lambda s: make(s).log_prob(value)  # noqa: E731
            difference = (log_prob(t + step) - log_prob(t - step)) / (2 * step)
            return jax.grad(log_prob)(t), difference

        grad, numeric = grad_and_difference(theta)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6)


INVALID = [
    (lambda: dist.Bernoulli(probs=1.5), "BernoulliProbs: parameter `probs`"),
    (lambda: dist.Bernoulli(logits=jnp.nan), "BernoulliLogits: parameter `logits`"),
    (lambda: dist.Binomial(2.5, probs=0.3), "BinomialProbs: parameter `total_count`"),
    (lambda: dist.Binomial(-1, logits=0.3), "BinomialLogits: parameter `total_count`"),
    (lambda: dist.Categorical(probs=jnp.array([0.5, 0.6])), "CategoricalProbs: parameter `probs`"),
    (lambda: dist.Categorical(logits=1.0), "CategoricalLogits: `logits` must have at least one"),
    (lambda: dist.Poisson(-1.0), "Poisson: parameter `rate`"),
    (lambda: dist.NegativeBinomial(0.0, probs=0.3), "NegativeBinomialProbs: parameter `total"),
    (lambda: dist.NegativeBinomial(2.0, probs=1.3), "NegativeBinomialProbs: parameter `probs`"),
    (lambda: dist.NegativeBinomial2(-1.0, 2.0), "NegativeBinomial2: parameter `mean`"),
    (lambda: dist.NegativeBinomial2(1.0, 0.0), "NegativeBinomial2: parameter `concentration`"),
    (lambda: dist.Geometric(probs=-0.1), "GeometricProbs: parameter `probs`"),
    (lambda: dist.DiscreteUniform(3, 1), r"DiscreteUniform: parameter `high` must be >= `low`"),
    (lambda: dist.DiscreteUniform(0.5, 1), "DiscreteUniform: parameter `low`"),
    (lambda: dist.Multinomial(-2, probs=jnp.array([0.5, 0.5])),
     "MultinomialProbs: parameter `total_count`"),
    (lambda: dist.Multinomial(2, probs=0.5), "MultinomialProbs: `probs` must have at least one"),
    (lambda: dist.Bernoulli(), "Bernoulli: pass exactly one of `probs` or `logits`"),
    (lambda: dist.Binomial(3, probs=0.2, logits=0.1), "Binomial: pass exactly one"),
    (lambda: dist.Categorical(), "Categorical: pass exactly one"),
    (lambda: dist.Geometric(probs=0.2, logits=0.1), "Geometric: pass exactly one"),
    (lambda: dist.NegativeBinomial(3.0), "NegativeBinomial: pass exactly one"),
    (lambda: dist.Multinomial(3), "Multinomial: pass exactly one"),
]


@pytest.mark.parametrize("make, message", INVALID)
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_validation_can_be_turned_off():
    with validation_enabled(False):
        assert dist.Poisson(-1.0).batch_shape == ()
    assert dist.Bernoulli(probs=1.5, validate_args=False).batch_shape == ()


def test_factories_pick_the_parametrisation():
    assert isinstance(dist.Bernoulli(probs=0.2), dist.BernoulliProbs)
    assert isinstance(dist.Bernoulli(logits=0.2), dist.BernoulliLogits)
    assert isinstance(dist.Binomial(3, logits=0.2), dist.BinomialLogits)
    assert isinstance(dist.Categorical(logits=jnp.zeros(3)), dist.CategoricalLogits)
    assert isinstance(dist.Geometric(probs=0.2), dist.GeometricProbs)
    assert isinstance(dist.NegativeBinomial(2.0, logits=0.2), dist.NegativeBinomialLogits)
    assert isinstance(dist.Multinomial(3, probs=jnp.ones(2) / 2), dist.MultinomialProbs)
    # The other parametrisation is available as a property.
    np.testing.assert_allclose(dist.Bernoulli(logits=0.0).probs, 0.5)
    np.testing.assert_allclose(dist.Bernoulli(probs=0.5).logits, 0.0, atol=1e-6)
    np.testing.assert_allclose(dist.Categorical(logits=jnp.zeros(4)).probs, 0.25)
    assert dist.Poisson(1.0, is_sparse=True).is_discrete


def test_distributions_cross_jit_and_vmap_as_pytrees():
    dists = [
        dist.Bernoulli(probs=jnp.array([0.2, 0.7])),
        dist.Binomial(jnp.array([3, 4]), logits=jnp.array([0.1, -0.2])),
        dist.Categorical(probs=jnp.array([[0.5, 0.5], [0.1, 0.9]])),
        dist.Poisson(jnp.array([1.0, 2.0])),
        dist.NegativeBinomial2(jnp.array([1.0, 2.0]), 3.0),
        dist.Geometric(logits=jnp.array([0.3, 0.1])),
        dist.DiscreteUniform(0, jnp.array([2, 3])),
        dist.Multinomial(2, probs=jnp.array([[0.5, 0.5], [0.1, 0.9]])),
    ]
    values = [jnp.array(1), jnp.array(1), jnp.array(1), jnp.array(1), jnp.array(1),
              jnp.array(1), jnp.array(1), jnp.array([1, 1])]

    @jax.jit
    def log_probs_and_rebuild(ds, xs):
        return [d.log_prob(x) for d, x in zip(ds, xs, strict=True)], ds

    jitted, rebuilt = log_probs_and_rebuild(dists, values)
    for d, x, lp, back in zip(dists, values, jitted, rebuilt, strict=True):
        np.testing.assert_allclose(lp, d.log_prob(x), rtol=1e-6)
        assert type(back) is type(d) and back.batch_shape == d.batch_shape
    rates = jnp.array([0.5, 1.5, 4.0])
    by_vmap = jax.vmap(lambda r: dist.Poisson(r).log_prob(2))(rates)
    np.testing.assert_allclose(by_vmap, stats.poisson.logpmf(2, np.asarray(rates)), rtol=1e-5)
    # A distribution mapped over by vmap.
    mapped = jax.vmap(lambda d: d.log_prob(1))(dist.Geometric(probs=jnp.array([0.2, 0.6])))
    np.testing.assert_allclose(mapped, stats.geom.logpmf(2, [0.2, 0.6]), rtol=1e-5)


def test_float32_parameters_stay_float32_under_x64(x64):
    probs = jnp.array([0.2, 0.6], jnp.float32)
    makers = [
        lambda p: dist.Bernoulli(probs=p),
        lambda p: dist.Binomial(4, probs=p),
        lambda p: dist.Geometric(probs=p),
        lambda p: dist.NegativeBinomial(2.0, probs=p),
        lambda p: dist.Poisson(p),
        lambda p: dist.Categorical(probs=jnp.stack([p, 1 - p], -1)),
        lambda p: dist.Multinomial(3, logits=jnp.stack([p, 1 - p], -1)),
    ]
    values = jnp.array([1, 0])
    for make in makers:
        value = values if make(probs).event_shape == () else jnp.array([1, 2])
        log_prob = jax.eval_shape(lambda p, v, make=make: make(p).log_prob(v), probs, value)
        assert log_prob.dtype == jnp.float32, make(probs)
    key = jax.random.PRNGKey(0)
    assert jax.eval_shape(lambda: dist.Geometric(probs=probs).sample(key)).dtype == jnp.float32
    assert jax.eval_shape(lambda: dist.Poisson(probs).sample(key)).dtype == jnp.int64
    assert jax.eval_shape(lambda: dist.Binomial(3, probs=probs).sample(key)).dtype == jnp.int64
