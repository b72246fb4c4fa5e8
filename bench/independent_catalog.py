"""A mock gravitational-wave catalog made without hierax: a cross-check of ``hierax-pop infer``.

Everything here is NumPy/SciPy (and h5py for the network file); nothing of
``hierax`` is imported, so a bias shared by hierax's own mock generator, its error
model and its population models cannot hide here. The catalog is:

**Population.** One power law, ``p(m1) ∝ m1^-alpha`` on ``[mmin, mmax]`` and
``p(m2 | m1) ∝ m2^beta`` on ``[mmin, m1]`` (defaults 8, 60, 2.5, 1), with a local
rate density ``R`` in Gpc^-3 yr^-1: the rate density of the hierarchical model is
``rho(m1, m2) = R p(m1, m2)``, and ``log_rate_0 = ln R``.

**Detector.** Each source has a signal-to-noise ratio ``snr = 8 U^(-1/3)`` (``U``
uniform: sources uniform in Euclidean volume, counted above threshold), independent
of its masses, and is measured (below) with widths that scale as ``8 / snr``. It is
*detected* with probability ``g(x) = x^(5/2) / (1 + x^(5/2))``, ``x = Mc_obs /
Mc_ref``, of its *observed* chirp mass ``Mc_obs`` (the horizon volume grows as
``Mc^(15/6)`` and saturates above ``Mc_ref``). Detection is a function of the data,
as the hierarchical likelihood assumes (the per-event term needs no selection
factor). Sources fill a reference volume-time ``VT_max`` (Gpc^3 yr over the whole
observing time), so the sensitive volume-time of a source is

    VT(m1, m2) = VT_max E[g(Mc_obs) | Mc(m1, m2)]

(the average over the snr and the chirp-mass noise, computed by Gauss quadrature
to ~1e-12), and the number of detections is Poisson with mean
``N_det = R * integral p(m) VT(m) dm``. ``R`` is set so that ``N_det`` is
``--expected-events`` (147). hierax's ``neural_vt`` estimator computes
``mu = time_scale * integral VT(theta) rho(theta) dtheta`` with VT the network's
``exp(output)`` in Gpc^3 yr, so the pmean config uses ``time_scale = 1`` and the
network outputs ``ln VT`` in Gpc^3 yr: then ``mu = N_det`` at the truth.

**Network.** A ReLU network in GWKokab's neural-VT HDF5 format (dataset ``names``,
groups ``layer_i`` with ``weight_i (out, in)`` and ``bias_i``), built, not trained:
``ln VT`` depends on the masses only through ``u = ln Mc = 0.6 ln m1 + 0.6 ln m2 -
0.2 ln(m1 + m2)``. Layer 0 holds hinges ``relu(a - k)`` of ``a = m1, m2, m1 + m2``
at geometric knots; layer 1 is one unit ``relu(u_hat - u_low)``, whose weights are
the least-squares fit of ``u`` over the triangle ``1 <= m2 <= m1 <= 200``; layer 2
holds hinges of that unit at knots in ``u``; layer 3 (linear) is the least-squares
fit of ``ln VT(u)``. Its accuracy against the exact ``ln VT`` is measured and
written to ``catalog.json``.

**Posteriors.** Given the truth, the data are ``lnMc_obs = ln Mc + s_Mc n1`` and
``eta_obs = eta + s_eta n2`` (``n`` standard normal, ``s_Mc = 0.08 * 8 / snr``,
``s_eta = 0.03 * 8 / snr``). Each event gets samples from the exact posterior under
a flat reference prior on ``lo <= m2 <= m1 <= hi`` (1, 200): in the coordinates
``(ln Mc, s = sqrt(1 - 4 eta))`` the flat prior has density ``∝ Mc^2 eta^(-6/5)``,
so the posterior is ``N(ln Mc; lnMc_obs + 2 s_Mc^2, s_Mc)`` times a density in
``s`` (drawn by rejection under a piecewise-constant envelope that bounds it on
every cell) times the indicator of the box (rejection). No approximation: the
samples are exact independent draws. The ``log_prior`` column is the constant
``-ln((hi - lo)^2 / 2)``.

Layout of ``--out`` (written to a temporary folder beside it, then renamed)::

    posteriors/event_<i>.dat      mass_1_source mass_2_source log_prior
    injections.dat                true masses, snr and data of each detection
    hyperparameters.json          truth: log_rate_0 alpha_pl_0 beta_pl_0 mmin_pl_0 mmax_pl_0
    independent_catalog_vt.hdf5   the neural VT
    pmean.json                    {"estimator_type": "neural_vt", ...}
    catalog.json                  settings, counts, accuracy of the network, command

    python -m bench.independent_catalog --out DIR --seed S [--num-events N]
        [--samples-per-event 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "Settings",
    "build_network",
    "evaluate_network",
    "log_vt_exact",
    "mean_vt",
    "measure",
    "sample_posterior",
    "sample_population",
    "simulate_sources",
    "write_catalog",
    "main",
]

NAMES = ("mass_1_source", "mass_2_source")
LOG_PRIOR = "log_prior"
NETWORK_FILE = "independent_catalog_vt.hdf5"

# Detector and measurement model.
SNR_THRESHOLD = 8.0
SIGMA_LNMC = 0.08  # standard deviation of ln Mc at snr = 8
SIGMA_ETA = 0.03  # standard deviation of eta at snr = 8
VT_MAX = 30.0  # Gpc^3 yr, the reference volume-time the sources fill
MC_REF = 30.0  # Msun, where VT reaches half of VT_MAX (before smoothing)
VT_SLOPE = 2.5  # 15/6: VT ∝ Mc^(15/6) well below MC_REF
TIME_SCALE = 1.0  # the pmean time_scale; VT already covers the observing time

# Flat reference prior of the posteriors, lo <= m2 <= m1 <= hi.
PRIOR_BOX = (1.0, 200.0)
# Domain on which the network is built and checked (hierax's reference draws live in
# PMEAN_MASS_RANGE, which covers the template prior: mmin in [1, 20], mmax in [30, 100]).
NETWORK_BOX = (1.0, 200.0)
PMEAN_MASS_RANGE = (1.0, 100.0)
PMEAN_NUM_SAMPLES = 100_000

_GAUSS_T = np.polynomial.legendre.leggauss(20)
_GAUSS_N = np.polynomial.hermite.hermgauss(20)


class Settings:
    """Population hyperparameters and catalog size."""

    def __init__(self, *, alpha=2.5, beta=1.0, mmin=8.0, mmax=60.0, expected_events=147.0,
                 num_events=None, samples_per_event=2000, seed=0):
        self.alpha, self.beta = float(alpha), float(beta)
        self.mmin, self.mmax = float(mmin), float(mmax)
        self.expected_events = float(expected_events)
        self.num_events = None if num_events is None else int(num_events)
        self.samples_per_event = int(samples_per_event)
        self.seed = int(seed)
        lo, hi = NETWORK_BOX
        if not lo <= self.mmin < self.mmax <= hi:
            raise ValueError(f"need {lo} <= mmin < mmax <= {hi}, got {self.mmin}, {self.mmax}")
        if not self.expected_events > 0:
            raise ValueError(f"expected_events must be > 0, got {expected_events}")
        if self.num_events is not None and self.num_events < 1:
            raise ValueError(f"num_events must be >= 1, got {num_events}")
        if self.samples_per_event < 1:
            raise ValueError(f"samples_per_event must be >= 1, got {samples_per_event}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")


# -- population ---------------------------------------------------------------------


def _power_law_icdf(index, low, high, u):
    """Inverse CDF of ``x^index`` on ``[low, high]`` (arrays broadcast)."""
    low, high, u = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (low, high, u)))
    if abs(index + 1.0) < 1e-12:
        return low * np.exp(u * np.log(high / low))
    c = index + 1.0
    a, b = low**c, high**c
    return (a + u * (b - a)) ** (1.0 / c)


def population_from_uniforms(settings: Settings, u1, u2):
    """``(m1, m2)`` from two uniforms by the inverse CDFs of ``p(m1)`` and ``p(m2 | m1)``."""
    m1 = _power_law_icdf(-settings.alpha, settings.mmin, settings.mmax, u1)
    m2 = _power_law_icdf(settings.beta, settings.mmin, m1, u2)
    return m1, m2


def sample_population(rng: np.random.Generator, settings: Settings, n: int):
    """``n`` sources ``(m1, m2)`` from the population."""
    u = rng.uniform(size=(2, n))
    return population_from_uniforms(settings, u[0], u[1])


# -- detector -----------------------------------------------------------------------


def chirp_mass(m1, m2):
    return (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2


def symmetric_mass_ratio(m1, m2):
    return m1 * m2 / (m1 + m2) ** 2


def log_detection_probability(lnmc_obs):
    """``ln g``: the detection probability of a source with observed ``ln Mc``."""
    z = VT_SLOPE * (np.asarray(lnmc_obs) - math.log(MC_REF))
    return -np.logaddexp(0.0, -z)


def log_vt_exact(lnmc):
    """``ln VT`` (Gpc^3 yr) at true ``ln Mc``: ``VT_max`` times the detection probability
    averaged over ``snr`` (``t = 8 / snr = U^(1/3)`` has density ``3 t^2`` on [0, 1]) and
    over the chirp-mass noise (Gauss-Legendre x Gauss-Hermite)."""
    lnmc = np.asarray(lnmc, dtype=np.float64)
    xt, wt = _GAUSS_T
    t = 0.5 * (xt + 1.0)
    log_wt = np.log(0.5 * wt * 3.0 * t**2)
    xn, wn = _GAUSS_N
    log_wn = np.log(wn / math.sqrt(math.pi))
    shifts = (SIGMA_LNMC * t[:, None]) * (math.sqrt(2.0) * xn[None, :])  # (T, N)
    log_w = log_wt[:, None] + log_wn[None, :]
    out = np.empty(lnmc.shape)
    flat_in, flat_out = lnmc.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, 4096):
        chunk = flat_in[start:start + 4096]
        terms = log_detection_probability(chunk[:, None, None] + shifts) + log_w
        flat_out[start:start + 4096] = logsumexp(terms.reshape(chunk.size, -1), axis=1)
    return out + math.log(VT_MAX)


def log_vt_masses(m1, m2):
    return log_vt_exact(np.log(chirp_mass(np.asarray(m1), np.asarray(m2))))


def mean_vt(settings: Settings, log_vt_fn=log_vt_masses, nodes: int = 96) -> float:
    """``integral p(m) VT(m) dm`` by Gauss-Legendre in the two uniforms of the inverse CDFs."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = 0.5 * (x + 1.0)
    w = 0.5 * w
    u1, u2 = np.meshgrid(u, u, indexing="ij")
    m1, m2 = population_from_uniforms(settings, u1.ravel(), u2.ravel())
    vt = np.exp(log_vt_fn(m1, m2))
    return float(np.sum(np.outer(w, w).ravel() * vt))


