"""hierax's chain methods side by side on one machine: which runs several chains fastest.

For each bench model, ``MCMC(NUTS(model), num_chains=4, chain_method=m)`` for ``m`` in
``sequential``, ``parallel`` and ``vectorized``: a first ``run`` (tracing and compilation
included) and a second ``run`` with a new key on the same object. The methods alternate
within each repeat, so machine noise hits them alike; the report gives medians and each
method's time relative to ``sequential``.

    python -m bench.chain_methods [--models M ...] [--repeats 3] [--quick]

On one CPU device ``parallel`` runs the chains in host threads (see
:mod:`hierax.infer.mcmc`); the draws of the three methods are the same up to rounding
(``sequential`` and ``parallel`` exactly).
"""

from __future__ import annotations

import argparse
import statistics
import time

METHODS = ("sequential", "parallel", "vectorized")
DEFAULT_MODELS = ("eight_schools", "outliers", "gaussian_100d")


def _time_runs(problem, method):
    """``(first run, second run, chain_method_used)`` in seconds."""
    import jax

    import hierax.infer as infer

    settings = problem.settings
    mcmc = infer.MCMC(infer.NUTS(problem.model, dense_mass=settings.dense_mass,
                                 max_tree_depth=settings.max_tree_depth),
                      num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                      num_chains=4, chain_method=method, progress_bar=False)
    times = []
    for seed in (0, 1):
        start = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(seed), *problem.args, **problem.kwargs)
        jax.block_until_ready(mcmc.get_samples())
        times.append(time.perf_counter() - start)
    return times[0], times[1], mcmc.chain_method_used


def measure(models, repeats: int, quick: bool) -> list[dict]:
    import hierax
    import hierax.distributions as dist
    import hierax.infer as infer
    from bench.models.registry import load

    rows = []
    for name in models:
        problem = load(name).build(hierax, dist, infer, quick)
        runs = {method: [] for method in METHODS}
        for repeat in range(repeats):
            order = METHODS[repeat % 3:] + METHODS[: repeat % 3]
            for method in order:
                runs[method].append(_time_runs(problem, method))
        for method in METHODS:
            first = statistics.median(r[0] for r in runs[method])
            second = statistics.median(r[1] for r in runs[method])
            rows.append({"model": name, "method": method, "used": runs[method][0][2],
                         "first": first, "second": second})
    return rows


def markdown(rows) -> str:
    lines = ["| model | chain_method (ran as) | first run (s) | second run (s) | "
             "second run / sequential |", "|---|---|---|---|---|"]
    baseline = {r["model"]: r["second"] for r in rows if r["method"] == "sequential"}
    for r in rows:
        lines.append(f"| {r['model']} | {r['method']} ({r['used']}) | {r['first']:.2f} | "
                     f"{r['second']:.2f} | {r['second'] / baseline[r['model']]:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the models' small sizes")
    args = parser.parse_args(argv)
    print(markdown(measure(args.models, args.repeats, args.quick)))


if __name__ == "__main__":
    main()
