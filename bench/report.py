"""Derived figures, the agreement check, the targets, and the markdown report."""

from __future__ import annotations

import math
import statistics

import numpy as np

AGREEMENT_MCSE = 4.0
_NUMERIC = ("first_run_s", "second_run_s", "compile_s", "sampling_s", "sampling_compile_s",
            "min_ess_first", "min_ess", "gradient_evaluations", "warmup_s",
            "warmup_gradient_evaluations",
            "divergences", "peak_rss_mb", "floor_s")


def summarize(records: list) -> dict:
    """Medians over the repeats of one model and sampler, plus the derived figures."""
    summary = {key: statistics.median(math.nan if r.get(key) is None else r[key]
                                      for r in records)
               for key in _NUMERIC}
    summary["repeats"] = len(records)
    summary["ess_per_s_first"] = summary["min_ess_first"] / summary["first_run_s"]
    summary["ess_per_s_second"] = summary["min_ess"] / summary["second_run_s"]
    summary["ess_per_gradient"] = summary["min_ess"] / max(summary["gradient_evaluations"], 1)
    sampling = max(summary["sampling_s"] - summary["sampling_compile_s"], 1e-9)
    summary["floor_ratio"] = summary["floor_s"] / sampling
    summary["moments"] = records[0]["moments"]
    return summary


def agreement(hierax: dict, numpyro: dict) -> dict:
    """Largest ``|mean_h - mean_n| / sqrt(mcse_h^2 + mcse_n^2)`` over all elements."""
    worst, count, over = 0.0, 0, 0
    for site, moments in hierax["moments"].items():
        a, b = np.asarray(moments["mean"]), np.asarray(numpyro["moments"][site]["mean"])
        se = np.hypot(moments["mcse"], numpyro["moments"][site]["mcse"])
        z = np.abs(a - b) / np.maximum(se, 1e-30)
        worst = max(worst, float(np.max(z)))
        count += z.size
        over += int(np.sum(z > AGREEMENT_MCSE))
    return {"max_z": worst, "num_compared": count, "num_over": over,
            "agree": over == 0}


def _target(name, ratio, threshold, direction=">="):
    met = ratio >= threshold if direction == ">=" else ratio <= threshold
    return {"target": name, "ratio": ratio, "threshold": threshold, "direction": direction,
            "met": bool(met)}


def targets(target_class: str, by_sampler: dict) -> list:
    """The issue's targets for one model, from the per-sampler summaries."""
    h, n, b = by_sampler.get("hierax"), by_sampler.get("numpyro"), by_sampler.get("blackjax")
    if h is None:
        return []
    out = []
    if n is not None:
        speedup = 5.0 if target_class == "small" else 1.5
        out.append(_target("ESS/s (first-run wall) vs NumPyro",
                           h["ess_per_s_first"] / n["ess_per_s_first"], speedup))
        out.append(_target("ESS/s (second-run wall) vs NumPyro",
                           h["ess_per_s_second"] / n["ess_per_s_second"], speedup))
        if target_class == "small":
            out.append(_target("first-run wall vs NumPyro",
                               h["first_run_s"] / n["first_run_s"], 1.0, "<="))
        out.append(_target("compile time vs NumPyro", h["compile_s"] / n["compile_s"], 1.0,
                           "<="))
    if target_class == "large":
        if b is not None:
            out.append(_target("ESS/s (second-run wall) vs BlackJAX",
                               h["ess_per_s_second"] / b["ess_per_s_second"], 1.0))
        out.append(_target("floor ratio", h["floor_ratio"], 0.7))
    return out


_COLUMNS = (("first run (s)", "first_run_s", "{:.2f}"), ("second run (s)", "second_run_s",
            "{:.2f}"), ("compile (s)", "compile_s", "{:.2f}"), ("min ESS", "min_ess", "{:.0f}"),
            ("ESS/s 1st", "ess_per_s_first", "{:.0f}"), ("ESS/s 2nd", "ess_per_s_second",
            "{:.0f}"), ("ESS/grad", "ess_per_gradient", "{:.4f}"),
            ("grads", "gradient_evaluations", "{:.0f}"), ("warmup (s)", "warmup_s", "{:.2f}"),
            ("warmup grads", "warmup_gradient_evaluations", "{:.0f}"),
            ("div", "divergences", "{:.0f}"),
            ("peak MB", "peak_rss_mb", "{:.0f}"), ("floor ratio", "floor_ratio", "{:.3f}"))


def _format(value, fmt):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return fmt.format(value)


def model_markdown(entry: dict) -> list:
    s = entry["settings"]
    lines = [f"### {entry['title']}", "",
             f"{s['num_chains']} chains x ({s['num_warmup']} warmup + {s['num_samples']} draws), "
             f"target acceptance {s['target_accept']}, "
             f"{'dense' if s['dense_mass'] else 'diagonal'} mass, max tree depth "
             f"{s['max_tree_depth']}, float32, chains vectorized.", "",
             "| sampler | " + " | ".join(c[0] for c in _COLUMNS) + " |",
             "|---" * (len(_COLUMNS) + 1) + "|"]
    for sampler, summary in entry["samplers"].items():
        cells = [_format(summary[key], fmt) for _, key, fmt in _COLUMNS]
        lines.append(f"| {sampler} | " + " | ".join(cells) + " |")
    lines.append("")
    if entry.get("agreement"):
        a = entry["agreement"]
        verdict = "agree" if a["agree"] else "DISAGREE"
        lines.append(f"Posterior means hierax vs NumPyro: {verdict} within "
                     f"{AGREEMENT_MCSE:g} MCSE ({a['num_compared']} elements, largest "
                     f"{a['max_z']:.2f} MCSE, {a['num_over']} over).")
        lines.append("")
    for t in entry["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        lines.append(f"- {t['target']}: {t['ratio']:.2f} (target {t['direction']} "
                     f"{t['threshold']:g}): **{verdict}**")
    lines.append("")
    return lines


def markdown(results: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines = ["## Suite results", "", f"Command: `{results['command']}`", "",
             f"Date {results['date']}; {results['machine']}; {versions}; suite wall time "
             f"{results.get('wall_s', 0.0) / 60:.1f} min.", ""]
    for entry in results["models"].values():
        lines += model_markdown(entry)
    return "\n".join(lines)
