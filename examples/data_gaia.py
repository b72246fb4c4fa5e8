"""A synthetic Gaia-like parallax catalog towards an open cluster (an M67 stand-in).

Each star is a cluster member with probability ``Q``, else a field star:

* members: ``log r ~ Normal(log D, sigma)`` (a Gaussian in log distance);
* field stars: the exponentially decreasing space density prior of Bailer-Jones
  (2015, PASP 127, 994), ``p(r) = r^2 exp(-r / L) / (2 L^3)``, which is
  ``r = 0.5 L u`` with ``u ~ Chi2(6)``.

The truths follow the posterior that the M67 field gives in the seed tutorial
(D = 837 pc, approx. size 14.6 pc, Q = 0.42, L = 470 pc). Photometry is drawn
so that the colour-magnitude diagram looks like a cluster main sequence plus a
giant branch over a broad field population. Parallax errors are log-uniform on
``[0.01, 0.5]`` mas, independent of distance, and observed parallaxes are
``1000 / r + zero_point + N(0, err)`` in mas.

No cut on parallax or magnitude is applied, so the hierarchical model in
``gaia_cluster.py`` is the data-generating process (well specified). In real
Gaia data the error grows with the apparent magnitude, hence with distance
(Lindegren et al. 2021, A&A 649, A2); a model that conditions on the errors
without modelling that dependence is then biased in ``L`` and ``Q``
(:func:`gaia_parallax_error` gives such magnitude-dependent errors, for
experiments).

Run:  python examples/data_gaia.py   (prints a summary of the catalog)
"""

from __future__ import annotations

import dataclasses

import numpy as np

TRUE_DISTANCE_PC = 837.0
TRUE_LOG_WIDTH = 14.6 / 837.0
TRUE_MEMBER_FRACTION = 0.42
TRUE_LENGTH_SCALE_PC = 470.0
NUM_STARS = 4300
PARALLAX_ERROR_RANGE_MAS = (0.01, 0.5)
DEFAULT_SEED = 67


@dataclasses.dataclass(frozen=True)
class GaiaCatalog:
    """A synthetic catalog: per-star arrays of shape ``(num_stars,)`` and the truths.

    Arrays: ``parallax`` and ``parallax_error`` [mas], ``distance`` [pc] (true),
    ``is_member`` (bool, true membership), ``phot_g_mean_mag`` (apparent G),
    ``abs_g_mag`` (true absolute G), ``bp_rp`` (colour). ``truths`` maps the
    population parameter names of ``gaia_cluster_model`` (``D``, ``L``, ``Q``,
    ``approx_size``, ``sigma``) to their true values.
    """

    parallax: np.ndarray
    parallax_error: np.ndarray
    distance: np.ndarray
    is_member: np.ndarray
    phot_g_mean_mag: np.ndarray
    abs_g_mag: np.ndarray
    bp_rp: np.ndarray
    truths: dict

    def __len__(self) -> int:
        return self.parallax.shape[0]

    def subset(self, index) -> GaiaCatalog:
        """The catalog restricted to ``index`` (integer array or boolean mask)."""
        arrays = {f.name: getattr(self, f.name)[index]
                  for f in dataclasses.fields(self) if f.name != "truths"}
        return GaiaCatalog(**arrays, truths=dict(self.truths))


def main_sequence_abs_mag(bp_rp):
    """A smooth main-sequence locus ``M_G(BP - RP)`` (about solar at ``BP - RP = 0.82``)."""
    bp_rp = np.asarray(bp_rp)
    return 1.2 + 5.2 * bp_rp - 0.6 * bp_rp**2


def gaia_parallax_error(g_mag, low=PARALLAX_ERROR_RANGE_MAS[0], high=PARALLAX_ERROR_RANGE_MAS[1]):
    """Parallax error [mas] against apparent G: ~0.02 mas at G = 15, ~0.2 mas at G = 19."""
    return np.clip(0.02 * 10.0 ** (0.25 * (np.asarray(g_mag) - 15.0)), low, high)


