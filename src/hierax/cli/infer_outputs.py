"""The end of an inference run: verdicts printed and logged, output files written.

See :mod:`hierax.cli.outputs` for the folder layout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from hierax.cli.outputs import (
    write_inference_data,
    write_json_atomically,
    write_samples_dat,
    write_text_atomically,
)
from hierax.cli.run_summary import (
    convergence_rows,
    convergence_verdict,
    format_rows,
    monte_carlo_verdict,
)

__all__ = ["finish_run"]


def _monte_carlo_fractions(diagnostics: dict, num_events: int) -> dict[str, float]:
    from hierax.pop.likelihood import check_monte_carlo_error

    flat = {k: np.asarray(v).reshape(-1) for k, v in diagnostics.items()}
    return check_monte_carlo_error(flat, num_events, warn=False)


def _attributes(inputs, verdicts: dict) -> dict:
    """Attributes of the NetCDF groups: the configs and verdicts as JSON strings."""
    settings = inputs.settings
    return {
        "hierax_pop_run": json.dumps({k: v for k, v in settings.items()
                                      if k not in ("prior_config", "sampler_config",
                                                   "pmean_config")}),
        "prior_config": json.dumps(settings["prior_config"]),
        "sampler_config": json.dumps(settings["sampler_config"]),
        "pmean_config": json.dumps(settings["pmean_config"]),
        "sampler": settings["sampler"],
        "truths_path": settings["truths_path"] or "",
        "verdicts": json.dumps(verdicts),
    }


def finish_run(output: Path, inputs, draws: dict, stats: dict, log_print) -> dict:
    """Verdicts (printed, logged, recorded) and every output file; returns the verdicts."""
    from hierax.pop.inference import DIAGNOSTIC_SITES

    names = list(inputs.population.hyperparameter_names)
    posterior = {n: draws[n] for n in names}
    diagnostics = {n: draws[n] for n in DIAGNOSTIC_SITES if n in draws}
    num_chains = next(iter(posterior.values())).shape[0]
    rows = convergence_rows(posterior, list(inputs.prior.free_names))
    converged, convergence_text = convergence_verdict(rows, num_chains)
    fractions = _monte_carlo_fractions(diagnostics, inputs.events.num_events)
    mc_ok, mc_text = monte_carlo_verdict(fractions)
    verdicts = {"converged": converged, "convergence": convergence_text,
                "monte_carlo_ok": mc_ok, "monte_carlo": mc_text,
                "monte_carlo_fractions": fractions, "table": rows}
    table = format_rows(rows)
    log_print(table, stream=sys.stdout)
    for ok, text in ((converged, convergence_text), (mc_ok, mc_text)):
        log_print(text, stream=sys.stdout if ok else sys.stderr)
    sample_stats = {**stats, **diagnostics}
    write_inference_data(output / "inference.nc", posterior, sample_stats,
                         _attributes(inputs, verdicts))
    write_samples_dat(output / "samples.dat", posterior)
    settings = inputs.settings
    write_json_atomically(output / "prior.json", settings["prior_config"])
    write_json_atomically(output / "sampler.json", settings["sampler_config"])
    write_json_atomically(output / "pmean.json", settings["pmean_config"])
    write_text_atomically(output / "summary.txt",
                          "\n".join([table, convergence_text, mc_text]) + "\n")
    log_print(f"wrote {output / 'inference.nc'}, {output / 'samples.dat'} and the configs",
              stream=sys.stdout)
    _write_predictive(output, inputs, posterior, log_print)
    return verdicts


def _write_predictive(output: Path, inputs, posterior: dict, log_print) -> None:
    """``predictive/`` (:mod:`hierax.cli.predictive_outputs`); the run's results are
    already written, so a failure here is reported and does not lose them."""
    from hierax.cli.predictive_outputs import write_predictive

    try:
        folder = write_predictive(output / "predictive", inputs.population, inputs.events,
                                  inputs.selection, posterior, inputs.seed)
    except Exception as error:  # an auxiliary product: report, keep the run
        log_print(f"could not write the predictive curves: {type(error).__name__}: {error}")
        return
    log_print(f"wrote {folder}/ (population-predictive bands, R(z), reweighted events, "
              "posterior predictive check)", stream=sys.stdout)