def measurement_widths(t):
    """``(s_lnMc, s_eta)`` for ``t = 8 / snr``."""
    t = np.asarray(t, dtype=np.float64)
    return SIGMA_LNMC * t, SIGMA_ETA * t


def measure(rng: np.random.Generator, m1, m2):
    """Data of sources with true masses: ``snr``, ``lnMc_obs``, ``eta_obs``."""
    m1, m2 = np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)
    t = rng.uniform(size=m1.shape) ** (1.0 / 3.0)
    noise = rng.standard_normal(size=(2,) + m1.shape)
    s_mc, s_eta = measurement_widths(t)
    return {
        "snr": SNR_THRESHOLD / t,
        "lnmc_obs": np.log(chirp_mass(m1, m2)) + s_mc * noise[0],
        "eta_obs": symmetric_mass_ratio(m1, m2) + s_eta * noise[1],
    }


def simulate_sources(rng: np.random.Generator, settings: Settings, n: int):
    """``n`` sources from the population, measured, each detected or not."""
    m1, m2 = sample_population(rng, settings, n)
    data = measure(rng, m1, m2)
    detected = np.log(rng.uniform(size=n)) < log_detection_probability(data["lnmc_obs"])
    return {"mass_1_source": m1, "mass_2_source": m2, **data, "detected": detected}