def _draw_distances(rng, num_stars, is_member, distance, log_width, length_scale):
    member_r = np.exp(rng.normal(np.log(distance), log_width, size=num_stars))
    field_r = 0.5 * length_scale * rng.chisquare(6, size=num_stars)
    return np.where(is_member, member_r, field_r)


def _draw_photometry(rng, is_member):
    """Colours and absolute magnitudes: a tight cluster sequence over a broad field."""
    num_stars = is_member.shape[0]
    colour = rng.uniform(0.55, 2.6, size=num_stars)
    scatter = np.where(is_member, 0.12, 0.9)
    abs_mag = main_sequence_abs_mag(colour) + scatter * rng.normal(size=num_stars)
    giant = is_member & (rng.uniform(size=num_stars) < 0.08)
    colour = np.where(giant, rng.uniform(1.05, 1.45, size=num_stars), colour)
    abs_mag = np.where(giant, rng.uniform(0.3, 2.5, size=num_stars), abs_mag)
    field_reddening = np.where(is_member, 0.0, rng.exponential(0.15, size=num_stars))
    return colour + field_reddening, abs_mag


def make_catalog(num_stars: int = NUM_STARS, seed: int = DEFAULT_SEED, *,
                 distance: float = TRUE_DISTANCE_PC, log_width: float = TRUE_LOG_WIDTH,
                 member_fraction: float = TRUE_MEMBER_FRACTION,
                 length_scale: float = TRUE_LENGTH_SCALE_PC,
                 zero_point: float = 0.0) -> GaiaCatalog:
    """Draw a catalog of ``num_stars`` stars with NumPy's ``default_rng(seed)``.

    Returns a :class:`GaiaCatalog` (float32 arrays for the measurements).
    """
    if int(num_stars) < 1:
        raise ValueError(f"make_catalog: num_stars must be a positive integer, got {num_stars!r}")
    if not 0.0 < member_fraction < 1.0:
        raise ValueError(f"make_catalog: member_fraction must lie in (0, 1), "
                         f"got {member_fraction!r}")
    rng = np.random.default_rng(seed)
    is_member = rng.uniform(size=num_stars) < member_fraction
    r = _draw_distances(rng, num_stars, is_member, distance, log_width, length_scale)
    bp_rp, abs_mag = _draw_photometry(rng, is_member)
    g_mag = abs_mag + 5.0 * np.log10(r / 10.0)
    low, high = PARALLAX_ERROR_RANGE_MAS
    plx_err = np.exp(rng.uniform(np.log(low), np.log(high), size=num_stars))
    plx = 1000.0 / r + zero_point + plx_err * rng.normal(size=num_stars)
    truths = {"D": distance, "sigma": log_width, "approx_size": log_width * distance,
              "Q": member_fraction, "L": length_scale}
    return GaiaCatalog(
        parallax=plx.astype(np.float32), parallax_error=plx_err.astype(np.float32),
        distance=r, is_member=is_member, phot_g_mean_mag=g_mag.astype(np.float32),
        abs_g_mag=abs_mag, bp_rp=bp_rp.astype(np.float32), truths=truths)


def subsample(catalog: GaiaCatalog, num_stars: int, seed: int = 0) -> GaiaCatalog:
    """A random subset of ``num_stars`` stars (without replacement), for quick runs."""
    if not 1 <= num_stars <= len(catalog):
        raise ValueError(f"subsample: num_stars must lie in [1, {len(catalog)}], "
                         f"got {num_stars!r}")
    index = np.sort(np.random.default_rng(seed).choice(len(catalog), num_stars, replace=False))
    return catalog.subset(index)


if __name__ == "__main__":
    cat = make_catalog()
    print(f"{len(cat)} stars, {cat.is_member.sum()} members; truths {cat.truths}")
    print(f"parallax error range [{cat.parallax_error.min():.3f}, "
          f"{cat.parallax_error.max():.3f}] mas; median {np.median(cat.parallax_error):.3f}")
    print(f"G range [{cat.phot_g_mean_mag.min():.1f}, {cat.phot_g_mean_mag.max():.1f}]")
