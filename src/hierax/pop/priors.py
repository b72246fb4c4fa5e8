"""Hyperparameter priors from a JSON configuration (the ``--prior-cfg`` file).

Each key of the configuration maps one or more hyperparameters of a population
model to one of three forms:

* ``{"dist": NAME, ARG: VALUE, ...}``: a free hyperparameter drawn from the
  :mod:`hierax.distributions` family ``NAME`` (continuous, scalar arguments
  only). An argument given as a string names another hyperparameter, so a bound
  may follow another parameter, e.g. ``{"dist": "Uniform", "low": "mmin_pl_0",
  "high": 100}``.
* a number: the hyperparameter is fixed to that constant.
* a string: the hyperparameter is tied to (equal to) the named one.

Keys are regular expressions matched in full against the model's hyperparameter
names (``"alpha_pl_[0-9]+"``); a key equal to a name wins over any regular
expression, and two regular expressions matching one name is an error. A key
that matches no name is an error; a regular expression whose every match has
an exact key of its own sets nothing and is reported with an
:class:`UnusedPriorKeyWarning`. The parsed :class:`PriorSpec` lists the
hyperparameters in an order where every parameter comes after the ones it
depends on; a dependency cycle is an error.

Inside a hierax model, :func:`sample_hyperparameters` draws the free
hyperparameters with ``sample`` sites and records constants and ties with
``deterministic`` sites, so a posterior holds every hyperparameter name.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import jax.numpy as jnp

import hierax.distributions as dist
from hierax.distributions import constraints
from hierax.pop.data import InputWarning
from hierax.primitives import deterministic, sample

__all__ = [
    "PriorEntry",
    "PriorFamily",
    "PriorSpec",
    "UnusedPriorKeyWarning",
    "log_prior",
    "parse_prior_config",
    "prior_families",
    "sample_hyperparameters",
]


class UnusedPriorKeyWarning(InputWarning):
    """A prior configuration key that sets no hyperparameter: every name its regular
    expression matches has an exact key of its own."""


# Distributions that are no priors: improper factors, point masses, the base class.
_NOT_PRIORS = {"Distribution", "Delta", "Unit", "ImproperUniform"}
# Factory functions of continuous families: name -> (untruncated family, extra bounds).
_TRUNCATED_FACTORIES = {"TruncatedNormal": "Normal", "TruncatedCauchy": "Cauchy"}
# Argument pairs that must satisfy first < second for every value of the parents.
_BOUND_PAIRS = (("low", "high"),)


@dataclasses.dataclass(frozen=True)
class PriorFamily:
    """A distribution family usable in a prior configuration.

    ``arguments`` are the accepted argument names (constructor order),
    ``required`` those a configuration must give, ``constraints`` the argument constraints.
    """

    name: str
    constructor: object
    arguments: tuple[str, ...]
    required: tuple[str, ...]
    constraints: Mapping[str, constraints.Constraint]


def _constructor_arguments(fn) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all argument names, required ones) of a constructor, without validate_args.

    Only arguments defaulting to None (optional truncation bounds) may be left
    out of a prior: numeric defaults such as ``Normal(scale=1)`` must be explicit.
    """
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.name not in ("self", "validate_args")
    ]
    names = tuple(p.name for p in params)
    required = tuple(p.name for p in params if p.default is not None)
    return names, required


def _class_family(name: str, cls) -> PriorFamily | str:
    """The family of a distribution class, or the reason it cannot be a prior."""
    support = inspect.getattr_static(cls, "support", None)
    if getattr(support, "is_discrete", False):
        return "it is discrete (hyperparameter priors must be continuous)"
    if getattr(support, "event_dim", 0) != 0:
        return "it is not a distribution over one scalar"
    arg_constraints = dict(getattr(cls, "arg_constraints", {}))
    names, required = _constructor_arguments(cls.__init__)
    extra = [n for n in names if n not in arg_constraints]
    non_scalar = [n for n, c in arg_constraints.items() if c.event_dim != 0]
    if extra or non_scalar or not names:
        return f"its arguments are not all scalars ({', '.join(names) or 'none'})"
    return PriorFamily(name, cls, names, required, arg_constraints)


