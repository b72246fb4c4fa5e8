"""Sampler states as a JSON structure plus named arrays, and back.

A sampler state is a pytree of arrays held in NamedTuples, tuples, lists and
dicts (a :class:`~hierax.infer.mcmc.ChainState`). :func:`encode_state` turns it
into a JSON-serialisable ``structure`` and a flat dict of NumPy arrays keyed by
each leaf's dotted path (``kernel_state.position``); :func:`decode_state`
rebuilds the pytree. Both the run files of :mod:`hierax.infer.checkpoint`
(NetCDF) and the checkpoint segments of ``hierax-pop infer`` (``.npz``) store
states this way.

Structure nodes: ``{"type": "namedtuple", "class": "module:qualname",
"fields": [...], "children": [...]}``, ``{"type": "tuple" | "list",
"children": [...]}``, ``{"type": "dict", "keys": [...], "children": [...]}``,
``{"type": "none"}`` or ``{"type": "array", "name": ..., "dtype": ...,
"key_impl": ...}``. Typed keys (``jax.random.key``) are stored as their raw
``uint32`` key data and ``key_impl`` records their implementation.

Decoding imports each NamedTuple class by its recorded path and checks its
fields, so only decode states you trust.
"""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["class_path", "decode_state", "encode_state"]


def class_path(cls) -> str:
    """``"module:qualname"`` of a class, as recorded in a structure."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _encode_leaf(leaf, path, arrays):
    spec = {"type": "array", "name": path}
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        spec["key_impl"] = str(jax.random.key_impl(leaf))
        leaf = jax.random.key_data(leaf)
    value = np.asarray(leaf)
    spec["dtype"] = value.dtype.str
    arrays[path] = value
    return spec


def _encode_tree(node, path, arrays):
    def child(key):
        return f"{path}.{key}" if path else str(key)

    if node is None:
        return {"type": "none"}
    if _is_namedtuple(node):
        return {"type": "namedtuple", "class": class_path(type(node)),
                "fields": list(node._fields),
                "children": [_encode_tree(v, child(f), arrays)
                             for f, v in zip(node._fields, node, strict=True)]}
    if isinstance(node, (tuple, list)):
        return {"type": type(node).__name__,
                "children": [_encode_tree(v, child(i), arrays) for i, v in enumerate(node)]}
    if isinstance(node, dict):
        if not all(isinstance(k, str) for k in node):
            raise TypeError(f"save: the state has a dict with non-string keys at {path!r}.")
        keys = sorted(node)
        return {"type": "dict", "keys": keys,
                "children": [_encode_tree(node[k], child(k), arrays) for k in keys]}
    if isinstance(node, (jax.Array, np.ndarray, np.generic, bool, int, float)):
        return _encode_leaf(node, path, arrays)
    raise TypeError(
        f"save: cannot store a {type(node).__name__} at {path!r} of the sampler state; "
        "states hold arrays in NamedTuples, tuples, lists and dicts."
    )


def encode_state(state) -> tuple[dict, dict[str, np.ndarray]]:
    """``(structure, arrays)`` of the pytree ``state``.

    ``structure`` is JSON-serialisable; ``arrays`` maps each leaf's dotted path
    to a NumPy array (typed keys as raw key data).

    Raises:
        TypeError: for a leaf that is not an array or a Python number, or a
            dict with non-string keys.
    """
    arrays: dict[str, np.ndarray] = {}
    structure = _encode_tree(state, "", arrays)
    return structure, arrays


def _import_class(path, source):
    module_name, _, qualname = path.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ValueError(
            f"{source}: the saved sampler state uses the class {path}, which cannot be "
            f"imported here ({error}); the file was written by a different hierax or "
            "kernel version."
        ) from error
    return target


def _decode_namedtuple(spec, children, source):
    cls = _import_class(spec["class"], source)
    fields = tuple(spec["fields"])
    if not (isinstance(cls, type) and issubclass(cls, tuple)
            and getattr(cls, "_fields", None) == fields):
        actual = getattr(cls, "_fields", None)
        raise ValueError(
            f"{source}: the saved sampler state has {spec['class']} with fields "
            f"{list(fields)}, but that class here has fields {actual}; the file was written "
            "by a different hierax or kernel version."
        )
    return cls(*children)


def decode_state(structure: dict, arrays, source: str = "state"):
    """The pytree described by ``structure``, with leaves taken from ``arrays``.

    Args:
        structure: from :func:`encode_state`.
        arrays: mapping dotted path -> array.
        source: names the file in error messages.

    Raises:
        ValueError: if a class cannot be imported or has other fields, a leaf is
            missing, or a node type is unknown.
    """
    kind = structure["type"]
    if kind == "none":
        return None
    if kind == "array":
        name = structure["name"]
        if name not in arrays:
            raise ValueError(f"{source}: the saved sampler state has no array {name!r}.")
        value = np.asarray(arrays[name], dtype=np.dtype(structure["dtype"]))
        if "key_impl" in structure:
            return jax.random.wrap_key_data(value, impl=structure["key_impl"])
        return value
    children = [decode_state(c, arrays, source) for c in structure.get("children", [])]
    if kind == "namedtuple":
        return _decode_namedtuple(structure, children, source)
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(structure["keys"], children, strict=True))
    raise ValueError(f"{source}: unknown node type {kind!r} in the saved sampler state.")
