"""Argument and sample checks for distributions whose bounds may be traced.

Truncated distributions and truncated power laws validate their parameters
eagerly when they are concrete (even inside an enclosing trace) and skip the
checks that need values only known at run time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.distributions.distribution import Distribution
from hierax.distributions.util import is_concrete


def _validate_if_concrete(dist, value):
    """Warn about out-of-support values unless the support has traced bounds."""
    if all(is_concrete(leaf) for leaf in jax.tree_util.tree_leaves(dist.support)):
        with jax.ensure_compile_time_eval():
            Distribution._validate_sample(dist, value)


def _check_concrete_args(dist):
    """Argument checks, run eagerly even while an enclosing function is traced."""
    with jax.ensure_compile_time_eval():
        Distribution._check_args(dist)
        low, high = getattr(dist, "low", None), getattr(dist, "high", None)
        if low is None or high is None or not (is_concrete(low) and is_concrete(high)):
            return
        if not bool(jnp.all(jnp.asarray(low) < jnp.asarray(high))):
            raise ValueError(
                f"{type(dist).__name__}: parameter `low` must be smaller than `high`, got "
                f"low={_describe(low)}, high={_describe(high)}."
            )


def _describe(value):
    return repr(jnp.asarray(value).tolist()) if jnp.size(value) <= 8 else (
        f"an array of shape {jnp.shape(value)}"
    )
