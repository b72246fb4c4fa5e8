"""Pieces of ``bench/pop_time_to_ess.py`` that decide whether its comparison is fair.

The benchmark needs gwkokab to run; these tests do not. They check that the
selection module handed to gwkokab estimates the same mu and variance as hierax's
estimator from the same draws, that the mock posteriors are fair draws under a flat
prior, and that gwkokab's two output layouts are read into the right chains.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import gwkokab_selection  # noqa: E402
import pop_time_to_ess as bench  # noqa: E402

from hierax.pop.selection.base import SelectionEstimator  # noqa: E402


class _PowerLaw:
    """Stands in for gwkokab's ScaledMixture: ``log_prob`` of a rate density."""

    def __init__(self, log_rate, alpha):
        self.log_rate, self.alpha = log_rate, alpha

    def log_prob(self, theta):
        return self.log_rate - self.alpha * jnp.log(theta[..., 0]) - 0.5 * theta[..., 1]


def test_gwkokab_selection_module_matches_hierax_estimator(tmp_path):
    rng = np.random.default_rng(0)
    theta = np.column_stack([rng.uniform(5, 80, 3000), rng.uniform(0, 2, 3000)])
    estimator = SelectionEstimator(
        theta=theta, log_weight=np.log(rng.uniform(0.05, 1.0, 3000)),
        log_draw_density=rng.normal(-4.0, 0.3, 3000), total_draws=10_000, time=2.5,
        parameter_names=("mass_1_source", "x"))
    path = tmp_path / "draws.npz"
    np.savez(path, theta=theta,
             log_draw_weight=estimator.log_draw_density - estimator.log_weight,
             total_draws=estimator.total_draws, time=estimator.time,
             parameter_names=np.array(estimator.parameter_names))
    _, estimate, kwargs = gwkokab_selection.custom_poisson_mean_estimator(
        None, ["mass_1_source", "x"], str(path))
    with jax.enable_x64(True):
        population = _PowerLaw(jnp.float64(1.2), jnp.float64(2.3))
        mu, variance = estimate(population, **{k: jnp.asarray(v, jnp.float64)
                                               for k, v in kwargs.items()})
        terms = estimator.terms(lambda t, h: population.log_prob(t), None)
        np.testing.assert_allclose(float(mu), float(terms.mu), rtol=1e-7)
        np.testing.assert_allclose(float(variance), float(terms.variance), rtol=1e-7)
    with pytest.raises(ValueError, match="draws have columns"):
        gwkokab_selection.custom_poisson_mean_estimator(None, ["x", "mass_1_source"], str(path))


def test_flat_prior_posteriors_are_fair_draws():
    rng = np.random.default_rng(1)
    truths = np.column_stack([rng.uniform(20, 60, 400), rng.uniform(8, 18, 400)])
    events = bench.flat_prior_posteriors(rng, truths, num_samples=500)
    assert len(events) == 400 and all(e.shape == (500, 2) for e in events)
    stacked = np.stack(events)
    assert np.all(stacked[..., 1] <= stacked[..., 0]) and np.all(stacked[..., 1] > 0)
    # The truth is a draw from each posterior, so its posterior quantile is uniform.
    quantiles = (stacked < truths[:, None, :]).mean(axis=1)
    for column in quantiles.T:
        # 400 uniform quantiles: mean 0.5 with standard error 0.0144 (5 sigma below).
        assert abs(column.mean() - 0.5) < 5 * np.sqrt(1 / 12 / 400)


def test_read_gwkokab_chains_both_layouts(tmp_path):
    names = ("log_rate_0", "alpha_pl_0", "beta_pl_0")
    order = sorted(names)  # alpha_pl_0, beta_pl_0, log_rate_0
    values = {name: np.arange(12.0).reshape(3, 4) + 100 * i for i, name in enumerate(names)}
    nuts = tmp_path / "nuts.hdf5"
    with h5py.File(nuts, "w") as handle:
        for chain in (2, 0, 1):  # written out of order
            handle[f"chains/chain_{chain}"] = np.column_stack(
                [values[name][chain] for name in order])
    read = bench.read_gwkokab_chains(nuts, "nuts", names)
    for name in names:
        np.testing.assert_array_equal(read[name], values[name])
    flow = tmp_path / "flow.hdf5"
    labels = ["beta_pl_0", "log_rate_0", "alpha_pl_0"]
    with h5py.File(flow, "w") as handle:
        handle.attrs["labels"] = labels
        for chain in range(3):
            handle[f"chains/prod/chain_{chain}/positions"] = np.column_stack(
                [values[name][chain] for name in labels])
    read = bench.read_gwkokab_chains(flow, "flowmc", names)
    for name in names:
        np.testing.assert_array_equal(read[name], values[name])


def test_speedups_are_lower_bounds_against_unfinished_peers():
    done = {"library": "hierax", "sampler": "slice", "wall_s": 100.0, "min_ess": 1500.0,
            "max_rhat": 1.002}
    peer_done = {"library": "gwkokab", "sampler": "flowmc", "wall_s": 450.0,
                 "min_ess": 1200.0, "max_rhat": 1.005}
    peer_stopped = {"library": "gwkokab", "sampler": "nuts", "wall_s": 900.0,
                    "stopped_at_cap": True}
    peer_failed = {"library": "gwkokab", "sampler": "nuts", "error": "boom"}
    ratios = bench.speedups([done, peer_done, peer_stopped, peer_failed])
    assert ratios == {"hierax slice vs gwkokab flowmc": {"ratio": 4.5, "lower_bound": False},
                      "hierax slice vs gwkokab nuts": {"ratio": 9.0, "lower_bound": True}}
    assert not bench.reached({**done, "max_rhat": 1.01})
