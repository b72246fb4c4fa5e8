"""What population papers report, from posterior draws of the hyperparameters.

For draws ``Lambda_j`` (``j = 1..D``) of a :class:`hierax.pop.models.PopulationModel`:

- :func:`marginal_densities`: the population-predictive density of each column
  (``mass_1_source``, ``mass_2_source``, ``mass_ratio``, ``a_1``, ``cos_tilt_1``,
  ``chi_eff``, ``redshift``, ...) per draw, the mixture of the components weighted by
  ``R_k V_k`` (their share of all mergers), on a grid: ``(D, G)``. A column sharing a
  two-column block (masses, tilts, ``chi_eff``/``chi_p``) is integrated over the other
  by the trapezoid rule; ``mass_ratio`` is ``p(q) = int p(m1, q m1) m1 dm1``.
- :func:`merger_rate`: ``R(z) = sum_k R_k psi_k(z)`` in Gpc^-3 yr^-1, ``(D, G)``; the
  local rate at any redshift is a column of it.
- :func:`reweighted_event_draws`: one posterior sample per event per draw, chosen
  with probability ``rho(theta | Lambda_j) / pi(theta)``, the event's posterior under
  the population instead of its PE prior (e.g. Callister 2021, arXiv:2104.09508;
  Moore & Gerosa 2021), ``(D, N, d)``.
- :func:`predicted_detections`: ``N`` draws per ``Lambda_j`` from the detected
  population ``p_det(theta) rho(theta | Lambda_j)``, by resampling the selection
  estimator's draws with weights ``w_j rho / q``, ``(D, N, d)``.

Together the last two give the posterior predictive check of the detected
distribution (observed against predicted cumulative curves; Fishbach, Farr & Holz
2020, ApJL 891, L31; LVK GWTC-3 populations, PRX 13, 011048, fig. 3). All functions
take ``hyper`` as a dict of ``(D,)`` arrays and are vectorized over the draws.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "MASS_RATIO",
    "block_columns",
    "marginal_densities",
    "merger_rate",
    "predicted_detections",
    "reweighted_event_draws",
]

MASS_RATIO = "mass_ratio"
"""The derived column ``q = m2 / m1`` of :func:`marginal_densities`."""
_INNER_POINTS = 128


def block_columns(population) -> list[tuple[str, ...]]:
    """The columns of each independent block of ``population``'s components, in order."""
    widths = [2]  # the masses
    if population.spin:
        widths += [1, 1]
    if population.tilt is not None:
        widths.append(2)
    if population.effective_spin is not None:
        widths.append(2 if population.effective_spin == "gaussian_chi_p" else 1)
    if population.eccentricity is not None:
        widths.append(1)
    if population.redshift is not None:
        widths.append(1)
    names, blocks, start = population.parameter_names, [], 0
    for width in widths:
        blocks.append(tuple(names[start:start + width]))
        start += width
    return blocks


def _block_marginal(block, columns, column, grid, inner):
    """``p(column)`` of one block on ``grid``: the block itself if it has one column,
    else the trapezoid integral over the other column's ``inner`` grid."""
    if len(columns) == 1:
        return jnp.exp(block.log_prob(grid))
    first = columns.index(column) == 0
    a, b = jnp.meshgrid(grid, inner, indexing="ij")
    points = jnp.stack([a, b] if first else [b, a], axis=-1)
    return jnp.trapezoid(jnp.exp(block.log_prob(points)), inner, axis=-1)


def _mass_ratio_marginal(mass_block, q_grid, m1_grid):
    m1, q = jnp.meshgrid(m1_grid, q_grid, indexing="ij")
    density = jnp.exp(mass_block.log_prob(jnp.stack([m1, q * m1], axis=-1))) * m1
    return jnp.trapezoid(density, m1_grid, axis=0)


