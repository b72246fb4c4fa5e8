"""The :class:`Distribution` contract and the structural wrappers around it.

Every distribution has three shapes: ``sample_shape + batch_shape + event_shape``.
``batch_shape`` indexes independent, not identically distributed, copies;
``event_shape`` is the shape of one draw, judged as a whole by ``log_prob``
(so ``log_prob`` returns an array of shape ``sample_shape + batch_shape``).

Distributions are immutable pytrees: they can be passed into and returned from
``jit``/``vmap``-transformed functions. Array-valued attributes are the pytree
leaves; shapes, flags and names listed in ``pytree_aux_fields`` are static.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node

from hierax.distributions import constraints
from hierax.distributions.util import (
    broadcast_shape,
    is_concrete,
    sum_rightmost,
)

__all__ = [
    "Delta",
    "Distribution",
    "ExpandedDistribution",
    "ImproperUniform",
    "Independent",
    "MaskedDistribution",
    "Unit",
    "enable_validation",
    "is_validation_enabled",
    "validate_sample",
    "validation_enabled",
]

# Argument checks run on concrete (untraced) parameters only, so they never
# cost anything inside jit. On by default; ``enable_validation(False)`` turns
# them off, e.g. for hot eager loops.
_VALIDATION = {"enabled": True}


def enable_validation(is_validate: bool = True) -> None:
    """Turn checks of distribution arguments and sample values on or off.

    With validation on (the default), constructing a distribution with
    parameters outside their constraints raises ``ValueError`` naming the
    distribution, the parameter and the value, and ``log_prob`` warns about
    values outside the support. Checks only run on concrete values, so code
    under ``jit`` pays nothing.
    """
    _VALIDATION["enabled"] = bool(is_validate)


def is_validation_enabled() -> bool:
    """Whether distribution argument checks are on (see :func:`enable_validation`)."""
    return _VALIDATION["enabled"]


class validation_enabled:
    """Context manager that sets validation for a block and restores it after."""

    def __init__(self, is_validate: bool = True):
        self.is_validate = is_validate

    def __enter__(self):
        self._previous = is_validation_enabled()
        enable_validation(self.is_validate)

    def __exit__(self, *exc):
        enable_validation(self._previous)


def _host_value(value):
    """A NumPy copy of a concrete value, so checks cost no device work or compilation."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return value


def check_ordered_bounds(dist, low, high) -> None:
    """Raise ``ValueError`` unless concrete ``low < high`` elementwise (traced: skipped)."""
    if low is None or high is None or not (is_concrete(low) and is_concrete(high)):
        return
    if not bool(np.all(_host_value(low) < _host_value(high))):
        raise ValueError(
            f"{type(dist).__name__}: parameter `high` must exceed `low` elementwise, got "
            f"low={_format_value(low)}, high={_format_value(high)}."
        )


def _format_value(value) -> str:
    value = _host_value(value)
    if np.size(value) <= 8:
        return repr(np.asarray(value).tolist())
    return f"array of shape {np.shape(value)}"


def validate_sample(log_prob_fn):
    """Decorator for ``log_prob``: warn (with validation on) on out-of-support values."""

    @functools.wraps(log_prob_fn)
    def wrapper(self, value, *args, **kwargs):
        if self._validate_args and is_concrete(value):
            self._validate_sample(value)
        return log_prob_fn(self, value, *args, **kwargs)

    return wrapper


def _flatten_distribution(d):
    static_names = d._static_field_names()
    children_names = []
    children = []
    static = []
    for name, value in vars(d).items():
        if name in static_names or value is None or isinstance(value, (bool, str)):
            static.append((name, value))
        else:
            children_names.append(name)
            children.append(value)
    return children, (tuple(children_names), tuple(static))


def _unflatten_distribution(cls, aux, children):
    children_names, static = aux
    obj = object.__new__(cls)
    for name, value in static:
        obj.__dict__[name] = value
    for name, value in zip(children_names, children, strict=True):
        obj.__dict__[name] = value
    return obj


