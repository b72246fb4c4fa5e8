"""A straight-line HR diagram from photon counts of stars in clusters at unknown distances.

After H. McDougall's "A Brief Introduction to NumPyro" (Swinburne, 2025): a few
dozen clusters with about six stars each. Every star has a known temperature;
its absolute magnitude follows

    M = slope * (log10 T - 4) + offset + N(0, spread)

and we see it only as a Poisson photon count of its flux at the (unknown)
distance of its cluster. Cluster distances follow the ``p(d) ~ d^2`` prior of
a uniform space density between ``min_dist`` and ``max_dist``
(``DoublyTruncatedPowerLaw(alpha=2)``), and each cluster has a noisy parallax
(error ``E_parallax`` arcsec), informative only for the nearest clusters. The
hierarchical model ``HRmodel`` is the tutorial's, as written; it recovers the
slope, offset and spread from data in which no single cluster could.

Run:  python examples/hr_diagram.py [--quick] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import functools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from _common import (
    apply_quick,
    example_parser,
    posterior_table,
    print_table,
    pyplot,
    save_figure,
)

import hierax
import hierax as numpyro
import hierax.distributions as dist
from hierax.infer import MCMC, NUTS

# Survey constants, named as in the tutorial (distances in pc, parallaxes in arcsec).
min_dist, max_dist = 10.0, 100.0  # the d^2 distance prior is truncated to [min, max]
E_parallax = 0.005  # parallax error [arcsec]: SNR 20 at 10 pc, 2 at 100 pc
logtemp0 = 4.0  # pivot of the temperature axis, log10(T / K)
mag0, gain = 5.0, 500.0  # a star of apparent magnitude mag0 gives `gain` photons on average

TRUTHS = {"slope": -6.0, "offset": 1.0, "spread": 0.5}
NUM_CLUSTERS, STARS_PER_CLUSTER = 40, 6
DATA_SEED = 1
LOGTEMP_RANGE = (3.6, 4.3)


def simulate_clusters(num_clusters=NUM_CLUSTERS, stars_per_cluster=STARS_PER_CLUSTER,
                      seed=DATA_SEED, truths=TRUTHS):
    """Draw a synthetic survey from the model with the true parameters.

    Returns a dict of NumPy arrays: ``cluster_index`` and ``logtemps``
    (``(num_clusters * stars_per_cluster,)``), ``parallax`` and ``distance``
    (``(num_clusters,)``), ``fluxcounts`` and ``absolute_magnitude`` (per star).
    """
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=num_clusters)  # inverse cdf of p(d) ~ d^2 on [min_dist, max_dist]
    distance = (min_dist**3 + u * (max_dist**3 - min_dist**3)) ** (1.0 / 3.0)
    parallax = 1.0 / distance + E_parallax * rng.normal(size=num_clusters)
    cluster_index = np.repeat(np.arange(num_clusters), stars_per_cluster)
    logtemps = rng.uniform(*LOGTEMP_RANGE, size=cluster_index.size)
    absolute = (truths["slope"] * (logtemps - logtemp0) + truths["offset"]
                + truths["spread"] * rng.normal(size=cluster_index.size))
    apparent = absolute + 5.0 * np.log10(distance[cluster_index] / 10.0)
    fluxcounts = rng.poisson(gain * 10.0 ** (-(apparent - mag0) / 2.5))
    return {"cluster_index": cluster_index, "logtemps": logtemps, "parallax": parallax,
            "fluxcounts": fluxcounts, "distance": distance, "absolute_magnitude": absolute}


def HRmodel(cluster_index, logtemps, parallax=None, fluxcounts=None):
    """The tutorial's model, verbatim: line, d^2 cluster distances, parallaxes, photon counts.

    ``cluster_index`` (int, ``(n_stars,)``) maps stars to clusters ``0..n_clusters-1``;
    ``logtemps`` is ``log10 T`` per star; ``parallax`` (arcsec, ``(n_clusters,)``) and
    ``fluxcounts`` (``(n_stars,)``) are observed when given.
    """
    slope = numpyro.sample('slope', dist.Uniform(-10,0) )
    offset = numpyro.sample('offset', dist.Uniform(-10,10) )
    spread = numpyro.sample('spread', dist.HalfNormal(2.5) )

    n_clusters = np.unique(cluster_index).size
    n_stars = cluster_index.size

    with numpyro.plate("clusters", n_clusters):
        distance = numpyro.sample('root_dist', dist.DoublyTruncatedPowerLaw(alpha=2.0, low=min_dist, high=max_dist) )  # noqa: E501
        dist_mod = jnp.log10(distance/10) * 5.0

        numpyro.sample('parallax', dist.Normal(jnp.power(distance,-1), E_parallax), obs=parallax)

    with numpyro.plate('stars', n_stars):
        absolute_magnitude = numpyro.sample('absolute_magnitude', dist.Normal((logtemps-logtemp0) * slope + offset,spread))  # noqa: E501
        apparent_magnitude = numpyro.deterministic('apparent_magnitude',absolute_magnitude + dist_mod[cluster_index])  # noqa: E501

        fluxmag = numpyro.deterministic('fluxmag', -(apparent_magnitude-mag0)/2.5)
        flux = jnp.power(10,fluxmag) * gain

        numpyro.sample('fluxcounts', dist.Poisson(flux), obs = fluxcounts)


def fit(data, args):
    """NUTS on ``HRmodel``; prints the summary of the line and a few distances.

    ``HRmodel`` counts its clusters with ``np.unique(cluster_index)``, which needs
    concrete values; ``MCMC.run`` traces array arguments, so the cluster layout
    (``cluster_index``, ``logtemps``) is bound with ``functools.partial`` and only
    the observations are passed to ``run``.
    """
    model = functools.partial(HRmodel, data["cluster_index"], data["logtemps"])
    mcmc = MCMC(NUTS(model), num_warmup=args.warmup, num_samples=args.samples,
                num_chains=args.chains, chain_method="vectorized",
                progress_bar=not args.no_progress)
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(args.seed), parallax=data["parallax"],
             fluxcounts=data["fluxcounts"])
    print(f"\n== HRmodel: {time.perf_counter() - start:.1f} s, "
          f"{mcmc.num_divergences} divergent transitions")
    by_chain = mcmc.get_samples(group_by_chain=True)
    shown = {name: by_chain[name] for name in TRUTHS}
    shown["root_dist[:4]"] = by_chain["root_dist"][..., :4]
    numpyro.diagnostics.print_summary(shown, prob=0.9, group_by_chain=True)
    return mcmc


def recovery(samples, truths=TRUTHS):
    """Per parameter: posterior mean, standard deviation and ``|mean - truth| / sd``."""
    table = {}
    for name, truth in truths.items():
        draws = np.asarray(samples[name], dtype=float)
        mean, sd = float(draws.mean()), float(draws.std())
        table[name] = {"mean": mean, "sd": sd, "truth": truth,
                       "z": abs(mean - truth) / sd}
    return table


def plot_hr_diagram(data, samples, out_dir):
    """Absolute magnitude (posterior median per star) against log T, fitted line and truth."""
    plt = pyplot()
    logt = data["logtemps"]
    magnitude = np.median(np.asarray(samples["absolute_magnitude"]), axis=0)
    grid = np.linspace(*LOGTEMP_RANGE, 100)
    lines = (np.asarray(samples["slope"])[:, None] * (grid - logtemp0)
             + np.asarray(samples["offset"])[:, None])
    low, median, high = np.percentile(lines, [5.0, 50.0, 95.0], axis=0)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.scatter(logt, data["absolute_magnitude"], s=10, c="0.7", label="true $M$")
    points = ax.scatter(logt, magnitude, s=14, c=np.log10(data["distance"])[data["cluster_index"]],
                        cmap="viridis", label="posterior median $M$")
    ax.fill_between(grid, low, high, color="C1", alpha=0.3)
    ax.plot(grid, median, "C1", label="fitted line (90% band)")
    ax.plot(grid, TRUTHS["slope"] * (grid - logtemp0) + TRUTHS["offset"], "k--",
            label="true line")
    fig.colorbar(points, ax=ax, label="log10 cluster distance [pc]")
    ax.invert_xaxis()
    ax.invert_yaxis()
    ax.set(xlabel="$\\log_{10} T$", ylabel="absolute magnitude $M$")
    ax.legend(loc="lower left", fontsize=8)
    return save_figure(fig, out_dir, "hr_diagram.png")


GRAPHVIZ_HINT = "apt install graphviz, brew install graphviz or conda install graphviz"
_NO_DOT_WARNING = "render_model: the Graphviz 'dot' program was not found"


def draw_model_graph(data, out_dir):
    """The plate diagram of ``HRmodel`` via ``hierax.render_model``, when available.

    Writes ``hr_model.png`` where the Graphviz ``dot`` program is installed,
    else only the graph's DOT source ``hr_model.gv``; prints one line saying
    which, and returns the path of the file written (None if none was).
    """
    render_model = getattr(hierax, "render_model", None)
    if render_model is None:
        print("hierax.render_model is not available in this version: no model graph drawn.")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    image, source = out_dir / "hr_model.png", out_dir / "hr_model.gv"
    for stale in (image, source):  # what exists afterwards was written by this run
        stale.unlink(missing_ok=True)
    try:
        _render_hr_model(render_model, data, image)
    except ImportError as err:  # the graphviz package (an optional extra) is missing
        print(f"no model graph drawn: {err}")
        return None
    return _report_model_graph(image, source)


def _render_hr_model(render_model, data, image):
    """``render_model`` on ``HRmodel``; its missing-``dot`` warning is left to the report."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_DOT_WARNING, category=UserWarning)
        render_model(HRmodel, model_args=(data["cluster_index"], data["logtemps"]),
                     model_kwargs={"parallax": data["parallax"],
                                   "fluxcounts": data["fluxcounts"]},
                     filename=image)