@functools.lru_cache(maxsize=1)
def prior_families() -> tuple[dict[str, PriorFamily], dict[str, str]]:
    """(accepted families by name, reason for every other ``hierax.distributions`` name)."""
    accepted: dict[str, PriorFamily] = {}
    rejected: dict[str, str] = {}
    for name in dist.__all__:
        obj = getattr(dist, name)
        if name in _NOT_PRIORS:
            rejected[name] = "it is not a proper prior distribution"
        elif name in _TRUNCATED_FACTORIES:
            base = getattr(dist, _TRUNCATED_FACTORIES[name])
            names, required = _constructor_arguments(obj)
            bounds = {"low": constraints.real, "high": constraints.real}
            accepted[name] = PriorFamily(
                name, obj, names, required, {**base.arg_constraints, **bounds}
            )
        elif inspect.isclass(obj) and issubclass(obj, dist.Distribution):
            family = _class_family(name, obj)
            if isinstance(family, str):
                rejected[name] = family
            else:
                accepted[name] = family
        elif hasattr(dist, f"{name}Probs"):
            rejected[name] = "it is discrete (hyperparameter priors must be continuous)"
        elif callable(obj) and name[:1].isupper():
            rejected[name] = "its arguments are not all scalars"
        else:
            rejected[name] = "it is not a distribution"
    return accepted, rejected


@dataclasses.dataclass(frozen=True)
class PriorEntry:
    """The prior of one hyperparameter.

    ``kind`` is ``"free"`` (drawn from ``family`` with ``arguments``: pairs of
    argument name and float or referenced hyperparameter name), ``"constant"``
    (fixed to ``value``) or ``"tied"`` (equal to hyperparameter ``target``).
    ``key`` is the configuration key the entry came from.
    """

    name: str
    key: str
    kind: str
    family: str | None = None
    arguments: tuple[tuple[str, float | str], ...] = ()
    value: float | None = None
    target: str | None = None

    @property
    def references(self) -> tuple[str, ...]:
        """Names of the hyperparameters this entry depends on."""
        if self.kind == "tied":
            return (self.target,)
        return tuple(v for _, v in self.arguments if isinstance(v, str))


