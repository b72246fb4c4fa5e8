"""Eight schools (Rubin 1981; Gelman et al., BDA3 §5.5): divergences, and the fix.

The centered model has a funnel between the group scale ``tau`` and the
school effects ``theta``; NUTS reports divergent transitions there. Writing
``theta = mu + tau * theta_0`` (non-centering, by hand or with the
``reparam`` handler) removes the funnel.

Run:  python examples/eight_schools.py [--quick] [--chains 4] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

import hierax as numpyro
import hierax.distributions as dist
from hierax.handlers import reparam
from hierax.infer import MCMC, NUTS
from hierax.infer.reparam import TransformReparam

J = 8
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def centered(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def noncentered(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta_0 = numpyro.sample("theta_0", dist.Normal(0, 1))
        theta = numpyro.deterministic("theta", mu + theta_0 * tau)
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def noncentered_by_handler(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        with reparam(config={"theta": TransformReparam()}):
            theta = numpyro.sample(
                "theta",
                dist.TransformedDistribution(dist.Normal(0.0, 1.0),
                                             dist.transforms.AffineTransform(mu, tau)),
            )
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def fit(model, args):
    mcmc = MCMC(NUTS(model), num_warmup=args.warmup, num_samples=args.samples,
                num_chains=args.chains, chain_method="vectorized",
                progress_bar=not args.no_progress)
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(args.seed), J, SIGMA, y=Y)
    print(f"\n== {model.__name__}: {time.perf_counter() - start:.1f} s "
          f"({mcmc.num_divergences} divergent transitions)")
    mcmc.print_summary(exclude_deterministic=False)
    return mcmc


def plot_funnel(runs, out_dir: Path) -> Path | None:
    """tau against theta[0], divergent transitions in red: the funnel and its fix."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'hierax[plot]'): no plot written.")
        return None
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), sharey=True)
    for ax, (title, mcmc, theta_site) in zip(np.atleast_1d(axes), runs, strict=True):
        samples = mcmc.get_samples()
        diverging = np.asarray(mcmc.get_extra_fields()["diverging"])
        theta0 = np.asarray(samples[theta_site])[:, 0]
        log_tau = np.log(np.asarray(samples["tau"]))
        ax.scatter(theta0[~diverging], log_tau[~diverging], s=3, alpha=0.3, label="draws")
        ax.scatter(theta0[diverging], log_tau[diverging], s=8, color="red", label="divergent")
        ax.set(title=f"{title} ({diverging.sum()} divergent)", xlabel=f"{theta_site}[0]")
    np.atleast_1d(axes)[0].set_ylabel("log tau")
    np.atleast_1d(axes)[0].legend(loc="lower right")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "eight_schools_funnel.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (for CI)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.samples, args.chains = 300, 300, 2
    runs = [("centered", fit(centered, args), "theta"),
            ("non-centered", fit(noncentered, args), "theta_0")]
    fit(noncentered_by_handler, args)
    plot_funnel(runs, args.out)
    return runs


if __name__ == "__main__":
    main()
