"""Wall time to 1,000 effective draws: ``hierax-pop infer`` vs gwkokab's NUTS and flowMC commands.

One catalog, fitted from the command line by both libraries, each in a fresh
interpreter, one run after the other on the same machine:

- **the catalog**: the detections of ``hierax-pop mock --seed S`` (the built-in
  population: one power law in (m1, q), the analytic detector, 1 year), each
  measured with 2,000 posterior samples of ``(mass_1_source, mass_2_source)`` from a
  Gaussian likelihood (standard deviations 8% of m1 and 12% of m2, centred on a noisy
  copy of the truth) under a *flat* reference prior on ``0 < m2 <= m1``. A flat prior
  is what gwkokab's data loader assumes when none is named, so both libraries read
  the same numbers and divide out the same prior (none). Events are written as text
  (``.dat``, for hierax) and as gwkokab's HDF5 layout (a structured array at
  ``/GWKokabSyntheticDiscretePE/posterior_samples``).
- **selection**: the draws of hierax's ``analytic_pdet`` estimator; hierax reads its
  pmean config, gwkokab reads the same draws exported to ``.npz`` through its
  ``"custom"`` pmean config (``bench/gwkokab_selection.py``, the injection formula).
- **two priors** (seed 000's, ``hierax-pop config-template``): ``free``, the five
  hyperparameters; ``fixed``, the mass edges fixed at their true values (the
  likelihood is a step function of the edges, on which NUTS stalls:
  ``docs/pop_sampler.md``).
- **runs**: hierax's default (slice sampling), and hierax NUTS on the ``fixed``
  prior (on the ``free`` one it saturates its trees, as NumPyro's does); gwkokab's
  ``discrete_n_pls_m_gs`` with a NumPyro NUTS config (the same chains, warmup, draws
  and target acceptance as hierax's NUTS, each library running its chains the fastest
  way it has here: hierax in host threads, gwkokab one after another) and with a
  flowMC config (hand-set step size
  and a mass matrix from hierax's posterior variances, as gwkokab's flowMC has no
  adaptation; ``--flowmc-step-size``). A peer run longer than ``--cap`` seconds is
  stopped and reported as such.

For every run: the wall time of the command (interpreter start, compilation, data
loading, sampling, writing), and the minimum bulk ESS and maximum rank-normalised split
R-hat over the hyperparameters, computed by ``hierax.diagnostics`` on each library's
saved chains (gwkokab flowMC: its production chains, local and global steps). A run
*reaches the target* when min ESS >= 1,000 and max R-hat < 1.01; its wall time is then
an upper bound on its time to 1,000 effective draws. Speedups compare runs that
reached the target; against a peer run that did not, the ratio is a lower bound.

    python bench/pop_time_to_ess.py --peer-python /tmp/gwkenv/bin/python \\
        --out bench/results/pop_time_to_ess

(``python bench/pop_throughput.py --setup-peer DIR`` makes gwkokab's environment.)
Writes ``pop_time_to_ess.{json,md}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from pop_cli import run_hierax_pop, work_folder, write_report  # bench/pop_cli.py (run as a script)

HERE = Path(__file__).resolve().parent
TARGET_ESS = 1_000
TARGET_RHAT = 1.01
SAMPLES_PER_EVENT = 2_000
RELATIVE_WIDTHS = (0.08, 0.12)
NAMES = ("mass_1_source", "mass_2_source")
GWKOKAB_DATASET = "GWKokabSyntheticDiscretePE/posterior_samples"
HYPERPARAMETERS = ("log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0")
# hierax NUTS only where the edges are fixed: on the free prior it saturates its trees
# (23 s per iteration for 2 chains, docs/pop_sampler.md section 1).
HIERAX_SAMPLERS = {"free": ("slice",), "fixed": ("slice", "nuts")}
# The same chains, warmup and draws for both; each library runs its chains the fastest
# way it has on this machine (``--hierax-chain-method``, ``--gwkokab-chain-method``).
# On a CPU with one device, vectorized chains wait at every iteration for the chain with
# the deepest tree (fixed prior, hierax's generic likelihood: 72 s vectorized, 40 s
# sequential; gwkokab 120 s and 64 s, and 68 s with chain_method "parallel" on 4 host
# devices; BENCHMARKS.md). hierax's "parallel" runs one chain per host thread there.
NUTS_MCMC = {"num_warmup": 500, "num_samples": 750, "num_chains": 4,
             "chain_method": "parallel", "progress_bar": False}
GWKOKAB_CHAIN_METHOD = "sequential"
NUTS_KERNEL = {"target_accept_prob": 0.8, "max_tree_depth": 10}
# gwkokab's flowMC: the flow and training settings of hierax's flowMC template with
# fewer chains and loops (as in bench/pop_agreement.py); HMC local steps.
FLOWMC = {"n_chains": 20, "n_local_steps": 50, "n_global_steps": 50,
          "n_training_loops": 6, "n_production_loops": 6, "local_thinning": 1,
          "global_thinning": 1, "n_epochs": 4, "batch_size": 10_000,
          "n_max_examples": 200_000, "history_window": 2_000,
          "n_NFproposal_batch_size": 50, "local_sampler_name": "hmc", "step_size": 0.3,
          "n_leapfrog": 5, "rq_spline_hidden_units": [64, 64], "rq_spline_n_bins": 10,
          "rq_spline_n_layers": 8, "rq_spline_range": [-10.0, 10.0],
          "learning_rate": 1e-3}


# ----------------------------------------------------------------------------- catalog


def flat_prior_posteriors(rng, truths, num_samples=SAMPLES_PER_EVENT, widths=RELATIVE_WIDTHS):
    """Posterior samples of ``(m1, m2)`` for each true ``(m1, m2)`` row, flat prior.

    The likelihood of event ``n`` is Gaussian with standard deviations
    ``widths * truth_n`` around ``observed_n = truth_n + sd_n * z`` (``z`` standard
    normal), so the truth is a fair draw from it; under a flat prior on
    ``0 < m2 <= m1`` the posterior is that Gaussian restricted to the region, drawn by
    rejection. Returns a list of ``(num_samples, 2)`` arrays.
    """
    events = []
    for truth in np.asarray(truths, dtype=np.float64):
        sd = np.asarray(widths) * truth
        observed = truth + sd * rng.normal(size=2)
        kept = np.empty((0, 2))
        while len(kept) < num_samples:
            draws = observed + sd * rng.normal(size=(4 * num_samples, 2))
            inside = (draws[:, 1] > 0.0) & (draws[:, 1] <= draws[:, 0])
            kept = np.concatenate([kept, draws[inside]])
        events.append(kept[:num_samples])
    return events


def write_events(events, text_dir: Path, hdf5_dir: Path) -> None:
    """Each event as ``event_<i>.dat`` (header line) and ``event_<i>.hdf5`` (gwkokab)."""
    import h5py

    text_dir.mkdir(parents=True, exist_ok=True)
    hdf5_dir.mkdir(parents=True, exist_ok=True)
    dtype = np.dtype([(name, np.float64) for name in NAMES])
    for i, samples in enumerate(events):
        np.savetxt(text_dir / f"event_{i:04d}.dat", samples, header=" ".join(NAMES),
                   comments="")
        table = np.empty(len(samples), dtype=dtype)
        for j, name in enumerate(NAMES):
            table[name] = samples[:, j]
        with h5py.File(hdf5_dir / f"event_{i:04d}.hdf5", "w") as handle:
            handle.create_dataset(GWKOKAB_DATASET, data=table)


def export_selection(pmean: dict, path: Path) -> dict:
    """Write the draws of hierax's estimator for ``pmean`` to ``path`` (``.npz``)."""
    from hierax.pop.selection import from_config

    estimator = from_config(pmean, NAMES)
    log_draw_weight = np.asarray(estimator.log_draw_density) - np.asarray(estimator.log_weight)
    np.savez(path, theta=np.asarray(estimator.theta, np.float64),
             log_draw_weight=log_draw_weight, total_draws=estimator.total_draws,
             time=estimator.time, parameter_names=np.array(NAMES))
    return {"draws": int(len(log_draw_weight)), "total_draws": int(estimator.total_draws),
            "time": float(estimator.time)}


