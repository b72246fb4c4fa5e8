"""First-run wall time of eight schools (non-centered), hierax vs NumPyro, side by side.

Each measurement runs in a fresh interpreter: import, build the model, and time
``MCMC.run`` (1 chain, 1,000 warmup + 1,000 draws, no progress bar), which
includes tracing and compilation; then a second ``run`` on the same object.
The two samplers alternate so that machine noise hits both alike; the report
gives medians and the hierax/NumPyro ratio.

    python bench/first_run.py [--repeats 5] [--peer-python PATH]

``--peer-python`` is the interpreter that has NumPyro installed (e.g. a
virtual environment made from the ``bench`` extra); without it only hierax
is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROGRAM = """
import json, sys, time
start = time.perf_counter()
import jax
import numpy as np
if sys.argv[1] == "hierax":
    import hierax as numpyro
    import hierax.distributions as dist
    from hierax.infer import MCMC, NUTS
else:
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS
imported = time.perf_counter()

J = 8
y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

def eight_schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta_0 = numpyro.sample("theta_0", dist.Normal(0, 1))
        theta = numpyro.deterministic("theta", mu + theta_0 * tau)
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)

mcmc = MCMC(NUTS(eight_schools), num_warmup=1000, num_samples=1000, progress_bar=False)
t0 = time.perf_counter()
mcmc.run(jax.random.PRNGKey(0), J, sigma, y=y)
mcmc.get_samples()["mu"].block_until_ready()
t1 = time.perf_counter()
mcmc.run(jax.random.PRNGKey(1), J, sigma, y=y)
mcmc.get_samples()["mu"].block_until_ready()
t2 = time.perf_counter()
print(json.dumps({"import": imported - start, "first_run": t1 - t0, "second_run": t2 - t1,
                  "mu": float(mcmc.get_samples()["mu"].mean())}))
"""


def measure(python: str, library: str) -> dict:
    result = subprocess.run([python, "-c", PROGRAM, library], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-python", default=None,
                        help="interpreter with NumPyro installed (optional)")
    args = parser.parse_args(argv)
    runs = {"hierax": [], "numpyro": []}
    for _ in range(args.repeats):
        runs["hierax"].append(measure(sys.executable, "hierax"))
        if args.peer_python:
            runs["numpyro"].append(measure(args.peer_python, "numpyro"))
    print("| sampler | first run (s, median) | second run (s, median) | import (s) |")
    print("|---|---|---|---|")
    medians = {}
    for name, values in runs.items():
        if not values:
            continue
        medians[name] = {key: statistics.median(v[key] for v in values)
                         for key in ("import", "first_run", "second_run")}
        m = medians[name]
        print(f"| {name} | {m['first_run']:.2f} | {m['second_run']:.3f} | {m['import']:.2f} |")
    if "numpyro" in medians:
        ratio = medians["hierax"]["first_run"] / medians["numpyro"]["first_run"]
        print(f"\nfirst-run ratio hierax / NumPyro: {ratio:.2f}")


if __name__ == "__main__":
    main()
