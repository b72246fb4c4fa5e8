"""Convergence and Monte Carlo error verdicts of a population run, as tables and sentences.

Convergence criteria (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021,
Bayesian Analysis 16, 667): rank-normalized split R-hat below 1.01 and bulk
effective sample size above 400 for every free hyperparameter.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "convergence_rows",
    "convergence_verdict",
    "format_rows",
    "monte_carlo_verdict",
]

RHAT_MAX = 1.01
ESS_MIN = 400.0
_COLUMNS = ("name", "mean", "sd", "5%", "95%", "r_hat", "ess_bulk", "ess_tail")


def convergence_rows(samples: Mapping[str, np.ndarray], names) -> list[dict]:
    """One row per name: mean, sd, 90% interval, R-hat, bulk and tail ESS.

    ``samples[name]`` has shape ``(chains, draws)``.
    """
    from hierax.diagnostics import summary

    table = summary({n: np.asarray(samples[n], dtype=np.float64) for n in names}, prob=0.9)
    rows = []
    for name in names:
        stats = table[name]
        rows.append({"name": name, "mean": float(stats["mean"]), "sd": float(stats["std"]),
                     "5%": float(stats["5.0%"]), "95%": float(stats["95.0%"]),
                     "r_hat": float(stats["r_hat"]), "ess_bulk": float(stats["n_eff"]),
                     "ess_tail": float(stats["ess_tail"])})
    return rows


def format_rows(rows: list[dict]) -> str:
    """The rows as an aligned text table."""
    cells = [list(_COLUMNS)]
    for row in rows:
        cells.append([row["name"]] + [_cell(c, row[c]) for c in _COLUMNS[1:]])
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True))
                     for line in cells)


def _cell(column: str, value: float) -> str:
    if column == "r_hat":
        return f"{value:.3f}"
    if column.startswith("ess"):
        return f"{value:.0f}"
    return f"{value:.4g}"


def convergence_verdict(rows: list[dict], num_chains: int) -> tuple[bool, str]:
    """``(converged, sentence)`` by the criteria of the module docstring."""
    bad_rhat = [r["name"] for r in rows if not r["r_hat"] < RHAT_MAX]
    low_ess = [r["name"] for r in rows if not r["ess_bulk"] > ESS_MIN]
    if num_chains < 2:
        note = " (with one chain R-hat compares the chain's halves only)"
    else:
        note = ""
    if not bad_rhat and not low_ess:
        return True, (f"Converged: R-hat < {RHAT_MAX} and bulk ESS > {ESS_MIN:.0f} for every "
                      f"free hyperparameter{note}.")
    parts = []
    if bad_rhat:
        parts.append(f"R-hat >= {RHAT_MAX} for {', '.join(bad_rhat)}")
    if low_ess:
        parts.append(f"bulk ESS <= {ESS_MIN:.0f} for {', '.join(low_ess)}")
    return False, ("NOT CONVERGED: " + "; ".join(parts) + ". Do not trust these draws: run "
                   "longer (more warmup and samples), more chains, or another sampler.")


def monte_carlo_verdict(fractions: Mapping[str, float]) -> tuple[bool, str]:
    """``(ok, sentence)`` from the fractions of draws violating each Monte Carlo threshold."""
    bad = {k: v for k, v in fractions.items() if v > 0}
    if not bad:
        return True, "Monte Carlo error: every draw meets the thresholds."
    details = ", ".join(f"{name} in {100 * f:.1f}% of draws" for name, f in bad.items())
    return False, ("WARNING: Monte Carlo error of the likelihood too large (" + details
                   + "); use more posterior samples per event or more selection draws.")
