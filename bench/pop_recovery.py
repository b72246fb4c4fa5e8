"""Recovery of mock populations by ``hierax-pop`` on its defaults, one catalog per seed.

For every seed: ``hierax-pop mock --seed S`` (the built-in one-power-law population,
the analytic detector, 2,000 posterior samples per event), then ``hierax-pop infer``
with no sampler, prior or selection config (the defaults: slice sampling, the
template prior, the analytic detector), each in its own process, timed. From the
run's ``inference.nc`` it reports, per hyperparameter, the posterior mean and sd,
the rank-normalised split R-hat, the bulk ESS and whether the truth lies inside
the central 90% interval, and checks the criteria of a converged, covering run::

    python bench/pop_recovery.py --seeds 1 2 3 4 5 --out bench/results/pop_recovery

writes ``pop_recovery.json`` and ``pop_recovery.md`` to ``--out`` (the catalogs and
runs go to ``--work``, a temporary folder by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from pop_cli import run_hierax_pop, work_folder, write_report  # bench/pop_cli.py (run as a script)

RHAT_MAX, ESS_MIN, INTERVAL = 1.01, 400.0, 0.90


def fit_one(seed: int, work: Path) -> dict:
    """Mock catalog ``seed`` and its inference on the defaults; the report entry."""
    import arviz as az

    from hierax.diagnostics import ess_bulk, rhat

    data, out = work / f"data_{seed}", work / f"inference_{seed}"
    mock_s = run_hierax_pop("mock", "--seed", str(seed), "--output", str(data))
    load = os.getloadavg()[0]
    infer_s = run_hierax_pop("infer", "--posterior-regex",
                          str(data / "realization_0" / "posteriors" / "event_*.dat"),
                          "--seed", str(seed), "--output", str(out))
    truths = json.loads((data / "realization_0" / "hyperparameters.json").read_text())
    posterior = az.from_netcdf(out / "inference.nc").posterior
    num_events = len(list((data / "realization_0" / "posteriors").glob("event_*.dat")))
    parameters = {}
    for name in posterior.data_vars:
        draws = np.asarray(posterior[name], np.float64)  # (chains, draws)
        low, high = np.quantile(draws, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
        parameters[name] = {
            "truth": truths[name], "mean": float(draws.mean()), "sd": float(draws.std()),
            "rhat": float(rhat(draws)), "ess_bulk": float(ess_bulk(draws)),
            "inside": bool(low <= truths[name] <= high),
        }
    return {"seed": seed, "events": num_events, "mock_s": mock_s, "infer_s": infer_s,
            "load_before_infer": load, "draws": list(np.shape(draws)),
            "parameters": parameters,
            "converged": all(p["rhat"] < RHAT_MAX and p["ess_bulk"] > ESS_MIN
                             for p in parameters.values())}


def markdown(runs: list, command: str) -> str:
    names = list(runs[0]["parameters"])
    lines = [
        "## Recovery on the defaults of `hierax-pop`", "",
        f"Command: `{command}`", "",
        f"Date {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; nproc={os.cpu_count()}, "
        f"{platform.processor() or platform.machine()}; python {platform.python_version()}.",
        "", "| seed | events | chains x draws | infer wall (s) | load | max R-hat | "
        "min bulk ESS | truths in 90% CI |", "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        p = run["parameters"].values()
        lines.append(
            f"| {run['seed']} | {run['events']} | {run['draws'][0]} x {run['draws'][1]} | "
            f"{run['infer_s']:.0f} | {run['load_before_infer']:.1f} | "
            f"{max(x['rhat'] for x in p):.4f} | {min(x['ess_bulk'] for x in p):.0f} | "
            f"{sum(x['inside'] for x in p)}/{len(names)} |")
    lines += ["", "| seed | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for run in runs:
        cells = []
        for name in names:
            x = run["parameters"][name]
            cells.append(f"{x['mean']:.2f} ± {x['sd']:.2f} (truth {x['truth']:g}), "
                         f"R̂ {x['rhat']:.3f}, ESS {x['ess_bulk']:.0f}, "
                         f"{'in' if x['inside'] else 'OUT'}")
        lines.append(f"| {run['seed']} | " + " | ".join(cells) + " |")
    covered = {n: sum(r["parameters"][n]["inside"] for r in runs) for n in names}
    lines += ["", f"Truth inside the 90% interval, per hyperparameter: {covered} "
              f"(criterion: at least 3 of {len(runs)})."]
    lines.append(f"R-hat < {RHAT_MAX} and bulk ESS > {ESS_MIN:.0f} on every hyperparameter: "
                 f"{sum(r['converged'] for r in runs)} of {len(runs)} runs.")
    lines.append(f"Longest inference: {max(r['infer_s'] for r in runs):.0f} s "
                 "(wall, compilation included).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", default=None, help="folder for pop_recovery.{json,md}")
    parser.add_argument("--work", default=None, help="folder for catalogs and runs")
    args = parser.parse_args(argv)
    with work_folder(args.work, "pop_recovery_") as work:
        words = sys.argv[1:] if argv is None else argv
        command = "python bench/pop_recovery.py " + " ".join(words)
        runs = []
        for seed in args.seeds:
            runs.append(fit_one(seed, work))
            print(json.dumps(runs[-1]), flush=True)
        text = markdown(runs, command)
        print(text)
        if args.out:
            write_report(args.out, "pop_recovery", runs, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
