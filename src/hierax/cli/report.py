"""``hierax-pop report DIR``: PNG figures and one ``index.html`` from an inference folder.

Figures: a corner plot of the free hyperparameters (with the truths of a mock
catalog: ``--truths`` or the ``hyperparameters.json`` recorded at inference), the
traces of every chain, dR/dm1 and dR/dq with their median and 90% band (and the
true curve for mock data), the Monte Carlo error diagnostics of every draw
against their thresholds, and, from the run's ``predictive/`` folder
(:mod:`hierax.cli.predictive_outputs`), the population-predictive distribution of
every column, R(z), the posterior predictive check of the detected distribution and
the events reweighted to the population. The page adds the R-hat / ESS table and the
verdicts.
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
# threshold (hierax.pop.defaults.MONTE_CARLO_THRESHOLDS) -> the site it bounds
_MC_SITES = {"min_event_effective_samples": "min_event_effective_samples",
             "max_log_likelihood_variance": "log_likelihood_variance",
             "min_selection_ratio": "selection_effective_draws"}


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

    from hierax.pop.defaults import MONTE_CARLO_THRESHOLDS

    stats = data.sample_stats
    present = [key for key, site in _MC_SITES.items() if site in stats]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 1, figsize=(9, 2.2 * len(present)), squeeze=False)
    for ax, key in zip(axes[:, 0], present, strict=True):
        name = _MC_SITES[key]
        for chain in np.asarray(stats[name]):
            ax.plot(chain, lw=0.6, alpha=0.8)
        value = MONTE_CARLO_THRESHOLDS[key]
        limit = value * num_events if key == "min_selection_ratio" else value
        ax.axhline(limit, color="tab:red", ls="--", lw=1.0, label="threshold")
        ax.set_ylabel(name, fontsize=8)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("draw")
    return _savefig(fig, out / "mc_diagnostics.png")


def _read_table(path: Path) -> dict[str, np.ndarray]:
    names = path.read_text().split("\n", 1)[0].split()
    values = np.loadtxt(path, skiprows=1, ndmin=2)
    return {n: values[:, i] for i, n in enumerate(names)}


def _panels(count: int):
    import matplotlib.pyplot as plt

    columns = min(count, 3)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.reshape(-1)[count:]:
        ax.set_visible(False)
    return fig, axes.reshape(-1)


def _predictive_figures(directory: Path, out: Path) -> list[tuple[str, str]]:
    """Figures of ``directory/predictive`` (:mod:`hierax.cli.predictive_outputs`)."""
    folder = directory / "predictive"
    if not folder.is_dir():
        return []
    figures = []
    marginals = sorted(folder.glob("marginal_*.csv"))
    if marginals:
        fig, axes = _panels(len(marginals))
        for ax, path in zip(axes, marginals, strict=False):
            t = _read_table(path)
            ax.fill_between(t["x"], t["p_5"], t["p_95"], alpha=0.3, label="90% band")
            ax.plot(t["x"], t["p_50"], label="median")
            column = path.stem.removeprefix("marginal_")
            ax.set_xlabel(column)
            ax.set_ylabel("population density")
            if column.startswith("mass_") and column != "mass_ratio" and np.any(t["p_50"] > 0):
                ax.set_yscale("log")  # power laws: decades, not a spike
                ax.set_ylim(max(t["p_50"].max() * 1e-5, 1e-12), None)
        axes[0].legend(fontsize=7)
        figures.append(("Population-predictive distributions (median, 90% band)",
                        _savefig(fig, out / "population_predictive.png")))
    rate = folder / "merger_rate.csv"
    if rate.is_file():
        import matplotlib.pyplot as plt

        t = _read_table(rate)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.fill_between(t["z"], t["R_5"], t["R_95"], alpha=0.3, label="90% band")
        ax.plot(t["z"], t["R_50"], label="median")
        ax.set_yscale("log")
        ax.set_xlabel("z")
        ax.set_ylabel("R(z) [Gpc^-3 yr^-1]")
        ax.legend()
        figures.append(("Merger rate R(z)", _savefig(fig, out / "merger_rate.png")))
    checks = sorted(folder.glob("ppc_*.csv"))
    if checks:
        fig, axes = _panels(len(checks))
        for ax, path in zip(axes, checks, strict=False):
            t = _read_table(path)
            for kind, label in (("obs", "observed (reweighted)"), ("pred", "predicted")):
                ax.fill_between(t["x"], t[f"{kind}_5"], t[f"{kind}_95"], alpha=0.25)
                ax.plot(t["x"], t[f"{kind}_50"], label=label)
            ax.set_xlabel(path.stem.removeprefix("ppc_"))
            ax.set_ylabel("cumulative fraction of detections")
        axes[0].legend(fontsize=7)
        figures.append(("Posterior predictive check of the detected distribution",
                        _savefig(fig, out / "ppc.png")))
    figures += _reweighted_events_figure(folder / "reweighted_events.csv", out)
    return figures


def _reweighted_events_figure(path: Path, out: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    import matplotlib.pyplot as plt

    header = path.read_text().split("\n", 1)[0].split()
    column = header[1].rsplit("_pe_", 1)[0]
    table = np.loadtxt(path, skiprows=1, usecols=range(1, len(header)), ndmin=2)
    index = {name: i for i, name in enumerate(header[1:])}
    order = np.argsort(table[:, index[f"{column}_pe_50"]])
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.12 * len(order))))
    y = np.arange(len(order))
    for kind, offset, label in (("pe", -0.2, "PE prior"), ("pop", 0.2, "population")):
        mid = table[order, index[f"{column}_{kind}_50"]]
        low = mid - table[order, index[f"{column}_{kind}_5"]]
        high = table[order, index[f"{column}_{kind}_95"]] - mid
        ax.errorbar(mid, y + offset, xerr=[low, high], fmt="o", ms=2, lw=0.8, label=label)
    ax.set_xlabel(f"{column} (90% interval)")
    ax.set_ylabel("event")
    ax.legend(fontsize=7)
    return [("Events reweighted to the inferred population", _savefig(fig, out /
                                                                     "reweighted_events.png"))]


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
    figures += _predictive_figures(directory, out)
    write_text_atomically(out / "index.html", _page(run, rows, verdict, verdicts, figures,
                                                    truths))
    print(format_rows(rows), file=sys.stdout)
    print(f"wrote {out / 'index.html'}", file=sys.stdout)
    return 0
