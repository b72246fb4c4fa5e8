"""PowerLawPeak against gwpopulation's SinglePeakSmoothedMassDistribution, in float64.

    python bench/compare_gwpopulation_mass.py --peer-python /tmp/gwpop-venv/bin/python

Run by hierax's interpreter, this draws 1,000 points ``(m1, m2)`` for each of
three hyperparameter sets (half from :class:`PowerLawPeak` itself, half
uniform over ``mmin <= m2 <= m1 <= 100``) and evaluates ``ln p(m1, m2)`` with
its two normalisers. The same file, run by ``--peer-python`` with ``--peer``
(an environment with gwpopulation installed; the only place it is imported),
evaluates gwpopulation's density ``p(m1, q)`` on its default normalisation
grids (``m1`` in [2, 100], 1,000 points; ``q`` in [0.001, 1], 500 points) and
its normalisers ``norm_p_m1`` and ``norm_p_q``. With ``p(m1, m2) = p(m1, q) / m1``
the difference of the log densities splits into

- ``m1 normaliser``: ``ln Z`` (hierax: closed form plus Gauss-Legendre) against
  gwpopulation's trapezoid rule over the ``m1`` grid;
- ``pairing normaliser``: ``ln int_{mmin/m1}^1 q^beta S(q m1) dq`` (hierax:
  ``F(m1) / m1^(1 + beta)``) against gwpopulation's trapezoid rule over the
  ``q`` grid, interpolated linearly in ``m1``;
- ``shape``: the rest, the unnormalised density (rounding if both agree on the model).

Prints one line per set and the overall maximum absolute difference, over all
points and over the points where ``S(m1) S(m2) > 1e-3`` (away from the deep taper).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# (alpha, beta, mmin, mmax, lam, mpp, sigpp, delta_m); the first is close to the
# GWTC-3 Power Law + Peak medians (Abbott et al. 2023, PRX 13, 011048).
SETS = {
    "gwtc3_median": (3.4, 1.1, 5.1, 87.0, 0.039, 34.0, 3.6, 4.8),
    "wide_taper": (2.5, 2.0, 4.0, 60.0, 0.2, 30.0, 5.0, 8.0),
    "narrow_taper": (3.0, 0.5, 8.0, 95.0, 0.05, 35.0, 2.0, 2.0),
}
NAMES = ("alpha", "beta", "mmin", "mmax", "lam", "mpp", "sigpp", "delta_m")
POINTS = 1000
GRID_MAX = 100.0  # gwpopulation's default normalisation grid ends (and truncates the peak) here


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="interpreter of an environment with gwpopulation")
    parser.add_argument("--peer", metavar="NPZ", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


# -- gwpopulation's side (run by --peer-python) --------------------------------------------


def peer_side(path):
    """Add gwpopulation's ``ln p(m1, m2)``, ``ln norm_p_m1`` and ``ln norm_p_q`` to the file."""
    import gwpopulation
    from gwpopulation.models.mass import SinglePeakSmoothedMassDistribution

    with np.load(path) as npz:
        data = {key: npz[key] for key in npz.files}
    results = {}
    for name in SETS:
        m1, m2 = data[f"{name}/m1"], data[f"{name}/m2"]
        params = dict(zip(NAMES, (float(v) for v in data[f"{name}/params"]), strict=True))
        model = SinglePeakSmoothedMassDistribution(mmin=2.0, mmax=GRID_MAX)
        with np.errstate(divide="ignore"):
            log_p = np.log(model({"mass_1": m1, "mass_ratio": m2 / m1}, **params)) - np.log(m1)
        primary = {k: params[k] for k in ("alpha", "mmin", "mmax", "lam", "mpp", "sigpp")}
        norm_m1 = model.norm_p_m1(delta_m=params["delta_m"], **primary, **model.kwargs)
        norm_q = model.norm_p_q(beta=params["beta"], mmin=params["mmin"],
                                delta_m=params["delta_m"])
        results[f"{name}/log_p"] = log_p
        results[f"{name}/log_norm_m1"] = np.log(np.asarray(norm_m1, float))
        results[f"{name}/log_norm_q"] = np.log(np.asarray(norm_q, float))
    results["version"] = np.asarray(gwpopulation.__version__)
    np.savez(path, **data, **results)


# -- hierax's side -----------------------------------------------------------------------------


def taper(m, mmin, delta):
    x = m - mmin
    inside = (x > 0) & (x < delta)
    xs = np.where(inside, x, delta / 2)
    with np.errstate(over="ignore"):
        value = 1.0 / (1.0 + np.exp(delta / xs + delta / (xs - delta)))
    return np.where(inside, value, np.where(x >= delta, 1.0, 0.0))