@dataclasses.dataclass(frozen=True)
class PriorSpec:
    """A parsed prior configuration (hashable, usable as a static argument).

    ``entries`` come in dependency order; ``hyperparameter_names`` in the model's order.
    ``config_json`` is the configuration as given, for provenance.
    """

    entries: tuple[PriorEntry, ...]
    hyperparameter_names: tuple[str, ...]
    source: str = "prior config"
    config_json: str = "{}"

    def entry(self, name: str) -> PriorEntry:
        for item in self.entries:
            if item.name == name:
                return item
        raise KeyError(f"{self.source}: no hyperparameter named {name!r}.")

    def _names(self, kind: str) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries if e.kind == kind)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Hyperparameters drawn from a distribution, in dependency order."""
        return self._names("free")

    @property
    def constant_names(self) -> tuple[str, ...]:
        return self._names("constant")

    @property
    def tied_names(self) -> tuple[str, ...]:
        return self._names("tied")

    @property
    def config(self) -> dict:
        """The configuration as given (a fresh dict)."""
        return json.loads(self.config_json)

    def distribution(self, name: str, values: Mapping[str, object]):
        """The prior distribution of free hyperparameter ``name``.

        ``values`` supplies the hyperparameters its arguments refer to (scalars).
        """
        item = self.entry(name)
        if item.kind != "free":
            raise ValueError(
                f"{self.source}: {name!r} is {item.kind}, not drawn from a distribution."
            )
        family = prior_families()[0][item.family]
        kwargs = {arg: values[v] if isinstance(v, str) else v for arg, v in item.arguments}
        return family.constructor(**kwargs)

    def resolve(self, values: Mapping[str, object]) -> dict[str, object]:
        """All hyperparameters, from ``values`` of the free ones (constants and ties added)."""
        missing = [n for n in self.free_names if n not in values]
        if missing:
            raise ValueError(f"{self.source}: values missing for {', '.join(missing)}.")
        out = dict(values)
        for item in self.entries:
            if item.kind == "constant":
                out[item.name] = jnp.asarray(item.value)
            elif item.kind == "tied":
                out[item.name] = out[item.target]
        return out


def sample_hyperparameters(spec: PriorSpec) -> dict[str, object]:
    """Draw every hyperparameter inside a hierax model; returns ``{name: scalar}``.

    Free hyperparameters become ``sample`` sites; constants and ties become
    ``deterministic`` sites, so every name appears in the posterior.
    """
    values: dict[str, object] = {}
    for item in spec.entries:
        if item.kind == "free":
            values[item.name] = sample(item.name, spec.distribution(item.name, values))
        elif item.kind == "constant":
            values[item.name] = deterministic(item.name, jnp.asarray(item.value))
        else:
            values[item.name] = deterministic(item.name, values[item.target])
    return values


def log_prior(spec: PriorSpec, values: Mapping[str, object]):
    """Sum of the free hyperparameters' prior log densities (``-inf`` outside the support).

    ``values`` holds at least the free hyperparameters (scalars, possibly traced).
    """
    full = spec.resolve(values)
    total = 0.0
    for name in spec.free_names:
        total = total + spec.distribution(name, full).log_prob(full[name])
    return total


# ----------------------------------------------------------------------------
# Parsing.


def parse_prior_config(
    config, hyperparameter_names: Iterable[str], *, ordered_pairs: Iterable[tuple[str, str]] = ()
) -> PriorSpec:
    """Parse a prior configuration (a dict, or a path to a JSON file) for a model.

    ``hyperparameter_names`` are the names the model reads. ``ordered_pairs``
    lists pairs ``(a, b)`` the model needs with ``a < b`` (e.g. ``("mmin_pl_0",
    "mmax_pl_0")``): a prior under which ``a >= b`` always holds is an error.
    Raises ``ValueError``/``TypeError`` naming the file and the key at fault.
    """
    data, source = _load_config(config)
    names = _check_names(hyperparameter_names, source)
    parsed = {key: _parse_value(key, value, source) for key, value in data.items()}
    matched = _match_keys(list(data), names, source)
    entries = {n: dataclasses.replace(parsed[matched[n]], name=n) for n in names}
    _check_references(entries, names, source)
    ordered = _dependency_order(entries, names, source)
    ranges = _value_ranges(ordered)
    _check_bounds(ordered, ranges, source)
    _check_ordered_pairs(ordered_pairs, ranges, names, source)
    return PriorSpec(tuple(ordered), names, source, json.dumps(data, sort_keys=True))


def _load_config(config) -> tuple[dict, str]:
    if isinstance(config, str | Path):
        path = Path(config)
        source = f"prior config '{path}'"
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ValueError(f"{source}: file not found.") from None
        except OSError as exc:
            raise ValueError(f"{source}: cannot be read ({exc.strerror}).") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            ) from None
    elif isinstance(config, Mapping):
        data, source = dict(config), "prior config"
    else:
        raise TypeError(
            f"prior config must be a dict or a path to a JSON file, got {type(config).__name__}."
        )
    if not isinstance(data, dict):
        raise ValueError(
            f"{source}: the top level must be a JSON object mapping names to "
            f"priors, got {type(data).__name__}."
        )
    if not data:
        raise ValueError(f"{source}: is empty; it needs a prior for every hyperparameter.")
    return data, source


def _check_names(hyperparameter_names, source) -> tuple[str, ...]:
    names = tuple(hyperparameter_names)
    if not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{source}: hyperparameter names must be non-empty strings, got {names!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: duplicate hyperparameter names in {names!r}.")
    return names


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_value(key: str, value, source: str) -> PriorEntry:
    where = f"{source}: key '{key}'"
    if isinstance(value, dict):
        return _parse_distribution(key, value, where)
    if _is_number(value):
        if not math.isfinite(value):
            raise ValueError(f"{where}: a constant must be finite, got {value}.")
        return PriorEntry(name=key, key=key, kind="constant", value=float(value))
    if isinstance(value, str) and value:
        return PriorEntry(name=key, key=key, kind="tied", target=value)
    raise TypeError(
        f'{where}: expected {{"dist": NAME, ...}}, a number (constant) or a '
        f"hyperparameter name (tie), got {json.dumps(value)}."
    )


def _family_or_error(name, where) -> PriorFamily:
    accepted, rejected = prior_families()
    if not isinstance(name, str) or not name:
        raise ValueError(f'{where}: needs "dist": the name of a distribution, e.g. "Uniform".')
    if name in accepted:
        return accepted[name]
    if name in rejected:
        raise ValueError(f"{where}: distribution '{name}' cannot be a prior: {rejected[name]}.")
    by_lower = {n.lower(): n for n in accepted}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(by_lower[c]) for c in close)}? " if close else ""
    raise ValueError(
        f"{where}: unknown distribution '{name}'; {hint}accepted: {', '.join(sorted(accepted))}."
    )


def _parse_distribution(key: str, value: dict, where: str) -> PriorEntry:
    arguments = dict(value)
    family = _family_or_error(arguments.pop("dist", None), where)
    expected = f"{family.name} takes {', '.join(family.arguments)}"
    unknown = [a for a in arguments if a not in family.arguments]
    if unknown:
        raise ValueError(f"{where}: unknown argument(s) {', '.join(unknown)}; {expected}.")
    missing = [a for a in family.required if a not in arguments]
    if missing:
        raise ValueError(f"{where}: missing argument(s) {', '.join(missing)}; {expected}.")
    for arg, v in arguments.items():
        if not (_is_number(v) or (isinstance(v, str) and v)):
            raise TypeError(
                f"{where}: argument '{arg}' must be a number or a hyperparameter "
                f"name, got {json.dumps(v)}."
            )
        if _is_number(v) and not math.isfinite(v):
            raise ValueError(f"{where}: argument '{arg}' must be finite, got {v}.")
    args = tuple((a, v if isinstance(v, str) else float(v)) for a, v in arguments.items())
    _check_numeric_arguments(family, args, where)
    return PriorEntry(name=key, key=key, kind="free", family=family.name, arguments=args)


def _check_numeric_arguments(family: PriorFamily, args, where: str) -> None:
    """Check concrete arguments against the family's constraints (all of them if possible)."""
    for arg, v in args:
        constraint = family.constraints.get(arg)
        if isinstance(v, str) or constraint is None or constraints.is_dependent(constraint):
            continue
        if not bool(constraint(jnp.asarray(v))):
            raise ValueError(f"{where}: argument '{arg}'={v} is outside its domain ({constraint}).")
    if any(isinstance(v, str) for _, v in args):
        return
    try:
        family.constructor(**dict(args), validate_args=True)
    except ValueError as exc:
        detail = re.sub(r"^\w+: ", "", str(exc))  # the message names the class behind it
        raise ValueError(f"{where}: invalid arguments of {family.name}: {detail}") from None