def make_catalog(seed: int, work: Path) -> dict:
    """The catalog, both libraries' data and pmean configs in ``work``; a description."""
    data = work / "mock"
    run_hierax_pop("mock", "--seed", str(seed), "--output", str(data))
    realization = data / "realization_0"
    truths = json.loads((realization / "hyperparameters.json").read_text())
    catalog = json.loads((realization / "catalog.json").read_text())
    detected = np.loadtxt(realization / "injections.dat", skiprows=1, ndmin=2)[:, :2]
    events = flat_prior_posteriors(np.random.default_rng(seed), detected)
    write_events(events, work / "events_dat", work / "events_hdf5")

    pmean = {"estimator_type": "analytic_pdet", "time_scale": catalog["time"]}
    (work / "pmean_hierax.json").write_text(json.dumps(pmean, indent=1))
    selection = export_selection(pmean, work / "selection_draws.npz")
    (work / "pmean_gwkokab.json").write_text(json.dumps({
        "estimator_type": "custom",
        "python_module_path": str(HERE / "gwkokab_selection.py"),
        "filename": str(work / "selection_draws.npz"), "kwargs": {}}, indent=1))
    (work / "data_loader_gwkokab.json").write_text(json.dumps(
        {"regex": str(work / "events_hdf5" / "event_*.hdf5")}, indent=1))
    return {"seed": seed, "events": len(events), "samples_per_event": SAMPLES_PER_EVENT,
            "truths": truths, "selection": selection, "time": catalog["time"]}


