"""Check hierax's NUTS against posteriordb reference posteriors.

Usage::

    python bench/posteriordb_check.py [--posterior NAME ...] [--chains 4]
        [--warmup 1000] [--samples 2000] [--seed 0] [--root PATH]

For each posterior (all of them by default) the script samples the hierax model
in ``tests/infer/posteriordb_models.py`` and prints, per parameter (Stan
names), the reference mean, the hierax mean, ``z = |diff| / ref sd``, the ratio
of standard deviations, the bulk ESS, R-hat, and whether Stan's pass rule
(``z < 0.1`` and ``|sd ratio - 1| < 0.1``) holds. The reference is the full set
of reference draws under ``--root`` (default ``../shared/posteriordb``), or the
stored moments in ``tests/data/posteriordb`` when that folder is absent.
Models flagged ``x64`` run in float64. Exit status 1 if any parameter fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "infer"))

import posteriordb_models as pdb  # noqa: E402

HEADER = (f"{'parameter':<14}{'ref mean':>12}{'mean':>12}{'z':>8}{'sd ratio':>10}"
          f"{'ESS':>9}{'R-hat':>8}  result")


def _reference(name: str, root: Path) -> tuple[dict, str]:
    if (root / "reference_draws" / f"{name}.json.zip").exists():
        return pdb.reference_moments(root, [name])[name], f"full draws in {root}"
    stored = pdb.load_reference_moments()
    if name not in stored:
        raise SystemExit(f"posteriordb_check: no reference for {name!r} (no {root}).")
    return stored[name], "stored moments"


def _data_root(posterior, root: Path) -> Path:
    if (root / "data" / f"{posterior.data_name}.json.zip").exists():
        return root
    return pdb.LOCAL_DATA_DIR


def _format_row(row: pdb.Comparison) -> str:
    verdict = "pass" if row.passed else "FAIL"
    return (f"{row.name:<14}{row.ref_mean:>12.4g}{row.mean:>12.4g}{row.z:>8.3f}"
            f"{row.sd_ratio:>10.3f}{row.ess:>9.0f}{row.r_hat:>8.3f}  {verdict}")


def check(name: str, args) -> bool:
    """Sample one posterior, print its table, return whether every parameter passed."""
    posterior = pdb.POSTERIORS[name]
    reference, source = _reference(name, args.root)
    start = time.perf_counter()
    with jax.enable_x64(posterior.x64):
        draws, divergent = pdb.run_nuts(
            posterior, seed=args.seed, num_chains=args.chains, num_warmup=args.warmup,
            num_samples=args.samples, root=_data_root(posterior, args.root))
    seconds = time.perf_counter() - start
    rows = pdb.compare(draws, reference)
    dtype = "float64" if posterior.x64 else "float32"
    print(f"\n== {name}  ({dtype}, {seconds:.1f} s, {divergent} divergent; reference: {source})")
    print(HEADER)
    for row in rows:
        print(_format_row(row))
    worst_sd = max(rows, key=lambda r: abs(r.sd_ratio - 1.0))
    print(f"max z = {max(r.z for r in rows):.3f}; worst sd ratio = {worst_sd.sd_ratio:.3f} "
          f"({worst_sd.name}); min ESS = {min(r.ess for r in rows):.0f}; "
          f"max R-hat = {max(r.r_hat for r in rows):.3f}")
    return all(row.passed for row in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posterior", nargs="*", default=None, choices=sorted(pdb.POSTERIORS),
                        help="posteriors to check (default: all)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=pdb.SHARED_DIR,
                        help="posteriordb folder with data/ and reference_draws/")
    args = parser.parse_args(argv)
    names = args.posterior or sorted(pdb.POSTERIORS)
    failed = [name for name in names if not check(name, args)]
    print(f"\n{len(names) - len(failed)}/{len(names)} posteriors pass"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
