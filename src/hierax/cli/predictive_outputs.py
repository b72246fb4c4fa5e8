"""``predictive/`` of an inference folder: the curves papers report, as data files.

Written at the end of ``hierax-pop infer`` from up to :data:`NUM_DRAWS` posterior draws
(:mod:`hierax.pop.predictive`), in a folder renamed into place when complete:

- ``marginal_<column>.csv``: ``x, p_5, p_50, p_95, p_mean``, the population-predictive
  density of each column (and of ``mass_ratio``) with its 90% band;
- ``merger_rate.csv``: ``z, R_5, R_50, R_95`` in Gpc^-3 yr^-1, and ``local_rates.json``
  with the rate at z = 0 and z = 0.2 (median and 90% interval);
- ``reweighted_events.csv``: per event and column, the 5/50/95% quantiles of its PE
  posterior and of its posterior reweighted to the inferred population;
- ``ppc_<column>.csv``: ``x`` and the 5/50/95% bands of the cumulative distributions of
  the observed events (one reweighted sample per event per draw) and of as many
  predicted detections per draw (the posterior predictive check);
- ``draws.npz``: the per-draw arrays behind them.

``hierax-pop report`` plots them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hierax._files import replace_folder_atomically

__all__ = ["NUM_DRAWS", "write_predictive"]

NUM_DRAWS = 100
_GRID_POINTS = 160
_BOUNDED = {"a_1": (0.0, 1.0), "a_2": (0.0, 1.0), "cos_tilt_1": (-1.0, 1.0),
            "cos_tilt_2": (-1.0, 1.0), "chi_eff": (-1.0, 1.0), "chi_p": (0.0, 1.0),
            "eccentricity": (0.0, 1.0)}
_LOCAL_REDSHIFTS = (0.0, 0.2)


def _grids(population, events) -> dict[str, np.ndarray]:
    from hierax.pop.predictive import MASS_RATIO

    grids = {}
    theta = np.asarray(events.theta)
    for i, column in enumerate(population.parameter_names):
        if column in _BOUNDED:
            low, high = _BOUNDED[column]
        elif column == "redshift":
            low, high = 1e-3, 1.2 * float(np.max(theta[:, i]))
        else:  # masses
            low, high = 1.0, min(1.2 * float(np.max(theta[:, 0])), 300.0)
        grids[column] = np.linspace(low, high, _GRID_POINTS)
    grids[MASS_RATIO] = np.linspace(0.01, 1.0, _GRID_POINTS)
    return grids


def _thinned(posterior: dict, names) -> dict[str, np.ndarray]:
    flat = {n: np.asarray(posterior[n]).reshape(-1) for n in names}
    total = next(iter(flat.values())).size
    pick = np.linspace(0, total - 1, min(total, NUM_DRAWS)).astype(int)
    return {n: v[pick] for n, v in flat.items()}


def _band_table(x, curves, header) -> str:
    low, mid, high = np.nanpercentile(curves, [5, 50, 95], axis=0)
    rows = [header] + [" ".join(f"{v:.6g}" for v in row)
                       for row in zip(x, low, mid, high, np.nanmean(curves, axis=0),
                                      strict=True)]
    return "\n".join(rows) + "\n"


def _cdf(values, x):
    """``(D, G)`` empirical CDFs of ``values (D, N)`` at ``x``."""
    ordered = np.sort(values, axis=1)
    counts = np.sum(~np.isnan(ordered), axis=1)
    return np.stack([np.searchsorted(row[:n], x, side="right") / max(n, 1)
                     for row, n in zip(ordered, counts, strict=True)])


def _ppc_table(x, observed, predicted) -> str:
    header = "x obs_5 obs_50 obs_95 pred_5 pred_50 pred_95"
    obs = np.percentile(_cdf(observed, x), [5, 50, 95], axis=0)
    pred = np.percentile(_cdf(predicted, x), [5, 50, 95], axis=0)
    rows = [header] + [" ".join(f"{v:.6g}" for v in (xi, *o, *p))
                       for xi, o, p in zip(x, obs.T, pred.T, strict=True)]
    return "\n".join(rows) + "\n"


def _event_table(events, reweighted, names) -> str:
    header = ["event"] + [f"{c}_{kind}_{q}" for c in names for kind in ("pe", "pop")
                          for q in (5, 50, 95)]
    rows = [" ".join(header)]
    for n, event in enumerate(events.event_names):
        samples, _ = events.event(n)
        cells = [event]
        for i in range(len(names)):
            for values in (samples[:, i], reweighted[:, n, i]):
                cells += [f"{v:.6g}" for v in np.nanpercentile(values, [5, 50, 95])]
        rows.append(" ".join(cells))
    return "\n".join(rows) + "\n"


def write_predictive(folder: Path, population, events, selection, posterior: dict,
                     seed: int) -> Path:
    """Write ``folder`` (module docstring) from the run's posterior draws; returns it."""
    import jax

    from hierax.pop import predictive

    hyper = _thinned(posterior, population.hyperparameter_names)
    grids = _grids(population, events)
    key_events, key_detections = jax.random.split(jax.random.PRNGKey(seed + 1))
    densities = predictive.marginal_densities(population, hyper, grids)
    z = grids.get("redshift", np.linspace(0.0, 1.0, _GRID_POINTS))
    rates = predictive.merger_rate(population, hyper, np.concatenate([z, _LOCAL_REDSHIFTS]))
    reweighted = predictive.reweighted_event_draws(events, population, hyper, key_events)
    detected = predictive.predicted_detections(selection, population, hyper, key_detections,
                                               events.num_events)
    names = population.parameter_names
    with replace_folder_atomically(folder) as out:
        for column, curves in densities.items():
            (out / f"marginal_{column}.csv").write_text(
                _band_table(grids[column], curves, "x p_5 p_50 p_95 p_mean"))
        (out / "merger_rate.csv").write_text(
            _band_table(z, rates[:, :z.size], "z R_5 R_50 R_95 R_mean"))
        local = {f"R(z={z_value:g})": dict(zip(("median", "5%", "95%"), (
            float(v) for v in np.percentile(rates[:, z.size + i], [50, 5, 95])), strict=True))
                 for i, z_value in enumerate(_LOCAL_REDSHIFTS)}
        (out / "local_rates.json").write_text(json.dumps(local, indent=2) + "\n")
        (out / "reweighted_events.csv").write_text(_event_table(events, reweighted, names))
        for i, column in enumerate(names):
            (out / f"ppc_{column}.csv").write_text(
                _ppc_table(grids[column], reweighted[:, :, i], detected[:, :, i]))
        np.savez_compressed(out / "draws.npz", columns=np.array(names),
                            reweighted_events=reweighted, predicted_detections=detected,
                            merger_rate=rates[:, :z.size], z=z,
                            **{f"marginal_{c}": v for c, v in densities.items()},
                            **{f"grid_{c}": g for c, g in grids.items()})
    return folder