def _match_keys(keys: list[str], names: tuple[str, ...], source: str) -> dict[str, str]:
    """Map each hyperparameter name to its configuration key (exact match first)."""
    patterns = {}
    for key in keys:
        try:
            patterns[key] = re.compile(key)
        except re.error as exc:
            raise ValueError(
                f"{source}: key '{key}' is not a valid regular expression ({exc})."
            ) from None
    matched, used = {}, set()
    for name in names:
        hits = [k for k, p in patterns.items() if p.fullmatch(name)]
        used.update(hits)
        if name in patterns:
            matched[name] = name
        elif len(hits) > 1:
            raise ValueError(
                f"{source}: hyperparameter '{name}' matches several keys "
                f"({', '.join(repr(h) for h in hits)}); make them disjoint or "
                "add an exact key."
            )
        elif hits:
            matched[name] = hits[0]
    unused = [k for k in keys if k not in used]
    if unused:
        hints = [f"'{k}'" + _suggest(k, names) for k in unused]
        raise ValueError(
            f"{source}: key(s) {', '.join(hints)} match no hyperparameter of "
            f"the model; its hyperparameters are {', '.join(names)}."
        )
    missing = [n for n in names if n not in matched]
    if missing:
        raise ValueError(
            f"{source}: no prior for hyperparameter(s) {', '.join(missing)}; "
            "add a key for each (a distribution, a number or a tie)."
        )
    _warn_shadowed_keys(set(matched.values()), patterns, names, source)
    return matched