def write_prior(kind: str, truths: dict, path: Path) -> tuple[str, ...]:
    """Write the ``free`` or ``fixed`` prior to ``path``; the sampled hyperparameters.

    ``free``: the template prior of ``hierax-pop config-template`` (seed 000's).
    """
    from hierax.cli.templates import prior_template

    prior = prior_template(HYPERPARAMETERS)[0]
    if kind == "fixed":
        prior.update(mmin_pl_0=truths["mmin_pl_0"], mmax_pl_0=truths["mmax_pl_0"])
    path.write_text(json.dumps(prior, indent=1))
    return tuple(name for name in HYPERPARAMETERS if isinstance(prior[name], dict))


# ----------------------------------------------------------------------------- runs


def chain_summary(chains: dict) -> dict:
    """Per hyperparameter ``(chains, draws)`` arrays -> min ESS, max R-hat, means, sds."""
    from hierax.diagnostics import ess_bulk, rhat

    per = {name: {"mean": float(x.mean()), "sd": float(x.std()), "ess_bulk": float(ess_bulk(x)),
                  "rhat": float(rhat(x))} for name, x in chains.items()}
    shape = next(iter(chains.values())).shape
    return {"parameters": per, "chains": int(shape[0]), "draws_per_chain": int(shape[1]),
            "min_ess": min(p["ess_bulk"] for p in per.values()),
            "max_rhat": max(p["rhat"] for p in per.values())}


def run_hierax(sampler: str, work: Path, prior: Path, names, seed: int, nuts: dict) -> dict:
    """``hierax-pop infer`` with the default sampler (slice) or the NUTS config ``nuts``."""
    import arviz as az

    out = work / f"hierax_{sampler}_{prior.stem}"
    extra = []
    if sampler == "nuts":
        config = work / "hierax_nuts.json"
        config.write_text(json.dumps(nuts))
        extra = ["--sampler-cfg", str(config)]
    wall = run_hierax_pop("infer", "--posterior-regex", str(work / "events_dat" / "event_*.dat"),
                          "--pmean-cfg", str(work / "pmean_hierax.json"),
                          "--prior-cfg", str(prior), "--seed", str(seed),
                          "--output", str(out), *extra)
    posterior = az.from_netcdf(out / "inference.nc").posterior
    result = chain_summary({name: np.asarray(posterior[name], np.float64) for name in names})
    return {"library": "hierax", "sampler": sampler, "wall_s": wall, **result}


