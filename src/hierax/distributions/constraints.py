"""Constraints: the sets that distribution parameters and supports live in.

A constraint answers two questions about an array:

- ``constraint(x)``: is ``x`` inside the set? Returns a boolean array with the
  ``event_dim`` rightmost dimensions of ``x`` reduced (a vector constraint such
  as :data:`simplex` judges a whole vector at once).
- ``constraint.feasible_like(prototype)``: a point inside the set, with the shape
  and dtype of ``prototype``; initialisation and shape inference use it.

Parametrized constraints (:func:`interval`, :func:`greater_than`, ...) are
pytrees, so a distribution whose support depends on traced parameters can cross
``jit`` and ``vmap``. The matching bijections from unconstrained space live in
:mod:`hierax.distributions.transforms` (:func:`~hierax.distributions.transforms.biject_to`).
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node

__all__ = [
    "Constraint",
    "boolean",
    "corr_cholesky",
    "corr_matrix",
    "dependent",
    "dependent_property",
    "greater_than",
    "greater_than_eq",
    "independent",
    "integer_greater_than",
    "integer_interval",
    "interval",
    "is_dependent",
    "less_than",
    "lower_cholesky",
    "nonnegative",
    "nonnegative_integer",
    "open_interval",
    "ordered_vector",
    "positive",
    "positive_definite",
    "positive_integer",
    "positive_ordered_vector",
    "real",
    "real_matrix",
    "real_vector",
    "scaled_unit_lower_cholesky",
    "simplex",
    "unit_interval",
    "zero_sum",
]


class Constraint:
    """Base class of constraints.

    Attributes:
        event_dim: number of rightmost dimensions that one check judges together.
        is_discrete: whether the set is a subset of the integers.
    """

    is_discrete: bool = False
    event_dim: int = 0
    _data_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, _flatten_constraint, lambda aux, ch: _unflatten(cls, aux, ch))

    def __call__(self, x):
        raise NotImplementedError

    def check(self, x):
        """Alias of ``__call__``, kept for NumPyro compatibility."""
        return self(x)

    def feasible_like(self, prototype):
        """A point of the set with the shape and dtype of ``prototype``."""
        raise NotImplementedError(f"{type(self).__name__} has no feasible point")

    def __repr__(self):
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__.lstrip("_")).lower()
        if not self._data_fields:
            return name
        fields = ", ".join(f"{k}={_short(getattr(self, k))}" for k in self._data_fields)
        return f"{name}({fields})"

    def __eq__(self, other):
        if type(self) is not type(other):
            return False
        if not self._data_fields:
            return True
        return all(
            _same_value(getattr(self, k), getattr(other, k)) for k in self._data_fields
        )

    def __hash__(self):
        return hash(type(self))


def _namespace(x):
    """NumPy for host values (no device work, no compilation), ``jax.numpy`` otherwise."""
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        return np
    return jnp


def _tolerance(x) -> float:
    return 1e-6 if getattr(x, "dtype", np.float64) == np.float64 else 1e-4


def _short(value) -> str:
    if isinstance(value, (int, float)):
        return repr(value)
    if is_concrete_array(value) and jnp.size(value) <= 4:
        return repr(jnp.asarray(value).tolist())
    return f"<array {jnp.shape(value)}>"


def is_concrete_array(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _same_value(a, b):
    try:
        return bool(jnp.all(jnp.asarray(a) == jnp.asarray(b)))
    except Exception:  # traced values: equal only if identical
        return a is b


def _flatten_constraint(c):
    children = tuple(getattr(c, k) for k in c._data_fields)
    aux = tuple((k, v) for k, v in vars(c).items() if k not in c._data_fields)
    return children, aux


def _unflatten(cls, aux, children):
    obj = object.__new__(cls)
    for k, v in zip(cls._data_fields, children, strict=True):
        setattr(obj, k, v)
    for k, v in aux:
        setattr(obj, k, v)
    return obj


# ----------------------------------------------------------------------------
# Placeholder constraint for supports that depend on other variables.


class _Dependent(Constraint):
    """A constraint whose set is only known once other values are fixed.

    Used as the support of distributions such as :class:`~hierax.distributions.Delta`,
    and as a marker for arguments (e.g. ``MixtureGeneral``'s component list) that
    are not checked.
    """

    def __init__(self, is_discrete=False, event_dim=0):
        self.is_discrete = is_discrete
        self.event_dim = event_dim

    def __call__(self, x=None, *, is_discrete=None, event_dim=None):
        if x is None:  # ``dependent(is_discrete=True, event_dim=1)`` builds a new one
            return _Dependent(
                self.is_discrete if is_discrete is None else is_discrete,
                self.event_dim if event_dim is None else event_dim,
            )
        raise ValueError("Cannot check a value against a dependent constraint.")


def is_dependent(constraint) -> bool:
    """Whether ``constraint`` is :data:`dependent` (cannot be checked or inverted)."""
    return isinstance(constraint, _Dependent)


class dependent_property(property):
    """A property that also stands for a dependent constraint on the class.

    ``Uniform.support`` accessed on the class is a :data:`dependent` marker; on
    an instance it is the instance's ``interval(low, high)``.
    """

    def __init__(self, fn=None, *, is_discrete=False, event_dim=0):
        super().__init__(fn)
        self.is_discrete = is_discrete
        self.event_dim = event_dim

    def __get__(self, obj, objtype=None):
        if obj is None:
            return _Dependent(self.is_discrete, self.event_dim)
        return super().__get__(obj, objtype)

    def __call__(self, fn):
        return dependent_property(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


# ----------------------------------------------------------------------------
# Unparametrized constraints.


class _Real(Constraint):
    def __call__(self, x):
        return (x == x) & (x != float("inf")) & (x != float("-inf"))

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _Boolean(Constraint):
    is_discrete = True

    def __call__(self, x):
        return (x == 0) | (x == 1)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _Positive(Constraint):
    def __call__(self, x):
        return x > 0

    def feasible_like(self, prototype):
        return jnp.ones_like(prototype)


class _Nonnegative(Constraint):
    def __call__(self, x):
        return x >= 0

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _IntegerGreaterThan(Constraint):
    is_discrete = True
    _data_fields = ("lower_bound",)

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def __call__(self, x):
        return (x % 1 == 0) & (x >= self.lower_bound)

    def feasible_like(self, prototype):
        return jnp.broadcast_to(self.lower_bound, jnp.shape(prototype)).astype(
            jnp.result_type(prototype)
        )


class _IntegerInterval(Constraint):
    is_discrete = True
    _data_fields = ("lower_bound", "upper_bound")

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def __call__(self, x):
        return (x % 1 == 0) & (x >= self.lower_bound) & (x <= self.upper_bound)

    def feasible_like(self, prototype):
        return jnp.broadcast_to(self.lower_bound, jnp.shape(prototype)).astype(
            jnp.result_type(prototype)
        )


class _GreaterThan(Constraint):
    _data_fields = ("lower_bound",)

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def __call__(self, x):
        return x > self.lower_bound

    def feasible_like(self, prototype):
        return jnp.broadcast_to(self.lower_bound + 1, jnp.shape(prototype)).astype(
            jnp.result_type(prototype)
        )


class _GreaterThanEq(_GreaterThan):
    def __call__(self, x):
        return x >= self.lower_bound


class _LessThan(Constraint):
    _data_fields = ("upper_bound",)

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def __call__(self, x):
        return x < self.upper_bound

    def feasible_like(self, prototype):
        return jnp.broadcast_to(self.upper_bound - 1, jnp.shape(prototype)).astype(
            jnp.result_type(prototype)
        )


class _Interval(Constraint):
    """The closed interval ``[lower_bound, upper_bound]``."""

    _data_fields = ("lower_bound", "upper_bound")

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def __call__(self, x):
        return (x >= self.lower_bound) & (x <= self.upper_bound)

    def feasible_like(self, prototype):
        midpoint = (self.lower_bound + self.upper_bound) / 2
        return jnp.broadcast_to(midpoint, jnp.shape(prototype)).astype(
            jnp.result_type(prototype)
        )


class _OpenInterval(_Interval):
    """The open interval ``(lower_bound, upper_bound)``."""

    def __call__(self, x):
        return (x > self.lower_bound) & (x < self.upper_bound)


class _Independent(Constraint):
    """Reinterprets ``reinterpreted_batch_ndims`` batch dims of a constraint as event dims."""

    _data_fields = ("base_constraint",)

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        if not isinstance(base_constraint, Constraint):
            raise TypeError(
                f"independent() expects a Constraint, got {type(base_constraint).__name__}"
            )
        if not isinstance(reinterpreted_batch_ndims, int) or reinterpreted_batch_ndims < 0:
            raise ValueError(
                "independent() expects reinterpreted_batch_ndims to be a non-negative int, "
                f"got {reinterpreted_batch_ndims!r}"
            )
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def event_dim(self):
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    def __call__(self, x):
        result = self.base_constraint(x)
        if self.reinterpreted_batch_ndims == 0:
            return result
        axes = tuple(range(-self.reinterpreted_batch_ndims, 0))
        return _namespace(x).all(result, axis=axes)

    def feasible_like(self, prototype):
        return self.base_constraint.feasible_like(prototype)

    def __repr__(self):
        return f"independent({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"

    def __eq__(self, other):
        return (
            isinstance(other, _Independent)
            and self.base_constraint == other.base_constraint
            and self.reinterpreted_batch_ndims == other.reinterpreted_batch_ndims
        )

    def __hash__(self):
        return hash((type(self), self.reinterpreted_batch_ndims))


class _RealVector(_Independent):
    def __init__(self):
        super().__init__(_Real(), 1)

    def __repr__(self):
        return "real_vector"


class _RealMatrix(_Independent):
    def __init__(self):
        super().__init__(_Real(), 2)

    def __repr__(self):
        return "real_matrix"


class _Simplex(Constraint):
    """Vectors of non-negative entries that sum to one (to float tolerance)."""

    event_dim = 1

    def __call__(self, x):
        xp = _namespace(x)
        return xp.all(x >= 0, axis=-1) & (xp.abs(xp.sum(x, axis=-1) - 1) < _tolerance(x))

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return jnp.full_like(prototype, 1 / n)


class _ZeroSum(Constraint):
    """Vectors whose entries sum to zero."""

    event_dim = 1

    def __call__(self, x):
        xp = _namespace(x)
        return xp.abs(xp.sum(x, axis=-1)) < _tolerance(x) * xp.shape(x)[-1]

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _OrderedVector(Constraint):
    """Strictly increasing vectors."""

    event_dim = 1

    def __call__(self, x):
        return _namespace(x).all(x[..., 1:] > x[..., :-1], axis=-1)

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return jnp.broadcast_to(jnp.arange(n, dtype=jnp.result_type(prototype)), prototype.shape)


class _PositiveOrderedVector(_OrderedVector):
    """Strictly increasing vectors of positive entries."""

    def __call__(self, x):
        return super().__call__(x) & _namespace(x).all(x > 0, axis=-1)

    def feasible_like(self, prototype):
        return super().feasible_like(prototype) + 1


class _LowerCholesky(Constraint):
    """Lower-triangular square matrices with a positive diagonal."""

    event_dim = 2

    def __call__(self, x):
        xp = _namespace(x)
        lower = xp.all(xp.tril(x) == x, axis=(-2, -1))
        positive_diagonal = xp.all(xp.diagonal(x, axis1=-2, axis2=-1) > 0, axis=-1)
        return lower & positive_diagonal

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return jnp.broadcast_to(jnp.eye(n, dtype=jnp.result_type(prototype)), prototype.shape)


class _ScaledUnitLowerCholesky(_LowerCholesky):
    pass


class _CorrCholesky(_LowerCholesky):
    """Cholesky factors of correlation matrices: lower triangular, rows of unit norm."""

    def __call__(self, x):
        xp = _namespace(x)
        unit_rows = xp.all(xp.abs(xp.linalg.norm(x, axis=-1) - 1) < _tolerance(x), axis=-1)
        return super().__call__(x) & unit_rows


class _PositiveDefinite(Constraint):
    """Symmetric positive-definite matrices."""

    event_dim = 2

    def __call__(self, x):
        xp = _namespace(x)
        symmetric = xp.all(xp.abs(x - xp.swapaxes(x, -2, -1)) < 1e-6 * (1 + xp.abs(x)),
                           axis=(-2, -1))
        positive = xp.all(xp.linalg.eigvalsh(x) > 0, axis=-1)
        return symmetric & positive

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return jnp.broadcast_to(jnp.eye(n, dtype=jnp.result_type(prototype)), prototype.shape)


class _CorrMatrix(_PositiveDefinite):
    """Correlation matrices: positive definite with a unit diagonal."""

    def __call__(self, x):
        xp = _namespace(x)
        unit_diag = xp.all(xp.abs(xp.diagonal(x, axis1=-2, axis2=-1) - 1) < _tolerance(x),
                           axis=-1)
        return super().__call__(x) & unit_diag


# ----------------------------------------------------------------------------
# Public instances and factories (NumPyro's names).

dependent = _Dependent()
real = _Real()
boolean = _Boolean()
positive = _Positive()
nonnegative = _Nonnegative()
unit_interval = _Interval(0.0, 1.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
real_vector = _RealVector()
real_matrix = _RealMatrix()
simplex = _Simplex()
zero_sum = _ZeroSum()
ordered_vector = _OrderedVector()
positive_ordered_vector = _PositiveOrderedVector()
lower_cholesky = _LowerCholesky()
scaled_unit_lower_cholesky = _ScaledUnitLowerCholesky()
corr_cholesky = _CorrCholesky()
corr_matrix = _CorrMatrix()
positive_definite = _PositiveDefinite()

interval = _Interval
open_interval = _OpenInterval
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
integer_interval = _IntegerInterval
integer_greater_than = _IntegerGreaterThan
independent = _Independent
