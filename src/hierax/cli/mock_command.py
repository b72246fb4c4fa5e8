"""``hierax-pop mock``: mock catalogs in seed 000's layout.

For each realization ``r`` the command draws a population from the model-parameter
JSON (``--model-params``; default :data:`DEFAULT_TRUTHS`), detects it with the
analytic detector of the pmean config (``--pmean-cfg``; default the
``analytic_pdet`` template) and writes ``DIR/realization_<r>/posteriors/event_<i>.dat``
with ``hyperparameters.json`` (the truths), ``injections.dat``, ``catalog.json`` and
``population.dat`` (see :func:`hierax.pop.mock.write_mock_catalog`; each realization is
renamed into place only when complete, so an interrupted run leaves no partial one).
``DIR/pmean.json`` and ``DIR/model_params.json`` record the configs used, so
``hierax-pop infer --pmean-cfg DIR/pmean.json`` models the same detector.

Populations without redshift are spread over the comoving volume up to the
config's ``z_max`` (sources uniform in comoving volume and source-frame time):
each source's detection probability is ``p_det`` averaged over redshift, which is
``VT(m1, m2) / (V T)``, the quantity the ``analytic_pdet`` estimator integrates.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from hierax.cli.args import model_options
from hierax.cli.errors import UserInputError, read_json_file
from hierax.cli.outputs import write_json_atomically

__all__ = ["DEFAULT_TRUTHS", "MassOnlyDetector", "default_truths", "run_mock"]

_IDX = r"_(?:pl|g)_[0-9]+"
DEFAULT_TRUTHS: tuple[tuple[str, float], ...] = (
    (r"log_rate_[0-9]+", 3.75),
    (r"alpha_pl_[0-9]+", 2.0),
    (r"beta_pl_[0-9]+", 1.0),
    (r"mmin_pl_[0-9]+", 10.0),
    (r"mmax_pl_[0-9]+", 50.0),
    (r"delta_pl_[0-9]+", 3.0),
    (r"m1_loc_g_[0-9]+", 35.0),
    (r"m2_loc_g_[0-9]+", 30.0),
    (r"m[12]_scale_g_[0-9]+", 4.0),
    (r"m[12]_low_g_[0-9]+", 2.0),
    (r"m[12]_high_g_[0-9]+", 150.0),
    (r"a_[12]_mean" + _IDX, 0.3),
    (r"a_[12]_variance" + _IDX, 0.03),
    (r"cos_tilt_zeta" + _IDX, 0.5),
    (r"cos_tilt_[12]_scale" + _IDX, 1.0),
    (r"eccentricity_loc" + _IDX, 0.0),
    (r"eccentricity_scale" + _IDX, 0.05),
    (r"eccentricity_alpha" + _IDX, 0.0),
    (r"eccentricity_low" + _IDX, 0.0),
    (r"eccentricity_high" + _IDX, 1.0),
    (r"redshift_gamma" + _IDX, 2.7),
    (r"redshift_kappa" + _IDX, 2.7),
    (r"redshift_z_peak" + _IDX, 1.9),
    (r"redshift_z_max" + _IDX, 1.5),
)
"""True hyperparameter values used when ``--model-params`` leaves them out (first match)."""

_DEFAULT_PMEAN = {"estimator_type": "analytic_pdet"}
_REDSHIFT_POINTS = 201
_BATCH_ROWS = 4096


def default_truths(names) -> dict[str, float]:
    """The built-in true value of each hyperparameter in ``names``."""
    values = {}
    for name in names:
        for pattern, value in DEFAULT_TRUTHS:
            if re.fullmatch(pattern, name):
                values[name] = value
                break
    return values


def read_model_params(path, population) -> dict[str, float]:
    """True hyperparameters: the defaults, overridden by the JSON file ``path`` (if given)."""
    names = population.hyperparameter_names
    given = {} if path is None else _given_values(path, names)
    values = {**default_truths(names), **given}
    missing = [n for n in names if n not in values]
    if missing:
        raise UserInputError(f"no value for {', '.join(missing)}; give them in --model-params")
    source = "built-in truths" if path is None else f"model-params '{path}'"
    _check_ordered_truths(population, values, set(given), source)
    try:
        population.components({k: np.float64(v) for k, v in values.items()})  # checks ranges
    except ValueError as exc:
        detail = re.sub(r"^\w+: ", "", str(exc))  # the message names the class behind it
        raise UserInputError(f"these values define no population: {detail}",
                             source=source) from None
    return {n: values[n] for n in names}


def _given_values(path, names) -> dict[str, float]:
    """The hyperparameters the JSON file ``path`` sets, checked to be finite numbers."""
    given = read_json_file(path, what="model-params")
    source = f"model-params '{path}'"
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise UserInputError(f"unknown hyperparameter(s) {', '.join(unknown)}; the model "
                             f"has {', '.join(names)}", source=source)
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise UserInputError(f"must be a finite number, got {json.dumps(value)}",
                                 source=source, key=name)
    return {name: float(value) for name, value in given.items()}


def _check_ordered_truths(population, values, given, source) -> None:
    """Bounds such as ``mmin_pl_0 < mmax_pl_0``, named with their values and origin."""
    from hierax.pop.inference import ordered_hyperparameter_pairs

    for low, high in ordered_hyperparameter_pairs(population):
        if values[low] < values[high]:
            continue
        shown = [f"{n} = {values[n]:g}" + ("" if n in given else " (built-in value)")
                 for n in (low, high)]
        raise UserInputError(f"{shown[0]} must be below {shown[1]} (the model needs "
                             f"{low} < {high})", source=source)


class MassOnlyDetector:
    """``p_det(m1, m2)`` averaged over ``z ~ dV_C/dz / (1 + z)`` on ``[0, z_max]``.

    Args:
        detector: a :class:`hierax.pop.selection.analytic.AnalyticDetector`.
        z_max: the largest redshift of the sources.

    ``volume`` is ``V = int_0^z_max dV_C/dz / (1 + z) dz`` in Gpc^3.
    """

    def __init__(self, detector, z_max: float):
        from hierax.pop.selection.proposal import redshift_volume_table

        grid, density, cumulative = redshift_volume_table(z_max, detector.cosmology,
                                                          _REDSHIFT_POINTS)
        weights = density * np.gradient(grid)
        weights[[0, -1]] *= 0.5
        self.detector = detector
        self.redshifts = grid
        self.weights = weights / weights.sum()
        self.volume = float(cumulative[-1])

    def detection_probability(self, theta, parameter_names):
        """``(N,)`` redshift-averaged ``p_det`` of the rows of ``theta (N, d)``."""
        from hierax.pop.parameters import PRIMARY_MASS, SECONDARY_MASS

        theta = np.asarray(theta, dtype=np.float64)
        names = tuple(parameter_names)
        m1 = theta[:, names.index(PRIMARY_MASS)]
        m2 = theta[:, names.index(SECONDARY_MASS)]
        out = np.empty(theta.shape[0])
        z = self.redshifts[None, :]
        for start in range(0, theta.shape[0], _BATCH_ROWS):
            rows = slice(start, start + _BATCH_ROWS)
            grid = np.stack(np.broadcast_arrays(m1[rows, None], m2[rows, None], z), axis=-1)
            p = np.asarray(self.detector.detection_probability(
                grid, (PRIMARY_MASS, SECONDARY_MASS, "redshift")))
            out[rows] = p @ self.weights
        return np.clip(out, 0.0, 1.0)


def _detector_from_pmean(path, population):
    """``(detector, volume or None, time, pmean config)`` from the pmean config."""
    from hierax.pop.selection.analytic import AnalyticDetector
    from hierax.pop.selection.config import parse_selection_config

    config = dict(_DEFAULT_PMEAN) if path is None else read_json_file(path, what="pmean config")
    source = "pmean config" if path is None else f"pmean config '{path}'"
    try:
        parsed = parse_selection_config(config)
    except (ValueError, TypeError) as exc:
        raise UserInputError(str(exc), source=source) from None
    if parsed.estimator_type != "analytic_pdet":
        raise UserInputError(f"mock catalogs need the analytic detector (estimator_type "
                             f"'analytic_pdet'), got '{parsed.estimator_type}'", source=source)
    detector = AnalyticDetector(parsed.horizon_distance, parsed.reference_chirp_mass,
                                parsed.snr_threshold, population.cosmology)
    if population.redshift is None:
        detector = MassOnlyDetector(detector, parsed.z_max)
        return detector, detector.volume, parsed.time_scale, config
    return detector, None, parsed.time_scale, config


def run_mock(args: argparse.Namespace) -> int:
    """Write ``args.num_realizations`` mock catalogs into ``args.output``."""
    import jax

    from hierax.pop.mock import make_mock_catalog, write_mock_catalog
    from hierax.pop.models import PopulationModel

    population = PopulationModel(**model_options(args))
    truths = read_model_params(args.model_params, population)
    detector, volume, time, pmean = _detector_from_pmean(args.pmean_cfg, population)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output / "pmean.json", pmean)
    write_json_atomically(output / "model_params.json", truths)
    key = jax.random.PRNGKey(args.seed)
    for realization in range(args.num_realizations):
        catalog = make_mock_catalog(jax.random.fold_in(key, realization), population, truths,
                                    detector, time, args.samples_per_event, volume=volume)
        if catalog.num_detected == 0:
            raise UserInputError("no source was detected; raise log_rate_* in --model-params "
                                 "or the detector's horizon_distance in --pmean-cfg")
        root = write_mock_catalog(catalog, output, realization)
        print(f"realization {realization}: {catalog.num_sources} sources, "
              f"{catalog.num_detected} detected -> {root}", file=sys.stdout)
    return 0
