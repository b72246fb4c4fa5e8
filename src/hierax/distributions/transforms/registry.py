"""``biject_to``: for a constraint, the bijection from unconstrained space onto it.

References:
    Stan Development Team, *Stan Reference Manual*, "Constraint Transforms".
"""

from __future__ import annotations

import numpy as np

from hierax.distributions import constraints
from hierax.distributions.transforms._numerics import _concrete_sign
from hierax.distributions.transforms.base import (
    ComposeTransform,
    IdentityTransform,
    IndependentTransform,
)
from hierax.distributions.transforms.elementwise import (
    AffineTransform,
    ExpTransform,
    SigmoidTransform,
)
from hierax.distributions.transforms.matrix import (
    CholeskyTransform,
    CorrCholeskyTransform,
    CorrMatrixCholeskyTransform,
    LowerCholeskyTransform,
    ScaledUnitLowerCholeskyTransform,
)
from hierax.distributions.transforms.vector import (
    OrderedTransform,
    StickBreakingTransform,
    ZeroSumTransform,
)

__all__ = ["ConstraintRegistry", "biject_to"]


class ConstraintRegistry:
    """Maps constraint classes to factories ``factory(constraint) -> Transform``.

    Lookup walks the constraint's class hierarchy, so the most specific
    registered class wins (``open_interval`` falls back to ``interval``).
    """

    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint`` (a class or an instance of it).

        Usable as a decorator: ``@biject_to.register(MyConstraint)``.
        """
        if factory is None:
            return lambda fn: self.register(constraint, fn)
        key = type(constraint) if isinstance(constraint, constraints.Constraint) else constraint
        if not (isinstance(key, type) and issubclass(key, constraints.Constraint)):
            raise TypeError(
                f"biject_to.register expects a Constraint class or instance, got {constraint!r}."
            )
        self._registry[key] = factory
        return factory

    def __call__(self, constraint):
        if constraints.is_dependent(constraint):
            raise ValueError(
                "biject_to: cannot build a bijection onto a dependent constraint; its set is "
                "only known once other variables are fixed (give the site a concrete support)."
            )
        if not isinstance(constraint, constraints.Constraint):
            raise TypeError(f"biject_to expects a Constraint, got {type(constraint).__name__}.")
        for klass in type(constraint).__mro__:
            if klass in self._registry:
                return self._registry[klass](constraint)
        supported = ", ".join(sorted(k.__name__.lstrip("_") for k in self._registry))
        raise NotImplementedError(
            f"biject_to: no bijection registered for the constraint {constraint!r}. "
            f"Supported constraint types: {supported}."
        )


biject_to = ConstraintRegistry()


def _is_exactly(value, target):
    return _concrete_sign(value) is not None and np.all(np.asarray(value) == target)


@biject_to.register(constraints._Real)
def _to_real(constraint):
    return IdentityTransform()


@biject_to.register(constraints._Independent)
def _to_independent(constraint):
    base = biject_to(constraint.base_constraint)
    return IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@biject_to.register(constraints._Positive)
@biject_to.register(constraints._Nonnegative)
def _to_positive(constraint):
    return ExpTransform()


@biject_to.register(constraints._GreaterThan)
def _to_greater_than(constraint):
    shift = AffineTransform(constraint.lower_bound, 1.0, domain=constraints.positive)
    return ComposeTransform([ExpTransform(), shift])


@biject_to.register(constraints._LessThan)
def _to_less_than(constraint):
    flip = AffineTransform(constraint.upper_bound, -1.0, domain=constraints.positive)
    return ComposeTransform([ExpTransform(), flip])


@biject_to.register(constraints._Interval)
def _to_interval(constraint):
    lower, upper = constraint.lower_bound, constraint.upper_bound
    if _is_exactly(lower, 0) and _is_exactly(upper, 1):
        return SigmoidTransform()
    scale = AffineTransform(lower, upper - lower, domain=constraints.unit_interval)
    return ComposeTransform([SigmoidTransform(), scale])


@biject_to.register(constraints._Simplex)
def _to_simplex(constraint):
    return StickBreakingTransform()


@biject_to.register(constraints._ZeroSum)
def _to_zero_sum(constraint):
    return ZeroSumTransform()


@biject_to.register(constraints._OrderedVector)
def _to_ordered(constraint):
    return OrderedTransform()


@biject_to.register(constraints._PositiveOrderedVector)
def _to_positive_ordered(constraint):
    return ComposeTransform([OrderedTransform(), ExpTransform(domain=constraints.ordered_vector)])


@biject_to.register(constraints._LowerCholesky)
def _to_lower_cholesky(constraint):
    return LowerCholeskyTransform()


@biject_to.register(constraints._ScaledUnitLowerCholesky)
def _to_scaled_unit_lower_cholesky(constraint):
    return ScaledUnitLowerCholeskyTransform()


@biject_to.register(constraints._CorrCholesky)
def _to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


@biject_to.register(constraints._PositiveDefinite)
def _to_positive_definite(constraint):
    return ComposeTransform([LowerCholeskyTransform(), CholeskyTransform().inv])


@biject_to.register(constraints._CorrMatrix)
def _to_corr_matrix(constraint):
    return ComposeTransform([CorrCholeskyTransform(), CorrMatrixCholeskyTransform().inv])
