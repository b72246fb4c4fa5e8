"""A flowMC sampler's run state as JSON metadata plus NumPy arrays, and back.

Between two strategy calls of its strategy loop, a ``flowMC.Sampler`` carries:

- its *resources*: the sample buffers (data and write cursor), the local
  kernel (its step sizes change while flowMC adapts them), the normalizing
  flow and the flow proposal holding it (their weights change in training),
  the optimizer (Adam's moments and step count) and the ``State`` resource
  (which buffers the steppers write to);
- the Python-side state of its strategies: the steppers' write cursors
  (``current_position``) and counters such as ``_call_count`` (the private
  attributes of simple type);
- the loop's rng key and the chains' last positions (kept by the caller).

:func:`encode_sampler` turns the first two into ``(meta, arrays)``: ``meta`` is
JSON, ``arrays`` a dict of lists of NumPy arrays, so both fit a
:class:`~hierax.infer.resumable.SegmentStore` segment and no pickle is needed.
:func:`restore_sampler` puts them back into a sampler freshly built with the same
settings, which serves as the *template*: a resource's pytree structure, its
non-array leaves that are not plain numbers (an activation function) and its
arrays' shapes and dtypes come from the template and are checked against the
saved ones. Array leaves come back as arrays of the same kind (JAX or NumPy),
dtype and weak type, and plain numbers as the same Python type, so compiled
flowMC steps see exactly the values and types of the run that was saved.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["encode_sampler", "restore_sampler"]

_SKIPPED = ("logpdf",)  # the user's log density: rebuilt, never changed by flowMC
_SIMPLE = (bool, int, float, str, type(None))


# -- one resource ---------------------------------------------------------------------


def _parts(resource):
    """``(tree, extra)``: the pytree of a resource's run state and its JSON extras."""
    from flowMC.resource.buffers import Buffer
    from flowMC.resource.optimizer import Optimizer
    from flowMC.resource.states import State

    if isinstance(resource, Buffer):
        return resource.data, {"cursor": int(resource.cursor)}
    if isinstance(resource, State):
        return None, {"data": dict(resource.data)}
    if isinstance(resource, Optimizer):
        return resource.optim_state, {}
    return resource, {}


def _rebuilt(template, tree, extra):
    """``template`` given the run state ``(tree, extra)`` (mutable resources in place)."""
    from flowMC.resource.buffers import Buffer
    from flowMC.resource.optimizer import Optimizer
    from flowMC.resource.states import State

    if isinstance(template, Buffer):
        template.data, template.cursor = tree, int(extra["cursor"])
        return template
    if isinstance(template, State):
        template.data = dict(extra["data"])
        return template
    if isinstance(template, Optimizer):
        template.optim_state = tree
        return template
    return tree


# -- leaves ---------------------------------------------------------------------------


def _same_object(leaf, template_leaf) -> bool:
    if leaf is template_leaf:
        return True
    try:
        return bool(leaf == template_leaf)
    except Exception:  # an object whose comparison is not a truth value
        return False


def _leaf_spec(leaf, template_leaf, arrays, where):
    """The JSON spec of one leaf; its array, if any, is appended to ``arrays``."""
    if isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
        kind = "jax" if isinstance(leaf, jax.Array) else type(leaf).__name__
        weak = bool(getattr(leaf, "weak_type", False))
        arrays.append(np.asarray(leaf))
        return {"array": len(arrays) - 1, "kind": kind, "weak": weak}
    if isinstance(leaf, _SIMPLE):
        return {"value": leaf}
    if not _same_object(leaf, template_leaf):
        raise RuntimeError(f"cannot checkpoint flowMC's {where}: its leaf {leaf!r} changed "
                           "during the run and is not an array or a number.")
    return {"kept": True}


def _encode_tree(tree, template, where):
    """``(specs, arrays)`` of the leaves of ``tree``, which must be structured as ``template``."""
    if jax.tree.structure(tree) != jax.tree.structure(template):
        raise RuntimeError(f"cannot checkpoint flowMC's {where}: its structure changed during "
                           "the run.")
    arrays = []
    specs = [_leaf_spec(leaf, t, arrays, where) for leaf, t in
             zip(jax.tree.leaves(tree), jax.tree.leaves(template), strict=True)]
    return specs, arrays


