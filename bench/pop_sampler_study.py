"""Which sampler recovers a gravitational-wave population? Measured on mock catalogs.

The population: one power law in (m1, q) without a redshift column (seed 000's
``n_pls_m_gs`` with ``--n-pl 1 --n-g 0``), five hyperparameters ``log_rate_0,
alpha_pl_0, beta_pl_0, mmin_pl_0, mmax_pl_0`` under seed 000's priors. Mock
catalogs come from :func:`hierax.pop.make_mock_catalog` with the analytic detector
averaged over the volume to ``z = 3`` (sources uniform in comoving volume and
source-frame time); the selection is :func:`hierax.pop.analytic_pdet` over the same
volume. With ``T = 2.5`` years and ``R = e^3`` Gpc^-3 yr^-1 a catalog holds about
140 detections; every event has 2,000 posterior samples.

Subcommands (each prints one JSON line per run and appends it to ``--write``):

    python bench/pop_sampler_study.py run --sampler nuts --seeds 0
    python bench/pop_sampler_study.py run --sampler slice --seeds 0 1 2 3 4
    python bench/pop_sampler_study.py pp --catalogs 20 --rate-scale 0.5 --plot pp.png

``run`` fits each catalog seed with one sampler (``nuts``: hierax NUTS, default
settings; ``slice``: :func:`hierax.pop.defaults.population_kernel`, the
default; ``SLICE_MCMC_SETTINGS``, 4 chains x (600 + 1,000), unless told
otherwise) and reports per hyperparameter the split R-hat, bulk ESS, whether the
truth is inside the central 90% interval, and the wall and CPU time (compilation
included). ``pp`` fits ``--catalogs`` catalogs (seeds from ``--first-seed``; smaller ones with
``--rate-scale`` and ``--samples-per-event``) and writes the quantile of each
truth in its posterior, with a Kolmogorov-Smirnov p-value per
hyperparameter (a P-P plot as text, and as a PNG when matplotlib is present).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import numpy as np

import hierax
from hierax.diagnostics import ess_bulk, rhat
from hierax.infer import MCMC, NUTS
from hierax.pop import (
    AnalyticDetector,
    DiscreteLikelihood,
    PopulationModel,
    analytic_pdet,
    make_mock_catalog,
    parse_prior_config,
    sample_hyperparameters,
)
from hierax.pop.selection.proposal import draw_redshift, redshift_volume_table

TRUTHS = {"log_rate_0": 3.0, "alpha_pl_0": 2.5, "beta_pl_0": 1.0, "mmin_pl_0": 8.0,
          "mmax_pl_0": 70.0}
# Seed 000's prior file for one power law.
PRIORS = {
    "log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
    "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
    "mmax_pl_0": {"dist": "Uniform", "low": 30.0, "high": 100.0},
}
Z_MAX = 3.0
OBSERVING_TIME = 2.5
SAMPLES_PER_EVENT = 2_000
SELECTION_DRAWS = 100_000


class VolumeAveragedDetector:
    """p_det(m1, m2) averaged over redshift: one z per source from dV_C/dz / (1 + z).

    ``make_mock_catalog`` compares each source's value to a uniform draw, so the
    detection probability of a source is the volume average of the analytic
    detector's, i.e. ``VT(m1, m2) / (V T)``, matching :func:`analytic_pdet` without a
    redshift column.
    """

    def __init__(self, detector: AnalyticDetector, z_max: float, seed: int):
        self.detector, self.z_max = detector, z_max
        self.rng = np.random.default_rng(seed)

    def detection_probability(self, theta, names):
        z, _ = draw_redshift(self.rng, theta.shape[0], self.z_max, self.detector.cosmology)
        full = np.column_stack([np.asarray(theta, np.float64), z])
        with jax.enable_x64(True):
            return np.asarray(self.detector.detection_probability(full, (*names, "redshift")))


def make_catalog(seed: int, rate_scale: float = 1.0, samples_per_event=SAMPLES_PER_EVENT,
                 truths=None):
    """``(likelihood, catalog)`` for catalog ``seed`` (``rate_scale`` scales the time)."""
    truths = TRUTHS if truths is None else truths
    model = PopulationModel(1, 0)
    detector = AnalyticDetector()
    volume = redshift_volume_table(Z_MAX, detector.cosmology)[2][-1]
    time_span = OBSERVING_TIME * rate_scale
    catalog = make_mock_catalog(jax.random.PRNGKey(seed), model, truths,
                                VolumeAveragedDetector(detector, Z_MAX, seed), time_span,
                                samples_per_event, volume=volume)
    selection = analytic_pdet(model.parameter_names, detector=detector, time=time_span,
                              num_samples=SELECTION_DRAWS, z_max=Z_MAX, seed=seed)
    # One padded bucket: every event has the same number of samples, and the
    # bucketed reduction vectorizes over chains far better than segment sums on a CPU.
    likelihood = DiscreteLikelihood(catalog.to_event_samples(), model,
                                    selection, n_buckets=1)
    return likelihood, catalog


def population_model(spec, likelihood):
    """The hierarchical model: hyperparameters from their priors, then ``ln L``."""
    hyper = sample_hyperparameters(spec)
    terms = likelihood(hyper)
    hierax.factor("log_likelihood", terms.log_likelihood)


def prior_spec():
    return parse_prior_config(PRIORS, PopulationModel(1, 0).hyperparameter_names,
                              ordered_pairs=[("mmin_pl_0", "mmax_pl_0")])


def make_kernel(name, model):
    if name == "nuts":
        return NUTS(model)
    if name == "slice":
        from hierax.pop.defaults import population_kernel

        return population_kernel(model)
    if name == "gibbs":  # NUTS on the smooth sites, slice updates of the mass edges
        from hierax.infer import NUTSWithinGibbs

        return NUTSWithinGibbs(model, ["mmin_pl_0", "mmax_pl_0"])
    raise ValueError(f"unknown sampler {name!r}; expected 'nuts', 'slice' or 'gibbs'.")


def fit(sampler, likelihood, seed, num_warmup, num_samples, num_chains, progress=False):
    """Run one fit; returns ``(draws by chain, extra fields by chain, wall seconds)``."""
    kernel = make_kernel(sampler, population_model)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="vectorized", progress_bar=progress)
    start, cpu_start = time.perf_counter(), time.process_time()
    mcmc.run(jax.random.PRNGKey(1000 + seed), prior_spec(), likelihood)
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    wall = time.perf_counter() - start
    fields = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    fields["cpu_seconds"] = np.asarray(time.process_time() - cpu_start)
    return draws, fields, wall


def summarize(draws, truths, fields):
    """Per hyperparameter: R-hat, bulk ESS, 90% interval, truth quantile and coverage."""
    rows = {}
    for name, truth in truths.items():
        chains = draws[name]
        low, high = np.quantile(chains, [0.05, 0.95])
        rows[name] = {"rhat": float(rhat(chains)), "ess_bulk": float(ess_bulk(chains)),
                      "mean": float(chains.mean()), "sd": float(chains.std()),
                      "q05": float(low), "q95": float(high), "truth": truth,
                      "truth_quantile": float(np.mean(chains < truth)),
                      "covered": bool(low <= truth <= high)}
    stats = {"divergences": int(fields["diverging"].sum()),
             "cpu_s": round(float(fields.get("cpu_seconds", np.nan)), 1)}
    for key in ("step_size", "tree_depth", "num_steps", "num_evaluations"):
        if key in fields:
            stats[f"mean_{key}"] = float(np.mean(fields[key]))
    if "tree_depth" in fields:
        stats["max_tree_depth"] = int(np.max(fields["tree_depth"]))
    return rows, stats


def _environment():
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "load_avg_1m": round(load[0], 2),
            "platform": platform.platform(), "jax": jax.__version__,
            "device": str(jax.devices()[0])}


def _emit(record, path):
    line = json.dumps(record)
    print(line, flush=True)
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")


def command_run(args):
    for seed in args.seeds:
        likelihood, catalog = make_catalog(seed, args.rate_scale, args.samples_per_event)
        load_before = _environment()["load_avg_1m"]
        draws, fields, wall = fit(args.sampler, likelihood, seed, args.warmup, args.draws,
                                  args.chains, args.progress)
        rows, stats = summarize(draws, TRUTHS, fields)
        record = {"sampler": args.sampler, "seed": seed, "num_events": catalog.num_detected,
                  "samples_per_event": args.samples_per_event, "chains": args.chains,
                  "warmup": args.warmup, "draws": args.draws, "wall_s": round(wall, 1),
                  "max_rhat": max(r["rhat"] for r in rows.values()),
                  "min_ess_bulk": min(r["ess_bulk"] for r in rows.values()),
                  "covered": sum(r["covered"] for r in rows.values()), **stats,
                  "load_avg_1m_before": load_before, **_environment(), "params": rows,
                  "chain_means": {n: np.round(draws[n].mean(axis=1), 3).tolist() for n in TRUTHS}}
        _emit(record, args.write)


def _ks_pvalue(u):
    """Two-sided Kolmogorov-Smirnov p-value of ``u`` against Uniform(0, 1)."""
    from scipy.stats import kstest

    return float(kstest(u, "uniform").pvalue)


def command_pp(args):
    quantiles = {name: [] for name in TRUTHS}
    for index in range(args.catalogs):
        seed = args.first_seed + index
        likelihood, catalog = make_catalog(seed, args.rate_scale, args.samples_per_event)
        draws, fields, wall = fit(args.sampler, likelihood, seed, args.warmup, args.draws,
                                  args.chains)
        rows, stats = summarize(draws, TRUTHS, fields)
        for name in TRUTHS:
            quantiles[name].append(rows[name]["truth_quantile"])
        _emit({"pp_catalog": seed, "num_events": catalog.num_detected, "wall_s": round(wall, 1),
               "max_rhat": max(r["rhat"] for r in rows.values()),
               "min_ess_bulk": min(r["ess_bulk"] for r in rows.values()),
               "truth_quantiles": {n: rows[n]["truth_quantile"] for n in TRUTHS}}, args.write)
    summary = {"pp_summary": {n: {"ks_pvalue": _ks_pvalue(np.asarray(q)),
                                  "quantiles": sorted(round(x, 3) for x in q)}
                              for n, q in quantiles.items()},
               "catalogs": args.catalogs, "sampler": args.sampler}
    _emit(summary, args.write)
    if args.plot:
        _pp_plot(quantiles, args.plot)


def _pp_plot(quantiles, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no P-P plot image.", file=sys.stderr)
        return
    from scipy.stats import binom

    fig, ax = plt.subplots(figsize=(5, 5))
    grid = np.linspace(0, 1, 101)
    # 95% band of the empirical cdf of n uniform quantiles, pointwise (binomial).
    n = len(next(iter(quantiles.values())))
    ax.fill_between(grid, binom.ppf(0.025, n, grid) / n, binom.ppf(0.975, n, grid) / n,
                    color="0.85", label="95% band (uniform)")
    for name, values in quantiles.items():
        values = np.sort(np.asarray(values))
        ax.plot(grid, [np.mean(values <= g) for g in grid], label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("credible level")
    ax.set_ylabel("fraction of truths below")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    from hierax.pop.defaults import SLICE_MCMC_SETTINGS as defaults

    warmup, draws, chains = (defaults[k] for k in ("num_warmup", "num_samples", "num_chains"))
    for name in ("run", "pp"):
        p = sub.add_parser(name)
        p.add_argument("--sampler", default="slice", choices=("nuts", "slice", "gibbs"))
        p.add_argument("--warmup", type=int, default=warmup)
        p.add_argument("--draws", type=int, default=draws)
        p.add_argument("--chains", type=int, default=chains)
        p.add_argument("--rate-scale", type=float, default=1.0,
                       help="multiplies the observing time (and so the number of events)")
        p.add_argument("--samples-per-event", type=int, default=SAMPLES_PER_EVENT)
        p.add_argument("--write", default=None, help="append the JSON lines to this file")
        p.add_argument("--progress", action="store_true")
    sub.choices["run"].add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    sub.choices["pp"].add_argument("--catalogs", type=int, default=20)
    sub.choices["pp"].add_argument("--first-seed", type=int, default=100)
    sub.choices["pp"].add_argument("--plot", default=None, help="P-P plot PNG path")
    args = parser.parse_args(argv)
    {"run": command_run, "pp": command_pp}[args.command](args)


if __name__ == "__main__":
    main()