def _take(sources, mask):
    return {k: v[mask] for k, v in sources.items()}


def draw_detections(rng: np.random.Generator, settings: Settings, rate: float):
    """The detected sources: all detections of a Poisson number of sources in ``VT_max``
    (``settings.num_events`` None), or the first ``num_events`` detections."""
    if settings.num_events is None:
        num_sources = int(rng.poisson(rate * VT_MAX * TIME_SCALE))
        sources = simulate_sources(rng, settings, num_sources)
        return _take(sources, sources["detected"]), num_sources
    wanted = settings.num_events
    fraction = settings.expected_events / (rate * VT_MAX * TIME_SCALE)
    batch = int(min(2e6, max(1000, 1.5 * wanted / fraction)))
    found, total = [], 0
    while sum(int(f["detected"].size) for f in found) < wanted:
        sources = simulate_sources(rng, settings, batch)
        hits = np.flatnonzero(sources["detected"])
        need = wanted - sum(int(f["detected"].size) for f in found)
        if hits.size >= need:
            last = hits[need - 1]
            total += last + 1
            found.append(_take(sources, hits[:need]))
        else:
            total += batch
            found.append(_take(sources, hits))
    merged = {k: np.concatenate([f[k] for f in found]) for k in found[0]}
    return merged, int(total)


