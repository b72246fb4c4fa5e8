"""The sampler JSON (``--sampler-cfg``): slice, NUTS or flowMC settings, validated strictly.

Slice sampling along adapted directions (:class:`hierax.infer.Slice`, the
default of ``hierax-pop infer``)::

    {"slice": {...keyword arguments of hierax.infer.Slice...},
     "mcmc": {"num_warmup": 600, "num_samples": 500, "num_chains": 4}}

NUTS (GWKokab's ``numpyro_config.json`` layout)::

    {"kernel": {...keyword arguments of hierax.infer.NUTS...},
     "mcmc": {"num_warmup": 3000, "num_samples": 1000, "num_chains": 10, "thinning": 1,
              "chain_method": "parallel", "progress_bar": true, "jit_model_args": true}}

flowMC, nested (GWKokab's ``flowMC_config.json``)::

    {"data_dump": {"n_samples": 10000},
     "bundle_config": {"n_chains": 100, "n_local_steps": 100, ..., "verbose": false}}

or flat: the keys of ``data_dump`` and ``bundle_config`` together at the top level.
A top-level ``"sampler_name"`` (``"numpyro"``, ``"flowMC"`` or ``"slice"``), as GWKokab
0.3 writes, names the sampler and must agree with the keys.

Unknown keys are errors, types are strict (``"10"`` is no integer, ``1.5`` no
count), and every error names the file and the dotted key.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from hierax.cli.errors import UserInputError, read_json_file
from hierax.pop.validation import describe_validation_errors, error_key, error_problem

__all__ = [
    "SliceConfig",
    "SliceKernelConfig",
    "FlowMCBundleConfig",
    "FlowMCConfig",
    "FlowMCDataDump",
    "McmcConfig",
    "NutsConfig",
    "NutsKernelConfig",
    "detect_sampler_kind",
    "parse_sampler_config",
]

SamplerKind = Literal["slice", "nuts", "flowmc"]
SAMPLER_KINDS = ("slice", "nuts", "flowmc")
INIT_STRATEGIES = ("init_to_uniform", "init_to_median", "init_to_mean", "init_to_feasible",
                   "init_to_sample")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _KernelConfig(_Strict):
    """Keyword arguments of a ``hierax.infer`` kernel; ``init_strategy`` names one of the
    ``hierax.infer.init_to_*`` functions."""

    init_strategy: Literal[INIT_STRATEGIES] = "init_to_uniform"

    def kernel_kwargs(self) -> dict:
        """The keyword arguments, with the init strategy as a function."""
        import hierax.infer as infer

        kwargs = self.model_dump()
        kwargs["init_strategy"] = getattr(infer, self.init_strategy)
        return kwargs


class NutsKernelConfig(_KernelConfig):
    """Keyword arguments of :class:`hierax.infer.NUTS` that a JSON file can carry.

    Defaults equal NUTS's own. ``init_strategy`` names one of the
    ``hierax.infer.init_to_*`` functions.
    """

    step_size: PositiveFloat = 1.0
    inverse_mass_matrix: list[PositiveFloat] | list[list[float]] | None = None
    adapt_step_size: bool = True
    adapt_mass_matrix: bool = True
    dense_mass: bool = False
    target_accept_prob: float = Field(0.8, gt=0.0, lt=1.0)
    trajectory_length: PositiveFloat | None = None
    max_tree_depth: int = Field(10, ge=1, le=30)
    find_heuristic_step_size: bool = False
    forward_mode_differentiation: bool = False
    regularize_mass_matrix: bool = True


class McmcConfig(_Strict):
    """Keyword arguments of :class:`hierax.infer.MCMC` that a JSON file can carry."""

    num_warmup: NonNegativeInt
    num_samples: PositiveInt
    num_chains: PositiveInt = 1
    thinning: PositiveInt = 1
    chain_method: Literal["sequential", "parallel", "vectorized"] = "sequential"
    progress_bar: bool = True
    jit_model_args: bool = False

    @model_validator(mode="after")
    def _thinning_fits(self):
        if self.thinning > self.num_samples:
            raise ValueError(f"thinning={self.thinning} exceeds num_samples="
                             f"{self.num_samples}")
        return self


class NutsConfig(_Strict):
    """A NUTS run: ``kernel`` settings (optional) and ``mcmc`` settings (required)."""

    kernel: NutsKernelConfig = NutsKernelConfig()
    mcmc: McmcConfig

    @property
    def kind(self) -> str:
        return "nuts"


class SliceKernelConfig(_KernelConfig):
    """Keyword arguments of :class:`hierax.infer.Slice` that a JSON file can carry.

    Defaults equal Slice's own.
    """

    width: PositiveFloat = 1.0
    max_steps_out: NonNegativeInt = 16
    adapt_directions: bool = True
    adapt_width: bool = True


class SliceConfig(_Strict):
    """A slice-sampling run: ``slice`` settings (optional) and ``mcmc`` settings (required)."""

    slice: SliceKernelConfig = SliceKernelConfig()
    mcmc: McmcConfig

    @property
    def kind(self) -> str:
        return "slice"


class FlowMCDataDump(_Strict):
    """What a flowMC run writes: ``n_samples`` flow draws at the end."""

    n_samples: PositiveInt = 10000
    save_chains_every_step: bool = True
    save_weighted_samples: bool = False


class FlowMCBundleConfig(_Strict):
    """The local-global sampler bundle of flowMC (Wong, Gabrié & Foreman-Mackey 2023).

    Loop and step counts are required; the rest default to flowMC's bundle
    defaults. ``condition_matrix`` is a positive scalar, a diagonal or a matrix.
    """

    n_chains: PositiveInt
    n_local_steps: PositiveInt
    n_global_steps: PositiveInt
    n_training_loops: PositiveInt
    n_production_loops: PositiveInt
    n_epochs: PositiveInt
    local_sampler_name: Literal["mala", "hmc"] = "mala"
    step_size: PositiveFloat = 0.1
    condition_matrix: PositiveFloat | list[PositiveFloat] | list[list[float]] = 1.0
    n_leapfrog: PositiveInt = 10
    chain_batch_size: NonNegativeInt = 0
    rq_spline_hidden_units: list[PositiveInt] = Field([32, 32], min_length=1)
    rq_spline_n_bins: PositiveInt = 8
    rq_spline_n_layers: PositiveInt = 4
    rq_spline_range: list[float] = Field([-10.0, 10.0], min_length=2, max_length=2)
    learning_rate: PositiveFloat = 1e-3
    batch_size: PositiveInt = 10000
    n_max_examples: PositiveInt = 10000
    history_window: PositiveInt = 100
    local_thinning: PositiveInt = 1
    global_thinning: PositiveInt = 1
    n_NFproposal_batch_size: PositiveInt = 10000
    verbose: bool = False

    @field_validator("local_sampler_name", mode="before")
    @classmethod
    def _lower_case(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rq_spline_range")
    @classmethod
    def _increasing(cls, value):
        if not value[0] < value[1]:
            raise ValueError(f"must be [low, high] with low < high, got {value}")
        return value

    @model_validator(mode="after")
    def _thinning_fits(self):
        for steps, thinning in (("n_local_steps", "local_thinning"),
                                ("n_global_steps", "global_thinning")):
            if getattr(self, thinning) > getattr(self, steps):
                raise ValueError(f"{thinning}={getattr(self, thinning)} exceeds "
                                 f"{steps}={getattr(self, steps)}")
        return self


class FlowMCConfig(_Strict):
    """A flowMC run, nested form; :func:`parse_sampler_config` also accepts the flat form."""

    data_dump: FlowMCDataDump = FlowMCDataDump()
    bundle_config: FlowMCBundleConfig

    @property
    def kind(self) -> str:
        return "flowmc"

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_form(cls, data):
        if not isinstance(data, dict) or {"data_dump", "bundle_config"} & set(data):
            return data
        dump_keys = set(FlowMCDataDump.model_fields)
        return {"data_dump": {k: v for k, v in data.items() if k in dump_keys},
                "bundle_config": {k: v for k, v in data.items() if k not in dump_keys}}


_MODELS = {"slice": SliceConfig, "nuts": NutsConfig, "flowmc": FlowMCConfig}
_NAMES = {"slice": "slice", "nuts": "NUTS", "flowmc": "flowMC"}
# GWKokab 0.3 tags its sampler configs with "sampler_name".
_SAMPLER_NAMES = {"numpyro": "nuts", "flowMC": "flowmc", "slice": "slice"}
_FLOWMC_KEYS = ({"data_dump", "bundle_config"} | set(FlowMCBundleConfig.model_fields)
                | set(FlowMCDataDump.model_fields))


def detect_sampler_kind(data: dict) -> str | None:
    """``"slice"``, ``"nuts"`` or ``"flowmc"`` from a config's top-level keys, None when
    unclear (also for ``{"mcmc": ...}`` alone, which suits slice and NUTS)."""
    keys = set(data)
    flowmc = bool(keys & _FLOWMC_KEYS)
    if "slice" in keys and "kernel" not in keys and not flowmc:
        return "slice"
    if "kernel" in keys and "slice" not in keys and not flowmc:
        return "nuts"
    if flowmc and not keys & {"kernel", "mcmc", "slice"}:
        return "flowmc"
    return None


def parse_sampler_config(config, kind: SamplerKind | None = None, *,
                         source: str | None = None, default_kind: SamplerKind | None = None
                         ) -> SliceConfig | NutsConfig | FlowMCConfig:
    """Validate a sampler config (a dict, or a path to a JSON file).

    ``kind`` is ``"slice"``, ``"nuts"`` or ``"flowmc"``; None detects it from the
    keys, and takes ``default_kind`` for ``{"mcmc": ...}`` alone. Raises
    :class:`UserInputError` naming the file and the key at fault.
    """
    if isinstance(config, dict):
        data, source = config, source or "sampler config"
    else:
        data, source = read_json_file(config, what="sampler config"), (
            source or f"sampler config '{config}'")
    data, tagged = _without_sampler_name(data, source)
    detected = detect_sampler_kind(data)
    if tagged is not None:
        if detected is not None and detected != tagged:
            raise UserInputError(f"sampler_name names {_NAMES[tagged]}, but the keys are those "
                                 f"of a {_NAMES[detected]} config", source=source)
        detected = tagged
    if kind is None:
        if detected is None and set(data) == {"mcmc"} and default_kind is not None:
            detected = default_kind
        if detected is None:
            raise UserInputError(
                "cannot tell the sampler: give {\"slice\": ..., \"mcmc\": ...} for slice "
                "sampling, {\"kernel\": ..., \"mcmc\": ...} for NUTS, or "
                "{\"data_dump\": ..., \"bundle_config\": ...} (or the flat form) for flowMC",
                source=source)
        kind = detected
    if kind not in _MODELS:
        raise ValueError(f"parse_sampler_config: kind must be one of {SAMPLER_KINDS}, got "
                         f"{kind!r}.")
    if detected is not None and detected != kind:
        raise UserInputError(f"this is a {_NAMES[detected]} config, but this command runs "
                             f"{_NAMES[kind]}", source=source)
    flat = kind == "flowmc" and not {"data_dump", "bundle_config"} & set(data)
    try:
        return _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        message = _describe_errors(exc, _MODELS[kind], flat=flat)
        raise UserInputError(message, source=source) from None


def _without_sampler_name(data: dict, source: str) -> tuple[dict, str | None]:
    """``data`` without GWKokab's ``sampler_name`` tag, and the kind the tag names."""
    if not isinstance(data, dict) or "sampler_name" not in data:
        return data, None
    name = data["sampler_name"]
    if name not in _SAMPLER_NAMES:
        raise UserInputError(f"sampler_name must be one of {sorted(_SAMPLER_NAMES)}, got "
                             f"{name!r}", source=source)
    return {k: v for k, v in data.items() if k != "sampler_name"}, _SAMPLER_NAMES[name]


