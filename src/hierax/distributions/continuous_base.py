"""Shared machinery of the continuous univariate families.

Every family in :mod:`hierax.distributions.continuous` has scalar events and a
batch shape equal to the broadcast of its parameter shapes. The base class here
stores the parameters (left-padded to a common rank, dtypes untouched), works
out the floating dtype that draws and densities use, and offers the helpers
that keep densities ``-inf`` outside a bounded support with finite gradients.
"""

from __future__ import annotations

import jax.numpy as jnp

from hierax.distributions.distribution import Distribution
from hierax.distributions.util import broadcast_shape, promote_shapes, safe_where

__all__ = ["UnivariateContinuous", "log_density_where", "zero_where"]


def _as_parameter(value):
    """Lists and tuples become arrays; scalars and arrays are kept as they are."""
    if isinstance(value, (list, tuple)):
        return jnp.asarray(value)
    return value


class UnivariateContinuous(Distribution):
    """Base class of the continuous families with scalar events.

    Subclasses call :meth:`_init_params` with their parameters as keyword
    arguments (in the order of ``arg_constraints``) instead of calling
    ``Distribution.__init__`` directly.
    """

    def _init_params(self, validate_args, **params) -> None:
        """Store ``params`` as attributes and set the batch shape to their broadcast.

        Raises:
            ValueError: the parameter shapes do not broadcast together.
        """
        names = list(params)
        values = [_as_parameter(v) for v in params.values()]
        shapes = [tuple(jnp.shape(v)) for v in values]
        try:
            batch_shape = broadcast_shape(*shapes)
        except ValueError:
            described = ", ".join(f"{n} {s}" for n, s in zip(names, shapes, strict=True))
            raise ValueError(
                f"{type(self).__name__}: parameter shapes {described} cannot be broadcast "
                "together."
            ) from None
        for name, value in zip(names, promote_shapes(*values), strict=True):
            setattr(self, name, value)
        super().__init__(batch_shape, (), validate_args=validate_args)

    @property
    def _dtype(self):
        """Floating dtype of draws: the parameters' result type (weak floats stay default)."""
        params = [getattr(self, name) for name in self.arg_constraints]
        return jnp.result_type(*params, float)

    def _draw_shape(self, sample_shape) -> tuple[int, ...]:
        return tuple(sample_shape) + self.batch_shape

    def _tiny(self):
        """Smallest positive normal number of the draw dtype (keeps draws inside ``(0, inf)``)."""
        return jnp.finfo(self._dtype).tiny

    def _broadcast(self, x):
        """``x`` broadcast to ``batch_shape`` (for moments and entropies)."""
        return jnp.broadcast_to(x, self.batch_shape)

    def _full(self, fill_value):
        """An array of ``fill_value`` with the batch shape and the draw dtype."""
        return jnp.full(self.batch_shape, fill_value, dtype=self._dtype)


def log_density_where(inside, log_density_fn, value, safe_value):
    """``log_density_fn(value)`` where ``inside`` holds and ``-inf`` elsewhere.

    ``log_density_fn`` is evaluated at ``safe_value`` outside the support, so its
    gradient with respect to the parameters stays finite there (the double-where
    idiom; see :func:`hierax.distributions.util.safe_where`).

    Args:
        inside: boolean array, where ``value`` lies in the support.
        log_density_fn: maps a value (broadcast against the batch) to a log density.
        value: the points, of shape ``sample_shape + batch_shape`` or broadcastable.
        safe_value: a point where ``log_density_fn`` is finite.
    """
    return safe_where(inside, log_density_fn, -jnp.inf, safe_value, value)


def zero_where(inside, fn, value, safe_value):
    """``fn(value)`` where ``inside`` holds and ``0`` elsewhere (used by cdfs below the support)."""
    return safe_where(inside, fn, 0.0, safe_value, value)