def hierax_side(seed):
    """Points, parameters and hierax's ``ln p``, ``ln Z`` and ``ln F(m1)`` per set."""
    import jax

    rng = np.random.default_rng(seed)
    data, ours = {}, {}
    with jax.enable_x64(True):
        for index, (name, values) in enumerate(SETS.items()):
            m1, m2, ours[name] = _hierax_set(rng, seed + index, values)
            data[f"{name}/m1"], data[f"{name}/m2"] = m1, m2
            data[f"{name}/params"] = np.asarray(values)
    return data, ours


def _hierax_set(rng, seed, values):
    """``(m1, m2, parts)`` for one hyperparameter set (float64 must be on)."""
    import jax

    from hierax.pop.models.mass_lvk import PowerLawPeak

    dist = PowerLawPeak(*values, peak_high=GRID_MAX)
    mmin = values[2]
    drawn = np.asarray(dist.sample(jax.random.key(seed), (POINTS // 2,)))
    m1 = rng.uniform(mmin, GRID_MAX, POINTS - POINTS // 2)
    m2 = rng.uniform(mmin, m1)
    m1 = np.concatenate([drawn[:, 0], m1])
    m2 = np.concatenate([drawn[:, 1], m2])
    parts = {
        "log_p": np.asarray(dist.log_prob(np.stack([m1, m2], -1))),
        "log_z": float(dist.log_primary_normalizer()),
        "log_f": np.asarray(dist.log_pairing_normalizer(m1)),
    }
    return m1, m2, parts


def compare(data, ours, theirs):
    """Per set: the largest differences of ``ln p`` and of its parts (hierax - gwpopulation)."""
    rows = {}
    for name, values in SETS.items():
        _, beta, mmin, _, _, _, _, delta = values
        m1, m2 = data[f"{name}/m1"], data[f"{name}/m2"]
        mine, other = ours[name], theirs
        total = mine["log_p"] - other[f"{name}/log_p"]
        from_z = float(other[f"{name}/log_norm_m1"]) - mine["log_z"]
        # gwpopulation's q density is a power law normalised on [mmin/m1, 1] times S / norm_q.
        c = 1.0 + beta
        log_pl_norm = np.log((1.0 - (mmin / m1) ** c) / c)
        log_fq_theirs = other[f"{name}/log_norm_q"] + log_pl_norm
        log_fq_ours = mine["log_f"] - c * np.log(m1)
        from_f = log_fq_theirs - log_fq_ours
        shape = total - from_z - from_f
        both = np.isfinite(mine["log_p"]) & np.isfinite(other[f"{name}/log_p"])
        typical = both & (taper(m1, mmin, delta) * taper(m2, mmin, delta) > 1e-3)
        worst = int(np.argmax(np.where(both, np.abs(total), -1.0)))
        rows[name] = {
            "max_abs_diff": float(np.max(np.abs(total[both]))),
            "max_abs_diff_typical": float(np.max(np.abs(total[typical]))),
            "m1_normaliser": from_z,
            "pairing_normaliser_max": float(np.max(np.abs(from_f[both]))),
            "pairing_normaliser_max_typical": float(np.max(np.abs(from_f[typical]))),
            "shape_max": float(np.max(np.abs(shape[both]))),
            "worst_point": [float(m1[worst]), float(m2[worst])],
            "finite_mismatch": int(np.sum(np.isfinite(mine["log_p"])
                                          != np.isfinite(other[f"{name}/log_p"]))),
        }
    return rows


def main():
    args = parse_args()
    if args.peer:
        peer_side(args.peer)
        return
    if not args.peer_python:
        sys.exit("compare_gwpopulation_mass.py: give --peer-python (gwpopulation's interpreter)")
    data, ours = hierax_side(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "points.npz"
        np.savez(path, **data)
        subprocess.run([args.peer_python, __file__, "--peer", str(path)], check=True)
        with np.load(path) as npz:
            theirs = {key: npz[key] for key in npz.files}
    rows = compare(data, ours, theirs)
    for name, row in rows.items():
        print(name, json.dumps(row))
    overall = max(row["max_abs_diff"] for row in rows.values())
    typical = max(row["max_abs_diff_typical"] for row in rows.values())
    print(f"gwpopulation {theirs['version']}: max |ln p_hierax - ln p_gwpopulation| = "
          f"{overall:.3e} over {POINTS * len(SETS)} points ({typical:.3e} where "
          f"S(m1) S(m2) > 1e-3)")


if __name__ == "__main__":
    main()
