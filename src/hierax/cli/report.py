"""``hierax-pop report DIR``: PNG figures and one ``index.html`` from an inference folder.

Figures: a corner plot of the free hyperparameters (with the truths of a mock
catalog: ``--truths`` or the ``hyperparameters.json`` recorded at inference), the
traces of every chain, dR/dm1 and dR/dq with their median and 90% band (and the
true curve for mock data), and the Monte Carlo error diagnostics of every draw
against their thresholds. The page adds the R-hat / ESS table and the verdicts.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np

from hierax._files import replace_atomically
from hierax.cli.errors import UserInputError, read_json_file
from hierax.cli.outputs import write_text_atomically
from hierax.cli.run_summary import convergence_rows, convergence_verdict, format_rows

__all__ = ["run_report"]

_CURVE_DRAWS = 300
_MC_THRESHOLDS = {"min_event_effective_samples": (10.0, "min"),
                  "log_likelihood_variance": (1.0, "max"),
                  "selection_effective_draws": (4.0, "per_event_min")}


def _load(directory: Path):
    import arviz

    path = directory / "inference.nc"
    if not path.is_file():
        raise UserInputError(f"no inference.nc in '{directory}'; give the --output folder of "
                             "a finished `hierax-pop infer` run")
    data = arviz.from_netcdf(path)
    run = json.loads(data.attrs["hierax_pop_run"])
    return data, run


def _truths(args, run, names) -> dict | None:
    path = args.truths or run.get("truths_path") or None
    if path is None:
        return None
    if args.truths is None and not Path(path).is_file():
        return None
    values = read_json_file(path, what="truths")
    return {n: float(values[n]) for n in names if n in values}


def _savefig(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"),
                           suffix=path.suffix)
    finally:
        plt.close(fig)
    return path.name


def _corner(samples, names, truths, out: Path) -> str:
    import corner

    data = np.column_stack([np.asarray(samples[n]).reshape(-1) for n in names])
    true = [truths.get(n) for n in names] if truths else None
    fig = corner.corner(data, labels=names, truths=true, quantiles=[0.05, 0.5, 0.95],
                        show_titles=True, title_fmt=".3g", truth_color="tab:red")
    return _savefig(fig, out / "corner.png")


def _traces(samples, names, truths, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.8 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for chain in np.asarray(samples[name]):
            ax.plot(chain, lw=0.6, alpha=0.8)
        if truths and name in truths:
            ax.axhline(truths[name], color="tab:red", lw=1.0)
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("draw")
    return _savefig(fig, out / "traces.png")


def _rate_curves(samples, run, truths, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    from hierax.cli.report_curves import mass_rate_curves

    options = run["model"]
    flat = {n: np.asarray(samples[n]).reshape(-1) for n in run["hyperparameter_names"]}
    total = next(iter(flat.values())).size
    pick = np.linspace(0, total - 1, min(total, _CURVE_DRAWS)).astype(int)
    highs = [flat[n] for n in flat if n.startswith(("mmax_pl_", "m1_high_g_"))]
    m_high = float(min(max(100.0, 1.2 * max((np.max(h) for h in highs), default=100.0)), 300.0))
    m1, dm1, q, dq = mass_rate_curves(options, {n: v[pick] for n, v in flat.items()}, m_high)
    true = None
    if truths and all(n in truths for n in flat):
        true = mass_rate_curves(options, {n: np.array([truths[n]]) for n in flat}, m_high)
    names = []
    for label, grid, curves, index in (("m1", m1, dm1, 1), ("q", q, dq, 3)):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        low, mid, high = np.percentile(curves, [5, 50, 95], axis=0)
        ax.fill_between(grid, low, high, alpha=0.3, label="90% band")
        ax.plot(grid, mid, label="median")
        if true is not None:
            ax.plot(grid, true[index][0], color="tab:red", ls="--", label="truth")
        ax.set_yscale("log")
        positive = mid[mid > 0]
        if positive.size:
            ax.set_ylim(max(positive.min() * 1e-2, 1e-8), None)
        unit = "Msun^-1 " if label == "m1" else ""
        ax.set_xlabel(label)
        ax.set_ylabel(f"dR/d{label} [Gpc^-3 yr^-1 {unit}]".replace(" ]", "]"))
        ax.legend()
        names.append(_savefig(fig, out / f"rate_{label}.png"))
    return names


def _mc_diagnostics(data, num_events: int, out: Path) -> str | None:
    import matplotlib.pyplot as plt

    stats = data.sample_stats
    present = [n for n in _MC_THRESHOLDS if n in stats]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 1, figsize=(9, 2.2 * len(present)), squeeze=False)
    for ax, name in zip(axes[:, 0], present, strict=True):
        for chain in np.asarray(stats[name]):
            ax.plot(chain, lw=0.6, alpha=0.8)
        value, kind = _MC_THRESHOLDS[name]
        limit = value * num_events if kind == "per_event_min" else value
        ax.axhline(limit, color="tab:red", ls="--", lw=1.0, label="threshold")
        ax.set_ylabel(name, fontsize=8)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("draw")
    return _savefig(fig, out / "mc_diagnostics.png")


def _table_html(rows, truths) -> str:
    head = ["name", "mean", "sd", "5%", "95%", "r_hat", "ess_bulk", "ess_tail"]
    if truths:
        head.append("truth")
    lines = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [html.escape(row["name"])] + [f"{row[c]:.4g}" for c in head[1:8]]
        if truths:
            cells.append(f"{truths[row['name']]:.4g}" if row["name"] in truths else "")
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(lines + ["</table>"])


def _page(run, rows, verdict, verdicts, figures, truths) -> str:
    mc_text = verdicts.get("monte_carlo", "")
    images = "\n".join(f'<h2>{html.escape(title)}</h2><img src="{name}" alt="{title}">'
                       for title, name in figures if name)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>hierax-pop report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}img{{max-width:100%}}
td,th{{padding:2px 8px;text-align:right}}table{{border-collapse:collapse}}</style></head>
<body><h1>Population inference report</h1>
<p>{run['num_events']} events; model {html.escape(json.dumps(run['model']))};
sampler {html.escape(run['sampler'])}.</p>
<h2>Convergence</h2><p><b>{html.escape(verdict)}</b></p>
<p><b>{html.escape(mc_text)}</b></p>
{_table_html(rows, truths)}
{images}
</body></html>
"""