def _model_at(root: type[BaseModel], path) -> type[BaseModel] | None:
    """The pydantic model class reached from ``root`` through field names in ``path``."""
    cls = root
    for part in path:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        cls = annotation
    return cls


def _describe_errors(exc: ValidationError, root: type[BaseModel], *, flat: bool = False) -> str:
    """One line describing every validation error; ``flat`` hides the nested group names."""

    def key(loc):
        parts = [p for p in loc if isinstance(p, str | int)]
        return error_key(parts[1:] if flat and len(parts) > 1 else parts)

    def problem(error):
        if error["type"] == "extra_forbidden":
            loc = [p for p in error["loc"] if isinstance(p, str | int)]
            return f"unknown key{_allowed_hint(root, loc, flat)}"
        return error_problem(error)

    return describe_validation_errors(exc.errors(include_url=False), problem=problem, key=key)


def _allowed_hint(root: type[BaseModel], loc, flat: bool) -> str:
    parent = _model_at(root, loc[:-1])
    if parent is None:
        return ""
    allowed = list(parent.model_fields)
    if flat:
        allowed = list(FlowMCDataDump.model_fields) + list(FlowMCBundleConfig.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    if parent is FlowMCConfig and str(loc[-1]) in _FLOWMC_KEYS:
        hint = " (in the nested form it belongs under data_dump or bundle_config)"
    return f"{hint}; allowed: {', '.join(allowed)}"
