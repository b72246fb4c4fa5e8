"""Small numerical and shape helpers shared by the distribution families."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "broadcast_shape",
    "clamp_probs",
    "is_concrete",
    "lazy_property",
    "promote_shapes",
    "safe_where",
    "sum_rightmost",
]


def is_concrete(x) -> bool:
    """Whether ``x`` holds a concrete value (not a JAX tracer), so it can be inspected."""
    return not isinstance(x, jax.core.Tracer)


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """The NumPy broadcast of ``shapes``; raises ``ValueError`` naming them if incompatible."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError as err:
        raise ValueError(f"shapes {', '.join(map(str, shapes))} cannot be broadcast") from err


def promote_shapes(*args, shape=()):
    """Left-pad the shapes of ``args`` with ones so they have equal rank.

    Python scalars are returned unchanged (they broadcast for free), which keeps
    weak typing: ``Normal(0.0, 1.0)`` stays in the default float precision.
    """
    if len(args) < 2 and not shape:
        return args
    shapes = [jnp.shape(a) for a in args]
    ndim = len(broadcast_shape(shape, *shapes))
    out = []
    for a, s in zip(args, shapes, strict=True):
        if len(s) < ndim and not isinstance(a, (int, float)):
            a = jnp.reshape(a, (1,) * (ndim - len(s)) + tuple(s))
        out.append(a)
    return out


def sum_rightmost(x, n: int):
    """Sum the ``n`` rightmost dimensions of ``x`` (``n`` may be 0)."""
    if n <= 0:
        return x
    return jnp.sum(x, axis=tuple(range(-n, 0)))


def clamp_probs(probs):
    """Clip probabilities to ``[eps, 1 - eps]`` for the array's dtype."""
    eps = jnp.finfo(jnp.result_type(probs, float)).eps
    return jnp.clip(probs, eps, 1 - eps)


def safe_where(condition, compute, value, safe_input, *args):
    """``where(condition, compute(*args), value)`` with finite gradients everywhere.

    ``compute`` is evaluated at ``safe_input`` wherever ``condition`` is false, so
    that a branch that would be ``inf`` or ``nan`` there cannot poison the
    gradient through ``jnp.where`` (the "double where" idiom).

    Args:
        condition: boolean array, where ``compute`` applies.
        compute: function of ``*args`` (first arg replaced where unsafe).
        value: the result where ``condition`` is false.
        safe_input: a value of the first argument at which ``compute`` is finite.
    """
    first = jnp.where(condition, args[0], safe_input)
    return jnp.where(condition, compute(first, *args[1:]), value)


class lazy_property:
    """A property computed once per instance and cached in its ``__dict__``."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = self.fn(obj)
        # Never cache a traced value: the instance may outlive the trace.
        if all(is_concrete(leaf) for leaf in jax.tree_util.tree_leaves(value)):
            obj.__dict__[self.fn.__name__] = value
        return value