def _report_model_graph(image, source):
    """Print what was really written for the model graph; return that path or None."""
    if image.exists():
        print(f"wrote {image}")
        return image
    missing = f"no {image.name}: the Graphviz 'dot' program is not installed ({GRAPHVIZ_HINT})"
    if source.exists():
        print(f"{missing}; wrote its DOT source {source} instead")
        return source
    print(f"{missing}; no model graph written")
    return None


def main(argv=None):
    """Simulate, fit, plot; returns the recovery table and the files written.

    ``figures`` lists the PNG figures, and the model graph as DOT source
    (``hr_model.gv``) where Graphviz's ``dot`` program is missing.
    """
    parser = example_parser(__doc__, warmup=1000, samples=1000, chains=2)
    args = apply_quick(parser.parse_args(argv), warmup=400, samples=400)
    data = simulate_clusters()
    print(f"{NUM_CLUSTERS} clusters x {STARS_PER_CLUSTER} stars; photon counts from "
          f"{data['fluxcounts'].min()} to {data['fluxcounts'].max()}; parallax SNR > 3 for "
          f"{int(np.sum(data['parallax'] / E_parallax > 3))} clusters")
    samples = fit(data, args).get_samples()
    table = recovery(samples)
    print_table("HR line: posterior means and 90% intervals",
                posterior_table(samples, TRUTHS, prob=0.9))
    for name, row in table.items():
        print(f"{name:>8}: {row['mean']:.3f} +- {row['sd']:.3f} (truth {row['truth']}, "
              f"{row['z']:.2f} sd away)")
    figures = [plot_hr_diagram(data, samples, args.out), draw_model_graph(data, args.out)]
    return {"recovery": table, "figures": [f for f in figures if f is not None]}


if __name__ == "__main__":
    main()
