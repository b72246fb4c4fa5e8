"""``bench/independent_catalog.py``: a catalog made without hierax, read by hierax.

A small catalog is written and read back through hierax's reader, neural-VT loader
and pmean config; hierax's estimate of the expected number of detections at the
true hyperparameters must match the generator's. The generator's posteriors are
checked by simulation-based calibration: with truths drawn from the reference
prior itself, the rank of each true value among its event's samples is uniform.
(With truths drawn from the population instead, the ranks are only approximately
uniform, as a flat-prior posterior is not calibrated for a non-flat population.)
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench/ lives at the repository root

from bench import independent_catalog as ic  # noqa: E402

NAMES = ["mass_1_source", "mass_2_source"]


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory):
    out = tmp_path_factory.mktemp("independent") / "catalog"
    code = ic.main(["--out", str(out), "--seed", "3", "--num-events", "20",
                    "--samples-per-event", "200"])
    assert code == 0
    return out


def test_small_catalog_reads_in_hierax(small_catalog, x64):
    import jax.numpy as jnp

    from hierax.pop.models.population import PopulationModel
    from hierax.pop.readers import read_text_events
    from hierax.pop.selection import from_config
    from hierax.pop.selection.neural_vt import load_neural_vt

    out = small_catalog
    events = read_text_events(str(out / "posteriors" / "event_*.dat"), NAMES)
    assert len(events.counts) == 20 and np.all(events.counts == 200)
    lo, hi = ic.PRIOR_BOX
    np.testing.assert_allclose(events.log_prior, -math.log(0.5 * (hi - lo) ** 2), rtol=1e-9)
    m1, m2 = events.theta[:, 0], events.theta[:, 1]
    assert np.all((m2 <= m1) & (m2 >= lo) & (m1 <= hi))

    network = load_neural_vt(out / ic.NETWORK_FILE)
    assert network.names == tuple(NAMES)
    truth_masses = np.loadtxt(out / "injections.dat", skiprows=1)[:, :2]
    np.testing.assert_allclose(network.log_vt(truth_masses, NAMES),
                               ic.log_vt_masses(truth_masses[:, 0], truth_masses[:, 1]),
                               atol=0.01)

    truth = json.loads((out / "hyperparameters.json").read_text())
    assert sorted(truth) == sorted(["log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0",
                                    "mmax_pl_0"])
    catalog = json.loads((out / "catalog.json").read_text())
    assert catalog["num_events"] == 20 and catalog["network"]["mean_vt_relative_error"] < 1e-3
    estimator = from_config(out / "pmean.json", NAMES)
    terms = estimator.terms(PopulationModel(1, 0).log_rate_density,
                            {k: jnp.asarray(v) for k, v in truth.items()})
    # The truth's rate was set so that R * time_scale * integral p VT = 147.
    assert abs(float(terms.mu) - 147.0) < 4 * math.sqrt(float(terms.variance)) + 1.0
    assert float(terms.effective_draws) > 4 * 147


def test_command_line_is_deterministic_and_atomic(small_catalog, tmp_path):
    again = tmp_path / "again"
    done = subprocess.run(
        [sys.executable, "-m", "bench.independent_catalog", "--out", str(again), "--seed", "3",
         "--num-events", "20", "--samples-per-event", "200"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ["injections.dat", "hyperparameters.json", "pmean.json",
                 *(f"posteriors/event_{i}.dat" for i in range(20))]:
        assert (again / name).read_bytes() == (small_catalog / name).read_bytes(), name
    assert [p.name for p in tmp_path.iterdir()] == ["again"]  # no temporary folder left
    refused = subprocess.run(
        [sys.executable, "-m", "bench.independent_catalog", "--out", str(again), "--seed", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "exists" in refused.stderr


def test_detected_fraction_matches_vt():
    """Detection by the data has the probability VT / VT_max that the truth assumes."""
    settings = ic.Settings()
    sources = ic.simulate_sources(np.random.default_rng(11), settings, 200_000)
    fraction = ic.mean_vt(settings) / ic.VT_MAX
    observed = sources["detected"].mean()
    assert abs(observed - fraction) < 4 * math.sqrt(fraction * (1 - fraction) / 200_000)


@pytest.mark.parametrize("width_scale", [1.0, 4.0])
def test_posterior_ranks_are_uniform_for_prior_truths(width_scale):
    """Simulation-based calibration of the posterior sampler (truths from the flat prior)."""
    rng = np.random.default_rng(5 + int(width_scale))
    box = (5.0, 80.0)
    num_events, num_samples = 400, 99
    pairs = rng.uniform(*box, size=(num_events, 2))
    m1, m2 = pairs.max(axis=1), pairs.min(axis=1)
    data = ic.measure(rng, m1, m2)
    s_mc, s_eta = ic.measurement_widths(ic.SNR_THRESHOLD / data["snr"])
    truths = {"m1": m1, "m2": m2, "chirp_mass": ic.chirp_mass(m1, m2), "q": m2 / m1}
    ranks = {name: np.empty(num_events, dtype=int) for name in truths}
    for i in range(num_events):
        # Wider noise makes the prior (and its Jacobian) matter more.
        lnmc_obs = np.log(truths["chirp_mass"][i]) + (data["lnmc_obs"][i] - np.log(
            truths["chirp_mass"][i])) * width_scale
        eta_obs = ic.symmetric_mass_ratio(m1[i], m2[i]) + (
            data["eta_obs"][i] - ic.symmetric_mass_ratio(m1[i], m2[i])) * width_scale
        samples = ic.sample_posterior(rng, lnmc_obs, eta_obs, s_mc[i] * width_scale,
                                      s_eta[i] * width_scale, num_samples, box=box)
        values = {"m1": samples[:, 0], "m2": samples[:, 1],
                  "chirp_mass": ic.chirp_mass(samples[:, 0], samples[:, 1]),
                  "q": samples[:, 1] / samples[:, 0]}
        for name in truths:
            ranks[name][i] = int(np.sum(values[name] < truths[name][i]))
    bins = 5
    expected = num_events / bins
    tolerance = 4 * math.sqrt(num_events * (1 / bins) * (1 - 1 / bins))  # binomial error
    for name, rank in ranks.items():
        counts = np.bincount(rank * bins // (num_samples + 1), minlength=bins)
        assert np.all(np.abs(counts - expected) < tolerance), (name, counts)
        assert stats.chisquare(counts).pvalue > 1e-3, (name, counts)
