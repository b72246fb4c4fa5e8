"""Helpers shared by the example scripts: command line, figures, posterior summaries.

The scripts in this folder import this module as ``_common`` (Python puts a
script's own folder first on ``sys.path``); tests add the folder themselves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PLOT_EXTRA_HINT = 'pip install "hierax[plot]"'


def example_parser(doc: str, *, warmup: int = 1000, samples: int = 1000, chains: int = 4,
                   mcmc: bool = True) -> argparse.ArgumentParser:
    """The common command line: ``--quick --out DIR --seed N`` (and MCMC sizes).

    Args:
        doc: the example's module docstring; its first line is the description.
        warmup, samples, chains: defaults of the full (not ``--quick``) run.
        mcmc: add ``--chains --warmup --samples --no-progress`` (MCMC examples).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small run without progress bar (for tests and CI)")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="folder for the PNG figures (default: out/)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    if mcmc:
        parser.add_argument("--chains", type=int, default=chains)
        parser.add_argument("--warmup", type=int, default=warmup)
        parser.add_argument("--samples", type=int, default=samples)
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def apply_quick(args: argparse.Namespace, *, warmup: int, samples: int,
                chains: int | None = None) -> argparse.Namespace:
    """With ``--quick``: the small run sizes given here, and no progress bar."""
    if args.quick:
        args.warmup, args.samples = warmup, samples
        if chains is not None:
            args.chains = chains
        args.no_progress = True
    return args


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures go to files)."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            f"The examples write figures with matplotlib: {PLOT_EXTRA_HINT}"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def require(module_name: str):
    """Import an optional plotting package, or say which extra provides it."""
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(
            f"This example needs the package {module_name!r}: {PLOT_EXTRA_HINT}"
        ) from err


def save_figure(fig, out_dir: Path, name: str) -> Path:
    """Write ``fig`` to ``out_dir/name`` (folder created), close it, return the path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    print(f"wrote {path}")
    return path


def central_interval(draws, prob: float = 0.9) -> tuple[float, float]:
    """Equal-tailed ``prob`` credible interval of scalar draws (any shape, flattened)."""
    tail = 0.5 * (1.0 - prob)
    low, high = np.quantile(np.asarray(draws, dtype=float).ravel(), [tail, 1.0 - tail])
    return float(low), float(high)


def posterior_table(samples, truths: dict, prob: float = 0.9) -> dict:
    """Per parameter: posterior mean, central ``prob`` interval, truth, truth inside.

    Args:
        samples: dict name -> draws of a scalar site (any leading draw shape).
        truths: dict name -> true value; sets which parameters are reported.

    Returns:
        dict name -> ``{"mean", "interval": (low, high), "truth", "covered"}``.
    """
    table = {}
    for name, truth in truths.items():
        low, high = central_interval(samples[name], prob)
        table[name] = {
            "mean": float(np.mean(np.asarray(samples[name]))),
            "interval": (low, high),
            "truth": float(truth),
            "covered": bool(low <= truth <= high),
        }
    return table


def print_table(title: str, table: dict, prob: float = 0.9) -> None:
    """Print a :func:`posterior_table` as aligned columns."""
    percent = round(100 * prob)
    print(f"\n{title}")
    print(f"{'param':>10} {'truth':>8} {'mean':>8} {f'{percent}% interval':>20}  inside")
    for name, row in table.items():
        low, high = row["interval"]
        print(f"{name:>10} {row['truth']:8.3f} {row['mean']:8.3f} "
              f"   [{low:7.3f}, {high:7.3f}]  {'yes' if row['covered'] else 'NO'}")
