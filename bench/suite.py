"""The benchmark suite: hierax NUTS vs NumPyro NUTS vs BlackJAX NUTS on the bench models.

    python -m bench.suite [--quick] [--models M ...] [--samplers S ...] [--repeats R]
                          [--sizes WARMUP DRAWS CHAINS] [--out DIR]

Every (model, sampler) measurement runs in a fresh interpreter (``bench.measure``), so
first-run and compile times are honest and peak memory is per sampler; the samplers
alternate, and their order rotates between repeats. Writes ``suite.json`` and
``suite.md`` (``suite_quick.*`` with ``--quick``) to ``--out`` and prints the markdown.
A peer whose library is not importable is skipped and said so.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.models.registry import MODEL_NAMES, load
from bench.report import agreement, markdown, summarize, targets
from bench.samplers.common import SAMPLER_NAMES

RESULTS = Path(__file__).resolve().parent / "results"


def available(sampler: str) -> bool:
    return importlib.util.find_spec(sampler) is not None


def run_one(model: str, sampler: str, quick: bool, sizes=None, seed: int = 0) -> dict:
    """``bench.measure`` in a fresh interpreter; its JSON line. Every sampler of a
    repeat gets the same ``seed``; repeats get different ones."""
    command = [sys.executable, "-m", "bench.measure", model, sampler, "--seed", str(seed)] + (
        ["--quick"] if quick else []) + (
        ["--sizes", *map(str, sizes)] if sizes else [])
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if done.returncode != 0:
        raise RuntimeError(f"{model}/{sampler} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "hierax", "numpyro", "blackjax"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def run_model(model: str, samplers: list, quick: bool, repeats: int, log, sizes=None) -> dict:
    module = load(model)
    records = {s: [] for s in samplers}
    for repeat in range(repeats):
        order = samplers[repeat % len(samplers):] + samplers[:repeat % len(samplers)]
        for sampler in order:
            record = run_one(model, sampler, quick, sizes, seed=10 * repeat)
            records[sampler].append(record)
            log(f"{model:>14} {sampler:>9}: first {record['first_run_s']:.2f} s, second "
                f"{record['second_run_s']:.2f} s, min ESS {record['min_ess']:.0f}")
    by_sampler = {s: summarize(r) for s, r in records.items()}
    entry = {"title": module.TITLE, "target_class": module.TARGET_CLASS,
             "settings": records[samplers[0]][0]["settings"], "samplers": by_sampler,
             "targets": targets(module.TARGET_CLASS, by_sampler), "agreement": None,
             "records": records}
    if "hierax" in by_sampler and "numpyro" in by_sampler:
        entry["agreement"] = agreement(by_sampler["hierax"], by_sampler["numpyro"])
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for CI)")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLER_NAMES),
                        choices=SAMPLER_NAMES)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--sizes", type=int, nargs=3, default=None,
                        metavar=("WARMUP", "DRAWS", "CHAINS"),
                        help="override every model's warmup, draws and chains")
    args = parser.parse_args(argv)
    skipped = [s for s in args.samplers if not available(s)]
    samplers = [s for s in args.samplers if s not in skipped]
    for sampler in skipped:
        print(f"skipping {sampler}: not importable (pip install 'hierax[bench]')",
              file=sys.stderr)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = datetime.datetime.now()
    results = {
        "command": "python -m bench.suite " + " ".join(argv if argv is not None
                                                        else sys.argv[1:]),
        "date": started.strftime("%Y-%m-%d %H:%M"),
        "machine": f"nproc={len(os.sched_getaffinity(0))}, {_cpu_model()}, load average "
                   f"{os.getloadavg()[0]:.2f} at start",
        "versions": _versions(), "quick": args.quick, "skipped": skipped, "models": {},
    }
    for model in args.models:  # written after each model, so a long run keeps what it has
        results["models"][model] = run_model(model, samplers, args.quick, args.repeats, log,
                                             args.sizes)
        results["wall_s"] = (datetime.datetime.now() - started).total_seconds()
        text = write(results, args.out, args.quick)
    print(text)
    return results


def write(results: dict, out: Path, quick: bool) -> str:
    """Write ``suite[_quick].json`` and ``.md`` to ``out``; returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    stem = "suite_quick" if quick else "suite"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (out / f"{stem}.md").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
