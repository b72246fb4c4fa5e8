"""Validation errors of JSON configurations, in hierax's words.

The configuration files (``pmean.json``, the sampler JSON) are validated with
pydantic models. Its error texts name Python types and end in links to its
documentation; :func:`describe_validation_errors` turns every error into
``key 'a.b': PROBLEM (got VALUE)``, with the key dotted as in the file (and
list positions counted from 1: ``key 'mass_range', item 2: ...``).
"""

from __future__ import annotations

import json
import re

__all__ = ["describe_validation_errors", "error_key", "error_problem"]

_BOUNDS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
           "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most"),
           "multiple_of": ("multiple_of", "a multiple of")}
_EXPECTED = {
    "int": "a whole number", "float": "a number", "finite_number": "a finite number",
    "bool": "true or false", "string": "a string", "list": "a list", "tuple": "a list",
    "set": "a list", "dict": "a JSON object", "model": "a JSON object",
    "model_attributes": "a JSON object", "none_required": "null",
}
# Names pydantic gives the members of a union in an error's location, e.g.
# "list[constrained-float]": not keys of the file.
_UNION_MEMBER = re.compile(r"[\[\]-]|^(?:str|int|float|bool|none|list|dict|tuple)$")


def error_key(loc) -> str:
    """Where an error is, in words: ``"key 'mcmc.num_samples'"``, or with list positions
    counted from 1, ``"key 'mass_range', item 2"`` (the second value of that list)."""
    keys, items = [], []
    for part in loc:
        if isinstance(part, int):
            items.append(f"item {part + 1}")
        elif isinstance(part, str) and not _UNION_MEMBER.search(part) and not items:
            keys.append(part)
        elif isinstance(part, str) and not _UNION_MEMBER.search(part):
            items.append(f"key '{part}'")
    return ", ".join([f"key '{'.'.join(keys) or '(top level)'}'"] + items)


def error_problem(error: dict) -> str:
    """What is wrong, without the key or the value: ``"must be greater than 0"``."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"must be {words} {context.get(name)}"
    if kind == "literal_error":
        return f"must be {context.get('expected')}"
    if kind in ("too_short", "too_long"):
        limit = context.get("min_length" if kind == "too_short" else "max_length")
        return f"must have {'at least' if kind == 'too_short' else 'at most'} {limit} item(s)"
    stem = re.sub(r"_(type|parsing|from_float)$", "", kind)
    if kind == "int_from_float" or stem in _EXPECTED:
        return f"must be {_EXPECTED['int' if kind == 'int_from_float' else stem]}"
    message = str(error.get("msg", "is not valid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message.replace("Input should be", "must be")


def _shown(value) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def describe_validation_errors(errors, *, problem=error_problem, key=error_key) -> str:
    """One line for every error of a ``pydantic.ValidationError`` (``exc.errors()``).

    Errors of one key (e.g. one per member of a union) are merged. ``problem`` and
    ``key`` may replace :func:`error_problem` and :func:`error_key`.
    """
    merged: dict[str, tuple[list[str], object]] = {}
    for error in errors:
        name = key(error["loc"])
        problems, value = merged.setdefault(name, ([], error.get("input")))
        text = problem(error)
        if text not in problems:
            problems.append(text)
    parts = []
    for name, (problems, value) in merged.items():
        quiet = isinstance(value, dict) or any(p.startswith(("unknown key", "required key"))
                                               for p in problems)
        got = "" if quiet else f" (got {_shown(value)})"
        parts.append(f"{name}: {' or '.join(problems)}{got}")
    return "; ".join(parts)