# -- posteriors ---------------------------------------------------------------------

_ENVELOPE_CELLS = 512


def _log_s_density(s, eta_obs, s_eta):
    """Log of the ``s`` factor of the posterior: Gaussian in eta times ``eta^(-6/5)``."""
    eta = 0.25 * (1.0 - s * s)
    return -0.5 * ((eta - eta_obs) / s_eta) ** 2 - 1.2 * np.log(eta)


def sample_posterior(rng: np.random.Generator, lnmc_obs: float, eta_obs: float,
                     s_lnmc: float, s_eta: float, n: int, box=PRIOR_BOX,
                     max_rounds: int = 10_000) -> np.ndarray:
    """``(n, 2)`` exact draws of ``(m1, m2)`` from the posterior under the flat prior on
    ``lo <= m2 <= m1 <= hi`` (module docstring)."""
    lo, hi = (float(v) for v in box)
    q_min = lo / hi
    s_max = (1.0 - q_min) / (1.0 + q_min)  # no point of the box has a larger s
    edges = np.linspace(0.0, s_max, _ENVELOPE_CELLS + 1)
    eta_edges = 0.25 * (1.0 - edges**2)  # decreasing
    eta_hi, eta_lo = eta_edges[:-1], eta_edges[1:]
    closest = np.clip(eta_obs, eta_lo, eta_hi)
    log_env = -0.5 * ((closest - eta_obs) / s_eta) ** 2 - 1.2 * np.log(eta_lo)  # bound per cell
    log_mass = log_env + np.log(np.diff(edges))
    p = np.exp(log_mass - log_mass.max())
    p /= p.sum()
    u_mean = lnmc_obs + 2.0 * s_lnmc**2  # the Mc^2 of the Jacobian completes the square
    out, have = [], 0
    batch = max(256, 2 * n)
    for _ in range(max_rounds):
        cell = rng.choice(_ENVELOPE_CELLS, size=batch, p=p)
        s = edges[cell] + rng.uniform(size=batch) * (edges[cell + 1] - edges[cell])
        keep = np.log(rng.uniform(size=batch)) < _log_s_density(s, eta_obs, s_eta) - log_env[cell]
        u = u_mean + s_lnmc * rng.standard_normal(size=batch)
        s, u = s[keep], u[keep]
        eta = 0.25 * (1.0 - s * s)
        total = np.exp(u) * eta ** -0.6
        m1 = 0.5 * total * (1.0 + s)
        m2 = 0.5 * total * (1.0 - s)
        inside = (m2 >= lo) & (m1 <= hi)
        out.append(np.column_stack([m1[inside], m2[inside]]))
        have += int(inside.sum())
        if have >= n:
            return np.concatenate(out)[:n]
    raise RuntimeError(
        f"sample_posterior: only {have} of {n} draws after {max_rounds} rounds "
        f"(lnMc_obs={lnmc_obs}, eta_obs={eta_obs}); the posterior lies outside the prior box."
    )


# -- network ------------------------------------------------------------------------

_LN_KNOTS = 40  # hinges per input combination (m1, m2, m1 + m2)
_U_LOW = -1.0  # below every ln Mc of the network box (ln Mc(1, 1) = -0.14)
_U_STEP = 0.08


