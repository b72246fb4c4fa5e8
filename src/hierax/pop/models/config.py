"""Model config files: a :class:`PopulationModel` described in JSON.

The keys are :class:`PopulationModel`'s arguments (``hierax-pop infer --model-cfg``)::

    {
      "n_pl": 0, "n_plp": 1,
      "spin": true,
      "tilt": "free_mean",
      "redshift": "power_law"
    }

is PowerLaw+Peak with Beta spin magnitudes, tilts with a free mean and a power-law
redshift evolution, the GWTC-3 "default" model with a free tilt mean. Components are
counted with ``n_pl`` (power law in ``(m1, q)``), ``n_g`` (ordered Gaussians),
``n_plp`` (PowerLaw+Peak) and ``n_bp2p`` (BrokenPowerLaw+2 peaks); each has its own
``log_rate_<k>`` and shares the marginals (``spin``, ``tilt``, ``effective_spin``,
``eccentricity``, ``redshift``; ``true`` takes the first option of each). ``n_pl``
defaults to 1 when no other component is named, else to 0. Unknown keys, wrong types
and impossible combinations are errors naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pydantic

from hierax.pop.models.population import PopulationModel

__all__ = ["PopulationConfig", "parse_model_config"]

_Count = pydantic.conint(ge=0, strict=True)


class PopulationConfig(pydantic.BaseModel):
    """The validated content of a model config (module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    n_pl: _Count | None = None
    n_g: _Count = 0
    n_plp: _Count = 0
    n_bp2p: _Count = 0
    spin: pydantic.StrictBool = False
    tilt: pydantic.StrictBool | Literal["aligned", "free_mean"] = False
    effective_spin: (pydantic.StrictBool
                     | Literal["gaussian", "skew_normal", "gaussian_chi_p"]) = False
    eccentricity: pydantic.StrictBool | Literal["truncated_normal", "power_law"] = False
    redshift: pydantic.StrictBool | Literal["power_law", "madau_dickinson"] = False
    smoothing: pydantic.StrictBool = False

    def options(self) -> dict:
        """Keyword arguments of :class:`PopulationModel` (``n_pl`` resolved)."""
        values = self.model_dump()
        if values["n_pl"] is None:
            others = values["n_g"] + values["n_plp"] + values["n_bp2p"]
            values["n_pl"] = 0 if others else 1
        return values

    def population(self) -> PopulationModel:
        return PopulationModel(**self.options())


def parse_model_config(config: Mapping, *, source: str = "model config") -> PopulationConfig:
    """Validate ``config`` (a mapping from JSON); ``ValueError`` naming ``source`` and the key.

    The combination is checked by building the model, so an impossible one (no
    component, ``effective_spin`` with ``spin``) fails here, not at the first evaluation.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"{source}: expected a JSON object, got {type(config).__name__}.")
    try:
        parsed = PopulationConfig(**config)
    except pydantic.ValidationError as error:
        raise ValueError(f"{source}: {_describe(error, config)}.") from None
    try:
        parsed.population()
    except ValueError as error:
        raise ValueError(f"{source}: {str(error).removeprefix('PopulationModel: ')}") from None
    return parsed


def _describe(error: pydantic.ValidationError, config: Mapping) -> str:
    """One clause per key, with the value given; the alternatives of a union are joined
    ("should be a valid boolean or 'aligned' or 'free_mean'")."""
    by_key: dict[str, list[str]] = {}
    for item in error.errors():
        key = str(item["loc"][0]) if item["loc"] else "(top)"
        if item["type"] == "extra_forbidden":
            text = f"unknown (known: {', '.join(PopulationConfig.model_fields)})"
        else:
            text = item["msg"].removeprefix("Input should be ")
        if text not in by_key.setdefault(key, []):
            by_key[key].append(text)
    clauses = []
    for key, texts in by_key.items():
        got = f", got {config[key]!r}" if key in config else ""
        if texts[0].startswith("unknown"):
            clauses.append(f"key '{key}': {texts[0]}")
        else:
            clauses.append(f"key '{key}': should be {' or '.join(texts)}{got}")
    return "; ".join(clauses)
