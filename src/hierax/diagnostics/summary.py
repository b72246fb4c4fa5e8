"""Posterior summary tables: ``summary``, ``format_summary`` and ``print_summary``.

Per site the table reports the mean, standard deviation (``ddof=1``), median,
an equal-tailed credible interval (the Stan/ArviZ convention; NumPyro prints
an HPDI here), the rank-normalised bulk ESS ``n_eff``, the tail ESS, the
rank-normalised split R-hat and the MCSE of the mean (Vehtari, Gelman,
Simpson, Carpenter & Bürkner 2021, Bayesian Analysis 16(2), 667-718).
"""

import itertools
from collections.abc import Mapping

import jax
import numpy as np

from hierax.diagnostics._chains import MIN_SPLIT_DRAWS, check_prob
from hierax.diagnostics.ess import ess_bulk, ess_tail
from hierax.diagnostics.intervals import equal_tailed_interval
from hierax.diagnostics.mcse import mcse
from hierax.diagnostics.rhat import rhat

LEGEND = (
    "n_eff: rank-normalized bulk effective sample size; r_hat: rank-normalized split R-hat "
    "(max of bulk and folded; Vehtari et al. 2021). Intervals are equal-tailed quantiles."
)
DIVERGENCES_LABEL = "Number of divergences"
MAX_TREE_DEPTH_LABEL = "Number of transitions that hit the maximum tree depth"


def interval_keys(prob: float) -> tuple[str, str]:
    """Column names of the interval bounds, e.g. ``("5.0%", "95.0%")`` for ``prob=0.9``."""
    return f"{50.0 * (1.0 - prob):.1f}%", f"{50.0 * (1.0 + prob):.1f}%"


def _as_site_dict(samples) -> dict:
    """A dict site -> array; non-dict inputs are named ``Param:0``, ``Param:1``, ..."""
    if isinstance(samples, Mapping):
        return dict(samples)
    if hasattr(samples, "shape"):
        return {"Param:0": samples}
    leaves = jax.tree_util.tree_leaves(samples)
    return {f"Param:{i}": leaf for i, leaf in enumerate(leaves)}


def _site_chains(name, value, group_by_chain: bool) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"summary: site {name!r} has non-numeric dtype {arr.dtype}.")
    if not group_by_chain:
        arr = arr[None]
    if arr.ndim < 2 or arr.shape[1] == 0:
        layout = "(num_chains, num_draws, ...)" if group_by_chain else "(num_draws, ...)"
        raise ValueError(
            f"summary: site {name!r} must have shape {layout} with at least one draw, "
            f"got shape {np.shape(value)}."
        )
    return arr.astype(np.float64)


