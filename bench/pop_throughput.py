"""Throughput of the population likelihood, hierax vs gwkokab, on one synthetic catalog.

The catalog: 100 events x 4,000 posterior samples of (mass_1_source,
mass_2_source), m2 <= m1, with a reference prior ln pi = -ln m1 - ln m2, and a
fixed set of found injections for the selection term; all drawn with NumPy
from a fixed seed. The population: 1 power law + 1 Gaussian (hierax
``PopulationModel(n_pl=1, n_g=1)``; gwkokab ``NPowerlawMGaussian(N_pl=1, N_g=1)``)
at a fixed hyperparameter point whose Gaussian has ``m2_high <= m1_low``, so
that the two libraries' Gaussian components are the same density (hierax
normalises its Gaussian on m2 <= m1, gwkokab takes independent truncated
normals; on this point the region m2 <= m1 holds all their mass) and the two
ln L must agree.

Measured, per side, in a fresh interpreter: the first call of the jitted
ln L and of its value-and-gradient (tracing + compilation + one run), then
the median time per call over ``repeats`` x ``number`` calls. Throughput is
given in posterior-sample evaluations per second (400,000 x calls per
second). The sides alternate, ``rounds`` times, and the hierax/gwkokab
ratio is that of the medians over rounds.

    python bench/pop_throughput.py --setup-peer /tmp/gwkenv       # venv + gwkokab
    python bench/pop_throughput.py --peer-python /tmp/gwkenv/bin/python \\
        --rounds 3 --write bench/results/pop_throughput

``--side hierax`` (internal) measures hierax alone and prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

GWKOKAB_VERSION = "0.3.1"
NUM_EVENTS = 100
SAMPLES_PER_EVENT = 4_000
# A power of two: on XLA:CPU, elementwise programs over arrays of odd length ran up to
# 20x slower per element than over even lengths (JAX 0.10.2), for both libraries alike.
NUM_FOUND_INJECTIONS = 16_384
SEED = 20261121
OBSERVING_TIME = 1.0
HYPER = {
    "log_rate_0": float(np.log(20.0)),
    "alpha_pl_0": 2.5,
    "beta_pl_0": 1.0,
    "mmin_pl_0": 5.0,
    "mmax_pl_0": 80.0,
    "log_rate_1": float(np.log(4.0)),
    "m1_loc_g_0": 35.0,
    "m1_scale_g_0": 4.0,
    "m1_low_g_0": 20.0,
    "m1_high_g_0": 60.0,
    "m2_loc_g_0": 15.0,
    "m2_scale_g_0": 4.0,
    "m2_low_g_0": 5.0,
    "m2_high_g_0": 20.0,
}
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- catalog


def _draw_power_law(rng, exponent, low, high, size):
    """Inverse-CDF draws of p(x) proportional to x^exponent on [low, high] (exponent != -1)."""
    u = rng.uniform(size=size)
    a = exponent + 1.0
    return (low**a + u * (high**a - low**a)) ** (1.0 / a)


def _draw_truncated_normal(rng, loc, scale, low, high, size):
    out = np.empty(0)
    while out.size < size:
        x = rng.normal(loc, scale, size=4 * size)
        out = np.concatenate([out, x[(x >= low) & (x <= high)]])
    return out[:size]


def _draw_true_masses(rng, num):
    """(num, 2) masses from the mixture, component chosen with probability proportional to R_k."""
    h = HYPER
    rates = np.exp([h["log_rate_0"], h["log_rate_1"]])
    is_pl = rng.uniform(size=num) < rates[0] / rates.sum()
    m1 = _draw_power_law(rng, -h["alpha_pl_0"], h["mmin_pl_0"], h["mmax_pl_0"], num)
    q = _draw_power_law(rng, h["beta_pl_0"], 0.0, 1.0, num)
    m2 = np.maximum(q * m1, h["mmin_pl_0"])
    g1 = _draw_truncated_normal(
        rng, h["m1_loc_g_0"], h["m1_scale_g_0"], h["m1_low_g_0"], h["m1_high_g_0"], num
    )
    g2 = _draw_truncated_normal(
        rng, h["m2_loc_g_0"], h["m2_scale_g_0"], h["m2_low_g_0"], h["m2_high_g_0"], num
    )
    return np.stack([np.where(is_pl, m1, g1), np.where(is_pl, m2, g2)], axis=-1)


def _draw_posteriors(rng, truths):
    """Log-normal scatter around a noisy centre; columns sorted so that m2 <= m1."""
    events, log_priors = [], []
    widths = np.array([0.08, 0.15])
    for truth in truths:
        centre = np.log(truth) + widths * rng.normal(size=2)
        logm = centre + widths * rng.normal(size=(SAMPLES_PER_EVENT, 2))
        masses = np.sort(np.exp(logm), axis=1)[:, ::-1]
        events.append(masses)
        log_priors.append(-np.log(masses).sum(axis=1))
    return events, log_priors


def _draw_found_injections(rng, num_found=NUM_FOUND_INJECTIONS, num_generated=50_000):
    """Found injections: m1 log-uniform on [2, 200], m2 uniform on [2, m1], a chirp-mass p_det.

    Draws are made in order until ``num_found`` are found; ``total_draws`` counts
    every draw made up to the last one kept.
    """
    low, high = 2.0, 200.0
    m1 = np.exp(rng.uniform(np.log(low), np.log(high), size=num_generated))
    m2 = rng.uniform(low, m1)
    log_q = -np.log(m1 * np.log(high / low)) - np.log(m1 - low)
    chirp = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2
    found = rng.uniform(size=num_generated) < np.clip((chirp / 25.0) ** 2.5, 0.0, 1.0)
    kept = np.flatnonzero(found)[:num_found]
    if kept.size < num_found:
        raise RuntimeError("increase num_generated: too few found injections")
    return np.stack([m1, m2], axis=-1)[kept], log_q[kept], int(kept[-1]) + 1


def make_catalog(path):
    """Write the fixed-seed catalog (``.npz``) and return its path."""
    rng = np.random.default_rng(SEED)
    events, log_priors = _draw_posteriors(rng, _draw_true_masses(rng, NUM_EVENTS))
    draw_theta, draw_log_density, total_draws = _draw_found_injections(rng)
    np.savez(
        path,
        theta=np.concatenate(events),
        log_prior=np.concatenate(log_priors),
        counts=np.array([len(e) for e in events]),
        draw_theta=draw_theta,
        draw_log_density=draw_log_density,
        total_draws=total_draws,
        time=OBSERVING_TIME,
        hyper_names=np.array(list(HYPER)),
        hyper_values=np.array(list(HYPER.values())),
    )
    return path


def reference_log_likelihood(path, selection_on=True):
    """ln L in float64 NumPy/SciPy, written out from the formulas (the check of both sides).

    ln L = -mu + N ln T + sum_n [logsumexp_i (ln rho(theta_ni) - ln pi_ni) - ln M_n],
    rho = R_0 p_pl + R_1 p_g, mu = T / N_draw sum_j rho(theta_j) / q_j.
    """
    from scipy.special import logsumexp, ndtr

    with np.load(path) as npz:
        c = {key: npz[key] for key in npz.files}
    h = HYPER

    def log_rho(theta):
        m1, m2 = theta[:, 0], theta[:, 1]
        a, b, lo, hi = h["alpha_pl_0"], h["beta_pl_0"], h["mmin_pl_0"], h["mmax_pl_0"]
        log_z_m1 = np.log((hi ** (1 - a) - lo ** (1 - a)) / (1 - a))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_z_q = np.log((1 - (lo / m1) ** (b + 1)) / (b + 1))
            log_pl = -a * np.log(m1) - log_z_m1 + b * np.log(m2 / m1) - log_z_q - np.log(m1)
        log_pl = np.where((m2 >= lo) & (m1 <= hi) & (m2 <= m1), log_pl, -np.inf)
        fields = ("loc", "scale", "low", "high")
        log_g = sum(_log_truncnorm(x, *(h[f"m{i}_{k}_g_0"] for k in fields), ndtr=ndtr)
                    for i, x in ((1, m1), (2, m2)))
        return np.logaddexp(h["log_rate_0"] + log_pl, h["log_rate_1"] + log_g)

    edges = np.concatenate([[0], np.cumsum(c["counts"])])
    terms = log_rho(c["theta"]) - c["log_prior"]
    bounds = zip(edges[:-1], edges[1:], strict=True)
    events = sum(logsumexp(terms[a:b]) - np.log(b - a) for a, b in bounds)
    time_, n = float(c["time"]), len(c["counts"])
    mu = time_ / float(c["total_draws"]) * np.exp(
        logsumexp(log_rho(c["draw_theta"]) - c["draw_log_density"]))
    return events + n * np.log(time_) - (mu if selection_on else 0.0), mu


def _log_truncnorm(x, loc, scale, low, high, ndtr):
    z = (x - loc) / scale
    log_norm = np.log(ndtr((high - loc) / scale) - ndtr((low - loc) / scale))
    value = -0.5 * z * z - np.log(scale) - 0.5 * np.log(2 * np.pi) - log_norm
    return np.where((x >= low) & (x <= high), value, -np.inf)


# ------------------------------------------------------------------------ hierax side


def build_hierax(path, dtype, selection_on):
    """``(log_likelihood(hyper) -> scalar, DiscreteLikelihood, hyper)`` of hierax.pop.

    The samples and draws live in the ``DiscreteLikelihood`` (hierax's design), so
    they are constants of the compiled program; on gwkokab's side they are arguments.
    """
    from gwkokab_side import read_catalog  # bench/gwkokab_side.py: one reader for both sides

    from hierax.pop.data import EventSamples
    from hierax.pop.likelihood import DiscreteLikelihood
    from hierax.pop.models import PopulationModel
    from hierax.pop.selection.base import SelectionEstimator

    catalog, events, priors, hyper = read_catalog(path, dtype)
    model = PopulationModel(n_pl=1, n_g=1)
    samples = EventSamples.from_list(events, priors, parameter_names=model.parameter_names)
    # Selection off: a single draw (negligible work) whose mu is added back below.
    num_draws = len(catalog["draw_theta"]) if selection_on else 1
    selection = SelectionEstimator(
        theta=catalog["draw_theta"][:num_draws],
        log_weight=np.zeros(num_draws),
        log_draw_density=catalog["draw_log_density"][:num_draws],
        total_draws=int(catalog["total_draws"]),
        time=float(catalog["time"]),
        parameter_names=model.parameter_names,
    )
    likelihood = DiscreteLikelihood(
        samples, model, selection, time=float(catalog["time"])
    )

    def log_likelihood(hyper):
        terms = likelihood(hyper)
        if selection_on:
            return terms.log_likelihood
        return terms.log_likelihood + terms.mu

    return log_likelihood, likelihood, hyper


def measure_hierax(args):
    import jax
    from gwkokab_side import time_calls  # same timing loop on both sides

    log_likelihood, likelihood, hyper = build_hierax(
        args.catalog, args.dtype, args.selection == "on"
    )
    hyper = jax.device_put(hyper)
    value_fn = jax.jit(log_likelihood)
    grad_fn = jax.jit(jax.value_and_grad(log_likelihood))
    start = time.perf_counter()
    value = jax.block_until_ready(value_fn(hyper))
    value_first = time.perf_counter() - start
    start = time.perf_counter()
    value_again, grad = jax.block_until_ready(grad_fn(hyper))
    grad_first = time.perf_counter() - start
    value_s, value_all = time_calls(value_fn, (hyper,), args.repeats, args.number)
    grad_s, grad_all = time_calls(grad_fn, (hyper,), args.repeats, args.number)
    terms = jax.jit(likelihood)(hyper)
    return {
        "side": "hierax",
        "dtype": str(np.asarray(value).dtype),
        "selection": args.selection,
        "log_likelihood": float(value),
        "log_likelihood_from_grad_fn": float(value_again),
        "mu": float(terms.mu),
        "grad": {name: float(g) for name, g in grad.items()},
        "first_call_value_s": value_first,
        "first_call_grad_s": grad_first,
        "value_s": value_s,
        "grad_s": grad_s,
        "value_s_all": value_all,
        "grad_s_all": grad_all,
        "versions": _hierax_versions(),
    }


def _hierax_versions():
    from importlib.metadata import version

    commit = subprocess.run(
        ["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "hierax": f"{version('hierax')} (git {commit}, working tree)",
        **{pkg: version(pkg) for pkg in ("jax", "jaxlib", "numpy")},
    }


# ----------------------------------------------------------------------- orchestration


def setup_peer(directory):
    """A virtual environment with gwkokab from PyPI (it brings its own JAX)."""
    subprocess.run([sys.executable, "-m", "venv", directory], check=True)
    pip = os.path.join(directory, "bin", "pip")
    subprocess.run([pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([pip, "install", f"gwkokab=={GWKOKAB_VERSION}"], check=True)
    python = os.path.join(directory, "bin", "python")
    subprocess.run([python, "-c", "import gwkokab.models, gwkokab.inference"], check=True)
    print(f"peer ready: --peer-python {python}")


def run_side(side, peer_python, catalog, dtype, selection, repeats, number):
    common = ["--catalog", catalog, "--dtype", dtype, "--selection", selection,
              "--repeats", str(repeats), "--number", str(number)]
    if side == "hierax":
        command = [sys.executable, os.path.abspath(__file__), "--side", "hierax", *common]
    else:
        command = [peer_python, os.path.join(HERE, "gwkokab_side.py"), *common]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args, dtype, selection):
    """Alternate the sides ``rounds`` times; medians, ratios and the ln L check."""
    sides = ["hierax"] + (["gwkokab"] if args.peer_python else [])
    runs = {side: [] for side in sides}
    for r in range(args.rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        for side in order:
            runs[side].append(run_side(side, args.peer_python, args.catalog, dtype, selection,
                                       args.repeats, args.number))
            print(f"  {dtype} selection={selection} round {r} {side}: "
                  f"value {runs[side][-1]['value_s'] * 1e3:.2f} ms, "
                  f"grad {runs[side][-1]['grad_s'] * 1e3:.2f} ms", file=sys.stderr)
    reference, mu = reference_log_likelihood(args.catalog, selection == "on")
    return summarise(runs, dtype, selection, reference, mu)


def summarise(runs, dtype, selection, reference, mu):
    samples = NUM_EVENTS * SAMPLES_PER_EVENT
    row = {"dtype": dtype, "selection": selection, "sides": {},
           "reference_log_likelihood": reference, "reference_mu": mu}
    for side, results in runs.items():
        med = {key: statistics.median(r[key] for r in results)
               for key in ("value_s", "grad_s", "first_call_value_s", "first_call_grad_s")}
        row["sides"][side] = {
            **med,
            "value_samples_per_s": samples / med["value_s"],
            "grad_samples_per_s": samples / med["grad_s"],
            "log_likelihood": results[0]["log_likelihood"],
            "log_likelihood_minus_reference": results[0]["log_likelihood"] - reference,
            "grad": results[0]["grad"],
            "versions": results[0]["versions"],
            "rounds": results,
        }
    if "gwkokab" in runs:
        h, g = row["sides"]["hierax"], row["sides"]["gwkokab"]
        row["ratio_value"] = g["value_s"] / h["value_s"]
        row["ratio_grad"] = g["grad_s"] / h["grad_s"]
        row["log_likelihood_difference"] = h["log_likelihood"] - g["log_likelihood"]
        row["max_grad_relative_difference"] = max(
            abs(h["grad"][k] - g["grad"][k]) / max(abs(g["grad"][k]), 1e-300)
            for k in g["grad"]
        )
    return row


def machine():
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines()
        if line.startswith("Model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": model, "load_average_start": os.getloadavg(),
            "python": platform.python_version()}


def _header(report):
    m, c = report["machine"], report["catalog"]
    sides = report["rows"][0]["sides"]
    versions = "; ".join(
        f"{side}: " + ", ".join(f"{k} {v}" for k, v in s["versions"].items())
        for side, s in sides.items()
    )
    draws = c.get("found_injections", NUM_FOUND_INJECTIONS)
    return [
        f"Measured {report['date']}: {m['nproc']} cores (`nproc`), {m['cpu']}, CPU only, "
        f"Python {m['python']}, load average {m['load_average_start'][0]:.1f} at the start. "
        f"Versions: {versions}.",
        "",
        f"Catalog: {c['events']} events x {c['samples_per_event']:,} samples of "
        f"(mass_1_source, mass_2_source), seed {c['seed']}; 1 power law + 1 Gaussian. "
        f"Selection `on`: mu from {draws:,} fixed found injections with the same "
        "estimator on both sides (gwkokab's formula, evaluated on all draws at once); "
        "`off`: events term only. Throughput = 400,000 posterior samples x calls per "
        "second (median over rounds of the median time per call). First call = "
        "tracing + compilation + one run, in a fresh interpreter.",
        "",
        "```bash",
        f"python bench/pop_throughput.py --setup-peer /tmp/gwkenv   # gwkokab=={GWKOKAB_VERSION}",
        report["command"],
        "```",
        "",
    ]


def _fastest(side, key):
    """The fastest repeat over all rounds of one side."""
    return min(min(r[key]) for r in side["rounds"])


def markdown(report):
    lines = _header(report) + [
        "| dtype | selection | side | ln L value: samples/s | value+grad: samples/s "
        "| first call value (s) | first call value+grad (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        for side, s in row["sides"].items():
            lines.append(
                f"| {row['dtype']} | {row['selection']} | {side} "
                f"| {s['value_samples_per_s']:.3g} | {s['grad_samples_per_s']:.3g} "
                f"| {s['first_call_value_s']:.2f} | {s['first_call_grad_s']:.2f} |"
            )
    lines += ["", "Speed ratio hierax / gwkokab (> 1: hierax faster); in brackets the ratio of "
              "the fastest repeats (less sensitive to other load on the machine). ln L of "
              "each side minus a float64 NumPy/SciPy evaluation of the same formula.", "",
              "| dtype | selection | value | value+grad "
              "| ln L reference | hierax - ref. | gwkokab - ref. | max rel. grad diff |",
              "|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        if "ratio_value" in row:
            sides = row["sides"]
            fastest = {
                key: _fastest(sides["gwkokab"], key) / _fastest(sides["hierax"], key)
                for key in ("value_s_all", "grad_s_all")
            }
            lines.append(
                f"| {row['dtype']} | {row['selection']} | **{row['ratio_value']:.2f}** "
                f"({fastest['value_s_all']:.2f}) | **{row['ratio_grad']:.2f}** "
                f"({fastest['grad_s_all']:.2f}) | {row['reference_log_likelihood']:.6f} "
                f"| {sides['hierax']['log_likelihood_minus_reference']:.2g} "
                f"| {sides['gwkokab']['log_likelihood_minus_reference']:.2g} "
                f"| {row['max_grad_relative_difference']:.2g} |"
            )
    return "\n".join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup-peer", metavar="DIR", help="make a venv with gwkokab and exit")
    parser.add_argument("--peer-python", help="interpreter of the gwkokab environment")
    parser.add_argument("--side", choices=("hierax",), help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help="catalog .npz (made if missing)")
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--selection", default="on", choices=("on", "off"))
    parser.add_argument("--selections", default="on,off")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=10)
    parser.add_argument("--write", metavar="STEM", help="write STEM.json and STEM.md")
    parser.add_argument("--render", metavar="JSON", help="print the table of a written report")
    return parser.parse_args()


def main():
    args = parse_args()
    if args.setup_peer:
        setup_peer(args.setup_peer)
        return
    if args.render:
        with open(args.render) as f:
            print(markdown(json.load(f)))
        return
    if args.side == "hierax":
        import jax

        scope = jax.enable_x64(True) if args.dtype == "float64" else contextlib.nullcontext()
        with scope:
            print(json.dumps(measure_hierax(args)))
        return
    if not args.catalog:
        args.catalog = os.path.join(tempfile.mkdtemp(), "pop_catalog.npz")
    if not os.path.exists(args.catalog):
        make_catalog(args.catalog)
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "command": "python " + " ".join(sys.argv),
        "catalog": {"events": NUM_EVENTS, "samples_per_event": SAMPLES_PER_EVENT,
                    "seed": SEED, "found_injections": NUM_FOUND_INJECTIONS,
                    "hyperparameters": HYPER},
        "rows": [compare(args, dtype, selection)
                 for dtype in args.dtypes.split(",")
                 for selection in args.selections.split(",")],
    }
    table = markdown(report)
    print(table)
    if args.write:
        with open(args.write + ".json", "w") as f:
            json.dump(report, f, indent=1)
        with open(args.write + ".md", "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
