"""Bijective transforms between unconstrained space and constrained sets.

A :class:`Transform` ``t`` maps ``x`` in ``t.domain`` to ``y = t(x)`` in
``t.codomain``; ``t.inv`` (also ``t.inverse``) maps back, and
``t.log_abs_det_jacobian(x, y)`` is ``log |det dy/dx|``, with the
``t.domain.event_dim`` rightmost dimensions of ``x`` reduced. For transforms
onto a manifold of lower dimension (simplex, Cholesky factors) the determinant
is taken in the manifold's intrinsic coordinates, documented per transform.

Transforms are pytrees (array-valued attributes are leaves), so they cross
``jit`` and ``vmap`` boundaries. :func:`biject_to` returns, for a constraint,
the bijection from unconstrained real space onto it; inference uses it to run
samplers in unconstrained coordinates.

References:
    Stan Development Team, *Stan Reference Manual*, "Constraint Transforms".
    Lewandowski, Kurowicka & Joe (2009), "Generating random correlation
    matrices based on vines and extended onion method", J. Multivariate Anal.
"""

# The redundant alias re-exports a private helper that callers reach as ``transforms._vec_to_tril``.
from hierax.distributions.transforms._numerics import _vec_to_tril as _vec_to_tril
from hierax.distributions.transforms.base import (
    ComposeTransform,
    IdentityTransform,
    IndependentTransform,
    ParameterFreeTransform,
    Transform,
)
from hierax.distributions.transforms.elementwise import (
    AffineTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    SoftplusTransform,
    TanhTransform,
)
from hierax.distributions.transforms.matrix import (
    CholeskyTransform,
    CorrCholeskyTransform,
    CorrMatrixCholeskyTransform,
    LowerCholeskyTransform,
    ScaledUnitLowerCholeskyTransform,
)
from hierax.distributions.transforms.registry import ConstraintRegistry, biject_to
from hierax.distributions.transforms.vector import (
    OrderedTransform,
    StickBreakingTransform,
    ZeroSumTransform,
)

__all__ = [
    "AffineTransform",
    "CholeskyTransform",
    "ComposeTransform",
    "ConstraintRegistry",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "ExpTransform",
    "IdentityTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "OrderedTransform",
    "ParameterFreeTransform",
    "PowerTransform",
    "ScaledUnitLowerCholeskyTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "ZeroSumTransform",
    "biject_to",
]
