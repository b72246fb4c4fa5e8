"""Straight-line fit with outliers: a plain fit is biased, a mixture model is not.

The data are those of D. Foreman-Mackey's "An astronomer's introduction to
NumPyro" (after Hogg, Bovy & Lang 2010, "Data analysis recipes: fitting a
model to data", arXiv:1008.4686): 15 points on the line ``y = x`` with error
bars 0.2, where each point is, with probability 0.2, replaced by an outlier
from ``N(0, 1 + 0.2^2)``.

The line is parameterized by its angle ``theta = arctan(m)`` and perpendicular
intercept ``b_perp = b cos(theta)``. The mixture model adds a Gaussian
background (mean ``bg_mean``, extra width ``bg_sigma``) with weight ``1 - Q``,
written with ``MixtureGeneral``; the deterministic site ``p`` holds each
point's log membership probabilities (foreground, background).

Run:  python examples/outliers.py [--quick] [--seed 3] [--out DIR]
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
from hierax.infer import MCMC, NUTS

TRUE_SLOPE, TRUE_INTERCEPT = 1.0, 0.0
TRUE_FRACTION = 0.8  # probability that a point lies on the line (Q)
TRUE_BACKGROUND = (0.0, 1.0)  # mean and standard deviation of the outliers
TRUTHS = {
    "theta": float(np.arctan(TRUE_SLOPE)),
    "b_perp": TRUE_INTERCEPT * float(np.cos(np.arctan(TRUE_SLOPE))),
    "Q": TRUE_FRACTION,
    "bg_mean": TRUE_BACKGROUND[0],
    "bg_sigma": TRUE_BACKGROUND[1],
}
DATA_SEED = 12  # the tutorial's seed: the same 15 points
X_LINE = np.linspace(-2.1, 2.1, 200)


def simulate_data(seed: int = DATA_SEED):
    """The tutorial's data set: ``x, yerr, y`` (shape ``(15,)``) and the outlier mask."""
    rng = np.random.RandomState(seed)  # legacy generator: reproduces the tutorial's draws
    x = np.sort(rng.uniform(-2, 2, 15))
    yerr = 0.2 * np.ones_like(x)
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + yerr * rng.randn(len(x))
    is_outlier = rng.rand(len(x)) > TRUE_FRACTION
    bg_mean, bg_sigma = TRUE_BACKGROUND
    y[is_outlier] = bg_mean + np.sqrt(bg_sigma**2 + yerr[is_outlier] ** 2) * rng.randn(
        int(is_outlier.sum()))
    return x, yerr, y, is_outlier


def _line():
    """Priors of the line: ``theta ~ U(-pi/2, pi/2)``, ``b_perp ~ N(0, 1)``; returns (m, b)."""
    theta = numpyro.sample("theta", dist.Uniform(-0.5 * jnp.pi, 0.5 * jnp.pi))
    b_perp = numpyro.sample("b_perp", dist.Normal(0.0, 1.0))
    m = numpyro.deterministic("m", jnp.tan(theta))
    b = numpyro.deterministic("b", b_perp / jnp.cos(theta))
    return m, b


def linear_model(x, yerr, y=None):
    """Every point on the line: ``y ~ N(m x + b, yerr)``."""
    m, b = _line()
    with numpyro.plate("data", len(x)):
        numpyro.sample("y", dist.Normal(m * x + b, yerr), obs=y)


def linear_mixture_member_prob_model(x, yerr, y=None):
    """Line (weight ``Q``) or Gaussian background (weight ``1 - Q``), with memberships ``p``."""
    m, b = _line()
    foreground = dist.Normal(m * x + b, yerr)
    bg_mean = numpyro.sample("bg_mean", dist.Normal(0.0, 1.0))
    bg_sigma = numpyro.sample("bg_sigma", dist.HalfNormal(3.0))
    background = dist.Normal(bg_mean, jnp.sqrt(bg_sigma**2 + yerr**2))
    q = numpyro.sample("Q", dist.Uniform(0.0, 1.0))
    mixture = dist.MixtureGeneral(dist.Categorical(probs=jnp.stack([q, 1.0 - q])),
                                  [foreground, background])
    with numpyro.plate("data", len(x)):
        y = numpyro.sample("obs", mixture, obs=y)
    log_probs = mixture.component_log_probs(y)  # (N, 2)
    numpyro.deterministic(
        "p", log_probs - jax.nn.logsumexp(log_probs, axis=-1, keepdims=True))