def _warn_shadowed_keys(chosen: set[str], patterns, names, source: str) -> None:
    """Warn about regular-expression keys that match only names that have exact keys."""
    for key, pattern in patterns.items():
        if key in chosen:
            continue
        hits = [n for n in names if pattern.fullmatch(n)]
        warnings.warn(
            f"{source}: key '{key}' is not used: every hyperparameter it matches "
            f"({', '.join(hits)}) has a key of its own, which wins over a regular "
            "expression; remove the key or the exact keys.",
            UnusedPriorKeyWarning,
            stacklevel=4,
        )


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_references(entries: dict[str, PriorEntry], names, source: str) -> None:
    for name, item in entries.items():
        for ref in item.references:
            if ref not in entries:
                raise ValueError(
                    f"{source}: key '{item.key}' (for '{name}') refers to "
                    f"'{ref}', which is no hyperparameter of the model"
                    f"{_suggest(ref, names)}."
                )
            if ref == name:
                raise ValueError(f"{source}: key '{item.key}': '{name}' refers to itself.")


def _dependency_order(entries: dict[str, PriorEntry], names, source) -> list[PriorEntry]:
    """Entries with every parameter after those it refers to; stable in ``names`` order."""
    ordered, done, visiting = [], set(), []

    def visit(name):
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name) :] + [name]
            raise ValueError(
                f"{source}: the priors refer to each other in a cycle: {' -> '.join(cycle)}."
            )
        visiting.append(name)
        for ref in entries[name].references:
            visit(ref)
        visiting.pop()
        done.add(name)
        ordered.append(entries[name])

    for name in names:
        visit(name)
    return ordered


def _support_bound(item: PriorEntry, ranges, side: int) -> float:
    """Lower (side 0) or upper (side 1) end of a free entry's support, parents at their ends."""
    family = prior_families()[0][item.family]
    kwargs = {a: ranges[v][side] if isinstance(v, str) else v for a, v in item.arguments}
    if not all(math.isfinite(v) for v in kwargs.values()):
        return -math.inf if side == 0 else math.inf
    try:
        support = family.constructor(**kwargs, validate_args=False).support
        bound = getattr(support, "lower_bound" if side == 0 else "upper_bound")
        return float(bound)
    except (AttributeError, ValueError, TypeError):
        return -math.inf if side == 0 else math.inf


def _value_ranges(ordered: list[PriorEntry]) -> dict[str, tuple[float, float]]:
    """An interval holding every value each hyperparameter can take under the prior."""
    ranges: dict[str, tuple[float, float]] = {}
    for item in ordered:
        if item.kind == "constant":
            ranges[item.name] = (item.value, item.value)
        elif item.kind == "tied":
            ranges[item.name] = ranges[item.target]
        else:
            ranges[item.name] = (_support_bound(item, ranges, 0), _support_bound(item, ranges, 1))
    return ranges


def _check_bounds(ordered: list[PriorEntry], ranges, source: str) -> None:
    """Bounds that follow other parameters must keep ``low < high`` for every parent value."""
    for item in ordered:
        args = dict(item.arguments)
        for low, high in _BOUND_PAIRS:
            if low not in args or high not in args:
                continue
            lo_max = ranges[args[low]][1] if isinstance(args[low], str) else args[low]
            hi_min = ranges[args[high]][0] if isinstance(args[high], str) else args[high]
            if lo_max >= hi_min:
                raise ValueError(
                    f"{source}: key '{item.key}' (for '{item.name}'): `{low}` "
                    f"({args[low]}, up to {lo_max:g}) can reach `{high}` ({args[high]}, "
                    f"down to {hi_min:g}); the prior needs {low} < {high} for every value "
                    "of the parameters it refers to."
                )


def _check_ordered_pairs(pairs, ranges, names, source: str) -> None:
    for first, second in pairs:
        if first not in ranges or second not in ranges:
            continue
        if ranges[first][0] >= ranges[second][1]:
            raise ValueError(
                f"{source}: '{first}' (at least {ranges[first][0]:g}) can never be below "
                f"'{second}' (at most {ranges[second][1]:g}); the model needs "
                f"{first} < {second}."
            )