class Distribution:
    """Base class of probability distributions (NumPyro's contract).

    Subclasses declare ``arg_constraints`` (parameter name -> constraint) and
    ``support``, call ``super().__init__(batch_shape, event_shape,
    validate_args=...)`` after storing their parameters, and implement
    ``sample`` and ``log_prob``; ``mean``, ``variance``, ``cdf``, ``icdf``,
    ``entropy`` and ``enumerate_support`` where they exist.

    Attributes:
        arg_constraints: constraint of each parameter, checked at construction.
        support: the set of values with positive density.
        reparametrized_params: parameters that ``sample`` is differentiable in.
        pytree_aux_fields: attribute names that are static (not pytree leaves).
    """

    arg_constraints: dict = {}
    support: constraints.Constraint | None = None
    has_enumerate_support: bool = False
    reparametrized_params: list = []
    pytree_aux_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_pytree_node(
            cls,
            _flatten_distribution,
            lambda aux, children: _unflatten_distribution(cls, aux, children),
        )

    def __init__(self, batch_shape=(), event_shape=(), *, validate_args=None):
        self._batch_shape = tuple(int(s) for s in batch_shape)
        self._event_shape = tuple(int(s) for s in event_shape)
        if validate_args is None:
            validate_args = is_validation_enabled()
        self._validate_args = bool(validate_args)
        if self._validate_args:
            self._check_args()

    # -- shapes ---------------------------------------------------------------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the independent, non-identical copies in this distribution."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of a single draw."""
        return self._event_shape

    @property
    def event_dim(self) -> int:
        return len(self._event_shape)

    def shape(self, sample_shape=()) -> tuple[int, ...]:
        """``sample_shape + batch_shape + event_shape``."""
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    @property
    def is_discrete(self) -> bool:
        return bool(self.support is not None and self.support.is_discrete)

    @property
    def has_rsample(self) -> bool:
        return not self.is_discrete

    # -- validation -------------------------------------------------------------

    @classmethod
    def _static_field_names(cls) -> set[str]:
        names = {"_batch_shape", "_event_shape", "_validate_args"}
        for klass in cls.__mro__:
            names.update(getattr(klass, "pytree_aux_fields", ()))
        return names

    def _check_args(self) -> None:
        """Check concrete parameters against ``arg_constraints`` (``ValueError`` if not).

        Concrete values are checked eagerly even while an enclosing function is
        traced (``Normal(0.0, 1.0)`` built inside ``jit``); traced ones are skipped.
        """
        for name, constraint in self.arg_constraints.items():
            value = self.__dict__.get(name, None)
            if value is None or constraints.is_dependent(constraint):
                continue
            if isinstance(value, Distribution) or not is_concrete(value):
                continue
            with jax.ensure_compile_time_eval():
                ok = constraint(_host_value(value))
            if is_concrete(ok) and not np.all(np.asarray(ok)):
                raise ValueError(
                    f"{type(self).__name__}: parameter `{name}` must satisfy "
                    f"{constraint!r}, got {_format_value(value)}."
                )

    def _validate_sample(self, value) -> None:
        """Warn when a concrete ``value`` lies outside a support with concrete bounds."""
        support = self.support
        if support is None or constraints.is_dependent(support):
            return
        if not all(is_concrete(leaf) for leaf in jax.tree_util.tree_leaves(support)):
            return
        with jax.ensure_compile_time_eval():
            ok = support(_host_value(value))
        if is_concrete(ok) and not np.all(np.asarray(ok)):
            warnings.warn(
                f"{type(self).__name__}.log_prob: value outside the support {support!r} "
                f"(got {_format_value(value)}); its log density is not meaningful.",
                stacklevel=3,
            )

    # -- the interface ----------------------------------------------------------

    def sample(self, key, sample_shape=()):
        """Draw values of shape ``sample_shape + batch_shape + event_shape``.

        Args:
            key: a ``jax.random`` key.
            sample_shape: leading shape of independent draws.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement sample()")

    def sample_with_intermediates(self, key, sample_shape=()):
        """``(sample, intermediates)``; intermediates are empty unless overridden."""
        return self.sample(key, sample_shape), []

    def __call__(self, *args, **kwargs):
        key = kwargs.pop("rng_key")
        sample_intermediates = kwargs.pop("sample_intermediates", False)
        if sample_intermediates:
            return self.sample_with_intermediates(key, *args, **kwargs)
        return self.sample(key, *args, **kwargs)

    def log_prob(self, value):
        """Log density of ``value``, shape ``sample_shape + batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob()")

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mean")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form variance")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cdf")

    def icdf(self, q):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form entropy")

    def enumerate_support(self, expand: bool = True):
        """All values of a finite discrete distribution, along a new leading axis."""
        raise NotImplementedError(f"{type(self).__name__} has no enumerable support")

    # -- structural helpers --------------------------------------------------

    def expand(self, batch_shape) -> Distribution:
        """This distribution broadcast to the larger ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        return ExpandedDistribution(self, batch_shape)

    def expand_by(self, sample_shape) -> Distribution:
        """Prepend ``sample_shape`` to the batch shape."""
        return self.expand(tuple(sample_shape) + self.batch_shape)

    def to_event(self, reinterpreted_batch_ndims: int | None = None) -> Distribution:
        """Reinterpret the rightmost batch dims as event dims (all of them by default)."""
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        if reinterpreted_batch_ndims == 0:
            return self
        return Independent(self, reinterpreted_batch_ndims)

    def mask(self, mask) -> Distribution:
        """Keep ``log_prob`` only where ``mask`` is true (zero elsewhere)."""
        if mask is True:
            return self
        return MaskedDistribution(self, mask)

    def __repr__(self):
        return (
            f"{type(self).__name__}(batch_shape={self.batch_shape}, "
            f"event_shape={self.event_shape})"
        )


# ----------------------------------------------------------------------------
# Structural wrappers.


class Independent(Distribution):
    """Reinterpret ``reinterpreted_batch_ndims`` rightmost batch dims as event dims.

    ``Normal(zeros(3), 1).to_event(1)`` is a 3-vector distribution whose
    ``log_prob`` sums over the vector.
    """

    arg_constraints = {}
    pytree_aux_fields = ("reinterpreted_batch_ndims",)

    def __init__(self, base_dist, reinterpreted_batch_ndims, *, validate_args=None):
        if not isinstance(base_dist, Distribution):
            raise TypeError(f"Independent expects a Distribution, got {type(base_dist).__name__}")
        n = int(reinterpreted_batch_ndims)
        if n < 0 or n > len(base_dist.batch_shape):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims={reinterpreted_batch_ndims} must be "
                f"between 0 and the base batch rank {len(base_dist.batch_shape)} "
                f"(batch_shape={base_dist.batch_shape})."
            )
        self.base_dist = base_dist
        self.reinterpreted_batch_ndims = n
        shape = base_dist.batch_shape + base_dist.event_shape
        split = len(base_dist.batch_shape) - n
        super().__init__(shape[:split], shape[split:], validate_args=False)

    @property
    def support(self):
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    @property
    def has_enumerate_support(self):
        return False

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, key, sample_shape=()):
        return self.base_dist.sample(key, sample_shape)

    def sample_with_intermediates(self, key, sample_shape=()):
        return self.base_dist.sample_with_intermediates(key, sample_shape)

    def log_prob(self, value):
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def expand(self, batch_shape):
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        base_batch = batch_shape + self.base_dist.batch_shape[len(self.batch_shape):]
        return Independent(self.base_dist.expand(base_batch), self.reinterpreted_batch_ndims)


def _expands_to(shape, target) -> bool:
    """Whether ``shape`` broadcasts to exactly ``target``."""
    try:
        return broadcast_shape(shape, target) == tuple(target)
    except ValueError:
        return False


class ExpandedDistribution(Distribution):
    """``base_dist`` broadcast to a larger batch shape, with independent draws.

    Batch dims of size one in ``base_dist`` may grow, and new dims may be
    prepended; draws along every expanded dim are independent.
    """

    arg_constraints = {}
    pytree_aux_fields = ("_expanded_sizes", "_interstitial_sizes")

    def __init__(self, base_dist, batch_shape=(), *, validate_args=None):
        if isinstance(base_dist, ExpandedDistribution):
            base_dist = base_dist.base_dist
        batch_shape = tuple(int(s) for s in batch_shape)
        base_batch = base_dist.batch_shape
        if len(batch_shape) < len(base_batch) or not _expands_to(base_batch, batch_shape):
            raise ValueError(
                f"{type(base_dist).__name__}.expand: cannot expand batch shape {base_batch} "
                f"to {batch_shape}; each existing dim must equal the new one or be 1."
            )
        self.base_dist = base_dist
        offset = len(batch_shape) - len(base_batch)
        # ``expanded``: new leading dims; ``interstitial``: base dims of size 1 that grow.
        self._expanded_sizes = batch_shape[:offset]
        grown = zip(batch_shape[offset:], base_batch, strict=True)
        self._interstitial_sizes = tuple(
            (i, size) for i, (size, base_size) in enumerate(grown)
            if base_size == 1 and size != 1
        )
        super().__init__(batch_shape, base_dist.event_shape, validate_args=False)

    @property
    def support(self):
        return self.base_dist.support

    @property
    def has_enumerate_support(self):
        return self.base_dist.has_enumerate_support

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    def _broadcast(self, x, sample_ndim):
        """Broadcast a base-shaped quantity ``sample + base_batch + extra`` to our batch."""
        prefix = jnp.shape(x)[:sample_ndim]
        suffix = jnp.shape(x)[sample_ndim + len(self.base_dist.batch_shape):]
        return jnp.broadcast_to(x, prefix + self.batch_shape + suffix)

    def sample_with_intermediates(self, key, sample_shape=()):
        sample_shape = tuple(sample_shape)
        interstitial = tuple(size for _, size in self._interstitial_sizes)
        draw_shape = sample_shape + self._expanded_sizes + interstitial
        value, intermediates = self.base_dist.sample_with_intermediates(key, draw_shape)
        value = self._move_interstitial(value, len(sample_shape))
        return value, intermediates

    def _move_interstitial(self, value, sample_ndim):
        """Move the interstitial draw axes onto the base batch dims of size one."""
        if not self._interstitial_sizes:
            return value
        lead = sample_ndim + len(self._expanded_sizes)
        k = len(self._interstitial_sizes)
        base_batch = self.base_dist.batch_shape
        event = self.event_shape
        shape = jnp.shape(value)
        # Drop the size-one base dims that the interstitial axes replace.
        grown = {i for i, _ in self._interstitial_sizes}
        kept = [i for i in range(len(base_batch)) if i not in grown]
        value = jnp.reshape(
            value, shape[: lead + k] + tuple(base_batch[i] for i in kept) + event
        )
        # Axis order: lead, then for each base batch position either its
        # interstitial axis or its kept axis, then the event axes.
        position_of = {}
        for j, (i, _) in enumerate(self._interstitial_sizes):
            position_of[i] = lead + j
        for j, i in enumerate(kept):
            position_of[i] = lead + k + j
        order = list(range(lead)) + [position_of[i] for i in range(len(base_batch))]
        order += list(range(lead + len(base_batch), lead + len(base_batch) + len(event)))
        return jnp.transpose(value, order)

    def sample(self, key, sample_shape=()):
        return self.sample_with_intermediates(key, sample_shape)[0]

    def log_prob(self, value):
        log_prob = self.base_dist.log_prob(value)
        sample_ndim = jnp.ndim(log_prob) - len(self.batch_shape)
        prefix = jnp.shape(log_prob)[:max(sample_ndim, 0)]
        return jnp.broadcast_to(log_prob, prefix + self.batch_shape)

    def enumerate_support(self, expand=True):
        values = self.base_dist.enumerate_support(expand=False)
        n = values.shape[0]
        values = jnp.reshape(values, (n,) + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            values = jnp.broadcast_to(values, (n,) + self.batch_shape + self.event_shape)
        return values

    @property
    def mean(self):
        return jnp.broadcast_to(self.base_dist.mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.base_dist.variance, self.batch_shape + self.event_shape)

    def cdf(self, value):
        return self.base_dist.cdf(value)

    def icdf(self, q):
        return self.base_dist.icdf(q)

    def entropy(self):
        return jnp.broadcast_to(self.base_dist.entropy(), self.batch_shape)


class MaskedDistribution(Distribution):
    """``base_dist`` whose ``log_prob`` is zero where ``mask`` is false.

    Args:
        base_dist: the distribution to mask.
        mask: a boolean array broadcastable to ``base_dist.batch_shape``, or a
            Python bool.
    """

    arg_constraints = {}
    pytree_aux_fields = ("_mask_is_python_bool",)

    def __init__(self, base_dist, mask, *, validate_args=None):
        self._mask_is_python_bool = isinstance(mask, bool)
        if not self._mask_is_python_bool:
            mask = jnp.asarray(mask)
            if mask.dtype != jnp.bool_:
                raise TypeError(
                    f"{type(base_dist).__name__}.mask: the mask must be boolean, got dtype "
                    f"{mask.dtype}."
                )
            batch_shape = broadcast_shape(jnp.shape(mask), base_dist.batch_shape)
            if batch_shape != base_dist.batch_shape:
                base_dist = base_dist.expand(batch_shape)
        self.base_dist = base_dist
        self._mask = mask
        super().__init__(base_dist.batch_shape, base_dist.event_shape, validate_args=False)

    @property
    def support(self):
        return self.base_dist.support

    @property
    def has_enumerate_support(self):
        return self.base_dist.has_enumerate_support

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    def sample(self, key, sample_shape=()):
        return self.base_dist.sample(key, sample_shape)

    def sample_with_intermediates(self, key, sample_shape=()):
        return self.base_dist.sample_with_intermediates(key, sample_shape)

    def log_prob(self, value):
        if self._mask_is_python_bool:  # only False reaches here
            shape = broadcast_shape(
                jnp.shape(value)[: jnp.ndim(value) - len(self.event_shape)], self.batch_shape
            )
            return jnp.zeros(shape, dtype=jnp.result_type(float))
        log_prob = self.base_dist.log_prob(value)
        return jnp.where(self._mask, log_prob, 0.0)

    def enumerate_support(self, expand=True):
        return self.base_dist.enumerate_support(expand)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance


# ----------------------------------------------------------------------------
# Degenerate and improper distributions.


class Delta(Distribution):
    """A point mass at ``v``, with an optional ``log_density`` added to ``log_prob``.

    ``log_prob(x)`` is ``log_density`` where ``x == v`` and ``-inf`` elsewhere.
    A ``Delta`` latent site cannot be sampled by HMC/NUTS (its support is a point).

    Args:
        v: location, of shape ``batch_shape + event_shape``.
        log_density: added to ``log_prob``; broadcastable to ``batch_shape``.
        event_dim: number of rightmost dims of ``v`` that form one event.
    """

    arg_constraints = {"v": constraints.dependent, "log_density": constraints.real}
    reparametrized_params = ["v", "log_density"]
    pytree_aux_fields = ("_delta_event_dim",)

    def __init__(self, v=0.0, log_density=0.0, event_dim=0, *, validate_args=None):
        if event_dim > jnp.ndim(v):
            raise ValueError(
                f"Delta: event_dim={event_dim} exceeds the rank of v (shape {jnp.shape(v)})."
            )
        batch_dim = jnp.ndim(v) - event_dim
        batch_shape = jnp.shape(v)[:batch_dim]
        event_shape = jnp.shape(v)[batch_dim:]
        self.v = v
        self.log_density = jnp.broadcast_to(log_density, batch_shape) if jnp.ndim(
            log_density
        ) else log_density
        self._delta_event_dim = event_dim
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def support(self):
        return constraints.independent(constraints.real, self._delta_event_dim)

    @property
    def is_discrete(self):
        return True

    def sample(self, key, sample_shape=()):
        return jnp.broadcast_to(self.v, self.shape(sample_shape))

    def log_prob(self, value):
        log_prob = jnp.log(value == self.v)
        log_prob = sum_rightmost(log_prob, len(self.event_shape))
        return log_prob + self.log_density

    @property
    def mean(self):
        return self.v

    @property
    def variance(self):
        return jnp.zeros(self.batch_shape + self.event_shape)

    def entropy(self):
        return jnp.zeros(self.batch_shape)


class Unit(Distribution):
    """An empty event (shape ``(0,)``) with ``log_prob`` equal to ``log_factor``.

    This is what :func:`hierax.factor` samples: it adds ``log_factor`` to the
    joint log density without introducing a random variable.
    """

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real

    def __init__(self, log_factor, *, validate_args=None):
        self.log_factor = log_factor
        super().__init__(jnp.shape(log_factor), (0,), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        return jnp.empty(self.shape(sample_shape))

    def log_prob(self, value):
        shape = broadcast_shape(self.batch_shape, jnp.shape(value)[:-1])
        return jnp.broadcast_to(self.log_factor, shape)


class ImproperUniform(Distribution):
    """A flat (improper) density on ``support``: ``log_prob`` is 0 everywhere inside it.

    Useful as a prior whose only role is to declare a support; it cannot be
    sampled, so initialise such sites with an init strategy (the default
    ``init_to_uniform`` works).

    Args:
        support: a :mod:`~hierax.distributions.constraints` constraint.
        batch_shape, event_shape: the shapes; ``event_shape`` must have at
            least ``support.event_dim`` dims.
    """

    arg_constraints = {}
    pytree_aux_fields = ("_support",)

    def __init__(self, support, batch_shape, event_shape, *, validate_args=None):
        if not isinstance(support, constraints.Constraint):
            raise TypeError(
                f"ImproperUniform: support must be a constraint, got {type(support).__name__}."
            )
        if len(event_shape) < support.event_dim:
            raise ValueError(
                f"ImproperUniform: event_shape {tuple(event_shape)} has fewer dims than the "
                f"support's event_dim {support.event_dim}."
            )
        self._support = support
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def support(self):
        extra = len(self.event_shape) - self._support.event_dim
        return constraints.independent(self._support, extra) if extra else self._support

    @validate_sample
    def log_prob(self, value):
        batch = jnp.shape(value)[: jnp.ndim(value) - len(self.event_shape)]
        return jnp.zeros(broadcast_shape(batch, self.batch_shape))

    def sample(self, key, sample_shape=()):
        raise NotImplementedError(
            "ImproperUniform cannot be sampled: it is an improper prior. Give the site an "
            "initial value (init_to_value) or use a proper distribution."
        )
