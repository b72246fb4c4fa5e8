"""Validated selection configuration (``pmean.json``) and :func:`from_config`.

The JSON object names its estimator with ``estimator_type`` and the options of
that estimator; unknown keys are an error that lists the allowed ones. Keys of
GWKokab's ``pmean.json`` (``filename``, ``time_scale``, ``num_samples``,
``batch_size``, ``far_cut``, ``snr_cut``, ``ifar_pipelines``, ``proposal_dists``,
``python_module_path``) keep their meaning. In hierax every estimator uses fixed
reference draws (``num_samples`` of them, from ``seed``), so
``proposal_dists`` may only be ``null``; the reference density is set by
``mass_range``, ``ranges`` and ``z_max`` instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Literal

import pydantic

from ..cosmology import PLANCK15, Cosmology
from ..validation import describe_validation_errors
from .analytic import AnalyticDetector, analytic_pdet
from .base import SelectionEstimator
from .custom import custom
from .injection import injection
from .neural_vt import neural_vt
from .vt_grid import vt_grid

__all__ = [
    "AnalyticPdetConfig",
    "CustomConfig",
    "InjectionConfig",
    "NeuralVTConfig",
    "VTGridConfig",
    "from_config",
    "parse_selection_config",
]


class _Config(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    batch_size: pydantic.PositiveInt | None = None


class _ReferenceDraws(_Config):
    num_samples: pydantic.PositiveInt = 100_000
    seed: int = 0
    mass_range: tuple[pydantic.PositiveFloat, pydantic.PositiveFloat] = (2.0, 200.0)
    ranges: dict[str, tuple[float, float]] | None = None


class InjectionConfig(_Config):
    """Found injections (LVK HDF5 or hierax ``.npz``), :func:`.injection`; ``filename`` may
    list several LVK files of different campaigns, which are combined."""

    estimator_type: Literal["injection"]
    filename: str | list[str]
    far_cut: pydantic.PositiveFloat = 1.0
    snr_cut: float = 10.0
    ifar_pipelines: list[str] | None = None
    snr_field: str | None = None
    spin_magnitude_max: pydantic.PositiveFloat = 0.998
    time_scale: pydantic.PositiveFloat | None = None


class AnalyticPdetConfig(_ReferenceDraws):
    """The built-in detector, :func:`.analytic_pdet`; ``time_scale`` is ``T`` in years."""

    estimator_type: Literal["analytic_pdet"]
    time_scale: pydantic.PositiveFloat = 1.0
    horizon_distance: pydantic.PositiveFloat = 1500.0
    reference_chirp_mass: pydantic.PositiveFloat = 10.0
    snr_threshold: pydantic.PositiveFloat = 8.0
    z_max: pydantic.PositiveFloat = 3.0


class NeuralVTConfig(_ReferenceDraws):
    """GWKokab neural VT, :func:`.neural_vt`."""

    estimator_type: Literal["neural_vt"]
    filename: str
    time_scale: pydantic.PositiveFloat = 1.0
    proposal_dists: None = None


class VTGridConfig(_ReferenceDraws):
    """Tabulated VT, :func:`.vt_grid` (``mass_range`` defaults to the grid's)."""

    estimator_type: Literal["vt_grid"]
    filename: str
    time_scale: pydantic.PositiveFloat = 1.0
    mass_range: tuple[pydantic.PositiveFloat, pydantic.PositiveFloat] | None = None


class CustomConfig(_ReferenceDraws):
    """A user function, :func:`.custom`: ``function`` is ``"module:fn"`` or ``"file.py:fn"``;
    alternatively ``python_module_path`` (a ``.py`` file) with ``function_name``."""

    estimator_type: Literal["custom"]
    function: str | None = None
    python_module_path: str | None = None
    function_name: str = "log_selection"
    quantity: Literal["log_vt", "log_pdet"] = "log_vt"
    time_scale: pydantic.PositiveFloat = 1.0
    z_max: pydantic.PositiveFloat = 3.0


_CONFIGS = {
    "injection": InjectionConfig,
    "analytic_pdet": AnalyticPdetConfig,
    "neural_vt": NeuralVTConfig,
    "vt_grid": VTGridConfig,
    "custom": CustomConfig,
}


def parse_selection_config(config: Mapping) -> _Config:
    """Validate a configuration mapping into one of the ``*Config`` models."""
    if not isinstance(config, Mapping):
        raise TypeError(f"selection config: expected a JSON object, got {type(config).__name__}.")
    kind = config.get("estimator_type")
    if kind not in _CONFIGS:
        raise ValueError(
            f"selection config: estimator_type must be one of {', '.join(sorted(_CONFIGS))}, "
            f"got {json.dumps(kind)}."
        )
    model = _CONFIGS[kind]
    unknown = sorted(set(config) - set(model.model_fields))
    if unknown:
        raise ValueError(
            f"selection config ({kind}): unknown keys {', '.join(unknown)}; allowed keys: "
            f"{', '.join(sorted(model.model_fields))}."
        )
    try:
        return model.model_validate(dict(config))
    except pydantic.ValidationError as error:
        details = describe_validation_errors(error.errors(include_url=False))
        raise ValueError(f"selection config ({kind}): {details}.") from None


def from_config(
    config: Mapping | str | os.PathLike,
    parameter_names: Sequence[str],
    *,
    cosmology: Cosmology = PLANCK15,
) -> SelectionEstimator:
    """Build the :class:`SelectionEstimator` a configuration (mapping or JSON file) names.

    Relative file names are looked up from the working directory, then from the
    directory of the JSON file.
    """
    base_dir = None
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        if not os.path.exists(path):
            raise ValueError(f"selection config: file {path!r} does not exist.")
        with open(path) as handle:
            try:
                config = json.load(handle)
            except json.JSONDecodeError as error:
                raise ValueError(f"selection config: {path!r} is not valid JSON: {error}") from None
        base_dir = os.path.dirname(os.path.abspath(path))
    parsed = parse_selection_config(config)
    names = tuple(parameter_names)
    return _BUILDERS[parsed.estimator_type](parsed, names, cosmology, base_dir)


def _resolve(filename: str, base_dir: str | None) -> str:
    if os.path.isabs(filename) or os.path.exists(filename) or base_dir is None:
        return filename
    return os.path.join(base_dir, filename)


def _draw_options(cfg) -> dict:
    return dict(
        num_samples=cfg.num_samples,
        seed=cfg.seed,
        mass_range=cfg.mass_range,
        ranges=cfg.ranges,
        batch_size=cfg.batch_size,
    )


def _build_injection(cfg, names, cosmology, base_dir):
    filenames = [cfg.filename] if isinstance(cfg.filename, str) else cfg.filename
    if not filenames:
        raise ValueError("selection config (injection): 'filename' lists no file.")
    resolved = [_resolve(name, base_dir) for name in filenames]
    return injection(
        resolved[0] if isinstance(cfg.filename, str) else resolved,
        names,
        far_cut=cfg.far_cut,
        snr_cut=cfg.snr_cut,
        ifar_pipelines=cfg.ifar_pipelines,
        snr_field=cfg.snr_field,
        spin_magnitude_max=cfg.spin_magnitude_max,
        time=cfg.time_scale,
        cosmology=cosmology,
        batch_size=cfg.batch_size,
    )


def _build_analytic(cfg, names, cosmology, base_dir):
    detector = AnalyticDetector(
        cfg.horizon_distance, cfg.reference_chirp_mass, cfg.snr_threshold, cosmology
    )
    return analytic_pdet(
        names, detector=detector, time=cfg.time_scale, z_max=cfg.z_max, **_draw_options(cfg)
    )


def _build_neural_vt(cfg, names, cosmology, base_dir):
    return neural_vt(
        _resolve(cfg.filename, base_dir),
        names,
        time_scale=cfg.time_scale,
        cosmology=cosmology,
        **_draw_options(cfg),
    )


def _build_vt_grid(cfg, names, cosmology, base_dir):
    return vt_grid(
        _resolve(cfg.filename, base_dir),
        names,
        time_scale=cfg.time_scale,
        cosmology=cosmology,
        **_draw_options(cfg),
    )


def _build_custom(cfg, names, cosmology, base_dir):
    if (cfg.function is None) == (cfg.python_module_path is None):
        raise ValueError(
            "selection config (custom): give exactly one of 'function' ('module:fn' or "
            "'file.py:fn') and 'python_module_path' (with 'function_name')."
        )
    target = cfg.function
    if target is None:
        target = f"{_resolve(cfg.python_module_path, base_dir)}:{cfg.function_name}"
    elif target.rpartition(":")[0].endswith(".py"):
        module, _, function = target.rpartition(":")
        target = f"{_resolve(module, base_dir)}:{function}"
    return custom(
        target,
        names,
        quantity=cfg.quantity,
        time=cfg.time_scale,
        z_max=cfg.z_max,
        cosmology=cosmology,
        **_draw_options(cfg),
    )


_BUILDERS = {
    "injection": _build_injection,
    "analytic_pdet": _build_analytic,
    "neural_vt": _build_neural_vt,
    "vt_grid": _build_vt_grid,
    "custom": _build_custom,
}
