"""Distances from Gaia-like parallaxes: one star, then a whole cluster (M67) hierarchically.

After D. Foreman-Mackey's "An astronomer's introduction to NumPyro", on the
synthetic catalog of ``data_gaia.py`` (about 4,300 stars, 42% of them in a
cluster at 837 pc). Both models use the distance prior of Bailer-Jones (2015,
PASP 127, 994), ``p(r) = r^2 exp(-r / L) / (2 L^3)``, written as ``r = 0.5 L u``
with ``u ~ Chi2(6)``:

* ``gaia_single_model``: the distance to one low signal-to-noise star;
* ``gaia_cluster_model``: every star's distance at once (4,300+ latent
  parameters), drawn from a ``MixtureGeneral`` of the cluster (a Gaussian in
  log distance, centre ``D``, width ``sigma``) and the field (the prior above
  with a free ``L``), with the cluster fraction ``Q``. The deterministic site
  ``p`` holds each star's log membership probabilities.

Run:  python examples/gaia_cluster.py [--quick] [--stars N] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import (
    apply_quick,
    central_interval,
    example_parser,
    posterior_table,
    print_table,
    pyplot,
    save_figure,
)
from data_gaia import make_catalog, subsample

import hierax as numpyro
import hierax.distributions as dist
from hierax.infer import MCMC, NUTS, Predictive, init_to_median, init_to_value

QUICK_STARS = 300
POPULATION = ("D", "L", "Q", "approx_size")


def gaia_single_model(plx_err, plx=None, plx_zp=0.0, L=370.0):
    """One star: ``r = 0.5 L u``, ``u ~ Chi2(6)``; ``plx ~ N(1000 / r + plx_zp, plx_err)`` [mas]."""
    normed = numpyro.sample("normed", dist.Chi2(6))
    distance = numpyro.deterministic("r", 0.5 * L * normed)
    numpyro.sample("plx", dist.Normal(1000.0 / distance + plx_zp, plx_err), obs=plx)


def gaia_cluster_model(plx_err, plx=None, plx_zp=0.0):
    """All stars: a cluster/field mixture in distance, one latent distance per star.

    Args:
        plx_err: parallax errors [mas], shape ``(num_stars,)``.
        plx: observed parallaxes [mas], shape ``(num_stars,)``, or None to simulate.
        plx_zp: parallax zero point [mas], scalar or ``(num_stars,)``.
    """
    # Wide priors on the logs of the positive population parameters.
    log_L = numpyro.sample("log_L", dist.Normal(np.log(370.0), 2.0))
    log_D = numpyro.sample("log_D", dist.Normal(np.log(920.0), 2.0))
    log_sigma = numpyro.sample("log_sigma", dist.Normal(0.0, 2.0))
    Q = numpyro.sample("Q", dist.Uniform(0.0, 1.0))

    L = numpyro.deterministic("L", jnp.exp(log_L))
    numpyro.deterministic("D", jnp.exp(log_D))
    numpyro.deterministic("approx_size", jnp.exp(log_sigma + log_D))

    with numpyro.plate("stars", len(plx_err)):
        # Field: the Bailer-Jones prior with a free length scale L.
        dist_bg = dist.TransformedDistribution(
            dist.Chi2(6),
            dist.transforms.AffineTransform(
                0.0, 0.5 * L, domain=dist.constraints.positive
            ),
        )
        # Cluster: a Gaussian in log distance.
        dist_fg = dist.TransformedDistribution(
            dist.Normal(log_D, jnp.exp(log_sigma)),
            dist.transforms.ExpTransform(),
        )
        mixture = dist.MixtureGeneral(
            dist.Categorical(probs=jnp.stack((Q, 1 - Q), axis=-1)),
            [dist_fg, dist_bg],
        )
        r = numpyro.sample("r", mixture)

        # Membership log probabilities (cluster, field) given the current distance.
        log_probs = mixture.component_log_probs(r)
        numpyro.deterministic(
            "p", log_probs - jax.nn.logsumexp(log_probs, axis=-1, keepdims=True)
        )

        plx_true = numpyro.deterministic("plx_true", 1000.0 / r + plx_zp)
        numpyro.sample("plx_obs", dist.Normal(plx_true, plx_err), obs=plx)


def inverse_parallax_start(catalog, min_parallax=0.2, log_width=-3.0):
    """Init strategy: each star's distance at ``1000 / max(plx, min_parallax)`` pc.

    The cluster starts compact (``log_sigma = log_width``, a 5% spread in
    distance); the other population parameters start at their prior medians.
    A start with a wide cluster component (the prior median ``sigma = 1`` is a
    factor e in distance) lets a chain settle in the mode where that component
    models the far field (large ``D`` and ``approx_size``, small ``Q``). With 4,300 stars,
    some measured to 0.01 mas, a start far from the data (``init_to_uniform``
    draws distances of 0.1 to 7 pc; prior medians are hundreds of pc off for
    many stars) makes the first steps very stiff: the step size collapses to
    ~1e-7 and trajectories hit the maximum tree depth while the distances
    travel to their data. Starting near the data skips that phase.
    """
    start = 1000.0 / np.maximum(catalog.parallax, min_parallax)
    values = {"r": start.astype(np.float32), "log_sigma": np.float32(log_width)}
    return init_to_value(values=values, fallback=init_to_median)


def _run(model, args, key, *model_args, init_strategy=init_to_median, **model_kwargs):
    mcmc = MCMC(NUTS(model, init_strategy=init_strategy), num_warmup=args.warmup,
                num_samples=args.samples, num_chains=args.chains,
                chain_method="vectorized", progress_bar=not args.no_progress)
    start = time.perf_counter()
    mcmc.run(key, *model_args, **model_kwargs)
    seconds = time.perf_counter() - start
    print(f"\n== {model.__name__}: {seconds:.1f} s, {mcmc.num_divergences} divergent "
          f"transitions")
    return mcmc, seconds


def fit_single_star(catalog, args, key):
    """Distance to the star with the lowest parallax signal-to-noise; returns its summary."""
    index = int(np.argmin(catalog.parallax / catalog.parallax_error))
    plx, plx_err = catalog.parallax[index], catalog.parallax_error[index]
    mcmc, _ = _run(gaia_single_model, args, key, plx_err, plx=plx)
    r = np.asarray(mcmc.get_samples()["r"])
    low, high = central_interval(r, 0.9)
    print(f"star {index}: parallax {plx:.3f} +- {plx_err:.3f} mas, true distance "
          f"{catalog.distance[index]:.0f} pc; posterior median {np.median(r):.0f} pc, "
          f"90% interval [{low:.0f}, {high:.0f}] pc")
    return {"index": index, "parallax": float(plx), "parallax_error": float(plx_err),
            "median": float(np.median(r)), "interval": (low, high),
            "truth": float(catalog.distance[index])}


def fit_cluster(catalog, args, key):
    """NUTS on ``gaia_cluster_model``; prints the population summary."""
    mcmc, seconds = _run(gaia_cluster_model, args, key, catalog.parallax_error,
                         plx=catalog.parallax, init_strategy=inverse_parallax_start(catalog))
    by_chain = mcmc.get_samples(group_by_chain=True)
    numpyro.diagnostics.print_summary({name: by_chain[name] for name in POPULATION},
                                      prob=0.9, group_by_chain=True)
    return mcmc, seconds


def membership_probability(samples):
    """Posterior mean probability that each star is a cluster member, shape ``(num_stars,)``."""
    return np.mean(np.exp(np.asarray(samples["p"])[..., 0]), axis=0)


def plot_colour_magnitude(catalog, samples, out_dir):
    """Colour against absolute G (from the posterior distances), shaded by membership."""
    plt = pyplot()
    p_cluster = membership_probability(samples)
    order = np.argsort(p_cluster)
    distance_modulus = np.median(5.0 * np.log10(np.asarray(samples["r"])) - 5.0, axis=0)
    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(catalog.bp_rp[order], (catalog.phot_g_mean_mag - distance_modulus)[order],
                        s=8, c=p_cluster[order], cmap="gray_r", edgecolors="k",
                        linewidths=0.3, vmin=0.0, vmax=1.0)
    fig.colorbar(points, ax=ax, label="cluster membership probability")
    ax.set(xlim=(0.3, 3.2), ylim=(12, -2), xlabel="$G_{BP} - G_{RP}$ [mag]",
           ylabel="$M_G$ [mag]")
    return save_figure(fig, out_dir, "gaia_cmd.png")


def plot_posterior_predictive(catalog, samples, key, out_dir, num_draws=50):
    """Histogram of observed parallaxes against catalogs simulated from the posterior."""
    plt = pyplot()
    thin = {name: np.asarray(value)[:: max(1, len(value) // num_draws)]
            for name, value in samples.items()}
    predicted = Predictive(gaia_cluster_model, thin)(key, catalog.parallax_error)["plx_obs"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bins = np.linspace(0.2, 3.0, 60)
    label = "posterior predictive"
    for draw in np.asarray(predicted):
        ax.hist(draw, bins, histtype="step", color="k", alpha=0.1, lw=0.5, label=label)
        label = None
    ax.hist(catalog.parallax, bins, histtype="step", lw=2, color="C0", label="observed")
    ax.set(xlabel="parallax [mas]", ylabel="count", xlim=(bins[0], bins[-1]))
    ax.legend()
    return save_figure(fig, out_dir, "gaia_ppc.png")


def plot_cluster_distance(samples, truth, out_dir):
    """Posterior of the cluster distance ``D`` with the true value."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.asarray(samples["D"]), 40, histtype="step", color="k", density=True,
            label="posterior")
    ax.axvline(truth, color="C3", label=f"truth ({truth:.0f} pc)")
    ax.set(xlabel="cluster distance D [pc]", ylabel="posterior density", yticks=[])
    ax.legend()
    return save_figure(fig, out_dir, "gaia_cluster_distance.png")