def run_gwkokab(sampler: str, work: Path, prior: Path, names, seed: int, peer_python: str,
                cap: float, nuts: dict, flowmc: dict) -> dict:
    """gwkokab's ``discrete_n_pls_m_gs`` with a NumPyro NUTS or a flowMC config.

    ``nuts``: ``{"kernel": ..., "mcmc": ...}`` as for hierax.
    ``flowmc``: the flat flowMC settings, ``mass_matrix`` included (in the order of the
    sorted hyperparameter names, as gwkokab orders them).
    """
    out = work / f"gwkokab_{sampler}_{prior.stem}"
    out.mkdir(parents=True, exist_ok=True)
    if sampler == "nuts":
        config = {"sampler_name": "numpyro", **nuts}
    else:
        config = dict(flowmc, sampler_name="flowMC")
    (out / "sampler.json").write_text(json.dumps(config, indent=1))
    command = [os.path.join(os.path.dirname(peer_python), "discrete_n_pls_m_gs"),
               "--n-pl", "1", "--n-g", "0",
               "--data-loader-cfg", str(work / "data_loader_gwkokab.json"),
               "--pmean-cfg", str(work / "pmean_gwkokab.json"),
               "--prior-cfg", str(prior), "--sampler-cfg", str(out / "sampler.json"),
               "--seed", str(seed)]
    base = {"library": "gwkokab", "sampler": sampler, "config": config}
    env = dict(os.environ)
    if sampler == "nuts" and nuts["mcmc"].get("chain_method") == "parallel":
        # NumPyro runs parallel chains on separate devices: one host device per chain.
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_"
                            f"device_count={nuts['mcmc']['num_chains']}").strip()
    start = time.perf_counter()
    with open(out / "log.txt", "w") as log:
        try:
            done = subprocess.run(command, cwd=out, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=cap, env=env)
        except subprocess.TimeoutExpired:
            return {**base, "wall_s": time.perf_counter() - start, "stopped_at_cap": True}
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (out / "log.txt").read_text()[-3000:]
        raise RuntimeError(f"gwkokab {sampler} failed (exit {done.returncode}):\n{tail}")
    chains = read_gwkokab_chains(out / "inference_data.hdf5", sampler, names)
    return {**base, "wall_s": wall, "stopped_at_cap": False, **chain_summary(chains)}


