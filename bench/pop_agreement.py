"""Do NUTS, flowMC and slice sampling agree on the same catalog? ``hierax-pop infer`` thrice.

One mock catalog (``hierax-pop mock --seed S``, the built-in one-power-law
population, 2,000 samples per event) is fitted by ``hierax-pop infer`` with each
sampler on the same prior. The mass edges are fixed at their true values in that
prior (``mmin_pl_0``, ``mmax_pl_0`` as numbers): with free edges the Monte Carlo
likelihood is a step function of them, on which NUTS stalls (docs/pop_sampler.md),
so the comparison is made where all three samplers apply. The report gives each
posterior mean and sd and the largest ``|mean_a - mean_b| / sd`` per pair::

    python bench/pop_agreement.py --seed 1 --out bench/results/pop_agreement

(``flow`` extra needed for flowMC). Writes ``pop_agreement.{json,md}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from pop_cli import run_hierax_pop, work_folder, write_report  # bench/pop_cli.py (run as a script)

THRESHOLD = 0.2
PRIOR = {
    "log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
    "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
}
# flowMC: the template's flow and training settings with fewer chains and loops (the
# template's 100 chains take about half an hour on this 2-core CPU).
FLOWMC_OVERRIDES = {"n_chains": 20, "n_local_steps": 50, "n_global_steps": 50,
                    "n_training_loops": 6, "n_production_loops": 6, "local_thinning": 1,
                    "global_thinning": 1}
NUTS = {"kernel": {"target_accept_prob": 0.9},
        "mcmc": {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4,
                 "chain_method": "vectorized", "progress_bar": False}}


def run(seed: int, work: Path) -> dict:
    import arviz as az

    from hierax.cli.templates import FLOWMC_TEMPLATE
    from hierax.diagnostics import ess_bulk, rhat

    data = work / "data"
    run_hierax_pop("mock", "--seed", str(seed), "--output", str(data))
    truths = json.loads((data / "realization_0" / "hyperparameters.json").read_text())
    prior = dict(PRIOR, mmin_pl_0=truths["mmin_pl_0"], mmax_pl_0=truths["mmax_pl_0"])
    (work / "prior.json").write_text(json.dumps(prior))
    (work / "nuts.json").write_text(json.dumps(NUTS))
    flowmc = {"data_dump": FLOWMC_TEMPLATE["data_dump"],
              "bundle_config": {**FLOWMC_TEMPLATE["bundle_config"], **FLOWMC_OVERRIDES}}
    (work / "flowmc.json").write_text(json.dumps(flowmc))
    configs = {"slice": [], "nuts": ["--sampler-cfg", str(work / "nuts.json")],
               "flowmc": ["--sampler-cfg", str(work / "flowmc.json")]}
    results = {}
    for sampler, extra in configs.items():
        out = work / sampler
        wall = run_hierax_pop("infer", "--posterior-regex",
                           str(data / "realization_0" / "posteriors" / "event_*.dat"),
                           "--prior-cfg", str(work / "prior.json"), "--sampler", sampler,
                           "--seed", str(seed), "--output", str(out), *extra)
        posterior = az.from_netcdf(out / "inference.nc").posterior
        results[sampler] = {"wall_s": wall, "parameters": {}}
        for name in PRIOR:
            draws = np.asarray(posterior[name], np.float64)
            results[sampler]["parameters"][name] = {
                "mean": float(draws.mean()), "sd": float(draws.std()),
                "rhat": float(rhat(draws)), "ess_bulk": float(ess_bulk(draws)),
                "draws": list(draws.shape)}
    pairs = {}
    for a, b in itertools.combinations(results, 2):
        pairs[f"{a} vs {b}"] = {
            name: abs(results[a]["parameters"][name]["mean"]
                      - results[b]["parameters"][name]["mean"])
            / max(results[a]["parameters"][name]["sd"], results[b]["parameters"][name]["sd"])
            for name in PRIOR}
    return {"seed": seed, "truths": {k: truths[k] for k in prior}, "samplers": results,
            "pairs": pairs, "agree": all(v <= THRESHOLD for p in pairs.values()
                                         for v in p.values())}


def markdown(report: dict, command: str) -> str:
    names = list(PRIOR)
    lines = ["## NUTS, flowMC and slice sampling on one catalog", "",
             f"Command: `{command}`", "",
             f"Catalog seed {report['seed']}; fixed: mmin_pl_0 = "
             f"{report['truths']['mmin_pl_0']}, mmax_pl_0 = {report['truths']['mmax_pl_0']}.",
             "", "| sampler | wall (s) | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for sampler, result in report["samplers"].items():
        cells = [f"{p['mean']:.3f} ± {p['sd']:.3f} (R̂ {p['rhat']:.3f}, ESS {p['ess_bulk']:.0f})"
                 for p in (result["parameters"][n] for n in names)]
        lines.append(f"| {sampler} | {result['wall_s']:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "| pair | " + " | ".join(f"Δmean / sd, {n}" for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for pair, values in report["pairs"].items():
        lines.append(f"| {pair} | " + " | ".join(f"{values[n]:.3f}" for n in names) + " |")
    verdict = "agree" if report["agree"] else "DISAGREE"
    lines += ["", f"All pairs within {THRESHOLD} posterior sd: **{verdict}** (Δmean: the "
              "absolute difference of the means; sd: the larger of the two)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--work", default=None)
    args = parser.parse_args(argv)
    with work_folder(args.work, "pop_agreement_") as work:
        words = sys.argv[1:] if argv is None else argv
        command = "python bench/pop_agreement.py " + " ".join(words)
        report = run(args.seed, work)
        text = markdown(report, command)
        print(text)
        if args.out:
            write_report(args.out, "pop_agreement", report, text)
    return 0 if report["agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