def fit(model, data, args, key):
    """NUTS on ``model(x, yerr, y=y)``; prints the summary with deterministic sites."""
    x, yerr, y, _ = data
    mcmc = MCMC(NUTS(model), num_warmup=args.warmup, num_samples=args.samples,
                num_chains=args.chains, chain_method="vectorized",
                progress_bar=not args.no_progress)
    start = time.perf_counter()
    mcmc.run(key, x, yerr, y=y)
    print(f"\n== {model.__name__}: {time.perf_counter() - start:.1f} s")
    samples = {k: v for k, v in mcmc.get_samples(group_by_chain=True).items() if k != "p"}
    numpyro.diagnostics.print_summary(samples, prob=0.9, group_by_chain=True)
    return mcmc


def outlier_probability(samples):
    """Posterior mean probability that each point belongs to the background, shape ``(N,)``."""
    return 1.0 - np.mean(np.exp(np.asarray(samples["p"])[..., 0]), axis=0)


def plot_corner(samples, out_dir):
    """Corner plot of the mixture parameters, true values marked."""
    corner = require("corner")
    names = list(TRUTHS)
    draws = np.column_stack([np.asarray(samples[n]).ravel() for n in names])
    fig = corner.corner(draws, labels=names, truths=[TRUTHS[n] for n in names],
                        quantiles=[0.05, 0.5, 0.95], show_titles=True)
    return save_figure(fig, out_dir, "outliers_corner.png")


def _line_band(samples, prob=0.9):
    """Central ``prob`` band and median of ``m x + b`` on ``X_LINE``."""
    lines = np.asarray(samples["m"])[:, None] * X_LINE + np.asarray(samples["b"])[:, None]
    tail = 50.0 * (1.0 - prob)
    return np.percentile(lines, [tail, 50.0, 100.0 - tail], axis=0)


def plot_fit(data, line_samples, mixture_samples, out_dir):
    """Data coloured by outlier probability; true line, plain fit, mixture fit with 90% band."""
    plt = pyplot()
    x, yerr, y, is_outlier = data
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.errorbar(x, y, yerr=yerr, fmt=",k", capsize=0, lw=1, zorder=5)
    points = ax.scatter(x, y, c=outlier_probability(mixture_samples), cmap="viridis",
                        vmin=0.0, vmax=1.0, s=40, edgecolor="k", zorder=6)
    ax.scatter(x[is_outlier], y[is_outlier], marker="s", s=130, facecolors="none",
               edgecolors="r", zorder=7, label="true outliers")
    ax.plot(X_LINE, TRUE_SLOPE * X_LINE + TRUE_INTERCEPT, "k", lw=1.5, label="true line")
    ax.plot(X_LINE, _line_band(line_samples)[1], "C1--", label="straight-line fit")
    low, median, high = _line_band(mixture_samples)
    ax.fill_between(X_LINE, low, high, color="C0", alpha=0.3)
    ax.plot(X_LINE, median, "C0", label="mixture fit (90% band)")
    fig.colorbar(points, ax=ax, label="outlier probability")
    ax.set(xlabel="$x$", ylabel="$y$", xlim=(-2.1, 2.1), ylim=(-2.5, 2.5))
    ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, out_dir, "outliers_fit.png")


def main(argv=None):
    """Fit both models; returns posterior tables, outlier probabilities and the outlier mask."""
    parser = example_parser(__doc__, warmup=2000, samples=2000, chains=2)
    args = apply_quick(parser.parse_args(argv), warmup=500, samples=1000)
    data = simulate_data()
    key_line, key_mixture = jax.random.split(jax.random.PRNGKey(args.seed))
    line = fit(linear_model, data, args, key_line).get_samples()
    slope, intercept = float(np.mean(line["m"])), float(np.mean(line["b"]))
    print(f"straight line (ignoring outliers): m = {slope:.3f}, b = {intercept:.3f} "
          f"(true: {TRUE_SLOPE}, {TRUE_INTERCEPT})")
    mixture = fit(linear_mixture_member_prob_model, data, args, key_mixture).get_samples()
    plot_corner(mixture, args.out)
    plot_fit(data, line, mixture, args.out)
    table = posterior_table(mixture, TRUTHS, prob=0.9)
    print_table("Mixture model: posterior means and 90% intervals:", table)
    probability = outlier_probability(mixture)
    print("outlier probability per point:", np.round(probability, 2))
    print("true outliers:               ", data[3].astype(int))
    return {
        "mixture": table,
        "straight_line": {"m": slope, "b": intercept},
        "outlier_probability": probability,
        "is_outlier": data[3],
    }


if __name__ == "__main__":
    main()