def marginal_densities(population, hyper: Mapping, grids: Mapping[str, np.ndarray],
                       inner: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Population-predictive densities of the columns in ``grids``, one row per draw.

    Args:
        population: a :class:`hierax.pop.models.PopulationModel`.
        hyper: hyperparameter name -> ``(D,)`` draws.
        grids: column (a parameter name or :data:`MASS_RATIO`) -> ``(G,)`` points.
        inner: column -> ``(I,)`` integration grid for the other column of its block
            (default: that column's entry of ``grids`` if any, else 128 points over its
            support; masses from 1 to the largest ``grids`` mass).

    Returns:
        column -> ``(D, G)`` densities (each integrates to about 1 over its support).
    """
    blocks = block_columns(population)
    where = {c: (i, cols) for i, cols in enumerate(blocks) for c in cols}
    unknown = [c for c in grids if c not in where and c != MASS_RATIO]
    if unknown:
        raise ValueError(f"marginal_densities: the population has no columns {unknown}; it "
                         f"has {list(population.parameter_names) + [MASS_RATIO]}.")
    names = population.hyperparameter_names
    draws = {n: jnp.asarray(np.asarray(hyper[n])) for n in names}
    grids = {c: jnp.asarray(np.asarray(g, np.float64)) for c, g in grids.items()}
    inner_grids = _inner_grids(population, blocks, grids, inner or {})

    def one(h):
        log_w = population.log_component_fractions(h)
        components = population.components(h)
        out = {}
        for column, grid in grids.items():
            index, cols = where.get(column, (0, blocks[0]))
            values = []
            for component in components:
                block = component.blocks[index]
                if column == MASS_RATIO:
                    values.append(_mass_ratio_marginal(block, grid,
                                                       inner_grids[population.parameter_names[0]]))
                else:
                    other = [c for c in cols if c != column]
                    values.append(_block_marginal(block, cols, column, grid,
                                                  inner_grids.get(other[0]) if other else None))
            out[column] = jnp.sum(jnp.exp(log_w)[:, None] * jnp.stack(values), axis=0)
        return out

    result = jax.jit(lambda d: jax.lax.map(one, d))(draws)  # one draw at a time: memory
    return {c: np.asarray(v) for c, v in result.items()}


_SUPPORTS = {"a_1": (0.0, 1.0), "a_2": (0.0, 1.0), "cos_tilt_1": (-1.0, 1.0),
             "cos_tilt_2": (-1.0, 1.0), "chi_eff": (-1.0, 1.0), "chi_p": (0.0, 1.0)}


def _inner_grids(population, blocks, grids, inner):
    """Integration grids for the other column of each two-column block."""
    out = {c: jnp.asarray(np.asarray(g, np.float64)) for c, g in inner.items()}
    masses = population.parameter_names[:2]
    top = max([float(np.max(np.asarray(grids[c]))) for c in (*masses,) if c in grids]
              + [100.0])
    for cols in blocks:
        for c in cols:
            if c in out:
                continue
            if c in grids and c not in masses:
                out[c] = grids[c]
            elif c in masses:
                out[c] = jnp.linspace(1.0, top, 4 * _INNER_POINTS)
            elif c in _SUPPORTS:
                out[c] = jnp.linspace(*_SUPPORTS[c], _INNER_POINTS)
    return out


def merger_rate(population, hyper: Mapping, z_grid) -> np.ndarray:
    """``R(z) = sum_k R_k psi_k(z)`` [Gpc^-3 yr^-1] per draw, ``(D, G)``; constant in
    ``z`` for a population without redshift."""
    draws = {n: jnp.asarray(np.asarray(hyper[n])) for n in population.hyperparameter_names}
    z = jnp.asarray(np.asarray(z_grid, np.float64))
    rate = jax.jit(jax.vmap(lambda h: jnp.exp(population.log_merger_rate(z, h))))(draws)
    return np.asarray(rate)


def _gumbel_argmax_per_segment(key, log_weights, segment_ids, num_segments):
    """One index per segment drawn with probability ``softmax(log_weights)`` within it."""
    scores = log_weights + jax.random.gumbel(key, log_weights.shape, log_weights.dtype)
    best = jax.ops.segment_max(scores, segment_ids, num_segments)
    rows = jnp.arange(scores.shape[0])
    hit = jnp.where(scores == best[segment_ids], rows, -1)
    return jax.ops.segment_max(hit, segment_ids, num_segments)


def reweighted_event_draws(events, population, hyper: Mapping, rng_key) -> np.ndarray:
    """One sample per event per draw, weighted by ``rho(theta | Lambda_j) / pi(theta)``.

    Returns ``(D, N, d)``: the events' posteriors under the inferred population (module
    docstring). An event whose weights are all zero at a draw gets NaN rows.
    """
    draws = {n: jnp.asarray(np.asarray(hyper[n])) for n in population.hyperparameter_names}
    theta = jnp.asarray(events.theta)
    log_prior = jnp.asarray(events.log_prior)
    segments = jnp.asarray(events.event_index)
    num = events.num_events
    keys = jax.random.split(rng_key, next(iter(draws.values())).shape[0])

    def one(args):
        h, key = args
        log_w = population.log_rate_density(theta, h) - log_prior
        index = _gumbel_argmax_per_segment(key, log_w, segments, num)
        rows = theta[jnp.maximum(index, 0)]
        return jnp.where((index >= 0)[:, None], rows, jnp.nan)

    return np.asarray(jax.lax.map(one, (draws, keys)))


def predicted_detections(selection, population, hyper: Mapping, rng_key, num: int, *,
                         max_draws: int | None = 20_000) -> np.ndarray:
    """``num`` detected sources per draw, ``(D, num, d)``, resampled from the selection
    draws with weights ``w_j rho(theta_j | Lambda) / q(theta_j)`` (with replacement).

    ``max_draws``: use a fixed random subset of at most this many selection draws (the
    subset is itself a sample of the draw distribution, so the resampling stays valid;
    ``None`` uses all).
    """
    draws = {n: jnp.asarray(np.asarray(hyper[n])) for n in population.hyperparameter_names}
    subset_key, rng_key = jax.random.split(rng_key)
    rows = np.arange(selection.theta.shape[0])
    if max_draws is not None and rows.size > max_draws:
        rows = np.sort(np.asarray(jax.random.choice(subset_key, rows.size, (max_draws,),
                                                    replace=False)))
    theta = jnp.asarray(selection.theta[rows])
    log_base = jnp.asarray((selection.log_weight - selection.log_draw_density)[rows])
    keys = jax.random.split(rng_key, next(iter(draws.values())).shape[0])

    def one(args):
        h, key = args
        log_w = log_base + population.log_rate_density(theta, h)
        log_w = jnp.where(jnp.isnan(log_w), -jnp.inf, log_w)
        index = jax.random.categorical(key, log_w, shape=(int(num),))
        return theta[index]

    return np.asarray(jax.lax.map(one, (draws, keys)))
