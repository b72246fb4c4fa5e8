"""Independent blocks of columns joined into one vector-valued distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.util import broadcast_shape

__all__ = ["ProductDistribution"]


def _width(dist: Distribution) -> int:
    if dist.event_shape == ():
        return 1
    if len(dist.event_shape) == 1:
        return dist.event_shape[0]
    raise ValueError(
        "ProductDistribution: blocks must have event_shape () or (k,), got "
        f"{type(dist).__name__} with event_shape {dist.event_shape}."
    )


class _BlockSupport(constraints.Constraint):
    """Each block of columns lies in its block's support (event_dim 1)."""

    event_dim = 1
    _data_fields = ("supports",)

    def __init__(self, supports, widths):
        self.supports = tuple(supports)
        self.widths = tuple(widths)

    def __call__(self, x):
        ok = None
        for support, (start, width) in zip(self.supports, _spans(self.widths), strict=True):
            block = x[..., start : start + width]
            inside = support(block[..., 0]) if support.event_dim == 0 else support(block)
            ok = inside if ok is None else ok & inside
        return ok

    def feasible_like(self, prototype):
        parts = []
        for support, (start, width) in zip(self.supports, _spans(self.widths), strict=True):
            block = prototype[..., start : start + width]
            if support.event_dim == 0:
                parts.append(support.feasible_like(block[..., 0])[..., None])
            else:
                parts.append(support.feasible_like(block))
        return jnp.concatenate(parts, axis=-1)


def _spans(widths):
    start = 0
    for width in widths:
        yield start, width
        start += width


class ProductDistribution(Distribution):
    """Independent distributions over consecutive blocks of the columns of one vector.

    ``log_prob(x) = sum_b blocks[b].log_prob(x[..., cols_b])``; each block has
    ``event_shape`` ``()`` (one column) or ``(k,)`` (``k`` columns). The
    ``event_shape`` is ``(sum of widths,)``, the ``batch_shape`` the broadcast of
    the blocks' batch shapes.

    Args:
        blocks: sequence of distributions, in column order.
    """

    arg_constraints = {}
    pytree_aux_fields = ("widths",)

    def __init__(self, blocks, *, validate_args=None):
        blocks = tuple(blocks)
        if not blocks or not all(isinstance(b, Distribution) for b in blocks):
            raise TypeError(
                "ProductDistribution: blocks must be a non-empty sequence of Distributions."
            )
        self.blocks = blocks
        self.widths = tuple(_width(b) for b in blocks)
        batch_shape = broadcast_shape(*(b.batch_shape for b in blocks))
        super().__init__(batch_shape, (sum(self.widths),), validate_args=validate_args)

    @property
    def support(self):
        return _BlockSupport([b.support for b in self.blocks], self.widths)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        if value.shape[-1:] != self.event_shape:
            raise ValueError(
                f"ProductDistribution.log_prob: value must end in {self.event_shape[0]} "
                f"columns, got shape {value.shape}."
            )
        total = 0.0
        for block, (start, width) in zip(self.blocks, _spans(self.widths), strict=True):
            columns = value[..., start : start + width]
            total = total + block.log_prob(columns[..., 0] if block.event_shape == () else columns)
        return total

    def sample(self, key, sample_shape=()):
        keys = jax.random.split(key, len(self.blocks))
        shape = tuple(sample_shape) + self.batch_shape
        parts = []
        for block, block_key, width in zip(self.blocks, keys, self.widths, strict=True):
            draw = block.sample(block_key, sample_shape)
            draw = draw[..., None] if block.event_shape == () else draw
            parts.append(jnp.broadcast_to(draw, shape + (width,)))
        dtype = jnp.result_type(*parts)
        return jnp.concatenate([p.astype(dtype) for p in parts], axis=-1)