def main(argv=None):
    """Fit one star and the cluster; returns the population table, timings and figures."""
    parser = example_parser(__doc__, warmup=1000, samples=1000, chains=2)
    parser.add_argument("--stars", type=int, default=None,
                        help=f"fit a random subset of this many stars (--quick: {QUICK_STARS})")
    args = apply_quick(parser.parse_args(argv), warmup=500, samples=300)
    catalog = make_catalog()
    num_stars = args.stars or (QUICK_STARS if args.quick else None)
    if num_stars is not None and num_stars < len(catalog):
        catalog = subsample(catalog, num_stars, seed=args.seed)
    print(f"{len(catalog)} stars, {int(catalog.is_member.sum())} true members; "
          f"truths {catalog.truths}")
    key_single, key_cluster, key_predict = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    single = fit_single_star(catalog, args, key_single)
    mcmc, seconds = fit_cluster(catalog, args, key_cluster)
    samples = mcmc.get_samples()
    truths = {name: catalog.truths[name] for name in POPULATION}
    table = posterior_table(samples, truths, prob=0.9)
    print_table("Cluster model: posterior means and 90% intervals", table)
    figures = [plot_colour_magnitude(catalog, samples, args.out),
               plot_posterior_predictive(catalog, samples, key_predict, args.out),
               plot_cluster_distance(samples, catalog.truths["D"], args.out)]
    return {"population": table, "single_star": single, "num_stars": len(catalog),
            "seconds": seconds, "num_divergences": int(mcmc.num_divergences),
            "membership": membership_probability(samples), "is_member": catalog.is_member,
            "figures": figures}


if __name__ == "__main__":
    main()