def read_gwkokab_chains(path: Path, sampler: str, names) -> dict:
    """``{name: (chains, draws)}`` from gwkokab's ``inference_data.hdf5``.

    NUTS writes ``chains/chain_<i>`` with the sampled hyperparameters in sorted order;
    flowMC writes ``chains/prod/chain_<i>/positions`` with their order in the file's
    ``labels`` attribute.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        if sampler == "nuts":
            group, labels = handle["chains"], sorted(names)
            stacked = np.stack([group[key][()] for key in sorted(group, key=_chain_index)])
        else:
            group = handle["chains/prod"]
            labels = [str(label) for label in handle.attrs["labels"]]
            stacked = np.stack([group[key]["positions"][()]
                                for key in sorted(group, key=_chain_index)])
    return {name: stacked[..., labels.index(name)] for name in names}


def _chain_index(key: str) -> int:
    return int(key.rsplit("_", 1)[1])


def reached(run: dict) -> bool:
    return ("min_ess" in run and run["min_ess"] >= TARGET_ESS
            and run["max_rhat"] < TARGET_RHAT)


# ----------------------------------------------------------------------------- report


def speedups(runs: list[dict]) -> dict:
    """Per hierax run reaching the target: wall ratio to each gwkokab run (>= if a bound)."""
    out = {}
    for mine in (r for r in runs if r["library"] == "hierax" and reached(r)):
        for peer in (r for r in runs if r["library"] == "gwkokab"):
            if "wall_s" not in peer:
                continue
            bound = not reached(peer)
            key = f"hierax {mine['sampler']} vs gwkokab {peer['sampler']}"
            out[key] = {"ratio": peer["wall_s"] / mine["wall_s"], "lower_bound": bound}
    return out


def markdown(report: dict) -> str:
    lines = ["## Wall time to 1,000 effective draws, hierax-pop vs gwkokab's commands", "",
             f"Command: `{report['command']}`", "",
             f"Measured {report['date']} on {report['machine']}; gwkokab "
             f"{report['versions'].get('gwkokab', '?')}.", "",
             f"Catalog: mock seed {report['catalog']['seed']}, {report['catalog']['events']} "
             f"events x {report['catalog']['samples_per_event']} samples (flat reference "
             f"prior); selection: {report['catalog']['selection']['draws']} draws of "
             f"{report['catalog']['selection']['total_draws']}. Target: min bulk ESS >= "
             f"{TARGET_ESS} and max R-hat < {TARGET_RHAT}.", "",
             f"NUTS: hierax `{json.dumps(report['nuts'])}`; gwkokab "
             f"`{json.dumps(report.get('gwkokab_nuts', report['nuts']))}`.", ""]
    for prior, runs in report["priors"].items():
        lines += [f"### Prior `{prior}` ({', '.join(report['sampled'][prior])} sampled)", "",
                  "| run | wall (s) | chains x draws | min ESS | max R-hat | target |",
                  "|---|---|---|---|---|---|"]
        for run in runs:
            label = f"{run['library']} {run['sampler']}"
            if run["sampler"] == "flowmc" and "config" in run:
                label += f" (HMC step size {run['config']['step_size']})"
            if "error" in run:
                lines.append(f"| {label} | failed: {run['error'].splitlines()[-1]} | | | | no |")
                continue
            if run.get("stopped_at_cap"):
                lines.append(f"| {label} | > {run['wall_s']:.0f} (stopped) | | | | no |")
                continue
            lines.append(f"| {label} | {run['wall_s']:.0f} | {run['chains']} x "
                         f"{run['draws_per_chain']} | {run['min_ess']:.0f} | "
                         f"{run['max_rhat']:.3f} | {'yes' if reached(run) else 'no'} |")
        lines += ["", "| comparison | gwkokab wall / hierax wall |", "|---|---|"]
        for key, value in speedups(runs).items():
            sign = ">= " if value["lower_bound"] else ""
            lines.append(f"| {key} | {sign}{value['ratio']:.1f}x |")
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}"


def peer_versions(peer_python: str) -> dict:
    code = ("import json; from importlib.metadata import version; print(json.dumps("
            "{p: version(p) for p in ('gwkokab', 'jax', 'numpyro', 'flowMC')}))")
    done = subprocess.run([peer_python, "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="python of gwkokab's environment")
    parser.add_argument("--seed", type=int, default=1, help="mock catalog and sampler seed")
    parser.add_argument("--priors", nargs="+", choices=("free", "fixed"),
                        default=["free", "fixed"])
    parser.add_argument("--gwkokab-samplers", nargs="+", choices=("nuts", "flowmc"),
                        default=["nuts", "flowmc"], help="gwkokab runs to make")
    parser.add_argument("--flowmc-step-size", type=float, default=FLOWMC["step_size"],
                        help="step size of gwkokab's flowMC local HMC steps")
    methods = ("sequential", "vectorized", "parallel")
    parser.add_argument("--hierax-chain-method", choices=methods,
                        default=NUTS_MCMC["chain_method"],
                        help="chain_method of hierax's NUTS runs")
    parser.add_argument("--gwkokab-chain-method", choices=methods,
                        default=GWKOKAB_CHAIN_METHOD,
                        help="chain_method of gwkokab's NUTS runs (parallel: one host "
                             "device per chain)")
    parser.add_argument("--cap", type=float, default=900.0,
                        help="seconds after which a gwkokab run is stopped")
    parser.add_argument("--work", help="working folder (default: a temporary one)")
    parser.add_argument("--out", help="folder for pop_time_to_ess.{json,md}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    report = {"command": "python bench/pop_time_to_ess.py " + " ".join(argv),
              "date": datetime.date.today().isoformat(), "machine": machine(),
              "versions": peer_versions(args.peer_python), "priors": {}, "sampled": {},
              "nuts": {"kernel": NUTS_KERNEL, "mcmc": dict(NUTS_MCMC,
                                                         chain_method=args.hierax_chain_method)},
              "gwkokab_nuts": {"kernel": NUTS_KERNEL, "mcmc": dict(
                  NUTS_MCMC, chain_method=args.gwkokab_chain_method)}}
    flowmc = dict(FLOWMC, step_size=args.flowmc_step_size)
    nuts, peer_nuts = report["nuts"], report["gwkokab_nuts"]
    with work_folder(args.work, "pop_time_to_ess_") as work:
        report["catalog"] = make_catalog(args.seed, work)
        for kind in args.priors:
            prior = work / f"prior_{kind}.json"
            names = write_prior(kind, report["catalog"]["truths"], prior)
            report["sampled"][kind] = names
            runs = [run_hierax(sampler, work, prior, names, args.seed, nuts)
                    for sampler in HIERAX_SAMPLERS[kind]]
            print(json.dumps(runs, default=str)[:2000], flush=True)
            variances = [runs[0]["parameters"][n]["sd"] ** 2 for n in sorted(names)]
            mass_matrix = [1.0 / v for v in variances]
            for sampler in args.gwkokab_samplers:
                try:
                    runs.append(run_gwkokab(sampler, work, prior, names, args.seed,
                                            args.peer_python, args.cap, peer_nuts,
                                            dict(flowmc, mass_matrix=mass_matrix)))
                except (RuntimeError, OSError, KeyError) as error:
                    runs.append({"library": "gwkokab", "sampler": sampler,
                                 "error": str(error)[-2000:]})
                print(json.dumps(runs[-1], default=str)[:2000], flush=True)
            report["priors"][kind] = runs
    text = markdown(report)
    print(text)
    if args.out:
        write_report(args.out, "pop_time_to_ess", report, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