def _weak_array(value: np.ndarray):
    """A weakly typed JAX array with ``value``'s dtype and entries (as JAX makes from
    Python numbers), or a plain one where JAX makes no weak array of that dtype."""
    source = jnp.asarray(np.zeros((), value.dtype).item())
    if source.dtype != value.dtype:
        return jnp.asarray(value)
    return jax.lax.full_like(source, 0, shape=value.shape).at[...].set(value)


def _leaf(spec, arrays, template_leaf, source):
    """One leaf back from its spec, checked against the template's leaf."""
    if "value" in spec:
        return spec["value"]
    if "kept" in spec:
        return template_leaf
    value = np.asarray(arrays[spec["array"]])
    expected = np.asarray(template_leaf) if template_leaf is not None else value
    if value.shape != expected.shape or value.dtype != expected.dtype:
        raise ValueError(f"{source}: an array of shape {value.shape} and dtype {value.dtype} "
                         f"where this run has {expected.shape}, {expected.dtype}; the file "
                         "was written by a run with other settings.")
    if spec["kind"] == "jax":
        return _weak_array(value) if spec["weak"] else jnp.asarray(value)
    if spec["kind"] == "ndarray":
        return value.copy()
    return value[()]


def _decode_tree(specs, arrays, template, source):
    """The pytree structured as ``template`` with the leaves of ``specs``."""
    leaves, treedef = jax.tree.flatten(template)
    if len(specs) != len(leaves):
        raise ValueError(f"{source}: {len(specs)} saved leaves where this run has "
                         f"{len(leaves)}; the file was written by a run with other settings.")
    restored = [_leaf(s, arrays, t, source) for s, t in zip(specs, leaves, strict=True)]
    return jax.tree.unflatten(treedef, restored)


# -- the sampler ----------------------------------------------------------------------


def _strategy_state(strategy) -> dict:
    """The Python-side run state of one strategy: its write cursor and private counters."""
    attributes = getattr(strategy, "__dict__", {})
    return {name: value.item() if isinstance(value, np.generic) else value
            for name, value in attributes.items()
            if (name == "current_position" or name.startswith("_"))
            and not name.startswith("__") and isinstance(value, (*_SIMPLE, np.generic))}


def encode_sampler(sampler, templates) -> tuple[dict, dict]:
    """``(meta, arrays)`` of ``sampler``'s resources and strategies.

    Args:
        sampler: a ``flowMC.Sampler`` between two strategy calls.
        templates: its resources as built, before the run (``dict(sampler.resources)``
            right after building): the structure each resource must keep.

    Returns:
        ``meta`` (JSON: ``{"resources": {name: {"leaves": [...], **extras}},
        "strategies": {name: {attribute: value}}}``) and ``arrays``
        (``{name: [arrays]}``).
    """
    resources, arrays = {}, {}
    for name, resource in sampler.resources.items():
        if name in _SKIPPED:
            continue
        tree, extra = _parts(resource)
        template, _ = _parts(templates[name])
        specs, arrays[name] = _encode_tree(tree, template, f"resource {name!r}")
        resources[name] = {"leaves": specs, **extra}
    strategies = {name: _strategy_state(strategy)
                  for name, strategy in sampler.strategies.items()}
    return {"resources": resources,
            "strategies": {name: state for name, state in strategies.items() if state}}, arrays


def restore_sampler(sampler, meta: dict, arrays: dict, source: str) -> None:
    """Put the state of :func:`encode_sampler` back into ``sampler``.

    ``sampler`` must be freshly built with the settings of the run that was
    saved; its resources are the templates (see the module docstring).

    Raises:
        ValueError: naming ``source`` if the saved state does not fit this sampler.
    """
    saved = meta["resources"]
    expected = sorted(set(sampler.resources) - set(_SKIPPED))
    if sorted(saved) != expected:
        raise ValueError(f"{source}: the saved flowMC resources {sorted(saved)} are not this "
                         f"run's {expected}; the file was written by a run with other settings.")
    for name in expected:
        template = sampler.resources[name]
        tree = _decode_tree(saved[name]["leaves"], arrays[name], _parts(template)[0], source)
        sampler.resources[name] = _rebuilt(template, tree, saved[name])
    for name, state in meta["strategies"].items():
        strategy = sampler.strategies.get(name)
        for attribute, value in state.items():
            if strategy is None or not hasattr(strategy, attribute):
                raise ValueError(f"{source}: the saved flowMC strategy {name!r} has "
                                 f"{attribute!r}, which this run's has not.")
            setattr(strategy, attribute, value)
