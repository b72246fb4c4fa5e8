"""LVK mass models (PowerLawPeak, BrokenPowerLawTwoPeaks): normalisation, marginals, draws,
float32, gradients and parameter checks, against independent NumPy/SciPy references."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from hierax.pop.models import PowerLawPrimaryMassRatio
from hierax.pop.models.mass_lvk import BrokenPowerLawTwoPeaks, PowerLawPeak

PEAK_HIGH = 100.0  # the default truncation of the peaks
KS_ALPHA = 1e-3  # fixed seeds; the KS bound below is this level's asymptotic critical value

# GWTC-3-like values; a peak crossing mmax with a flat power law; a peak inside the taper.
PLP = {
    "gwtc3": dict(alpha=3.4, beta=1.1, mmin=5.1, mmax=87.0, lam=0.039, mpp=34.0, sigpp=3.6,
                  delta_m=4.8),
    "wide": dict(alpha=1.5, beta=-0.5, mmin=3.0, mmax=40.0, lam=0.3, mpp=38.0, sigpp=5.0,
                 delta_m=6.0),
    "low_peak": dict(alpha=2.5, beta=2.0, mmin=5.0, mmax=60.0, lam=0.2, mpp=7.0, sigpp=0.8,
                     delta_m=5.0),
}
BP2P = {
    "gwtc4": dict(alpha_1=1.7, alpha_2=4.5, beta=1.2, mmin=5.0, mmax=80.0, m_break=30.0,
                  lam_0=0.75, lam_1=0.15, mpp_1=9.5, sigpp_1=1.0, mpp_2=34.0, sigpp_2=3.0,
                  delta_m=4.8),
    "break_in_taper": dict(alpha_1=-1.0, alpha_2=3.0, beta=0.5, mmin=4.0, mmax=70.0,
                           m_break=6.0, lam_0=0.6, lam_1=0.3, mpp_1=12.0, sigpp_1=2.0,
                           mpp_2=50.0, sigpp_2=8.0, delta_m=5.0),
    "sharp": dict(alpha_1=2.0, alpha_2=5.0, beta=1.0, mmin=6.0, mmax=90.0, m_break=40.0,
                  lam_0=0.9, lam_1=0.05, mpp_1=10.0, sigpp_1=1.5, mpp_2=35.0, sigpp_2=4.0,
                  delta_m=0.0),
}
CASES = [(PowerLawPeak, name, p) for name, p in PLP.items()] + [
    (BrokenPowerLawTwoPeaks, name, p) for name, p in BP2P.items()]
CASE_IDS = [f"{cls.__name__}-{name}" for cls, name, _ in CASES]


def _args(params, dtype=None):
    return tuple(jnp.asarray(v, dtype) for v in params.values())


CHUNK = 1 << 15  # points per compiled call: every test shares one compilation per model


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(cls, args, value):
    return (cls(*args, validate_args=False).log_prob(value),)


@functools.partial(jax.jit, static_argnums=0)
def _marginals(cls, args, m1):
    dist = cls(*args, validate_args=False)
    return dist.primary_log_prob(m1), dist.log_pairing_normalizer(m1)


def _parts(cls, args, value):
    """``[log p(m1, m2)]`` at ``value`` (shape ``(..., 2)``), evaluated in padded chunks of
    ``CHUNK`` points."""
    value = np.asarray(value)
    flat = value.reshape(-1, 2)
    dtype = args[0].dtype
    outputs = []
    for start in range(0, len(flat), CHUNK):
        chunk = flat[start:start + CHUNK]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], CHUNK - len(chunk), 0)])
        parts = _evaluate(cls, args, jnp.asarray(padded, dtype))
        outputs.append([np.asarray(part)[:len(chunk)] for part in parts])
    return [np.concatenate(column).reshape(value.shape[:-1]) for column in zip(*outputs,
                                                                                strict=True)]


@functools.partial(jax.jit, static_argnums=(0, 3))
def _sample(cls, args, key, count):
    return cls(*args, validate_args=False).sample(key, (count,))


# ----------------------------------------------------------------------------
# Independent references (NumPy/SciPy only).


def reference_taper(m, mmin, delta):
    x = np.asarray(m, float) - mmin
    if delta == 0:
        return np.where(x > 0, 1.0, 0.0)
    inside = (x > 0) & (x < delta)
    xs = np.where(inside, x, delta / 2)
    return np.where(inside, special.expit(-(delta / xs + delta / (xs - delta))),
                    np.where(x >= delta, 1.0, 0.0))


def _power_integral(k, low, high):
    """int_low^high x^k dx."""
    if abs(k + 1) < 1e-12:
        return math.log(high / low)
    return (high ** (k + 1) - low ** (k + 1)) / (k + 1)


def _truncated_peak(mean, sigma, mmin):
    return stats.truncnorm((mmin - mean) / sigma, (PEAK_HIGH - mean) / sigma, mean, sigma)


def reference_mixture(cls, p, m):
    """The untapered, normalised mixture g(m) of the module docstring."""
    m = np.asarray(m, float)
    if cls is PowerLawPeak:
        pl = np.where((m >= p["mmin"]) & (m <= p["mmax"]), m ** -p["alpha"], 0.0)
        pl = pl / _power_integral(-p["alpha"], p["mmin"], p["mmax"])
        peak = _truncated_peak(p["mpp"], p["sigpp"], p["mmin"]).pdf(m)
        return (1 - p["lam"]) * pl + p["lam"] * peak
    mb, a1, a2 = p["m_break"], p["alpha_1"], p["alpha_2"]
    norm = (mb**a1 * _power_integral(-a1, p["mmin"], mb)
            + mb**a2 * _power_integral(-a2, mb, p["mmax"]))
    bpl = np.where(m < mb, (m / mb) ** -a1, (m / mb) ** -a2) / norm
    bpl = np.where((m >= p["mmin"]) & (m <= p["mmax"]), bpl, 0.0)
    first = _truncated_peak(p["mpp_1"], p["sigpp_1"], p["mmin"]).pdf(m)
    second = _truncated_peak(p["mpp_2"], p["sigpp_2"], p["mmin"]).pdf(m)
    return (p["lam_0"] * bpl + p["lam_1"] * first
            + (1 - p["lam_0"] - p["lam_1"]) * second)


def _breaks(cls, p):
    """Masses where the densities have kinks, jumps or narrow features."""
    points = [p["mmin"] + p["delta_m"], p["mmax"], PEAK_HIGH]
    if cls is PowerLawPeak:
        peaks = [(p["mpp"], p["sigpp"])]
    else:
        points.append(p["m_break"])
        peaks = [(p["mpp_1"], p["sigpp_1"]), (p["mpp_2"], p["sigpp_2"])]
    points += [mu + k * s for mu, s in peaks for k in (-6, -2, 0, 2, 6)]
    high = max(p["mmax"], PEAK_HIGH)
    return sorted({b for b in points if p["mmin"] < b < high})


def reference_log_z(cls, p):
    """log int g S by adaptive quadrature (scipy quad with the feature points)."""
    def integrand(m):
        return float(reference_mixture(cls, p, m) * reference_taper(m, p["mmin"], p["delta_m"]))

    high = max(p["mmax"], PEAK_HIGH)
    value, _ = integrate.quad(integrand, p["mmin"], high, points=_breaks(cls, p), limit=400,
                              epsabs=1e-14, epsrel=1e-12)
    return math.log(value)


def reference_log_f(p, m1):
    """log int_mmin^m1 m^beta S(m) dm by scipy quad."""
    edge = p["mmin"] + p["delta_m"]
    points = [edge] if p["mmin"] < edge < m1 else None
    value, _ = integrate.quad(
        lambda m: m ** p["beta"] * float(reference_taper(m, p["mmin"], p["delta_m"])),
        p["mmin"], m1, points=points, limit=200, epsabs=0.0, epsrel=1e-12)
    return math.log(value)


def _legendre(n, low, high):
    nodes, weights = special.roots_legendre(n)
    low, high = np.asarray(low, float), np.asarray(high, float)
    scale = (high - low)[..., None] / 2
    return low[..., None] + scale * (nodes + 1), scale * weights


def _panels(edges, n):
    nodes, weights = zip(*(_legendre(n, a, b) for a, b in zip(edges[:-1], edges[1:],
                                                              strict=True)), strict=True)
    return np.concatenate(nodes, -1), np.concatenate(weights, -1)


def _secondary_nodes(p, m1, n=32):
    """Gauss-Legendre nodes over m2 in [mmin, m1] for every m1 (taper in 4 panels)."""
    top = np.minimum(m1, p["mmin"] + p["delta_m"])
    edges = [p["mmin"] + (top - p["mmin"]) * j / 4 for j in range(5)] + [m1]
    return _panels([np.broadcast_to(e, np.shape(m1)) for e in edges], n)


def _m1_nodes(cls, p, n=48):
    high = max(p["mmax"], PEAK_HIGH)
    taper = [p["mmin"] + p["delta_m"] * j / 8 for j in range(9)]
    edges = sorted({p["mmin"], high, *[t for t in taper if t < high], *_breaks(cls, p)})
    return _panels(edges, n)


def _integrate_over_m2(cls, args, p, m1):
    """int p(m1, m2) dm2 for every m1, by Gauss-Legendre (independent of the model's rules)."""
    m2, w2 = _secondary_nodes(p, m1)
    value = np.stack(np.broadcast_arrays(m1[:, None], m2), -1)
    return np.sum(w2 * np.exp(_parts(cls, args, value)[0]), axis=-1)


# ----------------------------------------------------------------------------
# Normalisation and marginals.


@pytest.mark.parametrize(("cls", "name", "params"), CASES, ids=CASE_IDS)
def test_integrates_to_one(x64, cls, name, params):
    m1, w1 = _m1_nodes(cls, params)
    total = np.sum(w1 * _integrate_over_m2(cls, _args(params), params, m1))
    assert total == pytest.approx(1.0, abs=1e-9), name


@pytest.mark.parametrize(("cls", "name", "params"), CASES, ids=CASE_IDS)
def test_m1_marginal_and_pairing_normaliser_match_direct_formulas(x64, cls, name, params):
    rng = np.random.default_rng(7)
    mmin, delta = params["mmin"], params["delta_m"]
    high = max(params["mmax"], PEAK_HIGH)
    # Keep away from the deepest taper, where S < e^-20 and the log is ill-conditioned.
    low = mmin + 0.05 * delta + 1e-3
    m1 = np.sort(np.concatenate([rng.uniform(low, max(mmin + delta, low + 1), 20),
                                 rng.uniform(mmin + delta, high, 30)]))
    m1 = m1[reference_mixture(cls, params, m1) > 1e-300]
    log_z = reference_log_z(cls, params)
    expected = (np.log(reference_mixture(cls, params, m1) * reference_taper(m1, mmin, delta))
                - log_z)
    log_marginal, log_f = _marginals(cls, _args(params), jnp.asarray(m1))
    np.testing.assert_allclose(log_marginal, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(log_f, [reference_log_f(params, m) for m in m1], rtol=0,
                               atol=1e-10)
    # The joint density's m1 marginal is p(m1): the pairing is normalised for every m1.
    marginal = _integrate_over_m2(cls, _args(params), params, m1)
    np.testing.assert_allclose(marginal, np.exp(expected), rtol=1e-10)


def test_reduces_to_the_smoothed_power_law_and_to_each_other(x64):
    rng = np.random.default_rng(3)
    p = PLP["gwtc3"]
    # m1 half-way up the taper or above: PowerLawPrimaryMassRatio interpolates its
    # trapezoid-rule taper table linearly, accurate to ~1e-6 there (not deeper in).
    m1 = rng.uniform(p["mmin"] + p["delta_m"] / 2, p["mmax"], 60)
    m2 = rng.uniform(p["mmin"] + 0.05 * p["delta_m"], m1)
    value = np.stack([m1, m2], -1)
    ours = _parts(PowerLawPeak, _args(dict(p, lam=0.0)), value)[0]
    smoothed = PowerLawPrimaryMassRatio(p["alpha"], p["beta"], p["mmin"], p["mmax"],
                                        p["delta_m"]).log_prob(jnp.asarray(value))
    np.testing.assert_allclose(ours, smoothed, rtol=0, atol=1e-5)
    # A broken power law with equal indices and a silent second peak is PowerLaw+Peak.
    p = dict(p, lam=0.0625)
    same = dict(alpha_1=p["alpha"], alpha_2=p["alpha"], beta=p["beta"], mmin=p["mmin"],
                mmax=p["mmax"], m_break=20.0, lam_0=1 - p["lam"], lam_1=p["lam"],
                mpp_1=p["mpp"], sigpp_1=p["sigpp"], mpp_2=50.0, sigpp_2=5.0,
                delta_m=p["delta_m"])
    np.testing.assert_allclose(_parts(BrokenPowerLawTwoPeaks, _args(same), value)[0],
                               _parts(PowerLawPeak, _args(p), value)[0], rtol=1e-12)
    assert BrokenPowerLawTwoPeaks.break_mass(5.0, 85.0, 0.25) == 25.0


# ----------------------------------------------------------------------------
# Draws.


def _ks_statistic(u):
    u = np.sort(u)
    n = u.size
    grid = np.arange(1, n + 1) / n
    return max(np.max(grid - u), np.max(u - (grid - 1 / n)))


def _ks_bound(n):
    """Asymptotic critical value of the KS statistic at level KS_ALPHA."""
    return math.sqrt(-0.5 * math.log(KS_ALPHA / 2)) / math.sqrt(n)


# One model: both share the sampler (power-law and normal components, rejection on S,
# bisection of F); the broken power law with its break inside the taper is the harder case.
@pytest.mark.parametrize(("cls", "name", "params"), [CASES[4]], ids=[CASE_IDS[4]])
def test_draws_follow_the_density(x64, cls, name, params):
    count = 20_000
    draws = np.asarray(_sample(cls, _args(params), jax.random.key(11), count))
    m1, m2 = draws[:, 0], draws[:, 1]
    mmin, delta = params["mmin"], params["delta_m"]
    high = max(params["mmax"], PEAK_HIGH)
    assert np.all(np.isfinite(draws)) and np.all((mmin <= m2) & (m2 <= m1) & (m1 <= high))
    # Rosenblatt transform with reference cumulative integrals on a fine grid.
    grid = np.union1d(np.linspace(mmin, high, 400_001), _breaks(cls, params))
    primary = reference_mixture(cls, params, grid) * reference_taper(grid, mmin, delta)
    cdf1 = integrate.cumulative_trapezoid(primary, grid, initial=0.0)
    pairing = grid ** params["beta"] * reference_taper(grid, mmin, delta)
    cdf2 = integrate.cumulative_trapezoid(pairing, grid, initial=0.0)
    u1 = np.interp(m1, grid, cdf1) / cdf1[-1]
    u2 = np.interp(m2, grid, cdf2) / np.interp(m1, grid, cdf2)
    assert _ks_statistic(u1) < _ks_bound(count)
    assert _ks_statistic(u2) < _ks_bound(count)


# ----------------------------------------------------------------------------
# float32, gradients, batches.


def _inside_points(params, count, seed):
    """Points of the support away from the deepest taper (S > e^-20)."""
    rng = np.random.default_rng(seed)
    low = params["mmin"] + 0.05 * params["delta_m"] + 1e-3
    m1 = rng.uniform(low, params["mmax"], count)
    return np.stack([m1, rng.uniform(low, m1)], -1)


@pytest.mark.parametrize(("cls", "name", "params"), [
    pytest.param(*CASES[0], id=CASE_IDS[0]),
    pytest.param(*CASES[3], id=CASE_IDS[3], marks=pytest.mark.slow)])
def test_float32_agrees_with_float64(cls, name, params):
    # Both precisions see the same (float32-rounded) inputs, so only the arithmetic differs.
    value = _inside_points(params, 300, 5).astype(np.float32)
    args = _args(params, jnp.float32)
    single = _parts(cls, args, value)[0]
    with jax.enable_x64(True):
        double = _parts(cls, tuple(jnp.asarray(np.asarray(a, np.float64)) for a in args),
                        value.astype(np.float64))[0]
    assert single.dtype == np.float32 and np.all(np.isfinite(single))
    # Rounding: a few dozen float32 ulps of the terms (|log p| bounds their size).
    tolerance = 32 * np.finfo(np.float32).eps * (1 + np.abs(double))
    assert np.all(np.abs(single - double) <= tolerance)


def _total_log_prob(cls, args, value):
    lp = cls(*args, validate_args=False).log_prob(value)
    return jnp.sum(jnp.where(jnp.isfinite(lp), lp, 0.0))


_value_and_gradient = jax.jit(jax.value_and_grad(_total_log_prob, argnums=1),
                              static_argnums=0)


# float32 for one model, float64 (with central differences) for the other, to keep the
# number of compiled programs small; the sharp-edged case reuses the float64 program.
@pytest.mark.parametrize(("dtype", "cls", "name", "params"), [
    pytest.param("float32", *CASES[0], id=f"float32-{CASE_IDS[0]}"),
    pytest.param("float64", *CASES[3], id=f"float64-{CASE_IDS[3]}", marks=pytest.mark.slow),
    pytest.param("float64", *CASES[5], id=f"float64-{CASE_IDS[5]}", marks=pytest.mark.slow)])
def test_gradients_are_finite_under_jit(dtype, cls, name, params):
    # Inside points, two outside the support and one far in the taper (density 0).
    points = np.concatenate([_inside_points(params, 20, 9),
                             [[params["mmin"] - 1, params["mmin"] - 2], [30.0, 40.0],
                              [params["mmin"] + 1e-3, params["mmin"] + 1e-4]]])
    with jax.enable_x64(dtype == "float64"):
        args = _args(params, dtype)
        value = jnp.asarray(points, dtype)
        _, grads = _value_and_gradient(cls, args, value)
        assert all(g.dtype == dtype and np.isfinite(g) for g in grads)
        if dtype == "float32":
            return
        # Against central differences in the first index, beta and delta_m.
        step = 1e-6
        for index in (0, list(params).index("beta"), list(params).index("delta_m")):
            if index == list(params).index("delta_m") and params["delta_m"] == 0:
                continue  # the boundary of its domain: one-sided
            up, down = list(args), list(args)
            up[index], down[index] = args[index] + step, args[index] - step
            numeric = (_value_and_gradient(cls, tuple(up), value)[0]
                       - _value_and_gradient(cls, tuple(down), value)[0]) / (2 * step)
            assert float(grads[index]) == pytest.approx(float(numeric), rel=1e-6, abs=1e-6)


# ----------------------------------------------------------------------------
# Impossible parameters.


def test_impossible_parameters_raise_naming_the_parameter():
    p = PLP["gwtc3"]
    cases = [
        (dict(mmin=90.0), "PowerLawPeak: parameter `mmax`.*mmin < mmax"),
        (dict(lam=1.5), "PowerLawPeak: parameter `lam`"),
        (dict(sigpp=-1.0), "PowerLawPeak: parameter `sigpp`"),
        (dict(delta_m=-1.0), "PowerLawPeak: parameter `delta_m`"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            PowerLawPeak(**dict(p, **change))
    with pytest.raises(ValueError, match="PowerLawPeak: parameter `peak_high`"):
        PowerLawPeak(**p, peak_high=4.0)
    with pytest.raises(ValueError, match="PowerLawPeak: parameter shapes .* do not broadcast"):
        PowerLawPeak(**dict(p, alpha=np.ones(2), beta=np.ones(3)))
    q = BP2P["gwtc4"]
    cases = [
        (dict(m_break=90.0), "BrokenPowerLawTwoPeaks: parameter `m_break`.*m_break <= mmax"),
        (dict(m_break=3.0), "BrokenPowerLawTwoPeaks: parameter `m_break`.*mmin <= m_break"),
        (dict(lam_0=0.7, lam_1=0.5), "parameter `lam_1`.*lam_0 \\+ lam_1 <= 1"),
        (dict(sigpp_2=0.0), "BrokenPowerLawTwoPeaks: parameter `sigpp_2`"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            BrokenPowerLawTwoPeaks(**dict(q, **change))


def test_impossible_parameters_under_jit_give_minus_inf():
    p = PLP["gwtc3"]
    value = _inside_points(p, 5, 1)
    for change in (dict(lam=1.5), dict(mmin=90.0), dict(sigpp=-1.0)):
        args = _args(dict(p, **change), jnp.float32)
        assert np.all(np.isneginf(_parts(PowerLawPeak, args, value)[0])), change
    q = BP2P["gwtc4"]
    value = _inside_points(q, 5, 1)
    for change in (dict(lam_0=0.7, lam_1=0.5), dict(m_break=90.0)):
        args = _args(dict(q, **change), jnp.float32)
        assert np.all(np.isneginf(_parts(BrokenPowerLawTwoPeaks, args, value)[0])), change