def run_report(args: argparse.Namespace) -> int:
    """Write the figures and ``index.html`` of ``args.directory`` into ``args.output``."""
    import matplotlib

    matplotlib.use("Agg")
    directory = Path(args.directory)
    data, run = _load(directory)
    out = Path(args.output) if args.output else directory / "report"
    out.mkdir(parents=True, exist_ok=True)
    samples = {n: np.asarray(data.posterior[n]) for n in run["hyperparameter_names"]}
    free = run["free_hyperparameters"]
    truths = _truths(args, run, run["hyperparameter_names"])
    rows = convergence_rows(samples, free)
    _, verdict = convergence_verdict(rows, next(iter(samples.values())).shape[0])
    verdicts = json.loads(data.attrs.get("verdicts", "{}"))
    figures = [("Corner plot", _corner(samples, free, truths, out)),
               ("Traces", _traces(samples, free, truths, out))]
    rate_names = _rate_curves(samples, run, truths, out)
    figures += [("dR/dm1", rate_names[0]), ("dR/dq", rate_names[1]),
                ("Monte Carlo error diagnostics per draw",
                 _mc_diagnostics(data, run["num_events"], out))]
    write_text_atomically(out / "index.html", _page(run, rows, verdict, verdicts, figures,
                                                    truths))
    print(format_rows(rows), file=sys.stdout)
    print(f"wrote {out / 'index.html'}", file=sys.stdout)
    return 0