def _site_summary(chains: np.ndarray, prob: float) -> dict:
    pooled = chains.reshape((-1,) + chains.shape[2:])
    lower_key, upper_key = interval_keys(prob)
    bounds = equal_tailed_interval(pooled, prob=prob, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = (
            pooled.std(axis=0, ddof=1) if pooled.shape[0] > 1 else np.full(bounds[0].shape, np.nan)
        )
    stats = {
        "mean": pooled.mean(axis=0),
        "std": std,
        "median": np.median(pooled, axis=0),
        lower_key: bounds[0],
        upper_key: bounds[1],
    }
    if chains.shape[1] >= MIN_SPLIT_DRAWS:
        diagnostics = (ess_bulk(chains), ess_tail(chains), rhat(chains), mcse(chains))
    else:
        diagnostics = (np.full(chains.shape[2:], np.nan),) * 4
    stats.update(zip(("n_eff", "ess_tail", "r_hat", "mcse_mean"), diagnostics, strict=True))
    return stats


def summary(samples, prob: float = 0.9, group_by_chain: bool = True) -> dict:
    """Posterior summary statistics and convergence diagnostics per site.

    Args:
        samples: dict site -> draws (NumPy or JAX arrays); other pytrees and
            single arrays are accepted and named ``Param:0``, ``Param:1``, ...
        prob: mass of the equal-tailed credible interval, in ``(0, 1)``.
        group_by_chain: if True each site has shape
            ``(num_chains, num_draws, *param_shape)``; otherwise
            ``(num_draws, *param_shape)`` and is treated as a single chain.

    Returns:
        dict site -> dict with keys ``mean``, ``std``, ``median``, the interval
        bounds (e.g. ``"5.0%"`` and ``"95.0%"`` for ``prob=0.9``, ``"5.5%"`` and
        ``"94.5%"`` for ``prob=0.89``), ``n_eff`` (bulk ESS), ``ess_tail``,
        ``r_hat`` (rank-normalised split R-hat) and ``mcse_mean``; every value
        is a float64 array of shape ``param_shape``. With fewer than 4 draws
        per chain the diagnostics are NaN.
    """
    prob = check_prob(prob, "summary")
    sites = _as_site_dict(samples)
    return {
        name: _site_summary(_site_chains(name, value, group_by_chain), prob)
        for name, value in sites.items()
    }


def _row_label(name: str, index: tuple) -> str:
    return name if not index else f"{name}[{','.join(map(str, index))}]"


def _table_rows(stats_by_site: dict, columns: list[str]) -> list[list[str]]:
    rows = []
    for name, stats in stats_by_site.items():
        shape = np.shape(stats["mean"])
        for index in itertools.product(*map(range, shape)):
            cells = [f"{float(np.asarray(stats[col])[index]):.2f}" for col in columns]
            rows.append([_row_label(name, index), *cells])
    return rows


def _format_table(stats_by_site: dict, prob: float) -> list[str]:
    columns = ["mean", "std", "median", *interval_keys(prob), "n_eff", "r_hat"]
    rows = _table_rows(stats_by_site, columns)
    name_width = max([10, *(len(row[0]) for row in rows)])
    widths = [
        max([9, len(col), *(len(row[i + 1]) for row in rows)]) for i, col in enumerate(columns)
    ]
    header = " ".join(
        [" " * name_width] + [col.rjust(w) for col, w in zip(columns, widths, strict=True)]
    )
    lines = [header]
    for row in rows:
        cells = [row[0].rjust(name_width)]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths, strict=True)]
        lines.append(" ".join(cells))
    return lines


def _format_extra(extra: Mapping | None, hints) -> list[str]:
    extra = dict(extra or {})
    hints = list(hints or []) + list(extra.pop("hints", None) or [])
    lines = []
    if "num_divergences" in extra:
        lines.append(f"{DIVERGENCES_LABEL}: {int(extra.pop('num_divergences'))}")
    max_depth = extra.pop("max_tree_depth", None)
    if "num_max_tree_depth" in extra:
        line = f"{MAX_TREE_DEPTH_LABEL}: {int(extra.pop('num_max_tree_depth'))}"
        if max_depth is not None:
            line += f" (max_tree_depth = {int(max_depth)})"
        lines.append(line)
    lines.extend(f"{key}: {value}" for key, value in extra.items())
    lines.extend(str(hint) for hint in hints)
    return lines


def format_summary(
    samples, prob: float = 0.9, group_by_chain: bool = True, extra=None, hints=None
) -> str:
    """Text of the summary table printed by :func:`print_summary`.

    One row per scalar element (``theta[0,1]`` labels), columns ``mean std
    median <lower> <upper> n_eff r_hat`` formatted with two decimals, then a
    legend line, then the sampler information in ``extra``.

    Args:
        samples, prob, group_by_chain: as in :func:`summary`.
        extra: optional dict with ``num_divergences``, ``num_max_tree_depth``,
            ``max_tree_depth`` and ``hints`` (list of str); other keys are
            printed as ``key: value``.
        hints: optional list of strings printed at the end.

    Returns:
        The table as one string (no trailing newline).
    """
    prob = check_prob(prob, "format_summary")
    table = _format_table(summary(samples, prob=prob, group_by_chain=group_by_chain), prob)
    lines = ["", *table, "", LEGEND]
    extra_lines = _format_extra(extra, hints)
    if extra_lines:
        lines += ["", *extra_lines]
    return "\n".join(lines)


def print_summary(
    samples, prob: float = 0.9, group_by_chain: bool = True, extra=None, hints=None
) -> None:
    """Print :func:`format_summary` of ``samples`` (see there for the arguments)."""
    print(
        format_summary(samples, prob=prob, group_by_chain=group_by_chain, extra=extra, hints=hints)
    )
