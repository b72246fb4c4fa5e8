"""The Bayesian workflow on a straight line: simulate, check the prior, fit, check the fit.

Steps (Gelman et al. 2020, "Bayesian Workflow", arXiv:2011.01808):

1. fake data from the model itself, with ``Predictive`` and fixed parameters
   ``a = 1.5, b = -0.5, sigma = 0.3`` at 80 points ``x ~ U(-2, 2)``;
2. prior predictive check: data simulated from the priors;
3. NUTS fit (Hoffman & Gelman 2014), four chains run vectorized;
4. posterior predictive check: a 95% band of replicated data;
5. ArviZ posterior plot (with the true values) and forest plot (with ESS),
   from ``hierax.infer.arviz.to_inference_data``.

Run:  python examples/bayesian_workflow.py [--quick] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import (
    apply_quick,
    example_parser,
    posterior_table,
    print_table,
    pyplot,
    require,
    save_figure,
)

import hierax as numpyro
import hierax.distributions as dist
from hierax.infer import MCMC, NUTS, Predictive
from hierax.infer.arviz import to_inference_data

TRUTHS = {"a": 1.5, "b": -0.5, "sigma": 0.3}
NUM_POINTS = 80
# A data set whose least-squares estimates lie within 0.5 standard errors of the
# true values, so that the 90% coverage checks of the tests have a margin.
DATA_SEED = 5
X_GRID = np.linspace(-2.0, 2.0, 50)


def linear_regression_model(x, y=None):
    """``y ~ Normal(a x + b, sigma)``; priors ``a, b ~ N(0, 2^2)``, ``sigma ~ HalfNormal(1)``."""
    a = numpyro.sample("a", dist.Normal(0.0, 2.0))
    b = numpyro.sample("b", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("data", jnp.shape(x)[0]):
        numpyro.sample("y", dist.Normal(a * x + b, sigma), obs=y)


def simulate_data(seed: int = DATA_SEED):
    """80 points ``(x, y)`` drawn from the model with the parameters fixed to ``TRUTHS``."""
    key_x, key_y = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.uniform(key_x, (NUM_POINTS,), minval=-2.0, maxval=2.0)
    fixed = {name: jnp.array(value) for name, value in TRUTHS.items()}
    y = Predictive(linear_regression_model, params=fixed, num_samples=1)(key_y, x)["y"][0]
    return np.asarray(x), np.asarray(y)


def plot_prior_predictive(x, y, key, out_dir):
    """Left: draws with the true parameters; right: draws with parameters from the prior."""
    plt = pyplot()
    key_fixed, key_prior = jax.random.split(key)
    fixed = {name: jnp.array(value) for name, value in TRUTHS.items()}
    y_fixed = Predictive(linear_regression_model, params=fixed, num_samples=4)(
        key_fixed, X_GRID)["y"]
    y_prior = Predictive(linear_regression_model, num_samples=20)(key_prior, X_GRID)["y"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    left.scatter(x, y, alpha=0.6, color="k", s=12, label="data")
    for i, draw in enumerate(np.asarray(y_fixed)):
        left.scatter(X_GRID, draw, alpha=0.5, s=10, color="C1",
                     label="simulated (true parameters)" if i == 0 else None)
    left.set(title="Prior predictive, parameters fixed", xlabel="x", ylabel="y")
    left.legend()
    for i, draw in enumerate(np.asarray(y_prior)):
        right.scatter(X_GRID, draw, s=10, facecolors="none", edgecolors=f"C{i % 10}",
                      alpha=0.5, label="prior predictive draws" if i == 0 else None)
    right.scatter(x, y, color="k", s=12, label="data")
    right.set(title="Prior predictive, parameters from the prior", xlabel="x")
    right.legend()
    return save_figure(fig, out_dir, "workflow_prior_predictive.png")


def fit(x, y, args):
    """NUTS with ``args.chains`` vectorized chains; prints the summary."""
    mcmc = MCMC(NUTS(linear_regression_model), num_warmup=args.warmup,
                num_samples=args.samples, num_chains=args.chains,
                chain_method="vectorized", progress_bar=not args.no_progress)
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(args.seed), x, y=y)
    print(f"NUTS: {args.chains} chains x {args.samples} draws in "
          f"{time.perf_counter() - start:.1f} s")
    mcmc.print_summary()
    return mcmc


def plot_posterior_predictive(x, y, posterior, key, out_dir):
    """Median and 95% band of replicated ``y`` on a grid, over the data."""
    plt = pyplot()
    y_rep = np.asarray(Predictive(linear_regression_model, posterior, parallel=True)(
        key, X_GRID)["y"])
    low, median, high = np.percentile(y_rep, [2.5, 50.0, 97.5], axis=0)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.fill_between(X_GRID, low, high, alpha=0.3, label="95% posterior predictive")
    ax.plot(X_GRID, median, color="C0", label="median")
    ax.scatter(x, y, s=12, alpha=0.7, color="k", label="data")
    ax.set(title="Posterior predictive check", xlabel="x", ylabel="y")
    ax.legend()
    return save_figure(fig, out_dir, "workflow_posterior_predictive.png")


def inference_data(mcmc):
    """The run as an ArviZ ``InferenceData`` (posterior, sample stats, observed data)."""
    return to_inference_data(mcmc, log_likelihood=False)


def plot_arviz(mcmc, out_dir):
    """ArviZ posterior densities with the true values, and a forest plot with ESS."""
    az = require("arviz")
    idata = inference_data(mcmc)
    names = list(TRUTHS)
    axes = az.plot_posterior(idata, var_names=names, ref_val=[TRUTHS[n] for n in names])
    paths = [save_figure(np.ravel(axes)[0].figure, out_dir, "workflow_arviz_posterior.png")]
    axes = az.plot_forest(idata, var_names=names, ess=True)
    paths.append(save_figure(np.ravel(axes)[0].figure, out_dir, "workflow_arviz_forest.png"))
    return paths


def main(argv=None):
    """Run the workflow; returns ``{name: {"mean", "interval", "truth", "covered"}}``."""
    args = apply_quick(example_parser(__doc__, warmup=500, samples=1000).parse_args(argv),
                       warmup=300, samples=300)
    x, y = simulate_data()
    print("True parameters:", ", ".join(f"{k} = {v}" for k, v in TRUTHS.items()))
    key_prior, key_post = jax.random.split(jax.random.PRNGKey(args.seed + 1))
    plot_prior_predictive(x, y, key_prior, args.out)
    mcmc = fit(x, y, args)
    plot_posterior_predictive(x, y, mcmc.get_samples(), key_post, args.out)
    plot_arviz(mcmc, args.out)
    table = posterior_table(mcmc.get_samples(), TRUTHS, prob=0.9)
    print_table("Posterior means and 90% intervals against the true values:", table)
    return table


if __name__ == "__main__":
    main()
