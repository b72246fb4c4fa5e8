"""``hierax-pop mock``: mock catalogs in seed 000's layout.

For each realization ``r`` the command draws a population from the model-parameter
JSON (``--model-params``; default :data:`hierax.pop.defaults.DEFAULT_TRUTHS`), detects it with the
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

__all__ = ["MassOnlyDetector", "read_model_params", "run_mock"]

_REDSHIFT_POINTS = 201
_BATCH_ROWS = 4096


def read_model_params(path, population) -> dict[str, float]:
    """True hyperparameters: the defaults, overridden by the JSON file ``path`` (if given)."""
    from hierax.pop.defaults import default_truths

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
    from hierax.pop.defaults import DEFAULT_PMEAN
    from hierax.pop.selection.analytic import AnalyticDetector
    from hierax.pop.selection.config import parse_selection_config

    config = dict(DEFAULT_PMEAN) if path is None else read_json_file(path, what="pmean config")
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
    if getattr(args, "format", "text") == "lvk":
        return _run_lvk_mock(args, population, truths)
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


LVK_PMEAN_FILES = {"o3": "pmean_o3.json", "o4": "pmean_o4.json"}
"""Selection configs written into each ``--format lvk`` realization, one per injection file."""


def _lvk_campaign():
    from hierax.pop.mock_lvk_injections import InjectionCampaign

    # detector-frame masses up to 300: the LVK mass models reach 100 (the peaks' upper
    # truncation) in the source frame, (1 + z) times more at the detector. Distances
    # uniform (not ~ d_L): five times more draws where the analytic detector finds
    # sources, three times the selection N_eff of a PowerLaw+Peak catalog at equal cost.
    return InjectionCampaign(num_draws=200_000, mass_range=(2.0, 300.0), distance_power=0.0)


def _run_lvk_mock(args, population, truths) -> int:
    """``--format lvk``: :func:`hierax.pop.mock_lvk.make_lvk_mock` per realization, with
    selection configs that read its O3 and O4 injection files."""
    from hierax.pop.mock_lvk import make_lvk_mock, write_lvk_mock

    if population.redshift is None:
        raise UserInputError("--format lvk draws luminosity distances, so the population "
                             "needs a redshift: add --add-redshift", source="--format")
    if population.eccentricity is not None:
        raise UserInputError("--format lvk has no eccentricity in its PE samples; drop "
                             "--add-eccentricity", source="--format")
    detector, _, time, pmean = _detector_from_pmean(args.pmean_cfg, population)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output / "pmean.json", pmean)
    write_json_atomically(output / "model_params.json", truths)
    for realization in range(args.num_realizations):
        try:
            mock = make_lvk_mock(args.seed * 1000 + realization, population, truths,
                                 time=time, samples_per_event=args.samples_per_event,
                                 detector=detector, campaign=_lvk_campaign())
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        if mock.num_detected == 0:
            raise UserInputError("no source was detected; raise log_rate_* in --model-params "
                                 "or the detector's horizon_distance in --pmean-cfg")
        root = write_lvk_mock(mock, output, realization)
        for layout, name in LVK_PMEAN_FILES.items():
            write_json_atomically(root / name, {"estimator_type": "injection",
                                                "filename": f"{layout}_injections.hdf5",
                                                "far_cut": 1.0})
        print(f"realization {realization}: {mock.population_theta.shape[0]} sources, "
              f"{mock.num_detected} detected -> {root}", file=sys.stdout)
    return 0