def build_network(seed: int = 20240611):
    """``(names, weights, biases)`` of the ReLU network for ``ln VT`` (module docstring).

    Deterministic (its fitting points come from a fixed ``seed``), the same for every
    catalog."""
    rng = np.random.default_rng(seed)
    lo, hi = NETWORK_BOX
    # Layer 0: hinges relu(a - k) for a = m1, m2, m1 + m2; the first of each has k = 0
    # (a itself, as masses are positive).
    rows, biases0 = [], []
    for direction, (a_lo, a_hi) in (((1.0, 0.0), (lo, hi)), ((0.0, 1.0), (lo, hi)),
                                     ((1.0, 1.0), (2 * lo, 2 * hi))):
        knots = np.concatenate([[0.0], np.geomspace(a_lo, a_hi, _LN_KNOTS)[1:-1]])
        for k in knots:
            rows.append(direction)
            biases0.append(-k)
    w0, b0 = np.array(rows), np.array(biases0)

    def hidden0(m1, m2):
        return np.maximum(np.column_stack([m1, m2]) @ w0.T + b0, 0.0)

    # Layer 1: least-squares fit of ln Mc on the layer-0 features over the triangle,
    # points log-uniform in both masses (dense where ln varies fast) plus uniform ones.
    n_fit = 60_000
    a = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(2, n_fit // 2)))
    b = rng.uniform(lo, hi, size=(2, n_fit // 2))
    pts = np.concatenate([a, b], axis=1)
    m1, m2 = pts.max(axis=0), pts.min(axis=0)
    features = np.column_stack([hidden0(m1, m2), np.ones(m1.size)])
    coef, *_ = np.linalg.lstsq(features, np.log(chirp_mass(m1, m2)), rcond=None)
    w1 = coef[:-1][None, :]
    b1 = np.array([coef[-1] - _U_LOW])  # v = relu(u_hat - U_LOW) = u_hat - U_LOW
    # Layer 2: hinges of v at knots in u; layer 3: least-squares fit of ln VT(u).
    u_high = math.log(chirp_mass(2 * hi, 2 * hi))
    u_knots = np.arange(_U_LOW, u_high + _U_STEP, _U_STEP)
    w2 = np.ones((u_knots.size, 1))
    b2 = -(u_knots - _U_LOW)
    u_grid = np.linspace(_U_LOW, u_high, 20 * u_knots.size)
    hinge = np.maximum(u_grid[:, None] - u_knots[None, :], 0.0)
    coef, *_ = np.linalg.lstsq(np.column_stack([hinge, np.ones(u_grid.size)]),
                               log_vt_exact(u_grid), rcond=None)
    w3 = coef[:-1][None, :]
    b3 = np.array([coef[-1]])
    return NAMES, [w0, w1, w2, w3], [b0, b1, b2, b3]


def evaluate_network(weights, biases, m1, m2) -> np.ndarray:
    """The network's output (``ln VT``) at ``(m1, m2)``, in NumPy."""
    x = np.column_stack([np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)])
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        x = x @ np.asarray(w).T + np.asarray(b)
        if i < last:
            x = np.maximum(x, 0.0)
    return x[:, 0]


def write_network(path, names, weights, biases) -> None:
    """GWKokab's neural-VT HDF5 layout."""
    import h5py

    with h5py.File(os.fspath(path), "w") as handle:
        handle.create_dataset("names", data=np.array([n.encode() for n in names], dtype="S"))
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            group = handle.create_group(f"layer_{i}")
            group.create_dataset(f"weight_{i}", data=np.asarray(w, dtype=np.float64))
            group.create_dataset(f"bias_{i}", data=np.asarray(b, dtype=np.float64))


def network_accuracy(weights, biases, settings: Settings, seed: int = 7) -> dict:
    """Errors of the network's ``ln VT`` against the exact one, where they matter."""
    rng = np.random.default_rng(seed)

    def errors(m1, m2):
        diff = evaluate_network(weights, biases, m1, m2) - log_vt_masses(m1, m2)
        return {"max_abs": float(np.max(np.abs(diff))), "rms": float(np.sqrt(np.mean(diff**2))),
                "mean": float(np.mean(diff))}

    m1, m2 = sample_population(rng, settings, 20_000)
    lo, hi = PMEAN_MASS_RANGE
    # hierax's reference draws: m1 log-uniform, m2 uniform on [lo, m1].
    r1 = lo * np.exp(rng.uniform(size=20_000) * math.log(hi / lo))
    r2 = lo + rng.uniform(size=20_000) * (r1 - lo)
    g = np.linspace(*NETWORK_BOX, 200)
    g1, g2 = np.meshgrid(g, g, indexing="ij")
    tri = g2 <= g1
    exact = mean_vt(settings)
    network = mean_vt(settings, lambda a, b: evaluate_network(weights, biases, a, b))
    return {
        "ln_vt_error_population_draws": errors(m1, m2),
        "ln_vt_error_reference_draws_mass_range": errors(r1, r2),
        "ln_vt_error_grid_network_box": errors(g1[tri], g2[tri]),
        "mean_vt_exact": exact,
        "mean_vt_network": network,
        "mean_vt_relative_error": network / exact - 1.0,
    }


# -- catalog ------------------------------------------------------------------------


def _write_table(path: Path, header, columns, fmt="%.10g") -> None:
    np.savetxt(path, np.column_stack(columns), fmt=fmt, header=" ".join(header), comments="")


def infer_command(out: Path) -> str:
    out = Path(out)
    return (f"hierax-pop infer --posterior-regex '{out / 'posteriors' / 'event_*.dat'}' "
            f"--posterior-columns mass_1_source mass_2_source "
            f"--pmean-cfg {out / 'pmean.json'} --output {out.parent / (out.name + '_fit')}")


def write_catalog(out, settings: Settings, *, overwrite: bool = False) -> dict:
    """Make the catalog and write it to ``out`` atomically; returns ``catalog.json``'s dict."""
    started = time.perf_counter()
    out = Path(out).absolute()
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)

    mean_vt_exact = mean_vt(settings)
    rate = settings.expected_events / (TIME_SCALE * mean_vt_exact)
    source_seq, posterior_seq = np.random.SeedSequence(settings.seed).spawn(2)
    detections, num_sources = draw_detections(np.random.default_rng(source_seq), settings, rate)
    n_det = int(detections["mass_1_source"].size)
    if n_det == 0:
        raise RuntimeError("no source was detected; raise --expected-events")
    names, weights, biases = build_network()
    accuracy = network_accuracy(weights, biases, settings)

    lo, hi = PRIOR_BOX
    log_prior = -math.log(0.5 * (hi - lo) ** 2)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the catalog is not
    try:
        (tmp / "posteriors").mkdir()
        s_mc, s_eta = measurement_widths(SNR_THRESHOLD / detections["snr"])
        for i, rng_seq in enumerate(posterior_seq.spawn(n_det)):
            samples = sample_posterior(
                np.random.default_rng(rng_seq), detections["lnmc_obs"][i],
                detections["eta_obs"][i], s_mc[i], s_eta[i], settings.samples_per_event)
            _write_table(tmp / "posteriors" / f"event_{i}.dat", NAMES + (LOG_PRIOR,),
                         [samples[:, 0], samples[:, 1], np.full(len(samples), log_prior)])
        _write_table(tmp / "injections.dat",
                     NAMES + ("chirp_mass", "snr", "ln_chirp_mass_obs", "eta_obs",
                              "sigma_ln_chirp_mass", "sigma_eta"),
                     [detections["mass_1_source"], detections["mass_2_source"],
                      chirp_mass(detections["mass_1_source"], detections["mass_2_source"]),
                      detections["snr"], detections["lnmc_obs"], detections["eta_obs"],
                      s_mc, s_eta])
        write_network(tmp / NETWORK_FILE, names, weights, biases)
        pmean = {"estimator_type": "neural_vt", "filename": NETWORK_FILE,
                 "time_scale": TIME_SCALE, "num_samples": PMEAN_NUM_SAMPLES, "seed": 0,
                 "mass_range": list(PMEAN_MASS_RANGE)}
        truth = {"log_rate_0": math.log(rate), "alpha_pl_0": settings.alpha,
                 "beta_pl_0": settings.beta, "mmin_pl_0": settings.mmin,
                 "mmax_pl_0": settings.mmax}
        (tmp / "pmean.json").write_text(json.dumps(pmean, indent=2) + "\n")
        (tmp / "hyperparameters.json").write_text(json.dumps(truth, indent=2) + "\n")
        catalog = {
            "generator": "bench/independent_catalog.py (NumPy/SciPy only, no hierax code)",
            "seed": settings.seed,
            "num_events": n_det,
            "num_events_mode": ("poisson" if settings.num_events is None else "fixed"),
            "samples_per_event": settings.samples_per_event,
            "expected_detections": settings.expected_events,
            "sources_simulated": num_sources,
            "population": {"alpha": settings.alpha, "beta": settings.beta,
                           "mmin": settings.mmin, "mmax": settings.mmax,
                           "p_m1": "m1^-alpha on [mmin, mmax]",
                           "p_m2_given_m1": "m2^beta on [mmin, m1]"},
            "rate_density_gpc3_yr": rate,
            "log_rate_0": math.log(rate),
            "time_scale_yr": TIME_SCALE,
            "detector": {
                "vt_max_gpc3_yr": VT_MAX, "reference_chirp_mass": MC_REF,
                "slope": VT_SLOPE, "snr_threshold": SNR_THRESHOLD,
                "detection_probability": "x^2.5/(1+x^2.5), x = Mc_obs/Mc_ref",
                "vt": "VT_max * E[detection probability | Mc] over snr and noise",
                "mean_vt_gpc3_yr": mean_vt_exact,
                "expected_detections_formula": "R * time_scale * integral p(m) VT(m) dm",
            },
            "measurement": {
                "snr": "8 * U^(-1/3), independent of the masses",
                "sigma_ln_chirp_mass": f"{SIGMA_LNMC} * 8 / snr",
                "sigma_eta": f"{SIGMA_ETA} * 8 / snr",
                "reference_prior": f"flat on {lo} <= m2 <= m1 <= {hi}",
                "log_prior": log_prior,
                "sampler": "exact (Gaussian in ln Mc, envelope rejection in sqrt(1-4 eta), "
                           "box rejection)",
            },
            "network": {
                "file": NETWORK_FILE,
                "layers": [list(np.shape(w)) for w in weights],
                "construction": "hinges of m1, m2, m1+m2 -> one unit ln Mc - u_low "
                                "(least squares) -> hinges in ln Mc -> ln VT (least squares)",
                "box": list(NETWORK_BOX),
                **accuracy,
            },
            "pmean": pmean,
            "truth": truth,
            "infer_command": infer_command(out),
        }
        catalog["generation_seconds"] = round(time.perf_counter() - started, 3)
        (tmp / "catalog.json").write_text(json.dumps(catalog, indent=2) + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "previous")
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return catalog


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.independent_catalog",
        description="Write a mock catalog made without hierax (power law, neural VT, exact "
                    "flat-prior posteriors).")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-events", type=int, default=None,
                        help="exactly this many detections (default: Poisson, mean 147)")
    parser.add_argument("--samples-per-event", type=int, default=2000)
    parser.add_argument("--expected-events", type=float, default=147.0,
                        help="the Poisson mean of the number of detections; sets the rate")
    parser.add_argument("--alpha", type=float, default=2.5)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--mmin", type=float, default=8.0)
    parser.add_argument("--mmax", type=float, default=60.0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    try:
        settings = Settings(alpha=args.alpha, beta=args.beta, mmin=args.mmin, mmax=args.mmax,
                            expected_events=args.expected_events, num_events=args.num_events,
                            samples_per_event=args.samples_per_event, seed=args.seed)
        catalog = write_catalog(args.out, settings, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        print(f"independent_catalog: {error}", file=sys.stderr)
        return 2
    net = catalog["network"]
    print(f"wrote {catalog['num_events']} events x {catalog['samples_per_event']} samples to "
          f"{Path(args.out).absolute()} in {catalog['generation_seconds']} s")
    print(f"truth: {json.dumps(catalog['truth'])}")
    print(f"network ln VT error on population draws: max "
          f"{net['ln_vt_error_population_draws']['max_abs']:.2e}, mean VT relative error "
          f"{net['mean_vt_relative_error']:.2e}")
    print(f"fit with: {catalog['infer_command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
