"""Runs the walkthrough of docs/pop.md once per test session, at a small size.

The commands come from the ``bash`` blocks of the document; the sizes shrink:
about 20 events x 200 samples (a lower rate), 20,000 selection draws and a short
NUTS run (2 chains x (150 + 60)), 2 buckets.
"""

import functools
import json
import os
import re
import shlex
from pathlib import Path

from hierax.cli.main import f_sage_main, n_sage_main, pop_main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pop.md"
SMALL_TRUTHS = {"log_rate_0": 1.9}
SMALL_PMEAN = {"estimator_type": "analytic_pdet", "num_samples": 20000}
SMALL_NUTS = {"kernel": {"max_tree_depth": 6, "target_accept_prob": 0.9},
              "mcmc": {"num_warmup": 150, "num_samples": 60, "num_chains": 2,
                       "chain_method": "vectorized", "progress_bar": False}}
ENTRY_POINTS = {"hierax-pop": pop_main, "n_sage_n_pls_m_gs": n_sage_main,
                "f_sage_n_pls_m_gs": f_sage_main}


def docs_commands() -> list[list[str]]:
    """The commands of the ``bash`` blocks of docs/pop.md, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip():
                commands.append(shlex.split(command))
    return commands


def shrink(argv: list[str], folder: Path) -> list[str]:
    """Small sizes for a docs command (run in ``folder``)."""
    if argv[:2] == ["hierax-pop", "mock"]:
        index = argv.index("--samples-per-event")
        argv = argv[: index + 1] + ["200"] + argv[index + 2 :]
        return argv + ["--model-params", str(folder / "small_truths.json")]
    if "--n-buckets" in argv:  # fewer buckets for ~20 events: a smaller program to compile
        index = argv.index("--n-buckets")
        argv = argv[: index + 1] + ["2"] + argv[index + 2 :]
    return argv


def run(argv: list[str]) -> int:
    try:
        return ENTRY_POINTS[argv[0]](argv[1:])
    except SystemExit as exc:
        return exc.code


def write_small_configs(folder: Path) -> None:
    (folder / "small_truths.json").write_text(json.dumps(SMALL_TRUTHS))
    (folder / "pmean.json").write_text(json.dumps(SMALL_PMEAN))
    (folder / "numpyro_config.json").write_text(json.dumps(SMALL_NUTS))


@functools.lru_cache(maxsize=1)
def docs_pipeline(folder: str) -> tuple[Path, list[tuple[list[str], int]]]:
    """Run every docs command in ``folder``; returns the folder and (argv, exit code) pairs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    os.chdir(folder)
    results = []
    try:
        for argv in docs_commands():
            results.append((argv, run(shrink(argv, folder))))
            if argv[:2] == ["hierax-pop", "config-template"]:
                write_small_configs(folder)
    finally:
        os.chdir(previous)
    return folder, results
